"""Sans-IO AWS event-stream framing: bytes in, `{"<eventType>": payload}` mappings out.

Frame parsing and CRC checks are botocore's (`EventStreamBuffer`); this module adds the
Bedrock meaning of the headers (events, typed exceptions) and a small frame encoder for
fake servers and tests. It knows nothing about what the events mean to a wire format.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence
from typing import Any

import orjson
from botocore.eventstream import EventStreamBuffer, EventStreamMessage, ParserError

from llm_router.errors import (
    AuthenticationError,
    FramingError,
    InvalidRequestError,
    NotFoundError,
    OverloadedError,
    PermissionError,
    ProviderError,
    RateLimitError,
    ResponseTooLargeError,
    TimeoutError,
    UpstreamError,
)
from llm_router.framing import DEFAULT_MAX_EVENT_BYTES
from llm_router.types import StreamEvent

__all__ = [
    "EventStreamDecoder",
    "aws_error_class",
    "encode_event",
    "encode_frame",
    "encode_stream_event",
    "error_for_aws_exception",
]

_PRELUDE_LEN = 12  # total length u32, headers length u32, prelude CRC u32
_MIN_FRAME_LEN = 16  # prelude (12 bytes) + message CRC, with no headers and no payload

# Keyed by the exception type with its first letter lower-cased: Bedrock spells it
# `throttlingException` in stream frames and `ThrottlingException` in x-amzn-ErrorType.
_ErrorClass = type[ProviderError] | type[InvalidRequestError]
_AWS_ERRORS: dict[str, tuple[_ErrorClass, int]] = {
    "throttlingException": (RateLimitError, 429),
    "serviceUnavailableException": (OverloadedError, 503),
    "modelNotReadyException": (OverloadedError, 429),
    "validationException": (InvalidRequestError, 400),
    "accessDeniedException": (PermissionError, 403),
    "resourceNotFoundException": (NotFoundError, 404),
    "modelTimeoutException": (TimeoutError, 408),
    "internalServerException": (UpstreamError, 500),
    "modelStreamErrorException": (UpstreamError, 424),
    "modelErrorException": (UpstreamError, 424),
    "serviceQuotaExceededException": (RateLimitError, 429),
    # Credential problems reach Bedrock as 403s; they are authentication failures all the same.
    "unrecognizedClientException": (AuthenticationError, 403),
    "invalidSignatureException": (AuthenticationError, 403),
    "incompleteSignatureException": (AuthenticationError, 403),
    "missingAuthenticationTokenException": (AuthenticationError, 403),
    "expiredTokenException": (AuthenticationError, 403),
}


def aws_error_class(exception_type: str) -> tuple[_ErrorClass, int] | None:
    """The typed error and default status of a Bedrock exception name (either spelling,
    with or without the header's `:http://...` suffix); None for names without one."""
    name = exception_type.split(":", 1)[0].strip()
    return _AWS_ERRORS.get(name[:1].lower() + name[1:])


def error_for_aws_exception(
    exception_type: str, message: str, *, status: int | None = None, body: bytes | None = None
) -> ProviderError | InvalidRequestError:
    """Build the typed error for a Bedrock exception (`ThrottlingException`, ...).

    `exception_type` may carry the `:http://...` suffix of the x-amzn-ErrorType header.
    `status` overrides the status the exception type implies (unknown types default to 502).
    """
    name = exception_type.split(":", 1)[0].strip()
    error_cls, default_status = aws_error_class(name) or (UpstreamError, 502)
    text = f"bedrock {name or 'unknown exception'}: {message}"
    return error_cls(text, status=default_status if status is None else status, body=body)


def encode_frame(headers: Sequence[tuple[str, str]], payload: bytes) -> bytes:
    """Encode one event-stream frame with string headers (botocore decodes but cannot encode).

    Layout, integers big-endian: total length u32, headers length u32, prelude CRC32 u32,
    headers (name length u8, name, type u8 = 7 for string, value length u16, value), payload,
    message CRC32 of everything before it.
    """
    encoded = b"".join(_encode_string_header(name, value) for name, value in headers)
    total_len = _MIN_FRAME_LEN + len(encoded) + len(payload)
    prelude = struct.pack("!II", total_len, len(encoded))
    prelude += struct.pack("!I", zlib.crc32(prelude))
    body = prelude + encoded + payload
    return body + struct.pack("!I", zlib.crc32(body))


def encode_event(
    event_type: str,
    payload: bytes,
    *,
    message_type: str = "event",
    content_type: str = "application/json",
) -> bytes:
    """Encode one Bedrock-style frame; for gateways, fake servers and tests.

    `message_type` "event" sets `:event-type`, "exception" sets `:exception-type`, and
    "error" sets `:error-code` (with `payload` decoded as the `:error-message`).
    """
    if message_type == "event":
        headers = [(":event-type", event_type)]
    elif message_type == "exception":
        headers = [(":exception-type", event_type)]
    elif message_type == "error":
        headers = [(":error-code", event_type), (":error-message", payload.decode())]
        payload = b""
    else:
        raise ValueError(f"unknown event-stream message type {message_type!r}")
    return encode_frame(
        [(":message-type", message_type), *headers, (":content-type", content_type)], payload
    )


def encode_stream_event(event: StreamEvent) -> bytes:
    """Frame one rendered Converse stream event as Bedrock would send it.

    Exception events (`throttlingException`, ...: names ending in "Exception") become
    exception frames, everything else event frames.
    """
    name = event.event or "chunk"
    kind = "exception" if name.endswith("Exception") else "event"
    return encode_event(name, event.data, message_type=kind)


def _encode_string_header(name: str, value: str) -> bytes:
    raw_name, raw_value = name.encode(), value.encode()
    return (
        struct.pack("!B", len(raw_name))
        + raw_name
        + struct.pack("!BH", 7, len(raw_value))
        + raw_value
    )


class EventStreamDecoder:
    """Incremental decoder of a Bedrock event stream (ConverseStream, InvokeModel streams).

    `feed(data)` returns the events completed by `data`, each as `{"<eventType>": payload}`
    (the shape boto3 hands out). An exception frame raises its typed error (RateLimitError
    for `throttlingException`, ...) once the events before it have been returned: at once if
    there were none, else on the next `feed()` or `finish()`. A corrupt frame raises
    FramingError; a frame declaring more than `max_event_bytes` raises ResponseTooLargeError
    as soon as its prelude arrives. Call `finish()` at end of body to detect a truncated
    frame. After an error the decoder is spent.

    Linear in its input: bytes wait in one `bytearray` until a whole frame is there, and
    only that frame is handed to botocore for its checks and header parsing.
    """

    def __init__(self, *, max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES) -> None:
        if max_event_bytes < _MIN_FRAME_LEN:
            raise ValueError(f"max_event_bytes must be at least {_MIN_FRAME_LEN}")
        self._max = max_event_bytes
        self._buf = bytearray()
        self._start = 0  # where the next frame begins in _buf
        self._error: Exception | None = None

    def feed(self, data: bytes) -> list[dict[str, Any]]:
        """Add bytes from the wire; return every event they complete, in order."""
        self._raise_stored_error()
        self._buf += data
        events: list[dict[str, Any]] = []
        try:
            while True:
                try:
                    message = self._next_message()
                    if message is None:
                        return events
                    events.append(_to_event(message))
                except (FramingError, InvalidRequestError, ProviderError) as exc:
                    if not events:
                        raise
                    self._error = exc
                    return events
        finally:
            if self._start:
                del self._buf[: self._start]
                self._start = 0

    def finish(self) -> None:
        """Declare the end of the body; raise FramingError if a partial frame is left."""
        self._raise_stored_error()
        left = len(self._buf) - self._start
        if left:
            raise FramingError(
                f"event stream truncated: {left} bytes of an incomplete frame remain at end of body"
            )

    def _raise_stored_error(self) -> None:
        if self._error is not None:
            raise self._error

    def _next_message(self) -> EventStreamMessage | None:
        start = self._start
        available = len(self._buf) - start
        if available < _PRELUDE_LEN:
            return None
        total_length, headers_length, prelude_crc = struct.unpack_from("!III", self._buf, start)
        if zlib.crc32(memoryview(self._buf)[start : start + 8]) != prelude_crc:
            raise FramingError(
                "corrupt event-stream frame: prelude checksum mismatch"
                f" (declared {prelude_crc:#010x})"
            )
        if total_length > self._max:
            raise ResponseTooLargeError(
                f"event stream: a frame of {total_length} bytes exceeds max_event_bytes"
                f" ({self._max} bytes)",
                limit="max_event_bytes",
                limit_bytes=self._max,
            )
        # botocore does not check that the declared total length can hold the prelude,
        # headers and CRC it also declares.
        if total_length < _MIN_FRAME_LEN + headers_length:
            raise FramingError(
                f"corrupt event-stream frame: total length {total_length} cannot hold"
                f" {headers_length} header bytes plus prelude and CRC"
            )
        if available < total_length:
            return None
        frame = bytes(self._buf[start : start + total_length])
        self._start = start + total_length
        parser = EventStreamBuffer()
        parser.add_data(frame)
        try:
            message: EventStreamMessage = next(parser)
        except ParserError as exc:
            raise FramingError(f"corrupt event-stream frame: {exc}") from exc
        except (StopIteration, struct.error, KeyError, IndexError, UnicodeDecodeError) as exc:
            # botocore's header parser trusts the declared lengths and type codes.
            raise FramingError(f"corrupt event-stream frame headers: {exc!r}") from exc
        return message


def _to_event(message: EventStreamMessage) -> dict[str, Any]:
    headers: dict[str, Any] = message.headers
    message_type = headers.get(":message-type")
    if message_type == "event":
        event_type = headers.get(":event-type")
        if not isinstance(event_type, str):
            raise FramingError("event-stream event frame has no :event-type header")
        return {event_type: _json_payload(message.payload, event_type)}
    if message_type == "exception":
        exception_type = str(headers.get(":exception-type", "unknownException"))
        raise error_for_aws_exception(
            exception_type, _exception_message(message.payload), body=message.payload
        )
    if message_type == "error":
        code = str(headers.get(":error-code", "unknownError"))
        raise error_for_aws_exception(
            code, str(headers.get(":error-message", "")), body=message.payload or None
        )
    raise FramingError(f"event-stream frame has unknown :message-type {message_type!r}")


def _json_payload(payload: bytes, event_type: str) -> Any:
    if not payload:
        return {}
    try:
        return orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise FramingError(f"event-stream {event_type!r} payload is not JSON: {exc}") from exc


def _exception_message(payload: bytes) -> str:
    try:
        decoded = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return payload.decode("utf-8", "replace")
    if isinstance(decoded, dict):
        message = decoded.get("message", decoded.get("Message"))
        if isinstance(message, str):
            return message
    return payload.decode("utf-8", "replace")
