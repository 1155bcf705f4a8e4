"""The seam between the router and the resilience engine: one call's attempts over its routes.

Holds the router-lifetime resilience state (budgets, breakers, latency windows, counters) and
the policies chosen on the builder, and runs each call through `run_with_resilience`.
"""

from __future__ import annotations

import dataclasses
import math
import random
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import trio

from llm_router import errors
from llm_router.limiting import Demand, Grant, Limiter
from llm_router.ratelimit import reported_tokens
from llm_router.resilience import (
    AttemptContext,
    AttemptKind,
    AttemptRecord,
    HedgeBudget,
    HedgePolicy,
    Hooks,
    ResilienceState,
    RetryBudget,
    RetryPolicy,
    TimeoutPolicy,
    classify,
    run_with_resilience,
)
from llm_router.resilience.engine import Finisher, Measure, ResilientResult
from llm_router.resilience.hedger import Hedger
from llm_router.routing import Route
from llm_router.state.latency import SharedLatencyTracker
from llm_router.strategies import RouteView, Strategy, ordered
from llm_router.universal import Usage

if TYPE_CHECKING:
    from llm_router.catalog import Catalog

__all__ = ["Executor"]

T = TypeVar("T")


class _Closable(Protocol):
    async def aclose(self) -> None: ...


S = TypeVar("S", bound=_Closable)


