"""Google Gemini API: `generateContent` / `streamGenerateContent?alt=sse`, `x-goog-api-key` auth."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import httpx
import orjson

from llm_router import errors
from llm_router.auth import ApiKey, AuthConfig
from llm_router.formats.embeddings import EmbeddingFormat
from llm_router.providers._google_errors import google_error
from llm_router.providers.base import Provider, UpstreamRequest, edit_json_body
from llm_router.types import ProviderFormat

__all__ = ["GoogleProvider", "gemini_method_url", "gemini_model_path"]


class GoogleProvider(Provider):
    """`https://generativelanguage.googleapis.com` (the bare host, as google-genai's `base_url`).

    The model travels in the URL (`/{api_version}/models/{model}:generateContent`), so the
    body must carry neither `model` nor `stream`.
    """

    kind = "google"
    native_formats = (ProviderFormat.GOOGLE,)
    default_base_url = "https://generativelanguage.googleapis.com"
    env_keys = ("GEMINI_API_KEY", "GOOGLE_API_KEY")

    def __init__(
        self,
        base_url: str | None = None,
        *,
        api_version: str = "v1beta",
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(base_url, headers=headers)
        self.api_version = api_version.strip("/")

    def default_auth(self, key: str) -> AuthConfig:
        return ApiKey(key, header="x-goog-api-key", prefix="")

    def prepare_body(self, request: UpstreamRequest) -> bytes:
        return edit_json_body(request.body, remove=("model", "stream"))

    def build_request(self, request: UpstreamRequest) -> httpx.Request:
        url = gemini_method_url(
            f"{self.base_url}/{self.api_version}/{gemini_model_path(request.model)}", request.stream
        )
        return httpx.Request(
            "POST", url, headers=self.base_headers(request), content=self.prepare_body(request)
        )

    def embedding_format(self, model: str, caller: EmbeddingFormat) -> EmbeddingFormat | None:
        """A Gemini caller's own method (embedContent or batchEmbedContents), else the batch."""
        if caller in (EmbeddingFormat.GOOGLE, EmbeddingFormat.GOOGLE_BATCH):
            return caller
        return EmbeddingFormat.GOOGLE_BATCH

    def build_embedding_request(self, request: UpstreamRequest) -> httpx.Request:
        method = (
            ":embedContent"
            if request.embedding is EmbeddingFormat.GOOGLE
            else ":batchEmbedContents"
        )
        resource = f"{self.base_url}/{self.api_version}/{gemini_model_path(request.model)}"
        return httpx.Request(
            "POST", resource + method, headers=self.base_headers(request), content=request.body
        )

    def count_tokens_request(self, request: UpstreamRequest) -> httpx.Request | None:
        """`:countTokens`: `contents` alone, or the whole request as `generateContentRequest`
        when it has a system instruction, tools or settings (which count too)."""
        if request.format is not ProviderFormat.GOOGLE:
            return None
        path = gemini_model_path(request.model)
        obj = orjson.loads(self.prepare_body(request))
        body = (
            {"contents": obj.get("contents", [])}
            if set(obj) <= {"contents"}
            else {"generateContentRequest": {"model": path, **obj}}
        )
        return httpx.Request(
            "POST",
            f"{self.base_url}/{self.api_version}/{path}:countTokens",
            headers=self.base_headers(replace(request, stream=False)),
            content=orjson.dumps(body),
        )

    def map_error(
        self, status: int, headers: httpx.Headers, body: bytes, alias: str
    ) -> errors.LLMRouterError:
        return google_error(status, headers, body, alias)


def gemini_model_path(model: str) -> str:
    """`models/{model}`, keeping ids that already name their collection (`tunedModels/...`)
    and reducing Vertex publisher paths (`publishers/google/models/x`) to the model."""
    if model.startswith(("models/", "tunedModels/")):
        return model
    return "models/" + model.removeprefix(_VERTEX_PUBLISHER)


_VERTEX_PUBLISHER = "publishers/google/models/"


def gemini_method_url(resource_url: str, stream: bool) -> str:
    """The generateContent URL of a Gemini model resource (SSE framing for streams)."""
    if stream:
        return resource_url + ":streamGenerateContent?alt=sse"
    return resource_url + ":generateContent"
