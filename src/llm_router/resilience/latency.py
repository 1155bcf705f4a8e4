"""Recent time-to-first-byte per route, as a bounded sliding window with exact percentiles.

Feeds the adaptive hedge delay. What gets recorded is the engine's choice, following Finagle's
backup-request filter: answers, first-byte timeouts and hedge losers cut short (their elapsed
time is a lower bound of their latency) count; other failures are "fast failures" that would
drag the percentile down and make hedging fire too early, so they are left out.
"""

from __future__ import annotations

import bisect
import math
from collections import deque

from llm_router.resilience.policy import HedgePolicy

__all__ = ["LatencyTracker", "hedge_delay"]


class LatencyTracker:
    """The last `window` samples not older than `max_age` seconds, kept sorted.

    `record` and `percentile` cost a binary search plus a memmove of at most `window` floats;
    memory is bounded by `window`. Time is the caller's `now` (any monotonic clock).
    """

    __slots__ = ("_arrivals", "_sorted", "max_age", "window")

    def __init__(self, *, window: int = 500, max_age: float = 300.0) -> None:
        if window < 1:
            raise ValueError(f"window must hold at least one sample, got {window}")
        if not max_age > 0:
            raise ValueError(f"max_age must be > 0 seconds, got {max_age!r}")
        self.window = window
        self.max_age = max_age
        self._arrivals: deque[tuple[float, float]] = deque()  # (recorded at, seconds)
        self._sorted: list[float] = []

    def record(self, seconds: float, now: float) -> None:
        """Add one sample (negative or non-finite values are rejected as caller bugs)."""
        if not (math.isfinite(seconds) and seconds >= 0):
            raise ValueError(f"a latency sample must be a finite number >= 0, got {seconds!r}")
        self._expire(now)
        if len(self._arrivals) == self.window:
            self._forget(self._arrivals.popleft()[1])
        self._arrivals.append((now, seconds))
        bisect.insort(self._sorted, seconds)

    def count(self, now: float) -> int:
        """How many samples are in the window at `now`."""
        self._expire(now)
        return len(self._sorted)

    def percentile(self, p: float, now: float) -> float | None:
        """The nearest-rank `p`-th percentile (0 < p <= 100), or None without samples."""
        if not 0 < p <= 100:
            raise ValueError(f"percentile must be in (0, 100], got {p!r}")
        self._expire(now)
        if not self._sorted:
            return None
        rank = math.ceil(p / 100 * len(self._sorted))
        return self._sorted[max(rank, 1) - 1]

    def _expire(self, now: float) -> None:
        horizon = now - self.max_age
        while self._arrivals and self._arrivals[0][0] < horizon:
            self._forget(self._arrivals.popleft()[1])

    def _forget(self, seconds: float) -> None:
        del self._sorted[bisect.bisect_left(self._sorted, seconds)]


def hedge_delay(policy: HedgePolicy, tracker: LatencyTracker | None, now: float) -> float:
    """How long to wait for an attempt on a route before hedging it.

    A fixed `policy.delay` wins. Otherwise the route's `policy.percentile` latency, floored at
    `policy.min_delay` so a route answering in ~0 s is not hedged instantly; with fewer than
    `policy.min_samples` samples, `policy.initial_delay`.
    """
    if policy.delay is not None:
        return policy.delay
    if tracker is None or tracker.count(now) < policy.min_samples:
        return policy.initial_delay
    estimate = tracker.percentile(policy.percentile, now)
    assert estimate is not None  # count >= min_samples >= 1
    return max(policy.min_delay, estimate)
