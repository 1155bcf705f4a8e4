"""Upstream response headers the gateway hands on: rate-limit state and the request id.

`x-ratelimit-*` (OpenAI, Azure, Mistral and OpenAI-compatible hosts) and
`anthropic-ratelimit-*` headers of the answering upstream pass unchanged, so that a client
pacing itself on them keeps working. The request id is answered under the name the caller's
SDK reads (`x-request-id` for OpenAI-style clients and Gemini, `request-id` for Anthropic,
`x-amzn-requestid` for botocore), carrying the upstream's id when it sent one, else one of
the gateway's own; `x-llm-router-request-id` always carries the same value.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping

from llm_router.types import ProviderFormat

__all__ = ["REQUEST_ID_HEADERS", "ROUTER_REQUEST_ID", "passthrough_headers", "request_id_headers"]

#: Sent with every answer, whatever the caller's format, with the same id.
ROUTER_REQUEST_ID = "x-llm-router-request-id"

REQUEST_ID_HEADERS: Mapping[ProviderFormat, str] = {
    ProviderFormat.OPENAI: "x-request-id",
    ProviderFormat.RESPONSES: "x-request-id",
    ProviderFormat.MISTRAL: "x-request-id",
    ProviderFormat.GOOGLE: "x-request-id",
    ProviderFormat.ANTHROPIC: "request-id",
    ProviderFormat.CONVERSE: "x-amzn-requestid",
}
#: Answered when the caller's format is unknown (a path no format serves): every SDK's name.
_ANY_FORMAT_IDS = ("x-request-id", "request-id")
_UPSTREAM_IDS = ("x-request-id", "request-id", "x-amzn-requestid", "x-goog-request-id")
_RATE_LIMIT_PREFIXES = ("x-ratelimit-", "anthropic-ratelimit-")
_MAX_VALUE = 200  # a header longer than this is not rate-limit state or an id: not handed on


def passthrough_headers(
    upstream: Mapping[str, str] | None, caller: ProviderFormat
) -> dict[str, str]:
    """The headers of `upstream` (an upstream response's, possibly none) to answer with."""
    out: dict[str, str] = {}
    request_id = None
    for name, value in (upstream or {}).items():
        lowered = name.lower()
        if len(value) > _MAX_VALUE or not value.isprintable():
            continue
        if lowered.startswith(_RATE_LIMIT_PREFIXES):
            out[lowered] = value
        elif lowered in _UPSTREAM_IDS and request_id is None:
            request_id = value
    out.update(request_id_headers(request_id or f"req_{secrets.token_hex(12)}", caller))
    return out


def request_id_headers(request_id: str, caller: ProviderFormat | None) -> dict[str, str]:
    """`request_id` under the name `caller`'s SDK reads, and under `x-llm-router-request-id`."""
    names = _ANY_FORMAT_IDS if caller is None else (REQUEST_ID_HEADERS[caller],)
    return {**dict.fromkeys(names, request_id), ROUTER_REQUEST_ID: request_id}
