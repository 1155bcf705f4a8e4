"""In-process state: rate-limit logs, opened circuits, latency windows and wait queues in
dictionaries of this process."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence

import trio

from llm_router.ratelimit import Quota, ScopeLimits, ScopeState
from llm_router.resilience.latency import LatencyTracker
from llm_router.state import (
    Admission,
    BudgetChange,
    LatencyQuery,
    LatencyView,
    QueueRequest,
    SharedState,
    StateStatistics,
    apply_budget_change,
)

__all__ = ["MemoryState"]


class MemoryState(SharedState):
    """Everything in this process. `clock` defaults to Trio's (so `MockClock` drives it)."""

    def __init__(self, clock: Callable[[], float] | None = None) -> None:
        self._clock = clock
        self._scopes: dict[str, ScopeState] = {}
        self._circuits: dict[str, float] = {}  # route key -> open until (on `now`)
        self._budgets: dict[str, float] = {}
        self._latencies: dict[str, LatencyTracker] = {}
        # queue key -> ticket -> (number, expiry); dicts keep insertion (= number) order
        self._queues: dict[str, dict[str, tuple[int, float]]] = {}
        self._tickets = itertools.count(1)

    def now(self) -> float:
        return self._clock() if self._clock is not None else trio.current_time()

    def _scope(self, limits: ScopeLimits) -> ScopeState:
        state = self._scopes.get(limits.key)
        if state is None:
            state = self._scopes[limits.key] = ScopeState(limits.period)
        return state

    def acquire_nowait(
        self,
        groups: Sequence[Sequence[ScopeLimits]],
        ident: str,
        tokens: int,
        *,
        lease: float,
        circuits: Sequence[str] = (),
        budgets: Sequence[str] = (),
        latency: LatencyQuery | None = None,
        queue: QueueRequest | None = None,
        now: float | None = None,
    ) -> Admission:
        now = self.now() if now is None else now
        waits: list[float] = []
        headroom: list[float] = []
        index: int | None = None
        tickets: dict[str, tuple[int, float]] = {}
        ahead = 0
        join = False
        if queue is not None:
            tickets = self._queues.setdefault(queue.key, {})
            for dead in [t for t, (_, expiry) in tickets.items() if expiry <= now]:
                del tickets[dead]
            ahead = len(tickets)
            join = queue.join
            held = tickets.get(ident) if queue.holds else None
            if held is not None:
                ahead = list(tickets).index(ident)
                tickets[ident] = (held[0], now + queue.ttl)
            elif queue.holds:  # expired while its holder was away: it joins again at the back
                join = True
        for number, group in enumerate(groups):
            wait = 0.0
            for limits in group:
                wait = max(wait, self._scope(limits).wait_for(limits, tokens, now))
            if wait == 0.0 and index is None and ahead == 0:
                index = number
                for limits in group:
                    self._scope(limits).admit(limits, ident, tokens, now, lease)
            waits.append(wait)
            headroom.append(min((self._headroom(limits) for limits in group), default=1.0))
        open_circuits = {}
        for key in circuits:
            until = self._circuits.get(key)
            if until is not None:
                if until > now:
                    open_circuits[key] = until - now
                else:
                    del self._circuits[key]
        levels = {key: self._budgets[key] for key in budgets if key in self._budgets}
        queued = full = False
        if queue is not None:
            if index is not None:
                tickets.pop(ident, None)
            elif ident in tickets:
                queued = True
            elif join:
                if len(tickets) < queue.max_queue:
                    tickets[ident] = (next(self._tickets), now + queue.ttl)
                    queued = True
                    ahead = len(tickets) - 1
                else:
                    full = True
            if not tickets:
                del self._queues[queue.key]
        views = {}
        if latency is not None:
            for key in latency.keys:
                tracker = self._latencies.get(key)
                if tracker is None:
                    views[key] = LatencyView(0)
                    continue
                tracker.max_age = latency.max_age
                found = {p: tracker.percentile(p, now) for p in latency.percentiles}
                views[key] = LatencyView(
                    tracker.count(now), {p: v for p, v in found.items() if v is not None}
                )
        return Admission(
            index,
            tuple(waits),
            tuple(headroom),
            open_circuits,
            levels,
            views,
            queued,
            ahead,
            full,
        )

    def _headroom(self, limits: ScopeLimits) -> float:
        state = self._scopes.get(limits.key)
        if state is None:
            return 1.0
        free = 1.0
        if limits.rpm is not None:
            free = min(free, 1.0 - len(state.requests) / limits.rpm)
        if limits.tpm is not None:
            free = min(free, 1.0 - state.tokens.total / limits.tpm)
        if limits.max_concurrency is not None:
            free = min(free, 1.0 - len(state.leases) / limits.max_concurrency)
        return max(0.0, free)

    async def acquire(
        self,
        groups: Sequence[Sequence[ScopeLimits]],
        ident: str,
        tokens: int,
        *,
        lease: float,
        circuits: Sequence[str] = (),
        budgets: Sequence[str] = (),
        latency: LatencyQuery | None = None,
        queue: QueueRequest | None = None,
    ) -> Admission:
        await trio.lowlevel.checkpoint()
        return self.acquire_nowait(
            groups,
            ident,
            tokens,
            lease=lease,
            circuits=circuits,
            budgets=budgets,
            latency=latency,
            queue=queue,
        )

    def record_latency(
        self, key: str, seconds: float, *, window: int, max_age: float, at: float | None = None
    ) -> None:
        tracker = self._latencies.get(key)
        if tracker is None:
            tracker = self._latencies[key] = LatencyTracker(window=window, max_age=max_age)
        tracker.window, tracker.max_age = window, max_age
        tracker.record(seconds, self.now() if at is None else at)

    def leave_queue_nowait(self, key: str, ident: str) -> None:
        tickets = self._queues.get(key)
        if tickets is not None:
            tickets.pop(ident, None)
            if not tickets:
                del self._queues[key]

    async def leave_queue(self, key: str, ident: str) -> None:
        await trio.lowlevel.checkpoint()
        self.leave_queue_nowait(key, ident)

    def settle_nowait(
        self,
        scopes: Sequence[ScopeLimits],
        ident: str,
        *,
        tokens: int | None,
        release: bool,
        quotas: Mapping[str, Quota] | None = None,
        opened: Mapping[str, float] | None = None,
        budgets: Mapping[str, BudgetChange] | None = None,
        now: float | None = None,
    ) -> None:
        now = self.now() if now is None else now
        for limits in scopes:
            state = self._scopes.get(limits.key)
            if state is not None:
                state.settle(ident, None if limits.tpm is None else tokens, release=release)
        for key, quota in (quotas or {}).items():
            self._scope(ScopeLimits(key, None, None, None, 60.0)).quota.merge(quota)
        for key, seconds in (opened or {}).items():
            until = now + seconds
            if until > self._circuits.get(key, -math.inf):
                self._circuits[key] = until
        for key, change in (budgets or {}).items():
            self._budgets[key] = apply_budget_change(self._budgets.get(key), change)

    async def settle(
        self,
        scopes: Sequence[ScopeLimits],
        ident: str,
        *,
        tokens: int | None,
        release: bool,
        quotas: Mapping[str, Quota] | None = None,
        opened: Mapping[str, float] | None = None,
        budgets: Mapping[str, BudgetChange] | None = None,
    ) -> None:
        await trio.lowlevel.checkpoint()
        self.settle_nowait(
            scopes,
            ident,
            tokens=tokens,
            release=release,
            quotas=quotas,
            opened=opened,
            budgets=budgets,
        )

    def statistics(self) -> StateStatistics:
        return StateStatistics(
            backend="memory", shared=False, fallbacks=0, round_trips=0, scopes=len(self._scopes)
        )
