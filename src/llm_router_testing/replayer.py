"""Replaying httpx transports: answer requests from a cassette's recorded interactions.

Streams replay chunk by chunk, exactly as recorded: instantly, or (async, `realtime=True`)
at their recorded offsets using Trio's clock, so `trio.testing.MockClock` makes timing tests
run in virtual time. A request without a replayable interaction goes to `on_miss` (the
recorder, in modes ``once``/``new``) or raises `CassetteMissError`. `websocket_steps` turns a
recorded WebSocket session into what a server replaying it does, step by step (sans-IO: the
fake server runs the steps on its sockets).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import httpx
import trio

from llm_router.errors import ConfigurationError
from llm_router_testing.cassette_format import (
    CassetteError,
    ErrorRecord,
    Interaction,
    RequestRecord,
    ResponseRecord,
    StreamRecord,
    WebSocketRecord,
    body_bytes,
    chunk_bytes,
    frame_data,
)
from llm_router_testing.matching import CassetteMissError, MatchFunction, RequestMatcher

if TYPE_CHECKING:
    from llm_router_testing.cassette import Cassette

__all__ = ["ReplayStep", "ReplayTransport", "SyncReplayTransport", "websocket_steps"]

_UNKNOWN_ERROR: ErrorRecord = {"type": "TransportError", "message": "recorded transport error"}
# Recomputed for the replayed bytes: JSON bodies are re-serialised, redaction changes sizes.
_FRAMING_HEADERS = frozenset({"content-length", "transfer-encoding"})


def _transport_error(record: ErrorRecord, request: httpx.Request) -> httpx.TransportError:
    """The recorded httpx error, rebuilt (an unknown type becomes a plain TransportError)."""
    cls = getattr(httpx, record["type"], None)
    if not (isinstance(cls, type) and issubclass(cls, httpx.TransportError)):
        cls = httpx.TransportError
    return cls(record["message"], request=request)


def _truncated_error(request: httpx.Request) -> CassetteError:
    return CassetteError(
        f"the recorded stream for {request.method} {request.url} ends where the recording"
        " caller stopped reading it (truncated); re-record it with a caller that reads it all"
    )


def _headers(response: ResponseRecord) -> list[tuple[str, str]]:
    return [(k, v) for k, v in response["headers"].items() if k.lower() not in _FRAMING_HEADERS]


def _in_trio() -> bool:
    try:
        trio.current_time()
    except RuntimeError:
        return False
    return True


class _ReplayAsyncStream(httpx.AsyncByteStream):
    def __init__(
        self,
        stream: StreamRecord,
        request: httpx.Request,
        started: float | None,
    ) -> None:
        self._stream = stream
        self._request = request
        self._started = started  # None: replay instantly

    async def __aiter__(self) -> AsyncIterator[bytes]:
        checkpoint = _in_trio()
        for event in self._stream["events"]:
            if self._started is not None:
                await trio.sleep_until(self._started + float(event["t"]))
            elif checkpoint:
                # Each chunk is a scheduling point, as it would be when read from a socket.
                await trio.lowlevel.checkpoint()
            yield chunk_bytes(event)
        _raise_stream_end(self._stream, self._request)


class _ReplaySyncStream(httpx.SyncByteStream):
    def __init__(self, stream: StreamRecord, request: httpx.Request) -> None:
        self._stream = stream
        self._request = request

    def __iter__(self) -> Iterator[bytes]:
        for event in self._stream["events"]:
            yield chunk_bytes(event)
        _raise_stream_end(self._stream, self._request)


def _raise_stream_end(stream: StreamRecord, request: httpx.Request) -> None:
    error = stream.get("error")
    if error is not None:
        raise _transport_error(error, request)
    if stream.get("truncated"):
        raise _truncated_error(request)


class _ReplayBase:
    def __init__(
        self,
        cassette: Cassette,
        *,
        match_on: Iterable[str | MatchFunction] | None,
        ignore_body_keys: Iterable[str] | None,
        allow_playback_repeats: bool | None,
    ) -> None:
        self._cassette = cassette
        if match_on is None and ignore_body_keys is None:
            self._matcher = cassette.matcher
        else:
            self._matcher = RequestMatcher.build(
                cassette.matcher.match_on if match_on is None else match_on,
                cassette.matcher.ignore_body_keys if ignore_body_keys is None else ignore_body_keys,
                cassette.matcher.ignore_message_keys,
            )
        self._repeats = (
            cassette.allow_playback_repeats
            if allow_playback_repeats is None
            else allow_playback_repeats
        )

    def _lookup(self, request: httpx.Request) -> tuple[RequestRecord, Interaction | None]:
        record = self._cassette.incoming_request(request)
        return record, self._cassette.take_playback(record, self._matcher, self._repeats)

    def _miss(self, record: RequestRecord) -> CassetteMissError:
        return self._cassette.miss_error(record, self._matcher, self._repeats)


class ReplayTransport(_ReplayBase, httpx.AsyncBaseTransport):
    """Async transport answering from `cassette`; settings left None use the cassette's.

    `realtime=True` waits the recorded response latency and stream offsets on Trio's clock.
    `on_miss` receives requests with nothing to replay (else `CassetteMissError` is raised).
    """

    def __init__(
        self,
        cassette: Cassette,
        *,
        match_on: Iterable[str | MatchFunction] | None = None,
        ignore_body_keys: Iterable[str] | None = None,
        allow_playback_repeats: bool | None = None,
        realtime: bool | None = None,
        on_miss: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(
            cassette,
            match_on=match_on,
            ignore_body_keys=ignore_body_keys,
            allow_playback_repeats=allow_playback_repeats,
        )
        self._realtime = cassette.realtime if realtime is None else realtime
        self._on_miss = on_miss

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        record, interaction = self._lookup(request)
        if interaction is None:
            if self._on_miss is not None:
                return await self._on_miss.handle_async_request(request)
            raise self._miss(record)
        response = interaction.get("response")
        if self._realtime and response is not None:
            await trio.sleep(float(response.get("elapsed", 0.0)))
        if response is None:
            raise _transport_error(interaction.get("error", _UNKNOWN_ERROR), request)
        stream = response.get("stream")
        if stream is None:
            return httpx.Response(
                response["status"], headers=_headers(response), content=body_bytes(response)
            )
        started = trio.current_time() if self._realtime else None
        return httpx.Response(
            response["status"],
            headers=_headers(response),
            stream=_ReplayAsyncStream(stream, request, started),
        )

    async def aclose(self) -> None:
        if self._on_miss is not None:
            await self._on_miss.aclose()


class SyncReplayTransport(_ReplayBase, httpx.BaseTransport):
    """Sync transport answering from `cassette` (always instantly; see `ReplayTransport`)."""

    def __init__(
        self,
        cassette: Cassette,
        *,
        match_on: Iterable[str | MatchFunction] | None = None,
        ignore_body_keys: Iterable[str] | None = None,
        allow_playback_repeats: bool | None = None,
        on_miss: httpx.BaseTransport | None = None,
    ) -> None:
        if cassette.realtime:
            raise ConfigurationError(
                "realtime replay needs Trio's clock: use cassette.async_transport() with an"
                " httpx.AsyncClient, or open the cassette with realtime=False"
            )
        super().__init__(
            cassette,
            match_on=match_on,
            ignore_body_keys=ignore_body_keys,
            allow_playback_repeats=allow_playback_repeats,
        )
        self._on_miss = on_miss

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()
        record, interaction = self._lookup(request)
        if interaction is None:
            if self._on_miss is not None:
                return self._on_miss.handle_request(request)
            raise self._miss(record)
        response = interaction.get("response")
        if response is None:
            raise _transport_error(interaction.get("error", _UNKNOWN_ERROR), request)
        stream = response.get("stream")
        if stream is None:
            return httpx.Response(
                response["status"], headers=_headers(response), content=body_bytes(response)
            )
        return httpx.Response(
            response["status"],
            headers=_headers(response),
            stream=_ReplaySyncStream(stream, request),
        )

    def close(self) -> None:
        if self._on_miss is not None:
            self._on_miss.close()


@dataclass(frozen=True, slots=True)
class ReplayStep:
    """One thing a server replaying a WebSocket session does, in order.

    ``send``: wait `pause` seconds, then send `data` (`str`: a text frame, `bytes`: binary).
    ``receive``: wait for the client's next message; `data` is what the client sent there in
    the recording (`CassetteConnector` checks it before it is sent).
    ``close``: wait `pause` seconds, then close with `code` and `reason` (the server closed).
    ``await_close``: wait for the client to close (the client closed the recorded session).
    ``drop``: end without a close frame of its own (the recording ended without a close).
    """

    kind: Literal["send", "receive", "close", "await_close", "drop"]
    pause: float = 0.0
    data: str | bytes | None = None
    code: int = 1000
    reason: str = ""


def websocket_steps(session: WebSocketRecord) -> list[ReplayStep]:
    """The server's side of a recorded session: its messages at their recorded gaps (the
    pause before each is its time since the frame before it, either way), the client's
    messages awaited in their recorded places, then the recorded end."""
    steps: list[ReplayStep] = []
    previous = 0.0
    for frame in session["frames"]:
        pause = max(0.0, float(frame["t"]) - previous)
        previous = float(frame["t"])
        if frame["from"] == "server":
            steps.append(ReplayStep("send", pause, frame_data(frame)))
        else:
            steps.append(ReplayStep("receive", data=frame_data(frame)))
    close = session.get("close")
    if close is None:
        steps.append(ReplayStep("drop"))
    elif close["by"] == "server":
        steps.append(ReplayStep("close", 0.0, None, close["code"], close["reason"]))
    else:
        steps.append(ReplayStep("await_close"))
    return steps
