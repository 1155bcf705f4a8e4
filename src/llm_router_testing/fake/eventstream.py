"""AWS event-stream frame encoder (the binary framing of Bedrock's streaming answers).

Frame layout, all integers big-endian: total length u32, headers length u32, prelude CRC32
(of those 8 bytes) u32, headers, payload, message CRC32 (of everything before it) u32.
A header is: name length u8, name, value type u8 (7 = string), value length u16, value.
botocore can decode these frames but has no encoder, hence this module.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence

import orjson

__all__ = ["encode_frame", "event_frame", "exception_frame"]

_STRING = 7
_PRELUDE = struct.Struct(">II")
_CRC = struct.Struct(">I")


def _header(name: str, value: str) -> bytes:
    raw_name, raw_value = name.encode(), value.encode()
    return (
        bytes((len(raw_name),)) + raw_name + bytes((_STRING,)) + struct.pack(">H", len(raw_value))
    ) + raw_value


def encode_frame(
    headers: Sequence[tuple[str, str]], payload: bytes, *, corrupt_crc: bool = False
) -> bytes:
    """One event-stream message; `corrupt_crc` flips the message CRC (a checksum fault)."""
    raw_headers = b"".join(_header(name, value) for name, value in headers)
    prelude = _PRELUDE.pack(12 + len(raw_headers) + len(payload) + 4, len(raw_headers))
    message = prelude + _CRC.pack(zlib.crc32(prelude)) + raw_headers + payload
    crc = zlib.crc32(message)
    if corrupt_crc:
        crc ^= 0xFFFFFFFF
    return message + _CRC.pack(crc)


def event_frame(event_type: str, payload: bytes, *, corrupt_crc: bool = False) -> bytes:
    """An `event` message of type `event_type` carrying a JSON payload."""
    headers = (
        (":event-type", event_type),
        (":content-type", "application/json"),
        (":message-type", "event"),
    )
    return encode_frame(headers, payload, corrupt_crc=corrupt_crc)


def exception_frame(exception_type: str, message: str) -> bytes:
    """An `exception` message (e.g. `throttlingException`) with a `{"message": ...}` payload."""
    headers = (
        (":exception-type", exception_type),
        (":content-type", "application/json"),
        (":message-type", "exception"),
    )
    return encode_frame(headers, orjson.dumps({"message": message}))
