"""The router's HTTP/1.1 connection pool: which connection serves which request, and when a
request waits. Wire work (TCP, TLS, h11 framing) is httpcore's single-connection code, over
a socket stream that sends a request's head and small body in one write.

Every connection has exactly one owner at any moment: the pool (while idle) or the one task
that acquired it (while connecting or active). A task connects its own connection and gives
it back on every path out, so a cancelled request cannot leave a connection behind. Each
decision about the pool's state is taken between two checkpoints (nothing awaits while the
state is inconsistent), and every await is followed by a fresh look at that state.
"""

from __future__ import annotations

import contextlib
import enum
import math
import ssl
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import httpcore
import trio

from llm_router import errors

__all__ = ["ConnectionPool", "ConnectionState", "PooledConnection"]


_OriginKey = tuple[bytes, bytes, int]


def _key(origin: httpcore.Origin) -> _OriginKey:
    return (origin.scheme, origin.host, origin.port)


class ConnectionState(enum.Enum):
    CONNECTING = "connecting"  # owned by a task opening the socket (and TLS)
    ACTIVE = "active"  # owned by a task sending a request or reading its answer
    IDLE = "idle"  # owned by the pool, ready for the next request to its origin


@dataclass(eq=False)
class PooledConnection:
    """One pool slot: its origin, state, and the HTTP/1.1 connection once it is open."""

    origin: httpcore.Origin
    state: ConnectionState
    http: httpcore.AsyncHTTP11Connection | None = None


