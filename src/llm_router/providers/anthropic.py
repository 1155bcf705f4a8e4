"""Anthropic: the Messages API at `{base}/v1/messages`, `x-api-key` (or OAuth bearer) auth."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import httpx
import orjson

from llm_router.auth import ApiKey, AuthConfig
from llm_router.providers.base import Provider, UpstreamRequest, endpoint
from llm_router.types import ProviderFormat

__all__ = ["ANTHROPIC_VERSION", "AnthropicProvider", "count_tokens_body"]

#: The `anthropic-version` header the official SDKs send.
ANTHROPIC_VERSION = "2023-06-01"


class AnthropicProvider(Provider):
    """`https://api.anthropic.com` (the bare host, as the Anthropic SDK's `base_url`).

    Caller `anthropic-beta` headers reach the wire through the router's forwarding allowlist;
    `version` sets `anthropic-version` for every request.
    """

    kind = "anthropic"
    native_formats = (ProviderFormat.ANTHROPIC,)
    default_base_url = "https://api.anthropic.com"
    env_keys = ("ANTHROPIC_API_KEY",)

    def __init__(
        self,
        base_url: str | None = None,
        *,
        version: str = ANTHROPIC_VERSION,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(base_url, headers=headers)
        self.version = version

    def default_auth(self, key: str) -> AuthConfig:
        return ApiKey(key, header="x-api-key", prefix="")

    def count_tokens_request(self, request: UpstreamRequest) -> httpx.Request | None:
        """`POST /v1/messages/count_tokens` with the body's countable fields."""
        if request.format is not ProviderFormat.ANTHROPIC:
            return None
        headers = self.base_headers(replace(request, stream=False))
        headers.setdefault("anthropic-version", self.version)
        return httpx.Request(
            "POST",
            self.base_url + "/v1/messages/count_tokens",
            headers=headers,
            content=count_tokens_body(request.body, {"model": request.model}),
        )

    def build_request(self, request: UpstreamRequest) -> httpx.Request:
        headers = self.base_headers(request)
        headers.setdefault("anthropic-version", self.version)
        return httpx.Request(
            "POST",
            endpoint(self.base_url, "/v1/messages"),
            headers=headers,
            content=self.prepare_body(request),
        )


#: The Messages fields `count_tokens` accepts (it refuses max_tokens, stream, sampling...).
_COUNTED_FIELDS = ("messages", "system", "tools", "tool_choice", "thinking", "mcp_servers")


def count_tokens_body(body: bytes, extra: Mapping[str, Any]) -> bytes:
    """A Messages body cut to what `count_tokens` takes, plus `extra` (model, version)."""
    obj = orjson.loads(body)
    kept = {key: obj[key] for key in _COUNTED_FIELDS if key in obj}
    return orjson.dumps({**extra, **kept})
