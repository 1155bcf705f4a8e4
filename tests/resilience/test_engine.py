"""The engine without hedging: retries, failover, deadlines, breakers, hooks, statistics.

Every test runs in virtual time (the `autojump_clock` fixture): attempts sleep scripted delays, and the
assertions check exactly when each attempt started.
"""

from __future__ import annotations

import random
from typing import Any

import pytest
import trio
from trio.testing import MockClock

from llm_router import errors
from llm_router.resilience import (
    AttemptContext,
    AttemptKind,
    AttemptOutcome,
    AttemptRecord,
    AttemptStarted,
    BreakerPolicy,
    BudgetPolicy,
    HedgePolicy,
    Hooks,
    RequestFinished,
    RequestOutcome,
    RequestStarted,
    ResilienceState,
    RetryPolicy,
    TimeoutPolicy,
    run_with_resilience,
)

from .scripted import MaxJitter, Route, Script, fail, task_count

A, B, C = Route("a"), Route("b"), Route("c")
WON, RETRIED, FAILED_OVER, FAILED, CANCELLED = (
    AttemptOutcome.WON,
    AttemptOutcome.RETRIED,
    AttemptOutcome.FAILED_OVER,
    AttemptOutcome.FAILED,
    AttemptOutcome.CANCELLED,
)


def new_state(**kw: Any) -> ResilienceState:
    kw.setdefault("rng", random.Random(1))
    return ResilienceState(**kw)


def outcomes(records: tuple[AttemptRecord, ...]) -> list[tuple[str, AttemptOutcome]]:
    return [(r.route, r.outcome) for r in records]


async def test_first_answer_is_returned_with_its_log(autojump_clock: MockClock) -> None:
    script = Script({"a": [(0.3, "hello")]})
    result = await run_with_resilience([A, B], script, state=new_state())
    assert (result.value, result.route) == ("hello", A)
    assert result.elapsed == pytest.approx(0.3)
    [record] = result.attempts
    assert (record.kind, record.outcome, record.number, record.route_attempt) == (
        AttemptKind.FIRST,
        WON,
        1,
        1,
    )
    assert record.ttfb == pytest.approx(0.3) and record.error is None


async def test_retry_after_backoff_then_success(autojump_clock: MockClock) -> None:
    script = Script({"a": [(0.1, fail(503)), (0.1, fail(529)), (0.2, "ok")]})
    policy = RetryPolicy(initial_delay=1.0, multiplier=2.0, max_delay=8.0)
    result = await run_with_resilience([A], script, state=new_state(rng=MaxJitter()), retry=policy)
    assert result.value == "ok"
    assert outcomes(result.attempts) == [("a", RETRIED), ("a", RETRIED), ("a", WON)]
    assert [r.kind for r in result.attempts] == [
        AttemptKind.FIRST,
        AttemptKind.RETRY,
        AttemptKind.RETRY,
    ]
    # Full jitter at its maximum: 1 s after the first failure, 2 s after the second.
    assert [r.offset for r in result.attempts] == pytest.approx([0.0, 1.1, 3.2])
    assert [r.status for r in result.attempts] == [503, 529, None]


async def test_jittered_backoff_stays_under_the_ceiling(autojump_clock: MockClock) -> None:
    script = Script({"a": [(0.0, fail(503)), (0.0, "ok")]})
    policy = RetryPolicy(initial_delay=4.0, max_delay=4.0)
    result = await run_with_resilience([A], script, state=new_state(), retry=policy)
    assert 0.0 <= result.attempts[1].offset <= 4.0


async def test_bad_request_is_not_retried_nor_failed_over(autojump_clock: MockClock) -> None:
    script = Script({"a": [(0.1, fail(400))], "b": [(0.1, "b")]})
    with pytest.raises(errors.UpstreamError) as caught:
        await run_with_resilience([A, B], script, state=new_state())
    assert caught.value.status == 400
    assert [call.route for call in script.calls] == ["a"]


