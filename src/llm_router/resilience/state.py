"""Resilience state that outlives calls: per-route health, hedge budgets, counters, statistics.

The router owns one `ResilienceState` and passes it to every call. Its parts are the pure
decision objects (retry budget, circuit breaker, latency window); this module only keeps them
per route and reads Trio's clock for `statistics()`, so `trio.testing.MockClock` drives it.
"""

from __future__ import annotations

import dataclasses
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import trio

from llm_router.resilience.breaker import CircuitBreaker
from llm_router.resilience.budget import HedgeBudget, RetryBudget
from llm_router.resilience.latency import LatencyTracker
from llm_router.resilience.log import AttemptKind, Hooks
from llm_router.resilience.policy import BreakerPolicy, BudgetPolicy

__all__ = ["ResilienceState", "ResilienceStatistics", "RouteHealth", "RouteStatistics"]


class RouteHealth:
    """Everything known about one route across calls. Mutated only by the engine."""

    __slots__ = (
        "attempts",
        "breaker",
        "budget",
        "cancelled",
        "failovers",
        "failures",
        "hedges",
        "hedges_won",
        "in_flight",
        "key",
        "latency",
        "retries",
        "successes",
    )

    def __init__(
        self,
        key: str,
        *,
        budget: RetryBudget,
        breaker: CircuitBreaker | None,
        latency: LatencyTracker,
    ) -> None:
        self.key = key
        self.budget = budget
        self.breaker = breaker
        self.latency = latency
        self.in_flight = 0
        self.attempts = self.successes = self.failures = self.cancelled = 0
        self.retries = self.failovers = self.hedges = self.hedges_won = 0

    def count_start(self, kind: AttemptKind) -> None:
        self.attempts += 1
        self.in_flight += 1
        if kind is AttemptKind.RETRY:
            self.retries += 1
        elif kind is AttemptKind.FAILOVER:
            self.failovers += 1
        elif kind is AttemptKind.HEDGE:
            self.hedges += 1

    def statistics(self, now: float) -> RouteStatistics:
        latency = self.latency
        return RouteStatistics(
            key=self.key,
            in_flight=self.in_flight,
            attempts=self.attempts,
            successes=self.successes,
            failures=self.failures,
            cancelled=self.cancelled,
            retries=self.retries,
            failovers=self.failovers,
            hedges=self.hedges,
            hedges_won=self.hedges_won,
            latency_samples=latency.count(now),
            latency_p50=latency.percentile(50, now),
            latency_p95=latency.percentile(95, now),
            latency_p99=latency.percentile(99, now),
            retry_tokens=self.budget.tokens,
            breaker=None if self.breaker is None else self.breaker.state(now).value,
            breaker_opened=0 if self.breaker is None else self.breaker.times_opened,
        )


@dataclass(frozen=True, slots=True)
class RouteStatistics:
    """A snapshot of one route. Latencies are time to answer, in seconds (None: no samples)."""

    key: str
    in_flight: int
    attempts: int
    successes: int
    failures: int
    cancelled: int
    retries: int
    failovers: int
    hedges: int
    hedges_won: int
    latency_samples: int
    latency_p50: float | None
    latency_p95: float | None
    latency_p99: float | None
    retry_tokens: float
    breaker: str | None  # "closed", "open", "half_open"; None without a breaker
    breaker_opened: int  # how many times the circuit has opened


@dataclass(frozen=True, slots=True)
class ResilienceStatistics:
    """A snapshot of every route and call, as `ResilienceState.statistics()` returns it."""

    requests_in_flight: int
    requests: int
    requests_succeeded: int
    requests_failed: int
    attempts_in_flight: int
    hedges_refused: int  # hedges the max_extra_load budget did not allow
    routes: dict[str, RouteStatistics]
    hedge_tokens: dict[str, float]  # per first route: hedges currently affordable

    def as_dict(self) -> dict[str, Any]:
        """Plain dicts and numbers, ready for JSON."""
        return dataclasses.asdict(self)


class ResilienceState:
    """Per-route budgets, breakers and latency windows, plus the hooks and the jitter source.

    `breaker=None` disables circuit breaking. `rng` drives backoff jitter (inject a seeded
    `random.Random` for reproducible tests). `wall_clock` (seconds since the epoch) is only
    used to read HTTP-date ``retry-after`` headers.
    """

    def __init__(
        self,
        *,
        breaker: BreakerPolicy | None = BreakerPolicy(),
        budget: BudgetPolicy = BudgetPolicy(),
        hooks: Hooks = Hooks(),
        latency_window: int = 500,
        latency_max_age: float = 300.0,
        rng: random.Random | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.breaker_policy = breaker
        self.budget_policy = budget
        self.hooks = hooks
        self.rng = rng or random.Random()
        self.wall_clock = wall_clock
        self._latency_window = latency_window
        self._latency_max_age = latency_max_age
        #: (route key, window, max age) -> the route's latency window; a shared state puts
        #: its own here (the router's builder does), so windows are shared between processes.
        self.latency_factory: Callable[[str, int, float], LatencyTracker] | None = None
        self._routes: dict[str, RouteHealth] = {}
        self._hedge_budgets: dict[str, HedgeBudget] = {}
        self._last_request_id = 0
        self.requests_in_flight = 0
        self.requests_succeeded = 0
        self.requests_failed = 0
        self.hedges_refused = 0

    def route(self, key: str) -> RouteHealth:
        """The health record of route `key`, created on first use."""
        health = self._routes.get(key)
        if health is None:
            health = self._routes[key] = RouteHealth(
                key,
                budget=RetryBudget(self.budget_policy),
                breaker=None
                if self.breaker_policy is None
                else CircuitBreaker(self.breaker_policy),
                latency=self._new_latency(key),
            )
        return health

    @property
    def latency_window(self) -> tuple[int, float]:
        """(samples kept, max age in seconds) of each route's latency window."""
        return self._latency_window, self._latency_max_age

    def _new_latency(self, key: str) -> LatencyTracker:
        if self.latency_factory is not None:
            return self.latency_factory(key, self._latency_window, self._latency_max_age)
        return LatencyTracker(window=self._latency_window, max_age=self._latency_max_age)

    def hedge_budget(self, first_route: str) -> HedgeBudget:
        """The hedge budget shared by every call whose first route is `first_route`."""
        budget = self._hedge_budgets.get(first_route)
        if budget is None:
            budget = self._hedge_budgets[first_route] = HedgeBudget(self.budget_policy.hedge_burst)
        return budget

    def new_request_id(self) -> int:
        self._last_request_id += 1
        return self._last_request_id

    def statistics(self) -> ResilienceStatistics:
        """A snapshot of every call and route (must run inside Trio: it reads Trio's clock)."""
        now = trio.current_time()
        routes = {key: health.statistics(now) for key, health in self._routes.items()}
        return ResilienceStatistics(
            requests_in_flight=self.requests_in_flight,
            requests=self._last_request_id,
            requests_succeeded=self.requests_succeeded,
            requests_failed=self.requests_failed,
            attempts_in_flight=sum(r.in_flight for r in routes.values()),
            hedges_refused=self.hedges_refused,
            routes=routes,
            hedge_tokens={key: b.tokens for key, b in self._hedge_budgets.items()},
        )
