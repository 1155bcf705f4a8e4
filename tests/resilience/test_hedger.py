"""The hedger (one task for every call's hedge timers and races) and hedged calls sharing one.

Virtual time throughout (the `autojump_clock` fixture). A shared hedger runs in the test's
nursery as it would in the router's: a call arms a timer there instead of opening a nursery,
and only a hedge delay that passes starts a race in the hedger's nursery. After every call,
nothing may be left there: no timer armed, no race running.
"""

from __future__ import annotations

import contextvars
import logging
import random
from collections.abc import AsyncIterator

import pytest
import trio
from trio.testing import MockClock

from llm_router.resilience import (
    AttemptKind,
    AttemptOutcome,
    AttemptRecord,
    AttemptStarted,
    HedgePolicy,
    Hooks,
    ResilienceState,
    TimeoutPolicy,
    run_with_resilience,
)
from llm_router.resilience.hedger import Hedger

from .scripted import Route, Script, fail, task_count

A, B = Route("a"), Route("b")
WON = AttemptOutcome.WON
LOSER = AttemptOutcome.CANCELLED_HEDGE_LOSER
HEDGE = HedgePolicy(delay=0.5, max_extra_load=1.0)


def new_state(hooks: Hooks | None = None) -> ResilienceState:
    return ResilienceState(rng=random.Random(1), hooks=hooks or Hooks())


def summary(records: tuple[AttemptRecord, ...]) -> list[tuple[str, AttemptKind, AttemptOutcome]]:
    return [(r.route, r.kind, r.outcome) for r in records]


@pytest.fixture
async def hedger() -> AsyncIterator[Hedger]:
    hedger = Hedger()
    async with trio.open_nursery() as nursery:
        await nursery.start(hedger.run)
        yield hedger
        nursery.cancel_scope.cancel()
    assert not hedger.running


def idle(hedger: Hedger) -> bool:
    stats = hedger.statistics()
    return stats["armed"] == 0 and stats["racing"] == 0


# ------------------------------------------------------------------------------ the timers


async def test_timers_fire_in_time_order_and_disarmed_ones_never(
    autojump_clock: MockClock, hedger: Hedger
) -> None:
    fired: list[tuple[str, float]] = []

    def note(name: str) -> None:
        fired.append((name, trio.current_time()))

    start = trio.current_time()
    hedger.arm(start + 3.0, lambda: note("late"))
    hedger.arm(start + 1.0, lambda: note("early"))  # earlier than the one it sleeps for
    dropped = hedger.arm(start + 2.0, lambda: note("dropped"))
    hedger.disarm(dropped)
    await trio.sleep(4.0)
    assert fired == [("early", start + 1.0), ("late", start + 3.0)]
    hedger.disarm(dropped)  # twice, or after firing: nothing happens
    assert idle(hedger)


async def test_many_disarmed_timers_are_compacted_away(
    autojump_clock: MockClock, hedger: Hedger
) -> None:
    fired: list[int] = []
    start = trio.current_time()
    # The first timer stays armed, so the stale ones behind it cannot leave from the front.
    hedger.arm(start + 1.0, lambda: fired.append(0))
    for n in range(1, 1000):
        hedger.disarm(hedger.arm(start + 1.0 + n, lambda n=n: fired.append(n)))
    hedger.arm(start + 2000.0, lambda: fired.append(-1))
    assert len(hedger._heap) < 200
    await trio.sleep(3000.0)
    assert fired == [0, -1]


async def test_a_failing_callback_is_logged_and_the_others_still_fire(
    autojump_clock: MockClock, hedger: Hedger, caplog: pytest.LogCaptureFixture
) -> None:
    fired: list[str] = []

    def broken() -> None:
        raise RuntimeError("a bug in one call")

    start = trio.current_time()
    hedger.arm(start + 1.0, broken)
    hedger.arm(start + 1.0, lambda: fired.append("after"))
    with caplog.at_level(logging.ERROR, logger="llm_router.resilience"):
        await trio.sleep(2.0)
    assert fired == ["after"]
    assert "a hedge timer's callback failed" in caplog.text


async def test_a_hedger_runs_once_at_a_time(hedger: Hedger) -> None:
    with pytest.raises(RuntimeError, match="already running"):
        await hedger.run()