async def test_retry_after_is_honoured_exactly(autojump_clock: MockClock) -> None:
    script = Script(
        {"a": [(0.1, fail(429, errors.RateLimitError, headers={"retry-after": "7"})), (0, "ok")]}
    )
    result = await run_with_resilience([A], script, state=new_state())
    assert result.attempts[1].offset == pytest.approx(7.1)
    assert result.elapsed == pytest.approx(7.1)


async def test_retry_after_ms_and_the_error_attribute_count_too(autojump_clock: MockClock) -> None:
    script = Script(
        {
            "a": [
                (0, fail(503, headers={"retry-after-ms": "250"})),
                (0, fail(429, errors.RateLimitError, retry_after=2.0)),
                (0, "ok"),
            ]
        }
    )
    result = await run_with_resilience([A], script, state=new_state())
    assert [r.offset for r in result.attempts] == pytest.approx([0.0, 0.25, 2.25])


async def test_retry_after_over_the_cap_fails_over_without_waiting(
    autojump_clock: MockClock,
) -> None:
    limited = fail(429, errors.RateLimitError, headers={"retry-after": "120"})
    script = Script({"a": [(0.1, limited)], "b": [(0.1, "b")]})
    policy = RetryPolicy(max_retry_after=60)
    result = await run_with_resilience([A, B], script, state=new_state(), retry=policy)
    assert result.route == B
    assert outcomes(result.attempts) == [("a", FAILED_OVER), ("b", WON)]
    assert result.attempts[1].offset == pytest.approx(0.1)


async def test_retry_after_over_the_cap_on_the_last_route_fails_fast(
    autojump_clock: MockClock,
) -> None:
    script = Script({"a": [(0.1, fail(503, headers={"retry-after": "300"}))]})
    start = trio.current_time()
    with pytest.raises(errors.RateLimitError) as caught:
        await run_with_resilience([A], script, state=new_state())
    assert caught.value.retry_after == 300
    assert caught.value.status == 503
    assert trio.current_time() - start == pytest.approx(0.1)


async def test_a_wait_past_the_deadline_fails_fast_too(autojump_clock: MockClock) -> None:
    script = Script({"a": [(0.1, fail(429, errors.RateLimitError, retry_after=30.0))]})
    with pytest.raises(errors.RateLimitError) as caught:
        await run_with_resilience([A], script, state=new_state(), timeouts=TimeoutPolicy(total=10))
    assert caught.value.retry_after == 30
    assert any("deadline" in note for note in caught.value.__notes__)


async def test_budget_exhaustion_stops_retries(autojump_clock: MockClock) -> None:
    state = new_state(budget=BudgetPolicy(max_tokens=4, token_ratio=0.1))
    script = Script({"a": [(0.1, fail(503))]})
    policy = RetryPolicy(max_attempts=10, initial_delay=0.01, max_delay=0.01)
    with pytest.raises(errors.UpstreamError):
        await run_with_resilience([A], script, state=state, retry=policy)
    # 4 tokens: the first failure leaves 3 (> half: retry), the second 2 (= half: stop).
    assert len(script.calls) == 2
    with pytest.raises(errors.UpstreamError):
        await run_with_resilience([A], script, state=state, retry=policy)
    assert len(script.calls) == 3  # the next call still gets its first attempt, no retry
    assert state.statistics().routes["a"].retry_tokens == 1


async def test_not_found_fails_over_to_the_next_provider(autojump_clock: MockClock) -> None:
    script = Script({"a": [(0.1, fail(404, errors.NotFoundError))], "b": [(0.1, "b")]})
    result = await run_with_resilience([A, B], script, state=new_state())
    assert result.value == "b"
    assert outcomes(result.attempts) == [("a", FAILED_OVER), ("b", WON)]
    assert result.attempts[1].kind is AttemptKind.FAILOVER


