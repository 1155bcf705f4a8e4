from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import TypeVar

import pytest

from llm_router_testing.redis_server import (
    RedisCluster,
    RedisServer,
    RedisUnavailable,
    running_redis,
    running_redis_cluster,
    running_valkey,
)

T = TypeVar("T")


def _running_or_skip(running: AbstractContextManager[T]) -> Iterator[T]:
    """Enter `running` (a server starting) for a fixture's lifetime; skip when the server
    binary is not installed."""
    try:
        server = running.__enter__()
    except RedisUnavailable as exc:
        pytest.skip(str(exc))
    try:
        yield server
    finally:
        running.__exit__(None, None, None)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    yield from _running_or_skip(running_redis())


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    redis_server.flush()
    return redis_server.url


@pytest.fixture(scope="session")
def valkey_server() -> Iterator[RedisServer]:
    yield from _running_or_skip(running_valkey())


@pytest.fixture
def valkey_url(valkey_server: RedisServer) -> str:
    valkey_server.flush()
    return valkey_server.url


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[RedisCluster]:
    yield from _running_or_skip(running_redis_cluster())


@pytest.fixture
def cluster_url(redis_cluster: RedisCluster) -> str:
    redis_cluster.flush()
    return redis_cluster.url
