"""The fake server's WebSocket endpoints: OpenAI Realtime, Responses WebSocket mode, Gemini Live.

Paths: `/v1/realtime?model=...` (OpenAI), `/openai/v1/realtime?model=...` and
`/openai/realtime?deployment=...` (Azure), `/v1/responses` and `/openai/v1/responses`
(Responses WebSocket mode), `/ws/google.ai.generativelanguage.{v1alpha,v1beta,v1}.GenerativeService.BidiGenerateContent`
(Gemini API) and `/ws/google.cloud.aiplatform.{v1,v1beta1}.LlmBidiService/BidiGenerateContent`
(Vertex). Credentials are checked as over HTTP, before the upgrade: a refusal is the
provider's HTTP error (status and body), never an accepted socket.

Faults come from `x-fake-*` headers and scenario rules (see `faults.py`), counted in server
frames: `status` refuses the upgrade, `latency` delays it, `inter-event-delay` slows frames,
`drop-after-events: N` ends the session after N frames without a close frame of its own
(the server closes with 1011), `close-code: C` closes with C after N frames (default 1),
`stream-error: N` sends the protocol's `error` event after N frames then closes with 1011
(Gemini: closes with 1011 and the message as reason), `malformed-event: N` replaces frame N
with broken JSON, `go-away: N` (Gemini) sends `goAway` after N frames. Each session is one
journal entry (method `WEBSOCKET`) with frames both ways, the close code and who closed
(hypercorn hands the app 1006 for every close the client starts: the client's own code does
not reach it).

A recorded session in the fixtures directory matching the upgrade's path and query (and, for a
session the client opens, its first message) replaces the script (faults still apply to its
frames; journal rule ``recording``; a client frame differing from the recording is noted in
the entry's `error`), and a provider the record-through proxy handles is forwarded upstream
and recorded (rule ``proxy``).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

import orjson
import trio

from llm_router_testing.patterns import PatternError

from .auth import check
from .dialects import error_reply
from .faults import Fault, FaultSpecError
from .fixtures import WebSocketFixture, normalise_message
from .journal import JournalEntry, redact_headers, redact_query
from .realtime_scripts import (
    GeminiLiveScript,
    OpenAIRealtimeScript,
    ResponsesWsScript,
    ScriptClose,
)
from .state import FakeState

__all__ = ["match_websocket_route", "serve_websocket"]

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
Script = OpenAIRealtimeScript | GeminiLiveScript | ResponsesWsScript

_GEMINI = re.compile(
    r"^/ws/google\.ai\.generativelanguage\.(v1alpha|v1beta|v1)\.GenerativeService\."
    r"BidiGenerateContent(Constrained)?$"
)
_VERTEX = re.compile(
    r"^/ws/google\.cloud\.aiplatform\.(v1|v1beta1)\.LlmBidiService/BidiGenerateContent$"
)
_PATHS = {
    "/v1/realtime": ("openai", "openai-realtime"),
    "/openai/v1/realtime": ("azure", "openai-realtime"),
    "/openai/realtime": ("azure", "openai-realtime"),
    "/v1/responses": ("openai", "responses-ws"),
    "/openai/v1/responses": ("azure", "responses-ws"),
}
INJECTED = "injected by the fake provider"


def match_websocket_route(path: str) -> tuple[str, str] | None:
    """(provider, protocol) served at `path`, or None."""
    if path in _PATHS:
        return _PATHS[path]
    if _GEMINI.match(path):
        return "google", "gemini-live"
    if _VERTEX.match(path):
        return "vertex-google", "gemini-live"
    return None


class _Closed(Exception):
    """The session is over (the entry says how)."""


class _Session:
    def __init__(
        self, state: FakeState, entry: JournalEntry, receive: Receive, send: Send, fault: Fault
    ) -> None:
        self.state, self.entry, self.receive, self.send = state, entry, receive, send
        self.fault = fault
        self.protocol = entry.format or ""

    async def emit(self, frame: str | bytes) -> None:
        fault, sent, entry = self.fault, self.entry.events_sent, self.entry
        limit = fault.drop_after_events
        if fault.close_code is not None and limit is None:
            limit = 1
        if limit is not None and sent >= limit:
            await self._cut()
        if fault.stream_error is not None and sent == fault.stream_error:
            await self._error_and_close()
        if fault.go_away is not None and sent == fault.go_away and self.protocol == "gemini-live":
            await self._send(orjson.dumps({"goAway": {"timeLeft": "10s"}}))
        if fault.inter_event_delay and sent:
            await trio.sleep(fault.inter_event_delay)
        if fault.malformed_event is not None and sent == fault.malformed_event:
            frame = '{"type": "response.output_text.delta", "delta": "unterminated'
        await self._send(frame)
        if entry.first_event_at is None:
            entry.first_event_at = trio.current_time()
        self.state.journal.notify()
        if limit is not None and entry.events_sent >= limit:
            await self._cut()  # right after the last frame: the client sees the end at once

    async def _cut(self) -> None:
        fault, entry = self.fault, self.entry
        if fault.close_code is not None:
            await self.close(fault.close_code, INJECTED)
        entry.close_code, entry.closed_by = entry.close_code or 1011, "server"
        raise _Closed

    async def _send(self, frame: str | bytes) -> None:
        message = (
            {"type": "websocket.send", "bytes": frame}
            if isinstance(frame, bytes)
            else {
                "type": "websocket.send",
                "text": frame,
            }
        )
        await self.send(message)
        self.entry.events_sent += 1

    async def _error_and_close(self) -> None:
        message = f"The server had an error while processing your request ({INJECTED})."
        if self.protocol == "gemini-live":
            await self.close(1011, "Internal error encountered.")
        else:
            error = {"type": "server_error", "code": "server_error", "message": message}
            await self._send(
                orjson.dumps({"type": "error", "event_id": "event_fault", "error": error}).decode()
            )
            await self.close(1011, "server error")
        raise _Closed

    async def close(self, code: int, reason: str) -> None:
        await self.send({"type": "websocket.close", "code": code, "reason": reason})
        self.entry.close_code, self.entry.closed_by = code, "server"


async def serve_websocket(
    state: FakeState, scope: dict[str, Any], receive: Receive, send: Send
) -> None:
    """Serve one WebSocket connection (an ASGI `websocket` scope) to its end."""
    path = scope["path"]
    headers = {
        name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]
    }
    query_string = scope.get("query_string", b"").decode("latin-1")
    query = dict(parse_qsl(query_string))
    entry = state.journal.new_entry(
        method="WEBSOCKET",
        path=path,
        query=redact_query(query_string),
        headers=redact_headers(headers),
        body=b"",
        stream=True,
        started_at=trio.current_time(),
    )
    denial = "websocket.http.response" in scope.get("extensions", {})
    try:
        message = await receive()
        if message["type"] != "websocket.connect":
            return
        route = match_websocket_route(path)
        if route is None:
            await _deny(send, denial, entry, None, 404, f"Unknown WebSocket URL: {path}")
            return
        provider, protocol = route
        entry.provider, entry.format = provider, protocol
        entry.model = query.get("model") or query.get("deployment")
        if state.proxy is not None and state.proxy.handles(provider):
            entry.rule = "proxy"
            outcome = await state.proxy.forward_websocket(provider, scope, receive, send)
            entry.status, entry.error = outcome.status, outcome.error
            entry.frames_received, entry.events_sent = (
                outcome.frames_from_client,
                outcome.frames_from_upstream,
            )
            entry.body = outcome.first_client_frame
            entry.close_code, entry.closed_by = outcome.close_code, outcome.closed_by
            entry.disconnected = outcome.closed_by == "client"
            return
        if state.require_auth:
            failure = check(provider, headers, query, state.credentials)
            if failure is not None:
                entry.error = failure.message
                await _deny(
                    send, denial, entry, provider, failure.status, failure.message, failure.reason
                )
                return
        try:
            fault, entry.attempt = state.fault_for(
                method="GET",
                path=path,
                provider=provider,
                model=entry.model or "",
                headers=headers,
                body=b"",
                header_fault=Fault.from_headers(headers),
            )
        except (FaultSpecError, PatternError) as error:
            await _deny(send, denial, entry, provider, 400, str(error))
            return
        fault = fault or Fault()
        entry.faults = tuple(
            name
            for name in (
                "status",
                "latency",
                "inter_event_delay",
                "drop_after_events",
                "close_code",
                "stream_error",
                "malformed_event",
                "go_away",
            )
            if getattr(fault, name) is not None
        )
        if fault.latency is not None:
            await trio.sleep(fault.latency.draw(state.rng))
        if fault.status is not None and not 200 <= fault.status < 300:
            await _deny(
                send, denial, entry, provider, fault.status, f"Injected error ({INJECTED})."
            )
            return
        fixtures = state.fixtures
        opened_by_client = fixtures.websocket_opened_by_client(path, query_string)
        recording = None
        if not opened_by_client:
            recording = fixtures.match_websocket(path, query_string)
        if recording is not None and recording.refusal is not None:
            entry.rule = "recording"
            refusal = recording.refusal
            await _deny_as(send, denial, entry, refusal.status, refusal.headers, refusal.body)
            return
        accept: dict[str, Any] = {"type": "websocket.accept"}
        subprotocol = (
            fixtures.websocket_subprotocol(path, query_string)
            if opened_by_client
            else recording.subprotocol
            if recording is not None
            else None
        )
        if subprotocol:
            accept["subprotocol"] = subprotocol
        await send(accept)
        entry.status = 101
        entry.first_byte_at = trio.current_time()
        state.journal.notify()
        session = _Session(state, entry, receive, send, fault)
        first: str | bytes | None = None
        if opened_by_client:
            # Which recording answers depends on the client's first message (its setup).
            first = await _client_frame(session)
            if first is None:
                return
            recording = fixtures.match_websocket(path, query_string, first)
        if recording is not None:
            entry.rule = "recording"
            await _replay(session, recording, first)
            return
        script = _script(protocol, entry.model or "", fault.answer)
        await _run(session, script, first)
    except _Closed:
        pass
    finally:
        entry.ended_at = trio.current_time()
        state.journal.notify()


def _script(protocol: str, model: str, answer: str | None) -> Script:
    if protocol == "openai-realtime":
        return OpenAIRealtimeScript(model, answer=answer)
    if protocol == "gemini-live":
        return GeminiLiveScript(None, answer=answer)
    return ResponsesWsScript(answer=answer)


async def _run(session: _Session, script: Script, first: str | bytes | None = None) -> None:
    """Answer the client's frames from `script` (`first`: a frame already received)."""
    for opening in script.opening():
        await session.emit(opening)
    frame = first
    while True:
        if frame is None:
            frame = await _client_frame(session)
            if frame is None:
                return
        try:
            replies = script.handle(frame)
        except ScriptClose as close:
            await session.close(close.code, close.reason)
            return
        for reply in replies:
            await session.emit(reply)
        session.state.journal.notify()
        frame = None