async def test_exhausted_retries_fail_over_and_the_last_typed_error_surfaces(
    autojump_clock: MockClock,
) -> None:
    script = Script(
        {
            "a": [(0.1, fail(529, errors.OverloadedError))],
            "b": [(0.1, fail(429, errors.RateLimitError))],
        }
    )
    policy = RetryPolicy(max_attempts=2, initial_delay=0.1, max_delay=0.1)
    with pytest.raises(errors.RateLimitError) as caught:
        await run_with_resilience([A, B], script, state=new_state(), retry=policy)
    assert [call.route for call in script.calls] == ["a", "a", "b", "b"]
    assert any("'a' failed too: OverloadedError 529" in n for n in caught.value.__notes__)


async def test_first_byte_timeout_is_retried(autojump_clock: MockClock) -> None:
    script = Script({"a": [(50.0, "too late"), (0.5, "ok")]})
    state = new_state()
    result = await run_with_resilience(
        [A], script, state=state, timeouts=TimeoutPolicy(first_byte=2.0)
    )
    assert result.value == "ok"
    first = result.attempts[0]
    assert (first.outcome, first.error, first.duration) == (RETRIED, "TimeoutError", 2.0)
    assert "no answer within 2 s" in (first.message or "")
    assert script.cancelled == [1]
    # A timeout is slow, not a fast failure: it feeds the latency window.
    assert state.statistics().routes["a"].latency_samples == 2


async def test_overall_deadline_covers_backoff_sleeps(autojump_clock: MockClock) -> None:
    script = Script({"a": [(0.1, fail(503))]})
    policy = RetryPolicy(max_attempts=10, initial_delay=4.0, max_delay=4.0)
    start = trio.current_time()
    with pytest.raises(errors.TimeoutError) as caught:
        await run_with_resilience(
            [A],
            script,
            state=new_state(rng=MaxJitter()),
            retry=policy,
            timeouts=TimeoutPolicy(total=6),
        )
    # Attempts at 0 and 4.1; the deadline strikes during the second backoff sleep.
    assert trio.current_time() - start == pytest.approx(6.0)
    assert len(script.calls) == 2
    assert "6 s overall deadline (2 attempts made" in str(caught.value)
    assert isinstance(caught.value.__cause__, errors.UpstreamError)


async def test_overall_deadline_cancels_a_running_attempt(autojump_clock: MockClock) -> None:
    hooks_seen: list[RequestFinished] = []
    state = new_state(hooks=Hooks(on_request_end=hooks_seen.append))
    script = Script({"a": [(100.0, "never")]})
    with pytest.raises(errors.TimeoutError, match="5 s overall deadline"):
        await run_with_resilience(
            [A], script, state=state, timeouts=TimeoutPolicy(first_byte=None, total=5)
        )
    assert script.cancelled == [1] and script.cleaned == [1]
    [finished] = hooks_seen
    assert finished.outcome is RequestOutcome.TIMED_OUT
    assert outcomes(finished.attempts) == [("a", CANCELLED)]


async def test_circuit_breaker_skips_then_probes_once_half_open(autojump_clock: MockClock) -> None:
    state = new_state(breaker=BreakerPolicy(consecutive_failures=2, cooldown=10))
    script = Script({"a": [(0.1, fail(503))], "b": [(0.1, "b")]})
    once = RetryPolicy(max_attempts=1)
    for _ in range(2):
        result = await run_with_resilience([A, B], script, state=state, retry=once)
        assert outcomes(result.attempts) == [("a", FAILED_OVER), ("b", WON)]
    assert state.statistics().routes["a"].breaker == "open"

    calls_before = len(script.calls)
    result = await run_with_resilience([A, B], script, state=state, retry=once)
    assert outcomes(result.attempts) == [("b", WON)]  # "a" is skipped, not attempted
    assert [call.route for call in script.calls[calls_before:]] == ["b"]

    await trio.sleep(10)
    script.steps["a"] = [(1.0, "a")]
    results: list[Any] = []

    async def call() -> None:
        results.append(await run_with_resilience([A, B], script, state=state, retry=once))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(call)
        nursery.start_soon(call)
    # One call carried the probe to "a"; the other went straight to "b".
    assert sorted(r.route.key for r in results) == ["a", "b"]
    assert state.statistics().routes["a"].breaker == "closed"


