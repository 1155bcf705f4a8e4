"""Serving a recording in another provider's format: match on content, translate the answer.

A cassette recorded against one provider (say OpenAI Chat) also answers requests in every
other format (Gemini, Converse, Anthropic, Bedrock InvokeModel...) that say the same thing:
the same last user text, user turn count, system prompt and tool results, streamed or not
(requests in the recorded format and surface still need an exact match). The recorded answer
goes through the library's translator (`translate_response`, `StreamTranslator`); a stream
keeps its recorded pacing, each chunk's pause applied to the first event it produces.
Gemini's JSON-array stream (`:streamGenerateContent` without `alt=sse`) is read and written
as one array; Anthropic on Bedrock (`/invoke`, `/invoke-with-response-stream`) as Anthropic
bodies and `chunk` event-stream frames. `serve_as` (the `--serve-as` option) limits the
formats a recording is served in besides its own; None serves every format by path.
"""

from __future__ import annotations

import base64
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import orjson
from botocore.eventstream import EventStreamBuffer

from llm_router.errors import LLMRouterError
from llm_router.framing.sse import SSEDecoder
from llm_router.translate import StreamTranslator, translate_response
from llm_router.types import ProviderFormat, StreamEvent
from llm_router_testing.cassette_format import RequestRecord, body_bytes

from . import bedrock
from .conversation import Conversation
from .routes import Route, resolve

__all__ = ["ContentKey", "CrossFormatIndex", "content_key", "parse_serve_as"]

ContentKey = tuple[bool, str, int, str, tuple[str | None, ...]]

_CONTENT_TYPES = {
    "sse": "text/event-stream; charset=utf-8",
    "converse": bedrock.EVENTSTREAM_CONTENT_TYPE,
    "json": "application/json",
}


def content_key(conversation: Conversation, stream: bool) -> ContentKey:
    names = tuple(name for _, name in conversation.tool_results)
    return (
        stream,
        conversation.last_user_text,
        conversation.user_turns,
        conversation.system,
        names,
    )


def parse_serve_as(names: Collection[str] | None) -> frozenset[ProviderFormat] | None:
    """The formats named (openai, responses, anthropic, google, converse, mistral; also
    gemini and bedrock), or None for every format; an unknown name is a `ValueError`."""
    if names is None:
        return None
    chosen = set()
    for name in names:
        key = _ALIASES.get(name.strip().lower(), name.strip().lower())
        try:
            chosen.add(ProviderFormat(key))
        except ValueError:
            known = ", ".join(sorted({f.value for f in ProviderFormat} | set(_ALIASES)))
            raise ValueError(f"unknown format {name!r} to serve as; known: {known}") from None
    return frozenset(chosen)


_ALIASES = {"gemini": "google", "bedrock": "converse", "chat": "openai"}


@dataclass(frozen=True, slots=True)
class _Recorded:
    format: ProviderFormat
    status: int
    body: bytes | None
    frames: tuple[tuple[float, bytes], ...]
    stream: bool = False
    invoke: bool = False  # recorded through Bedrock InvokeModel (Anthropic bodies)


