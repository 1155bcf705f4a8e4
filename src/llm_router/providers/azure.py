"""Azure OpenAI: deployment URLs with `api-version`, or the v1 surface; `api-key` or Entra auth."""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping
from dataclasses import replace

import httpx

from llm_router import errors
from llm_router.auth import ApiKey, AuthConfig, AzureEntra
from llm_router.formats.embeddings import EmbeddingFormat
from llm_router.providers.base import Provider, UpstreamRequest, edit_json_body
from llm_router.types import ProviderFormat

__all__ = ["AzureProvider"]


class AzureProvider(Provider):
    """The resource endpoint, `https://{resource}.openai.azure.com` (or `.cognitiveservices.azure.com`).

    With `api_version`, chat goes to `/openai/deployments/{deployment}/chat/completions` and
    Responses to `/openai/responses`, both with `?api-version=`; without it, to the v1 surface
    (`/openai/v1/chat/completions`, `/openai/v1/responses`). `deployments` maps model names to
    deployment names (a model without an entry is its own deployment name). Auth: `api-key`
    (`add_api_key`) or `AzureEntra` bearer tokens.
    """

    kind = "azure"
    native_formats = (ProviderFormat.OPENAI, ProviderFormat.RESPONSES)
    default_base_url = "https://{resource}.openai.azure.com"  # a template: an endpoint is required
    env_keys = ("AZURE_OPENAI_API_KEY",)

    def __init__(
        self,
        endpoint: str | None = None,
        api_version: str | None = None,
        deployments: Mapping[str, str] | None = None,
        *,
        base_url: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        if endpoint and base_url and endpoint != base_url:
            raise errors.ConfigurationError(
                "AzureProvider: pass the resource endpoint once (endpoint= or base_url=)"
            )
        url = endpoint or base_url
        if not url:
            raise errors.ConfigurationError(
                "AzureProvider needs the resource endpoint, e.g. AzureProvider('https://my-resource.openai.azure.com')"
            )
        super().__init__(_resource_endpoint(url), headers=headers)
        self.api_version = api_version or None
        self.deployments = dict(deployments or {})

    def __repr__(self) -> str:
        return f"AzureProvider(endpoint={self.base_url!r}, api_version={self.api_version!r})"

    def format_for(
        self,
        model_format: ProviderFormat | None,
        caller: ProviderFormat,
        *,
        model: str | None = None,
    ) -> ProviderFormat:
        if model_format is ProviderFormat.RESPONSES:  # Responses-only models
            return ProviderFormat.RESPONSES
        return super().format_for(model_format, caller, model=model)

    def default_auth(self, key: str) -> AuthConfig:
        return ApiKey(key, header="api-key", prefix="")

    def auth_from_env(self, environ: Mapping[str, str]) -> AuthConfig | None:
        """`AZURE_OPENAI_API_KEY` (`api-key` header), else `AZURE_OPENAI_AD_TOKEN` (Entra bearer)."""
        key = environ.get("AZURE_OPENAI_API_KEY")
        if key:
            return self.default_auth(key)
        token = environ.get("AZURE_OPENAI_AD_TOKEN")
        if token:
            return AzureEntra(token)
        return None

    def deployment(self, model: str) -> str:
        return self.deployments.get(model, model)

    def url_for(self, request: UpstreamRequest) -> httpx.URL:
        responses = request.format is ProviderFormat.RESPONSES
        if self.api_version is None:
            path = "/openai/v1/responses" if responses else "/openai/v1/chat/completions"
            return httpx.URL(self.base_url + path)
        if responses:
            path = "/openai/responses"
        else:
            deployment = urllib.parse.quote(self.deployment(request.model), safe="")
            path = f"/openai/deployments/{deployment}/chat/completions"
        return httpx.URL(self.base_url + path, params={"api-version": self.api_version})

    def build_request(self, request: UpstreamRequest) -> httpx.Request:
        body = self.prepare_body(replace(request, model=self.deployment(request.model)))
        return httpx.Request(
            "POST", self.url_for(request), headers=self.base_headers(request), content=body
        )

    def embedding_format(self, model: str, caller: EmbeddingFormat) -> EmbeddingFormat | None:
        return EmbeddingFormat.OPENAI

    def build_embedding_request(self, request: UpstreamRequest) -> httpx.Request:
        """`/openai/deployments/{deployment}/embeddings?api-version=`, or the v1 surface's
        `/openai/v1/embeddings` (the body names the deployment)."""
        deployment = self.deployment(request.model)
        body = edit_json_body(request.body, {"model": deployment})
        if self.api_version is None:
            url = httpx.URL(self.base_url + "/openai/v1/embeddings")
        else:
            path = f"/openai/deployments/{urllib.parse.quote(deployment, safe='')}/embeddings"
            url = httpx.URL(self.base_url + path, params={"api-version": self.api_version})
        return httpx.Request("POST", url, headers=self.base_headers(request), content=body)


def _resource_endpoint(url: str) -> str:
    """Accept what users paste: the bare endpoint, or it with `/openai` or `/openai/v1` appended."""
    url = url.rstrip("/")
    for suffix in ("/openai/v1", "/openai"):
        if url.endswith(suffix):
            return url[: -len(suffix)]
    return url
