"""One suite, every backend: the in-process state and Redis behave the same.

Time is a hand-driven clock passed to every backend, so windows are exact and no test
sleeps. The shared runs are against real servers on loopback: a redis-server, a
valkey-server, and a three-node Redis Cluster (through coredis's `RedisCluster`; every key
carries the `{prefix}` hash tag, so each script's keys live in one slot).
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator

import pytest

from llm_router.ratelimit import Quota, ScopeLimits
from llm_router.state import (
    LatencyQuery,
    LatencyView,
    MemoryState,
    QueueRequest,
    RedisState,
    SharedState,
)


class Clock:
    def __init__(self, start: float = 1_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(params=["memory", "redis", "valkey", "cluster"])
async def state(request: pytest.FixtureRequest, clock: Clock) -> AsyncIterator[SharedState]:
    if request.param == "memory":
        yield MemoryState(clock=clock)
        return
    url = request.getfixturevalue(f"{request.param}_url")
    import trio

    redis = RedisState(
        url, prefix="suite", clock=clock, timeout=2.0, cluster=request.param == "cluster"
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(redis.run)
        assert redis.shared, f"could not connect to the test server ({request.param})"
        yield redis
        assert redis.fallbacks == 0
        nursery.cancel_scope.cancel()


def rpm(n: int, key: str = "route:a", period: float = 60.0) -> ScopeLimits:
    return ScopeLimits(key, n, None, None, period)


async def test_requests_per_window_are_exact(state: SharedState, clock: Clock) -> None:
    limits = [rpm(3)]
    for i in range(3):
        admission = await state.acquire([limits], f"r{i}", 0, lease=60)
        assert admission.index == 0
        clock.now += 10
    refused = await state.acquire([limits], "r3", 0, lease=60)
    assert refused.index is None
    # The oldest entry (t=0) leaves the window at t=60; it is now t=30.
    assert refused.waits == (pytest.approx(30.0),)
    clock.now += 29.999
    assert (await state.acquire([limits], "r4", 0, lease=60)).index is None
    clock.now += 0.001
    assert (await state.acquire([limits], "r5", 0, lease=60)).index == 0


async def test_first_group_with_room_is_admitted(state: SharedState, clock: Clock) -> None:
    a, b = [rpm(1, "route:a")], [rpm(5, "route:b")]
    assert (await state.acquire([a, b], "x1", 0, lease=60)).index == 0
    second = await state.acquire([a, b], "x2", 0, lease=60)
    assert second.index == 1
    assert second.waits[0] == pytest.approx(60.0)
    assert second.headroom[0] == 0.0
    assert second.headroom[1] == pytest.approx(1 - 1 / 5)
    # Nothing was counted on the refused group.
    clock.now += 60
    assert (await state.acquire([a], "x3", 0, lease=60)).index == 0


async def test_a_group_needs_every_scope(state: SharedState, clock: Clock) -> None:
    route, model = rpm(10, "route:a"), rpm(1, "model:m")
    assert (await state.acquire([[route, model]], "y1", 0, lease=60)).index == 0
    assert (await state.acquire([[route, model]], "y2", 0, lease=60)).index is None
    # The refused request did not use up the route's allowance.
    for i in range(9):
        assert (await state.acquire([[route]], f"z{i}", 0, lease=60)).index == 0
    assert (await state.acquire([[route]], "z9", 0, lease=60)).index is None


async def test_tokens_are_corrected_by_reported_usage(state: SharedState, clock: Clock) -> None:
    limits = ScopeLimits("route:t", None, 1000, None, 60.0)
    assert (await state.acquire([[limits]], "t1", 800, lease=60)).index == 0
    refused = await state.acquire([[limits]], "t2", 300, lease=60)
    assert refused.index is None and refused.waits == (pytest.approx(60.0),)
    await state.settle([limits], "t1", tokens=100, release=True)  # it really used 100
    assert (await state.acquire([[limits]], "t2", 300, lease=60)).index == 0
    clock.now += 30
    assert (await state.acquire([[limits]], "t3", 600, lease=60)).index == 0
    refused = await state.acquire([[limits]], "t4", 1, lease=60)
    # 100 + 300 + 600 = 1000: one more token waits for t1 (at t=0) to leave, at t=60.
    assert refused.waits == (pytest.approx(30.0),)


async def test_a_request_above_the_token_limit_is_admitted_alone(
    state: SharedState, clock: Clock
) -> None:
    limits = ScopeLimits("route:big", None, 100, None, 60.0)
    assert (await state.acquire([[limits]], "b1", 10, lease=60)).index == 0
    refused = await state.acquire([[limits]], "b2", 500, lease=60)
    assert refused.waits == (pytest.approx(60.0),)
    clock.now += 60
    assert (await state.acquire([[limits]], "b2", 500, lease=60)).index == 0


async def test_concurrency_slots_and_leases(state: SharedState, clock: Clock) -> None:
    limits = ScopeLimits("route:c", None, None, 2, 60.0)
    assert (await state.acquire([[limits]], "c1", 0, lease=5)).index == 0
    assert (await state.acquire([[limits]], "c2", 0, lease=5)).index == 0
    full = await state.acquire([[limits]], "c3", 0, lease=5)
    assert full.index is None and math.isinf(full.waits[0])
    await state.settle([limits], "c1", tokens=None, release=True)
    assert (await state.acquire([[limits]], "c3", 0, lease=5)).index == 0
    assert (await state.acquire([[limits]], "c4", 0, lease=5)).index is None
    clock.now += 5  # c2 and c3 never released (a crashed process): their leases run out
    assert (await state.acquire([[limits]], "c4", 0, lease=5)).index == 0


async def test_provider_quota_holds_requests_until_reset(state: SharedState, clock: Clock) -> None:
    limits = ScopeLimits("route:q", None, None, None, 60.0)
    quota = Quota(requests_remaining=1, requests_reset=clock.now + 20)
    await state.settle([], "", tokens=None, release=False, quotas={"route:q": quota})
    assert (await state.acquire([[limits]], "q1", 0, lease=60)).index == 0
    refused = await state.acquire([[limits]], "q2", 0, lease=60)
    assert refused.index is None and refused.waits == (pytest.approx(20.0),)
    clock.now += 20
    assert (await state.acquire([[limits]], "q2", 0, lease=60)).index == 0


async def test_token_quota(state: SharedState, clock: Clock) -> None:
    limits = ScopeLimits("route:tq", None, None, None, 60.0)
    quota = Quota(tokens_remaining=50, tokens_reset=clock.now + 7)
    await state.settle([], "", tokens=None, release=False, quotas={"route:tq": quota})
    refused = await state.acquire([[limits]], "tq1", 80, lease=60)
    assert refused.waits == (pytest.approx(7.0),)
    assert (await state.acquire([[limits]], "tq2", 40, lease=60)).index == 0


async def test_opened_circuits_are_seen_until_they_close(state: SharedState, clock: Clock) -> None:
    await state.settle([], "", tokens=None, release=False, opened={"a/m": 30.0})
    seen = await state.acquire([], "o1", 0, lease=60, circuits=["a/m", "b/m"])
    assert seen.open_circuits.keys() == {"a/m"}
    assert seen.open_circuits["a/m"] == pytest.approx(30.0, abs=1.0)
    # A shorter report does not shorten it.
    await state.settle([], "", tokens=None, release=False, opened={"a/m": 1.0})
    seen = await state.acquire([], "o2", 0, lease=60, circuits=["a/m"])
    assert seen.open_circuits["a/m"] == pytest.approx(30.0, abs=1.0)
    if isinstance(state, MemoryState):  # Redis expires keys on its own clock
        clock.now += 30
        assert (await state.acquire([], "o3", 0, lease=60, circuits=["a/m"])).open_circuits == {}


async def test_limits_expire_with_their_window(state: SharedState, clock: Clock) -> None:
    limits = [rpm(2, "route:w", period=1.0)]
    for i in range(2):
        assert (await state.acquire([limits], f"w{i}", 0, lease=60)).index == 0
    clock.now += 1.0
    assert (await state.acquire([limits], "w2", 0, lease=60)).index == 0
    assert (await state.acquire([limits], "w3", 0, lease=60)).index == 0
    assert (await state.acquire([limits], "w4", 0, lease=60)).index is None


async def test_budgets_are_shared_and_clamped(state: SharedState, clock: Clock) -> None:
    untouched = await state.acquire([], "u", 0, lease=60, budgets=["retry:a"])
    assert untouched.budgets == {}
    await state.settle([], "", tokens=None, release=False, budgets={"retry:a": (-1.0, 10.0, 10.0)})
    seen = await state.acquire([], "b1", 0, lease=60, budgets=["retry:a", "retry:b"])
    assert seen.budgets == {"retry:a": pytest.approx(9.0)}
    for _ in range(12):
        await state.settle(
            [], "", tokens=None, release=False, budgets={"retry:a": (-1.0, 10.0, 10.0)}
        )
    assert (await state.acquire([], "b2", 0, lease=60, budgets=["retry:a"])).budgets == {
        "retry:a": 0.0
    }
    await state.settle([], "", tokens=None, release=False, budgets={"retry:a": (0.1, 10.0, 10.0)})
    level = (await state.acquire([], "b3", 0, lease=60, budgets=["retry:a"])).budgets["retry:a"]
    assert level == pytest.approx(0.1)
    await state.settle([], "", tokens=None, release=False, budgets={"retry:a": (50.0, 10.0, 10.0)})
    level = (await state.acquire([], "b4", 0, lease=60, budgets=["retry:a"])).budgets["retry:a"]
    assert level == 10.0


# -- latency windows ---------------------------------------------------------------------------


def window(*keys: str, max_age: float = 300.0) -> LatencyQuery:
    return LatencyQuery(keys, (50.0, 95.0), max_age)


async def test_latency_windows_give_nearest_rank_percentiles(
    state: SharedState, clock: Clock
) -> None:
    for seconds in (0.4, 0.1, 0.3, 0.2, 2.0):
        state.record_latency("a/m", seconds, window=500, max_age=300.0)
    seen = await state.acquire([], "l1", 0, lease=60, latency=window("a/m", "b/m"))
    assert seen.latencies["a/m"] == LatencyView(5, {50.0: 0.3, 95.0: 2.0})
    assert seen.latencies["b/m"] == LatencyView(0, {})  # never measured


async def test_latency_windows_keep_the_last_samples_not_older_than_max_age(
    state: SharedState, clock: Clock
) -> None:
    for seconds in (5.0, 5.0, 5.0):
        state.record_latency("a/m", seconds, window=3, max_age=60.0)
        clock.now += 1
    clock.now += 50
    for seconds in (0.1, 0.2):  # the window holds 3: the first 5.0 leaves
        state.record_latency("a/m", seconds, window=3, max_age=60.0)
    seen = await state.acquire([], "l1", 0, lease=60, latency=window("a/m", max_age=60.0))
    assert seen.latencies["a/m"] == LatencyView(3, {50.0: 0.2, 95.0: 5.0})
    clock.now += 9.5  # the last 5.0 (recorded 59.5 s ago... now 60.5 s) has aged out
    seen = await state.acquire([], "l2", 0, lease=60, latency=window("a/m", max_age=60.0))
    assert seen.latencies["a/m"] == LatencyView(2, {50.0: 0.1, 95.0: 0.2})


# -- the wait queue ----------------------------------------------------------------------------


def line(key: str = "q", *, holds: bool = False, join: bool = True, size: int = 10) -> QueueRequest:
    return QueueRequest(key, holds=holds, join=join, max_queue=size, ttl=30.0)


async def test_waiters_are_admitted_in_arrival_order(state: SharedState, clock: Clock) -> None:
    limits = [rpm(1, "route:fifo", period=10.0)]
    assert (await state.acquire([limits], "w0", 0, lease=60, queue=line())).index == 0
    first = await state.acquire([limits], "w1", 0, lease=60, queue=line())
    second = await state.acquire([limits], "w2", 0, lease=60, queue=line())
    assert (first.index, first.queued, first.ahead) == (None, True, 0)
    assert (second.index, second.queued, second.ahead) == (None, True, 1)
    clock.now += 10  # room for one: the second waiter may not take it
    behind = await state.acquire([limits], "w2", 0, lease=60, queue=line(holds=True))
    assert (behind.index, behind.queued, behind.ahead) == (None, True, 1)
    # A newcomer without a ticket joins at the back, even with room in the limit.
    free = [rpm(100, "route:free")]
    late = await state.acquire([free], "w3", 0, lease=60, queue=line())
    assert (late.index, late.queued, late.ahead) == (None, True, 2)
    assert (await state.acquire([limits], "w1", 0, lease=60, queue=line(holds=True))).index == 0
    clock.now += 10
    assert (await state.acquire([limits], "w2", 0, lease=60, queue=line(holds=True))).index == 0
    assert (await state.acquire([free], "w3", 0, lease=60, queue=line(holds=True))).index == 0
    assert (await state.acquire([free], "w4", 0, lease=60, queue=line())).index == 0  # empty


async def test_the_queue_is_bounded_and_leaving_frees_a_place(
    state: SharedState, clock: Clock
) -> None:
    limits = [rpm(1, "route:bounded", period=10.0)]
    await state.acquire([limits], "b0", 0, lease=60, queue=line(size=2))
    for ident in ("b1", "b2"):
        assert (await state.acquire([limits], ident, 0, lease=60, queue=line(size=2))).queued
    full = await state.acquire([limits], "b3", 0, lease=60, queue=line(size=2))
    assert (full.index, full.queued, full.queue_full) == (None, False, True)
    await state.leave_queue("q", "b1")
    moved = await state.acquire([limits], "b2", 0, lease=60, queue=line(holds=True, size=2))
    assert moved.ahead == 0  # first now
    assert (await state.acquire([limits], "b3", 0, lease=60, queue=line(size=2))).queued


async def test_an_abandoned_ticket_expires(state: SharedState, clock: Clock) -> None:
    limits = [rpm(1, "route:crash", period=5.0)]
    await state.acquire([limits], "c0", 0, lease=60, queue=line())
    await state.acquire([limits], "crashed", 0, lease=60, queue=line())  # never looks again
    waiting = await state.acquire([limits], "c2", 0, lease=60, queue=line())
    assert waiting.ahead == 1
    clock.now += 30  # the crashed waiter's ticket was not renewed for its ttl
    assert (await state.acquire([limits], "c2", 0, lease=60, queue=line(holds=True))).index == 0


async def test_a_call_that_may_not_wait_takes_no_ticket(state: SharedState, clock: Clock) -> None:
    limits = [rpm(1, "route:nowait", period=10.0)]
    await state.acquire([limits], "n0", 0, lease=60, queue=line(join=False))
    refused = await state.acquire([limits], "n1", 0, lease=60, queue=line(join=False))
    assert (refused.index, refused.queued) == (None, False)
    clock.now += 10
    assert (await state.acquire([limits], "n2", 0, lease=60, queue=line(join=False))).index == 0


async def test_concurrent_admissions_are_exact(state: SharedState, clock: Clock) -> None:
    import trio

    limits = [rpm(5, "route:burst")]
    admitted: list[str] = []

    async def ask(ident: str) -> None:
        if (await state.acquire([limits], ident, 0, lease=60)).index == 0:
            admitted.append(ident)

    before = state.statistics().round_trips
    async with trio.open_nursery() as nursery:
        for i in range(8):
            nursery.start_soon(ask, f"burst{i}")
    assert len(admitted) == 5
    if isinstance(state, RedisState):  # asked in the same instant: they share round trips
        assert state.statistics().round_trips - before < 8
