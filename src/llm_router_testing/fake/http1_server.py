"""The fake server's listener: HTTP/1.1 served on Trio sockets straight into the ASGI app, and
every other connection (a WebSocket or h2c upgrade, HTTP/2 with prior knowledge) handed to
hypercorn with the bytes already read.

One task per connection runs the app in line, request after request, writing each answer in
as few writes as its framing allows. hypercorn's own HTTP/1.1 path spawns a task per request
and another per idle period and takes a lock per write; at a few thousand requests a second
that bookkeeping cost more CPU than the fake's own work. What the app sees is what hypercorn
gave it: the same scope, the whole body in one `http.request` message, `http.disconnect` once
the client hangs up or the answer is complete; and what a client sees is the same bytes.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable
from functools import partial
from typing import TYPE_CHECKING, Any, cast

import trio
from hypercorn.app_wrappers import ASGIWrapper
from hypercorn.config import Config
from hypercorn.trio.tcp_server import TCPServer
from hypercorn.trio.worker_context import WorkerContext
from hypercorn.utils import parse_socket_addr, repr_socket_addr

from .http1 import (
    BODY_FOLLOWS,
    MAX_HEAD,
    BadRequest,
    RequestHead,
    chunk,
    date_header,
    error_head,
    parse_chunk_size,
    parse_head,
    response_head,
)

if TYPE_CHECKING:
    from hypercorn.typing import ASGIFramework

__all__ = ["serve_http"]

logger = logging.getLogger("llm_router_testing.fake")

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
ASGIApp = Callable[[dict[str, Any], Receive, Send], Awaitable[None]]

_RECEIVE = 1 << 16
_ASGI = {"spec_version": "2.1", "version": "3.0"}
_PIPELINE_LIMIT = 4 * MAX_HEAD  # bytes of later requests buffered while one is answered
_LINGER_SECONDS = 1.0  # after a refusal, how long to read what the client still sends
_LINGER_READS = 16
_GONE = (trio.BrokenResourceError, trio.ClosedResourceError, OSError)


async def serve_http(
    app: ASGIApp,
    config: Config,
    *,
    task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Listen where `config` binds (its backlog, keep-alive timeout and error log) until
    cancelled; `task_status.started` gets the bound URLs, as from `hypercorn.trio.serve`."""
    listeners: list[trio.SocketListener] = []
    binds: list[str] = []
    for sock in config.create_sockets().insecure_sockets:
        sock.listen(config.backlog)
        listeners.append(trio.SocketListener(trio.socket.from_stdlib_socket(sock)))
        binds.append(f"http://{repr_socket_addr(sock.family, sock.getsockname())}")
    hand_off = _HandOff(app, config)
    timeout = float(config.keep_alive_timeout)
    async with trio.open_nursery() as nursery:
        task_status.started(binds)
        handler = partial(_serve_connection, app, hand_off, timeout)
        await trio.serve_listeners(handler, listeners, handler_nursery=nursery)


class _HandOff:
    """Connections this module does not speak, given to hypercorn's own connection handler."""

    def __init__(self, app: ASGIApp, config: Config) -> None:
        self._app = ASGIWrapper(cast("ASGIFramework", app))
        self._config = config
        self._context = WorkerContext(None)

    async def serve(self, stream: trio.SocketStream, already_read: bytes) -> None:
        replay = _Replayed(stream, already_read)
        server = TCPServer(
            self._app,
            self._config,
            self._context,
            {},
            cast("trio.SSLStream[trio.SocketStream]", replay),
        )
        await server.run()


class _Replayed(trio.abc.HalfCloseableStream):
    """A socket stream whose first read returns bytes read from it before. No
    `do_handshake`: hypercorn takes a stream without one for plain TCP."""

    def __init__(self, stream: trio.SocketStream, already_read: bytes) -> None:
        self.socket = stream.socket
        self._stream = stream
        self._pending = already_read

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        if self._pending:
            await trio.lowlevel.checkpoint()
            data, self._pending = self._pending, b""
            return data
        return await self._stream.receive_some(max_bytes)

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        await self._stream.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        await self._stream.wait_send_all_might_not_block()

    async def send_eof(self) -> None:
        await self._stream.send_eof()

    async def aclose(self) -> None:
        await self._stream.aclose()


