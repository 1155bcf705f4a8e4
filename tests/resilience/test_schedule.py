"""The per-call plan: sticky retries without hedging, spreading hedges across routes."""

from __future__ import annotations

import math
import random

import pytest

from llm_router import errors
from llm_router.resilience import AttemptKind, Disposition, RetryPolicy, Verdict
from llm_router.resilience.schedule import Launch, Schedule

RETRY = Verdict(Disposition.RETRY)
FAILOVER = Verdict(Disposition.FAILOVER)
FATAL = Verdict(Disposition.FATAL, route_fault=False)


def always(route: int, kind: AttemptKind) -> bool:
    return True


def schedule(routes: int = 2, *, max_attempts: int = 3, **kw: object) -> Schedule:
    policy = RetryPolicy(max_attempts=max_attempts, initial_delay=1.0, max_delay=1.0)
    return Schedule(routes, policy, random.Random(0), **kw)  # type: ignore[arg-type]


def start(plan: Schedule, now: float, **kw: float) -> Launch:
    launch = plan.next_launch(now, always)
    assert launch is not None
    plan.launched(launch, now, **kw)
    return launch


def test_first_attempt_goes_to_the_first_route_now() -> None:
    assert start(schedule(), 0.0) == Launch(0, 0.0, AttemptKind.FIRST)


@pytest.mark.parametrize("max_in_flight", [1, 2], ids=["one-at-a-time", "hedging"])
def test_first_attempt_skips_unusable_and_exhausted_routes(max_in_flight: int) -> None:
    plan = schedule(3, max_in_flight=max_in_flight)
    plan.routes[1].exhausted = True  # a breaker refused it at the last moment
    launch = plan.next_launch(5.0, lambda route, kind: route != 0)
    assert launch == Launch(2, 5.0, AttemptKind.FIRST)
    plan.routes[2].exhausted = True
    assert plan.next_launch(5.0, lambda route, kind: route != 0) is None


def test_nothing_new_while_the_single_attempt_runs() -> None:
    plan = schedule()
    start(plan, 0.0)
    assert plan.next_launch(1.0, always) is None


def test_a_retry_waits_for_backoff_on_the_same_route() -> None:
    plan = schedule()
    start(plan, 0.0)
    plan.failed(0, errors.OverloadedError("x"), RETRY, 2.0)
    launch = plan.next_launch(2.0, always)
    assert launch is not None and launch.route == 0 and launch.kind is AttemptKind.RETRY
    assert 2.0 <= launch.at <= 3.0  # full jitter within the 1 s ceiling


def test_retry_after_sets_the_wait_exactly() -> None:
    plan = schedule()
    start(plan, 0.0)
    plan.failed(0, errors.RateLimitError("x"), Verdict(Disposition.RETRY, retry_after=7), 1.0)
    assert plan.next_launch(1.0, always) == Launch(0, 8.0, AttemptKind.RETRY)


def test_exhausted_route_fails_over_at_once() -> None:
    plan = schedule(max_attempts=1)
    start(plan, 0.0)
    plan.failed(0, errors.OverloadedError("x"), RETRY, 1.0)
    assert plan.next_launch(1.0, always) == Launch(1, 1.0, AttemptKind.FAILOVER)


def test_failover_disposition_skips_remaining_retries() -> None:
    plan = schedule()
    start(plan, 0.0)
    plan.failed(0, errors.NotFoundError("x"), FAILOVER, 1.0)
    assert plan.next_launch(1.0, always) == Launch(1, 1.0, AttemptKind.FAILOVER)


def test_a_wait_over_the_cap_or_past_the_deadline_exhausts_the_route() -> None:
    plan = schedule(deadline=100.0)
    start(plan, 0.0)
    plan.failed(0, errors.RateLimitError("x"), Verdict(Disposition.RETRY, retry_after=61), 1.0)
    assert plan.routes[0].refused_wait == 61 and plan.routes[0].exhausted
    start(plan, 1.0)
    plan.failed(1, errors.RateLimitError("x"), Verdict(Disposition.RETRY, retry_after=50), 60.0)
    assert plan.routes[1].refused_wait == 50  # 60 + 50 > deadline 100
    assert plan.next_launch(60.0, always) is None


