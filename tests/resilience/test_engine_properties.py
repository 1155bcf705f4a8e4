"""Invariants of the engine over random scripts: every attempt ends exactly once, nothing leaks.

Random routes, delays, failures, hedging on or off, and a caller that may cancel at any
time; each example runs in its own `trio.run` on an autojumping `MockClock`.
"""

from __future__ import annotations

import math
import random

import trio
from hypothesis import given, settings
from hypothesis import strategies as st
from trio.testing import MockClock

from llm_router import errors
from llm_router.resilience import (
    AttemptOutcome,
    AttemptRecord,
    AttemptStarted,
    HedgePolicy,
    Hooks,
    ResilienceState,
    RetryPolicy,
    TimeoutPolicy,
    run_with_resilience,
)

from .scripted import Raise, Route, Script, fail, task_count

ERRORS: dict[str, Raise] = {
    "400": fail(400),
    "404": fail(404, errors.NotFoundError),
    "429": fail(429, errors.RateLimitError, headers={"retry-after": "1"}),
    "503": fail(503),
}
step = st.tuples(
    st.sampled_from([0.0, 0.1, 0.6, 3.0, 20.0]),
    st.sampled_from(["ok", "ok", *ERRORS]),
)
scripts = st.dictionaries(
    st.sampled_from(["a", "b", "c"]), st.lists(step, min_size=1, max_size=4), min_size=1
)


@settings(max_examples=150, deadline=None)
@given(
    steps=scripts,
    hedged=st.booleans(),
    cancel_after=st.one_of(st.none(), st.floats(0, 10)),
    seed=st.integers(0, 1000),
)
def test_every_attempt_ends_once_and_nothing_leaks(
    steps: dict[str, list[tuple[float, str]]],
    hedged: bool,
    cancel_after: float | None,
    seed: int,
) -> None:
    async def main() -> None:
        started: list[AttemptStarted] = []
        ended: list[AttemptRecord] = []
        state = ResilienceState(
            rng=random.Random(seed),
            hooks=Hooks(on_attempt_start=started.append, on_attempt_end=ended.append),
        )
        script = Script(
            {
                key: [(delay, key if what == "ok" else ERRORS[what]) for delay, what in plan]
                for key, plan in steps.items()
            }
        )
        routes = [Route(key) for key in sorted(steps)]
        before = task_count()
        value: object = None
        with trio.move_on_after(math.inf if cancel_after is None else cancel_after):
            try:
                result = await run_with_resilience(
                    routes,
                    script,
                    state=state,
                    retry=RetryPolicy(max_attempts=2, initial_delay=0.5, max_delay=1.0),
                    hedge=HedgePolicy(delay=0.5, max_attempts=3, max_extra_load=1.0)
                    if hedged
                    else None,
                    timeouts=TimeoutPolicy(first_byte=5.0, total=30.0),
                )
            except errors.LLMRouterError:
                pass
            else:
                value = result.value
                assert value == result.route.key  # each route answers its own name
                assert [r.outcome for r in result.attempts].count(AttemptOutcome.WON) == 1

        assert task_count() == before
        assert sorted(script.cleaned) == list(range(1, len(script.calls) + 1))
        assert sorted(r.number for r in ended) == [s.number for s in started]
        assert len(started) == len(script.calls)
        won = [r for r in ended if r.outcome is AttemptOutcome.WON]
        assert len(won) == (0 if value is None else 1)
        stats = state.statistics()
        assert (stats.requests_in_flight, stats.attempts_in_flight) == (0, 0)
        assert all(
            r.attempts == r.successes + r.failures + r.cancelled for r in stats.routes.values()
        )

    trio.run(main, clock=MockClock(autojump_threshold=0))
