"""The seam between the router and the resilience engine: run one call's attempts over routes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol, TypeVar

from llm_router import errors
from llm_router.routing import Route

__all__ = ["Executor"]

T = TypeVar("T")


class _Closable(Protocol):
    async def aclose(self) -> None: ...


S = TypeVar("S", bound=_Closable)


class Executor:
    """Tries routes in order, failing over on errors a retry could fix."""

    connect_timeout = 10.0
    idle_timeout = 300.0

    def __init__(self, *, retry: object = None, hedge: object = None, timeouts: object = None, hooks: object = None) -> None:
        self._retry, self._hedge, self._timeouts, self._hooks = retry, hedge, timeouts, hooks

    async def run_complete(self, routes: Sequence[Route], attempt: Callable[[Route], Awaitable[T]]) -> tuple[T, Route, tuple[Any, ...]]:
        last: BaseException | None = None
        for route in routes:
            try:
                return await attempt(route), route, ()
            except (errors.ProviderError, errors.NoRouteError) as exc:
                last = exc
        assert last is not None
        raise last

    async def run_stream(self, routes: Sequence[Route], attempt: Callable[[Route], Awaitable[S]]) -> tuple[S, Route, tuple[Any, ...]]:
        return await self.run_complete(routes, attempt)

    def statistics(self) -> dict[str, Any]:
        return {}
