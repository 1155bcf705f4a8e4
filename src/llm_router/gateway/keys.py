"""Caller authentication: the gateway's own keys, presented the way each caller format does.

Tokens come from one environment variable (comma-separated). A caller presents one as
`Authorization: Bearer` (OpenAI, Mistral, Responses, Bedrock API keys), `x-api-key`
(Anthropic), `x-goog-api-key` or `?key=` (Gemini), or `api-key` (Azure). Each comparison is
constant-time over a digest of the token, so neither content nor length leaks through timing.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

__all__ = ["GatewayKeys", "presented_key"]


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).digest()


class GatewayKeys:
    """The set of tokens callers may present. Holds digests only; its repr shows a count."""

    def __init__(self, tokens: list[str]) -> None:
        self._digests = [_digest(t) for t in tokens]

    @classmethod
    def from_env(cls, variable: str | None, environ: Mapping[str, str]) -> GatewayKeys | None:
        """The keys in `variable` (comma-separated), or None when it is unset or empty."""
        if not variable:
            return None
        tokens = [t.strip() for t in environ.get(variable, "").split(",") if t.strip()]
        return cls(tokens) if tokens else None

    def __len__(self) -> int:
        return len(self._digests)

    def __repr__(self) -> str:
        return f"GatewayKeys({len(self._digests)} keys)"

    def allows(self, token: str | None) -> bool:
        """Whether `token` is one of the keys; every key is compared, whatever matches."""
        if token is None:
            return False
        given = _digest(token)
        found = False
        for digest in self._digests:
            found |= hmac.compare_digest(given, digest)
        return found


def presented_key(headers: Mapping[str, str], query: Mapping[str, str]) -> str | None:
    """The key a caller presented, in any format's conventional place (lower-case headers)."""
    authorization = headers.get("authorization", "")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    for name in ("x-api-key", "x-goog-api-key", "api-key"):
        value = headers.get(name)
        if value:
            return value.strip()
    return query.get("key") or None
