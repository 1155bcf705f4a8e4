"""The per-route circuit breaker: closed -> open -> half-open -> closed (or open again).

A state machine driven by attempt outcomes and by the caller's `now`; it never reads a
clock. The timed transition (open -> half-open after the cooldown) happens when the breaker
is next looked at.

Every attempt holds a `Permit` from `try_acquire`. Permits carry the breaker's generation,
bumped on every transition, so an attempt that started before the circuit opened cannot
close it again by finishing late; only the half-open probe's outcome decides what follows.
An attempt that ends without a verdict (cancelled, or failed through the caller's fault)
hands its permit back with `release`, which frees the probe slot.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

from llm_router.resilience.policy import BreakerPolicy

__all__ = ["BreakerState", "CircuitBreaker", "Permit"]


class BreakerState(enum.StrEnum):
    CLOSED = "closed"  # traffic flows; outcomes are counted
    OPEN = "open"  # the route is skipped until the cooldown ends
    HALF_OPEN = "half_open"  # one probe may go through


@dataclass(frozen=True, slots=True)
class Permit:
    """Leave to send one attempt; hand it back through exactly one of the record/release calls."""

    generation: int
    probe: bool


class _RollingCounts:
    """Successes and failures over the last `window` seconds, in ten buckets (bounded memory)."""

    _BUCKETS = 10

    __slots__ = ("_epochs", "_failures", "_successes", "_width")

    def __init__(self, window: float) -> None:
        self._width = window / self._BUCKETS
        self._epochs: list[int | None] = [None] * self._BUCKETS
        self._successes = [0] * self._BUCKETS
        self._failures = [0] * self._BUCKETS

    def add(self, now: float, *, failed: bool) -> None:
        epoch = math.floor(now / self._width)
        slot = epoch % self._BUCKETS
        if self._epochs[slot] != epoch:
            self._epochs[slot], self._successes[slot], self._failures[slot] = epoch, 0, 0
        if failed:
            self._failures[slot] += 1
        else:
            self._successes[slot] += 1

    def totals(self, now: float) -> tuple[int, int]:
        """(attempts, failures) within the window ending at `now`."""
        oldest = math.floor(now / self._width) - self._BUCKETS + 1
        attempts = failures = 0
        for epoch, ok, bad in zip(self._epochs, self._successes, self._failures, strict=True):
            if epoch is not None and epoch >= oldest:
                attempts += ok + bad
                failures += bad
        return attempts, failures

    def clear(self) -> None:
        self._epochs = [None] * self._BUCKETS


class CircuitBreaker:
    """Decides whether a route may receive attempts, from how its recent attempts ended."""

    __slots__ = (
        "_consecutive",
        "_counts",
        "_generation",
        "_opened_at",
        "_probe_out",
        "_state",
        "policy",
        "times_opened",
    )

    def __init__(self, policy: BreakerPolicy | None = None) -> None:
        self.policy = policy or BreakerPolicy()
        self._state = BreakerState.CLOSED
        self._generation = 0
        self._consecutive = 0
        self._counts = _RollingCounts(self.policy.window)
        self._opened_at = -math.inf
        self._probe_out = False
        self.times_opened = 0

    def state(self, now: float) -> BreakerState:
        """The state at `now` (an open circuit whose cooldown ended reads as half-open)."""
        if self._state is BreakerState.OPEN and now >= self._opened_at + self.policy.cooldown:
            self._transition(BreakerState.HALF_OPEN)
        return self._state

    def allows(self, now: float) -> bool:
        """Whether `try_acquire(now)` would succeed; takes nothing."""
        state = self.state(now)
        return state is BreakerState.CLOSED or (
            state is BreakerState.HALF_OPEN and not self._probe_out
        )

    def try_acquire(self, now: float) -> Permit | None:
        """A permit for one attempt, or None while open (or while the probe is out)."""
        if not self.allows(now):
            return None
        probe = self._state is BreakerState.HALF_OPEN
        self._probe_out = self._probe_out or probe
        return Permit(self._generation, probe)

    def reopens_in(self, now: float) -> float:
        """Seconds until a probe may go through (0.0 when attempts are allowed now)."""
        if self.allows(now):
            return 0.0
        if self._state is BreakerState.OPEN:
            return self._opened_at + self.policy.cooldown - now
        return 0.0  # half-open with the probe out: it is up to the probe

    @property
    def consecutive_failures(self) -> int:
        return self._consecutive

    def record_success(self, permit: Permit, now: float) -> None:
        if permit.generation != self._generation:
            return
        if permit.probe:
            self._transition(BreakerState.CLOSED)
            return
        self._consecutive = 0
        self._counts.add(now, failed=False)

    def record_failure(self, permit: Permit, now: float) -> None:
        if permit.generation != self._generation:
            return
        if permit.probe:
            self._open(now)
            return
        self._consecutive += 1
        self._counts.add(now, failed=True)
        attempts, failures = self._counts.totals(now)
        policy = self.policy
        if self._consecutive >= policy.consecutive_failures or (
            attempts >= policy.min_requests and failures >= policy.failure_rate * attempts
        ):
            self._open(now)

    def open_for(self, now: float, seconds: float) -> None:
        """Hold the circuit open until ``now + seconds``: another router sharing this route's
        state opened it. Not counted in `times_opened` (this breaker saw no failures)."""
        until = now + seconds
        if self._state is BreakerState.OPEN and self._opened_at + self.policy.cooldown >= until:
            return
        self._opened_at = until - self.policy.cooldown
        if self._state is not BreakerState.OPEN:
            self._transition(BreakerState.OPEN)

    def open_remaining(self, now: float) -> float:
        """Seconds the circuit stays open (0.0 when it is not open)."""
        if self.state(now) is not BreakerState.OPEN:
            return 0.0
        return self._opened_at + self.policy.cooldown - now

    def release(self, permit: Permit) -> None:
        """The attempt ended without saying anything about the route's health."""
        if permit.probe and permit.generation == self._generation:
            self._probe_out = False

    def _open(self, now: float) -> None:
        self._opened_at = now
        self.times_opened += 1
        self._transition(BreakerState.OPEN)

    def _transition(self, state: BreakerState) -> None:
        self._state = state
        self._generation += 1
        self._probe_out = False
        if state is BreakerState.CLOSED:
            self._consecutive = 0
            self._counts.clear()

    def __repr__(self) -> str:
        return f"CircuitBreaker({self._state.value}, consecutive_failures={self._consecutive})"
