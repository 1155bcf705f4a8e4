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

A WebSocket session has ``"websocket"`` instead of ``"response"`` (its request is the upgrade,
``ws://`` or ``wss://``)::

    "websocket": {"elapsed": 0.02, "subprotocol": null,
                  "frames": [{"t": 0.0, "from": "server", "text": "{...}"},
                             {"t": 0.1, "from": "client", "data_b64": "eyJ..."}],
                  "close": {"code": 1000, "reason": "", "by": "client"}}

``t`` is seconds since the upgrade was accepted (non-decreasing), text frames are kept as
text and binary frames as base64; a refused upgrade is an ordinary ``"response"``.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import datetime
import glob
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal, NoReturn, NotRequired, TypedDict

try:
    import fcntl
except ImportError:  # Windows: no flock
    fcntl = None  # type: ignore[assignment]

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
    "WebSocketCloseRecord",
    "WebSocketFrameRecord",
    "WebSocketRecord",
    "body_bytes",
    "body_fields",
    "cassette_lock",
    "chunk_bytes",
    "chunk_fields",
    "dump_cassette",
    "frame_data",
    "frame_record",
    "headers_record",
    "is_websocket_url",
    "load_cassette",
    "now_iso",
    "parse_cassette",
    "remove_leftovers",
    "replace_file",
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


WebSocketSender = Literal["client", "server"]


# One message of a WebSocket session: when, who sent it ("from" is a Python keyword, hence
# the functional syntax), and its text (a text frame) or base64 bytes (a binary frame).
WebSocketFrameRecord = TypedDict(
    "WebSocketFrameRecord",
    {"t": float, "from": WebSocketSender, "text": NotRequired[str], "data_b64": NotRequired[str]},
)


class WebSocketCloseRecord(TypedDict):
    """How a session ended: the close code and reason, and which side closed first."""

    code: int
    reason: str
    by: WebSocketSender


class WebSocketRecord(TypedDict):
    frames: list[WebSocketFrameRecord]
    elapsed: NotRequired[float]
    subprotocol: NotRequired[str | None]
    close: NotRequired[WebSocketCloseRecord]
    error: NotRequired[ErrorRecord]


class Interaction(TypedDict):
    request: RequestRecord
    response: NotRequired[ResponseRecord]
    websocket: NotRequired[WebSocketRecord]
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


def is_websocket_url(url: str) -> bool:
    """Whether a recorded request is a WebSocket upgrade (its URL is ``ws://`` / ``wss://``)."""
    return url.startswith(("ws://", "wss://"))


def frame_record(t: float, sender: WebSocketSender, data: str | bytes) -> WebSocketFrameRecord:
    """One WebSocket message at `t` seconds: a text frame as ``text``, binary as ``data_b64``."""
    if isinstance(data, str):
        return {"t": round(t, 6), "from": sender, "text": data}
    return {"t": round(t, 6), "from": sender, "data_b64": base64.b64encode(data).decode("ascii")}


def frame_data(frame: WebSocketFrameRecord) -> str | bytes:
    """The message a frame record stands for: `str` for a text frame, `bytes` for binary."""
    if "text" in frame:
        return frame["text"]
    return _b64decode(frame.get("data_b64", ""))


def _b64decode(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error as exc:
        raise CassetteFormatError(f"invalid base64 in cassette: {exc}") from None


def dump_cassette(interactions: list[Interaction]) -> bytes:
    """Serialise interactions as a version-1 cassette document (indented, newline-terminated)."""
    document = {"version": FORMAT_VERSION, "interactions": interactions}
    return orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n"


@contextlib.contextmanager
def cassette_lock(path: Path) -> Iterator[None]:
    """Hold the exclusive write lock of the directory of cassette `path` (blocking).

    Writers of cassettes in one directory, in any process, take turns: a save can read the
    file, merge and replace it without losing another writer's recordings. The lock is an
    advisory `flock` on the directory itself, so no lock file is left behind; where `flock`
    does not exist (Windows) saves are not serialised.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if fcntl is None:
        yield
        return
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def write_cassette(path: Path, interactions: list[Interaction]) -> None:
    """Write a cassette atomically (readers never see a half-written file), under the lock."""
    with cassette_lock(path):
        replace_file(path, dump_cassette(interactions))


def replace_file(path: Path, data: bytes) -> None:
    """Replace `path` with `data` through a temporary file beside it; hold `cassette_lock`.

    The file keeps its permission bits (a new one gets the umask's). The temporary file is
    named ``.<name>.<pid>.tmp``: one left by a writer killed mid-save is removed by the next
    save (or `Cassette.open`, see `remove_leftovers`), since under the lock no other save can
    be in progress.
    """
    _unlink_leftovers(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        try:
            os.fchmod(fd, stat.S_IMODE(path.stat().st_mode))
        except FileNotFoundError:
            pass
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _leftovers(path: Path) -> list[Path]:
    return list(path.parent.glob(f".{glob.escape(path.name)}.*.tmp"))


def _unlink_leftovers(path: Path) -> None:
    for stale in _leftovers(path):
        stale.unlink(missing_ok=True)


def remove_leftovers(path: Path) -> None:
    """Remove the temporary files that writers killed mid-save left beside cassette `path`.

    Taken under `cassette_lock`, so no save in progress (in any process) loses its file; a
    directory where they cannot be removed (read-only) keeps them, harmlessly."""
    if not path.parent.is_dir() or not _leftovers(path):
        return
    try:
        with cassette_lock(path):
            _unlink_leftovers(path)
    except OSError:
        pass


def load_cassette(path: Path) -> list[Interaction]:
    """Read and validate a cassette file; raise CassetteFormatError naming what is wrong."""
    return parse_cassette(path.read_bytes(), path)


def parse_cassette(data: bytes, path: Path | str) -> list[Interaction]:
    """Validate a cassette document read from `path` (named in errors)."""
    try:
        document = orjson.loads(data)
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
        _validate_interaction(_Where(f"cassette {path}: interactions[{index}]"), interaction)
    return interactions


MAX_SECONDS = 86_400.0
"""Longest response latency or stream offset a cassette may hold (realtime replay waits it)."""


class _Where(str):
    """The path of a field, for error messages: ``interactions[0].response.status``."""

    __slots__ = ()

    def __truediv__(self, name: str | int) -> _Where:
        if isinstance(name, int) or not name.isidentifier():
            return _Where(f"{self}[{name!r}]")
        return _Where(f"{self}.{name}")

    def fail(self, problem: str) -> NoReturn:
        raise CassetteFormatError(f"{self} {problem}")


def _check(where: _Where, value: Any, kind: type | tuple[type, ...], name: str) -> None:
    wanted = kind if isinstance(kind, tuple) else (kind,)
    if not isinstance(value, wanted) or (isinstance(value, bool) and bool not in wanted):
        where.fail(f"must be {name}, got {type(value).__name__} {_shown(value)}")


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _seconds(where: _Where, value: Any) -> None:
    _check(where, value, (int, float), "a number of seconds")
    if not 0 <= value <= MAX_SECONDS:
        where.fail(f"must be between 0 and {MAX_SECONDS:g} seconds, got {value!r}")


def _validate_interaction(where: _Where, interaction: Any) -> None:
    _check(where, interaction, dict, "an object")
    request = interaction.get("request")
    _check(where / "request", request, dict, "an object")
    _check(where / "request" / "method", request.get("method"), str, "a string")
    _check(where / "request" / "url", request.get("url"), str, "a string")
    _validate_headers(where / "request" / "headers", request.get("headers"))
    _validate_body(where / "request", request)
    if "recorded_at" in interaction:
        _check(where / "recorded_at", interaction["recorded_at"], str, "a string")
    if "websocket" in interaction:
        for other in ("response", "error"):
            if other in interaction:
                where.fail(f"has both a 'websocket' session and a {other!r}")
        if not is_websocket_url(request["url"]):
            (where / "request" / "url").fail(
                f"must be a ws:// or wss:// URL for a websocket session, got"
                f" {_shown(request['url'])}"
            )
        _validate_websocket(where / "websocket", interaction["websocket"])
        return
    response = interaction.get("response")
    if response is None:
        if "error" not in interaction:
            where.fail("needs a 'response' or an 'error'")
        _validate_error(where / "error", interaction["error"])
        return
    where = where / "response"
    _check(where, response, dict, "an object")
    status = response.get("status")
    _check(where / "status", status, int, "an integer")
    if not 100 <= status <= 599:
        (where / "status").fail(f"must be an HTTP status (100-599), got {status}")
    _validate_headers(where / "headers", response.get("headers"))
    if "elapsed" in response:
        _seconds(where / "elapsed", response["elapsed"])
    if "truncated" in response:
        _check(where / "truncated", response["truncated"], bool, "true or false")
    _validate_body(where, response)
    if "stream" in response:
        _validate_stream(where / "stream", response["stream"])


def _validate_headers(where: _Where, headers: Any) -> None:
    _check(where, headers, dict, "an object")
    for name, value in headers.items():
        _check(where / str(name), value, str, "a string")


def _validate_error(where: _Where, error: Any) -> None:
    _check(where, error, dict, "an object")
    _check(where / "type", error.get("type"), str, "a string")
    _check(where / "message", error.get("message"), str, "a string")


def _validate_stream(where: _Where, stream: Any) -> None:
    _check(where, stream, dict, "an object")
    if stream.get("kind") not in ("sse", "bytes"):
        (where / "kind").fail(f"must be 'sse' or 'bytes', got {_shown(stream.get('kind'))}")
    events = stream.get("events")
    _check(where / "events", events, list, "a list")
    for index, event in enumerate(events):
        at = where / "events" / index
        _check(at, event, dict, "an object")
        _seconds(at / "t", event.get("t"))
        if "data" in event:
            _check(at / "data", event["data"], str, "a string")
        elif "data_b64" in event:
            _base64(at / "data_b64", event["data_b64"])
    if "truncated" in stream:
        _check(where / "truncated", stream["truncated"], bool, "true or false")
    if "error" in stream:
        _validate_error(where / "error", stream["error"])


def _validate_websocket(where: _Where, session: Any) -> None:
    _check(where, session, dict, "an object")
    if "elapsed" in session:
        _seconds(where / "elapsed", session["elapsed"])
    if "subprotocol" in session and session["subprotocol"] is not None:
        _check(where / "subprotocol", session["subprotocol"], str, "a string or null")
    frames = session.get("frames")
    _check(where / "frames", frames, list, "a list")
    previous = 0.0
    for index, frame in enumerate(frames):
        at = where / "frames" / index
        _check(at, frame, dict, "an object")
        _seconds(at / "t", frame.get("t"))
        if frame["t"] < previous:
            (at / "t").fail(f"must not be earlier than the frame before it ({previous!r})")
        previous = frame["t"]
        if frame.get("from") not in ("client", "server"):
            (at / "from").fail(f"must be 'client' or 'server', got {_shown(frame.get('from'))}")
        present = [key for key in ("text", "data_b64") if key in frame]
        if len(present) != 1:
            at.fail("needs exactly one of 'text' (a text frame) or 'data_b64' (a binary frame)")
        if "text" in frame:
            _check(at / "text", frame["text"], str, "a string")
        else:
            _base64(at / "data_b64", frame["data_b64"])
    if "close" in session:
        close = session["close"]
        _check(where / "close", close, dict, "an object")
        code = close.get("code")
        _check(where / "close" / "code", code, int, "an integer")
        if not 1000 <= code <= 4999:
            (where / "close" / "code").fail(
                f"must be a WebSocket close code (1000-4999), got {code}"
            )
        _check(where / "close" / "reason", close.get("reason"), str, "a string")
        if close.get("by") not in ("client", "server"):
            (where / "close" / "by").fail(
                f"must be 'client' or 'server', got {_shown(close.get('by'))}"
            )
    if "error" in session:
        _validate_error(where / "error", session["error"])


def _base64(where: _Where, value: Any) -> None:
    _check(where, value, str, "a base64 string")
    try:
        base64.b64decode(value, validate=True)
    except binascii.Error as exc:
        where.fail(f"is not valid base64: {exc}")


def _validate_body(where: _Where, record: dict[str, Any]) -> None:
    present = [key for key in _BODY_KEYS if key in record]
    if len(present) > 1:
        where.fail(f"has more than one body field: {', '.join(present)}")
    if "stream" in record and present:
        where.fail(f"has both a stream and a {present[0]}")
    if "body_text" in record:
        _check(where / "body_text", record["body_text"], str, "a string")
    if "body_b64" in record:
        _base64(where / "body_b64", record["body_b64"])
