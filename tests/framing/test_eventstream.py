"""AWS event-stream decoding: chunk boundaries, corruption, truncation, exception frames."""

from __future__ import annotations

import struct
import zlib
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llm_router.errors import (
    FramingError,
    InvalidRequestError,
    NotFoundError,
    OverloadedError,
    RateLimitError,
    TimeoutError,
    UpstreamError,
)
from llm_router.framing.eventstream import (
    EventStreamDecoder,
    encode_event,
    encode_stream_event,
    error_for_aws_exception,
)
from llm_router.types import StreamEvent

EVENTS: list[dict[str, Any]] = [
    {"messageStart": {"role": "assistant"}},
    {"contentBlockDelta": {"contentBlockIndex": 0, "delta": {"text": "Hello, "}}},
    {"contentBlockDelta": {"contentBlockIndex": 0, "delta": {"text": "wörld ✓"}}},
    {"contentBlockStop": {"contentBlockIndex": 0}},
    {"messageStop": {"stopReason": "end_turn"}},
    {"metadata": {"usage": {"inputTokens": 3, "outputTokens": 4}, "metrics": {"latencyMs": 9}}},
]


def _stream(events: list[dict[str, Any]]) -> bytes:
    return b"".join(
        encode_event(name, orjson.dumps(payload))
        for event in events
        for name, payload in event.items()
    )


def _decode_in_chunks(data: bytes, cuts: list[int]) -> list[dict[str, Any]]:
    decoder = EventStreamDecoder()
    events: list[dict[str, Any]] = []
    start = 0
    for cut in sorted(cuts):
        events += decoder.feed(data[start:cut])
        start = cut
    events += decoder.feed(data[start:])
    decoder.finish()
    return events


def test_decodes_whole_stream_in_one_feed() -> None:
    decoder = EventStreamDecoder()
    assert decoder.feed(_stream(EVENTS)) == EVENTS
    decoder.finish()


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_same_events_whatever_the_chunk_boundaries(data: st.DataObject) -> None:
    raw = _stream(EVENTS)
    cuts = data.draw(st.lists(st.integers(min_value=0, max_value=len(raw)), max_size=30))
    assert _decode_in_chunks(raw, cuts) == EVENTS


def test_byte_at_a_time() -> None:
    raw = _stream(EVENTS)
    assert _decode_in_chunks(raw, list(range(len(raw)))) == EVENTS


def test_frame_layout_matches_the_spec() -> None:
    frame = encode_event("messageStart", b'{"role":"assistant"}')
    total_len, headers_len, prelude_crc = struct.unpack_from("!III", frame)
    assert total_len == len(frame)
    assert prelude_crc == zlib.crc32(frame[:8])
    assert struct.unpack("!I", frame[-4:])[0] == zlib.crc32(frame[:-4])
    assert frame[12 + headers_len : -4] == b'{"role":"assistant"}'


def test_empty_payload_decodes_as_empty_mapping() -> None:
    assert EventStreamDecoder().feed(encode_event("ping", b"")) == [{"ping": {}}]


@pytest.mark.parametrize("offset", [9, 20, -6, -1])
def test_corrupt_byte_raises_framing_error(offset: int) -> None:
    frame = bytearray(encode_event("messageStart", b'{"role":"assistant"}'))
    frame[offset] ^= 0xFF
    with pytest.raises(FramingError, match="corrupt event-stream frame"):
        EventStreamDecoder().feed(bytes(frame))


def test_corrupt_prelude_crc_names_the_checksum() -> None:
    frame = bytearray(encode_event("messageStart", b"{}"))
    frame[8] ^= 0x01
    with pytest.raises(FramingError, match=r"(?i)checksum"):
        EventStreamDecoder().feed(bytes(frame))


def test_truncated_stream_raises_on_finish() -> None:
    raw = _stream(EVENTS)
    decoder = EventStreamDecoder()
    assert decoder.feed(raw[:-5]) == EVENTS[:-1]
    with pytest.raises(FramingError, match="truncated"):
        decoder.finish()


def test_non_json_payload_raises_framing_error() -> None:
    with pytest.raises(FramingError, match="'chunk' payload is not JSON"):
        EventStreamDecoder().feed(encode_event("chunk", b"{not json"))


def test_frame_without_event_type_raises_framing_error() -> None:
    headers = b"\x0d:message-type\x07\x00\x05event"
    prelude = struct.pack("!II", 16 + len(headers), len(headers))
    prelude += struct.pack("!I", zlib.crc32(prelude))
    body = prelude + headers
    frame = body + struct.pack("!I", zlib.crc32(body))
    with pytest.raises(FramingError, match=":event-type"):
        EventStreamDecoder().feed(frame)


@pytest.mark.parametrize(
    ("exception_type", "error_cls", "status"),
    [
        ("throttlingException", RateLimitError, 429),
        ("serviceUnavailableException", OverloadedError, 503),
        ("validationException", InvalidRequestError, 400),
        ("internalServerException", UpstreamError, 500),
        ("modelStreamErrorException", UpstreamError, 424),
        ("modelTimeoutException", TimeoutError, 408),
        ("somethingNewException", UpstreamError, 502),
    ],
)
def test_exception_frame_raises_typed_error(
    exception_type: str, error_cls: type[Exception], status: int
) -> None:
    frame = encode_event(
        exception_type, b'{"message":"Too many tokens, slow down"}', message_type="exception"
    )
    with pytest.raises(error_cls) as info:
        EventStreamDecoder().feed(frame)
    assert exception_type in str(info.value)
    assert "Too many tokens, slow down" in str(info.value)
    assert info.value.status == status  # type: ignore[attr-defined]


def test_exception_after_events_is_raised_after_they_are_returned() -> None:
    raw = _stream(EVENTS[:2]) + encode_event(
        "throttlingException", b'{"message":"slow down"}', message_type="exception"
    )
    decoder = EventStreamDecoder()
    assert decoder.feed(raw) == EVENTS[:2]
    with pytest.raises(RateLimitError, match="slow down"):
        decoder.finish()
    with pytest.raises(RateLimitError):
        decoder.feed(b"")


def test_error_message_type_raises_typed_error() -> None:
    frame = encode_event("ValidationException", b"bad input", message_type="error")
    with pytest.raises(InvalidRequestError, match="bad input"):
        EventStreamDecoder().feed(frame)


def test_error_for_aws_exception_accepts_header_form() -> None:
    error = error_for_aws_exception(
        "ResourceNotFoundException:http://internal.amazon.com/coral/com.amazon.bedrock/",
        "model not found",
    )
    assert isinstance(error, NotFoundError)
    assert error.status == 404
    assert str(error) == "bedrock ResourceNotFoundException: model not found"


def test_encode_event_rejects_unknown_message_type() -> None:
    with pytest.raises(ValueError, match="message type"):
        encode_event("x", b"{}", message_type="bogus")


def test_encode_stream_event_frames_exceptions_as_exceptions() -> None:
    decoder = EventStreamDecoder()
    assert decoder.feed(
        encode_stream_event(StreamEvent("messageStart", b'{"role":"assistant"}'))
    ) == [{"messageStart": {"role": "assistant"}}]
    with pytest.raises(RateLimitError, match="slow down"):
        decoder.feed(
            encode_stream_event(StreamEvent("throttlingException", b'{"message":"slow down"}'))
        )
