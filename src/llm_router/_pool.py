"""The router's HTTP/1.1 connection pool: which connection serves which request, and when a
request waits; and the HTTP/1.1 exchange on each connection (`Http1Connection`). Sockets and
TLS are httpcore's network backend; the framing is done here, over a socket stream that sends
a request's head and small body in one write.

Every connection has exactly one owner at any moment: the pool (while idle) or the one task
that acquired it (while connecting or active). A task connects its own connection and gives
it back on every path out, so a cancelled request cannot leave a connection behind. Each
decision about the pool's state is taken between two checkpoints (nothing awaits while the
state is inconsistent), and every await is followed by a fresh look at that state.
"""

from __future__ import annotations

import contextlib
import enum
import logging
import math
import re
import ssl
import time
from collections.abc import AsyncIterable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import httpcore
import trio

from llm_router import errors

__all__ = ["ConnectionPool", "ConnectionState", "Http1Connection", "PooledConnection"]


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
    http: Http1Connection | None = None


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
        self._backend = network_backend
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
        deadline: float | None = None  # from the first wait on
        while True:
            if self._closed:
                raise RuntimeError("the connection pool is closed")
            connection, doomed = self._checkout(origin)
            if doomed:
                await self._close(doomed)
            if connection is not None:
                return connection
            if deadline is None:
                deadline = trio.current_time() + limit
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
        self, connection: PooledConnection, extensions: Mapping[str, Any]
    ) -> Http1Connection:
        """Open a CONNECTING slot's socket (and TLS); the slot becomes ACTIVE. On failure the
        slot is still the caller's to `discard`. `extensions` are the request's (httpx's
        `timeout` and `sni_hostname`)."""
        origin = connection.origin
        timeouts = extensions.get("timeout", {})
        timeout = timeouts.get("connect")
        host = origin.host.decode("ascii")
        if self._backend is None:
            stream: httpcore.AsyncNetworkStream = await _connect_tcp(host, origin.port, timeout)
        else:
            stream = await self._backend.connect_tcp(host, origin.port, timeout=timeout)
        try:
            if origin.scheme == b"https":
                server_hostname = extensions.get("sni_hostname") or host
                stream = await stream.start_tls(self._ssl_context, server_hostname, timeout)
        except BaseException:
            with trio.CancelScope(shield=True):
                await stream.aclose()
            raise
        connection.http = Http1Connection(_CoalescingStream(stream), self.keepalive_expiry)
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
            and not http.has_expired(check_socket=False)  # looked at when taken again
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
        if self._freed:  # a request waits for a slot
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
        if self._freed:  # a request waits for a slot
            self._freed.unpark()

    async def _close(self, connections: Iterable[PooledConnection]) -> None:
        """Close sockets already dropped from the books (a failure to close changes nothing)."""
        with trio.CancelScope(shield=True):
            for connection in connections:
                if connection.http is not None:
                    with contextlib.suppress(Exception):
                        await connection.http.aclose()


# -- sockets ----------------------------------------------------------------------------------
async def _connect_tcp(host: str, port: int, seconds: float | None) -> httpcore.AsyncNetworkStream:
    """What httpcore's Trio backend does to connect (`trio.open_tcp_stream`, TCP_NODELAY set,
    within `seconds`), with its errors."""
    try:
        with trio.fail_after(math.inf if seconds is None else seconds):
            stream = await trio.open_tcp_stream(host, port)
    except trio.TooSlowError as exc:
        raise httpcore.ConnectTimeout(exc) from exc
    except (trio.BrokenResourceError, OSError) as exc:
        raise httpcore.ConnectError(exc) from exc
    return _TrioStream(stream)