async def _replay(
    session: _Session, recording: WebSocketFixture, first: str | bytes | None = None
) -> None:
    """Play a recorded session: the server's frames at their recorded gaps, the client's
    awaited in their places (`first`: the first, already received), then the recorded end.
    The first client frame that differs from the recording is noted in the journal entry's
    `error`; the replay goes on as recorded."""
    entry = session.entry
    received = 0
    for step in recording.steps:
        if step.kind == "send" and step.data is not None:
            if step.pause:
                await trio.sleep(step.pause)
            await session.emit(step.data)
        elif step.kind == "receive":
            frame = first if first is not None and received == 0 else await _client_frame(session)
            if frame is None:
                return
            received += 1
            differs = step.data is not None and (
                normalise_message(frame) != normalise_message(step.data)
            )
            if differs and entry.error is None and step.data is not None:
                entry.error = (
                    f"client message {received} differs from the recording: sent"
                    f" {_preview(frame)}, recorded {_preview(step.data)}"
                )
        elif step.kind == "close":
            await session.close(step.code, step.reason)
            return
        elif step.kind == "drop":
            await session.close(1011, "the recorded session ended without a close")
            return
    while await _client_frame(session) is not None:  # the client ended the recording
        pass


def _preview(frame: str | bytes, limit: int = 80) -> str:
    text = frame if isinstance(frame, str) else frame.decode("utf-8", errors="replace")
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")


