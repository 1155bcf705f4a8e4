"""The engine with hedging: delays, winners and losers, budgets, cancellation, races.

Virtual time throughout (the `autojump_clock` fixture), so "starts at 0.5 s" is exact.
"""

from __future__ import annotations

import random

import pytest
import trio
from trio.testing import MockClock

from llm_router import errors
from llm_router.resilience import (
    AttemptKind,
    AttemptOutcome,
    AttemptRecord,
    BudgetPolicy,
    HedgePolicy,
    ResilienceState,
    TimeoutPolicy,
    run_with_resilience,
)

from .scripted import Route, Script, fail, task_count

A, B, C = Route("a"), Route("b"), Route("c")
WON = AttemptOutcome.WON
LOSER = AttemptOutcome.CANCELLED_HEDGE_LOSER
#: max_extra_load=1.0 affords one hedge per request, so single calls can always hedge.
HEDGE = HedgePolicy(delay=0.5, max_extra_load=1.0)


def new_state() -> ResilienceState:
    return ResilienceState(rng=random.Random(1))


def summary(records: tuple[AttemptRecord, ...]) -> list[tuple[str, AttemptKind, AttemptOutcome]]:
    return [(r.route, r.kind, r.outcome) for r in records]


async def test_hedge_starts_after_the_delay_and_the_loser_is_cancelled(
    autojump_clock: MockClock,
) -> None:
    script = Script({"a": [(5.0, "slow")], "b": [(0.2, "fast")]})
    result = await run_with_resilience([A, B], script, state=new_state(), hedge=HEDGE)
    assert (result.value, result.route) == ("fast", B)
    assert result.elapsed == pytest.approx(0.7)
    assert summary(result.attempts) == [
        ("a", AttemptKind.FIRST, LOSER),
        ("b", AttemptKind.HEDGE, WON),
    ]
    assert result.attempts[1].offset == pytest.approx(0.5)
    # The loser saw trio.Cancelled and ran its cleanup before the call returned.
    assert script.cancelled == [1]
    assert sorted(script.cleaned) == [1, 2]


async def test_no_hedge_when_the_first_attempt_answers_in_time(
    autojump_clock: MockClock,
) -> None:
    script = Script({"a": [(0.4, "a")], "b": [(0.1, "b")]})
    result = await run_with_resilience([A, B], script, state=new_state(), hedge=HEDGE)
    assert result.value == "a"
    assert [call.route for call in script.calls] == ["a"]


async def test_the_original_can_still_win_and_the_hedge_is_cancelled(
    autojump_clock: MockClock,
) -> None:
    script = Script({"a": [(0.8, "a")], "b": [(5.0, "b")]})
    result = await run_with_resilience([A, B], script, state=new_state(), hedge=HEDGE)
    assert result.value == "a"
    assert summary(result.attempts) == [
        ("a", AttemptKind.FIRST, WON),
        ("b", AttemptKind.HEDGE, LOSER),
    ]
    assert script.cancelled == [2]


async def test_a_single_route_is_hedged_on_itself(autojump_clock: MockClock) -> None:
    script = Script({"a": [(5.0, "stuck"), (0.1, "fresh")]})
    result = await run_with_resilience([A], script, state=new_state(), hedge=HEDGE)
    assert result.value == "fresh"
    assert [(r.route_attempt, r.kind) for r in result.attempts] == [
        (1, AttemptKind.FIRST),
        (2, AttemptKind.HEDGE),
    ]


async def test_hedges_spread_over_routes_up_to_max_attempts(autojump_clock: MockClock) -> None:
    state = new_state()
    state.hedge_budget("a").deposit(1.0)  # two hedges in this call: bank one more
    script = Script({"a": [(9.0, "a")], "b": [(9.0, "b")], "c": [(0.1, "c")]})
    policy = HedgePolicy(delay=0.5, max_attempts=3, max_extra_load=1.0)
    result = await run_with_resilience([A, B, C], script, state=state, hedge=policy)
    assert result.value == "c"
    assert [r.offset for r in result.attempts] == pytest.approx([0.0, 0.5, 1.0])
    assert sorted(script.cancelled) == [1, 2]


async def test_an_error_starts_the_next_attempt_at_once(autojump_clock: MockClock) -> None:
    script = Script({"a": [(0.1, fail(503))], "b": [(0.3, "b")]})
    result = await run_with_resilience([A, B], script, state=new_state(), hedge=HEDGE)
    assert result.value == "b"
    assert summary(result.attempts) == [
        ("a", AttemptKind.FIRST, AttemptOutcome.FAILED_OVER),
        ("b", AttemptKind.FAILOVER, WON),
    ]
    assert result.attempts[1].offset == pytest.approx(0.1)  # not 0.5


