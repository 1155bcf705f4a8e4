"""The circuit breaker state machine: closed -> open -> half-open -> closed or open."""

from __future__ import annotations

from llm_router.resilience import BreakerPolicy, BreakerState, CircuitBreaker


def fail(breaker: CircuitBreaker, now: float, times: int = 1) -> None:
    for _ in range(times):
        permit = breaker.try_acquire(now)
        assert permit is not None
        breaker.record_failure(permit, now)


def succeed(breaker: CircuitBreaker, now: float, times: int = 1) -> None:
    for _ in range(times):
        permit = breaker.try_acquire(now)
        assert permit is not None
        breaker.record_success(permit, now)


def test_opens_after_consecutive_failures_and_a_success_resets_the_run() -> None:
    breaker = CircuitBreaker(BreakerPolicy(consecutive_failures=3, min_requests=100))
    fail(breaker, 0.0, 2)
    succeed(breaker, 0.0)
    fail(breaker, 0.0, 2)
    assert breaker.state(0.0) is BreakerState.CLOSED
    fail(breaker, 0.0)
    assert breaker.state(0.0) is BreakerState.OPEN
    assert breaker.try_acquire(0.0) is None
    assert breaker.times_opened == 1


def test_opens_on_failure_rate_once_enough_requests_were_seen() -> None:
    policy = BreakerPolicy(consecutive_failures=100, failure_rate=0.5, min_requests=10, window=10)
    breaker = CircuitBreaker(policy)
    for _ in range(4):  # alternate: 50% failures, never two in a row
        succeed(breaker, 1.0)
        fail(breaker, 1.0)
    assert breaker.state(1.0) is BreakerState.CLOSED  # 8 requests: below min_requests
    succeed(breaker, 1.0)
    fail(breaker, 1.0)
    assert breaker.state(1.0) is BreakerState.OPEN  # 10 requests, 5 failed


def test_failure_rate_only_counts_the_window() -> None:
    policy = BreakerPolicy(consecutive_failures=100, failure_rate=0.5, min_requests=4, window=10)
    breaker = CircuitBreaker(policy)
    fail(breaker, 0.0, 3)
    succeed(breaker, 0.0)
    # Twenty seconds later the old failures are gone: one more failure of two is not enough.
    succeed(breaker, 20.0, 3)
    fail(breaker, 20.0)
    assert breaker.state(20.0) is BreakerState.CLOSED


def test_cooldown_then_exactly_one_probe() -> None:
    breaker = CircuitBreaker(BreakerPolicy(consecutive_failures=1, cooldown=30))
    fail(breaker, 0.0)
    assert not breaker.allows(29.9)
    assert breaker.reopens_in(10.0) == 20.0
    assert breaker.state(30.0) is BreakerState.HALF_OPEN
    probe = breaker.try_acquire(30.0)
    assert probe is not None and probe.probe
    assert breaker.try_acquire(30.0) is None  # only one probe at a time
    assert not breaker.allows(31.0)
    breaker.record_success(probe, 31.0)
    assert breaker.state(31.0) is BreakerState.CLOSED
    assert breaker.consecutive_failures == 0


def test_failed_probe_reopens_for_a_new_cooldown() -> None:
    breaker = CircuitBreaker(BreakerPolicy(consecutive_failures=1, cooldown=30))
    fail(breaker, 0.0)
    probe = breaker.try_acquire(30.0)
    assert probe is not None
    breaker.record_failure(probe, 32.0)
    assert breaker.state(32.0) is BreakerState.OPEN
    assert breaker.state(61.0) is BreakerState.OPEN
    assert breaker.state(62.0) is BreakerState.HALF_OPEN
    assert breaker.times_opened == 2


def test_released_probe_frees_the_slot() -> None:
    breaker = CircuitBreaker(BreakerPolicy(consecutive_failures=1, cooldown=5))
    fail(breaker, 0.0)
    probe = breaker.try_acquire(5.0)
    assert probe is not None
    breaker.release(probe)  # e.g. the probe lost a hedge race: no verdict
    assert breaker.state(5.0) is BreakerState.HALF_OPEN
    assert breaker.try_acquire(5.0) is not None


def test_late_outcomes_from_before_the_opening_are_ignored() -> None:
    breaker = CircuitBreaker(BreakerPolicy(consecutive_failures=2, cooldown=10))
    slow = breaker.try_acquire(0.0)
    assert slow is not None
    fail(breaker, 1.0, 2)
    assert breaker.state(1.0) is BreakerState.OPEN
    breaker.record_success(slow, 2.0)  # started while closed; must not close the circuit
    assert breaker.state(2.0) is BreakerState.OPEN
    probe = breaker.try_acquire(11.0)
    assert probe is not None
    breaker.record_failure(slow, 11.5)  # nor count against the half-open probe
    breaker.release(slow)
    assert breaker.state(11.5) is BreakerState.HALF_OPEN
    assert breaker.try_acquire(11.5) is None  # the probe is still out


def test_closing_forgets_old_failures() -> None:
    policy = BreakerPolicy(consecutive_failures=3, failure_rate=0.5, min_requests=4, cooldown=1)
    breaker = CircuitBreaker(policy)
    fail(breaker, 0.0, 3)
    probe = breaker.try_acquire(1.0)
    assert probe is not None
    breaker.record_success(probe, 1.0)
    fail(breaker, 1.0, 2)  # would reopen at once if the earlier failures still counted
    assert breaker.state(1.0) is BreakerState.CLOSED