class _TrioStream(httpcore.AsyncNetworkStream):
    """httpcore's Trio network stream, with its errors, without the two context managers it
    enters on every read and write (a timeout scope is opened only for a finite timeout)."""

    def __init__(self, stream: trio.SocketStream | trio.SSLStream[Any]) -> None:
        self._stream = stream

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:  # noqa: ASYNC109
        try:
            if timeout is None:
                data = await self._stream.receive_some(max_bytes)
            else:
                with trio.fail_after(timeout):
                    data = await self._stream.receive_some(max_bytes)
        except trio.TooSlowError as exc:
            raise httpcore.ReadTimeout(exc) from exc
        except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            raise httpcore.ReadError(exc) from exc
        return data if type(data) is bytes else bytes(data)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:  # noqa: ASYNC109
        if not buffer:
            return
        try:
            if timeout is None:
                await self._stream.send_all(buffer)
            else:
                with trio.fail_after(timeout):
                    await self._stream.send_all(buffer)
        except trio.TooSlowError as exc:
            raise httpcore.WriteTimeout(exc) from exc
        except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            raise httpcore.WriteError(exc) from exc

    async def aclose(self) -> None:
        await self._stream.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> httpcore.AsyncNetworkStream:
        tls = trio.SSLStream(
            self._stream,
            ssl_context=ssl_context,
            server_hostname=server_hostname,
            https_compatible=True,
            server_side=False,
        )
        try:
            with trio.fail_after(math.inf if timeout is None else timeout):
                await tls.do_handshake()
        except BaseException as exc:
            with trio.CancelScope(shield=True):
                await self.aclose()
            if isinstance(exc, trio.TooSlowError):
                raise httpcore.ConnectTimeout(exc) from exc
            if isinstance(exc, trio.BrokenResourceError):
                raise httpcore.ConnectError(exc) from exc
            raise
        return _TrioStream(tls)

    def get_extra_info(self, info: str) -> Any:
        stream: Any = self._stream
        if info == "ssl_object":
            return stream._ssl_object if isinstance(stream, trio.SSLStream) else None
        while isinstance(stream, trio.SSLStream):
            stream = stream.transport_stream
        if not isinstance(stream, trio.SocketStream):
            return None
        if info == "is_readable":
            return stream.socket.is_readable()
        if info == "socket":
            return stream.socket
        if info == "client_addr":
            return stream.socket.getsockname()
        if info == "server_addr":
            return stream.socket.getpeername()
        return None


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

    async def flush(self) -> None:
        """Send what is held now."""
        await self._flush()

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


# -- one HTTP/1.1 exchange at a time on one connection ---------------------------------------------
#: Bytes asked of the socket per read.
READ_SIZE = 64 * 1024
#: An answer's head (status line and headers), a chunk-size line or a trailer section larger
#: than this is a protocol error.
MAX_HEAD_BYTES = 64 * 1024

# The grammar h11 applies (RFC 9110/9112), so that what passed before passes now.
_TOKEN = re.compile(rb"[-!#$%&'*+.^_`|~0-9a-zA-Z]+")
_FIELD_VALUE = re.compile(rb"(?:[^\x00\s]+(?:[ \t]+[^\x00\s]+)*)?")
_TARGET = re.compile(rb"[\x21-\x7e]+")
_STATUS_LINE = re.compile(rb"HTTP/([0-9]\.[0-9]) ([0-9]{3})(?: ([\t \x21-\x7e\x80-\xff]*))?")
_CHUNK_SIZE = re.compile(rb"([0-9A-Fa-f]{1,20})(?:;[^\r\n]*)?[ \t]*\r?\n")
_CONTENT_LENGTH = re.compile(rb"[0-9]+")
_BLANK_LINE = re.compile(rb"\n\r?\n")
_NO_BODY_STATUSES = frozenset({204, 304})

#: httpcore's logger for HTTP/1.1: its DEBUG traces (an answer's head, as received) are
#: written as httpcore wrote them, for those who turn them on (`llm_router._log_scrub`
#: keeps credentials out of them).
_trace = logging.getLogger("httpcore.http11")


class _Exchange(enum.Enum):
    IDLE = "idle"  # ready for a request
    ACTIVE = "active"  # a request sent, or its answer being read
    DONE = "done"  # an answer read to its end, on a connection that cannot serve another
    CLOSED = "closed"