async def test_every_route_skipped_raises_no_route_error(autojump_clock: MockClock) -> None:
    state = new_state(breaker=BreakerPolicy(consecutive_failures=1, cooldown=30))
    script = Script({"a": [(0.1, fail(503))], "b": [(0.1, fail(503))]})
    once = RetryPolicy(max_attempts=1)
    with pytest.raises(errors.UpstreamError):
        await run_with_resilience([A, B], script, state=state, retry=once)
    with pytest.raises(errors.NoRouteError) as caught:
        await run_with_resilience([A, B], script, state=state, retry=once)
    assert str(caught.value).startswith("every route was skipped: 'a': circuit open")
    assert len(caught.value.errors) == 2
    assert len(script.calls) == 2


async def test_some_routes_skipped_raise_no_route_error_listing_each(
    autojump_clock: MockClock,
) -> None:
    state = new_state(breaker=BreakerPolicy(consecutive_failures=1, cooldown=30))
    once = RetryPolicy(max_attempts=1)
    await run_with_resilience(
        [B, A], Script({"b": [(0, "b")], "a": [(0, fail(500))]}), state=state, retry=once
    )  # "b" answers, "a" is never reached: its breaker stays closed
    with pytest.raises(errors.UpstreamError):
        await run_with_resilience([A], Script({"a": [(0, fail(500))]}), state=state, retry=once)
    script = Script({"a": [(0, "a")], "b": [(0.1, fail(503))]})
    with pytest.raises(errors.NoRouteError) as caught:
        await run_with_resilience([A, B], script, state=state, retry=once)
    message = str(caught.value)
    assert message.startswith("every route failed or was skipped: 'a': circuit open")
    assert "'b': UpstreamError 503: upstream said 503" in message
    assert isinstance(caught.value.__cause__, errors.UpstreamError)


async def test_no_routes_at_all(autojump_clock: MockClock) -> None:
    with pytest.raises(errors.NoRouteError, match="no route"):
        await run_with_resilience([], Script({}), state=new_state())


async def test_cancelling_during_backoff_leaves_nothing_behind(autojump_clock: MockClock) -> None:
    finished: list[RequestFinished] = []
    state = new_state(hooks=Hooks(on_request_end=finished.append))
    script = Script({"a": [(0.1, fail(503))]})
    policy = RetryPolicy(initial_delay=10.0, max_delay=10.0)
    before = task_count()
    with trio.move_on_after(1.0) as scope:
        await run_with_resilience([A], script, state=state, retry=policy)
    assert scope.cancelled_caught
    assert task_count() == before
    assert script.cleaned == [1] and len(script.calls) == 1
    assert finished[0].outcome is RequestOutcome.CANCELLED
    stats = state.statistics()
    assert (stats.requests_in_flight, stats.attempts_in_flight, stats.requests_failed) == (0, 0, 1)


async def test_cancelling_during_an_attempt_cancels_it(autojump_clock: MockClock) -> None:
    script = Script({"a": [(10.0, "late")]})
    state = new_state()
    before = task_count()
    with trio.move_on_after(1.0):
        await run_with_resilience([A], script, state=state)
    assert task_count() == before
    assert script.cancelled == [1] and script.cleaned == [1]
    assert state.statistics().routes["a"].cancelled == 1