# ------------------------------------------------------------------- calls sharing a hedger


async def test_no_race_starts_when_the_answer_comes_before_the_delay(
    autojump_clock: MockClock, hedger: Hedger
) -> None:
    script = Script({"a": [(0.4, "a")], "b": [(0.1, "b")]})
    result = await run_with_resilience(
        [A, B], script, state=new_state(), hedge=HEDGE, hedger=hedger
    )
    assert result.value == "a"
    assert hedger.statistics() == {"armed": 0, "racing": 0, "races": 0}


async def test_a_hedge_that_fires_and_wins(autojump_clock: MockClock, hedger: Hedger) -> None:
    script = Script({"a": [(5.0, "slow")], "b": [(0.2, "fast")]})
    result = await run_with_resilience(
        [A, B], script, state=new_state(), hedge=HEDGE, hedger=hedger
    )
    assert (result.value, result.route, result.elapsed) == ("fast", B, pytest.approx(0.7))
    assert summary(result.attempts) == [
        ("a", AttemptKind.FIRST, LOSER),
        ("b", AttemptKind.HEDGE, WON),
    ]
    assert result.attempts[1].offset == pytest.approx(0.5)
    # The first attempt, in the caller's task, was cancelled by the hedge's win.
    assert script.cancelled == [1] and sorted(script.cleaned) == [1, 2]
    assert hedger.statistics()["races"] == 1 and idle(hedger)


async def test_the_first_attempt_wins_after_the_hedge_started(
    autojump_clock: MockClock, hedger: Hedger
) -> None:
    script = Script({"a": [(0.8, "a")], "b": [(5.0, "b")]})
    result = await run_with_resilience(
        [A, B], script, state=new_state(), hedge=HEDGE, hedger=hedger
    )
    assert (result.value, result.elapsed) == ("a", pytest.approx(0.8))
    assert summary(result.attempts) == [
        ("a", AttemptKind.FIRST, WON),
        ("b", AttemptKind.HEDGE, LOSER),
    ]
    # The hedge, in the race's task, was cancelled from the caller's and unwound before the
    # call returned.
    assert script.cancelled == [2] and sorted(script.cleaned) == [1, 2]
    assert idle(hedger)


async def test_a_failure_after_the_hedge_started_is_retried_in_the_race(
    autojump_clock: MockClock, hedger: Hedger
) -> None:
    # "a" fails at 0.6 s with a 503 while the hedge on "b" runs: the race retries it after
    # its backoff, as a call in a nursery of its own would.
    script = Script({"a": [(0.6, fail(503)), (0.1, "a again")], "b": [(5.0, "b")]})
    result = await run_with_resilience(
        [A, B], script, state=new_state(), hedge=HEDGE, hedger=hedger
    )
    assert result.value == "a again"
    assert [(r.route, r.kind) for r in result.attempts] == [
        ("a", AttemptKind.FIRST),
        ("b", AttemptKind.HEDGE),
        ("a", AttemptKind.RETRY),
    ]
    assert result.attempts[1].offset == pytest.approx(0.5)
    assert result.attempts[2].offset >= 0.6
    assert result.attempts[0].outcome is AttemptOutcome.RETRIED
    assert result.attempts[1].outcome is LOSER
    assert idle(hedger)


async def test_cancelling_the_caller_mid_race_cancels_the_hedge(
    autojump_clock: MockClock, hedger: Hedger
) -> None:
    state = new_state()
    script = Script({"a": [(5.0, "a")], "b": [(5.0, "b")]})
    tasks = task_count()
    with trio.move_on_after(1.0) as scope:
        await run_with_resilience([A, B], script, state=state, hedge=HEDGE, hedger=hedger)
    assert scope.cancelled_caught
    assert sorted(script.cancelled) == [1, 2] and sorted(script.cleaned) == [1, 2]
    assert idle(hedger) and task_count() == tasks
    stats = state.statistics()
    assert (stats.attempts_in_flight, stats.requests_in_flight) == (0, 0)


