"""Bedrock event-stream frames as the fake server sends them, faults included.

Framing itself is `llm_router.framing.eventstream.encode_frame`; this adds the header sets
Bedrock uses and a deliberately broken message CRC for checksum-fault tests.
"""

from __future__ import annotations

import orjson

from llm_router.framing.eventstream import encode_frame

__all__ = ["encode_frame", "event_frame", "exception_frame"]


def event_frame(event_type: str, payload: bytes, *, corrupt_crc: bool = False) -> bytes:
    """An `event` message of type `event_type` carrying a JSON payload."""
    headers = (
        (":event-type", event_type),
        (":content-type", "application/json"),
        (":message-type", "event"),
    )
    frame = encode_frame(headers, payload)
    if corrupt_crc:  # flip every bit of the message CRC: botocore must raise ChecksumMismatch
        frame = frame[:-4] + bytes(b ^ 0xFF for b in frame[-4:])
    return frame


def exception_frame(exception_type: str, message: str) -> bytes:
    """An `exception` message (e.g. `throttlingException`) with a `{"message": ...}` payload."""
    headers = (
        (":exception-type", exception_type),
        (":content-type", "application/json"),
        (":message-type", "exception"),
    )
    return encode_frame(headers, orjson.dumps({"message": message}))