class Http1Connection:
    """The HTTP/1.1 client side of one connection: one request, then its answer's head, then
    its body piece by piece (`read_body`); the connection is idle again (`is_idle`) only once
    the whole body was read and both sides keep the connection alive. Anything else (a
    cancellation, an error, a body left half read) leaves it in a state the pool closes.

    Request heads are checked with h11's grammar (a header value cannot carry a line break);
    answers are framed as h11 frames them: `Transfer-Encoding: chunked` first, else
    `Content-Length`, else up to the end of the connection; informational (1xx) answers are
    skipped. Protocol and network errors are httpcore's exceptions.
    """

    def __init__(self, stream: httpcore.AsyncNetworkStream, keepalive_expiry: float | None) -> None:
        self._stream = stream
        self._keepalive_expiry = keepalive_expiry
        self._expire_at: float | None = None
        self._state = _Exchange.IDLE
        self._buffer = b""  # bytes read and not consumed yet
        self._keep_alive = False  # the current exchange leaves the connection reusable
        self._mode = 0  # body framing: _LENGTH, _CHUNKED or _UNTIL_CLOSE
        self._left = 0  # body bytes left (length), or bytes left in the current chunk
        self._chunk_end = False  # the CRLF after a chunk's data is due
        self._read_timeout: float | None = None
        self._debug = False  # the current exchange writes DEBUG traces

    def is_idle(self) -> bool:
        return self._state is _Exchange.IDLE

    @property
    def body_complete(self) -> bool:
        """Whether the last answer's body was read to its end."""
        return self._state is _Exchange.IDLE or self._state is _Exchange.DONE

    def has_expired(self, *, check_socket: bool = True) -> bool:
        """Past its keep-alive expiry, or (idle, and `check_socket`) readable: the server
        closed it, or sent what no request asked for."""
        if self._expire_at is not None and time.monotonic() >= self._expire_at:
            return True
        return (
            check_socket
            and self._state is _Exchange.IDLE
            and bool(self._stream.get_extra_info("is_readable"))
        )

    async def aclose(self) -> None:
        self._state = _Exchange.CLOSED
        await self._stream.aclose()

    async def request(
        self,
        method: bytes,
        target: bytes,
        headers: list[tuple[bytes, bytes]],
        content: bytes | None,
        body: AsyncIterable[bytes],
        timeouts: Mapping[str, float | None],
    ) -> tuple[int, bytes, bytes, list[tuple[bytes, bytes]]]:
        """Send one request (`content`, or `body` when that is None) and read its answer's
        head: (status, reason phrase, HTTP version, headers). Read the body with
        `read_body` next."""
        if self._state is not _Exchange.IDLE:
            raise httpcore.ConnectionNotAvailable()
        self._state = _Exchange.ACTIVE
        self._expire_at = None
        self._debug = debug = _trace.isEnabledFor(logging.DEBUG)
        if debug:
            _trace.debug("send_request_headers.started request=<Request [%r]>", method)
        head, keep_alive, chunked, length = _request_head(method, target, headers)
        try:
            await self._send(head, chunked, length, content, body, timeouts.get("write"))
        except httpcore.WriteError:
            # As httpcore does: a server may answer (an error, say) and close before it read
            # the whole request; its answer is read all the same, on a connection that ends
            # with it (none read: "Server disconnected without sending a response").
            keep_alive = False
        self._read_timeout = timeouts.get("read")
        if debug:
            _trace.debug("send_request_body.complete")
        while True:
            status, version, reason, answer_headers = _parse_head(await self._read_head())
            if status >= 200 or status == 101:
                break  # other informational answers precede the real one
        http_version = b"HTTP/" + version
        if debug:
            _trace.debug(
                "receive_response_headers.complete return_value=%r",
                (http_version, status, reason, answer_headers),
            )
        self._frame(method, status, version, answer_headers, keep_alive)
        return status, reason, http_version, answer_headers

    async def _send(
        self,
        head: bytes,
        chunked: bool,
        length: int | None,
        content: bytes | None,
        body: AsyncIterable[bytes],
        write_timeout: float | None,
    ) -> None:
        stream = self._stream
        if content is not None:
            if len(content) != (0 if length is None else length) and not chunked:
                raise httpcore.LocalProtocolError(
                    f"the request body is {len(content)} bytes, its Content-Length {length}"
                )
            await stream.write(head, write_timeout)
            if content:
                await stream.write(
                    b"%x\r\n%s\r\n0\r\n\r\n" % (len(content), content) if chunked else content,
                    write_timeout,
                )
            elif chunked:
                await stream.write(b"0\r\n\r\n", write_timeout)
        else:
            await stream.write(head, write_timeout)
            sent = 0
            async for piece in body:
                if not piece:
                    continue
                sent += len(piece)
                if chunked:
                    await stream.write(b"%x\r\n%s\r\n" % (len(piece), piece), write_timeout)
                    continue
                if length is None or sent > length:
                    raise httpcore.LocalProtocolError(
                        "the request body is larger than its Content-Length"
                    )
                await stream.write(piece, write_timeout)
            if chunked:
                await stream.write(b"0\r\n\r\n", write_timeout)
            elif sent != (length or 0):
                raise httpcore.LocalProtocolError(
                    "the request body is smaller than its Content-Length"
                )
        if isinstance(stream, _CoalescingStream):
            await stream.flush()  # here, so that a failure to send is one of sending

    async def read_body(self) -> bytes:
        """The next piece of the answer's body; b"" once it was read to its end."""
        if self._state is not _Exchange.ACTIVE:
            return b""
        if self._mode == _LENGTH:
            return await self._read_length()
        if self._mode == _CHUNKED:
            return await self._read_chunked()
        data = self._buffer or await self._stream.read(READ_SIZE, self._read_timeout)
        self._buffer = b""
        if not data:
            self._keep_alive = False
            self._finish()
        return data

    # -- the answer --------------------------------------------------------------------------------
    async def _read_more(self, what: str) -> None:
        data = await self._stream.read(READ_SIZE, self._read_timeout)
        if not data:
            raise httpcore.RemoteProtocolError(f"Server disconnected {what}.")
        self._buffer += data

    async def _read_head(self) -> bytes:
        while True:
            found = _BLANK_LINE.search(self._buffer)
            if found is not None:
                head, self._buffer = self._buffer[: found.end()], self._buffer[found.end() :]
                if head[:1] in (b"\r", b"\n"):
                    # h11 tolerates empty lines before a status line
                    head = head.lstrip(b"\r\n")
                    if not head:
                        continue
                return head
            if len(self._buffer) > MAX_HEAD_BYTES:
                raise httpcore.RemoteProtocolError(
                    f"the answer's head is larger than {MAX_HEAD_BYTES} bytes"
                )
            await self._read_more("without sending a response")

    def _frame(
        self,
        method: bytes,
        status: int,
        version: bytes,
        headers: list[tuple[bytes, bytes]],
        keep_alive: bool,
    ) -> None:
        lengths: set[bytes] = set()
        chunked = False
        for name, value in headers:
            lower = name.lower()
            if lower == b"content-length":
                for part in value.split(b","):
                    lengths.add(part.strip())
            elif lower == b"transfer-encoding":
                if chunked or value.strip().lower() != b"chunked":
                    raise httpcore.RemoteProtocolError(
                        "only one Transfer-Encoding: chunked is supported"
                    )
                chunked = True
            elif lower == b"connection" and _has_token(value, b"close"):
                keep_alive = False
        if len(lengths) > 1:
            raise httpcore.RemoteProtocolError("conflicting Content-Length headers")
        if lengths:
            (length,) = lengths
            if not _CONTENT_LENGTH.fullmatch(length) or len(length) > 20:
                raise httpcore.RemoteProtocolError("bad Content-Length")
        self._keep_alive = keep_alive and version >= b"1.1" and status != 101
        self._chunk_end = False
        if method == b"HEAD" or status in _NO_BODY_STATUSES or status < 200:
            self._mode, self._left = _LENGTH, 0
        elif chunked:
            self._mode, self._left = _CHUNKED, 0
        elif lengths:
            self._mode, self._left = _LENGTH, int(length)
        else:
            self._mode, self._left = _UNTIL_CLOSE, 0
            self._keep_alive = False
        if self._mode == _LENGTH and self._left == 0:
            self._finish()

    def _finish(self) -> None:
        """The answer was read to its end: idle again, or done for good."""
        if self._debug:
            _trace.debug("receive_response_body.complete")
        if self._keep_alive and not self._buffer:
            self._state = _Exchange.IDLE
            if self._keepalive_expiry is not None:
                self._expire_at = time.monotonic() + self._keepalive_expiry
        else:
            self._state = _Exchange.DONE

    async def _read_length(self) -> bytes:
        if not self._buffer:
            await self._read_more(
                f"with {self._left} bytes of the answer's Content-Length still to come"
            )
        data, left = self._buffer, self._left
        if len(data) < left:
            self._buffer = b""
            self._left = left - len(data)
            return data
        self._buffer, self._left = data[left:], 0
        self._finish()
        return data[:left] if len(data) > left else data

    async def _read_chunked(self) -> bytes:
        while True:
            left = self._left
            if left:
                if not self._buffer:
                    await self._read_more("in the middle of a chunk")
                data = self._buffer
                if len(data) <= left:
                    self._buffer = b""
                    self._left = left - len(data)
                else:
                    self._buffer, data = data[left:], data[:left]
                    self._left = 0
                self._chunk_end = self._left == 0
                return data
            if self._chunk_end:
                while len(self._buffer) < 2:
                    await self._read_more("in the middle of a chunk")
                self._buffer = self._buffer[2:]  # h11 discards these two bytes unread
                self._chunk_end = False
            end = self._buffer.find(b"\n")
            if end < 0:
                if len(self._buffer) > MAX_HEAD_BYTES:
                    raise httpcore.RemoteProtocolError("a chunk-size line is too long")
                await self._read_more("before the end of a chunked body")
                continue
            line, self._buffer = self._buffer[: end + 1], self._buffer[end + 1 :]
            match = _CHUNK_SIZE.fullmatch(line)
            if match is None:
                raise httpcore.RemoteProtocolError("malformed chunk-size line")
            size = int(match.group(1), 16)
            if size:
                self._left = size
                continue
            await self._skip_trailers()
            self._finish()
            return b""

    async def _skip_trailers(self) -> None:
        while True:
            buffer = self._buffer
            if buffer.startswith((b"\r\n", b"\n")):
                self._buffer = buffer[2 if buffer[:1] == b"\r" else 1 :]
                return
            found = _BLANK_LINE.search(buffer)
            if found is not None:
                # Trailers are read and dropped, but checked as header lines are: a malformed
                # one is a broken answer, not a connection to reuse.
                _parse_fields(buffer[: found.start() + 1].split(b"\n"), "trailer line")
                self._buffer = buffer[found.end() :]
                return
            if len(buffer) > MAX_HEAD_BYTES:
                raise httpcore.RemoteProtocolError("the chunked body's trailers are too long")
            await self._read_more("before the end of a chunked body")


