"""How long to wait before a retry: full-jitter backoff and the provider's own retry headers.

Pure functions: the random source and the wall clock are arguments, so results are exact
in tests. Header names are matched case-insensitively.
"""

from __future__ import annotations

import datetime
import email.utils
import math
import random
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the header parsers serve providers, which need no policy
    from llm_router.resilience.policy import RetryPolicy

__all__ = ["backoff_ceiling", "backoff_delay", "parse_retry_after", "parse_should_retry"]

#: Headers giving a wait in milliseconds, in the order they are trusted. `retry-after-ms` is
#: OpenAI's and Anthropic's, `x-ms-retry-after-ms` Azure's.
_MILLISECOND_HEADERS = ("retry-after-ms", "x-ms-retry-after-ms")
#: A wait longer than a day is not a real request (`retry-after: 1e308`): ignored as unreadable.
MAX_READABLE_WAIT = 86_400.0


def backoff_ceiling(retry_number: int, policy: RetryPolicy) -> float:
    """The upper bound of the wait before retry `retry_number` (1 for the first retry)."""
    if retry_number < 1:
        raise ValueError(f"retry_number counts from 1, got {retry_number}")
    try:
        ceiling = policy.initial_delay * policy.multiplier ** (retry_number - 1)
    except OverflowError:
        return policy.max_delay
    return min(ceiling, policy.max_delay)


def backoff_delay(retry_number: int, policy: RetryPolicy, rng: random.Random) -> float:
    """The wait before retry `retry_number`: uniform in ``[0, backoff_ceiling]`` ("full jitter").

    Full jitter spreads clients that failed together across the whole interval, which the
    AWS architecture blog ("Exponential Backoff and Jitter") shows finishes the contended work
    with the fewest calls.
    """
    return rng.uniform(0.0, backoff_ceiling(retry_number, policy))


def parse_retry_after(headers: Mapping[str, str], *, wall_now: float) -> float | None:
    """The wait, in seconds, a provider asked for; None when it asked for none we can read.

    Trusted in order: ``retry-after-ms``, ``x-ms-retry-after-ms`` (milliseconds), then
    ``retry-after`` as seconds (integer or float) or as an HTTP date, measured from `wall_now`
    (seconds since the epoch). A date in the past means "now" (0.0). Unreadable, negative or
    infinite values are skipped, as the official SDKs do, so the next header can still count;
    so are waits longer than a day (`MAX_READABLE_WAIT`), which no provider means.
    """
    lowered = {name.lower(): value for name, value in headers.items()}
    for name in _MILLISECOND_HEADERS:
        millis = _non_negative_float(lowered.get(name))
        if millis is not None and millis / 1000.0 <= MAX_READABLE_WAIT:
            return millis / 1000.0
    raw = lowered.get("retry-after")
    if raw is None:
        return None
    seconds = _non_negative_float(raw)
    if seconds is None:
        seconds = _seconds_until_http_date(raw, wall_now)
    return seconds if seconds is not None and seconds <= MAX_READABLE_WAIT else None


def parse_should_retry(headers: Mapping[str, str]) -> bool | None:
    """The provider's explicit verdict from ``x-should-retry`` (true/false), or None."""
    for name, value in headers.items():
        if name.lower() == "x-should-retry":
            verdict = value.strip().lower()
            if verdict == "true":
                return True
            if verdict == "false":
                return False
            return None
    return None


def _non_negative_float(raw: str | None) -> float | None:
    if raw is None:
        return None
    try:
        value = float(raw.strip())
    except ValueError:
        return None
    if not math.isfinite(value) or value < 0:
        return None
    return value


def _seconds_until_http_date(raw: str, wall_now: float) -> float | None:
    try:
        when = email.utils.parsedate_to_datetime(raw.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        # RFC 9110 dates are always GMT; "-0000" parses zone-less but means the same.
        when = when.replace(tzinfo=datetime.UTC)
    return max(0.0, when.timestamp() - wall_now)
