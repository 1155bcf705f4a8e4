"""The router's default httpx transport: HTTP/1.1 over the router's own connection pool.

httpx's default pool (httpcore's) hands a connection it creates to a *waiting* request; a
request cancelled after that hand-off but before using the connection leaves it behind in
state CONNECTING, holding a slot forever, until every call waits on a full pool of dead
slots (encode/httpcore#1093). Hedging and timeouts cancel requests all the time, so the
router owns its pool instead (`llm_router._pool`): each request opens its own connection in
its own task and gives it back on every path out, a wait for a slot is bounded by the pool
timeout (`PoolTimeoutError`), and the statistics report every connection's state.

The pool's cost per request is constant, where httpcore's re-examined every waiting request
against every connection on each change (7.8 ms of CPU a request at concurrency 50).
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import AsyncIterable, AsyncIterator, Iterator
from typing import Any

import httpcore
import httpx
import trio

from llm_router._pool import ConnectionPool, PooledConnection

__all__ = ["DEFAULT_POOL_TIMEOUT", "PoolTransport", "pool_statistics"]

#: Seconds a request waits for a free connection before `PoolTimeoutError`.
DEFAULT_POOL_TIMEOUT = 30.0


class PoolTransport(httpx.AsyncBaseTransport):
    """An httpx transport over one `ConnectionPool` sized by `limits`."""

    def __init__(
        self,
        *,
        limits: httpx.Limits,
        pool_timeout: float = DEFAULT_POOL_TIMEOUT,
        ssl_context: ssl.SSLContext | None = None,
        network_backend: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        context = ssl_context or httpx.create_ssl_context()
        context.set_alpn_protocols(["http/1.1"])
        self.pool = ConnectionPool(
            max_connections=limits.max_connections,
            max_keepalive=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            pool_timeout=pool_timeout,
            ssl_context=context,
            network_backend=network_backend,
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, httpx.AsyncByteStream)
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        timeouts = request.extensions.get("timeout", {})
        connection = await self.pool.acquire(core_request.url.origin, max_wait=timeouts.get("pool"))
        try:
            with _httpx_errors():
                http = connection.http or await self.pool.connect(connection, core_request)
                response = await http.handle_async_request(core_request)
        except BaseException:
            await self.pool.discard(connection)
            raise
        assert isinstance(response.stream, AsyncIterable)
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_PooledBody(response.stream, self.pool, connection),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self.pool.aclose()


class _PooledBody(httpx.AsyncByteStream):
    """An answer's body; closing it gives its connection back to the pool, exactly once."""

    def __init__(
        self, stream: AsyncIterable[bytes], pool: ConnectionPool, connection: PooledConnection
    ) -> None:
        self._stream = stream
        self._pool = pool
        self._connection: PooledConnection | None = connection

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _httpx_errors():
            async for chunk in self._stream:
                yield chunk

    async def aclose(self) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        with trio.CancelScope(shield=True):
            try:
                with _httpx_errors():
                    await self._stream.aclose()  # type: ignore[attr-defined]
            finally:
                await self._pool.release(connection)


def pool_statistics(transport: object) -> dict[str, Any]:
    """The router's pool behind `transport`, every connection by state (see
    `ConnectionPool.statistics`); zeros for other transports (mocks, cassettes, proxies)."""
    if isinstance(transport, PoolTransport):
        return transport.pool.statistics()
    return {
        "max_connections": None,
        "connections": 0,
        "connecting": 0,
        "active": 0,
        "idle": 0,
        "waiting": 0,
        "in_use": 0,
    }


_HTTPCORE_TO_HTTPX: dict[type[Exception], type[httpx.TransportError]] = {
    httpcore.ConnectTimeout: httpx.ConnectTimeout,
    httpcore.ReadTimeout: httpx.ReadTimeout,
    httpcore.WriteTimeout: httpx.WriteTimeout,
    httpcore.PoolTimeout: httpx.PoolTimeout,
    httpcore.TimeoutException: httpx.TimeoutException,
    httpcore.ConnectError: httpx.ConnectError,
    httpcore.ReadError: httpx.ReadError,
    httpcore.WriteError: httpx.WriteError,
    httpcore.NetworkError: httpx.NetworkError,
    httpcore.UnsupportedProtocol: httpx.UnsupportedProtocol,
    httpcore.LocalProtocolError: httpx.LocalProtocolError,
    httpcore.RemoteProtocolError: httpx.RemoteProtocolError,
    httpcore.ProtocolError: httpx.ProtocolError,
    # Each connection serves one request at a time by construction; should that ever fail,
    # it is a lost connection like any other.
    httpcore.ConnectionNotAvailable: httpx.ConnectError,
}


@contextlib.contextmanager
def _httpx_errors() -> Iterator[None]:
    """httpcore's exceptions as the httpx ones callers of an httpx transport expect."""
    try:
        yield
    except Exception as exc:
        for kind in type(exc).__mro__:
            mapped = _HTTPCORE_TO_HTTPX.get(kind)
            if mapped is not None:
                raise mapped(str(exc)) from exc
        raise