class ConnectionPool:
    """At most `max_connections` connections (None: no limit), of which at most
    `max_keepalive` stay open while idle; a request waits at most `pool_timeout` seconds for
    a slot, then fails with `PoolTimeoutError`.

    Cost per request is constant: idle connections are kept in one stack per origin, and a
    freed slot wakes exactly one waiting request.
    """

    def __init__(
        self,
        *,
        max_connections: int | None,
        max_keepalive: int | None,
        keepalive_expiry: float | None,
        pool_timeout: float,
        ssl_context: ssl.SSLContext,
        network_backend: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        if max_connections is not None and max_connections < 1:
            raise ValueError(f"max_connections must be at least 1, got {max_connections}")
        if not (pool_timeout > 0 and math.isfinite(pool_timeout)):
            raise ValueError(f"pool_timeout must be a finite number > 0, got {pool_timeout}")
        self.max_connections = max_connections
        self.max_keepalive = max_keepalive
        self.keepalive_expiry = keepalive_expiry
        self.pool_timeout = pool_timeout
        self._ssl_context = ssl_context
        self._backend = network_backend or httpcore.TrioBackend()
        self._connections: set[PooledConnection] = set()
        self._idle: dict[_OriginKey, list[PooledConnection]] = {}
        self._idle_count = 0
        self._freed = trio.lowlevel.ParkingLot()
        self._closed = False

    # -- the one path a request takes -------------------------------------------------------------
    async def acquire(
        self, origin: httpcore.Origin, *, max_wait: float | None = None
    ) -> PooledConnection:
        """A connection for one request to `origin`: an idle one (ACTIVE now) or a new slot in
        state CONNECTING (open it with `connect`). From here on the caller owns it and must
        hand it back with `release` or `discard` on every path, cancellation included."""
        limit = self.pool_timeout if max_wait is None else max_wait
        deadline = trio.current_time() + limit
        while True:
            if self._closed:
                raise RuntimeError("the connection pool is closed")
            connection, doomed = self._checkout(origin)
            if doomed:
                await self._close(doomed)
            if connection is not None:
                return connection
            with trio.move_on_at(deadline) as waited:
                await self._freed.park()
            if waited.cancelled_caught:
                raise errors.PoolTimeoutError(
                    f"no connection to {origin.host.decode('ascii', 'replace')} became free "
                    f"within {limit:g} s: all {self.max_connections} connections of the pool "
                    "are in use (raise max_connections with "
                    "Router.builder().with_limits(httpx.Limits(max_connections=...)), or lower "
                    "the load)",
                    limit=self.max_connections,
                    timeout=limit,
                )

    async def connect(
        self, connection: PooledConnection, request: httpcore.Request
    ) -> httpcore.AsyncHTTP11Connection:
        """Open a CONNECTING slot's socket (and TLS); the slot becomes ACTIVE. On failure the
        slot is still the caller's to `discard`."""
        origin = connection.origin
        timeouts = request.extensions.get("timeout", {})
        timeout = timeouts.get("connect")
        host = origin.host.decode("ascii")
        stream = await self._backend.connect_tcp(host, origin.port, timeout=timeout)
        try:
            if origin.scheme == b"https":
                server_hostname = request.extensions.get("sni_hostname") or host
                stream = await stream.start_tls(self._ssl_context, server_hostname, timeout)
        except BaseException:
            with trio.CancelScope(shield=True):
                await stream.aclose()
            raise
        connection.http = httpcore.AsyncHTTP11Connection(
            origin, _CoalescingStream(stream), self.keepalive_expiry
        )
        connection.state = ConnectionState.ACTIVE
        return connection.http

    async def release(self, connection: PooledConnection) -> None:
        """Give back a connection whose answer was closed: kept idle when it can serve
        another request, closed otherwise. Never interrupted by cancellation."""
        http = connection.http
        reusable = (
            not self._closed
            and http is not None
            and http.is_idle()
            and not http.has_expired()
            and (
                self.max_keepalive is None
                or self._idle_count < self.max_keepalive
                or self._freed.statistics().tasks_waiting > 0
            )
        )
        if not reusable:
            await self.discard(connection)
            return
        connection.state = ConnectionState.IDLE
        self._idle.setdefault(_key(connection.origin), []).append(connection)
        self._idle_count += 1
        self._freed.unpark()

    async def discard(self, connection: PooledConnection) -> None:
        """Close a connection and free its slot (after a failure, a cancellation, or an
        answer not read to its end). Never interrupted by cancellation."""
        self._forget(connection)
        await self._close([connection])

    async def aclose(self) -> None:
        """Close every idle connection; connections still owned close when given back."""
        self._closed = True
        doomed = [c for stack in self._idle.values() for c in stack]
        for connection in doomed:
            self._forget(connection)
        await self._close(doomed)
        self._freed.unpark_all()

    def statistics(self) -> dict[str, int | None]:
        """Every connection by state, and the requests waiting for one. `in_use` counts the
        requests holding or awaiting a connection: 0 once every call has ended."""
        counts = dict.fromkeys(ConnectionState, 0)
        for connection in self._connections:
            counts[connection.state] += 1
        waiting = self._freed.statistics().tasks_waiting
        busy = counts[ConnectionState.CONNECTING] + counts[ConnectionState.ACTIVE]
        return {
            "max_connections": self.max_connections,
            "connections": len(self._connections),
            "connecting": counts[ConnectionState.CONNECTING],
            "active": counts[ConnectionState.ACTIVE],
            "idle": counts[ConnectionState.IDLE],
            "waiting": waiting,
            "in_use": busy + waiting,
        }

    # -- bookkeeping: synchronous, so no other task sees it half done ---------------------------
    def _checkout(
        self, origin: httpcore.Origin
    ) -> tuple[PooledConnection | None, list[PooledConnection]]:
        """The connection this request gets now (or None: wait), and connections to close."""
        doomed: list[PooledConnection] = []
        key = _key(origin)
        stack = self._idle.get(key)
        while stack:
            connection = self._pop_idle(key, stack)
            assert connection.http is not None
            if connection.http.has_expired():
                self._forget(connection)
                doomed.append(connection)
                continue
            connection.state = ConnectionState.ACTIVE
            return connection, doomed
        if self.max_connections is not None and len(self._connections) >= self.max_connections:
            victim = self._oldest_idle()
            if victim is None:
                return None, doomed
            self._forget(victim)  # an idle connection to another origin makes room
            doomed.append(victim)
        connection = PooledConnection(origin, ConnectionState.CONNECTING)
        self._connections.add(connection)
        return connection, doomed

    def _pop_idle(self, key: _OriginKey, stack: list[PooledConnection]) -> PooledConnection:
        connection = stack.pop()  # the most recently used: the likeliest to be still open
        if not stack:
            del self._idle[key]
        self._idle_count -= 1
        return connection

    def _oldest_idle(self) -> PooledConnection | None:
        for key, stack in self._idle.items():
            connection = stack.pop(0)
            if not stack:
                del self._idle[key]
            self._idle_count -= 1
            return connection
        return None

    def _forget(self, connection: PooledConnection) -> None:
        """Drop a connection from the pool's books; its slot is free for a waiting request."""
        if connection not in self._connections:
            return
        self._connections.discard(connection)
        if connection.state is ConnectionState.IDLE:
            key = _key(connection.origin)
            stack = self._idle.get(key, [])
            if connection in stack:
                stack.remove(connection)
                self._idle_count -= 1
                if not stack:
                    self._idle.pop(key, None)
        self._freed.unpark()

    async def _close(self, connections: Iterable[PooledConnection]) -> None:
        """Close sockets already dropped from the books (a failure to close changes nothing)."""
        with trio.CancelScope(shield=True):
            for connection in connections:
                if connection.http is not None:
                    with contextlib.suppress(Exception):
                        await connection.http.aclose()


#: Writes are held back (until the answer is read) while they add up to at most this much.
COALESCE_BYTES = 64 * 1024


class _CoalescingStream(httpcore.AsyncNetworkStream):
    """A connection's socket stream, holding writes back until the first read after them.

    httpcore writes a request's head and its body separately: two segments, and two wake-ups
    of the server, for what is nearly always one small request. Held back and sent at the
    first read (the answer's head) they go out in one write. A write that would hold more
    than `COALESCE_BYTES` goes out at once, after what was held.
    """

    def __init__(self, stream: httpcore.AsyncNetworkStream) -> None:
        self._stream = stream
        self._held: list[bytes] = []
        self._held_bytes = 0
        self._timeout: float | None = None

    # The `timeout` parameters are httpcore's network-stream interface.
    async def write(self, buffer: bytes, timeout: float | None = None) -> None:  # noqa: ASYNC109
        if not buffer:
            return
        if self._held_bytes + len(buffer) <= COALESCE_BYTES:
            self._held.append(buffer)
            self._held_bytes += len(buffer)
            self._timeout = timeout
            return
        await self._flush()
        await self._stream.write(buffer, timeout)

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:  # noqa: ASYNC109
        if self._held:
            await self._flush()
        return await self._stream.read(max_bytes, timeout)

    async def _flush(self) -> None:
        held, self._held, self._held_bytes = self._held, [], 0
        if held:
            await self._stream.write(held[0] if len(held) == 1 else b"".join(held), self._timeout)

    async def aclose(self) -> None:
        self._held, self._held_bytes = [], 0  # a request never sent: its connection is closing
        await self._stream.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> httpcore.AsyncNetworkStream:
        await self._flush()
        return _CoalescingStream(
            await self._stream.start_tls(ssl_context, server_hostname, timeout)
        )

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)
