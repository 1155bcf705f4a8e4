"""The event-stream encoder, checked against botocore's decoder."""

from __future__ import annotations

import struct
import zlib

import orjson
import pytest
from botocore.eventstream import ChecksumMismatch, EventStreamBuffer
from hypothesis import given, settings
from hypothesis import strategies as st

from llm_router_testing.fake.eventstream import encode_frame, event_frame, exception_frame


def _decode(data: bytes) -> list[tuple[dict[str, object], bytes]]:
    buffer = EventStreamBuffer()
    buffer.add_data(data)
    return [(message.headers, message.payload) for message in buffer]


def test_event_frame_decodes_with_botocore() -> None:
    frame = event_frame("contentBlockDelta", b'{"delta":{"text":"hi"}}')
    [(headers, payload)] = _decode(frame)
    assert headers == {
        ":event-type": "contentBlockDelta",
        ":content-type": "application/json",
        ":message-type": "event",
    }
    assert payload == b'{"delta":{"text":"hi"}}'


def test_frame_layout_has_big_endian_lengths_and_both_crcs() -> None:
    frame = encode_frame([("a", "b")], b"xyz")
    total, headers_length, prelude_crc = struct.unpack(">III", frame[:12])
    assert total == len(frame)
    assert headers_length == 1 + 1 + 1 + 2 + 1
    assert prelude_crc == zlib.crc32(frame[:8])
    assert struct.unpack(">I", frame[-4:])[0] == zlib.crc32(frame[:-4])


def test_exception_frame_carries_the_type_and_message() -> None:
    [(headers, payload)] = _decode(exception_frame("throttlingException", "slow down"))
    assert headers[":message-type"] == "exception"
    assert headers[":exception-type"] == "throttlingException"
    assert orjson.loads(payload) == {"message": "slow down"}


def test_corrupt_crc_is_detected_by_botocore() -> None:
    with pytest.raises(ChecksumMismatch):
        _decode(event_frame("messageStart", b"{}", corrupt_crc=True))


@settings(max_examples=100)
@given(
    st.lists(
        st.tuples(
            st.text(min_size=1, max_size=20).filter(lambda s: len(s.encode()) < 128),
            st.text(max_size=50),
        ),
        max_size=4,
        unique_by=lambda pair: pair[0],
    ),
    st.binary(max_size=300),
)
def test_any_frame_round_trips(headers: list[tuple[str, str]], payload: bytes) -> None:
    [(decoded_headers, decoded_payload)] = _decode(encode_frame(headers, payload))
    assert decoded_headers == dict(headers)
    assert decoded_payload == payload
