"""Sans-IO Server-Sent Events framing: a byte-chunk decoder and an encoder.

Follows the WHATWG event-stream parsing rules (LF, CR and CRLF line endings, comments,
multi-line `data`, a leading BOM, `id` and `retry` fields). Knows nothing about JSON or about
any provider; OpenAI's ``[DONE]`` sentinel is surfaced as `SSEMessage.is_done`.
"""

from __future__ import annotations

from dataclasses import dataclass

from llm_router.errors import ResponseTooLargeError
from llm_router.framing import DEFAULT_MAX_EVENT_BYTES

__all__ = ["DONE", "SSEDecoder", "SSEMessage", "encode_comment", "encode_sse"]

DONE = b"[DONE]"
_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True, slots=True)
class SSEMessage:
    """One dispatched event. `event` is None when the stream named none (SSE's "message")."""

    data: bytes
    event: str | None = None
    id: str | None = None
    """The last event id seen so far in the stream (SSE ids persist across events)."""
    retry: int | None = None
    """Reconnection time in milliseconds, when this event carried a `retry` field."""

    @property
    def is_done(self) -> bool:
        """True for OpenAI-style ``data: [DONE]`` end-of-stream sentinels."""
        return self.data == DONE

    @property
    def text(self) -> str:
        return self.data.decode("utf-8", "replace")

    def encode(self) -> bytes:
        return encode_sse(self.data, event=self.event, id=self.id, retry=self.retry)


class SSEDecoder:
    """Feed raw bytes as they arrive (split anywhere); get whole events back.

    Linear in its input: a partial line is kept in a `bytearray` (never re-concatenated), so a
    long line fed in small chunks costs what it weighs. An event whose data, or a line still
    unterminated, grows past `max_event_bytes` raises `ResponseTooLargeError` (limit
    ``max_event_bytes``); after that the decoder is spent.

    `finish()` flushes an event left unterminated at end of stream: the spec would discard it,
    but servers that close right after the last `data:` line are common enough to be lenient.
    """

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

    def feed(self, chunk: bytes) -> list[SSEMessage]:
        if not self._started:
            chunk = bytes(self._buf) + chunk
            self._buf.clear()
            if len(chunk) < len(_BOM) and _BOM.startswith(chunk):
                self._buf += chunk  # may still be the start of a BOM
                return []
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
        end = chunk.rfind(b"\n")
        buf = self._buf
        if end < 0:
            buf += chunk
            if len(buf) > self._max:
                raise self._too_large("a line")
            return []
        size = len(buf) + end
        if buf:
            buf += memoryview(chunk)[:end]
            lines = bytes(buf).split(b"\n")
            buf.clear()
        else:
            lines = chunk[:end].split(b"\n")
        if size > self._max and max(map(len, lines)) > self._max:
            raise self._too_large("a line")
        if end + 1 < len(chunk):
            buf += memoryview(chunk)[end + 1 :]
            if len(buf) > self._max:
                raise self._too_large("a line")
        out: list[SSEMessage] = []
        self._process(lines, out)
        return out

    def finish(self) -> list[SSEMessage]:
        """End of stream: process what is buffered and flush an unterminated event."""
        out: list[SSEMessage] = []
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

    def _too_large(self, what: str) -> ResponseTooLargeError:
        return ResponseTooLargeError(
            f"SSE stream: {what} exceeds max_event_bytes ({self._max} bytes)",
            limit="max_event_bytes",
            limit_bytes=self._max,
        )

    def _process(self, lines: list[bytes], out: list[SSEMessage]) -> None:
        data = self._data
        for line in lines:
            if not line:
                if data:
                    message = SSEMessage(
                        data[0] if len(data) == 1 else b"\n".join(data),
                        self._event,
                        self._id,
                        self._retry,
                    )
                    if message.data == DONE:
                        self.done = True
                    out.append(message)
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