async def test_hooks_see_every_step_in_order(autojump_clock: MockClock) -> None:
    events: list[object] = []

    def record_then_break(record: RequestFinished) -> None:
        events.append(record)
        raise RuntimeError("a bug in an observer must not break the call")

    hooks = Hooks(
        on_request_start=events.append,
        on_attempt_start=events.append,
        on_attempt_end=events.append,
        on_request_end=record_then_break,
    )
    script = Script({"a": [(0.1, fail(502))], "b": [(0.2, "b")]})
    result = await run_with_resilience(
        [A, B], script, state=new_state(hooks=hooks), retry=RetryPolicy(max_attempts=1), label="gpt"
    )
    assert [type(e).__name__ for e in events] == [
        "RequestStarted",
        "AttemptStarted",
        "AttemptRecord",
        "AttemptStarted",
        "AttemptRecord",
        "RequestFinished",
    ]
    started, first_start, first_end, second_start, second_end, finished = events
    assert started == RequestStarted(result.attempts[0].request_id, "gpt", ("a", "b"))
    assert isinstance(first_start, AttemptStarted) and first_start.route == "a"
    assert isinstance(second_start, AttemptStarted)
    assert second_start.kind is AttemptKind.FAILOVER
    assert second_start.offset == pytest.approx(0.1)
    assert first_end == result.attempts[0] and second_end == result.attempts[1]
    assert isinstance(finished, RequestFinished)
    assert (finished.outcome, finished.route, finished.attempts) == (
        RequestOutcome.SUCCEEDED,
        "b",
        result.attempts,
    )
    assert finished.elapsed == pytest.approx(0.3)


async def test_statistics_add_up(autojump_clock: MockClock) -> None:
    state = new_state(breaker=BreakerPolicy(consecutive_failures=3))
    script = Script({"a": [(0.1, fail(503)), (0.2, "ok")], "b": [(0.4, "b")]})
    for _ in range(3):
        await run_with_resilience([A, B], script, state=state, retry=RetryPolicy(initial_delay=0))
    script.steps["a"] = [(0.1, fail(400))]
    with pytest.raises(errors.UpstreamError):
        await run_with_resilience([A, B], script, state=state)
    stats = state.statistics()
    assert (stats.requests, stats.requests_succeeded, stats.requests_failed) == (4, 3, 1)
    a = stats.routes["a"]
    assert (a.attempts, a.successes, a.failures, a.retries) == (5, 3, 2, 1)
    assert a.latency_samples == 3  # three answers of 0.2 s; the fast failures are left out
    assert a.latency_p50 == pytest.approx(0.2) and a.latency_p99 == pytest.approx(0.2)
    # One failure costs a token, three successes earn 0.1 each; the 400 costs nothing.
    assert a.retry_tokens == pytest.approx(9.3)
    assert a.breaker == "closed"
    assert stats.as_dict()["routes"]["a"]["attempts"] == 5


async def test_a_bug_in_the_attempt_propagates_unchanged(autojump_clock: MockClock) -> None:
    async def attempt(route: Route, ctx: object) -> str:
        raise KeyError("bug")

    with pytest.raises(KeyError, match="bug"):
        await run_with_resilience([A, B], attempt, state=new_state())


async def test_an_answer_in_time_survives_the_deadline_passing_during_cleanup(
    autojump_clock: MockClock,
) -> None:
    async def attempt(route: Route, ctx: object) -> str:
        if route.key == "b":
            await trio.sleep(0.1)
            return "b"
        try:
            await trio.sleep(100)
        finally:
            with trio.CancelScope(shield=True):
                await trio.sleep(5.0)  # slow cleanup, past the 2 s deadline
        return "a"

    result = await run_with_resilience(
        [A, B],
        attempt,
        state=new_state(),
        hedge=HedgePolicy(delay=0.5, max_extra_load=1.0),
        timeouts=TimeoutPolicy(total=2.0),
    )
    assert result.value == "b"
    assert result.elapsed == pytest.approx(5.6)


async def test_without_hedging_attempts_run_in_the_callers_task(
    autojump_clock: MockClock,
) -> None:
    # One attempt at a time needs no nursery: no task is spawned per call or per attempt.
    caller = trio.lowlevel.current_task()
    seen: list[trio.lowlevel.Task] = []
    script = Script({"a": [(0.1, fail(503)), (0.1, "ok")]})

    async def attempt(route: Route, ctx: AttemptContext) -> object:
        seen.append(trio.lowlevel.current_task())
        return await script(route, ctx)

    result = await run_with_resilience([A], attempt, state=new_state())
    assert result.value == "ok"
    assert seen == [caller, caller]
