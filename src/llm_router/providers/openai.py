"""OpenAI: Chat Completions and Responses, Bearer key, organization and project headers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import httpx

from llm_router.providers.base import (
    Provider,
    UpstreamRequest,
    endpoint,
    openai_style_embedding_request,
)
from llm_router.types import ProviderFormat

if TYPE_CHECKING:
    from llm_router.formats.embeddings import EmbeddingFormat

__all__ = ["OpenAIProvider"]


class OpenAIProvider(Provider):
    """`https://api.openai.com/v1`; models that exist only on Responses are sent there."""

    kind = "openai"
    native_formats = (ProviderFormat.OPENAI, ProviderFormat.RESPONSES)
    default_base_url = "https://api.openai.com/v1"
    env_keys = ("OPENAI_API_KEY",)

    def __init__(
        self,
        base_url: str | None = None,
        *,
        organization: str | None = None,
        project: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(base_url, headers=headers)
        if organization:
            self.extra_headers["openai-organization"] = organization
        if project:
            self.extra_headers["openai-project"] = project

    def format_for(
        self,
        model_format: ProviderFormat | None,
        caller: ProviderFormat,
        *,
        model: str | None = None,
    ) -> ProviderFormat:
        if model_format is ProviderFormat.RESPONSES:  # Responses-only models (e.g. o1-pro, codex)
            return ProviderFormat.RESPONSES
        return super().format_for(model_format, caller, model=model)

    def build_request(self, request: UpstreamRequest) -> httpx.Request:
        path = "/responses" if request.format is ProviderFormat.RESPONSES else "/chat/completions"
        return httpx.Request(
            "POST",
            endpoint(self.base_url, path),
            headers=self.base_headers(request),
            content=self.prepare_body(request),
        )

    def embedding_format(self, model: str, caller: EmbeddingFormat) -> EmbeddingFormat | None:
        from llm_router.formats.embeddings import EmbeddingFormat  # loaded by embedding calls only

        return EmbeddingFormat.OPENAI

    def build_embedding_request(self, request: UpstreamRequest) -> httpx.Request:
        return openai_style_embedding_request(self, request)
