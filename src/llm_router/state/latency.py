"""A route's latency window kept in the shared state, so every process steers by it.

`SharedLatencyTracker` is the `LatencyTracker` the resilience engine records into when the
router has a shared state: each sample goes to the state as well (sent with the next round
trip), and the counts and percentiles it answers are the shared window's, as read by this
process's latest admission -- one slow answer seen by any process moves every process's
`latency` strategy and adaptive hedge delay. Before its first admission, and for a
percentile the admission did not read, it answers from this process's own samples.
"""

from __future__ import annotations

from llm_router.resilience.latency import LatencyTracker
from llm_router.state import LatencyView, SharedState

__all__ = ["SharedLatencyTracker"]


class SharedLatencyTracker(LatencyTracker):
    __slots__ = ("_state", "_view", "key")

    def __init__(self, key: str, state: SharedState, *, window: int, max_age: float) -> None:
        super().__init__(window=window, max_age=max_age)
        self.key = key
        self._state = state
        self._view: LatencyView | None = None

    def record(self, seconds: float, now: float) -> None:
        super().record(seconds, now)
        self._state.record_latency(self.key, seconds, window=self.window, max_age=self.max_age)

    def adopt(self, view: LatencyView) -> None:
        """The shared window as an admission read it."""
        self._view = view

    def count(self, now: float) -> int:
        local = super().count(now)
        return local if self._view is None else max(self._view.count, local)

    def percentile(self, p: float, now: float) -> float | None:
        view = self._view
        if view is not None and p in view.percentiles:
            return view.percentiles[p]
        return super().percentile(p, now)
