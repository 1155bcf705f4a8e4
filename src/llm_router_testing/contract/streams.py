"""Stream readers of the contract suite: check each format's framing and reassemble the text.

Feed the raw body chunks as they arrive (`feed` returns how many events they completed), then
call `finish()` for the reassembled text. Framing rules checked: OpenAI and Mistral end with
`data: [DONE]`; Anthropic starts with `message_start` and ends with `message_stop`, each event
named as its `type`; Responses events carry strictly increasing `sequence_number`s and end with
`response.completed`; Gemini sends `data:` lines of partial responses; Converse sends AWS
event-stream frames (decoded with botocore) from `messageStart` to `messageStop`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from botocore.eventstream import EventStreamBuffer, ParserError

from llm_router.errors import LLMRouterError
from llm_router.formats import get_format
from llm_router.framing.sse import SSEDecoder, SSEMessage
from llm_router.types import ProviderFormat
from llm_router.universal import StreamDelta

from .dialects import ContractViolation, preview

__all__ = ["StreamErrorEvent", "StreamReader", "stream_reader"]


class StreamErrorEvent(ContractViolation):
    """The stream carried its format's own error event (or Bedrock exception frame)."""


class StreamReader:
    """Base class: counts events, collects text, raises `ContractViolation` on a framing fault."""

    format: ProviderFormat = ProviderFormat.OPENAI

    def __init__(self) -> None:
        self.events = 0
        self.text: list[str] = []
        self.payloads: list[Mapping[str, Any]] = []
        """Every decoded event (Converse: ``{eventType: payload}``), for `deltas`."""

    def feed(self, chunk: bytes) -> int:
        raise NotImplementedError

    def deltas(self) -> list[StreamDelta]:
        """The stream read by the library's own parser for the format (after `finish`)."""
        parser = get_format(self.format).StreamParser()
        out: list[StreamDelta] = []
        try:
            for payload in self.payloads:
                out += parser.feed(payload)
            out += parser.finish()
        except (LLMRouterError, ValueError, TypeError, KeyError) as error:
            raise ContractViolation(
                f"the stream does not parse as {self.format}: {error}"
            ) from None
        return out

    def finish(self) -> str:
        """Check the end of the stream; return the reassembled text."""
        raise NotImplementedError


class _SSEReader(StreamReader):
    def __init__(self) -> None:
        super().__init__()
        self._decoder = SSEDecoder()

    def feed(self, chunk: bytes) -> int:
        counted = 0
        for message in self._decoder.feed(chunk):
            if self.is_keepalive(message):
                continue  # SDKs ignore keep-alives wherever the format allows them
            self.events += 1
            counted += 1
            self.on_message(message)
        return counted

    def finish(self) -> str:
        for message in self._decoder.finish():
            if self.is_keepalive(message):
                continue
            self.events += 1
            self.on_message(message)
        if self.events == 0:
            raise ContractViolation("the stream carried no events")
        self.on_end()
        return "".join(self.text)

    def on_message(self, message: SSEMessage) -> None:
        raise NotImplementedError

    def on_end(self) -> None:
        raise NotImplementedError

    def is_keepalive(self, message: SSEMessage) -> bool:
        """An event carrying nothing (an empty data line); formats add their own pings."""
        return not message.data.strip()

    def json(self, message: SSEMessage) -> dict[str, Any]:
        try:
            data = orjson.loads(message.data)
        except orjson.JSONDecodeError:
            raise ContractViolation(
                f"stream event {self.events} is not JSON: {message.text[:120]!r}"
            ) from None
        if not isinstance(data, dict):
            raise ContractViolation(f"stream event {self.events} is not an object: {preview(data)}")
        self.payloads.append(data)
        return data