async def test_a_failing_hedge_does_not_cancel_the_original(autojump_clock: MockClock) -> None:
    script = Script({"a": [(1.0, "a")], "b": [(0.1, fail(400))]})
    result = await run_with_resilience([A, B], script, state=new_state(), hedge=HEDGE)
    assert result.value == "a"
    assert summary(result.attempts) == [
        ("a", AttemptKind.FIRST, WON),
        ("b", AttemptKind.HEDGE, AttemptOutcome.FAILED),
    ]


async def test_adaptive_delay_follows_recorded_latencies(autojump_clock: MockClock) -> None:
    state = new_state()
    policy = HedgePolicy(percentile=50, min_samples=5, initial_delay=3.0, max_extra_load=1.0)
    script = Script({"a": [(0.3, "a")], "b": [(0.1, "b")]})
    # Before min_samples answers, the initial delay applies: nothing hedges at 0.3 s.
    for _ in range(5):
        result = await run_with_resilience([A, B], script, state=state, hedge=policy)
        assert result.route == A
    script.steps["a"] = [(5.0, "slow")]
    result = await run_with_resilience([A, B], script, state=state, hedge=policy)
    assert result.route == B
    assert result.attempts[1].offset == pytest.approx(0.3)  # the p50 of "a" so far
    stats = state.statistics().routes["a"]
    assert stats.latency_p50 == pytest.approx(0.3)
    # The overtaken original counts (as a lower bound), so a slowdown raises the estimate.
    assert stats.latency_samples == 6 and stats.latency_p99 == pytest.approx(0.4)


async def test_min_delay_floors_the_adaptive_delay(autojump_clock: MockClock) -> None:
    state = new_state()
    policy = HedgePolicy(min_samples=3, min_delay=0.25, max_extra_load=1.0)
    script = Script({"a": [(0.0, "instant")], "b": [(0.0, "b")]})
    for _ in range(3):
        await run_with_resilience([A, B], script, state=state, hedge=policy)
    script.steps["a"] = [(1.0, "slow")]
    result = await run_with_resilience([A, B], script, state=state, hedge=policy)
    assert result.attempts[1].offset == pytest.approx(0.25)


@pytest.mark.parametrize(("slow_fraction", "min_hedges"), [(0.03, 15), (0.3, 90)])
async def test_max_extra_load_holds_over_many_requests(
    autojump_clock: MockClock, slow_fraction: float, min_hedges: int
) -> None:
    state = new_state()
    rng = random.Random(42)
    policy = HedgePolicy(delay=0.5, max_extra_load=0.1)
    requests = 1000
    for _ in range(requests):
        slow = rng.random() < slow_fraction
        script = Script({"a": [(5.0 if slow else 0.1, "a")], "b": [(0.1, "b")]})
        await run_with_resilience([A, B], script, state=state, hedge=policy)
    stats = state.statistics()
    hedges = stats.routes["b"].hedges
    extra = stats.routes["a"].attempts + hedges - requests
    assert extra == hedges <= BudgetPolicy().hedge_burst + 0.1 * requests
    assert hedges >= min_hedges  # the budget is used, not just respected
    if slow_fraction > 0.1:
        assert stats.hedges_refused > 0


async def test_cancelling_a_hedge_race_leaves_nothing_behind(autojump_clock: MockClock) -> None:
    state = new_state()
    script = Script({"a": [(5.0, "a")], "b": [(5.0, "b")]})
    before = task_count()
    with trio.move_on_after(1.0) as scope:
        await run_with_resilience([A, B], script, state=state, hedge=HEDGE)
    assert scope.cancelled_caught
    assert task_count() == before
    assert sorted(script.cancelled) == [1, 2] and sorted(script.cleaned) == [1, 2]
    stats = state.statistics()
    assert (stats.attempts_in_flight, stats.requests_in_flight) == (0, 0)


async def test_an_answer_after_the_winner_is_released(autojump_clock: MockClock) -> None:
    released: list[object] = []

    async def release(value: object) -> None:
        await trio.lowlevel.checkpoint()  # a real close awaits; it runs shielded
        released.append(value)

    async def attempt(route: Route, ctx: object) -> str:
        # "a" cannot be interrupted (think of a read finishing in a shielded scope), so it
        # still answers after the hedge on "b" has won.
        with trio.CancelScope(shield=route.key == "a"):
            await trio.sleep(1.0 if route.key == "a" else 0.1)
        return route.key

    result = await run_with_resilience(
        [A, B], attempt, state=new_state(), hedge=HEDGE, release=release
    )
    assert result.value == "b"
    assert released == ["a"]
    assert summary(result.attempts) == [
        ("a", AttemptKind.FIRST, LOSER),
        ("b", AttemptKind.HEDGE, WON),
    ]
    assert result.attempts[0].ttfb == pytest.approx(1.0)
    assert result.elapsed == pytest.approx(1.0)  # the call waits for every attempt to end


