"""Hundreds of random cancellations under pool contention must not leak a pool slot or a task.

Real loopback sockets against the fake provider with random latencies; a connection pool of
five; hedging on, so losers are cancelled too. A pool slot leaked by a cancellation (the
failure of httpcore's pool, encode/httpcore#1093, #961) shows up here as `in_use` above zero,
a connection left `connecting`, or the follow-up requests never getting a connection.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import orjson
import pytest
import trio

from llm_router import OpenAIProvider, Router
from llm_router.resilience import HedgePolicy, RetryPolicy
from llm_router_testing.fake import FAKE_KEYS, FakeProvider, open_fake_provider

SEED = 1729
OPERATIONS = 300
CONCURRENCY = 12
MAX_CONNECTIONS = 5
MODEL = "house-model"
CHAT = {"model": MODEL, "messages": [{"role": "user", "content": "stress"}]}
STREAM_CHAT = dict(CHAT, stream=True)
#: Mostly quick answers with a tail, so deadlines land in every stage of a call.
LATENCY = "0-5ms:0.6,5ms-40ms:0.3,40ms-120ms:0.1"
#: Deadlines are drawn up to this; a share of operations gets none, so finished calls are
#: mixed in however fast the machine is.
MAX_DEADLINE = 0.25
UNBOUNDED = 0.1


@dataclass(frozen=True)
class Operation:
    """One call and the deadline after which the caller gives up on it."""

    kind: str  # "complete", "stream" or "slow-stream" (events 5 ms apart)
    deadline: float


def plan(rng: random.Random) -> list[Operation]:
    kinds = ["complete", "stream", "slow-stream"]
    return [
        Operation(
            rng.choice(kinds),
            math.inf if rng.random() < UNBOUNDED else rng.uniform(0.0, MAX_DEADLINE),
        )
        for _ in range(OPERATIONS)
    ]


def task_count() -> int:
    def count(task: trio.lowlevel.Task) -> int:
        return 1 + sum(
            count(child) for nursery in task.child_nurseries for child in nursery.child_tasks
        )

    return count(trio.lowlevel.current_task())


def build(fake: FakeProvider) -> Router:
    builder = (
        Router.builder()
        .forward_headers("x-fake-")
        .with_limits(httpx.Limits(max_connections=MAX_CONNECTIONS))
        .with_retry_policy(RetryPolicy(max_attempts=2, initial_delay=0.01, max_delay=0.01))
        .with_hedge_policy(HedgePolicy(delay=0.02, max_extra_load=0.5))
    )
    for alias in ("primary", "secondary"):
        builder.add_provider(alias, OpenAIProvider(base_url=fake.url + "/v1"))
        builder.add_api_key(alias, FAKE_KEYS["openai"])
        builder.add_model_route(MODEL, alias, "gpt-4o-mini")
    return builder.build()


async def run(router: Router, operation: Operation) -> bool:
    """Run one operation under its deadline; True when it finished, False when cut short."""
    with trio.move_on_after(operation.deadline) as scope:
        if operation.kind == "complete":
            await router.complete(CHAT, "openai")
        else:
            slow = {"x-fake-inter-event-delay": "5ms"} if operation.kind == "slow-stream" else {}
            async with router.stream(STREAM_CHAT, "openai", headers=slow) as events:
                async for _ in events:
                    pass
    return not scope.cancelled_caught


@pytest.fixture
async def fake() -> AsyncIterator[FakeProvider]:
    """The fake with random latencies, served from the fixture's task (not counted below)."""
    async with open_fake_provider(latency=LATENCY, seed=SEED) as fake:
        yield fake


async def test_random_cancellations_leave_the_pool_and_tasks_clean(fake: FakeProvider) -> None:
    operations = plan(random.Random(SEED))
    async with build(fake) as router:
        tasks = task_count()
        outcomes: Counter[bool] = Counter()
        limiter = trio.CapacityLimiter(CONCURRENCY)

        async def one(operation: Operation) -> None:
            async with limiter:
                outcomes[await run(router, operation)] += 1

        with trio.fail_after(15):
            async with trio.open_nursery() as nursery:
                for operation in operations:
                    nursery.start_soon(one, operation)

        # Both ends of the race were exercised, and cancellations reached the server.
        assert outcomes[False] >= OPERATIONS // 10
        assert outcomes[True] >= sum(op.deadline == math.inf for op in operations)
        assert any(entry.disconnected for entry in fake.journal)
        stats = router.statistics()
        assert stats["pool"]["in_use"] == stats["pool"]["connecting"] == 0
        assert stats["pool"]["connections"] == stats["pool"]["idle"] <= MAX_CONNECTIONS
        assert stats["calls_in_flight"] == stats["open_streams"] == 0
        assert stats["requests_in_flight"] == stats["attempts_in_flight"] == 0
        assert task_count() == tasks

        # Every slot is usable again: a burst bigger than the pool completes normally.
        texts: list[str] = []
        streams: list[list[bytes]] = []

        async def complete() -> None:
            answer = orjson.loads((await router.complete(CHAT, "openai")).body)
            texts.append(answer["choices"][0]["message"]["content"])

        async def stream() -> None:
            async with router.stream(STREAM_CHAT, "openai") as events:
                streams.append([e.data async for e in events])

        with trio.fail_after(10):  # a leaked slot would make these wait for the pool timeout
            async with trio.open_nursery() as nursery:
                for _ in range(2 * MAX_CONNECTIONS):
                    nursery.start_soon(complete)
                    nursery.start_soon(stream)
        assert texts == ["You said: stress"] * 2 * MAX_CONNECTIONS
        assert len(streams) == 2 * MAX_CONNECTIONS
        assert all(events[-1] == b"[DONE]" for events in streams)
        assert router.statistics()["pool"]["in_use"] == 0
        assert task_count() == tasks
