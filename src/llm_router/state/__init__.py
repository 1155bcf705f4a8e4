"""Where rate-limit counters, shared circuits, latency windows and wait queues live.

`MemoryState` keeps everything in this process (the default); `RedisState` keeps it in Redis
so that several router processes share one set of limits and circuits. Both implement
`SharedState`: `acquire` before a call's first attempt (admission on the first route with
room and no earlier waiter ahead, the circuits other processes opened, the shared retry and
hedge budgets, the routes' latency windows) and `settle` after each attempt (real token
usage, released concurrency, provider quotas, circuits this process opened, budget
changes), plus `record_latency` and `leave_queue`. A shared backend may hold a settle, a
sample or a departure back and send it with this process's next round trip: the process
itself always sees its own changes first.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import trio

from llm_router._lazy import lazy_exports
from llm_router.ratelimit import Quota, ScopeLimits

__all__ = [
    "Admission",
    "BudgetChange",
    "LatencyQuery",
    "LatencyView",
    "QueueRequest",
    "MemoryState",
    "RedisState",
    "SharedState",
    "StateStatistics",
]

#: (delta, start level, maximum) of one shared budget.
BudgetChange = tuple[float, float, float]


def apply_budget_change(level: float | None, change: BudgetChange) -> float:
    delta, start, maximum = change
    return min(maximum, max(0.0, (start if level is None else level) + delta))


@dataclass(frozen=True, slots=True)
class LatencyQuery:
    """Which latency windows an `acquire` reads: `keys` (route keys), the `percentiles` wanted
    (0 < p <= 100) and `max_age`, the seconds after which a sample no longer counts."""

    keys: Sequence[str]
    percentiles: Sequence[float]
    max_age: float


@dataclass(frozen=True, slots=True)
class LatencyView:
    """One route's latency window as every user of the state sees it: how many samples it
    holds and the nearest-rank value of each percentile asked for (absent without samples)."""

    count: int
    percentiles: Mapping[float, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class QueueRequest:
    """The wait queue an `acquire` takes part in: no call is admitted while a ticket is ahead
    of it. `holds`: the call's ident already holds a ticket in `key`; `join`: take one at the
    back when not admitted (refused when `max_queue` tickets are waiting). A ticket lives
    `ttl` seconds past its holder's last `acquire`, so a crashed waiter blocks nobody for
    long; an admitted ticket leaves the queue."""

    key: str
    holds: bool = False
    join: bool = True
    max_queue: int = 1000
    ttl: float = 10.0


@dataclass(frozen=True, slots=True)
class Admission:
    """The answer to `acquire`.

    `index`: the first group admitted (its request is now counted), or None when none had
    room. `waits`: per group, seconds until it would have room (0.0 for the admitted one;
    inf while its concurrency is full). `headroom`: per group, the smallest fraction of any
    limit still free (1.0 without limits). `open_circuits`: route key -> seconds its circuit
    stays open, as opened by any user of this state. `budgets`: the shared level of each
    budget asked for that any user has changed (absent: untouched, still at its start).
    """

    index: int | None
    waits: tuple[float, ...]
    headroom: tuple[float, ...]
    open_circuits: Mapping[str, float] = field(default_factory=dict)
    budgets: Mapping[str, float] = field(default_factory=dict)
    #: route key -> its shared latency window, for the keys of `acquire(latency=...)`.
    latencies: Mapping[str, LatencyView] = field(default_factory=dict)
    #: With `acquire(queue=...)`: whether the call holds a ticket now, how many are ahead of
    #: it, and whether joining was refused because the queue is full.
    queued: bool = False
    ahead: int = 0
    queue_full: bool = False


@dataclass(frozen=True, slots=True)
class StateStatistics:
    backend: str
    shared: bool  # False while a shared backend has fallen back to in-process state
    fallbacks: int  # times a shared backend fell back
    round_trips: int  # round trips to the shared backend so far
    scopes: int  # scopes with in-process state
    reconnects: int = 0  # times a shared backend came back after a fallback


class SharedState(abc.ABC):
    """The store behind rate limits and shared circuits (see the module docstring)."""

    @abc.abstractmethod
    def now(self) -> float:
        """The clock every user of this state agrees on (seconds)."""

    @abc.abstractmethod
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
        """Admit `ident` (costing one request and `tokens`) on the first group of scopes where
        every scope has room -- and, with `queue`, no ticket is ahead of it -- and read which
        of `circuits` are open, the levels of `budgets` and the `latency` windows. `lease`:
        seconds after which an unreleased concurrency slot frees itself (a crashed process)."""

    @abc.abstractmethod
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
        """After an attempt: replace the token estimate by `tokens` (None: keep it), free the
        concurrency slot if `release`, record provider `quotas` per scope key, circuits
        `opened` (route key -> seconds open) and `budgets` changes (key -> (delta, start,
        maximum): the level, `start` when untouched, moves by `delta` within [0, maximum])."""

    @abc.abstractmethod
    def record_latency(self, key: str, seconds: float, *, window: int, max_age: float) -> None:
        """Add one time-to-first-byte sample to route `key`'s window (the last `window`
        samples not older than `max_age` seconds). Never waits: a shared backend sends it
        with its next round trip."""

    @abc.abstractmethod
    async def leave_queue(self, key: str, ident: str) -> None:
        """Give up `ident`'s ticket in wait queue `key` (a waiter that stopped waiting)."""

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Background upkeep in the router's nursery (reconnecting), started with
        `nursery.start`; returns at once when none is needed."""
        task_status.started()

    @abc.abstractmethod
    def statistics(self) -> StateStatistics: ...


if TYPE_CHECKING:
    from llm_router.state.memory import MemoryState
    from llm_router.state.redis import RedisState  # needs the `redis` extra at use

# The backends load on first use: a router that keeps its state in memory never imports the
# Redis one (nor its scripts).
__getattr__, __dir__ = lazy_exports(
    __name__,
    {"MemoryState": "llm_router.state.memory", "RedisState": "llm_router.state.redis"},
)