async def test_the_winner_is_released_if_the_call_is_cancelled_while_losers_unwind(
    autojump_clock: MockClock,
) -> None:
    released: list[object] = []

    async def release(value: object) -> None:
        released.append(value)

    async def attempt(route: Route, ctx: object) -> str:
        if route.key == "b":
            await trio.sleep(0.1)
            return "b"
        try:
            await trio.sleep(10)
        finally:
            with trio.CancelScope(shield=True):
                await trio.sleep(1.0)  # a slow close: the call is cancelled meanwhile
        return "a"

    with trio.move_on_after(1.0):
        await run_with_resilience([A, B], attempt, state=new_state(), hedge=HEDGE, release=release)
    assert released == ["b"]


async def test_low_retry_budget_stops_hedges_to_that_route(autojump_clock: MockClock) -> None:
    state = new_state()
    for key in ("a", "b"):
        budget = state.route(key).budget
        while budget.can_retry():
            budget.record_failure()
    script = Script({"a": [(2.0, "a")], "b": [(0.1, "b")]})
    result = await run_with_resilience([A], script, state=state, hedge=HEDGE)
    assert result.value == "a" and len(script.calls) == 1
    # With "b" out of budget, the hedge goes to the healthy route instead.
    state.route("a").budget.record_success()
    result = await run_with_resilience([A, B], script, state=state, hedge=HEDGE)
    assert [call.route for call in script.calls[1:]] == ["a", "a"]


async def test_fatal_error_is_raised_once_no_sibling_can_answer(
    autojump_clock: MockClock,
) -> None:
    script = Script({"a": [(1.0, fail(503))], "b": [(0.1, fail(422))]})
    with pytest.raises(errors.UpstreamError) as caught:
        await run_with_resilience([A, B], script, state=new_state(), hedge=HEDGE)
    assert caught.value.status == 422
    assert len(script.calls) == 2  # the 503 on "a" did not start anything after the 422


async def test_a_hedged_attempt_past_its_first_byte_deadline_is_a_timeout(
    autojump_clock: MockClock,
) -> None:
    # One cancel scope carries both the first-byte deadline and the race: "a" reaching its
    # deadline (at 2 s) while "b" still runs is a first-byte timeout, not a lost race.
    script = Script({"a": [(10.0, "too late"), (10.0, "too late")], "b": [(1.8, "b")]})
    timeouts = TimeoutPolicy(first_byte=2.0)
    result = await run_with_resilience(
        [A, B], script, state=new_state(), hedge=HEDGE, timeouts=timeouts
    )
    assert (result.value, result.elapsed) == ("b", pytest.approx(2.3))
    first = result.attempts[0]
    assert (first.route, first.error, first.duration) == ("a", "TimeoutError", 2.0)
    assert first.outcome is not LOSER
    assert "no answer within 2 s (first-byte timeout)" in (first.message or "")
    assert result.attempts[1].outcome is WON


async def test_a_loser_with_a_first_byte_deadline_still_counts_as_a_loser(
    autojump_clock: MockClock,
) -> None:
    script = Script({"a": [(10.0, "slow")], "b": [(0.2, "fast")]})
    timeouts = TimeoutPolicy(first_byte=2.0)
    result = await run_with_resilience(
        [A, B], script, state=new_state(), hedge=HEDGE, timeouts=timeouts
    )
    assert summary(result.attempts) == [
        ("a", AttemptKind.FIRST, LOSER),
        ("b", AttemptKind.HEDGE, WON),
    ]
    assert (result.attempts[0].error, result.attempts[0].duration) == (None, pytest.approx(0.7))


async def test_the_overall_deadline_ends_a_hedge_race(autojump_clock: MockClock) -> None:
    # The deadline is the attempts' nursery's own: it cancels every attempt and surfaces as
    # the typed deadline error, leaving no task behind.
    tasks = task_count()
    script = Script({"a": [(100.0, "never")], "b": [(100.0, "never")]})
    start = trio.current_time()
    with pytest.raises(errors.TimeoutError, match="3 s overall deadline"):
        await run_with_resilience(
            [A, B],
            script,
            state=new_state(),
            hedge=HEDGE,
            timeouts=TimeoutPolicy(first_byte=None, total=3),
        )
    assert trio.current_time() - start == pytest.approx(3.0)
    assert sorted(script.cancelled) == [1, 2] and sorted(script.cleaned) == [1, 2]
    assert task_count() == tasks


async def test_a_hedge_is_planned_when_its_delay_passes(autojump_clock: MockClock) -> None:
    # The hedge budget is asked when the delay passes, not when the first attempt starts.
    state = new_state()
    budget = state.hedge_budget("a")
    script = Script({"a": [(1.0, "a")], "b": [(0.1, "b")]})

    async def drain_budget_meanwhile() -> None:
        await trio.sleep(0.25)
        budget.adopt(0.0)  # another process spent the shared budget

    async with trio.open_nursery() as nursery:
        nursery.start_soon(drain_budget_meanwhile)
        result = await run_with_resilience([A, B], script, state=state, hedge=HEDGE)
    assert result.value == "a" and len(script.calls) == 1
    assert state.hedges_refused == 1
