"""The cassette file format (version 1): typed records, body encoding, and load/save.

A cassette is one JSON document::

    {"version": 1,
     "interactions": [
       {"request": {"method": "POST", "url": "https://host/v1/chat/completions",
                    "headers": {"content-type": "application/json", ...},
                    "body": {...}},                       # or "body_text" / "body_b64"
        "response": {"status": 200, "headers": {...}, "elapsed": 0.41,
                     "body": {...}},                      # or "body_text" / "body_b64"
        "recorded_at": "2025-01-31T12:00:00+00:00"}]}

A streamed response carries ``"stream": {"kind": "sse" | "bytes", "events": [{"t": 0.12,
"data": "data: {...}\\n\\n"}, ...]}`` instead of a body: one event per chunk as the transport
delivered it, ``t`` in seconds since the response headers arrived, ``data`` for UTF-8 text and
``data_b64`` for binary chunks (AWS event-stream). ``"truncated": true`` marks a stream the
caller closed before its end; ``"error"`` a transport failure, replayed as the same httpx error.
An interaction whose request failed before any response has ``"error"`` instead of
``"response"``. JSON bodies are stored as JSON values so that diffs stay readable.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import os
import tempfile
from pathlib import Path
from typing import Any, Literal, NotRequired, TypedDict

import httpx
import orjson

from llm_router.errors import LLMRouterError

__all__ = [
    "FORMAT_VERSION",
    "CassetteError",
    "CassetteFormatError",
    "BodyFields",
    "ChunkFields",
    "ErrorRecord",
    "Interaction",
    "RequestRecord",
    "ResponseRecord",
    "StreamEventRecord",
    "StreamRecord",
    "body_bytes",
    "body_fields",
    "chunk_bytes",
    "chunk_fields",
    "dump_cassette",
    "headers_record",
    "load_cassette",
    "now_iso",
    "request_record",
    "set_body",
    "stream_event",
    "write_cassette",
]

FORMAT_VERSION = 1

# Content types stored as text when they decode as UTF-8; anything else is base64.
_TEXT_MARKERS = ("text/", "json", "xml", "x-www-form-urlencoded", "javascript", "yaml")
_BODY_KEYS = ("body", "body_text", "body_b64")


class CassetteError(LLMRouterError):
    """Base class of the cassette errors (bad files, misses, misuse)."""


class CassetteFormatError(CassetteError):
    """A cassette file is not valid JSON or does not follow format version 1."""


class BodyFields(TypedDict, total=False):
    """The one field holding a body: a JSON value, UTF-8 text, or base64 bytes."""

    body: Any
    body_text: str
    body_b64: str


class ChunkFields(TypedDict, total=False):
    """The one field holding a stream chunk: UTF-8 text or base64 bytes."""

    data: str
    data_b64: str


class ErrorRecord(TypedDict):
    """A transport failure: the httpx exception class name and its message."""

    type: str
    message: str


class RequestRecord(TypedDict):
    method: str
    url: str
    headers: dict[str, str]
    body: NotRequired[Any]
    body_text: NotRequired[str]
    body_b64: NotRequired[str]


class StreamEventRecord(TypedDict):
    t: float
    data: NotRequired[str]
    data_b64: NotRequired[str]


class StreamRecord(TypedDict):
    kind: Literal["sse", "bytes"]
    events: list[StreamEventRecord]
    truncated: NotRequired[bool]
    error: NotRequired[ErrorRecord]


class ResponseRecord(TypedDict):
    status: int
    headers: dict[str, str]
    elapsed: NotRequired[float]
    body: NotRequired[Any]
    body_text: NotRequired[str]
    body_b64: NotRequired[str]
    stream: NotRequired[StreamRecord]
    truncated: NotRequired[bool]


class Interaction(TypedDict):
    request: RequestRecord
    response: NotRequired[ResponseRecord]
    error: NotRequired[ErrorRecord]
    recorded_at: str


def now_iso() -> str:
    """The current UTC time as ISO 8601, to the second."""
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


def is_textual(content_type: str | None) -> bool:
    """Whether a body of this content type is worth storing as readable text."""
    if content_type is None:
        return True
    lowered = content_type.lower()
    return any(marker in lowered for marker in _TEXT_MARKERS)


def body_fields(content: bytes, content_type: str | None) -> BodyFields:
    """Encode a body as the one cassette field that represents it best (empty: none)."""
    if not content:
        return {}
    textual = is_textual(content_type)
    if content_type is None:
        looks_json = content.lstrip()[:1] in (b"{", b"[")
    else:
        looks_json = "json" in content_type.lower()
    if textual and looks_json:
        try:
            return {"body": orjson.loads(content)}
        except orjson.JSONDecodeError:
            pass
    if textual:
        try:
            return {"body_text": content.decode("utf-8")}
        except UnicodeDecodeError:
            pass
    return {"body_b64": base64.b64encode(content).decode("ascii")}


def headers_record(headers: httpx.Headers) -> dict[str, str]:
    """Headers as a JSON object: lower-case names, repeated values joined with ", "."""
    record: dict[str, str] = {}
    for name, value in headers.multi_items():
        key = name.lower()
        record[key] = f"{record[key]}, {value}" if key in record else value
    return record


def request_record(request: httpx.Request) -> RequestRecord:
    """The record of a request whose body has been read (`request.read()`/`aread()`)."""
    record: RequestRecord = {
        "method": request.method,
        "url": str(request.url),
        "headers": headers_record(request.headers),
    }
    set_body(record, request.content, request.headers.get("content-type"))
    return record


def set_body(
    record: RequestRecord | ResponseRecord, content: bytes, content_type: str | None
) -> None:
    """Store `content` in the record's one body field (see `body_fields`)."""
    fields = body_fields(content, content_type)
    if "body" in fields:
        record["body"] = fields["body"]
    elif "body_text" in fields:
        record["body_text"] = fields["body_text"]
    elif "body_b64" in fields:
        record["body_b64"] = fields["body_b64"]


