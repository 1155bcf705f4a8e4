"""Anthropic: the Messages API at `{base}/v1/messages`, `x-api-key` (or OAuth bearer) auth."""

from __future__ import annotations

from collections.abc import Mapping

import httpx

from llm_router.auth import ApiKey, AuthConfig
from llm_router.providers.base import Provider, UpstreamRequest
from llm_router.types import ProviderFormat

__all__ = ["ANTHROPIC_VERSION", "AnthropicProvider"]

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

    def build_request(self, request: UpstreamRequest) -> httpx.Request:
        headers = self.base_headers(request)
        headers.setdefault("anthropic-version", self.version)
        return httpx.Request(
            "POST",
            self.base_url + "/v1/messages",
            headers=headers,
            content=self.prepare_body(request),
        )
