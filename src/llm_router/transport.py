"""The router's default httpx transport: HTTP/1.1 over the router's own connection pool.

httpx's default pool (httpcore's) hands a connection it creates to a *waiting* request; a
request cancelled after that hand-off but before using the connection leaves it behind in
state CONNECTING, holding a slot forever, until every call waits on a full pool of dead
slots (encode/httpcore#1093). Hedging and timeouts cancel requests all the time, so the
router owns its pool instead (`llm_router._pool`): each request opens its own connection in
its own task and gives it back on every path out, a wait for a slot is bounded by the pool
timeout (`PoolTimeoutError`), and the statistics report every connection's state.

The pool's cost per request is constant, where httpcore's re-examined every waiting request
against every connection on each change (7.8 ms of CPU a request at concurrency 50). The
exchange on each connection is the pool's own HTTP/1.1 code (`Http1Connection`) rather than
httpcore's over h11: a request's head is written and an answer's head parsed in one pass each,
and its body handed over piece by piece as read, which cost about a third of what h11's event
machinery did per streamed call. An httpx `Request` goes to the connection as it is (no
httpcore `Request` built from it), and parsed origins are kept.
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import AsyncIterable, AsyncIterator, Iterator
from typing import Any

import httpcore
import httpx

from llm_router._pool import ConnectionPool, Http1Connection, PooledConnection

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
        self._origins: dict[tuple[bytes, bytes, int | None], httpcore.Origin] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        key = (url.raw_scheme, url.raw_host, url.port)
        origin = self._origins.get(key)
        if origin is None:
            origin = self._origin(key)
        extensions = request.extensions
        timeouts = extensions.get("timeout", _NO_TIMEOUTS)
        try:
            content: bytes | None = request.content
        except httpx.RequestNotRead:  # a streamed body
            content = None
        assert isinstance(request.stream, AsyncIterable)
        connection = await self.pool.acquire(origin, max_wait=timeouts.get("pool"))
        try:
            with _httpx_errors():
                http = connection.http or await self.pool.connect(connection, extensions)
                status, reason, version, headers = await http.request(
                    request.method.encode("ascii"),
                    url.raw_path,
                    request.headers.raw,
                    content,
                    request.stream,
                    timeouts,
                )
        except BaseException:
            await self.pool.discard(connection)
            raise
        return httpx.Response(
            status_code=status,
            headers=headers,
            stream=_PooledBody(http, self.pool, connection),
            extensions={"http_version": version, "reason_phrase": reason},
        )

    def _origin(self, key: tuple[bytes, bytes, int | None]) -> httpcore.Origin:
        scheme, host, port = key
        default = _DEFAULT_PORTS.get(scheme)
        if default is None:
            raise httpx.UnsupportedProtocol(
                f"Request URL has an unsupported protocol '{scheme.decode('ascii', 'replace')}://'."
                if scheme
                else "Request URL is missing an 'http://' or 'https://' protocol."
            )
        if len(self._origins) >= _MAX_ORIGINS:
            self._origins.clear()
        origin = self._origins[key] = httpcore.Origin(scheme, host, port or default)
        return origin

    async def aclose(self) -> None:
        await self.pool.aclose()


_DEFAULT_PORTS = {b"http": 80, b"https": 443}
#: Origins kept once parsed (the routes' few upstreams; forgotten all at once past this).
_MAX_ORIGINS = 256
_NO_TIMEOUTS: dict[str, float | None] = {}


class _PooledBody(httpx.AsyncByteStream):
    """An answer's body; closing it gives its connection back to the pool, exactly once
    (kept when the body was read to its end on a reusable connection, else closed)."""

    def __init__(
        self, http: Http1Connection, pool: ConnectionPool, connection: PooledConnection
    ) -> None:
        self._http = http
        self._pool = pool
        self._connection: PooledConnection | None = connection

    def __aiter__(self) -> AsyncIterator[bytes]:
        return _Pieces(self)

    async def aclose(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            await self._pool.release(connection)  # never interrupted by cancellation


class _Pieces(AsyncIterator[bytes]):
    """A body's pieces as read (an iterator object: no generator frame per piece); none once
    the body was closed (its connection may serve another request by then)."""

    __slots__ = ("_body", "_read")

    def __init__(self, body: _PooledBody) -> None:
        self._body = body
        self._read = body._http.read_body

    @property
    def complete(self) -> bool:
        """Whether the body was read to its end: the next piece would be none (read by
        `llm_router.upstream.UpstreamStream`, which then ends the stream at once)."""
        return self._body._http.body_complete

    async def __anext__(self) -> bytes:
        if self._body._connection is None:
            raise httpx.StreamClosed()
        try:
            piece = await self._read()
        except Exception as exc:
            mapped = _as_httpx(exc)
            if mapped is None:
                raise
            raise mapped from exc
        if not piece:
            raise StopAsyncIteration
        return piece


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


def _as_httpx(exc: Exception) -> httpx.TransportError | None:
    """httpcore's exception `exc` as the httpx one callers of an httpx transport expect."""
    for kind in type(exc).__mro__:
        mapped = _HTTPCORE_TO_HTTPX.get(kind)
        if mapped is not None:
            return mapped(str(exc))
    return None


@contextlib.contextmanager
def _httpx_errors() -> Iterator[None]:
    """httpcore's exceptions as the httpx ones callers of an httpx transport expect."""
    try:
        yield
    except Exception as exc:
        mapped = _as_httpx(exc)
        if mapped is None:
            raise
        raise mapped from exc
