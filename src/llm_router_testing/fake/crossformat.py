"""Serving a recording in another provider's format: match on content, translate the answer.

A cassette recorded against one provider (say OpenAI Chat) also answers requests in every
other format (requests in the recorded format still need an exact match) (Gemini, Converse, Anthropic...) that say the same thing: the same last user
text, user turn count, system prompt and tool results, streamed or not. The recorded answer
goes through the library's translator (`translate_response`, `StreamTranslator`); a stream
keeps its recorded pacing, each chunk's pause applied to the first event it produces.
"""

from __future__ import annotations

from collections.abc import Mapping
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

__all__ = ["ContentKey", "CrossFormatIndex", "content_key"]

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


@dataclass(frozen=True, slots=True)
class _Recorded:
    format: ProviderFormat
    status: int
    body: bytes | None
    frames: tuple[tuple[float, bytes], ...]


class CrossFormatIndex:
    """Recorded answers by content, to serve a request in another format than recorded."""

    def __init__(self) -> None:
        self._by_key: dict[ContentKey, _Recorded] = {}

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
        self._by_key.setdefault(key, _Recorded(route.format, status, body, frames))

    def answer(
        self, route: Route, conversation: Conversation, stream: bool, *, include_usage: bool
    ) -> tuple[str, bytes | None, tuple[tuple[float, bytes], ...]] | None:
        """(content type, body, frames) in `route`'s format, or None without a recording."""
        recorded = self._by_key.get(content_key(conversation, stream))
        if recorded is None or route.invoke or recorded.format is route.format:
            return None  # a request in the recorded format matches exactly or not at all
        try:
            return self._translated(recorded, route, include_usage=include_usage)
        except (LLMRouterError, ValueError, TypeError, KeyError):
            return None  # a recording the translator cannot read is served to its own format only

    def _translated(
        self, recorded: _Recorded, route: Route, *, include_usage: bool
    ) -> tuple[str, bytes | None, tuple[tuple[float, bytes], ...]]:
        target = route.format
        if recorded.body is not None:
            body = translate_response(recorded.body, recorded.format, target)
            return _CONTENT_TYPES["json"], body, ()
        translator = StreamTranslator(recorded.format, target, include_usage=include_usage)
        converse_target = target is ProviderFormat.CONVERSE
        frames: list[tuple[float, bytes]] = []
        source = _decoder(recorded.format)
        for pause, chunk in recorded.frames:
            events: list[StreamEvent] = []
            for data in source(chunk):
                events.extend(translator.feed(data))
            for position, event in enumerate(events):
                frames.append((pause if position == 0 else 0.0, _frame(event, converse_target)))
        for event in translator.finish():
            frames.append((0.0, _frame(event, converse_target)))
        kind = "converse" if converse_target else "sse"
        return _CONTENT_TYPES[kind], None, tuple(frames)


def _frame(event: StreamEvent, converse: bool) -> bytes:
    return bedrock.frame_converse(event) if converse else event.to_sse()


def _decoder(fmt: ProviderFormat) -> Any:
    """A function from one recorded chunk to the stream events it completes."""
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
