"""Recorded exchanges (cassettes, `docs/cassettes.md`) served instead of synthesized answers.

Files are read with the cassette loader, so whatever `Cassette` records the fake server can
serve. A request matches an interaction on method, URL path and body, JSON bodies compared
after normalisation (key order and whitespace ignored). When several interactions match, they
are served in turn and the last one repeats. A recorded stream is replayed chunk by chunk
with its recorded pacing (the gaps between the chunks' `t`). Faults still apply to fixtures.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

import orjson

from llm_router_testing.cassette_format import (
    CassetteError,
    Interaction,
    body_bytes,
    chunk_bytes,
    load_cassette,
)

from .crossformat import CrossFormatIndex

__all__ = ["FixtureError", "FixtureResponse", "Fixtures"]

_HOP_HEADERS = frozenset({"content-length", "transfer-encoding", "connection", "content-encoding"})


class FixtureError(ValueError):
    """A fixtures directory or cassette cannot be served; the message names file and entry."""


@dataclass(frozen=True, slots=True)
class FixtureResponse:
    """A recorded answer: a body, or raw chunks each with the pause before it."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes | None
    frames: tuple[tuple[float, bytes], ...] = ()


def normalise_body(raw: bytes) -> bytes:
    """Canonical bytes of a request body: sorted compact JSON when it is JSON, else as given."""
    try:
        return orjson.dumps(orjson.loads(raw), option=orjson.OPT_SORT_KEYS) if raw else b""
    except orjson.JSONDecodeError:
        return raw


class Fixtures:
    """Interactions indexed by (method, path, normalised body)."""

    def __init__(self) -> None:
        self._by_key: dict[tuple[str, str, bytes], list[FixtureResponse]] = {}
        self._served: dict[tuple[str, str, bytes], int] = {}
        self.by_content = CrossFormatIndex()
        """The same recordings by what their requests say, for other formats' requests."""

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
                interactions = load_cassette(file)
            except CassetteError as error:
                raise FixtureError(str(error)) from None
            for interaction in interactions:
                fixtures.add(interaction)
        return fixtures

    def add(self, interaction: Interaction) -> None:
        """Index one interaction; one recorded as a transport failure has nothing to serve."""
        response = interaction.get("response")
        if response is None:
            return
        request = interaction["request"]
        # Requests are matched on the decoded path (`...v1:0/converse`), so decode the recorded
        # one too (Bedrock ids are sent percent-encoded: `...v1%3A0/converse`).
        path = unquote(urlsplit(request["url"]).path)
        key = (request["method"].upper(), path, normalise_body(body_bytes(request)))
        headers = tuple(
            (name.lower(), value)
            for name, value in response["headers"].items()
            if name.lower() not in _HOP_HEADERS
        )
        stream = response.get("stream")
        if stream is None:
            answer = FixtureResponse(response["status"], headers, body_bytes(response))
        else:
            frames, previous = [], 0.0
            for event in stream["events"]:
                frames.append((max(0.0, event["t"] - previous), chunk_bytes(event)))
                previous = event["t"]
            answer = FixtureResponse(response["status"], headers, None, tuple(frames))
        self._by_key.setdefault(key, []).append(answer)
        self.by_content.add(request, answer.status, answer.body, answer.frames)

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