class CrossFormatIndex:
    """Recorded answers by content, to serve a request in another format than recorded."""

    def __init__(self) -> None:
        self._by_key: dict[ContentKey, _Recorded] = {}
        self.serve_as: frozenset[ProviderFormat] | None = None

    def __len__(self) -> int:
        return len(self._by_key)

    def add(
        self,
        request: RequestRecord,
        status: int,
        body: bytes | None,
        frames: tuple[tuple[float, bytes], ...],
    ) -> None:
        """Index one recorded exchange (a request the fake's routes do not know is skipped)."""
        if not 200 <= status < 300:
            return
        parts = urlsplit(str(request.get("url", "")))
        path = unquote(parts.path)
        query = dict(parse_qsl(parts.query))
        raw = body_bytes(request)
        route = resolve(str(request.get("method", "POST")).upper(), path, query, {}, body=raw)
        if route is None or route.operation != "generate":
            return
        try:
            parsed = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return
        if not isinstance(parsed, dict):
            return
        conversation = Conversation.read(route.format, parsed, route.model or "")
        if conversation is None:
            return
        stream = route.stream if route.stream is not None else parsed.get("stream") is True
        key = content_key(conversation, stream)
        recorded = _Recorded(route.format, status, body, frames, stream, route.invoke)
        self._by_key.setdefault(key, recorded)

    def answer(
        self, route: Route, conversation: Conversation, stream: bool, *, include_usage: bool
    ) -> tuple[str, bytes | None, tuple[tuple[float, bytes], ...]] | None:
        """(content type, body, frames) in `route`'s format, or None without a recording."""
        recorded = self._by_key.get(content_key(conversation, stream))
        if recorded is None:
            return None
        if recorded.format is route.format and recorded.invoke == route.invoke:
            return None  # a request in the recorded format matches exactly or not at all
        if self.serve_as is not None and route.format not in self.serve_as:
            return None
        try:
            return self._translated(recorded, route, include_usage=include_usage)
        except (LLMRouterError, ValueError, TypeError, KeyError):
            return None  # a recording the translator cannot read is served to its own format only

    def _translated(
        self, recorded: _Recorded, route: Route, *, include_usage: bool
    ) -> tuple[str, bytes | None, tuple[tuple[float, bytes], ...]]:
        target = route.format
        if recorded.body is not None and not recorded.stream:
            body = translate_response(recorded.body, recorded.format, target)
            return _CONTENT_TYPES["json"], body, ()
        translator = (
            None
            if recorded.format is target
            else StreamTranslator(recorded.format, target, include_usage=include_usage)
        )
        frame = _framer(route)
        frames: list[tuple[float, bytes]] = []
        events_out: list[StreamEvent] = []
        if recorded.body is not None:  # a Gemini JSON-array stream: one chunk of every event
            chunks: tuple[tuple[float, bytes], ...] = ((0.0, recorded.body),)
            source = _json_array
        else:
            chunks, source = recorded.frames, _decoder(recorded.format, invoke=recorded.invoke)
        for pause, chunk in chunks:
            events: list[StreamEvent] = []
            for data in source(chunk):
                events.extend(_feed(translator, data, recorded.format))
            events_out.extend(events)
            for position, event in enumerate(events):
                frames.append((pause if position == 0 else 0.0, frame(event)))
        if translator is not None:
            for event in translator.finish():
                events_out.append(event)
                frames.append((0.0, frame(event)))
        if target is ProviderFormat.GOOGLE and not route.sse:
            array = b"[" + b",\r\n".join(event.data for event in events_out) + b"]"
            return _CONTENT_TYPES["json"], array, ()
        binary = target is ProviderFormat.CONVERSE or route.invoke
        return _CONTENT_TYPES["converse" if binary else "sse"], None, tuple(frames)


def _feed(translator: StreamTranslator | None, data: Any, fmt: ProviderFormat) -> list[StreamEvent]:
    if translator is not None:
        return translator.feed(data)
    # Same format, another surface (Anthropic to or from Bedrock InvokeModel): re-framed only.
    raw = data if isinstance(data, bytes) else orjson.dumps(data)
    name = orjson.loads(raw).get("type") if fmt is ProviderFormat.ANTHROPIC else None
    return [StreamEvent(name, raw)]


def _framer(route: Route) -> Any:
    if route.invoke:
        return bedrock.frame_invoke
    if route.format is ProviderFormat.CONVERSE:
        return bedrock.frame_converse
    return lambda event: event.to_sse()


def _json_array(chunk: bytes) -> list[bytes]:
    value = orjson.loads(chunk)
    if not isinstance(value, list):
        raise ValueError("a recorded Gemini JSON stream is not a JSON array")
    return [orjson.dumps(item) for item in value]


def _decoder(fmt: ProviderFormat, *, invoke: bool = False) -> Any:
    """A function from one recorded chunk to the stream events it completes."""
    if invoke:  # InvokeModel stream: `chunk` frames carrying base64 Anthropic events
        invoke_buffer = EventStreamBuffer()

        def chunks(chunk: bytes) -> list[bytes]:
            invoke_buffer.add_data(chunk)
            out: list[bytes] = []
            for message in invoke_buffer:
                payload = orjson.loads(message.payload) if message.payload else {}
                if isinstance(payload, dict) and isinstance(payload.get("bytes"), str):
                    out.append(base64.b64decode(payload["bytes"]))
            return out

        return chunks
    if fmt is ProviderFormat.CONVERSE:
        buffer = EventStreamBuffer()

        def frames(chunk: bytes) -> list[Mapping[str, Any]]:
            buffer.add_data(chunk)
            out: list[Mapping[str, Any]] = []
            for message in buffer:
                name = str(message.headers.get(":event-type"))
                payload = orjson.loads(message.payload) if message.payload else {}
                out.append({name: payload})
            return out

        return frames
    decoder = SSEDecoder()

    def messages(chunk: bytes) -> list[bytes]:
        return [message.data for message in decoder.feed(chunk) if message.data.strip()]

    return messages
