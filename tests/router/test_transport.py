"""The sharded default transport: limits split exactly, requests spread, statistics summed."""

from __future__ import annotations

import httpx
import orjson
import pytest

from llm_router import OpenAIProvider, Router
from llm_router.transport import ShardedTransport, pool_statistics
from llm_router_testing.fake import FAKE_KEYS, FakeProvider, open_fake_provider


@pytest.mark.parametrize(
    ("total", "shards", "expected"),
    [
        (100, 4, [25, 25, 25, 25]),
        (50, 4, [17, 17, 16]),  # three pools of at least 16 connections each
        (20, 4, [20]),  # too small to split
        (5, 4, [5]),
        (None, 2, [None, None]),
    ],
)
def test_limits_are_split_into_pools_of_at_least_sixteen(
    total: int | None, shards: int, expected: list[int | None]
) -> None:
    transport = ShardedTransport(limits=httpx.Limits(max_connections=total), shards=shards)
    assert [
        shard._pool._max_connections if total else None for shard in transport.shards
    ] == expected


def test_shards_must_be_positive() -> None:
    with pytest.raises(ValueError, match="shards must be at least 1"):
        ShardedTransport(limits=httpx.Limits(), shards=0)


async def test_requests_spread_over_pools_and_statistics_add_up() -> None:
    async with open_fake_provider() as fake:
        router = _router(fake)
        async with router:
            for _ in range(8):
                await router.complete(
                    {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}]},
                    "openai",
                )
            transport = router._client._transport  # type: ignore[union-attr]
            assert isinstance(transport, ShardedTransport)
            used = [len(shard._pool.connections) for shard in transport.shards]
            assert used == [
                1,
                1,
                1,
                1,
            ]  # round robin: every pool served two calls on one connection
            assert router.statistics()["pool"] == {"connections": 4, "idle": 4, "in_use": 0}
            assert pool_statistics(transport) == router.statistics()["pool"]
        assert len(fake.journal) == 8 and all(orjson.loads(e.body)["model"] for e in fake.journal)


def test_transports_without_a_pool_report_zeros() -> None:
    assert pool_statistics(httpx.MockTransport(lambda r: httpx.Response(200))) == {
        "connections": 0,
        "idle": 0,
        "in_use": 0,
    }


def _router(fake: FakeProvider) -> Router:
    return (
        Router.builder()
        .add_provider("openai", OpenAIProvider(base_url=fake.url + "/v1"))
        .add_api_key("openai", FAKE_KEYS["openai"])
        .build()
    )
