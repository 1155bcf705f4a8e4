"""The Trio half of rate limiting: which scopes a call falls under, admission, fair waiting.

Decisions come from `llm_router.ratelimit` through a `SharedState` (in process or on Redis);
this module picks the scopes (route, model, caller key), admits a call on the first of its
routes with room -- a route at its limit is skipped for the next before anyone waits --
queues it first come, first served when none has room, and feeds provider rate-limit headers
back into the state.

The wait queue lives in the state too (tickets numbered on arrival), so with a shared state
waiters of every process are admitted in the order they arrived, not just those of one
process. A waiter with a ticket ahead of it wakes when a waiter of its own process moves on,
or polls (`QUEUE_POLL` per ticket ahead, at most `QUEUE_POLL_MAX`) for the other processes;
the first in line sleeps exactly until its limit has room. A waiter that gives up leaves the
queue; one that crashed is dropped `TICKET_TTL` seconds after its last look.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import trio

from llm_router import errors
from llm_router.ratelimit import Quota, RateLimitPolicy, Scope, ScopeLimits, parse_quota_headers
from llm_router.resilience.backoff import parse_retry_after
from llm_router.routing import Route
from llm_router.state import (
    Admission,
    BudgetChange,
    LatencyQuery,
    LatencyView,
    QueueRequest,
    SharedState,
)

__all__ = ["Demand", "Grant", "LimitRule", "Limiter"]

#: Statuses that mean "overloaded, come back later" (Anthropic's 529 included).
_COME_BACK_STATUSES = frozenset({429, 503, 529})

#: How often a call waiting for a concurrency slot held by another process looks again.
CONCURRENCY_POLL = 0.25
#: How often a waiter with tickets ahead of it looks again, per ticket ahead (and at most).
QUEUE_POLL = 0.02
QUEUE_POLL_MAX = 1.0
#: A ticket not renewed for this long (its holder crashed) no longer holds anyone up.
TICKET_TTL = 10.0


@dataclass(frozen=True, slots=True)
class LimitRule:
    """`policy` applied per `scope`; `match` restricts it to one route (its key or provider
    alias), one model, or one caller key. None: every route, model or key gets its own."""

    policy: RateLimitPolicy
    scope: Scope
    match: str | None = None


@dataclass(frozen=True, slots=True)
class Demand:
    """What one call asks of the limits: its model, its caller's key, its estimated tokens."""

    model: str
    caller: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens


@dataclass(slots=True)
class Grant:
    """An admitted attempt: settle it exactly once."""

    ident: str
    route: str
    scopes: tuple[ScopeLimits, ...]
    settled: bool = False
    budgets: dict[str, BudgetChange] = field(default_factory=dict)  # sent when settled

    def change_budget(self, key: str, delta: float, start: float, maximum: float) -> None:
        known = self.budgets.get(key)
        self.budgets[key] = (delta + (0.0 if known is None else known[0]), start, maximum)


def _queue_key(routes: Sequence[Route], demand: Demand) -> str:
    # One queue per (routes, model, caller); a digest, as the caller may be an API key.
    parts = "\0".join((*(route.key for route in routes), demand.model, demand.caller or ""))
    return hashlib.sha256(parts.encode()).hexdigest()[:24]


def _caller_scope(caller: str) -> str:
    # Caller keys may be API keys: only a digest is ever stored or shown.
    return "key:" + hashlib.sha256(caller.encode()).hexdigest()[:16]


