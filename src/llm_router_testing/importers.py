"""Importing other tools' recordings: vcrpy / pytest-recording YAML cassettes of LLM calls.

``import_vcr_cassette("tests/cassettes/test_chat.yaml", "fixtures/test_chat.json")`` (or
``llm-router-fake import-vcr SRC DEST``) reads a vcrpy cassette (version 1: request method,
uri, headers, body; response status, headers, body ``string`` — plain or ``!!binary``) and
writes it in this package's cassette format, redacted like every recording. A response whose
content type is a stream (SSE, Bedrock event-stream) becomes a stream whose events are its SSE
events (vcrpy keeps no timing, so they replay without pauses).

PyYAML is needed (``pip install 'llm-router[vcr]'``); it is imported only here.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .cassette_format import (
    CassetteError,
    Interaction,
    RequestRecord,
    ResponseRecord,
    StreamRecord,
    body_fields,
    now_iso,
    set_body,
    stream_event,
    write_cassette,
)
from .recorder import STREAM_CONTENT_TYPES
from .redact import Redaction

__all__ = ["VcrImportError", "import_vcr_cassette", "read_vcr_cassette"]


class VcrImportError(CassetteError):
    """A vcrpy cassette cannot be read or converted; the message names the file and entry."""


def read_vcr_cassette(path: str | Path, *, redaction: Redaction | None = None) -> list[Interaction]:
    """The interactions of a vcrpy YAML cassette, converted and redacted."""
    try:
        import yaml
    except ImportError:  # pragma: no cover - depends on the environment
        raise VcrImportError(
            "importing vcrpy cassettes needs PyYAML: pip install 'llm-router[vcr]'"
        ) from None
    source = Path(path)
    try:
        data = yaml.safe_load(source.read_text(encoding="utf-8"))
    except OSError as error:
        raise VcrImportError(f"cannot read {source}: {error}") from None
    except yaml.YAMLError as error:
        raise VcrImportError(f"{source} is not YAML: {error}") from None
    if not isinstance(data, Mapping) or not isinstance(data.get("interactions"), list):
        raise VcrImportError(f"{source}: not a vcrpy cassette (no `interactions` list)")
    redact = redaction or Redaction()
    out: list[Interaction] = []
    for index, raw in enumerate(data["interactions"]):
        where = f"{source}: interactions[{index}]"
        if not isinstance(raw, Mapping):
            raise VcrImportError(f"{where} is not a mapping")
        out.append(redact.apply(_interaction(raw, where)))
    return out


def import_vcr_cassette(
    source: str | Path, destination: str | Path, *, redaction: Redaction | None = None
) -> int:
    """Convert `source` (vcrpy YAML) into the cassette `destination`; returns the count."""
    interactions = read_vcr_cassette(source, redaction=redaction)
    write_cassette(Path(destination), interactions)
    return len(interactions)


def _interaction(raw: Mapping[str, Any], where: str) -> Interaction:
    request, response = raw.get("request"), raw.get("response")
    if not isinstance(request, Mapping) or not isinstance(response, Mapping):
        raise VcrImportError(f"{where} needs a request and a response")
    method, uri = request.get("method"), request.get("uri")
    if not isinstance(method, str) or not isinstance(uri, str):
        raise VcrImportError(f"{where}.request needs a method and a uri")
    request_headers = _headers(request.get("headers"), f"{where}.request.headers")
    request_body = _bytes(request.get("body"), f"{where}.request.body")
    record: RequestRecord = {
        "method": method.upper(),
        "url": uri,
        "headers": request_headers,
        **body_fields(request_body, request_headers.get("content-type")),  # type: ignore[typeddict-item]
    }
    status = response.get("status")
    code = status.get("code") if isinstance(status, Mapping) else status
    if isinstance(code, bool) or not isinstance(code, int):
        raise VcrImportError(f"{where}.response.status.code must be an integer")
    headers = _headers(response.get("headers"), f"{where}.response.headers")
    body = response.get("body")
    content = _bytes(
        body.get("string") if isinstance(body, Mapping) else body, f"{where}.response.body"
    )
    content_type = headers.get("content-type")
    answer: ResponseRecord = {"status": code, "headers": headers, "elapsed": 0.0}
    media_type = (content_type or "").split(";")[0].strip().lower()
    kind = STREAM_CONTENT_TYPES.get(media_type)
    if kind is None:
        set_body(answer, content, content_type)
    else:
        chunks = _sse_events(content) if kind == "sse" else [content]
        stream: StreamRecord = {
            "kind": kind,
            "events": [stream_event(0.0, chunk, kind == "sse") for chunk in chunks],
        }
        answer["stream"] = stream
    return {"request": record, "response": answer, "recorded_at": now_iso()}


def _headers(value: object, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise VcrImportError(f"{where} must be a mapping")
    headers: dict[str, str] = {}
    for name, values in value.items():
        listed = values if isinstance(values, list) else [values]
        headers[str(name).lower()] = ", ".join(str(v) for v in listed)
    return headers


def _bytes(value: object, where: str) -> bytes:
    if value is None:
        return b""
    if isinstance(value, bytes):  # YAML !!binary
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, Mapping) and isinstance(value.get("base64_string"), str):
        return base64.b64decode(value["base64_string"])
    raise VcrImportError(f"{where} must be a string or !!binary")


def _sse_events(content: bytes) -> list[bytes]:
    """The SSE events of a body, each with its blank-line terminator (joined: the body)."""
    normalised = content.replace(b"\r\n", b"\n")
    events = [part + b"\n\n" for part in normalised.split(b"\n\n") if part.strip()]
    return events or [content]
