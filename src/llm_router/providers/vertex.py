"""Vertex AI: Gemini (`generateContent`), Anthropic and Mistral (`rawPredict`) models, OAuth auth.

One provider serves several publishers; the publisher decides the wire. Gemini bodies carry
neither model nor stream flag; Anthropic bodies lose `model` and gain `anthropic_version`;
Mistral bodies are sent as they are. The model always travels in the URL.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import httpx
import orjson

from llm_router import errors
from llm_router.auth import AuthConfig, GoogleServiceAccount, OAuth
from llm_router.formats.embeddings import EmbeddingFormat
from llm_router.providers._google_errors import google_error
from llm_router.providers.anthropic import count_tokens_body
from llm_router.providers.base import Provider, UpstreamRequest, edit_json_body
from llm_router.providers.google import gemini_method_url
from llm_router.types import ProviderFormat

__all__ = ["VERTEX_ANTHROPIC_VERSION", "VertexProvider"]

#: The `anthropic_version` body field Vertex requires for Claude models.
VERTEX_ANTHROPIC_VERSION = "vertex-2023-10-16"

_PUBLISHER_FORMATS = {
    "google": ProviderFormat.GOOGLE,
    "anthropic": ProviderFormat.ANTHROPIC,
    "mistralai": ProviderFormat.MISTRAL,
}
_FORMAT_PUBLISHERS = {fmt: publisher for publisher, fmt in _PUBLISHER_FORMATS.items()}
_MISTRAL_PREFIXES = ("mistral", "codestral", "ministral")


class VertexProvider(Provider):
    """`https://{location}-aiplatform.googleapis.com` (`https://aiplatform.googleapis.com` for
    the `global` location), serving `projects/{project}/locations/{location}` models.

    Model ids may be bare (`gemini-2.5-pro`, `claude-sonnet-4-5@20250929`), publisher paths
    (`publishers/anthropic/models/claude-...`) or full resource names (`projects/.../endpoints/1`).
    Auth is an OAuth bearer token: a static token, a token provider, or a service account.
    """

    kind = "vertex"
    native_formats = (ProviderFormat.GOOGLE, ProviderFormat.ANTHROPIC, ProviderFormat.MISTRAL)
    default_base_url = "https://aiplatform.googleapis.com"
    env_keys = ("GOOGLE_OAUTH_ACCESS_TOKEN",)

    def __init__(
        self,
        project: str,
        location: str,
        base_url: str | None = None,
        *,
        api_version: str = "v1",
        anthropic_version: str = VERTEX_ANTHROPIC_VERSION,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        if not project or "/" in project:
            raise errors.ConfigurationError(
                f"VertexProvider: project must be a project id, got {project!r}"
            )
        if not location or "/" in location:
            raise errors.ConfigurationError(
                f"VertexProvider: location must be a region or 'global', got {location!r}"
            )
        if base_url is None and location != "global":
            base_url = f"https://{location}-aiplatform.googleapis.com"
        super().__init__(base_url, headers=headers)
        self.project = project
        self.location = location
        self.api_version = api_version.strip("/")
        self.anthropic_version = anthropic_version

    def __repr__(self) -> str:
        return f"VertexProvider(project={self.project!r}, location={self.location!r}, base_url={self.base_url!r})"

    def format_for(
        self,
        model_format: ProviderFormat | None,
        caller: ProviderFormat,
        *,
        model: str | None = None,
    ) -> ProviderFormat:
        # The model's publisher decides the wire, never the caller: a Gemini model cannot take
        # an Anthropic body even though Vertex speaks Anthropic for Claude models.
        publisher = _publisher_in(model) if model else None
        if publisher in _PUBLISHER_FORMATS:
            return _PUBLISHER_FORMATS[publisher]
        if model_format in self.native_formats:
            assert model_format is not None
            return model_format
        name = (model or "").rsplit("/", 1)[-1].lower()
        if name.startswith("claude"):
            return ProviderFormat.ANTHROPIC
        if name.startswith(_MISTRAL_PREFIXES):
            return ProviderFormat.MISTRAL
        return ProviderFormat.GOOGLE

    def default_auth(self, key: str) -> AuthConfig:
        """`key` is an OAuth access token (e.g. from `gcloud auth print-access-token`)."""
        return OAuth(key)

    def auth_from_env(self, environ: Mapping[str, str]) -> AuthConfig | None:
        """`GOOGLE_OAUTH_ACCESS_TOKEN`, else the service-account key file named by
        `GOOGLE_APPLICATION_CREDENTIALS`."""
        token = environ.get("GOOGLE_OAUTH_ACCESS_TOKEN")
        if token:
            return OAuth(token)
        path = environ.get("GOOGLE_APPLICATION_CREDENTIALS")
        if path:
            return GoogleServiceAccount(path)
        return None

    def model_url(self, model: str, fmt: ProviderFormat) -> str:
        """The URL of `model`'s resource (no method suffix) for requests in `fmt`."""
        prefix = f"{self.base_url}/{self.api_version}"
        scope = f"projects/{self.project}/locations/{self.location}"
        if model.startswith("projects/"):
            return f"{prefix}/{model}"
        if model.startswith("publishers/"):
            return f"{prefix}/{scope}/{model}"
        publisher = _FORMAT_PUBLISHERS.get(fmt)
        if publisher is None:
            raise errors.ConfigurationError(f"VertexProvider cannot send {fmt.value} requests")
        return f"{prefix}/{scope}/publishers/{publisher}/models/{model}"

    def prepare_body(self, request: UpstreamRequest) -> bytes:
        if request.format is ProviderFormat.GOOGLE:
            return edit_json_body(request.body, remove=("model", "stream"))
        if request.format is ProviderFormat.ANTHROPIC:
            stream = {"stream": True} if request.stream else {}
            return edit_json_body(
                request.body,
                {"anthropic_version": self.anthropic_version, **stream},
                remove=("model",) if request.stream else ("model", "stream"),
            )
        # Mistral: the body names the bare model (`codestral-2501`, no publisher path or @version).
        model = request.model.rsplit("/", 1)[-1].split("@", 1)[0]
        return super().prepare_body(replace(request, model=model))

    def build_request(self, request: UpstreamRequest) -> httpx.Request:
        resource = self.model_url(request.model, request.format)
        if request.format is ProviderFormat.GOOGLE:
            url = gemini_method_url(resource, request.stream)
        else:
            url = resource + (":streamRawPredict" if request.stream else ":rawPredict")
        return httpx.Request(
            "POST", url, headers=self.base_headers(request), content=self.prepare_body(request)
        )

    def embedding_format(self, model: str, caller: EmbeddingFormat) -> EmbeddingFormat | None:
        """Google's embedding models (`gemini-embedding-*`, `text-embedding-*`,
        `text-multilingual-embedding-*`) answer `:predict`; other publishers embed nothing here."""
        publisher = _publisher_in(model)
        if publisher not in (None, "google"):
            return None
        return EmbeddingFormat.VERTEX

    def build_embedding_request(self, request: UpstreamRequest) -> httpx.Request:
        url = self.model_url(request.model, ProviderFormat.GOOGLE) + ":predict"
        return httpx.Request("POST", url, headers=self.base_headers(request), content=request.body)

    def count_tokens_request(self, request: UpstreamRequest) -> httpx.Request | None:
        """Gemini models: `{model}:countTokens` (contents, system instruction and tools);
        Claude models: `publishers/anthropic/models/count-tokens:rawPredict`."""
        plain = replace(request, stream=False)
        if request.format is ProviderFormat.GOOGLE:
            obj = orjson.loads(self.prepare_body(plain))
            fields = ("contents", "systemInstruction", "tools", "generationConfig")
            body = orjson.dumps({key: obj[key] for key in fields if key in obj})
            url = self.model_url(request.model, request.format) + ":countTokens"
        elif request.format is ProviderFormat.ANTHROPIC:
            model = request.model.rsplit("/", 1)[-1]
            scope = f"projects/{self.project}/locations/{self.location}"
            url = (
                f"{self.base_url}/{self.api_version}/{scope}"
                "/publishers/anthropic/models/count-tokens:rawPredict"
            )
            body = count_tokens_body(
                request.body, {"anthropic_version": self.anthropic_version, "model": model}
            )
        else:
            return None
        return httpx.Request("POST", url, headers=self.base_headers(plain), content=body)

    def map_error(
        self, status: int, headers: httpx.Headers, body: bytes, alias: str
    ) -> errors.LLMRouterError:
        # rawPredict passes Anthropic and Mistral error bodies through; Google's own are
        # `{"error": {"status": ...}}`, which google_error reads and otherwise defers on.
        return google_error(status, headers, body, alias)


def _publisher_in(model: str) -> str | None:
    parts = model.split("/")
    if "publishers" in parts:
        index = parts.index("publishers")
        if index + 1 < len(parts):
            return parts[index + 1]
    return None