async def test_cancelling_the_caller_as_the_race_starts(
    autojump_clock: MockClock, hedger: Hedger
) -> None:
    # Cancelled in the very instant the hedge delay passes: the race may not have run yet,
    # and its booked hedge must still end (cancelled), with nothing left behind.
    state = new_state()
    script = Script({"a": [(5.0, "a")], "b": [(5.0, "b")]})
    with trio.move_on_after(0.5):
        await run_with_resilience([A, B], script, state=state, hedge=HEDGE, hedger=hedger)
    assert idle(hedger)
    assert state.statistics().attempts_in_flight == 0
    assert sorted(script.cleaned) == sorted(call.number for call in script.calls)


async def test_the_overall_deadline_ends_a_race(autojump_clock: MockClock, hedger: Hedger) -> None:
    script = Script({"a": [(100.0, "never")], "b": [(100.0, "never")]})
    start = trio.current_time()
    with pytest.raises(TimeoutError, match="3 s overall deadline"):
        await run_with_resilience(
            [A, B],
            script,
            state=new_state(),
            hedge=HEDGE,
            timeouts=TimeoutPolicy(first_byte=None, total=3),
            hedger=hedger,
        )
    assert trio.current_time() - start == pytest.approx(3.0)
    assert sorted(script.cancelled) == [1, 2]
    assert idle(hedger)


async def test_closing_the_hedger_mid_race_ends_the_race(autojump_clock: MockClock) -> None:
    # The router's exit cancels its calls and its nursery together: the hedge, running in
    # the hedger's nursery, is cancelled with it and the hedger leaves only once it unwound.
    hedger = Hedger()
    script = Script({"a": [(5.0, "a")], "b": [(5.0, "b")]})
    state = new_state()
    with trio.CancelScope() as router:
        async with trio.open_nursery() as nursery:
            await nursery.start(hedger.run)
            nursery.start_soon(
                lambda: run_with_resilience([A, B], script, state=state, hedge=HEDGE, hedger=hedger)
            )
            await trio.sleep(1.0)
            assert hedger.statistics()["racing"] == 1
            router.cancel()
    assert not hedger.running and hedger.statistics()["racing"] == 0
    assert sorted(script.cancelled) == [1, 2] and sorted(script.cleaned) == [1, 2]
    assert state.statistics().attempts_in_flight == 0


async def test_hooks_of_a_hedge_see_the_callers_context(
    autojump_clock: MockClock, hedger: Hedger
) -> None:
    # The hedge starts from the hedger's task, but as if the caller had started it.
    caller: contextvars.ContextVar[str] = contextvars.ContextVar("caller", default="nobody")
    seen: list[tuple[AttemptKind, str]] = []

    def on_attempt_start(record: AttemptStarted) -> None:
        seen.append((record.kind, caller.get()))

    script = Script({"a": [(5.0, "a")], "b": [(0.1, "b")]})
    caller.set("the caller")
    hooks = Hooks(on_attempt_start=on_attempt_start)
    await run_with_resilience([A, B], script, state=new_state(hooks), hedge=HEDGE, hedger=hedger)
    assert seen == [(AttemptKind.FIRST, "the caller"), (AttemptKind.HEDGE, "the caller")]


async def test_many_calls_share_one_hedger(autojump_clock: MockClock, hedger: Hedger) -> None:
    # Every tenth call is slow and hedged; the others answer before their delay.
    state = new_state()
    results = []

    async def one(n: int) -> None:
        delay = 5.0 if n % 10 == 0 else 0.1 + n / 1000
        script = Script({"a": [(delay, "a")], "b": [(0.1, "b")]})
        results.append(
            await run_with_resilience([A, B], script, state=state, hedge=HEDGE, hedger=hedger)
        )

    async with trio.open_nursery() as nursery:
        for n in range(100):
            nursery.start_soon(one, n)
    assert sorted(r.route.key for r in results) == ["a"] * 90 + ["b"] * 10
    assert hedger.statistics() == {"armed": 0, "racing": 0, "races": 10}


async def test_a_call_without_a_running_hedger_opens_its_own(autojump_clock: MockClock) -> None:
    tasks = task_count()
    script = Script({"a": [(5.0, "slow")], "b": [(0.2, "fast")]})
    stopped = Hedger()  # not running: the call must not wait for it
    result = await run_with_resilience(
        [A, B], script, state=new_state(), hedge=HEDGE, hedger=stopped
    )
    assert result.value == "fast" and stopped.statistics()["races"] == 0
    assert task_count() == tasks
