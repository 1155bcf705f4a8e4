"""Which error a failed call raises."""

from __future__ import annotations

import random

from llm_router import errors
from llm_router.resilience import BreakerPolicy, CircuitBreaker, Disposition, RetryPolicy, Verdict
from llm_router.resilience.outcome import call_error, deadline_error
from llm_router.resilience.schedule import Schedule

KEYS = ["a/m", "b/m"]


def run(plan: Schedule, route: int, error: BaseException, verdict: Verdict, now: float) -> None:
    launch = plan.next_launch(now, lambda r, k: True)
    assert launch is not None and launch.route == route
    plan.launched(launch, now)
    plan.failed(route, error, verdict, now)


def test_last_typed_error_with_notes_about_the_others() -> None:
    plan = Schedule(2, RetryPolicy(max_attempts=1), random.Random(0))
    run(plan, 0, errors.OverloadedError("a overloaded"), Verdict(Disposition.RETRY), 0.0)
    last = errors.RateLimitError("b limited")
    run(plan, 1, last, Verdict(Disposition.RETRY), 0.0)
    error = call_error(plan, KEYS, [None, None], 0.0)
    assert error is last
    assert any("'a/m' failed too: OverloadedError 529" in note for note in error.__notes__)


def test_refused_wait_becomes_a_rate_limit_error_with_retry_after() -> None:
    plan = Schedule(1, RetryPolicy(max_retry_after=60), random.Random(0))
    overloaded = errors.OverloadedError("busy")
    run(plan, 0, overloaded, Verdict(Disposition.RETRY, retry_after=120), 0.0)
    error = call_error(plan, KEYS[:1], [None], 0.0)
    assert isinstance(error, errors.RateLimitError)
    assert error.retry_after == 120 and error.status == 529
    assert "60 s cap" in str(error) and error.__cause__ is overloaded


def test_skipped_routes_make_a_no_route_error() -> None:
    breaker = CircuitBreaker(BreakerPolicy(consecutive_failures=1, cooldown=30))
    permit = breaker.try_acquire(0.0)
    assert permit is not None
    breaker.record_failure(permit, 0.0)
    plan = Schedule(2, RetryPolicy(max_attempts=1), random.Random(0))
    run(plan, 0, errors.OverloadedError("busy"), Verdict(Disposition.RETRY), 5.0)
    error = call_error(plan, KEYS, [None, breaker], 5.0)
    assert isinstance(error, errors.NoRouteError)
    assert "'b/m': circuit open after repeated failures (next probe in 25.0 s)" in str(error)
    assert [type(e).__name__ for e in error.errors] == ["OverloadedError", "UpstreamError"]


def test_deadline_error_names_the_deadline_and_the_last_failure() -> None:
    plan = Schedule(1, RetryPolicy(), random.Random(0))
    cause = errors.OverloadedError("busy")
    run(plan, 0, cause, Verdict(Disposition.RETRY), 0.0)
    error = deadline_error(plan, 2.5)
    assert isinstance(error, errors.TimeoutError)
    assert str(error) == (
        "the request did not complete within its 2.5 s overall deadline "
        "(1 attempt made; last error: OverloadedError 529: busy)"
    )
    assert error.__cause__ is cause
