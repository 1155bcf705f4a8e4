"""Several router processes sharing one real Redis, driven against the fake provider.

Each worker is `python -m llm_router_testing.scale_worker`, a separate interpreter. The fake's
journal is the judge: arrival times (epoch, as the workers' windows are) show how many
requests really went out in every window.
"""

from __future__ import annotations

import sys
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson
import pytest
import trio

from llm_router_testing.fake import FakeProvider, open_fake_provider
from llm_router_testing.fake.journal import JournalEntry
from llm_router_testing.redis_server import RedisServer, RedisUnavailable, running_redis

#: Allowed slack when checking windows: the time between a worker's admission decision and
#: the request's arrival at the fake varies with scheduling and loopback latency (tens of
#: milliseconds on a loaded 2-core machine), so two requests admitted exactly `period` apart
#: may arrive a little closer together. Windows are checked `ARRIVAL_JITTER` shorter.
ARRIVAL_JITTER = 0.25


@pytest.fixture
async def fake() -> AsyncIterator[FakeProvider]:
    async with open_fake_provider() as server:
        yield server


async def run_workers(
    count: int, *args: str, stagger: Sequence[float] = ()
) -> list[dict[str, Any]]:
    reports: list[dict[str, Any]] = [{}] * count

    async def one(index: int) -> None:
        if stagger:
            await trio.sleep(stagger[index])
        done = await trio.run_process(
            [sys.executable, "-m", "llm_router_testing.scale_worker", *args],
            capture_stdout=True,
            capture_stderr=True,
        )
        reports[index] = orjson.loads(done.stdout.splitlines()[-1])

    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            for index in range(count):
                nursery.start_soon(one, index)
    return reports


def max_in_window(times: Sequence[float], period: float) -> int:
    times = sorted(times)
    best = 0
    for i, start in enumerate(times):
        best = max(best, sum(1 for t in times[i:] if t < start + period - ARRIVAL_JITTER))
    return best


@pytest.mark.parametrize("processes", [2, 4])
async def test_processes_share_one_limit(
    fake: FakeProvider, redis_url: str, processes: int
) -> None:
    rpm, period = 6, 1.0
    start_at = time.time() + 3.0  # every interpreter is up before anyone sends
    reports = await run_workers(
        processes,
        "--fake", fake.url, "--redis", redis_url,
        "--rpm", str(rpm), "--period", str(period),
        "--duration", "2.5", "--concurrency", "3", "--start-at", str(start_at),
        "--redis-timeout", "2.0",  # no fallback on a loaded machine: this test is about sharing
    )  # fmt: skip
    arrivals = [entry.wall_time for entry in fake.journal if entry.path.endswith("/completions")]
    assert all(r["fallbacks"] == 0 for r in reports), reports
    assert max_in_window(arrivals, period) <= rpm, sorted(t - start_at for t in arrivals)
    # The limit was used, not just respected: about rpm per period over 2.5 s, in total.
    assert len(arrivals) >= 2 * rpm
    assert sum(r["outcomes"].get("ok", 0) for r in reports) == len(arrivals)


async def test_a_call_costs_at_most_two_round_trips(fake: FakeProvider, redis_url: str) -> None:
    (report,) = await run_workers(
        1, "--fake", fake.url, "--redis", redis_url, "--rpm", "100000",
        "--requests", "20", "--duration", "20", "--concurrency", "2", "--redis-timeout", "2.0",
    )  # fmt: skip
    assert report["outcomes"] == {"ok": 20}
    # One to admit before the attempt (shared with admissions asked for at the same moment);
    # the settle after it rides with the process's next admission, or goes alone (a second
    # round trip) when none comes within the flush delay.
    assert 0 < report["round_trips"] <= 2 * 20


async def test_without_shared_state_each_process_has_its_own_limit(fake: FakeProvider) -> None:
    rpm, period = 6, 1.0
    start_at = time.time() + 3.0
    await run_workers(
        2,
        "--fake", fake.url, "--rpm", str(rpm), "--period", str(period),
        "--duration", "1.0", "--concurrency", "3", "--start-at", str(start_at),
    )  # fmt: skip
    arrivals = [entry.wall_time for entry in fake.journal if entry.path.endswith("/completions")]
    assert max_in_window(arrivals, period) == 2 * rpm  # what Redis is for


async def test_a_circuit_opened_in_one_process_is_open_in_the_others(
    fake: FakeProvider, redis_url: str
) -> None:
    common = ("--fake", fake.url, "--redis", redis_url, "--dead-first", "--concurrency", "1",
              "--redis-timeout", "2.0")  # fmt: skip
    (opener,) = await run_workers(1, *common, "--requests", "3", "--duration", "10")
    # The first two calls tried the dead route (two failures open its circuit), the third not.
    assert opener["attempted"] == {"dead": 2, "live": 3}, opener
    others = await run_workers(3, *common, "--requests", "2", "--duration", "10")
    for report in others:
        assert report["attempted"] == {"live": 2}, report  # never tried the open route
        assert report["outcomes"] == {"ok": 2}


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    """A redis-server of this test alone (it gets killed)."""
    try:
        context = running_redis()
        server = context.__enter__()
    except RedisUnavailable as exc:
        pytest.skip(str(exc))
    try:
        yield server
    finally:
        context.__exit__(None, None, None)


async def test_redis_killed_and_restarted_mid_run(
    fake: FakeProvider, own_redis: RedisServer, tmp_path: Path
) -> None:
    stop_file = tmp_path / "stop"

    async def chaos() -> None:
        # Kill Redis once both workers are sending, bring it back 1.5 s later, let them share
        # again for a while, then tell them to stop.
        senders: set[str] = set()

        def both_sending(entry: JournalEntry) -> bool:
            senders.add(entry.headers.get("x-request-id", ""))
            return len(senders - {""}) >= 2

        await fake.journal.wait_for(both_sending)
        own_redis.stop()
        await trio.sleep(1.5)
        own_redis.start()
        await trio.sleep(1.5)
        stop_file.touch()

    # The limit is shared through Redis (and falls back to a per-process share while Redis is
    # away) but is far above what two workers can send in the few seconds this runs, so no
    # call is ever refused by it: this test is about losing no request, not about the limit.
    async with trio.open_nursery() as nursery:
        nursery.start_soon(chaos)
        reports = await run_workers(
            2,
            "--fake", fake.url, "--redis", own_redis.url, "--rpm", "100000",
            "--duration", "40", "--stop-file", str(stop_file),
            "--concurrency", "4", "--redis-timeout", "0.3",
        )  # fmt: skip
    for report in reports:
        outcomes = report["outcomes"]
        assert set(outcomes) <= {"ok", "unfinished"}, report  # no request lost or failed
        assert outcomes["ok"] > 20
        assert report["fallbacks"] >= 1  # it noticed Redis going away...
        assert report["reconnects"] >= 1, report  # ...and shared again after the restart
        # Never stalled behind Redis: the fallback timeout is 0.3 s; the bound is generous
        # for a loaded machine, far below a TCP timeout or the 30 s call deadline.
        assert report["slowest"] < 2.0, report