async def _serve_connection(
    app: ASGIApp, hand_off: _HandOff, keep_alive_timeout: float, stream: trio.SocketStream
) -> None:
    try:
        connection = _Connection(app, stream)  # reads the addresses: the client may be gone
        try:
            handed = await connection.serve(keep_alive_timeout)
        except BadRequest as error:
            await connection.write(error_head(error.status))
            await stream.send_eof()
            await _drain(stream)
            return
        if handed is not None:
            await hand_off.serve(stream, handed)
            return
        try:
            await stream.send_eof()
        except _GONE:
            pass
    except _GONE:
        pass
    finally:
        await stream.aclose()


async def _drain(stream: trio.SocketStream) -> None:
    """Read what the client still sends after a refusal, for a while, before closing:
    closing with unread bytes resets the connection, and the client may lose the refusal."""
    with trio.move_on_after(_LINGER_SECONDS):
        for _ in range(_LINGER_READS):
            if not await stream.receive_some(_RECEIVE):
                return


class _Connection:
    """One client connection: requests read in turn, each answered by the app in line."""

    def __init__(self, app: ASGIApp, stream: trio.SocketStream) -> None:
        self.app = app
        self.stream = stream
        self.buffer = bytearray()
        socket = stream.socket
        self.client = parse_socket_addr(socket.family, socket.getpeername())
        self.server = parse_socket_addr(socket.family, socket.getsockname())
        self.gone = False  # the client hung up (or a write failed)
        # Per request:
        self.request: RequestHead | None = None
        self.body = b""
        self.body_delivered = False
        self.started = False
        self.complete = False
        self.chunked = False
        self.no_body = False
        self.waiting: trio.CancelScope | None = None
        self.pending = b""  # a head waiting for its body (see BODY_FOLLOWS)

    async def serve(self, keep_alive_timeout: float) -> bytes | None:
        """Answer requests until the connection ends; the bytes read so far when it turns
        out to be one for hypercorn (returned to be replayed), else None."""
        # One scope for the connection's life, its deadline set only while waiting for the
        # next request: cheaper than a scope entered and left per request.
        with trio.CancelScope() as idle:
            while True:
                idle.deadline = trio.current_time() + keep_alive_timeout
                head = await self._read_head()
                idle.deadline = math.inf
                if head is None:
                    return None
                request = parse_head(head)
                if request.hand_off:
                    return bytes(head) + b"\r\n\r\n" + bytes(self.buffer)
                if request.chunked:
                    body = await self._read_chunked(request)
                else:
                    body = await self._read_body(request)
                if body is None or not await self._exchange(request, body):
                    return None
        return None  # idle past the keep-alive timeout

    async def _read_head(self) -> bytes | None:
        buffer = self.buffer
        while buffer[:2] == b"\r\n":  # stray line ends between requests are skipped
            del buffer[:2]
        end = buffer.find(b"\r\n\r\n")
        while end < 0:
            if len(buffer) > MAX_HEAD:
                raise BadRequest(400, "request head too long")
            data = await self.stream.receive_some(_RECEIVE)
            if not data:
                return None
            buffer += data
            while buffer[:2] == b"\r\n":
                del buffer[:2]
            end = buffer.find(b"\r\n\r\n")
        if end > MAX_HEAD:
            raise BadRequest(400, "request head too long")
        head = bytes(buffer[:end])
        del buffer[: end + 4]
        return head

    async def _continue(self, request: RequestHead, wanted: int) -> None:
        if request.expect_continue and len(self.buffer) < wanted:
            request.expect_continue = False
            await self.write(b"HTTP/1.1 100 \r\ndate: %s\r\n\r\n" % date_header())

    async def _fill(self, wanted: int) -> bool:
        buffer = self.buffer
        while len(buffer) < wanted:
            data = await self.stream.receive_some(_RECEIVE)
            if not data:
                return False
            buffer += data
        return True

    async def _read_body(self, request: RequestHead) -> bytes | None:
        length = request.content_length
        if not length:
            return b""
        await self._continue(request, length)
        if not await self._fill(length):
            return None
        body = bytes(self.buffer[:length])
        del self.buffer[:length]
        return body

    async def _read_chunked(self, request: RequestHead) -> bytes | None:
        await self._continue(request, 1)
        buffer = self.buffer
        parts: list[bytes] = []
        while True:
            while (end := buffer.find(b"\r\n")) < 0:
                if len(buffer) > MAX_HEAD or not await self._fill(len(buffer) + 1):
                    return None
            size = parse_chunk_size(bytes(buffer[:end]))
            del buffer[: end + 2]
            if size == 0:
                break
            if not await self._fill(size + 2):
                return None
            if buffer[size : size + 2] != b"\r\n":
                raise BadRequest(400, "chunk not followed by CRLF")
            parts.append(bytes(buffer[:size]))
            del buffer[: size + 2]
        while True:  # trailers, up to the blank line
            while (end := buffer.find(b"\r\n")) < 0:
                if len(buffer) > MAX_HEAD or not await self._fill(len(buffer) + 1):
                    return None
            line = bytes(buffer[:end])
            del buffer[: end + 2]
            if not line:
                return b"".join(parts)

    async def _exchange(self, request: RequestHead, body: bytes) -> bool:
        """Run the app on one request; whether the connection can carry another."""
        self.request, self.body, self.body_delivered = request, body, False
        self.started = self.complete = False
        self.pending = b""
        scope: dict[str, Any] = {
            "type": "http",
            "http_version": request.http_version,
            "asgi": _ASGI,
            "method": request.method,
            "scheme": "http",
            "path": request.path,
            "raw_path": request.raw_path,
            "query_string": request.query_string,
            "root_path": "",
            "headers": request.headers,
            "client": self.client,
            "server": self.server,
            "state": {},
            "extensions": {},
        }
        try:
            await self.app(scope, self.receive, self.send)
        except Exception:
            logger.exception("Error in ASGI Framework")
        if not self.started:
            await self.write(error_head(500))
            return False
        if self.pending:  # the body promised never came: the head still goes out
            await self.write(self.pending)
        # An answer left unfinished ends its connection: that is how a client sees it cut.
        return self.complete and request.keep_alive and not self.gone

    async def receive(self) -> dict[str, Any]:
        """ASGI receive: the whole body first, then `http.disconnect` once the client hangs
        up or the answer is complete (reading ahead meanwhile keeps pipelined requests)."""
        if not self.body_delivered:
            self.body_delivered = True
            return {"type": "http.request", "body": self.body, "more_body": False}
        if not (self.complete or self.gone):
            with trio.CancelScope() as self.waiting:
                try:
                    while len(self.buffer) < _PIPELINE_LIMIT:
                        data = await self.stream.receive_some(_RECEIVE)
                        if not data:
                            self.gone = True
                            break
                        self.buffer += data
                    else:
                        await trio.sleep_forever()
                except _GONE:
                    self.gone = True
            self.waiting = None
        else:
            await trio.lowlevel.checkpoint()
        return {"type": "http.disconnect"}

    async def send(self, message: dict[str, Any]) -> None:
        """ASGI send: the head written as the answer starts, each body message as it comes."""
        kind = message["type"]
        request = self.request
        assert request is not None
        if kind == "http.response.start" and not self.started:
            status = int(message["status"])
            headers = message.get("headers", ())
            bodiless = status in (204, 304) or status < 200
            has_length = any(name.strip().lower() == b"content-length" for name, _ in headers)
            # Like h11: no length given, chunks to an HTTP/1.1 client (a HEAD answer announces
            # them too), the end of the connection to an HTTP/1.0 one.
            chunked = not has_length and not bodiless and request.http_version == "1.1"
            head = response_head(status, headers, chunked=chunked, close=not request.keep_alive)
            self.no_body = bodiless or request.method == "HEAD"
            self.chunked = chunked and not self.no_body
            self.started = True
            if message.get(BODY_FOLLOWS):
                self.pending = head
            else:
                await self.write(head)
        elif kind == "http.response.body" and self.started and not self.complete:
            body = message.get("body", b"")
            last = not message.get("more_body", False)
            if self.no_body:
                data = b""
            elif self.chunked:
                data = chunk(body, last=last)
            else:
                data = body
            if self.pending:
                data, self.pending = self.pending + data, b""
            if data:
                await self.write(data)
            if last:
                self.complete = True
                if self.waiting is not None:
                    self.waiting.cancel()
        else:
            raise RuntimeError(f"unexpected ASGI message {kind!r} at this point of the answer")

    async def write(self, data: bytes) -> None:
        """Send, unless the client is gone; a failed write marks it gone (the app carries on,
        as under hypercorn, and its later writes are dropped)."""
        if self.gone:
            return
        try:
            await self.stream.send_all(data)
        except _GONE:
            self.gone = True
        except BaseException:
            self.gone = True  # cancelled mid-write: the connection cannot carry another answer
            raise