class _ChatReader(_SSEReader):
    """OpenAI Chat Completions and Mistral: `data:` chunks, then `data: [DONE]`."""

    def __init__(self) -> None:
        super().__init__()
        self._done = False

    def on_message(self, message: SSEMessage) -> None:
        if self._done:
            raise ContractViolation("an event followed data: [DONE]")
        if message.is_done:
            self._done = True
            return
        chunk = self.json(message)
        if "error" in chunk:
            raise StreamErrorEvent(f"the stream carried an error: {preview(chunk['error'])}")
        if chunk.get("object") == "error":  # Mistral's in-stream error
            raise StreamErrorEvent(f"the stream carried an error: {preview(chunk)}")
        if chunk.get("object") != "chat.completion.chunk":
            raise ContractViolation(f'expected "object": "chat.completion.chunk": {preview(chunk)}')
        for choice in chunk.get("choices") or ():
            delta = choice.get("delta") if isinstance(choice, dict) else None
            if isinstance(delta, dict) and isinstance(delta.get("content"), str):
                self.text.append(delta["content"])

    def on_end(self) -> None:
        if not self._done:
            raise ContractViolation("the stream ended without data: [DONE]")


class _AnthropicReader(_SSEReader):
    """Anthropic Messages: named events, `message_start` first and `message_stop` last.

    `ping` events may appear anywhere (a buffering gateway can even put one before
    `message_start`); the SDK ignores them, and so does this reader.
    """

    def __init__(self) -> None:
        super().__init__()
        self._types: list[str] = []

    def is_keepalive(self, message: SSEMessage) -> bool:
        if super().is_keepalive(message):
            return True
        if b"ping" not in message.data[:40]:
            return False
        try:
            data = orjson.loads(message.data)
        except orjson.JSONDecodeError:
            return False
        return isinstance(data, dict) and data.get("type") == "ping"

    def on_message(self, message: SSEMessage) -> None:
        data = self.json(message)
        kind = data.get("type")
        if kind == "error":
            raise StreamErrorEvent(f"the stream carried an error: {preview(data)}")
        if message.event != kind:
            raise ContractViolation(f"event name {message.event!r} differs from its type {kind!r}")
        if not self._types and kind != "message_start":
            raise ContractViolation(f"the first event is {kind!r}, not message_start")
        if self._types and self._types[-1] == "message_stop":
            raise ContractViolation(f"{kind!r} arrived after message_stop")
        self._types.append(str(kind))
        delta = data.get("delta")
        if (
            kind == "content_block_delta"
            and isinstance(delta, dict)
            and delta.get("type") == "text_delta"
        ):
            self.text.append(str(delta.get("text", "")))

    def on_end(self) -> None:
        if not self._types or self._types[-1] != "message_stop":
            last = self._types[-1] if self._types else None
            raise ContractViolation(f"the stream ended with {last!r}, not message_stop")


class _ResponsesReader(_SSEReader):
    """OpenAI Responses: typed events with increasing `sequence_number`, then a terminal event."""

    _TERMINAL = ("response.completed", "response.incomplete")

    def __init__(self) -> None:
        super().__init__()
        self._last_sequence: int | None = None
        self._last_type: str | None = None

    def on_message(self, message: SSEMessage) -> None:
        data = self.json(message)
        kind = data.get("type")
        if kind in ("error", "response.failed"):
            raise StreamErrorEvent(f"the stream carried an error: {preview(data)}")
        if message.event is not None and message.event != kind:
            raise ContractViolation(f"event name {message.event!r} differs from its type {kind!r}")
        sequence = data.get("sequence_number")
        if not isinstance(sequence, int):
            raise ContractViolation(f"{kind!r} has no integer sequence_number")
        if self._last_sequence is not None and sequence <= self._last_sequence:
            raise ContractViolation(
                f"sequence_number went from {self._last_sequence} to {sequence} at {kind!r}"
            )
        if self._last_type in self._TERMINAL:
            raise ContractViolation(f"{kind!r} arrived after {self._last_type}")
        self._last_sequence, self._last_type = sequence, str(kind)
        if kind == "response.output_text.delta":
            self.text.append(str(data.get("delta", "")))

    def on_end(self) -> None:
        if self._last_type not in self._TERMINAL:
            raise ContractViolation(f"the stream ended with {self._last_type!r}, not a final event")


