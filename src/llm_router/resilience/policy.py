"""The knobs of resilience as frozen, validated values: retries, hedging, timeouts, breaker, budget.

A policy only describes; it holds no state and knows nothing of time. Invalid values raise
`ConfigurationError` at construction, naming the field and the accepted range.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from llm_router.errors import ConfigurationError

__all__ = ["BreakerPolicy", "BudgetPolicy", "HedgePolicy", "RetryPolicy", "TimeoutPolicy"]


def _require(ok: bool, owner: str, field: str, expected: str, value: object) -> None:
    if not ok:
        raise ConfigurationError(f"{owner}.{field} must be {expected}, got {value!r}")


def _finite(value: float) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often one route is retried, and how long to wait in between.

    `max_attempts` counts attempts per route, the first included (1 disables retries; failover
    to the next route still happens). Hedges are not counted: `HedgePolicy` governs them. Waits use full-jitter exponential backoff: a uniform draw
    from ``[0, min(max_delay, initial_delay * multiplier ** (n - 1))]`` before retry n. A
    provider's own ``retry-after`` wins over backoff when it is at most `max_retry_after`; a
    longer requested wait moves on to the next route instead of sleeping.
    """

    max_attempts: int = 3
    initial_delay: float = 0.5
    max_delay: float = 8.0
    multiplier: float = 2.0
    max_retry_after: float = 60.0

    def __post_init__(self) -> None:
        name = type(self).__name__
        _require(
            isinstance(self.max_attempts, int) and self.max_attempts >= 1,
            name,
            "max_attempts",
            "an int >= 1",
            self.max_attempts,
        )
        for field in ("initial_delay", "max_delay", "max_retry_after"):
            value = getattr(self, field)
            _require(_finite(value) and value >= 0, name, field, "a finite number >= 0", value)
        _require(
            self.max_delay >= self.initial_delay,
            name,
            "max_delay",
            f">= initial_delay ({self.initial_delay!r})",
            self.max_delay,
        )
        _require(
            _finite(self.multiplier) and self.multiplier >= 1,
            name,
            "multiplier",
            "a finite number >= 1",
            self.multiplier,
        )


@dataclass(frozen=True, slots=True)
class HedgePolicy:
    """When to send a second (third...) copy of a request that has not answered yet.

    With `delay` set, a hedge starts `delay` seconds after the previous attempt. With
    `delay=None` the delay adapts: the `percentile` of the route's recent time to first byte,
    never below `min_delay`; until `min_samples` answers are known, `initial_delay` is used.
    `max_attempts` caps the attempts in flight at once (the first included, at most 5, as in
    gRPC). `max_extra_load` caps hedges at that fraction of requests in the long run (0.1: one
    hedge per ten requests, measured per first route), on top of `BudgetPolicy.hedge_burst`
    hedges available from the first request on. Hedges do not use up `RetryPolicy.max_attempts`.
    """

    delay: float | None = None
    percentile: float = 95.0
    min_delay: float = 0.05
    initial_delay: float = 2.0
    min_samples: int = 20
    max_attempts: int = 2
    max_extra_load: float = 0.1

    def __post_init__(self) -> None:
        name = type(self).__name__
        if self.delay is not None:
            _require(
                _finite(self.delay) and self.delay >= 0, name, "delay", "None or >= 0", self.delay
            )
        _require(
            _finite(self.percentile) and 0 < self.percentile < 100,
            name,
            "percentile",
            "between 0 and 100 (exclusive)",
            self.percentile,
        )
        for field in ("min_delay", "initial_delay"):
            value = getattr(self, field)
            _require(_finite(value) and value >= 0, name, field, "a finite number >= 0", value)
        _require(
            isinstance(self.min_samples, int) and self.min_samples >= 1,
            name,
            "min_samples",
            "an int >= 1",
            self.min_samples,
        )
        _require(
            isinstance(self.max_attempts, int) and 2 <= self.max_attempts <= 5,
            name,
            "max_attempts",
            "an int from 2 to 5 (the first attempt included)",
            self.max_attempts,
        )
        _require(
            _finite(self.max_extra_load) and 0 < self.max_extra_load <= 1,
            name,
            "max_extra_load",
            "a fraction in (0, 1]",
            self.max_extra_load,
        )


@dataclass(frozen=True, slots=True)
class TimeoutPolicy:
    """Time limits, in seconds; None means no limit.

    - `connect`: establishing a connection (applied by the HTTP client).
    - `first_byte`: one attempt answering: the first event of a stream, or the whole answer
      of a plain request (providers send those in one piece). The engine enforces it.
    - `idle`: the gap between two stream events (applied by the stream reader).
    - `total`: the overall deadline of a call, covering every attempt and every wait.
    """

    connect: float | None = 10.0
    first_byte: float | None = 300.0
    idle: float | None = 120.0
    total: float | None = 600.0

    def __post_init__(self) -> None:
        for field in ("connect", "first_byte", "idle", "total"):
            value = getattr(self, field)
            _require(
                value is None or (_finite(value) and value > 0),
                type(self).__name__,
                field,
                "None or a finite number > 0",
                value,
            )


@dataclass(frozen=True, slots=True)
class BreakerPolicy:
    """When a route's circuit opens, and for how long.

    The circuit opens after `consecutive_failures` failures in a row, or when at least
    `min_requests` attempts ended within the last `window` seconds and the fraction that failed
    is at least `failure_rate`. It stays open `cooldown` seconds, then lets one probe through:
    success closes it, failure reopens it for another cooldown.
    """

    consecutive_failures: int = 5
    failure_rate: float = 0.5
    window: float = 30.0
    min_requests: int = 20
    cooldown: float = 30.0

    def __post_init__(self) -> None:
        name = type(self).__name__
        for field in ("consecutive_failures", "min_requests"):
            value = getattr(self, field)
            _require(isinstance(value, int) and value >= 1, name, field, "an int >= 1", value)
        _require(
            _finite(self.failure_rate) and 0 < self.failure_rate <= 1,
            name,
            "failure_rate",
            "a fraction in (0, 1]",
            self.failure_rate,
        )
        for field in ("window", "cooldown"):
            value = getattr(self, field)
            _require(_finite(value) and value > 0, name, field, "a finite number > 0", value)


@dataclass(frozen=True, slots=True)
class BudgetPolicy:
    """The per-route retry budget (gRPC retry throttling) and the hedge burst allowance.

    Each route holds up to `max_tokens` tokens, starting full. A failed attempt costs one
    token, a success earns `token_ratio` back; while the route holds half its tokens or fewer,
    it gets neither retries nor hedges. `hedge_burst` caps the hedges saved up while traffic
    was calm (see `HedgePolicy.max_extra_load`).
    """

    max_tokens: float = 10.0
    token_ratio: float = 0.1
    hedge_burst: float = 10.0

    def __post_init__(self) -> None:
        name = type(self).__name__
        _require(
            _finite(self.max_tokens) and 0 < self.max_tokens <= 1000,
            name,
            "max_tokens",
            "in (0, 1000]",
            self.max_tokens,
        )
        _require(
            _finite(self.token_ratio) and 0 < self.token_ratio <= 1,
            name,
            "token_ratio",
            "a fraction in (0, 1]",
            self.token_ratio,
        )
        _require(
            _finite(self.hedge_burst) and self.hedge_burst >= 1,
            name,
            "hedge_burst",
            "a finite number >= 1",
            self.hedge_burst,
        )
