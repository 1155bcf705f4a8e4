"""The seam between the router and the resilience engine: one call's attempts over its routes.

Holds the router-lifetime resilience state (budgets, breakers, latency windows, counters) and
the policies chosen on the builder, and runs each call through `run_with_resilience`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol, TypeVar

from llm_router.resilience import (
    AttemptContext,
    AttemptRecord,
    HedgePolicy,
    Hooks,
    ResilienceState,
    RetryPolicy,
    TimeoutPolicy,
    run_with_resilience,
)
from llm_router.routing import Route

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
    ) -> None:
        self.retry = retry if retry is not None else RetryPolicy()
        self.hedge = hedge
        self.timeouts = timeouts if timeouts is not None else TimeoutPolicy()
        self.state = state if state is not None else ResilienceState(hooks=hooks or Hooks())

    @property
    def connect_timeout(self) -> float | None:
        return self.timeouts.connect

    @property
    def idle_timeout(self) -> float | None:
        return self.timeouts.idle

    async def run_complete(
        self, routes: Sequence[Route], attempt: Callable[[Route], Awaitable[T]], *, label: str = ""
    ) -> tuple[T, Route, tuple[AttemptRecord, ...]]:
        async def run(route: Route, ctx: AttemptContext) -> T:
            return await attempt(route)

        result = await run_with_resilience(
            routes,
            run,
            state=self.state,
            retry=self.retry,
            hedge=self.hedge,
            timeouts=self.timeouts,
            label=label,
        )
        return result.value, result.route, result.attempts

    async def run_stream(
        self, routes: Sequence[Route], attempt: Callable[[Route], Awaitable[S]], *, label: str = ""
    ) -> tuple[S, Route, tuple[AttemptRecord, ...]]:
        """Like `run_complete`; an attempt answers with its first event, and answers that lose
        the race (or are orphaned by cancellation) are closed."""

        async def run(route: Route, ctx: AttemptContext) -> S:
            return await attempt(route)

        async def release(value: S) -> None:
            await value.aclose()

        result = await run_with_resilience(
            routes,
            run,
            state=self.state,
            retry=self.retry,
            hedge=self.hedge,
            timeouts=self.timeouts,
            release=release,
            label=label,
        )
        return result.value, result.route, result.attempts

    def statistics(self) -> dict[str, Any]:
        return self.state.statistics().as_dict()
