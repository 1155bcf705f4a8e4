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
the same `ConnectionRejected` (status, headers, body); a failed one as `OSError`. Each client
message must be the recorded one in its place: one that differs (after redaction, without
`event_id` and the cassette's `ignore_message_keys`), or one past the recorded ones, is
refused before it is sent with `CassetteMismatchError` naming its place and the redacted diff.
"""

from __future__ import annotations

import base64
import contextlib
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
    WebSocketFrameRecord,
    body_bytes,
    frame_data,
    headers_record,
)
from llm_router_testing.matching import CassetteMismatchError
from llm_router_testing.replayer import ReplayStep, websocket_steps

if TYPE_CHECKING:
    from llm_router_testing.cassette import Cassette
    from llm_router_testing.recorder import WebSocketCapture

__all__ = ["CassetteConnector"]


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
            _check_client_messages(ws, interaction, _MessageCheck(cassette, url, pairs))
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


class _MessageCheck:
    """Compares a replayed session's client messages with the recorded ones, as the cassette
    stores messages: redacted (credentials of the handshake and of the cassette scrubbed)."""

    def __init__(self, cassette: Cassette, url: str, pairs: list[tuple[str, str]]) -> None:
        self.matcher = cassette.matcher
        self.redaction = cassette.redaction
        record: RequestRecord = {
            "method": "GET",
            "url": url,
            "headers": headers_record(httpx.Headers(pairs)),
        }
        self.secrets = {*cassette._secrets, *self.redaction.redact_request(record)}
        self.url = record["url"].split("?")[0]

    def redacted(self, message: str | bytes) -> str | bytes:
        frame: WebSocketFrameRecord = (
            {"from": "client", "t": 0.0, "text": message}
            if isinstance(message, str)
            else {"from": "client", "t": 0.0, "data_b64": base64.b64encode(message).decode()}
        )
        interaction: Interaction = {
            "request": {"method": "GET", "url": "ws://replay", "headers": {}},
            "websocket": {"frames": [frame]},
            "recorded_at": "",
        }
        redacted = self.redaction.apply(interaction, set(self.secrets))
        return frame_data(redacted["websocket"]["frames"][0])

    def refusal(
        self, index: int, frame: int | None, recorded: str | bytes | None, sent: str | bytes
    ) -> CassetteMismatchError | None:
        shown = self.redacted(sent)
        if recorded is None:
            diff = self.matcher.message_difference(b"", shown) or ""
            where = f"client message {index} is past the {index} the recording has"
        else:
            difference = self.matcher.message_difference(recorded, shown)
            if difference is None:
                return None
            diff = difference
            where = f"client message {index} (frame {frame} of the recording) differs from it"
        message = (
            f"{self.url}: {where} (replaying a cassette; add the keys that may differ to "
            f"ignore_message_keys):\n{diff}"
        )
        return CassetteMismatchError(message, url=self.url, index=index, frame=frame, diff=diff)


def _check_client_messages(
    ws: WebSocketConnection, interaction: Interaction, check: _MessageCheck
) -> None:
    """Make `ws.send_message` refuse a client message that is not the recorded one."""
    session = interaction.get("websocket")
    frames = [] if session is None else session["frames"]
    expected = [(i, frame_data(f)) for i, f in enumerate(frames) if f["from"] == "client"]
    send = ws.send_message
    sent = 0

    async def checked(message: str | bytes) -> None:
        nonlocal sent
        frame, recorded = expected[sent] if sent < len(expected) else (None, None)
        refused = check.refusal(sent, frame, recorded, message)
        if refused is not None:
            raise refused
        sent += 1
        await send(message)

    # The router holds this very connection: its sends go through the check.
    setattr(ws, "send_message", checked)  # noqa: B010


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
        await _play(ws, steps, realtime)

    async with _in_memory(url, options, serve) as ws:
        yield ws


async def _play(ws: WebSocketConnection, steps: list[ReplayStep], realtime: bool) -> None:
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
                await ws.get_message()  # checked on the client's side before it was sent
            except ConnectionClosed:
                return
        elif step.kind == "close":
            await ws.aclose(step.code, step.reason)
            return
        elif step.kind == "drop":
            await ws.aclose(1011, "the recorded session ended without a close")
            return
    with contextlib.suppress(ConnectionClosed):
        while True:  # the client ended the recorded session: wait for its close
            await ws.get_message()


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