async def _client_frame(session: _Session) -> str | bytes | None:
    """The client's next message, or None once it closed (journalled)."""
    entry = session.entry
    while True:
        message = await session.receive()
        if message["type"] == "websocket.disconnect":
            entry.disconnected = True
            entry.close_code = message.get("code", 1005)
            entry.closed_by = "client"
            return None
        if message["type"] != "websocket.receive":
            continue
        text = message.get("text")
        frame: str | bytes = text if isinstance(text, str) else bytes(message.get("bytes") or b"")
        entry.frames_received += 1
        if entry.frames_received == 1:
            entry.body = frame.encode() if isinstance(frame, str) else frame
            if entry.format == "gemini-live":
                entry.model = _setup_model(entry.body) or entry.model
        session.state.journal.notify()
        return frame


def _setup_model(body: bytes) -> str | None:
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    model = value.get("setup", {}).get("model") if isinstance(value, dict) else None
    return model.removeprefix("models/") if isinstance(model, str) else None


async def _deny_as(
    send: Send,
    denial: bool,
    entry: JournalEntry,
    status: int,
    headers: tuple[tuple[str, str], ...],
    body: bytes | None,
) -> None:
    """Refuse the upgrade with a recorded HTTP answer."""
    entry.status = status
    if not denial:
        entry.status = 403
        await send({"type": "websocket.close", "code": 1008})
        return
    raw = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers]
    await send({"type": "websocket.http.response.start", "status": status, "headers": raw})
    await send({"type": "websocket.http.response.body", "body": body or b""})


async def _deny(
    send: Send,
    denial: bool,
    entry: JournalEntry,
    provider: str | None,
    status: int,
    message: str,
    reason: str | None = None,
) -> None:
    entry.status = status
    entry.error = entry.error or message
    if not denial:  # a server without the denial extension can only refuse with 403
        entry.status = 403
        await send({"type": "websocket.close", "code": 1008})
        return
    reply = error_reply(provider, status, message, reason=reason)
    headers = [
        (b"content-type", b"application/json"),
        *((k.encode(), v.encode()) for k, v in reply.headers),
    ]
    await send(
        {"type": "websocket.http.response.start", "status": reply.status, "headers": headers}
    )
    await send({"type": "websocket.http.response.body", "body": reply.body})
