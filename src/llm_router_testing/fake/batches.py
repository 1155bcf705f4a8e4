"""OpenAI Files and Batch endpoints, at the level the SDK needs to create, poll and fetch a batch.

- `POST /v1/files` (multipart: `file`, `purpose`), `GET /v1/files`, `GET /v1/files/{id}`,
  `GET /v1/files/{id}/content`, `DELETE /v1/files/{id}`.
- `POST /v1/batches` (`input_file_id`, `endpoint`, `completion_window`, `metadata`),
  `GET /v1/batches`, `GET /v1/batches/{id}`, `POST /v1/batches/{id}/cancel`.

A batch is created `validating`; each retrieval moves it on (`in_progress`, then
`completed`), so client polling loops are exercised. On completion every line of the input
file is answered by this fake server itself, as if sent to `endpoint` with the credentials
of the request that created the batch: scenario rules, scripted answers and faults apply, and
each line appears in the journal. Results go to an output file (and failures, by
`custom_id`, to an error file) in OpenAI's JSONL shape.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

import orjson

__all__ = ["BatchStore", "handles"]

Send = Callable[[dict[str, Any]], Awaitable[None]]
Internal = Callable[[str, str, dict[str, str], bytes], Awaitable[tuple[int, bytes]]]

_ENDPOINTS = frozenset({"/v1/chat/completions", "/v1/responses", "/v1/embeddings"})
_ids = itertools.count(1)
_PREFIX = os.urandom(3).hex()


def handles(path: str) -> bool:
    return path in ("/v1/files", "/v1/batches") or path.startswith(("/v1/files/", "/v1/batches/"))


def _new_id(kind: str) -> str:
    return f"{kind}_{_PREFIX}{next(_ids):08x}"


@dataclass(slots=True)
class _File:
    id: str
    filename: str
    purpose: str
    content: bytes
    created_at: int = field(default_factory=lambda: int(time.time()))

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "file",
            "bytes": len(self.content),
            "created_at": self.created_at,
            "filename": self.filename,
            "purpose": self.purpose,
            "status": "processed",
            "status_details": None,
        }


@dataclass(slots=True)
class _Batch:
    id: str
    input_file_id: str
    endpoint: str
    completion_window: str
    metadata: dict[str, Any] | None
    headers: dict[str, str]
    status: str = "validating"
    created_at: int = field(default_factory=lambda: int(time.time()))
    times: dict[str, int] = field(default_factory=dict)
    output_file_id: str | None = None
    error_file_id: str | None = None
    counts: dict[str, int] = field(
        default_factory=lambda: {"total": 0, "completed": 0, "failed": 0}
    )

    def to_json(self) -> dict[str, Any]:
        stamps = (
            "in_progress",
            "finalizing",
            "completed",
            "failed",
            "expired",
            "cancelling",
            "cancelled",
        )
        out: dict[str, Any] = {
            "id": self.id,
            "object": "batch",
            "endpoint": self.endpoint,
            "errors": None,
            "input_file_id": self.input_file_id,
            "completion_window": self.completion_window,
            "status": self.status,
            "output_file_id": self.output_file_id,
            "error_file_id": self.error_file_id,
            "created_at": self.created_at,
            "expires_at": self.created_at + 86_400,
            "request_counts": dict(self.counts),
            "metadata": self.metadata,
        }
        for stamp in stamps:
            out[f"{stamp}_at"] = self.times.get(stamp)
        return out


class BatchStore:
    """Files and batches of one fake server (in memory, forgotten on restart)."""

    def __init__(self) -> None:
        self.files: dict[str, _File] = {}
        self.batches: dict[str, _Batch] = {}

    async def handle(
        self,
        method: str,
        path: str,
        headers: dict[str, str],
        body: bytes,
        internal: Internal,
    ) -> tuple[int, bytes, str]:
        """(status, body, content type) for one Files/Batch request (already authenticated)."""
        parts = path.strip("/").split("/")  # v1, files|batches, id?, content|cancel?
        kind, rest = parts[1], parts[2:]
        if kind == "files":
            return self._files(method, rest, headers, body)
        return await self._batches(method, rest, headers, body, internal)

    # ------------------------------------------------------------------ files

    def _files(
        self, method: str, rest: list[str], headers: dict[str, str], body: bytes
    ) -> tuple[int, bytes, str]:
        if not rest and method == "POST":
            upload = _multipart(headers.get("content-type", ""), body)
            if "file" not in upload:
                return _error(400, "Missing required parameter: 'file'.", "file")
            filename, content = upload["file"]
            purpose = upload.get("purpose", ("", b""))[1].decode("utf-8", "replace")
            if not purpose:
                return _error(400, "Missing required parameter: 'purpose'.", "purpose")
            stored = _File(_new_id("file"), filename or "upload.jsonl", purpose, content)
            self.files[stored.id] = stored
            return _ok(stored.to_json())
        if not rest and method == "GET":
            listed = [f.to_json() for f in self.files.values()]
            return _ok({"object": "list", "data": listed, "has_more": False})
        found = self.files.get(rest[0]) if rest else None
        if found is None:
            return _error(404, f"No such File object: {rest[0] if rest else ''}", "id")
        if len(rest) == 1 and method == "GET":
            return _ok(found.to_json())
        if len(rest) == 1 and method == "DELETE":
            del self.files[found.id]
            return _ok({"id": found.id, "object": "file", "deleted": True})
        if rest[1:] == ["content"] and method == "GET":
            return 200, found.content, "application/octet-stream"
        return _error(404, f"Unknown request URL: {method} /v1/files/{'/'.join(rest)}", None)

    # ------------------------------------------------------------------ batches

    async def _batches(
        self,
        method: str,
        rest: list[str],
        headers: dict[str, str],
        body: bytes,
        internal: Internal,
    ) -> tuple[int, bytes, str]:
        if not rest and method == "POST":
            return self._create(headers, body)
        if not rest and method == "GET":
            listed = [b.to_json() for b in self.batches.values()]
            first = listed[0]["id"] if listed else None
            last = listed[-1]["id"] if listed else None
            return _ok(
                {
                    "object": "list",
                    "data": listed,
                    "first_id": first,
                    "last_id": last,
                    "has_more": False,
                }
            )
        batch = self.batches.get(rest[0]) if rest else None
        if batch is None:
            return _error(404, f"No batch found with id '{rest[0] if rest else ''}'.", "id")
        if len(rest) == 1 and method == "GET":
            await self._advance(batch, internal)
            return _ok(batch.to_json())
        if rest[1:] == ["cancel"] and method == "POST":
            if batch.status not in ("completed", "failed", "cancelled"):
                batch.status = "cancelled"
                batch.times["cancelling"] = batch.times["cancelled"] = int(time.time())
            return _ok(batch.to_json())
        return _error(404, f"Unknown request URL: {method} /v1/batches/{'/'.join(rest)}", None)

    def _create(self, headers: dict[str, str], body: bytes) -> tuple[int, bytes, str]:
        try:
            request = orjson.loads(body)
        except orjson.JSONDecodeError:
            return _error(400, "We could not parse the JSON body of your request.", None)
        if not isinstance(request, dict):
            return _error(400, "The request body must be a JSON object.", None)
        for name in ("input_file_id", "endpoint", "completion_window"):
            if not isinstance(request.get(name), str):
                return _error(400, f"Missing required parameter: '{name}'.", name)
        if request["endpoint"] not in _ENDPOINTS:
            allowed = ", ".join(sorted(_ENDPOINTS))
            return _error(400, f"Invalid endpoint; use one of {allowed}.", "endpoint")
        if request["completion_window"] != "24h":
            return _error(400, "completion_window must be '24h'.", "completion_window")
        source = self.files.get(request["input_file_id"])
        if source is None:
            return _error(404, f"No such File object: {request['input_file_id']}", "input_file_id")
        if source.purpose != "batch":
            return _error(400, "The input file must be uploaded with purpose 'batch'.", None)
        metadata = request.get("metadata")
        forwarded = {k: v for k, v in headers.items() if k in ("authorization", "api-key")}
        batch = _Batch(
            _new_id("batch"),
            source.id,
            request["endpoint"],
            "24h",
            metadata if isinstance(metadata, dict) else None,
            forwarded,
        )
        self.batches[batch.id] = batch
        return _ok(batch.to_json())

    async def _advance(self, batch: _Batch, internal: Internal) -> None:
        now = int(time.time())
        if batch.status == "validating":
            batch.status = "in_progress"
            batch.times["in_progress"] = now
        elif batch.status == "in_progress":
            await self._run(batch, internal)
            batch.times["finalizing"] = batch.times["completed"] = int(time.time())
            batch.status = "completed"

    async def _run(self, batch: _Batch, internal: Internal) -> None:
        lines = [line for line in self.files[batch.input_file_id].content.splitlines() if line]
        outputs: list[bytes] = []
        errors: list[bytes] = []
        batch.counts["total"] = len(lines)
        for number, line in enumerate(lines, 1):
            try:
                item = orjson.loads(line)
            except orjson.JSONDecodeError:
                item = None
            if not isinstance(item, dict) or not isinstance(item.get("body"), dict):
                errors.append(_error_line(None, f"line {number} is not a batch request object"))
                batch.counts["failed"] += 1
                continue
            custom_id = item.get("custom_id")
            url = item.get("url", batch.endpoint)
            if url != batch.endpoint:
                message = f"line {number}: url {url!r} differs from the batch's {batch.endpoint}"
                errors.append(_error_line(custom_id, message))
                batch.counts["failed"] += 1
                continue
            headers = {**batch.headers, "content-type": "application/json"}
            status, answer = await internal(
                "POST", batch.endpoint, headers, orjson.dumps(item["body"])
            )
            try:
                parsed: Any = orjson.loads(answer)
            except orjson.JSONDecodeError:
                parsed = answer.decode("utf-8", "replace")
            outputs.append(
                orjson.dumps(
                    {
                        "id": _new_id("batch_req"),
                        "custom_id": custom_id,
                        "response": {
                            "status_code": status,
                            "request_id": _new_id("req"),
                            "body": parsed,
                        },
                        "error": None,
                    }
                )
            )
            batch.counts["completed" if 200 <= status < 300 else "failed"] += 1
        batch.output_file_id = self._result_file(batch, "output", outputs)
        batch.error_file_id = self._result_file(batch, "error", errors)

    def _result_file(self, batch: _Batch, kind: str, lines: list[bytes]) -> str | None:
        """Store `lines` as the batch's output or error file; None when there are none."""
        if not lines:
            return None
        stored = _File(
            _new_id("file"), f"{batch.id}_{kind}.jsonl", "batch_output", b"\n".join(lines) + b"\n"
        )
        self.files[stored.id] = stored
        return stored.id


def _error_line(custom_id: object, message: str) -> bytes:
    return orjson.dumps(
        {
            "id": _new_id("batch_req"),
            "custom_id": custom_id,
            "response": None,
            "error": {"code": "invalid_request", "message": message},
        }
    )


def _multipart(content_type: str, body: bytes) -> dict[str, tuple[str, bytes]]:
    """Form fields of a multipart body: name -> (filename, content)."""
    if not content_type.lower().startswith("multipart/form-data"):
        return {}
    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
    )
    fields: dict[str, tuple[str, bytes]] = {}
    for part in message.iter_parts() if message.is_multipart() else ():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        filename = part.get_filename() or ""
        fields[name] = (filename, payload if isinstance(payload, bytes) else b"")
    return fields


def _ok(value: Any) -> tuple[int, bytes, str]:
    return 200, orjson.dumps(value), "application/json"


def _error(status: int, message: str, param: str | None) -> tuple[int, bytes, str]:
    kind = "invalid_request_error"
    body = {"error": {"message": message, "type": kind, "param": param, "code": None}}
    return status, orjson.dumps(body), "application/json"
