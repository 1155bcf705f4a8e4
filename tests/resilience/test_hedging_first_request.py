"""Hedging works from a fresh router's first request, apart from the retry policy, and a
policy that cannot hedge is refused. Virtual time throughout, against scripted attempts."""

from __future__ import annotations

import random

import pytest
from trio.testing import MockClock

from llm_router import errors
from llm_router.executor import Executor
from llm_router.resilience import (
    AttemptKind,
    AttemptOutcome,
    AttemptRecord,
    BudgetPolicy,
    HedgeBudget,
    HedgePolicy,
    ResilienceState,
    RetryPolicy,
    TimeoutPolicy,
    run_with_resilience,
)

from .scripted import MaxJitter, Route, Script, fail

A, B = Route("a"), Route("b")


def kinds(records: tuple[AttemptRecord, ...]) -> list[tuple[str, AttemptKind, AttemptOutcome]]:
    return [(r.route, r.kind, r.outcome) for r in records]


def test_the_hedge_budget_starts_with_its_burst_available() -> None:
    budget = HedgeBudget(burst=3)
    assert budget.tokens == 3
    assert [budget.try_withdraw() for _ in range(4)] == [True, True, True, False]


async def test_a_fresh_router_hedges_its_first_request(autojump_clock: MockClock) -> None:
    state = ResilienceState(rng=random.Random(1))
    script = Script({"a": [(5.0, "slow"), (0.1, "fast")]})
    result = await run_with_resilience([A], script, state=state, hedge=HedgePolicy(delay=0.5))
    assert result.value == "fast"
    assert result.elapsed == pytest.approx(0.6)
    assert kinds(result.attempts) == [
        ("a", AttemptKind.FIRST, AttemptOutcome.CANCELLED_HEDGE_LOSER),
        ("a", AttemptKind.HEDGE, AttemptOutcome.WON),
    ]


async def test_the_long_run_cap_still_holds_after_the_burst(autojump_clock: MockClock) -> None:
    state = ResilienceState(rng=random.Random(1))
    policy = HedgePolicy(delay=0.5, max_extra_load=0.1)
    requests = 200
    for _ in range(requests):  # every request is slow: each would hedge if it could
        script = Script({"a": [(5.0, "a")], "b": [(0.1, "b")]})
        await run_with_resilience([A, B], script, state=state, hedge=policy)
    hedges = state.statistics().routes["b"].hedges
    burst = BudgetPolicy().hedge_burst
    assert hedges == pytest.approx(burst + 0.1 * requests, abs=1)
    assert state.statistics().hedges_refused == requests - hedges


async def test_one_attempt_per_route_still_hedges(autojump_clock: MockClock) -> None:
    state = ResilienceState(rng=random.Random(1))
    script = Script({"a": [(5.0, "slow"), (0.1, "fast")]})
    result = await run_with_resilience(
        [A],
        script,
        state=state,
        retry=RetryPolicy(max_attempts=1),
        hedge=HedgePolicy(delay=0.1),
    )
    assert result.value == "fast"
    assert [r.kind for r in result.attempts] == [AttemptKind.FIRST, AttemptKind.HEDGE]


async def test_hedges_do_not_use_up_retries(autojump_clock: MockClock) -> None:
    # The first attempt and its hedge both fail: two retries are still due.
    state = ResilienceState(rng=MaxJitter(1))
    script = Script({"a": [(1.0, fail(503)), (0.2, fail(503)), (0.1, fail(503)), (0.1, "ok")]})
    result = await run_with_resilience(
        [A],
        script,
        state=state,
        retry=RetryPolicy(max_attempts=3, initial_delay=0.5, max_delay=0.5),
        hedge=HedgePolicy(delay=0.5, max_extra_load=1.0),
    )
    assert result.value == "ok"
    assert [r.kind for r in result.attempts] == [
        AttemptKind.FIRST,
        AttemptKind.HEDGE,
        AttemptKind.RETRY,
        AttemptKind.RETRY,
    ]


async def test_retries_are_still_capped_with_hedging_on(autojump_clock: MockClock) -> None:
    state = ResilienceState(rng=MaxJitter(1))
    script = Script({"a": [(0.1, fail(503))]})
    with pytest.raises(errors.UpstreamError):
        await run_with_resilience(
            [A],
            script,
            state=state,
            retry=RetryPolicy(max_attempts=2, initial_delay=0.1, max_delay=0.1),
            hedge=HedgePolicy(delay=0.5),
        )
    assert [call.kind for call in script.calls] == [AttemptKind.FIRST, AttemptKind.RETRY]


async def test_an_attempt_after_a_retry_after_wait_is_a_retry(autojump_clock: MockClock) -> None:
    # a answers 429 with retry-after 2 s; the call fails over to b, which is slow. When a's
    # wait is over it is tried again next to b: that attempt retries a, it is no hedge.
    state = ResilienceState(rng=random.Random(1))
    script = Script(
        {
            "a": [(0.1, fail(429, errors.RateLimitError, retry_after=2.0)), (0.1, "a again")],
            "b": [(5.0, "b")],
        }
    )
    result = await run_with_resilience(
        [A, B],
        script,
        state=state,
        retry=RetryPolicy(max_attempts=2),
        hedge=HedgePolicy(delay=0.5, max_extra_load=1.0),
    )
    assert result.value == "a again"
    assert [(r.route, r.kind, round(r.offset, 3)) for r in result.attempts] == [
        ("a", AttemptKind.FIRST, 0.0),
        ("b", AttemptKind.FAILOVER, 0.1),
        ("a", AttemptKind.RETRY, 2.1),
    ]
    assert state.statistics().routes["a"].hedges == 0


async def test_a_retry_after_wait_inside_a_hedge_race_is_a_retry(
    autojump_clock: MockClock,
) -> None:
    # The hedge fails with retry-after while the original runs on: after the wait the
    # route is retried (and the retry counts against the retry policy, not the hedges).
    state = ResilienceState(rng=random.Random(1))
    script = Script(
        {
            "a": [
                (10.0, "original"),
                (0.1, fail(429, errors.RateLimitError, retry_after=2.0)),
                (0.1, "retried"),
            ]
        }
    )
    result = await run_with_resilience(
        [A],
        script,
        state=state,
        retry=RetryPolicy(max_attempts=2),
        hedge=HedgePolicy(delay=0.5, max_attempts=3, max_extra_load=1.0),
    )
    assert result.value == "retried"
    assert [(r.kind, round(r.offset, 3)) for r in result.attempts] == [
        (AttemptKind.FIRST, 0.0),
        (AttemptKind.HEDGE, 0.5),
        (AttemptKind.RETRY, 2.6),
    ]


@pytest.mark.parametrize(
    ("hedge", "timeouts", "named"),
    [
        (HedgePolicy(delay=30), TimeoutPolicy(first_byte=30), "HedgePolicy.delay"),
        (HedgePolicy(delay=5), TimeoutPolicy(first_byte=None, total=2), "TimeoutPolicy.total"),
        (HedgePolicy(min_delay=10), TimeoutPolicy(first_byte=5), "HedgePolicy.min_delay"),
    ],
)
def test_a_hedge_policy_that_can_never_fire_is_refused(
    hedge: HedgePolicy, timeouts: TimeoutPolicy, named: str
) -> None:
    with pytest.raises(errors.ConfigurationError, match=named):
        Executor(hedge=hedge, timeouts=timeouts)
