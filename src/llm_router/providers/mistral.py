"""Mistral: `{base}/chat/completions` in Mistral's Chat Completions dialect, Bearer key."""

from __future__ import annotations

from typing import Any

import httpx
import orjson

from llm_router import errors
from llm_router.formats.embeddings import EmbeddingFormat
from llm_router.providers.base import (
    Provider,
    UpstreamRequest,
    endpoint,
    error_from_response,
    openai_style_embedding_request,
)
from llm_router.types import ProviderFormat

__all__ = ["MistralProvider"]


class MistralProvider(Provider):
    """`https://api.mistral.ai/v1` (with the version, like the OpenAI-style hosts)."""

    kind = "mistral"
    native_formats = (ProviderFormat.MISTRAL,)
    default_base_url = "https://api.mistral.ai/v1"
    env_keys = ("MISTRAL_API_KEY",)

    def build_request(self, request: UpstreamRequest) -> httpx.Request:
        return httpx.Request(
            "POST",
            endpoint(self.base_url, "/chat/completions"),
            headers=self.base_headers(request),
            content=self.prepare_body(request),
        )

    def embedding_format(self, model: str, caller: EmbeddingFormat) -> EmbeddingFormat | None:
        return EmbeddingFormat.MISTRAL

    def build_embedding_request(self, request: UpstreamRequest) -> httpx.Request:
        return openai_style_embedding_request(self, request)

    def map_error(
        self, status: int, headers: httpx.Headers, body: bytes, alias: str
    ) -> errors.LLMRouterError:
        error = error_from_response(status, headers, body, alias)
        if status != 422 or not isinstance(error, errors.InvalidRequestError):
            return error
        problems = _validation_problems(body)
        if not problems:
            return error
        # 422 {"detail": [{"loc": ["body", "messages", 0], "msg": ...}]}: name the fields.
        text = "; ".join(f"{path}: {msg}" if path else msg for path, msg in problems)
        return errors.InvalidRequestError(
            f"{alias}: HTTP 422: {text}",
            path=problems[0][0] or None,
            status=status,
            body=body,
            provider=alias,
        )


def _validation_problems(body: bytes) -> list[tuple[str, str]]:
    """(field path, message) pairs of a FastAPI-style validation error body."""
    try:
        obj: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        return []
    items = obj.get("detail") if isinstance(obj, dict) else None
    if not isinstance(items, list):
        return []
    problems = []
    for item in items:
        if not isinstance(item, dict):
            continue
        raw_loc = item.get("loc")
        loc: list[Any] = raw_loc if isinstance(raw_loc, list) else []
        path = ""
        for part in loc[1:] if loc[:1] == ["body"] else loc:
            path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
        problems.append((path, str(item.get("msg", "invalid value"))))
    return problems