class _GoogleReader(_SSEReader):
    """Gemini: `data:` lines, each a partial GenerateContentResponse; no end sentinel."""

    def __init__(self) -> None:
        super().__init__()
        self._finished = False

    def on_message(self, message: SSEMessage) -> None:
        data = self.json(message)
        if "error" in data:
            raise StreamErrorEvent(f"the stream carried an error: {preview(data['error'])}")
        candidates = data.get("candidates")
        if candidates is None and "usageMetadata" in data:
            return
        if not isinstance(candidates, list) or not candidates:
            raise ContractViolation(f"a chunk without candidates: {preview(data)}")
        candidate = candidates[0] if isinstance(candidates[0], dict) else {}
        if candidate.get("finishReason"):
            self._finished = True
        content = candidate.get("content")
        parts = content.get("parts") if isinstance(content, dict) else None
        for part in parts if isinstance(parts, list) else ():
            if (
                isinstance(part, dict)
                and isinstance(part.get("text"), str)
                and not part.get("thought")
            ):
                self.text.append(part["text"])

    def on_end(self) -> None:
        if not self._finished:
            raise ContractViolation("no chunk carried a finishReason")


class _ConverseReader(StreamReader):
    """Bedrock ConverseStream: AWS event-stream frames, decoded with botocore."""

    def __init__(self) -> None:
        super().__init__()
        self._buffer = EventStreamBuffer()
        self._types: list[str] = []
        self._pending = 0

    def feed(self, chunk: bytes) -> int:
        self._buffer.add_data(chunk)
        self._pending += len(chunk)
        count = 0
        while True:
            try:
                message = next(self._buffer)
            except StopIteration:
                return count
            except ParserError as error:
                raise ContractViolation(f"corrupt event-stream frame: {error}") from None
            self._pending -= message.prelude.total_length
            self.events += 1
            count += 1
            self._on_frame(message.headers, message.payload)

    def _on_frame(self, headers: dict[str, Any], payload: bytes) -> None:
        kind = headers.get(":message-type")
        if kind == "exception":
            raise StreamErrorEvent(
                f"the stream carried {headers.get(':exception-type')}: {payload[:200]!r}"
            )
        if kind != "event":
            raise ContractViolation(f"frame with :message-type {kind!r}, expected 'event'")
        event_type = str(headers.get(":event-type"))
        if not self._types and event_type != "messageStart":
            raise ContractViolation(f"the first event is {event_type!r}, not messageStart")
        self._types.append(event_type)
        try:
            data = orjson.loads(payload) if payload else {}
        except orjson.JSONDecodeError:
            raise ContractViolation(
                f"{event_type} payload is not JSON: {payload[:120]!r}"
            ) from None
        if isinstance(data, dict):
            self.payloads.append({event_type: data})
        delta = data.get("delta") if isinstance(data, dict) else None
        if event_type == "contentBlockDelta" and isinstance(delta, dict):
            text = delta.get("text")
            if isinstance(text, str):
                self.text.append(text)

    def finish(self) -> str:
        if self._pending:
            raise ContractViolation(f"the stream ended inside a frame ({self._pending} bytes left)")
        if "messageStop" not in self._types:
            raise ContractViolation(f"no messageStop event; events were {self._types}")
        return "".join(self.text)


_READERS: dict[ProviderFormat, type[StreamReader]] = {
    ProviderFormat.OPENAI: _ChatReader,
    ProviderFormat.MISTRAL: _ChatReader,
    ProviderFormat.ANTHROPIC: _AnthropicReader,
    ProviderFormat.RESPONSES: _ResponsesReader,
    ProviderFormat.GOOGLE: _GoogleReader,
    ProviderFormat.CONVERSE: _ConverseReader,
}


def stream_reader(fmt: ProviderFormat) -> StreamReader:
    """A fresh reader for one stream in `fmt`."""
    reader = _READERS[fmt]()
    reader.format = fmt
    return reader
