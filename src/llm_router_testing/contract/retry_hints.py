"""Judging the retry hints an error answer hands on: `retry-after` and `retry-after-ms`.

The error checks make the upstream's 429 and 503 carry `retry-after: 2` and
`retry-after-ms: 1500`. Required: the client's answer has a `retry-after` (seconds or an HTTP
date) of at least 1 s, since every SDK honours it. Advisory: `retry-after-ms` (or Azure's
`x-ms-retry-after-ms`) between 1,000 and 2,000; without it clients wait the whole seconds.
"""

from __future__ import annotations

import email.utils

import httpx

from .dialects import ContractViolation

__all__ = [
    "UPSTREAM_RETRY_AFTER",
    "UPSTREAM_RETRY_AFTER_MS",
    "parse_retry_after",
    "retry_after_detail",
    "retry_after_ms_shortfall",
]

UPSTREAM_RETRY_AFTER = "2"
UPSTREAM_RETRY_AFTER_MS = 1500


def parse_retry_after(value: str) -> float | None:
    """Seconds in a `retry-after` value, None for an HTTP date; a violation otherwise."""
    try:
        return float(value)
    except ValueError:
        pass
    try:
        email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        raise ContractViolation(
            f"retry-after {value!r} is neither seconds nor an HTTP date"
        ) from None
    return None


def similar(headers: httpx.Headers, word: str) -> str:
    """`` (it carried {...})`` naming headers whose name contains `word`, for a message."""
    found = {name: value for name, value in headers.items() if word in name.lower()}
    return f" (it carried {found})" if found else ""


def retry_after_detail(response: httpx.Response, upstream_status: int) -> str:
    """`retry-after: V` when the answer hands the upstream's wait on; a violation otherwise."""
    value = response.headers.get("retry-after")
    status = response.status_code
    if value is None:
        raise ContractViolation(
            f"the upstream's {upstream_status} carried retry-after: {UPSTREAM_RETRY_AFTER} but"
            f" the client's {status} has none{similar(response.headers, 'retry')}"
        )
    seconds = parse_retry_after(value)
    if seconds is not None and seconds < 1:
        raise ContractViolation(
            f"retry-after: {value} on the {status}, but the upstream asked for"
            f" {UPSTREAM_RETRY_AFTER} s"
        )
    return f"retry-after: {value}"


def retry_after_ms_shortfall(response: httpx.Response) -> str | None:
    """Why the answer's `retry-after-ms` falls short of the upstream's (None: it does not)."""
    headers = response.headers
    millis = headers.get("retry-after-ms") or headers.get("x-ms-retry-after-ms")
    if millis is None:
        return (
            f"no retry-after-ms (the upstream sent {UPSTREAM_RETRY_AFTER_MS}): clients wait"
            f" the whole seconds of retry-after: {headers.get('retry-after')}"
        )
    try:
        waited = float(millis)
    except ValueError:
        return f"retry-after-ms {millis!r} is not a number"
    if not 1000 <= waited <= 2000:
        return f"retry-after-ms: {millis}, but the upstream sent {UPSTREAM_RETRY_AFTER_MS}"
    return None