def test_fatal_stops_everything() -> None:
    plan = schedule()
    start(plan, 0.0)
    error = errors.UpstreamError("bad", status=400)
    plan.failed(0, error, FATAL, 1.0)
    assert plan.fatal is error
    assert plan.next_launch(1.0, always) is None


def test_unusable_retry_falls_through_to_the_next_route() -> None:
    plan = schedule()
    start(plan, 0.0)
    plan.failed(0, errors.OverloadedError("x"), RETRY, 1.0)

    def no_retries(route: int, kind: AttemptKind) -> bool:
        return kind is not AttemptKind.RETRY  # e.g. the retry budget is spent

    assert plan.next_launch(1.0, no_retries) == Launch(1, 1.0, AttemptKind.FAILOVER)


def test_hedge_is_due_after_the_delay_on_another_route() -> None:
    plan = schedule(routes=3, max_in_flight=2)
    start(plan, 0.0, hedge_delay=0.5)
    assert plan.hedge_at == 0.5
    assert plan.next_launch(0.1, always) == Launch(1, 0.5, AttemptKind.HEDGE)
    start(plan, 0.5, hedge_delay=0.5)
    assert plan.hedge_at == math.inf  # two in flight: the cap
    assert plan.next_launch(0.6, always) is None


def test_single_route_hedges_to_itself() -> None:
    plan = schedule(routes=1, max_in_flight=3)
    start(plan, 0.0, hedge_delay=0.2)
    assert plan.next_launch(0.0, always) == Launch(0, 0.2, AttemptKind.HEDGE)


def test_a_failure_while_hedging_relaunches_at_once_elsewhere() -> None:
    plan = schedule(routes=3, max_in_flight=2)
    start(plan, 0.0, hedge_delay=5.0)
    start(plan, 5.0, hedge_delay=5.0)  # route 1
    plan.failed(1, errors.OverloadedError("x"), RETRY, 5.5)
    # Route 1 backs off, route 0 is busy: route 2 starts now, not at the next hedge time.
    assert plan.next_launch(5.5, always) == Launch(2, 5.5, AttemptKind.FAILOVER)


def test_hedge_refused_stops_hedges() -> None:
    plan = schedule(max_in_flight=2)
    start(plan, 0.0, hedge_delay=0.5)
    plan.hedge_refused()
    assert plan.next_launch(10.0, always) is None


def test_needs_a_route() -> None:
    with pytest.raises(ValueError, match="at least one route"):
        schedule(routes=0)


def test_due_at_is_now_when_nothing_runs_or_a_failure_asks_for_more() -> None:
    plan = schedule(max_in_flight=2)
    assert plan.due_at(3.0) == 3.0
    start(plan, 3.0, hedge_delay=0.5)
    assert plan.due_at(3.1) == 3.5  # the hedge delay: no plan is needed before then
    plan.failed(0, errors.OverloadedError("x"), RETRY, 3.2)
    assert plan.due_at(3.2) == 3.2


def test_due_at_is_never_while_full_refused_or_fatal() -> None:
    plan = schedule(max_in_flight=2)
    start(plan, 0.0, hedge_delay=0.5)
    start(plan, 0.5, hedge_delay=0.5)
    assert plan.due_at(0.6) == math.inf  # two in flight: the cap
    plan.ended(1)
    assert plan.due_at(0.7) == math.inf  # no hedge after the second; only endings wake it
    one = schedule()
    start(one, 0.0)
    assert one.due_at(1.0) == math.inf  # without hedging: nothing while the attempt runs
    one.failed(0, errors.OverloadedError("x"), FATAL, 1.0)
    assert one.due_at(1.0) == math.inf


def test_due_at_is_never_later_than_the_launch_planned() -> None:
    plan = schedule(routes=3, max_in_flight=2)
    start(plan, 0.0, hedge_delay=0.5)
    launch = plan.next_launch(0.0, always)
    assert launch is not None and plan.due_at(0.0) <= launch.at
