"""One call's attempt plan: which route the next attempt goes to, of what kind, and when.

Pure bookkeeping over the call's ordered routes; the engine reports launches and endings and
asks `next_launch`. Health checks that outlive the call (circuit breaker, retry budget) stay
outside, behind the `usable(route, kind)` predicate the engine passes in.

Without hedging (one attempt in flight) routes are tried in order and a route is kept until it
is exhausted: retried after its backoff while it has attempts and budget left, then the next
route takes over at once. `RetryPolicy.max_attempts` counts a route's attempts other than
hedges; hedges are bounded by `max_in_flight` and the hedge budget. With hedging, a new attempt is due when the hedge delay passes or
as soon as an attempt fails; it goes to the route that can start soonest, preferring routes
with nothing in flight, then list order: hedges spread across providers when there are
several and fall back to the same route when there is one.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass

from llm_router.resilience.backoff import backoff_delay
from llm_router.resilience.classify import Disposition, Verdict
from llm_router.resilience.log import AttemptKind
from llm_router.resilience.policy import RetryPolicy

__all__ = ["Launch", "RouteProgress", "Schedule"]


@dataclass(frozen=True, slots=True)
class Launch:
    """Start a `kind` attempt on route number `route` at time `at` (or now, if later)."""

    route: int
    at: float
    kind: AttemptKind


@dataclass(slots=True)
class RouteProgress:
    """What one call has done with one of its routes."""

    attempts: int = 0
    hedges: int = 0  # of `attempts`, those started as hedges (not counted against retries)
    failures: int = 0
    in_flight: int = 0
    not_before: float = -math.inf  # backoff or retry-after: no attempt before this time
    exhausted: bool = False  # no further attempt in this call
    error: BaseException | None = None  # the route's latest failure
    refused_wait: float | None = None  # a retry-after longer than the cap or the deadline


class Schedule:
    """Plans the attempts of one call over `route_count` routes."""

    def __init__(
        self,
        route_count: int,
        retry: RetryPolicy,
        rng: random.Random,
        *,
        max_in_flight: int = 1,
        deadline: float = math.inf,
    ) -> None:
        if route_count < 1:
            raise ValueError("a call needs at least one route")
        if max_in_flight < 1:
            raise ValueError(f"max_in_flight must be >= 1, got {max_in_flight}")
        self.routes = [RouteProgress() for _ in range(route_count)]
        self.retry = retry
        self.rng = rng
        self.max_in_flight = max_in_flight
        self.deadline = deadline
        self.attempts = 0
        self.in_flight = 0
        self.hedge_at = math.inf  # when the next hedge is due
        self.relaunch_due = False  # a failure asks for the next attempt without delay
        self.fatal: BaseException | None = None  # set once: no attempt starts after it
        self.last_failed: int | None = None  # route of the latest failure

    @property
    def hedging(self) -> bool:
        return self.max_in_flight > 1

    def due_at(self, now: float) -> float:
        """The earliest time `next_launch` can give an attempt to start (inf: not before an
        attempt ends). Cheap, and no later than any launch it plans, so a caller can sleep
        until then without planning: after a first attempt starts, the hedge delay."""
        if self.fatal is not None or self.in_flight >= self.max_in_flight:
            return math.inf
        if self.in_flight == 0 or self.relaunch_due:
            return now
        return self.hedge_at

    def next_launch(self, now: float, usable: Callable[[int, AttemptKind], bool]) -> Launch | None:
        """The next attempt to start, or None until something changes (an attempt ends)."""
        if self.fatal is not None or self.in_flight >= self.max_in_flight:
            return None
        if self.in_flight == 0 or self.relaunch_due:
            trigger, hedge = now, False
        elif self.hedge_at < math.inf:
            trigger, hedge = self.hedge_at, True
        else:
            return None
        if self.attempts == 0:  # the first attempt: the first usable route, at once
            for index, progress in enumerate(self.routes):
                if not progress.exhausted and usable(index, AttemptKind.FIRST):
                    return Launch(index, now, AttemptKind.FIRST)
            return None
        best: tuple[tuple[bool, float, int], Launch] | None = None
        for index, progress in enumerate(self.routes):
            if progress.exhausted:
                continue
            kind = self._kind(progress, hedge)
            # Hedges are bounded by the hedge policy (in flight) and budget, retries by the
            # retry policy: as in gRPC, one does not use up the other.
            if kind is not AttemptKind.HEDGE and self._retries_used(progress):
                continue
            if not usable(index, kind):
                continue
            launch = Launch(index, max(trigger, progress.not_before), kind)
            if not self.hedging:
                return launch
            rank = (progress.in_flight > 0, launch.at, index)
            if best is None or rank < best[0]:
                best = (rank, launch)
        return None if best is None else best[1]

    def launched(self, launch: Launch, now: float, *, hedge_delay: float = math.inf) -> None:
        """An attempt started; the next hedge is due `hedge_delay` later if there is room."""
        progress = self.routes[launch.route]
        progress.attempts += 1
        progress.hedges += launch.kind is AttemptKind.HEDGE
        progress.in_flight += 1
        self.attempts += 1
        self.in_flight += 1
        self.relaunch_due = False
        room = self.hedging and self.in_flight < self.max_in_flight
        self.hedge_at = now + hedge_delay if room else math.inf

    def hedge_refused(self) -> None:
        """The hedge budget said no: no more hedges in this call (failures still relaunch)."""
        self.hedge_at = math.inf

    def ended(self, route: int) -> None:
        """An attempt ended without failing: it answered, or it was cancelled."""
        self.routes[route].in_flight -= 1
        self.in_flight -= 1

    def failed(self, route: int, exc: BaseException, verdict: Verdict, now: float) -> None:
        """An attempt failed: decide what its route may do next."""
        self.ended(route)
        progress = self.routes[route]
        progress.failures += 1
        progress.error = exc
        self.last_failed = route
        if verdict.disposition is Disposition.FATAL:
            self.fatal = self.fatal or exc
            return
        self.relaunch_due = True
        if verdict.disposition is Disposition.FAILOVER:
            progress.exhausted = True
            return
        wait = verdict.retry_after
        if wait is not None and (wait > self.retry.max_retry_after or now + wait > self.deadline):
            # Sleeping that long is worse than moving on (or failing fast with the wait).
            progress.exhausted = True
            progress.refused_wait = wait
            return
        if wait is None:
            wait = backoff_delay(progress.failures, self.retry, self.rng)
        progress.not_before = now + wait

    def _retries_used(self, progress: RouteProgress) -> bool:
        return progress.attempts - progress.hedges >= self.retry.max_attempts

    def _kind(self, progress: RouteProgress, hedge: bool) -> AttemptKind:
        if hedge and not (progress.failures and progress.in_flight == 0):
            return AttemptKind.HEDGE
        # A route whose last attempt failed is retried, even when the hedge timer is what
        # starts it (after its backoff or retry-after wait): that attempt is a retry.
        if self.attempts == 0:
            return AttemptKind.FIRST
        return AttemptKind.RETRY if progress.attempts else AttemptKind.FAILOVER