class Limiter:
    """Admission control for one router over `state`."""

    def __init__(
        self,
        rules: Sequence[LimitRule],
        state: SharedState,
        *,
        lease: float = 600.0,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.rules = tuple(rules)
        self.state = state
        self.lease = lease
        self._wall_clock = wall_clock
        self._ids = itertools.count(1)
        self._process = os.urandom(4).hex()
        self._released = trio.Event()  # a slot was released here, or a waiter moved on
        self._quotas: dict[str, Quota] = {}
        self.headroom: dict[str, float] = {}  # route key -> free fraction at its last admission
        self.open_circuits: dict[str, float] = {}  # from the last admission
        self.budgets: dict[str, float] = {}  # shared budget levels, from the last admission
        #: With `latency` set, each admission reads the call's routes' latency windows.
        self.latency: LatencyQuery | None = None
        self.latencies: dict[str, LatencyView] = {}  # from the last admission

    # -- scopes ------------------------------------------------------------------------------
    def _rules_for(self, route: Route, demand: Demand) -> list[tuple[ScopeLimits, RateLimitPolicy]]:
        out: list[tuple[ScopeLimits, RateLimitPolicy]] = []
        for rule in self.rules:
            if rule.scope == "route":
                if rule.match is None or rule.match in (route.key, route.alias):
                    out.append((ScopeLimits.of("route:" + route.key, rule.policy), rule.policy))
            elif rule.scope == "model":
                names = (demand.model, route.catalog_model)
                if rule.match is None or rule.match in names:
                    out.append((ScopeLimits.of("model:" + demand.model, rule.policy), rule.policy))
            elif demand.caller is not None and (rule.match is None or rule.match == demand.caller):
                key = _caller_scope(demand.caller)
                out.append((ScopeLimits.of(key, rule.policy), rule.policy))
        keys = {limits.key for limits, _ in out}
        if "route:" + route.key not in keys:
            # The route's own scope always exists: provider quotas are recorded there.
            out.append((ScopeLimits("route:" + route.key, None, None, None, 60.0), _NO_POLICY))
        return out

    def scopes(self, route: Route, demand: Demand) -> tuple[ScopeLimits, ...]:
        return tuple(limits for limits, _ in self._rules_for(route, demand))

    def _ident(self) -> str:
        return f"{self._process}:{next(self._ids)}"

    # -- admission ---------------------------------------------------------------------------
    async def admit_call(
        self,
        routes: Sequence[Route],
        demand: Demand,
        *,
        deadline: float,
        circuits: Sequence[str] = (),
        budgets: Sequence[str] = (),
    ) -> tuple[int, Grant]:
        """Admit the call on the first route with room, waiting in line if none has any.

        Returns the index of the admitted route and its grant. Raises `RateLimitError` (with
        `retry_after`) when a limit says "fail", the queue is full, or the wait would pass
        `deadline` (Trio time).
        """
        rules = [self._rules_for(route, demand) for route in routes]
        groups = [tuple(limits for limits, _ in scoped) for scoped in rules]
        policies = [policy for scoped in rules for _, policy in scoped if policy is not _NO_POLICY]
        ident = self._ident()
        queue = None
        if policies:
            queue = QueueRequest(
                _queue_key(routes, demand),
                join=not any(policy.on_limit == "fail" for policy in policies),
                max_queue=min(policy.max_queue for policy in policies),
                ttl=TICKET_TTL,
            )
        admission = await self._acquire(
            groups, ident, demand.tokens, circuits, routes, budgets, queue
        )
        holds = admission.queued
        try:
            while admission.index is None:
                assert queue is not None  # without limits every call is admitted
                if admission.queue_full:
                    raise self._error(routes, math.inf, "the wait queue is full")
                wait = self._refuse_or_queue(admission, rules, routes, deadline)
                now = trio.current_time()
                if now >= deadline:  # a concurrency slot did not free in time
                    raise self._error(routes, wait, "no slot freed before the deadline")
                if admission.ahead:  # others are first: look again when one of them moves on
                    wake = now + min(QUEUE_POLL_MAX, QUEUE_POLL * admission.ahead)
                else:
                    wake = now + (CONCURRENCY_POLL if math.isinf(wait) else wait)
                with trio.move_on_at(min(wake, deadline)):
                    await self._released.wait()
                queue = dataclasses.replace(queue, holds=holds, join=True)
                admission = await self._acquire(
                    groups, ident, demand.tokens, circuits, routes, budgets, queue
                )
                holds = admission.queued
            if queue is not None and queue.holds:
                self._wake()  # the next in line of this process is first now
            index = admission.index
            return index, Grant(ident, routes[index].key, groups[index])
        finally:
            if holds and queue is not None:
                with trio.CancelScope(shield=True):
                    await self.state.leave_queue(queue.key, ident)
                self._wake()

    def _wake(self) -> None:
        self._released.set()
        self._released = trio.Event()

    def _refuse_or_queue(
        self,
        admission: Admission,
        rules: Sequence[Sequence[tuple[ScopeLimits, RateLimitPolicy]]],
        routes: Sequence[Route],
        deadline: float,
    ) -> float:
        """The wait ahead, or the RateLimitError that ends the call now."""
        best = min(range(len(routes)), key=lambda i: admission.waits[i])
        wait = admission.waits[best]
        if any(policy.on_limit == "fail" for scoped in rules for _, policy in scoped):
            raise self._error(routes, wait, "the rate limit is reached")
        if not math.isinf(wait) and trio.current_time() + wait > deadline:
            raise self._error(routes, wait, "waiting for the rate limit would pass the deadline")
        return wait

    def _error(self, routes: Sequence[Route], wait: float, why: str) -> errors.RateLimitError:
        names = ", ".join(route.key for route in routes)
        retry_after = None if math.isinf(wait) else round(wait, 3)
        hint = "" if retry_after is None else f"; retry in {retry_after:g} s"
        return errors.LocalRateLimitError(
            f"{why} for {names}{hint}", retry_after=retry_after, provider=routes[0].alias
        )

    async def admit_attempt(self, route: Route, demand: Demand) -> Grant:
        """Admit a retry, failover or hedge on `route` without waiting, or raise
        `LocalRateLimitError` (not held against the route's health)."""
        group = self.scopes(route, demand)
        ident = self._ident()
        admission = await self._acquire([group], ident, demand.tokens, (), [route])
        if admission.index is None:
            raise self._error([route], admission.waits[0], "the rate limit is reached")
        return Grant(ident, route.key, group)

    async def _acquire(
        self,
        groups: Sequence[Sequence[ScopeLimits]],
        ident: str,
        tokens: int,
        circuits: Sequence[str],
        routes: Sequence[Route],
        budgets: Sequence[str] = (),
        queue: QueueRequest | None = None,
    ) -> Admission:
        latency = self.latency
        if latency is not None:
            latency = dataclasses.replace(latency, keys=[route.key for route in routes])
        admission = await self.state.acquire(
            groups,
            ident,
            tokens,
            lease=self.lease,
            circuits=circuits,
            budgets=budgets,
            latency=latency,
            queue=queue,
        )
        self.latencies.update(admission.latencies)
        self.budgets = dict(admission.budgets)
        for route, free in zip(routes, admission.headroom, strict=False):
            self.headroom[route.key] = free
        self.open_circuits = dict(admission.open_circuits)
        return admission

    # -- after an attempt --------------------------------------------------------------------
    def observe(
        self, route: Route, headers: Mapping[str, str], retry_after: float | None = None
    ) -> None:
        """Note the quota a provider announced in its headers (sent with the next settle)."""
        quota = parse_quota_headers(
            headers, now=self.state.now(), wall_now=self._wall_clock(), retry_after=retry_after
        )
        if quota is not None:
            key = "route:" + route.key
            known = self._quotas.get(key)
            if known is None:
                self._quotas[key] = quota
            else:
                known.merge(quota)

    def observe_error(self, route: Route, error: errors.ProviderError) -> None:
        """Note a refusal's quota headers and the wait it asked for.

        A 503 or 529 (overloaded, Bedrock's ServiceUnavailableException) asking to come back
        later holds the route exactly as a 429's ``retry-after`` / ``retry-after-ms`` does.
        """
        wait = error.retry_after if isinstance(error, errors.RateLimitError) else None
        if wait is None and _asks_to_come_back(error):
            wait = parse_retry_after(error.headers, wall_now=self._wall_clock())
        self.observe(route, error.headers, wait)

    async def settle(
        self,
        grant: Grant,
        *,
        tokens: int | None,
        release: bool = True,
        opened: Mapping[str, float] | None = None,
    ) -> None:
        """Correct the token estimate and free the concurrency slot; never cancelled halfway."""
        if grant.settled:
            return
        grant.settled = True
        quotas, self._quotas = self._quotas, {}
        with trio.CancelScope(shield=True):
            await self.state.settle(
                grant.scopes,
                grant.ident,
                tokens=tokens,
                release=release,
                quotas=quotas,
                opened=opened,
                budgets=grant.budgets,
            )
        self._wake()

    async def publish(self, opened: Mapping[str, float]) -> None:
        """Tell the other users of the state about circuits this process opened."""
        quotas, self._quotas = self._quotas, {}
        with trio.CancelScope(shield=True):
            await self.state.settle(
                (), "", tokens=None, release=False, quotas=quotas, opened=opened
            )


_NO_POLICY = RateLimitPolicy(max_concurrency=1 << 30)


def _asks_to_come_back(error: errors.ProviderError) -> bool:
    overloaded = isinstance(error, errors.RateLimitError | errors.OverloadedError)
    return overloaded or error.status in _COME_BACK_STATUSES
