"""Realtime WebSocket sessions replayed from, and recorded into, a cassette.

`CassetteConnector` is a realtime `Connector` (what `router.realtime(..., connector=)` and
`RouterBuilder.with_websocket_connector` take): each provider socket the router opens is
answered from the cassette's `websocket` entries, and, when the record mode allows it, a
session without a recording is dialled for real and recorded on the way through. Either way
the router gets a genuine trio-websocket connection (over in-memory streams), so it runs its
own framing, limits and closing handshake exactly as against a provider.

Replay sends the recorded server messages (at their recorded gaps when the cassette is
`realtime`, at once otherwise), waits for each client message in its recorded place, and ends
as recorded: the server's close with its code, or the client's. A refused upgrade replays as
the same `ConnectionRejected` (status, headers, body); a failed one as `OSError`. A client
message that differs from the recording is logged, not refused: ids and timestamps in client
events differ from run to run.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING

import httpx
import trio
import trio.testing
from trio_websocket import (
    ConnectionClosed,
    ConnectionRejected,
    HandshakeError,
    WebSocketConnection,
    WebSocketRequest,
    wrap_client_stream,
    wrap_server_stream,
)

from llm_router.realtime.session import Connector, RealtimeOptions, dial
from llm_router_testing.cassette_format import (
    Interaction,
    RequestRecord,
    body_bytes,
    headers_record,
)
from llm_router_testing.replayer import ReplayStep, websocket_steps

if TYPE_CHECKING:
    from llm_router_testing.cassette import Cassette
    from llm_router_testing.recorder import WebSocketCapture

__all__ = ["CassetteConnector"]

logger = logging.getLogger("llm_router_testing.cassette")

#: Close codes no close frame may carry: a peer that left without one is relayed as 1011.
_NO_CLOSE_FRAME = frozenset({1005, 1006, 1015})
_CLOSE_TIMEOUT = 5.0
_Serve = Callable[[WebSocketRequest], Awaitable[None]]


class CassetteConnector:
    """Opens each realtime provider socket from `cassette` (see the module docstring).

    `inner` dials what must be recorded (default: the router's own `dial`); `realtime`
    replays server messages at their recorded gaps (default: the cassette's `realtime`)."""

    def __init__(
        self, cassette: Cassette, inner: Connector | None = None, *, realtime: bool | None = None
    ) -> None:
        self.cassette = cassette
        self.inner = inner or dial
        self.realtime = cassette.realtime if realtime is None else realtime

    def __call__(
        self, url: str, headers: list[tuple[bytes, bytes]], options: RealtimeOptions
    ) -> contextlib.AbstractAsyncContextManager[WebSocketConnection]:
        return self._open(url, headers, options)

    def __repr__(self) -> str:
        return f"CassetteConnector({self.cassette!r})"

    @contextlib.asynccontextmanager
    async def _open(
        self, url: str, headers: list[tuple[bytes, bytes]], options: RealtimeOptions
    ) -> AsyncIterator[WebSocketConnection]:
        pairs = [(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in headers]
        cassette = self.cassette
        interaction = cassette.take_websocket(url, pairs) if cassette.replaying else None
        if interaction is None:
            if not cassette.recording:
                record: RequestRecord = {
                    "method": "GET",
                    "url": url,
                    "headers": headers_record(httpx.Headers(pairs)),
                }
                cassette.redaction.redact_request(record)
                raise cassette.miss_error(record, cassette.matcher, cassette.allow_playback_repeats)
            async with self._recorded(url, headers, pairs, options) as ws:
                yield ws
            return
        async with _replayed(interaction, url, options, self.realtime) as ws:
            yield ws

    @contextlib.asynccontextmanager
    async def _recorded(
        self,
        url: str,
        headers: list[tuple[bytes, bytes]],
        pairs: list[tuple[str, str]],
        options: RealtimeOptions,
    ) -> AsyncIterator[WebSocketConnection]:
        capture = self.cassette.record_websocket(url, pairs)
        try:
            async with contextlib.AsyncExitStack() as stack:
                try:
                    upstream = await stack.enter_async_context(self.inner(url, headers, options))
                except ConnectionRejected as rejected:
                    response_headers = httpx.Headers(
                        [
                            (k.decode("latin-1"), v.decode("latin-1"))
                            for k, v in rejected.headers or []
                        ]
                    )
                    capture.rejected(rejected.status_code, response_headers, rejected.body or b"")
                    raise
                except (HandshakeError, OSError) as failure:
                    capture.failed(failure)
                    raise
                capture.accepted(upstream.subprotocol)
                relay = _Relay(upstream, capture)
                yield await stack.enter_async_context(_in_memory(url, options, relay.serve))
        finally:
            capture.store()


class _Relay:
    """The server side of a recorded session: every message relayed to and from the real
    provider socket and captured, and each side's close handed to the other."""

    def __init__(self, upstream: WebSocketConnection, capture: WebSocketCapture) -> None:
        self.upstream = upstream
        self.capture = capture

    async def serve(self, request: WebSocketRequest) -> None:
        ws = await request.accept(subprotocol=self.upstream.subprotocol)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._to_upstream, ws, nursery.cancel_scope)
            await self._to_client(ws)
            nursery.cancel_scope.cancel()

    async def _to_upstream(self, ws: WebSocketConnection, done: trio.CancelScope) -> None:
        while True:
            try:
                data = await ws.get_message()
            except ConnectionClosed as closed:
                code, reason = _close_of(closed)
                self.capture.closed(code, reason, "client")
                with trio.CancelScope(shield=True), trio.move_on_after(_CLOSE_TIMEOUT):
                    await self.upstream.aclose(1000 if code in _NO_CLOSE_FRAME else code, reason)
                done.cancel()
                return
            self.capture.frame("client", data)
            try:
                await self.upstream.send_message(data)
            except ConnectionClosed:
                return  # the provider's close is relayed by the other direction

    async def _to_client(self, ws: WebSocketConnection) -> None:
        while True:
            try:
                data = await self.upstream.get_message()
            except ConnectionClosed as closed:
                code, reason = _close_of(closed)
                self.capture.closed(code, reason, "server")
                await ws.aclose(1011 if code in _NO_CLOSE_FRAME else code, reason)
                return
            self.capture.frame("server", data)
            try:
                await ws.send_message(data)
            except ConnectionClosed:
                return  # the client closed: the other direction relays it


def _close_of(closed: ConnectionClosed) -> tuple[int, str]:
    if closed.reason is None:
        return 1006, ""
    return closed.reason.code, closed.reason.reason or ""


@contextlib.asynccontextmanager
async def _replayed(
    interaction: Interaction, url: str, options: RealtimeOptions, realtime: bool
) -> AsyncIterator[WebSocketConnection]:
    response = interaction.get("response")
    if response is not None:  # the upgrade was refused: refused again, as recorded
        headers = tuple(
            (k.encode("latin-1"), v.encode("latin-1")) for k, v in response["headers"].items()
        )
        raise ConnectionRejected(response["status"], headers, body_bytes(response))
    error = interaction.get("error")
    session = interaction.get("websocket")
    if error is not None or session is None:
        message = error["message"] if error is not None else "no session was recorded"
        raise OSError(f"replayed from the cassette: {message}")
    steps = websocket_steps(session)
    subprotocol = session.get("subprotocol")

    async def serve(request: WebSocketRequest) -> None:
        ws = await request.accept(subprotocol=subprotocol)
        await _play(ws, steps, realtime, url)

    async with _in_memory(url, options, serve) as ws:
        yield ws


async def _play(ws: WebSocketConnection, steps: list[ReplayStep], realtime: bool, url: str) -> None:
    received = 0
    for step in steps:
        if step.kind == "send" and step.data is not None:
            if realtime and step.pause:
                await trio.sleep(step.pause)
            try:
                await ws.send_message(step.data)
            except ConnectionClosed:
                return
        elif step.kind == "receive":
            try:
                data = await ws.get_message()
            except ConnectionClosed:
                return
            received += 1
            if step.data is not None and _normalised(data) != _normalised(step.data):
                logger.warning(
                    "%s: client message %d differs from the recording (replayed as recorded)",
                    url.split("?")[0],
                    received,
                )
        elif step.kind == "close":
            await ws.aclose(step.code, step.reason)
            return
        elif step.kind == "drop":
            await ws.aclose(1011, "the recorded session ended without a close")
            return
    with contextlib.suppress(ConnectionClosed):
        while True:  # the client ended the recorded session: wait for its close
            await ws.get_message()


def _normalised(data: str | bytes) -> bytes:
    from llm_router_testing.fake.fixtures import normalise_message

    return normalise_message(data)


@contextlib.asynccontextmanager
async def _in_memory(
    url: str, options: RealtimeOptions, serve: _Serve
) -> AsyncIterator[WebSocketConnection]:
    """A client connection over in-memory streams whose server side runs `serve`; on leaving,
    the client closes (the server's reader finishes the closing handshake) and the server side
    ends with it."""
    parts = httpx.URL(url)
    resource = parts.raw_path.decode("ascii")
    client_stream, server_stream = trio.testing.memory_stream_pair()
    served = trio.Event()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_serve_stream, server_stream, serve, served)
        ws = await wrap_client_stream(
            nursery,
            client_stream,  # type: ignore[arg-type]
            parts.host or "localhost",
            resource,
            max_message_size=options.max_message_size,
        )
        try:
            yield ws
        finally:
            with trio.move_on_after(options.close_timeout) as closing:
                closing.shield = True
                await ws.aclose()
                await served.wait()  # the server side saw the close (and relayed it)
            nursery.cancel_scope.cancel()


async def _serve_stream(stream: trio.abc.Stream, serve: _Serve, served: trio.Event) -> None:
    try:
        async with trio.open_nursery() as nursery:
            request = await wrap_server_stream(nursery, stream)  # type: ignore[arg-type]
            await serve(request)
            nursery.cancel_scope.cancel()
    finally:
        served.set()
        with trio.CancelScope(shield=True):
            await stream.aclose()