_LENGTH, _CHUNKED, _UNTIL_CLOSE = 0, 1, 2


def _has_token(value: bytes, token: bytes) -> bool:
    return any(part.strip().lower() == token for part in value.split(b","))


def _request_head(
    method: bytes, target: bytes, headers: list[tuple[bytes, bytes]]
) -> tuple[bytes, bool, bool, int | None]:
    """A request's head, checked: (bytes, keep-alive, chunked body, Content-Length)."""
    if not _TOKEN.fullmatch(method):
        raise httpcore.LocalProtocolError("illegal request method")
    if not _TARGET.fullmatch(target):
        raise httpcore.LocalProtocolError("illegal request target")
    parts = [method, b" ", target, b" HTTP/1.1\r\n"]
    keep_alive = True
    chunked = False
    length: int | None = None
    host = False
    for name, value in headers:
        if not _TOKEN.fullmatch(name):
            raise httpcore.LocalProtocolError(f"illegal header name {name!r}")
        if not _FIELD_VALUE.fullmatch(value):
            raise httpcore.LocalProtocolError(f"illegal header value for {name.decode()!r}")
        lower = name.lower()
        if lower == b"host":
            host = True
        elif lower == b"content-length":
            if not _CONTENT_LENGTH.fullmatch(value) or (
                length is not None and int(value) != length
            ):
                raise httpcore.LocalProtocolError("bad Content-Length")
            length = int(value)
        elif lower == b"transfer-encoding":
            if value.lower() != b"chunked":
                raise httpcore.LocalProtocolError("only Transfer-Encoding: chunked is supported")
            chunked = True
        elif lower == b"connection" and _has_token(value, b"close"):
            keep_alive = False
        parts += (name, b": ", value, b"\r\n")
    if not host:
        raise httpcore.LocalProtocolError("Missing mandatory Host: header")
    if chunked:
        length = None
    parts.append(b"\r\n")
    return b"".join(parts), keep_alive, chunked, length


