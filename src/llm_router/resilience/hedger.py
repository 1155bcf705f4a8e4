"""One task that keeps every hedged call's hedge timer, and the nursery hedge races run in.

A hedged call runs its first attempt in its own task, as an unhedged call does, and arms a
timer here for its hedge delay instead of opening a nursery, a task per attempt and a timer
scope of its own: most calls answer before the delay and never need more. When a delay
passes, the call's callback runs in this task and may start the race (the hedge attempt and
whatever follows it) in this task's nursery. The hedger runs in the router's nursery, so no
attempt outlives the router.

Timers sit in a heap of ``(time, token)``; disarming forgets the token and leaves the entry
to be skipped when it comes up (or dropped by a compaction when most of the heap is stale).
The task sleeps in one cancel scope whose deadline is the earliest entry's time; arming an
earlier timer moves that deadline, the only cross-task touch.
"""

from __future__ import annotations

import heapq
import logging
import math
from collections.abc import Awaitable, Callable
from typing import Any

import trio

from llm_router._concurrency import open_nursery

__all__ = ["Hedger"]

logger = logging.getLogger("llm_router.resilience")

#: Stale heap entries tolerated beyond twice the armed timers before a compaction.
_SLACK = 64


class Hedger:
    """Hedge timers and the hedge races they start; `run` it in a nursery someone owns."""

    __slots__ = ("_due", "_heap", "_next_token", "_nursery", "_sleep", "_wake_at", "races")

    def __init__(self) -> None:
        self._heap: list[tuple[float, int]] = []
        self._due: dict[int, Callable[[], None]] = {}
        self._next_token = 0
        self._nursery: trio.Nursery | None = None
        self._sleep: trio.CancelScope | None = None
        self._wake_at = math.inf
        self.races = 0  # started over the hedger's lifetime

    @property
    def running(self) -> bool:
        """Whether `run` is serving (a call may arm timers and start races)."""
        return self._nursery is not None

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Serve until cancelled; leaving cancels the races still running and waits for them."""
        if self._nursery is not None:
            raise RuntimeError("this hedger is already running")
        self._heap.clear()
        self._due.clear()
        try:
            async with open_nursery() as nursery:
                self._nursery = nursery
                task_status.started()
                await self._serve()
        finally:
            self._nursery = self._sleep = None
            self._wake_at = math.inf
            self._heap.clear()
            self._due.clear()

    def arm(self, at: float, due: Callable[[], None]) -> int:
        """Call `due()` in the hedger's task once Trio time `at` has come, unless `disarm`
        is called first with the token returned. `due` must not block (it may start a race)."""
        self._next_token += 1
        token = self._next_token
        heap = self._heap
        self._due[token] = due
        heapq.heappush(heap, (at, token))
        if at < self._wake_at:
            self._wake_at = at
            if self._sleep is not None:
                self._sleep.deadline = at
        elif len(heap) > 2 * len(self._due) + _SLACK:
            self._compact()
        return token

    def disarm(self, token: int) -> None:
        """Forget the timer `token` (a no-op once it has fired)."""
        due = self._due
        if due.pop(token, None) is None:
            return
        heap = self._heap
        # Calls mostly end in the order they started: drop the stale front while it is cheap.
        while heap and heap[0][1] not in due:
            heapq.heappop(heap)

    def start_soon(self, race: Callable[..., Awaitable[Any]], *args: object, name: str) -> None:
        """Start a hedge race (from a `due` callback) in the hedger's nursery."""
        assert self._nursery is not None, "a race starts from a timer, while the hedger runs"
        self.races += 1
        self._nursery.start_soon(race, *args, name=name)

    def statistics(self) -> dict[str, int]:
        """Timers armed, races running now, and races started since it was created."""
        running = 0 if self._nursery is None else len(self._nursery.child_tasks)
        return {"armed": len(self._due), "racing": running, "races": self.races}

    async def _serve(self) -> None:
        heap, due = self._heap, self._due
        while True:
            self._wake_at = heap[0][0] if heap else math.inf
            with trio.CancelScope(deadline=self._wake_at) as sleep:
                self._sleep = sleep
                await trio.sleep_forever()
            self._sleep = None
            now = trio.current_time()
            while heap and heap[0][0] <= now:
                callback = due.pop(heapq.heappop(heap)[1], None)
                if callback is None:
                    continue
                try:
                    callback()
                except Exception:  # a bug in one call must not stop every call's timers
                    logger.exception("a hedge timer's callback failed")

    def _compact(self) -> None:
        due = self._due
        self._heap[:] = [entry for entry in self._heap if entry[1] in due]
        heapq.heapify(self._heap)
