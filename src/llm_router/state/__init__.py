"""Where rate-limit counters and shared circuit states live: one interface, two backends.

`MemoryState` keeps everything in this process (the default); `RedisState` keeps it in Redis
so that several router processes share one set of limits and circuits. Both implement
`SharedState`; the router talks to it twice per call at most: `acquire` before the first
attempt (admission on the first route with room, the circuits other processes opened, the
shared retry and hedge budgets) and `settle` after each attempt (real token usage, released
concurrency, provider quotas, circuits this process opened, budget changes).
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import trio

from llm_router.ratelimit import Quota, ScopeLimits

__all__ = [
    "Admission",
    "BudgetChange",
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
    ) -> Admission:
        """Admit `ident` (costing one request and `tokens`) on the first group of scopes where
        every scope has room, and read which of `circuits` are open and the levels of
        `budgets`. `lease`: seconds after which an unreleased concurrency slot frees itself
        (a crashed process)."""

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

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Background upkeep in the router's nursery (reconnecting), started with
        `nursery.start`; returns at once when none is needed."""
        task_status.started()

    @abc.abstractmethod
    def statistics(self) -> StateStatistics: ...


from llm_router.state.memory import MemoryState  # noqa: E402
from llm_router.state.redis import RedisState  # noqa: E402  (needs the `redis` extra at use)
