"""Routers with separate Redis connections sharing one real Redis: latency windows steer every
router, and waiters of every router are admitted in the order they arrived.

Each router has its own `RedisState` (its own connection and queue of settles), exactly what
separate processes have; keeping them in one process lets the test order arrivals exactly.
Upstreams are scripted `httpx.MockTransport`s, so nothing but Redis is a socket.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import httpx
import orjson
import pytest
import trio

from llm_router import OpenAIProvider, RateLimitPolicy, RedisState, Router
from llm_router.resilience import RetryPolicy, TimeoutPolicy
from llm_router.strategies import latency

MODEL = "shared-model"
CHAT = {"model": MODEL, "messages": [{"role": "user", "content": "ping"}]}


class Upstream:
    """Answers after `delays[host]` seconds and notes which host each request reached."""

    def __init__(
        self, delays: dict[str, float], log: list[str] | None = None, tag: str = ""
    ) -> None:
        self.delays = delays
        self.seen: list[str] = []
        self.log = log
        self.tag = tag

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host.removesuffix(".test")
        self.seen.append(host)
        if self.log is not None:
            self.log.append(request.headers.get("x-request-id", self.tag))
        await trio.sleep(self.delays[host])
        body = {
            "id": "c1",
            "object": "chat.completion",
            "created": 1,
            "model": "m",
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": host},
                 "finish_reason": "stop"}
            ],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        }  # fmt: skip
        return httpx.Response(200, content=orjson.dumps(body))


@pytest.fixture(params=["redis", "cluster"])
def shared(request: pytest.FixtureRequest) -> tuple[str, bool]:
    """(URL, whether it is a Redis Cluster) of a freshly flushed server."""
    return request.getfixturevalue(f"{request.param}_url"), request.param == "cluster"


def build(
    upstream: Upstream,
    shared: tuple[str, bool],
    *,
    prefix: str,
    limit: RateLimitPolicy | None = None,
) -> Router:
    builder = Router.builder().with_transport(httpx.MockTransport(upstream))
    for host in upstream.delays:
        builder.add_provider(host, OpenAIProvider(base_url=f"http://{host}.test/v1"))
        builder.add_api_key(host, "sk-test-0123456789")
        builder.add_model_route(MODEL, host, "gpt-4o-mini")
    builder.with_strategy(latency(exploration=0.0))
    builder.with_retry_policy(RetryPolicy(max_attempts=1))
    builder.with_timeouts(TimeoutPolicy(total=30.0))
    if limit is not None:
        builder.with_rate_limits(limit, scope="model")
    url, cluster = shared
    builder.with_shared_state(RedisState(url, prefix=prefix, timeout=2.0, cluster=cluster))
    return builder.build()


@asynccontextmanager
async def opened(*routers: Router) -> AsyncIterator[None]:
    async with AsyncExitStack() as stack:
        for router in routers:
            await stack.enter_async_context(router)
        yield
    for router in routers:
        shared = router.statistics()["shared_state"]
        assert shared["fallbacks"] == 0, shared


async def test_a_slow_route_seen_by_one_router_steers_another(shared: tuple[str, bool]) -> None:
    # Router one measures both routes: "slow" answers in 0.2 s, "fast" at once.
    one = Upstream({"slow": 0.2, "fast": 0.0})
    router_one = build(one, shared, prefix="lat")
    # Router two lists "fast" first and has never sent to "slow".
    two = Upstream({"fast": 0.0, "slow": 0.2})
    router_two = build(two, shared, prefix="lat")
    async with opened(router_one, router_two):
        for _ in range(3):
            await router_one.complete(CHAT, "openai")
        assert one.seen[:2] == ["slow", "fast"]  # unmeasured routes first, then by latency
        await router_one._config.executor.limiter.state.flush()  # type: ignore[union-attr]
        for _ in range(3):
            await router_two.complete(CHAT, "openai")
        routes = router_two.statistics()["routes"]
    # On its own, router two would have tried the unmeasured "slow" route on its second
    # call; the shared window told it "slow" is slow.
    assert two.seen == ["fast", "fast", "fast"]
    assert routes["slow/gpt-4o-mini"]["latency_samples"] == 1
    assert routes["slow/gpt-4o-mini"]["latency_p50"] == pytest.approx(0.2, abs=0.1)


async def test_waiters_of_several_routers_are_admitted_in_arrival_order(
    shared: tuple[str, bool],
) -> None:
    period = 0.25
    limit = RateLimitPolicy(rpm=1, period=period, on_limit="wait")
    arrivals: list[str] = []
    upstreams = {name: Upstream({"only": 0.0}, arrivals, name) for name in "ABC"}
    routers = {
        name: build(up, shared, prefix="fifo", limit=limit) for name, up in upstreams.items()
    }
    order = ["A1", "B1", "C-gives-up", "A2", "B2", "A3", "C1"]
    async with opened(*routers.values()):
        await routers["A"].complete(
            CHAT, "openai", headers={"x-request-id": "A0"}
        )  # fills the window
        with trio.fail_after(10):  # far below the 10 s a stale ticket would hold the line
            async with trio.open_nursery() as nursery:
                for name in order:
                    router = routers[name[0]]
                    if name == "C-gives-up":

                        async def give_up(router: Router = router) -> None:
                            with trio.move_on_after(period / 2):
                                await router.complete(
                                    CHAT, "openai", headers={"x-request-id": "C!"}
                                )

                        nursery.start_soon(give_up)
                    else:
                        nursery.start_soon(
                            lambda r=router, n=name: r.complete(
                                CHAT, "openai", headers={"x-request-id": n}
                            )
                        )
                    await trio.sleep(0.02)  # each has taken its ticket before the next arrives
    assert arrivals == ["A0", "A1", "B1", "A2", "B2", "A3", "C1"]
