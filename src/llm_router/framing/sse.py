"""Sans-IO Server-Sent Events framing: a byte-chunk decoder and an encoder.

Follows the WHATWG event-stream parsing rules (LF, CR and CRLF line endings, comments,
multi-line `data`, a leading BOM, `id` and `retry` fields). Knows nothing about JSON or about
any provider; OpenAI's ``[DONE]`` sentinel is surfaced as `SSEMessage.is_done`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

from llm_router.errors import ResponseTooLargeError
from llm_router.framing import DEFAULT_MAX_EVENT_BYTES
from llm_router.types import StreamEvent

__all__ = [
    "DONE",
    "SSEDecoder",
    "SSEMessage",
    "StreamEventDecoder",
    "encode_comment",
    "encode_sse",
]

DONE = b"[DONE]"
_BOM = b"\xef\xbb\xbf"

#: The shape nearly every event of every provider has: an optional `event:` line, then one
#: `data:` line (no id, retry or comment). Such an event block is read with one match instead
#: of field by field; any other block goes through the general line parser.
_SIMPLE_EVENT = re.compile(rb"(?:event: ?([^\n]*)\n)?data: ?([^\n]*)")
#: The same event with the blank line that ends it, read where the previous one ended.
_SIMPLE_BLOCK = re.compile(rb"(?:event: ?([^\n]*)\n)?data: ?([^\n]*)\n\n")
#: Event names decoded so far (a stream repeats a handful of them); bounded, since the
#: names come from the upstream.
_NAMES: dict[bytes, str] = {}
_MAX_NAMES = 256

_Out = TypeVar("_Out")


@dataclass(frozen=True, slots=True, init=False)
class SSEMessage:
    """One dispatched event. `event` is None when the stream named none (SSE's "message")."""

    data: bytes
    event: str | None
    id: str | None
    """The last event id seen so far in the stream (SSE ids persist across events)."""
    retry: int | None
    """Reconnection time in milliseconds, when this event carried a `retry` field."""

    def __init__(
        self,
        data: bytes,
        event: str | None = None,
        id: str | None = None,
        retry: int | None = None,
    ) -> None:
        # The slots' own setters: a frozen dataclass's `__init__` stores each field through
        # `object.__setattr__`, three times the cost, and assignment stays refused.
        _set_data(self, data)
        _set_event(self, event)
        _set_id(self, id)
        _set_retry(self, retry)

    @property
    def is_done(self) -> bool:
        """True for OpenAI-style ``data: [DONE]`` end-of-stream sentinels."""
        return self.data == DONE

    @property
    def text(self) -> str:
        return self.data.decode("utf-8", "replace")

    def encode(self) -> bytes:
        return encode_sse(self.data, event=self.event, id=self.id, retry=self.retry)


_set_data = SSEMessage.__dict__["data"].__set__
_set_event = SSEMessage.__dict__["event"].__set__
_set_id = SSEMessage.__dict__["id"].__set__
_set_retry = SSEMessage.__dict__["retry"].__set__


def _name(raw: bytes) -> str:
    name = _NAMES.get(raw)
    if name is None:
        name = raw.decode("utf-8", "replace")
        if len(_NAMES) < _MAX_NAMES:
            _NAMES[raw] = name
    return name


class _Parser(Generic[_Out]):
    """The parsing both decoders share; `_emit` builds what each hands out."""

    __slots__ = (
        "_buf",
        "_data",
        "_data_size",
        "_event",
        "_id",
        "_max",
        "_pending_cr",
        "_retry",
        "_started",
        "done",
    )

    def __init__(self, *, max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES) -> None:
        if max_event_bytes < 1:
            raise ValueError(f"max_event_bytes must be positive, got {max_event_bytes}")
        self._max = max_event_bytes
        self._buf = bytearray()  # an incomplete trailing line, line endings already normalised
        self._data: list[bytes] = []
        self._data_size = 0  # bytes of `data` lines in the event being assembled
        self._event: str | None = None
        self._id: str | None = None
        self._retry: int | None = None
        self._pending_cr = False  # chunk ended in CR: the next may start with its LF
        self._started = False  # BOM check done
        self.done = False
        """Set once a ``[DONE]`` message has been decoded."""

    def feed(self, chunk: bytes) -> list[_Out]:
        out: list[_Out] = []
        self._feed(chunk, out)
        return out

    def finish(self) -> list[_Out]:
        """End of stream: process what is buffered and flush an unterminated event."""
        out: list[_Out] = []
        lines: list[bytes] = []
        tail = bytes(self._buf)
        self._buf.clear()
        if not self._started:
            self._started = True
            if tail.startswith(_BOM):
                tail = tail[len(_BOM) :]
        if tail or self._pending_cr:
            lines.append(tail)
        self._pending_cr = False
        lines.append(b"")
        self._process(lines, out)
        return out

    #: Whether `_Out` is `StreamEvent` (else `SSEMessage`), for the hot loop of `_feed`.
    _relay: ClassVar[bool] = False

    def _emit(self, data: bytes, event: str | None, retry: int | None, out: list[_Out]) -> None:
        raise NotImplementedError

    def _feed(self, chunk: bytes, out: list[_Out]) -> None:
        if not self._started:
            chunk = bytes(self._buf) + chunk
            self._buf.clear()
            if len(chunk) < len(_BOM) and _BOM.startswith(chunk):
                self._buf += chunk  # may still be the start of a BOM
                return
            self._started = True
            if chunk.startswith(_BOM):
                chunk = chunk[len(_BOM) :]
        if self._pending_cr:
            chunk = b"\r" + chunk
            self._pending_cr = False
        if chunk.endswith(b"\r"):
            chunk = chunk[:-1]
            self._pending_cr = True
        if b"\r" in chunk:
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        end = chunk.rfind(b"\n") + 1  # past the last complete line
        buf = self._buf
        if not end:
            buf += chunk
            if len(buf) > self._max:
                raise self._too_large("a line")
            return
        if buf:
            buf += memoryview(chunk)[:end]
            text = bytes(buf)
            buf.clear()
        else:
            text = chunk if end == len(chunk) else chunk[:end]
        if len(text) > self._max and max(map(len, text.split(b"\n"))) > self._max:
            raise self._too_large("a line")
        if end < len(chunk):
            buf += memoryview(chunk)[end:]
            if len(buf) > self._max:
                raise self._too_large("a line")
        relay = self._relay
        names = _NAMES
        # `_relay` says which of the two `_Out` types this decoder hands out, which the type
        # checker cannot follow: the hot loops append to an untyped alias of `out`.
        appended: list[Any] = out
        if relay and not (self._data or self._event is not None or self._retry is not None):
            # The hottest loop: simple events one after the other, each read where the last
            # ended (no split of the read into blocks); the first other block ends it, and
            # the rest of the read goes the way below, as the whole read would have.
            at = 0
            block_at = _SIMPLE_BLOCK.match
            while (match := block_at(text, at)) is not None:
                raw_name, data = match.groups()
                if len(data) >= self._max:  # the joining newline counts too
                    raise self._too_large("an event")
                at = match.end()
                if data == DONE:
                    self.done = True
                if data:
                    name = None if raw_name is None else names.get(raw_name) or _name(raw_name)
                    appended.append(StreamEvent(name, data))
            if at:
                text = text[at:]
        # Every block but the last ends at a blank line: one whole event (or nothing). The
        # last holds the complete lines of an event still open (empty when none is).
        blocks = text.split(b"\n\n")
        last = blocks.pop()
        simple = _SIMPLE_EVENT.fullmatch
        for block in blocks:
            if self._data or self._event is not None or self._retry is not None:
                match = None  # an event begun in an earlier chunk: read it line by line
            else:
                match = simple(block)
            if match is None:
                lines = block.split(b"\n")
                lines.append(b"")
                self._process(lines, out)
                continue
            raw_name, data = match.groups()
            if len(data) >= self._max:  # the joining newline counts too
                raise self._too_large("an event")
            if data == DONE:
                self.done = True
            name = None if raw_name is None else names.get(raw_name) or _name(raw_name)
            if relay:  # written out here rather than through `_emit`: this is the hot loop
                if data:
                    appended.append(StreamEvent(name, data))
            else:
                appended.append(SSEMessage(data, name, self._id))
        if last:
            self._process(last[:-1].split(b"\n"), out)

    def _too_large(self, what: str) -> ResponseTooLargeError:
        return ResponseTooLargeError(
            f"SSE stream: {what} exceeds max_event_bytes ({self._max} bytes)",
            limit="max_event_bytes",
            limit_bytes=self._max,
        )

    def _process(self, lines: list[bytes], out: list[_Out]) -> None:
        data = self._data
        for line in lines:
            if not line:
                if data:
                    payload = data[0] if len(data) == 1 else b"\n".join(data)
                    if payload == DONE:
                        self.done = True
                    self._emit(payload, self._event, self._retry, out)
                    data.clear()
                    self._data_size = 0
                self._event = None
                self._retry = None
                continue
            # The hot path: `data: {...}` lines.
            if line.startswith(b"data: "):
                data.append(line[6:])
                self._data_size += len(line) - 5  # the joining newline counts too
                if self._data_size > self._max:
                    raise self._too_large("an event")
                continue
            colon = line.find(b":")
            if colon == 0:
                continue  # comment (keep-alive)
            if colon < 0:
                field, value = line, b""
            else:
                field = line[:colon]
                value = line[colon + 1 :]
                if value.startswith(b" "):
                    value = value[1:]
            if field == b"data":
                data.append(value)
                self._data_size += len(value) + 1
                if self._data_size > self._max:
                    raise self._too_large("an event")
            elif field == b"event":
                self._event = value.decode("utf-8", "replace")
            elif field == b"id" and b"\x00" not in value:
                self._id = value.decode("utf-8", "replace")
            elif field == b"retry" and value.isdigit():
                self._retry = int(value)
            # Unknown fields are ignored, as the spec requires.


class SSEDecoder(_Parser[SSEMessage]):
    """Feed raw bytes as they arrive (split anywhere); get whole events back.

    Linear in its input: a partial line is kept in a `bytearray` (never re-concatenated), so
    a long line fed in small chunks costs what it weighs. An event whose data, or a line still unterminated, grows past `max_event_bytes`
    raises `ResponseTooLargeError` (limit ``max_event_bytes``); after that the decoder is spent.

    `finish()` flushes an event left unterminated at end of stream: the spec would discard it,
    but servers that close right after the last `data:` line are common enough to be lenient.
    """

    __slots__ = ()

    def _emit(
        self, data: bytes, event: str | None, retry: int | None, out: list[SSEMessage]
    ) -> None:
        out.append(SSEMessage(data, event, self._id, retry))


class StreamEventDecoder(_Parser[StreamEvent]):
    """`SSEDecoder` handing out `StreamEvent`s (name and data) for relaying: events whose data
    is empty are left out, ids and retry fields are not kept."""

    __slots__ = ()
    _relay = True

    def _emit(
        self, data: bytes, event: str | None, retry: int | None, out: list[StreamEvent]
    ) -> None:
        if data:
            out.append(StreamEvent(event, data))


def encode_sse(
    data: bytes,
    *,
    event: str | None = None,
    id: str | None = None,
    retry: int | None = None,
) -> bytes:
    """One SSE frame; multi-line `data` becomes several `data:` lines."""
    if b"\n" in data or b"\r" in data:
        normalised = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        body = b"data: " + normalised.replace(b"\n", b"\ndata: ") + b"\n\n"
    else:
        body = b"data: " + data + b"\n\n"
    if event is None and id is None and retry is None:
        return body
    head = b""
    if event is not None:
        head += b"event: " + _one_line(event) + b"\n"
    if id is not None:
        head += b"id: " + _one_line(id) + b"\n"
    if retry is not None:
        head += b"retry: " + str(retry).encode() + b"\n"
    return head + body


def encode_comment(text: str = "") -> bytes:
    """A comment frame (``: text``), used as a keep-alive."""
    return b": " + _one_line(text) + b"\n\n"


def _one_line(value: str) -> bytes:
    if "\n" in value or "\r" in value:
        raise ValueError(f"SSE field values cannot contain line breaks: {value!r}")
    return value.encode()
