"""Recorded exchanges (cassettes) served by the fake server instead of synthesized answers.

A cassette is a JSON file holding a list of interactions (or `{"interactions": [...]}`)::

    {"request": {"method": "POST", "url": "https://api.openai.com/v1/chat/completions",
                 "headers": {...}, "body": {...} | "<text>"},
     "response": {"status": 200, "headers": {...},
                  "body": {...} | "<text>"  |  "body_b64": "<base64>"  |
                  "events": [{"event": "message_start", "data": "{...}", "delay": 0.01},
                             {"data_b64": "<base64 of raw bytes>"}]}}

A request matches an interaction on method, URL path and body, JSON bodies compared after
normalisation (key order and whitespace ignored). When several interactions match, they are
served in turn and the last one repeats. An event with `data` is written as an SSE frame
(`event:` line when named); one with `data_b64` is written raw (e.g. Bedrock event-stream
frames); `delay` is the pause in seconds before the event. Faults still apply to fixtures.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson

from llm_router.types import StreamEvent

__all__ = ["FixtureError", "FixtureResponse", "Fixtures"]

_HOP_HEADERS = frozenset({"content-length", "transfer-encoding", "connection", "content-encoding"})


class FixtureError(ValueError):
    """A cassette file is not in the documented format; the message names file and entry."""


@dataclass(frozen=True, slots=True)
class FixtureResponse:
    """A recorded answer: a body, or timed raw frames for a stream."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes | None
    frames: tuple[tuple[float, bytes], ...] = ()


def normalise_body(body: object) -> bytes:
    """Canonical bytes of a request body: sorted compact JSON when it is JSON, else as given."""
    if isinstance(body, bytes | str):
        raw = body.encode() if isinstance(body, str) else body
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return raw
    if body is None:
        return b""
    return orjson.dumps(body, option=orjson.OPT_SORT_KEYS)


class Fixtures:
    """Interactions indexed by (method, path, normalised body)."""

    def __init__(self) -> None:
        self._by_key: dict[tuple[str, str, bytes], list[FixtureResponse]] = {}
        self._served: dict[tuple[str, str, bytes], int] = {}

    def __len__(self) -> int:
        return sum(len(responses) for responses in self._by_key.values())

    @classmethod
    def load(cls, directory: str | Path) -> Fixtures:
        """Every `*.json` cassette under `directory` (recursively)."""
        fixtures = cls()
        root = Path(directory)
        if not root.is_dir():
            raise FixtureError(f"fixtures directory not found: {root}")
        for file in sorted(root.rglob("*.json")):
            try:
                data = orjson.loads(file.read_bytes())
            except orjson.JSONDecodeError as error:
                raise FixtureError(f"{file}: not valid JSON: {error}") from None
            interactions = data.get("interactions") if isinstance(data, dict) else data
            if not isinstance(interactions, list):
                raise FixtureError(f"{file}: expected a list of interactions")
            for index, interaction in enumerate(interactions):
                try:
                    fixtures.add(interaction)
                except (KeyError, TypeError, ValueError) as error:
                    raise FixtureError(f"{file}: interaction {index}: {error}") from None
        return fixtures

    def add(self, interaction: Mapping[str, Any]) -> None:
        request, response = interaction["request"], interaction["response"]
        key = (
            str(request.get("method", "POST")).upper(),
            urlsplit(str(request["url"])).path,
            normalise_body(request.get("body")),
        )
        self._by_key.setdefault(key, []).append(_response(response))

    def match(self, method: str, path: str, body: bytes) -> FixtureResponse | None:
        if not self._by_key:
            return None
        key = (method, path, normalise_body(body))
        responses = self._by_key.get(key)
        if not responses:
            return None
        served = self._served.get(key, 0)
        self._served[key] = served + 1
        return responses[min(served, len(responses) - 1)]

    def rewind(self) -> None:
        self._served.clear()


def _response(response: Mapping[str, Any]) -> FixtureResponse:
    headers = tuple(
        (str(name).lower(), str(value))
        for name, value in (response.get("headers") or {}).items()
        if str(name).lower() not in _HOP_HEADERS
    )
    status = int(response.get("status", 200))
    events: Sequence[Mapping[str, Any]] | None = response.get("events")
    if events is not None:
        frames = tuple((float(event.get("delay") or 0), _frame(event)) for event in events)
        return FixtureResponse(status, headers, None, frames)
    if "body_b64" in response:
        return FixtureResponse(status, headers, base64.b64decode(response["body_b64"]))
    body = response.get("body")
    raw = body.encode() if isinstance(body, str) else b"" if body is None else orjson.dumps(body)
    return FixtureResponse(status, headers, raw)


def _frame(event: Mapping[str, Any]) -> bytes:
    if "data_b64" in event:
        return base64.b64decode(event["data_b64"])
    data = event["data"]
    raw = data.encode() if isinstance(data, str) else orjson.dumps(data)
    return StreamEvent(event.get("event"), raw).to_sse()
