"""Every contract check, in the order a run takes them, and lookup by name."""

from __future__ import annotations

from .checks import CORE_CHECKS, Check
from .embeddings import EMBEDDING_CHECKS
from .headers import check_ratelimit_headers, check_request_id
from .timeouts import check_first_byte_timeout, check_idle_timeout
from .upstream_checks import check_upstream_valid

__all__ = ["CHECKS", "check_named"]

CHECKS: tuple[Check, ...] = (
    *CORE_CHECKS,
    Check(
        "ratelimit_headers",
        "(advisory) upstream x-ratelimit-*/anthropic-ratelimit-* headers pass through",
        check_ratelimit_headers,
    ),
    Check(
        "request_id", "answers and errors carry the format's request id header", check_request_id
    ),
    Check(
        "first_byte_timeout",
        "an upstream silent before its first byte gets an answer within the bound, never a hang",
        check_first_byte_timeout,
    ),
    Check(
        "idle_timeout",
        "a stream stalled midway ends with the format's error event within the bound",
        check_idle_timeout,
    ),
    Check(
        "upstream_valid",
        "what reached the upstream is valid for its provider (model id, body), once",
        check_upstream_valid,
        True,
    ),
    *EMBEDDING_CHECKS,
)


def check_named(name: str) -> Check:
    for check in CHECKS:
        if check.name == name:
            return check
    known = ", ".join(check.name for check in CHECKS)
    raise ValueError(f"unknown contract check {name!r}; known checks: {known}")
