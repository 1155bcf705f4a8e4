"""Caller authentication: the gateway's own keys, presented the way each caller format does.

Tokens come from one environment variable (comma-separated), and named ones each from a
variable of its own. A caller presents one as `Authorization: Bearer` (OpenAI, Mistral,
Responses, Bedrock API keys), `x-api-key` (Anthropic), `x-goog-api-key` or `?key=` (Gemini),
or `api-key` (Azure). Each comparison is constant-time over a digest of the token, so neither
content nor length leaks through timing.

The key a caller presented is also who the caller is, for per-key rate limits: a named key
is its name, any other key `key-` and the first 16 hex digits of its SHA-256 -- never the
token itself, which stays out of every limit, log and shared-state key.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

__all__ = ["GatewayKeys", "presented_key"]


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).digest()


class GatewayKeys:
    """The set of tokens callers may present (`named`: name -> token). Holds digests only;
    its repr shows a count."""

    def __init__(self, tokens: list[str], named: Mapping[str, str] | None = None) -> None:
        self._digests = [_digest(t) for t in tokens]
        self._identities = ["key-" + d.hex()[:16] for d in self._digests]
        for name, token in (named or {}).items():
            self._digests.append(_digest(token))
            self._identities.append(name)

    @classmethod
    def from_env(
        cls,
        variable: str | None,
        environ: Mapping[str, str],
        named: Mapping[str, str] | None = None,
    ) -> GatewayKeys | None:
        """The keys in `variable` (comma-separated) and those `named` (name -> variable), or
        None when no variable holds any."""
        tokens = []
        if variable:
            tokens = [t.strip() for t in environ.get(variable, "").split(",") if t.strip()]
        found = {}
        for name, name_variable in (named or {}).items():
            token = environ.get(name_variable, "").strip()
            if token:
                found[name] = token
        return cls(tokens, found) if tokens or found else None

    def __len__(self) -> int:
        return len(self._digests)

    def __repr__(self) -> str:
        return f"GatewayKeys({len(self._digests)} keys)"

    def allows(self, token: str | None) -> bool:
        """Whether `token` is one of the keys; every key is compared, whatever matches."""
        return self.identify(token) is not None

    def identify(self, token: str | None) -> str | None:
        """Who presents `token`: its name, or `key-` and a digest prefix for an unnamed key
        (None: not a key). Every key is compared, whatever matches."""
        if token is None:
            return None
        given = _digest(token)
        found = None
        for digest, identity in zip(self._digests, self._identities, strict=True):
            if hmac.compare_digest(given, digest):
                found = identity
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