class Executor:
    """Runs attempts with retries, hedging, failover and timeouts."""

    def __init__(
        self,
        *,
        retry: RetryPolicy | None = None,
        hedge: HedgePolicy | None = None,
        timeouts: TimeoutPolicy | None = None,
        hooks: Hooks | None = None,
        state: ResilienceState | None = None,
        limiter: Limiter | None = None,
        strategy: Strategy = ordered,
        catalog: Catalog | None = None,
    ) -> None:
        self.retry = retry if retry is not None else RetryPolicy()
        self.hedge = hedge
        self.timeouts = timeouts if timeouts is not None else TimeoutPolicy()
        if hedge is not None:
            _check_hedging_possible(hedge, self.timeouts)
        self.state = state if state is not None else ResilienceState(hooks=hooks or Hooks())
        #: Hedge timers and races; the router runs it in its nursery while it is open.
        self.hedger = Hedger() if hedge is not None else None
        self.limiter = limiter
        self.strategy = strategy
        self.catalog = catalog
        self._rng = random.Random()
        self._opened_seen: dict[str, int] = {}  # route key -> breaker.times_opened published
        self._stream_grants: dict[int, Grant] = {}

    @property
    def connect_timeout(self) -> float | None:
        return self.timeouts.connect

    @property
    def idle_timeout(self) -> float | None:
        return self.timeouts.idle

    async def run_complete(
        self,
        routes: Sequence[Route],
        attempt: Callable[[Route], Awaitable[T]],
        *,
        label: str = "",
        demand: Demand | None = None,
        measure: Measure[T] | None = None,
        operation: str = "chat",
    ) -> tuple[T, Route, tuple[AttemptRecord, ...]]:
        """Run a plain call; `measure(answer)` gives (usage, cost) for hooks that listen;
        `operation` names the kind of call in hook records (`chat`, `embeddings`)."""
        result = await self._run(
            routes, attempt, label, demand, stream=False, measure=measure, operation=operation
        )
        return result.value, result.route, result.attempts

    async def run_stream(
        self,
        routes: Sequence[Route],
        attempt: Callable[[Route], Awaitable[S]],
        *,
        label: str = "",
        demand: Demand | None = None,
    ) -> tuple[S, Route, tuple[AttemptRecord, ...], Finisher]:
        """Like `run_complete`; an attempt answers with its first event, and answers that lose
        the race (or are orphaned by cancellation) are closed. The winner holds its
        concurrency slot until `stream_closed(value)`, and the request stays open until the
        caller calls the returned `finish(usage, cost, error)` when the stream is done."""
        result = await self._run(routes, attempt, label, demand, stream=True)
        assert result.finish is not None
        return result.value, result.route, result.attempts, result.finish

    async def run_session(
        self,
        routes: Sequence[Route],
        attempt: Callable[[Route], Awaitable[S]],
        *,
        label: str = "",
        retry: RetryPolicy | None = None,
        timeouts: TimeoutPolicy | None = None,
        demand: Demand | None = None,
    ) -> tuple[S, Route, tuple[AttemptRecord, ...], Finisher]:
        """Open a realtime session: `run_stream` without hedging (a second socket would be a
        second session) and with the session's own `retry` and `timeouts` when given. The
        attempts feed the same breakers, retry budgets and health as HTTP calls to the route;
        the winner holds its slot until `stream_closed(value)`. `demand` names the caller for
        per-key limits. Observers see it as a call of operation `realtime`."""
        result = await self._run(
            routes,
            attempt,
            label,
            demand,
            stream=True,
            policies=(retry or self.retry, None, timeouts or self.timeouts),
            operation="realtime",
        )
        assert result.finish is not None
        return result.value, result.route, result.attempts, result.finish

    async def stream_closed(self, value: object, tokens: int | None = None) -> None:
        """The caller is done with a streamed answer: free its rate-limit slot."""
        grant = self._stream_grants.pop(id(value), None)
        if grant is not None and self.limiter is not None:
            await self.limiter.settle(grant, tokens=tokens)

    async def _run(
        self,
        routes: Sequence[Route],
        attempt: Callable[[Route], Awaitable[Any]],
        label: str,
        demand: Demand | None,
        *,
        stream: bool,
        measure: Measure[Any] | None = None,
        policies: tuple[RetryPolicy, HedgePolicy | None, TimeoutPolicy] | None = None,
        operation: str = "chat",
    ) -> ResilientResult[Route, Any]:
        demand = demand or Demand(label)
        routes = self._order(routes, demand)
        retry, hedge, timeouts = policies or (self.retry, self.hedge, self.timeouts)
        limiter = self.limiter
        first: Grant | None = None
        if limiter is not None and routes:
            started = trio.current_time()
            deadline = math.inf if timeouts.total is None else started + timeouts.total
            index, first = await limiter.admit_call(
                routes,
                demand,
                deadline=deadline,
                circuits=[route.key for route in routes],
                budgets=self._budget_keys(routes),
            )
            self._apply_open_circuits(limiter.open_circuits)
            self._adopt_latencies(limiter, routes)
            if index:
                routes = [routes[index], *routes[:index], *routes[index + 1 :]]
            self._adopt_budgets(limiter.budgets, routes)
            waited = trio.current_time() - started
            if waited and timeouts.total is not None:
                timeouts = dataclasses.replace(timeouts, total=max(0.0, timeouts.total - waited))
        pending = [first]

        async def limited(route: Route, ctx: AttemptContext) -> Any:
            assert limiter is not None
            grant = pending.pop() if pending and pending[0] is not None else None
            if grant is None or grant.route != route.key:
                if grant is not None:  # admitted elsewhere; the route it was for never ran
                    await limiter.settle(grant, tokens=0)
                grant = await limiter.admit_attempt(route, demand)
            if hedge is not None:
                self._count_hedge(grant, routes[0], ctx)
            answered = False
            try:
                value = await attempt(route)
                answered = True
                self._count_outcome(grant, route, None)
            except errors.ProviderError as exc:
                limiter.observe_error(route, exc)
                self._count_outcome(grant, route, exc)
                raise
            except Exception as exc:
                self._count_outcome(grant, route, exc)
                raise
            finally:
                if not answered:
                    await limiter.settle(grant, tokens=None)
            if stream:
                self._stream_grants[id(value)] = grant
            else:
                used = _tokens_used(value)
                await limiter.settle(grant, tokens=used)
            return value

        async def release(value: Any) -> None:
            await self.stream_closed(value)
            await value.aclose()

        def unlimited(route: Route, ctx: AttemptContext) -> Awaitable[Any]:
            return attempt(route)  # no coroutine of its own around the attempt

        try:
            result = await run_with_resilience(
                routes,
                unlimited if limiter is None else limited,
                state=self.state,
                retry=retry,
                hedge=hedge,
                timeouts=timeouts,
                release=release if stream else None,
                label=label,
                measure=measure,
                defer_finish=stream,
                operation=operation,
                hedger=self.hedger,
            )
        finally:
            if pending and pending[0] is not None and limiter is not None:
                await limiter.settle(pending[0], tokens=0)
            await self._publish_opened(routes)
        return result

    def observe(self, route: Route, headers: Any) -> None:
        """Rate-limit headers of a successful response (feeds the limits' provider quota)."""
        if self.limiter is not None:
            self.limiter.observe(route, headers)

    # -- shared budgets ----------------------------------------------------------------------
    # With a shared state, the retry budget of each route and the hedge budget of each first
    # route are shared levels: a call adopts them at admission, and each attempt's settle
    # sends what it changed (the same arithmetic as `RetryBudget` and `HedgeBudget`).

    def _budget_keys(self, routes: Sequence[Route]) -> list[str]:
        keys = ["retry:" + route.key for route in routes]
        if self.hedge is not None:
            keys += ["hedge:" + route.key for route in routes]
        return keys

    def _adopt_budgets(self, levels: Mapping[str, float], routes: Sequence[Route]) -> None:
        for route in routes:
            level = levels.get("retry:" + route.key)
            if level is not None:
                self.state.route(route.key).budget.adopt(level)
        if self.hedge is not None and routes:
            level = levels.get("hedge:" + routes[0].key)
            if level is not None:
                self.state.hedge_budget(routes[0].key).adopt(level)

    def _count_hedge(self, grant: Grant, first: Route, ctx: AttemptContext) -> None:
        hedge = self.hedge
        if hedge is None:
            return
        budget = self.state.hedge_budget(first.key)
        start = HedgeBudget(budget.burst).tokens
        if ctx.number == 1:  # the call's deposit
            grant.change_budget("hedge:" + first.key, hedge.max_extra_load, start, budget.burst)
        if ctx.kind is AttemptKind.HEDGE:
            grant.change_budget("hedge:" + first.key, -1.0, start, budget.burst)

    def _count_outcome(self, grant: Grant, route: Route, failure: Exception | None) -> None:
        budget = self.state.route(route.key).budget
        if failure is None:
            delta = budget.token_ratio
        elif classify(failure, wall_now=self.state.wall_clock()).route_fault:
            delta = -1.0
        else:
            return
        start = RetryBudget(self.state.budget_policy).tokens
        grant.change_budget("retry:" + route.key, delta, start, budget.max_tokens)

    # -- strategies and shared circuits ------------------------------------------------------
    def _order(self, routes: Sequence[Route], demand: Demand) -> list[Route]:
        if self.strategy is ordered or len(routes) < 2:
            return list(routes)
        now = trio.current_time()
        views = []
        for route in routes:
            health = self.state.route(route.key)
            views.append(
                RouteView(
                    key=route.key,
                    in_flight=health.in_flight,
                    latency=health.latency.percentile(50, now),
                    cost=self._cost(route, demand),
                    headroom=1.0
                    if self.limiter is None
                    else self.limiter.headroom.get(route.key, 1.0),
                )
            )
        return [routes[i] for i in self.strategy(views, self._rng)]

    def _cost(self, route: Route, demand: Demand) -> float | None:
        if self.catalog is None:
            return None
        spec = self.catalog.find(route.catalog_model or route.model)
        if spec is None:
            return None
        usage = {"input_tokens": demand.input_tokens, "output_tokens": demand.output_tokens}
        try:
            return self.catalog.cost(spec, usage)
        except errors.ConfigurationError:  # a price the catalog lacks
            return None

    def _adopt_latencies(self, limiter: Limiter, routes: Sequence[Route]) -> None:
        for route in routes:
            view = limiter.latencies.get(route.key)
            tracker = self.state.route(route.key).latency
            if view is not None and isinstance(tracker, SharedLatencyTracker):
                tracker.adopt(view)

    def _apply_open_circuits(self, open_circuits: dict[str, float]) -> None:
        now = trio.current_time()
        for key, seconds in open_circuits.items():
            breaker = self.state.route(key).breaker
            if breaker is not None:
                breaker.open_for(now, seconds)

    async def _publish_opened(self, routes: Sequence[Route]) -> None:
        """Tell the shared state about circuits this call's failures opened."""
        if self.limiter is None:
            return
        now = trio.current_time()
        opened = {}
        for key in {route.key for route in routes}:
            breaker = self.state.route(key).breaker
            if breaker is None:
                continue
            if breaker.times_opened > self._opened_seen.get(key, 0):
                self._opened_seen[key] = breaker.times_opened
                remaining = breaker.open_remaining(now)
                if remaining > 0:
                    opened[key] = remaining
        if opened:
            await self.limiter.publish(opened)

    def statistics(self) -> dict[str, Any]:
        stats = self.state.statistics().as_dict()
        if self.limiter is not None:
            stats["shared_state"] = dataclasses.asdict(self.limiter.state.statistics())
        return stats


def _tokens_used(value: object) -> int | None:
    """Total tokens a plain answer reports (None: no usage), for the rate limiter."""
    if isinstance(value, bytes):
        return reported_tokens(value)
    usage = getattr(value, "usage", None)
    return usage.total if isinstance(usage, Usage) else None


def _check_hedging_possible(hedge: HedgePolicy, timeouts: TimeoutPolicy) -> None:
    """A hedge policy that can never fire is a configuration error, not silently off."""
    delay, name = (
        (hedge.delay, "delay") if hedge.delay is not None else (hedge.min_delay, "min_delay")
    )
    for limit, field in ((timeouts.first_byte, "first_byte"), (timeouts.total, "total")):
        if limit is not None and delay >= limit:
            raise errors.ConfigurationError(
                f"HedgePolicy.{name} ({delay:g} s) is not below TimeoutPolicy.{field} "
                f"({limit:g} s): an attempt times out before a hedge could start, so hedging "
                f"would never happen; lower the hedge delay or raise the timeout"
            )
