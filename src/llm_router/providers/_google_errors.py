"""Google API error bodies (Gemini API and Vertex AI): `{"error": {code, message, status, details}}`.

The canonical `status` string says more than the HTTP status: an invalid Gemini API key is a
400 `INVALID_ARGUMENT` whose details carry the reason `API_KEY_INVALID`, and a 429 tells how
long to wait in a `RetryInfo` detail rather than a `retry-after` header.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from llm_router import errors
from llm_router.providers.base import error_from_response, parse_error_body

__all__ = ["google_error"]

_AUTH_REASONS = frozenset(
    {"API_KEY_INVALID", "API_KEY_EXPIRED", "ACCESS_TOKEN_EXPIRED", "CREDENTIALS_MISSING"}
)
_BY_STATUS: dict[str, type[errors.ProviderError]] = {
    "UNAUTHENTICATED": errors.AuthenticationError,
    "PERMISSION_DENIED": errors.PermissionError,
    "NOT_FOUND": errors.NotFoundError,
    "DEADLINE_EXCEEDED": errors.TimeoutError,
    "UNAVAILABLE": errors.OverloadedError,
}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)s\s*$")


def google_error(
    status: int, headers: Mapping[str, str], body: bytes, alias: str
) -> errors.LLMRouterError:
    """Map a Google error answer to a typed error, keyed by its canonical status string."""
    error = _error_object(body)
    kind = error.get("status") if isinstance(error.get("status"), str) else ""
    raw_details = error.get("details")
    details = (
        [d for d in raw_details if isinstance(d, dict)] if isinstance(raw_details, list) else []
    )
    if {d.get("reason") for d in details} & _AUTH_REASONS:
        kind = "UNAUTHENTICATED"
    cls = _BY_STATUS.get(str(kind))
    if cls is None:
        mapped = error_from_response(status, headers, body, alias, kind_override=str(kind))
        if isinstance(mapped, errors.RateLimitError) and mapped.retry_after is None:
            mapped.retry_after = _retry_delay(details)
        return mapped
    message = error.get("message") if isinstance(error.get("message"), str) else ""
    hdrs = {k.lower(): v for k, v in headers.items()}
    return cls(
        f"{alias}: HTTP {status} {kind}: {message}",
        status=status,
        body=body,
        provider=alias,
        headers=hdrs,
    )


def _retry_delay(details: list[dict[str, Any]]) -> float | None:
    for detail in details:
        if str(detail.get("@type", "")).endswith("google.rpc.RetryInfo"):
            match = _DURATION.match(str(detail.get("retryDelay", "")))
            if match:
                return float(match.group(1))
    return None


def _error_object(body: bytes) -> dict[str, Any]:
    obj = parse_error_body(body)
    if isinstance(obj, list) and obj:  # streamGenerateContent without alt=sse wraps in a list
        obj = obj[0]
    error = obj.get("error") if isinstance(obj, dict) else None
    return error if isinstance(error, dict) else {}
