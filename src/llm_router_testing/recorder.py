"""Recording httpx transports: send through an inner transport and store each exchange.

The response stream is wrapped so that chunks and their arrival times are captured as the
caller reads them; the exchange is stored (redacted) in the cassette when the response is
closed. A stream closed early is stored as what was read, marked ``truncated``; a transport
error is stored so that replay raises it again. `WebSocketCapture` does the same for a
WebSocket session: its upgrade request, every message both ways with its time, and the close.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import TYPE_CHECKING, Literal

import httpx
import trio

from llm_router_testing.cassette_format import (
    ErrorRecord,
    Interaction,
    RequestRecord,
    ResponseRecord,
    StreamRecord,
    WebSocketCloseRecord,
    WebSocketFrameRecord,
    WebSocketRecord,
    WebSocketSender,
    body_fields,
    frame_record,
    headers_record,
    is_textual,
    now_iso,
    request_record,
    set_body,
    stream_event,
)

if TYPE_CHECKING:
    from llm_router_testing.cassette import Cassette, RecordingSlot

__all__ = [
    "STREAM_CONTENT_TYPES",
    "RecordingTransport",
    "SyncRecordingTransport",
    "WebSocketCapture",
]

# Responses of these types are stored chunk by chunk with timing; others as one body.
STREAM_CONTENT_TYPES: dict[str, Literal["sse", "bytes"]] = {
    "text/event-stream": "sse",
    "application/vnd.amazon.eventstream": "bytes",
    "application/x-ndjson": "bytes",
}

Clock = Callable[[], float]


def _async_clock() -> Clock:
    """Trio's clock when running under Trio (so MockClock applies), else the monotonic one."""
    try:
        trio.current_time()
    except RuntimeError:
        return time.monotonic
    return trio.current_time


def _forwarded(request: httpx.Request) -> httpx.Request:
    """The request to send upstream: same bytes, but asking for an uncompressed answer so
    that stored bodies stay readable (the recorded request keeps the caller's headers)."""
    headers = request.headers.copy()
    headers["accept-encoding"] = "identity"
    return httpx.Request(
        request.method,
        request.url,
        headers=headers,
        content=request.content,
        extensions=request.extensions,
    )


def _error_record(exc: BaseException) -> ErrorRecord:
    return {"type": type(exc).__name__, "message": str(exc)}


class _Capture:
    """One exchange as it happens; stored in its slot exactly once, when it ends."""

    def __init__(
        self,
        cassette: Cassette,
        slot: RecordingSlot,
        request: RequestRecord,
        response: httpx.Response,
        elapsed: float,
        clock: Clock,
    ) -> None:
        self._cassette = cassette
        self._slot = slot
        self._request = request
        self._status = response.status_code
        self._headers = headers_record(response.headers)
        self._content_type = response.headers.get("content-type")
        self._elapsed = elapsed
        self._clock = clock
        self._start = clock()
        self._chunks: list[tuple[float, bytes]] = []
        self._error: ErrorRecord | None = None
        self._complete = False
        self._stored = False

    def chunk(self, data: bytes) -> None:
        self._chunks.append((self._clock() - self._start, data))

    def completed(self) -> None:
        self._complete = True

    def failed(self, exc: BaseException) -> None:
        self._error = _error_record(exc)

    def store(self) -> None:
        if self._stored:
            return
        self._stored = True
        self._cassette.store(self._slot, self._interaction())

    def _stream_kind(self) -> Literal["sse", "bytes"] | None:
        media_type = (self._content_type or "").split(";")[0].strip().lower()
        return STREAM_CONTENT_TYPES.get(media_type)

    def _interaction(self) -> Interaction:
        response: ResponseRecord = {
            "status": self._status,
            "headers": self._headers,
            "elapsed": round(self._elapsed, 6),
        }
        kind = self._stream_kind()
        # A body that ended early or in an error is kept as a stream, which can say so.
        if kind is None and self._complete and self._error is None:
            content = b"".join(data for _, data in self._chunks)
            set_body(response, content, self._content_type)
        else:
            textual = is_textual(self._content_type)
            stream: StreamRecord = {
                "kind": kind or "bytes",
                "events": [stream_event(t, data, textual) for t, data in self._chunks],
            }
            if not self._complete and self._error is None:
                stream["truncated"] = True
            if self._error is not None:
                stream["error"] = self._error
            response["stream"] = stream
        return {"request": self._request, "response": response, "recorded_at": now_iso()}


class _RecordingAsyncStream(httpx.AsyncByteStream):
    def __init__(self, inner: httpx.AsyncByteStream, capture: _Capture) -> None:
        self._inner = inner
        self._capture = capture

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._inner:
                self._capture.chunk(chunk)
                yield chunk
        except httpx.TransportError as exc:
            self._capture.failed(exc)
            raise
        self._capture.completed()

    async def aclose(self) -> None:
        try:
            await self._inner.aclose()
        finally:
            self._capture.store()


class _RecordingSyncStream(httpx.SyncByteStream):
    def __init__(self, inner: httpx.SyncByteStream, capture: _Capture) -> None:
        self._inner = inner
        self._capture = capture

    def __iter__(self) -> Iterator[bytes]:
        try:
            for chunk in self._inner:
                self._capture.chunk(chunk)
                yield chunk
        except httpx.TransportError as exc:
            self._capture.failed(exc)
            raise
        self._capture.completed()

    def close(self) -> None:
        try:
            self._inner.close()
        finally:
            self._capture.store()


