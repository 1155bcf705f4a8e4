"""The router's default httpx transport: several small connection pools behind one transport.

httpcore's connection pool re-examines every waiting request against every connection each
time a request starts or ends, so its CPU cost per request grows with the product of the two.
At 50 concurrent calls that bookkeeping dominates the router's CPU (about 8 ms a request on a
2-core machine against under 3 ms at 10). Spreading requests round-robin over a few pools
keeps each pool small; connections are still reused within each pool.
"""

from __future__ import annotations

import itertools

import httpx

__all__ = ["ShardedTransport", "pool_statistics"]


#: A pool is split only while every part keeps at least this many connections.
MIN_CONNECTIONS_PER_SHARD = 16


class ShardedTransport(httpx.AsyncBaseTransport):
    """`shards` independent `httpx.AsyncHTTPTransport`s sharing `limits` between them."""

    def __init__(self, *, limits: httpx.Limits, shards: int = 4) -> None:
        if shards < 1:
            raise ValueError(f"shards must be at least 1, got {shards}")
        if limits.max_connections is not None:
            # Small pools gain nothing from splitting, and a pool of one or two connections
            # turns one slow or stuck request into head-of-line blocking for its share of calls.
            shards = max(1, min(shards, limits.max_connections // MIN_CONNECTIONS_PER_SHARD))
        self._shards = [
            httpx.AsyncHTTPTransport(limits=_share(limits, shards, index))
            for index in range(shards)
        ]
        self._next = itertools.cycle(self._shards)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await next(self._next).handle_async_request(request)

    async def aclose(self) -> None:
        for shard in self._shards:
            await shard.aclose()

    @property
    def shards(self) -> tuple[httpx.AsyncHTTPTransport, ...]:
        return tuple(self._shards)


def pool_statistics(transport: object) -> dict[str, int]:
    """Connections of httpx's own pools behind `transport`: total, idle, and requests holding
    or awaiting one (`in_use` drops to 0 once every call has finished or been cancelled).
    Zeros for transports without an httpcore pool (mocks, cassettes, proxies of other kinds)."""
    shards = transport.shards if isinstance(transport, ShardedTransport) else (transport,)
    pools = [p for p in (getattr(shard, "_pool", None) for shard in shards) if p is not None]
    connections = [c for pool in pools for c in pool.connections]
    return {
        "connections": len(connections),
        "idle": sum(1 for c in connections if c.is_idle()),
        "in_use": sum(len(pool._requests) for pool in pools),
    }


def _share(limits: httpx.Limits, shards: int, index: int) -> httpx.Limits:
    """Shard `index`'s part of `limits`: the totals split as evenly as whole numbers allow."""

    def part(total: int | None) -> int | None:
        return None if total is None else total // shards + (1 if index < total % shards else 0)

    return httpx.Limits(
        max_connections=part(limits.max_connections),
        max_keepalive_connections=part(limits.max_keepalive_connections),
        keepalive_expiry=limits.keepalive_expiry,
    )
