from __future__ import annotations

from collections.abc import Iterator

import pytest

from llm_router_testing.redis_server import RedisServer, RedisUnavailable, running_redis


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    try:
        server_cm = running_redis()
        server = server_cm.__enter__()
    except RedisUnavailable as exc:
        pytest.skip(str(exc))
    try:
        yield server
    finally:
        server_cm.__exit__(None, None, None)


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    redis_server.flush()
    return redis_server.url