def _failed_interaction(request: RequestRecord, exc: BaseException) -> Interaction:
    return {"request": request, "error": _error_record(exc), "recorded_at": now_iso()}


class RecordingTransport(httpx.AsyncBaseTransport):
    """Async transport that sends through `inner` and records every exchange in `cassette`."""

    def __init__(self, inner: httpx.AsyncBaseTransport, cassette: Cassette) -> None:
        self._inner = inner
        self._cassette = cassette

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        record = request_record(request)
        clock = _async_clock()
        slot = self._cassette.reserve_slot()
        sent = clock()
        try:
            response = await self._inner.handle_async_request(_forwarded(request))
        except httpx.TransportError as exc:
            self._cassette.store(slot, _failed_interaction(record, exc))
            raise
        # Cancellation or another error before any answer: nothing to record, the slot stays
        # empty and is dropped.
        if not isinstance(response.stream, httpx.AsyncByteStream):
            raise TypeError("the inner transport returned a response without an async stream")
        capture = _Capture(self._cassette, slot, record, response, clock() - sent, clock)
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=_RecordingAsyncStream(response.stream, capture),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self._inner.aclose()


class SyncRecordingTransport(httpx.BaseTransport):
    """Sync transport that sends through `inner` and records every exchange in `cassette`."""

    def __init__(self, inner: httpx.BaseTransport, cassette: Cassette) -> None:
        self._inner = inner
        self._cassette = cassette

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()
        record = request_record(request)
        clock = time.monotonic
        slot = self._cassette.reserve_slot()
        sent = clock()
        try:
            response = self._inner.handle_request(_forwarded(request))
        except httpx.TransportError as exc:
            self._cassette.store(slot, _failed_interaction(record, exc))
            raise
        if not isinstance(response.stream, httpx.SyncByteStream):
            raise TypeError("the inner transport returned a response without a sync stream")
        capture = _Capture(self._cassette, slot, record, response, clock() - sent, clock)
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=_RecordingSyncStream(response.stream, capture),
            extensions=response.extensions,
        )

    def close(self) -> None:
        self._inner.close()


class WebSocketCapture:
    """One WebSocket session as it happens, stored (redacted) in its slot when it ends.

    Made by `Cassette.record_websocket(url, headers)` when the upgrade is sent. Then exactly
    one of: `accepted()` followed by `frame()` for every message either way and `closed()`;
    `rejected()` with the HTTP answer that refused the upgrade; `failed()` when no answer
    came. `store()` (idempotent) puts what was seen in the cassette; the times come from
    Trio's clock (so `MockClock` applies) when running under Trio.
    """

    def __init__(self, cassette: Cassette, slot: RecordingSlot, request: RequestRecord) -> None:
        self._cassette = cassette
        self._slot = slot
        self._request = request
        self._clock = _async_clock()
        self._sent = self._clock()
        self._start: float | None = None
        self._elapsed = 0.0
        self._subprotocol: str | None = None
        self._frames: list[WebSocketFrameRecord] = []
        self._close: WebSocketCloseRecord | None = None
        self._outcome: Interaction | None = None
        self._stored = False

    def accepted(self, subprotocol: str | None = None) -> None:
        """The upgrade succeeded: frame times count from now."""
        self._start = self._clock()
        self._elapsed = self._start - self._sent
        self._subprotocol = subprotocol

    def frame(self, sender: WebSocketSender, data: str | bytes) -> None:
        """One message, `str` for a text frame and `bytes` for a binary one."""
        start = self._start if self._start is not None else self._sent
        self._frames.append(frame_record(self._clock() - start, sender, data))

    def closed(self, code: int, reason: str, by: WebSocketSender) -> None:
        """The session ended (the first close seen wins: it says who ended it)."""
        if self._close is None:
            self._close = {"code": code, "reason": reason, "by": by}

    def rejected(self, status: int, headers: httpx.Headers, body: bytes) -> None:
        """The upgrade was refused with this HTTP answer."""
        response: ResponseRecord = {
            "status": status,
            "headers": headers_record(headers),
            "elapsed": round(self._clock() - self._sent, 6),
        }
        fields = body_fields(body, headers.get("content-type"))
        response.update(fields)  # type: ignore[typeddict-item]
        self._outcome = {"request": self._request, "response": response, "recorded_at": now_iso()}

    def failed(self, exc: BaseException) -> None:
        """The upgrade got no answer (connection refused, handshake broken)."""
        self._outcome = _failed_interaction(self._request, exc)

    def store(self) -> None:
        if self._stored:
            return
        self._stored = True
        interaction = self._outcome
        if interaction is None:
            session: WebSocketRecord = {
                "elapsed": round(self._elapsed, 6),
                "subprotocol": self._subprotocol,
                "frames": self._frames,
            }
            if self._close is not None:
                session["close"] = self._close
            interaction = {"request": self._request, "websocket": session, "recorded_at": now_iso()}
        self._cassette.store(self._slot, interaction)