def _parse_head(head: bytes) -> tuple[int, bytes, bytes, list[tuple[bytes, bytes]]]:
    """An answer's head: (status, HTTP version as b"1.1", reason phrase, headers)."""
    lines = head.split(b"\n")
    match = _STATUS_LINE.fullmatch(lines[0].rstrip(b"\r"))
    if match is None:
        raise httpcore.RemoteProtocolError("malformed status line in the answer")
    headers = _parse_fields(lines[1:], "header line in the answer")
    version, status, reason = match.groups()
    return int(status), version, reason or b"", headers


def _parse_fields(lines: list[bytes], what: str) -> list[tuple[bytes, bytes]]:
    """Header (or trailer) lines, each ending in LF or CRLF, checked as h11 checks them."""
    fields: list[tuple[bytes, bytes]] = []
    for raw in lines:
        line = raw[:-1] if raw.endswith(b"\r") else raw
        if not line:
            continue
        if line[:1] in (b" ", b"\t"):  # obsolete line folding: part of the previous value
            if not fields:
                raise httpcore.RemoteProtocolError(f"malformed {what}")
            name, value = fields[-1]
            fields[-1] = (name, (value + b" " + line.strip(b" \t")).strip(b" "))
            continue
        name, colon, value = line.partition(b":")
        value = value.strip(b" \t")
        if not colon or not _TOKEN.fullmatch(name) or not _FIELD_VALUE.fullmatch(value):
            raise httpcore.RemoteProtocolError(f"malformed {what}")
        fields.append((name, value))
    return fields
