"""One provider request on the fake server: route, authenticate, apply faults, answer.

The order follows real providers: unknown path, then credentials, then injected faults
(latency, error status), then body validation, then the answer (a fixture when one matches,
else the canonical answer rendered in the route's format, streamed with stream faults).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

import orjson
import trio

from llm_router._concurrency import open_nursery
from llm_router.types import ProviderFormat, StreamEvent
from llm_router_testing.model_ids import BEDROCK_INVALID_MODEL, refusal_reason
from llm_router_testing.patterns import PatternError

from . import bedrock
from .actions import Action
from .answers import derive_answer
from .auth import AuthFailure, SignedRequest, check
from .conversation import Conversation
from .dialects import count_tokens_body, dialect_for, error_reply, models_body
from .embeddings import embedding_answer
from .faults import Fault, FaultSpecError
from .fixtures import FixtureResponse
from .http1 import BODY_FOLLOWS
from .journal import JournalEntry, redact_headers, redact_query
from .routes import Route, resolve
from .state import Decision, FakeState
from .wire import ErrorReply, RejectedRequest, RenderContext, as_dict, default_message

__all__ = ["ProviderExchange"]

Send = Callable[[dict[str, Any]], Awaitable[None]]
Receive = Callable[[], Awaitable[dict[str, Any]]]

JSON = b"application/json"
SSE = b"text/event-stream; charset=utf-8"
MALFORMED_JSON = b'{"truncated":'
STREAM_ERROR_MESSAGE = "The stream was interrupted (injected by the fake provider)."
# Where each provider's clients find the request id (botocore: ResponseMetadata.RequestId).
_REQUEST_ID_HEADERS = {
    "anthropic": b"request-id",
    "vertex-anthropic": b"request-id",
    "bedrock": b"x-amzn-requestid",
}
_BATCH = 256  # events coalesced into one write when no delay separates them


class ProviderExchange:
    """Answers one request to a provider path; the journal entry records how it went."""

    def __init__(
        self,
        state: FakeState,
        scope: dict[str, Any],
        receive: Receive,
        send: Send,
        headers: dict[str, str],
        body: bytes,
    ) -> None:
        self.state = state
        self.scope = scope
        self.receive = receive
        self.send = send
        self.headers = headers
        self.body = body
        self.method: str = scope["method"]
        self.path: str = scope["path"]
        self.query_string: str = scope["query_string"].decode("latin-1")
        self.query = dict(parse_qsl(self.query_string)) if self.query_string else {}
        self.route: Route | None = None
        self.decision = Decision(None)
        self.conversation: Conversation | None = None
        self.complete = False  # the whole answer was handed to the server
        self.response_headers: tuple[tuple[str, str], ...] | None = None
        self.entry: JournalEntry = state.journal.new_entry(
            method=self.method,
            path=self.path,
            query=redact_query(self.query_string),
            headers=redact_headers(headers),
            body=body,
            started_at=trio.current_time(),
        )

    async def run(self) -> None:
        try:
            await self._run()
        except Exception as error:  # a bug here must still answer, and be visible in the journal
            self.entry.error = f"fake server error: {error!r}"
            if self.entry.first_byte_at is None:
                provider = self.route.provider if self.route else None
                await self._reply_error(error_reply(provider, 500, "fake server error"))
        finally:
            self.entry.ended_at = trio.current_time()
            self.state.journal.notify()

    async def _run(self) -> None:
        state, entry = self.state, self.entry
        route = resolve(
            self.method,
            self.path,
            self.query,
            self.headers,
            mistral_key=state.credentials.mistral,
            body=self.body,
        )
        if route is None:
            message = f"Unknown request URL: {self.method} {self.path}"
            await self._reply_error(error_reply(None, 404, message))
            return
        self.route = route
        entry.provider, entry.format = route.provider, route.embedding or route.format.value
        proxy = state.proxy
        if proxy is not None and proxy.handles(route.provider):
            entry.rule = "proxy"
            entry.status = await proxy.forward(
                route.provider, self.scope, self.headers, self.body, self.receive, self.send
            )
            self.complete = True
            return
        parsed = _parse_json(self.body) if self.method == "POST" else {}
        model = route.model or str(as_dict(parsed).get("model") or "")
        entry.model = model or None
        stream = route.stream if route.stream is not None else as_dict(parsed).get("stream") is True
        entry.stream = stream

        if state.require_auth:
            failure = self._check_auth(route)
            if failure is not None:
                entry.error = failure.message
                await self._reply_error(
                    error_reply(
                        route.provider,
                        failure.status,
                        failure.message,
                        reason=failure.reason,
                        error_type=failure.error_type,
                    )
                )
                return
        if route.rejection is not None:
            await self._reply_error(error_reply(route.provider, *route.rejection))
            return
        if route.provider == "anthropic" and "anthropic-version" not in self.headers:
            await self._reply_error(
                error_reply("anthropic", 400, "anthropic-version: header is required")
            )
            return

        refused = self._refused_model(route, model)
        if refused is not None:
            await self._reply_error(refused)
            return
        try:
            header_fault = Fault.from_headers(self.headers)
        except FaultSpecError as error:
            await self._reply_error(error_reply(route.provider, 400, str(error)))
            return
        conversation = None
        if (
            state.scenario.reads_content
            and route.operation == "generate"
            and isinstance(parsed, dict)
        ):
            conversation = Conversation.read(route.format, parsed, model)
        try:
            decision = state.decide(
                method=self.method,
                path=self.path,
                provider=route.provider,
                model=model,
                headers=self.headers,
                body=self.body,
                header_fault=header_fault,
                conversation=conversation,
            )
        except PatternError as error:  # the scenario's fault, not the caller's: a 500 naming it
            entry.error = f"scenario: {error}"
            await self._reply_error(error_reply(route.provider, 500, entry.error))
            return
        fault, entry.attempt, entry.rule = decision.fault, decision.attempt, decision.rule
        self.decision, self.conversation = decision, conversation
        if fault is None and not stream:
            await self._answer(route, parsed, None, stream)
            return
        async with open_nursery() as nursery:
            nursery.start_soon(self._watch_disconnect, nursery.cancel_scope)
            await self._answer(route, parsed, fault, stream)
            nursery.cancel_scope.cancel()

    def _refused_model(self, route: Route, model: str) -> ErrorReply | None:
        """The provider's own refusal of a model id it could not serve (see `model_ids`)."""
        if route.operation == "models" or not model or route.provider == "azure":
            return None
        state = self.state
        reason = refusal_reason(
            route.provider, model, strict=state.strict_models, known=state.models
        )
        if reason is None:
            return None
        self.entry.error = f"model id {model!r} refused: {reason}"
        if route.provider == "bedrock":
            return error_reply("bedrock", 400, BEDROCK_INVALID_MODEL)
        if route.provider in ("google", "vertex-google"):
            operation = "countTokens" if route.operation == "count_tokens" else "generateContent"
            message = (
                f"models/{model} is not found for API version v1beta, or is not supported for"
                f" {operation}. Call ListModels to see the list of available models and their"
                " supported methods."
            )
            return error_reply(route.provider, 404, message)
        if route.provider in ("anthropic", "vertex-anthropic"):
            return error_reply(route.provider, 404, f"model: {model}")
        message = f"The model `{model}` does not exist or you do not have access to it."
        return error_reply(route.provider, 404, message)

    def _check_auth(self, route: Route) -> AuthFailure | None:
        signed = None
        if route.provider == "bedrock":
            host = self.headers.get("host", "localhost")
            raw_path = self.scope.get("raw_path") or self.path.encode()
            url = f"http://{host}{raw_path.decode('latin-1')}"
            if self.query_string:
                url += f"?{self.query_string}"
            signed = SignedRequest(self.method, url, self.headers, self.body)
        return check(route.provider, self.headers, self.query, self.state.credentials, signed)

    async def _watch_disconnect(self, scope: trio.CancelScope) -> None:
        while True:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                if not self.complete:
                    self.entry.disconnected = True
                    self.state.journal.notify()
                scope.cancel()
                return

    async def _answer(self, route: Route, parsed: Any, fault: Fault | None, stream: bool) -> None:
        entry = self.entry
        if fault is not None:
            entry.faults = _fault_names(fault)
            self.response_headers = fault.response_headers
            if fault.latency is not None:
                await trio.sleep(fault.latency.draw(self.state.rng))
            if fault.status is not None and not 200 <= fault.status < 300:
                reply = error_reply(route.provider, fault.status, default_message(fault.status))
                await self._reply_error(reply, fault)
                return
        if route.operation == "models":
            if route.model is not None and route.model not in self.state.models:
                message = f"models/{route.model} is not found for API version v1beta."
                await self._reply_error(error_reply(route.provider, 404, message))
                return
            body = models_body(route, self.state.models, int(time.time()))
            await self._reply(200, JSON, body, fault)
            return
        if not isinstance(parsed, dict):
            message = "We could not parse the JSON body of your request."
            await self._reply_error(error_reply(route.provider, 400, message))
            return
        if route.embedding is not None:
            await self._embed(route, parsed, fault)
            return
        fixture = self.state.fixtures.match(self.method, self.path, self.body)
        if fixture is None and len(self.state.fixtures.by_content):
            fixture = self._recording_in_format(route, parsed, stream)
        if fixture is not None:
            await self._serve_fixture(fixture, fault)
            return
        dialect = dialect_for(route)
        try:
            prompt = dialect.read_prompt(parsed, route)
        except RejectedRequest as rejected:
            await self._reply_error(error_reply(route.provider, rejected.status, rejected.message))
            return
        if route.operation == "count_tokens":
            await self._reply(200, JSON, count_tokens_body(route, prompt), fault)
            return
        if self.decision.unmatched is not None:
            message = f"No scripted rule matches this request ({self.decision.unmatched})."
            self.entry.error = message
            await self._reply_error(error_reply(route.provider, 404, message))
            return
        if self.decision.action is not None:
            await self._scripted(route, parsed, self.decision.action, fault, stream)
            return
        answer = derive_answer(prompt, forced_text=fault.answer if fault else None)
        provider = "bedrock" if route.invoke else route.provider
        ctx = RenderContext(model=prompt.model, provider=provider, request=parsed)
        if not stream:
            await self._reply(200, JSON, dialect.render_body(answer, ctx), fault)
            return
        events = dialect.render_events(answer, ctx)
        if route.format is ProviderFormat.GOOGLE and not route.sse:
            array = b"[" + b",\r\n".join(event.data for event in events) + b"]"
            await self._reply(200, JSON, array, fault)
            return
        await self._stream(route, events, fault)

    async def _embed(self, route: Route, parsed: dict[str, Any], fault: Fault | None) -> None:
        """Deterministic vectors in the route's embedding wire (see `embeddings.py`)."""
        assert route.embedding is not None
        model = route.model or str(parsed.get("model") or "")
        try:
            body, extra = embedding_answer(route.embedding, parsed, model)
        except RejectedRequest as rejected:
            self.entry.error = rejected.message
            await self._reply_error(error_reply(route.provider, rejected.status, rejected.message))
            return
        await self._reply(200, JSON, body, fault, extra)

    def _recording_in_format(
        self, route: Route, parsed: dict[str, Any], stream: bool
    ) -> FixtureResponse | None:
        """A recording made in another format that says the same, translated to this one."""
        conversation = self.conversation or Conversation.read(
            route.format, parsed, self.entry.model or ""
        )
        if conversation is None:
            return None
        include_usage = as_dict(parsed.get("stream_options")).get("include_usage") is True
        found = self.state.fixtures.by_content.answer(
            route, conversation, stream, include_usage=include_usage
        )
        if found is None:
            return None
        content_type, body, frames = found
        self.entry.rule = "recording (translated)"
        return FixtureResponse(200, (("content-type", content_type),), body, frames)

    async def _scripted(
        self,
        route: Route,
        parsed: dict[str, Any],
        action: Action,
        fault: Fault | None,
        stream: bool,
    ) -> None:
        """Answer with a scenario rule's scripted action, rendered in the route's format."""
        if action.error is not None:
            status = action.error.status
            message = action.error.message or default_message(status)
            await self._reply_error(error_reply(route.provider, status, message), fault)
            return
        conversation = self.conversation
        model = conversation.model if conversation else str(parsed.get("model") or "")
        words = conversation.input_words if conversation else 0
        if not stream:
            body = action.render_body(route.format, model=model, input_words=words)
            await self._reply(200, JSON, body, fault)
            return
        options = as_dict(parsed.get("stream_options"))
        timed = action.render_stream(
            route.format,
            model=model,
            input_words=words,
            include_usage=options.get("include_usage") is True,
        )
        if route.format is ProviderFormat.GOOGLE and not route.sse:
            array = b"[" + b",\r\n".join(event.data for event in timed.events) + b"]"
            await self._reply(200, JSON, array, fault)
            return
        if timed.ttfb is not None:
            fault = Fault(ttfb=timed.ttfb).over(fault)
        await self._stream(route, timed.events, fault, timed.delays)

    async def _stream(
        self,
        route: Route,
        events: list[StreamEvent],
        fault: Fault | None,
        delays: list[float] | None = None,
    ) -> None:
        bedrock_stream = route.provider == "bedrock"
        if route.invoke:
            encode: Callable[..., bytes] = bedrock.frame_invoke
        elif bedrock_stream:
            encode = bedrock.frame_converse
        else:
            encode = _sse
        frames = [encode(event) for event in events]
        abort = False
        if fault is not None:
            count = len(frames)
            if fault.malformed_event is not None and fault.malformed_event < count:
                broken = events[fault.malformed_event]
                frames[fault.malformed_event] = encode(StreamEvent(broken.event, MALFORMED_JSON))
            if bedrock_stream and fault.bad_crc is not None and fault.bad_crc < count:
                frames[fault.bad_crc] = encode(events[fault.bad_crc], corrupt_crc=True)
            if fault.stream_error is not None and fault.stream_error < count:
                at = fault.stream_error
                if bedrock_stream:
                    error_frame = bedrock.stream_error_frame(STREAM_ERROR_MESSAGE)
                else:
                    error_frame = dialect_for(route).stream_error(STREAM_ERROR_MESSAGE, at).to_sse()
                frames = [*frames[:at], error_frame]
            if fault.end_after_events is not None:
                frames = frames[: fault.end_after_events]  # a clean end, cut short
            if fault.drop_after_events is not None and fault.drop_after_events < len(frames):
                frames = frames[: fault.drop_after_events]
                abort = True
        content_type = bedrock.EVENTSTREAM_CONTENT_TYPE.encode() if bedrock_stream else SSE
        await self._start(200, content_type, None)
        ttfb = fault.ttfb if fault else None
        delay = fault.inter_event_delay if fault else None
        stall_at = fault.stall_after_events if fault else None
        if ttfb:
            await trio.sleep(ttfb)
        if delays is None or not any(delays) or delay:
            delays = [delay if index and delay else 0.0 for index in range(len(frames))]
        if any(delays) or stall_at is not None:
            for index, frame in enumerate(frames):
                if index == stall_at and fault is not None:
                    await trio.sleep(fault.stall_seconds)
                if index < len(delays) and delays[index]:
                    await trio.sleep(delays[index])
                await self._events([frame], last=not abort and index == len(frames) - 1)
        else:
            for start in range(0, len(frames), _BATCH):
                batch = frames[start : start + _BATCH]
                await self._events(batch, last=not abort and start + _BATCH >= len(frames))
        if not frames and not abort:
            await self._events([], last=True)
        # Returning without the final body message makes the server cut the connection.

    async def _serve_fixture(self, fixture: FixtureResponse, fault: Fault | None) -> None:
        headers = [(name.encode(), value.encode()) for name, value in fixture.headers]
        headers.extend(self._injected_headers())
        if fixture.body is not None:
            headers.append((b"content-length", str(len(fixture.body)).encode()))
        await self.send(
            {"type": "http.response.start", "status": fixture.status, "headers": headers}
        )
        self._started(fixture.status)
        if fault is not None and fault.ttfb:
            await trio.sleep(fault.ttfb)
        if fixture.body is not None:
            self.complete = True
            await self.send({"type": "http.response.body", "body": fixture.body})
            return
        for index, (delay, frame) in enumerate(fixture.frames):
            if delay:
                await trio.sleep(delay)
            await self._events([frame], last=index == len(fixture.frames) - 1)
        if not fixture.frames:
            await self._events([], last=True)

    async def _start(
        self,
        status: int,
        content_type: bytes,
        length: int | None,
        extra: tuple[tuple[str, str], ...] = (),
        *,
        body_follows: bool = False,
    ) -> None:
        headers = [(b"content-type", content_type), self._request_id()]
        if length is not None:
            headers.append((b"content-length", str(length).encode()))
        headers.extend((name.encode(), value.encode()) for name, value in extra)
        headers.extend(self._injected_headers())
        message = {"type": "http.response.start", "status": status, "headers": headers}
        if body_follows:
            message[BODY_FOLLOWS] = True
        await self.send(message)
        self._started(status)

    def _request_id(self) -> tuple[bytes, bytes]:
        """The request id header under the provider's own name."""
        provider = self.route.provider if self.route else None
        name = _REQUEST_ID_HEADERS.get(provider or "", b"x-request-id")
        return name, f"req_fake_{self.entry.id}".encode()

    def _injected_headers(self) -> list[tuple[bytes, bytes]]:
        pairs = self.response_headers or ()
        return [(name.encode(), value.encode()) for name, value in pairs]

    def _started(self, status: int) -> None:
        self.entry.status = status
        self.entry.first_byte_at = trio.current_time()
        self.state.journal.notify()

    async def _events(self, frames: list[bytes], *, last: bool) -> None:
        if last:
            self.complete = True
        if frames and self.entry.first_event_at is None:
            self.entry.first_event_at = trio.current_time()
        self.entry.events_sent += len(frames)
        await self.send(
            {"type": "http.response.body", "body": b"".join(frames), "more_body": not last}
        )

    async def _reply(
        self,
        status: int,
        content_type: bytes,
        body: bytes,
        fault: Fault | None,
        extra: tuple[tuple[str, str], ...] = (),
    ) -> None:
        if fault is not None and fault.malformed_event is not None:
            body = body[: len(body) // 2]
        at_once = fault is None or (not fault.ttfb and fault.drop_after_events is None)
        await self._start(status, content_type, len(body), extra, body_follows=at_once)
        if fault is not None:
            if fault.ttfb:
                await trio.sleep(fault.ttfb)
            if fault.drop_after_events is not None:
                return
        self.complete = True
        await self.send({"type": "http.response.body", "body": body})

    async def _reply_error(self, reply: ErrorReply, fault: Fault | None = None) -> None:
        extra = list(reply.headers)
        if fault is not None:
            if fault.retry_after is not None:
                extra.append(("retry-after", fault.retry_after))
            if fault.retry_after_ms is not None:
                extra.append(("retry-after-ms", str(fault.retry_after_ms)))
                extra.append(("x-ms-retry-after-ms", str(fault.retry_after_ms)))
            if fault.should_retry is not None:
                extra.append(("x-should-retry", "true" if fault.should_retry else "false"))
        await self._start(reply.status, JSON, len(reply.body), tuple(extra), body_follows=True)
        self.complete = True
        await self.send({"type": "http.response.body", "body": reply.body})


def _sse(event: StreamEvent, *, corrupt_crc: bool = False) -> bytes:
    return event.to_sse()


def _parse_json(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return None


def _fault_names(fault: Fault) -> tuple[str, ...]:
    names = (
        "status",
        "latency",
        "ttfb",
        "inter_event_delay",
        "drop_after_events",
        "end_after_events",
        "malformed_event",
        "bad_crc",
        "stream_error",
        "answer",
        "response_headers",
        "stall_after_events",
    )
    return tuple(name for name in names if getattr(fault, name) is not None)
