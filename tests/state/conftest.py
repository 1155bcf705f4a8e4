from __future__ import annotations

from collections.abc import Iterator

import pytest

from llm_router_testing.redis_server import (
    RedisCluster,
    RedisServer,
    RedisUnavailable,
    running_redis,
    running_redis_cluster,
    running_valkey,
)


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


@pytest.fixture(scope="session")
def valkey_server() -> Iterator[RedisServer]:
    try:
        server_cm = running_valkey()
        server = server_cm.__enter__()
    except RedisUnavailable as exc:
        pytest.skip(str(exc))
    try:
        yield server
    finally:
        server_cm.__exit__(None, None, None)


@pytest.fixture
def valkey_url(valkey_server: RedisServer) -> str:
    valkey_server.flush()
    return valkey_server.url


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[RedisCluster]:
    try:
        cluster_cm = running_redis_cluster()
        cluster = cluster_cm.__enter__()
    except RedisUnavailable as exc:
        pytest.skip(str(exc))
    try:
        yield cluster
    finally:
        cluster_cm.__exit__(None, None, None)


@pytest.fixture
def cluster_url(redis_cluster: RedisCluster) -> str:
    redis_cluster.flush()
    return redis_cluster.url