def body_bytes(record: RequestRecord | ResponseRecord) -> bytes:
    """The body bytes a record stands for (JSON values are re-serialised compactly)."""
    if "body" in record:
        return orjson.dumps(record["body"])
    if "body_text" in record:
        return record["body_text"].encode("utf-8")
    if "body_b64" in record:
        return _b64decode(record["body_b64"])
    return b""


def chunk_fields(chunk: bytes, textual: bool) -> ChunkFields:
    """Encode one stream chunk as ``data`` (UTF-8 text) or ``data_b64``."""
    if textual:
        try:
            return {"data": chunk.decode("utf-8")}
        except UnicodeDecodeError:
            pass  # a chunk boundary split a character: keep it exact as base64
    return {"data_b64": base64.b64encode(chunk).decode("ascii")}


def stream_event(t: float, chunk: bytes, textual: bool) -> StreamEventRecord:
    """One stream event: the chunk (see `chunk_fields`) at `t` seconds, to the microsecond."""
    event: StreamEventRecord = {"t": round(t, 6)}
    fields = chunk_fields(chunk, textual)
    if "data" in fields:
        event["data"] = fields["data"]
    else:
        event["data_b64"] = fields["data_b64"]
    return event


def chunk_bytes(event: StreamEventRecord) -> bytes:
    """The bytes of one recorded stream chunk."""
    if "data" in event:
        return event["data"].encode("utf-8")
    return _b64decode(event.get("data_b64", ""))


def _b64decode(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error as exc:
        raise CassetteFormatError(f"invalid base64 in cassette: {exc}") from None


def dump_cassette(interactions: list[Interaction]) -> bytes:
    """Serialise interactions as a version-1 cassette document (indented, newline-terminated)."""
    document = {"version": FORMAT_VERSION, "interactions": interactions}
    return orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n"


def write_cassette(path: Path, interactions: list[Interaction]) -> None:
    """Write a cassette atomically: readers never see a half-written file."""
    data = dump_cassette(interactions)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as tmp:
            tmp.write(data)
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def load_cassette(path: Path) -> list[Interaction]:
    """Read and validate a cassette file; raise CassetteFormatError naming what is wrong."""
    try:
        document = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise CassetteFormatError(f"cassette {path} is not valid JSON: {exc}") from None
    if not isinstance(document, dict):
        raise CassetteFormatError(f"cassette {path}: expected a JSON object at the top level")
    version = document.get("version")
    if version != FORMAT_VERSION:
        raise CassetteFormatError(
            f"cassette {path}: unsupported version {version!r} (expected {FORMAT_VERSION})"
        )
    interactions = document.get("interactions")
    if not isinstance(interactions, list):
        raise CassetteFormatError(f"cassette {path}: 'interactions' must be a list")
    for index, interaction in enumerate(interactions):
        _validate_interaction(path, index, interaction)
    return interactions


def _validate_interaction(path: Path, index: int, interaction: Any) -> None:
    where = f"cassette {path}: interactions[{index}]"
    if not isinstance(interaction, dict):
        raise CassetteFormatError(f"{where} must be an object")
    request = interaction.get("request")
    if not isinstance(request, dict):
        raise CassetteFormatError(f"{where}.request must be an object")
    for key, kind in (("method", str), ("url", str), ("headers", dict)):
        if not isinstance(request.get(key), kind):
            raise CassetteFormatError(f"{where}.request.{key} must be a {kind.__name__}")
    _validate_body(where + ".request", request)
    response = interaction.get("response")
    if response is None:
        if not isinstance(interaction.get("error"), dict):
            raise CassetteFormatError(f"{where} needs a 'response' or an 'error'")
        return
    if not isinstance(response, dict):
        raise CassetteFormatError(f"{where}.response must be an object")
    if not isinstance(response.get("status"), int):
        raise CassetteFormatError(f"{where}.response.status must be an integer")
    if not isinstance(response.get("headers"), dict):
        raise CassetteFormatError(f"{where}.response.headers must be an object")
    _validate_body(where + ".response", response)
    stream = response.get("stream")
    if stream is not None:
        if not isinstance(stream, dict) or stream.get("kind") not in ("sse", "bytes"):
            raise CassetteFormatError(f"{where}.response.stream.kind must be 'sse' or 'bytes'")
        events = stream.get("events")
        if not isinstance(events, list) or not all(
            isinstance(e, dict) and isinstance(e.get("t"), int | float) for e in events
        ):
            raise CassetteFormatError(
                f"{where}.response.stream.events must be a list of objects with a number 't'"
            )


def _validate_body(where: str, record: dict[str, Any]) -> None:
    present = [key for key in _BODY_KEYS if key in record]
    if len(present) > 1:
        raise CassetteFormatError(f"{where} has more than one body field: {', '.join(present)}")
    if "stream" in record and present:
        raise CassetteFormatError(f"{where} has both a stream and a {present[0]}")
