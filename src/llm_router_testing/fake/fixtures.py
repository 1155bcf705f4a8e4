"""Recorded exchanges (cassettes, `docs/cassettes.md`) served instead of synthesized answers.

Files are read with the cassette loader, so whatever `Cassette` records the fake server can
serve. A request matches an interaction on method, URL path and body, JSON bodies compared
after normalisation (key order and whitespace ignored). When several interactions match, they
are served in turn and the last one repeats. A recorded stream is replayed chunk by chunk
with its recorded pacing (the gaps between the chunks' `t`). Faults still apply to fixtures.

Recorded WebSocket sessions are indexed apart, by URL path and query (credential parameters
such as Gemini's ``key`` left out) and, for sessions the client opens (a Gemini `setup`, a
first `response.create`), by that first message, normalised like a body: an upgrade matching
one replays the server's messages at their recorded gaps, waits for the client's in their
recorded places, and ends as recorded (see `llm_router_testing.replayer.websocket_steps`); a
recorded refusal refuses again.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

import orjson

from llm_router_testing.cassette_format import (
    CassetteError,
    Interaction,
    body_bytes,
    chunk_bytes,
    is_websocket_url,
    load_cassette,
)
from llm_router_testing.redact import DEFAULT_QUERY_PARAMS
from llm_router_testing.replayer import ReplayStep, websocket_steps

from .crossformat import CrossFormatIndex

__all__ = [
    "FixtureError",
    "FixtureResponse",
    "Fixtures",
    "WebSocketFixture",
    "normalise_message",
    "websocket_key",
]

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


@dataclass(frozen=True, slots=True)
class WebSocketFixture:
    """A recorded session to replay (`steps`), or a recorded refusal (`refusal`).

    `opening` is the normalised first message of a session the client opens (None when the
    server speaks first): what the session is matched on besides its URL."""

    steps: tuple[ReplayStep, ...] = ()
    subprotocol: str | None = None
    refusal: FixtureResponse | None = None
    opening: bytes | None = None


def normalise_message(message: str | bytes) -> bytes:
    """Canonical bytes of a WebSocket message (JSON sorted and compact, text or binary)."""
    return normalise_body(message.encode("utf-8") if isinstance(message, str) else message)


def websocket_key(path: str, query: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    """What a WebSocket upgrade is matched on: the decoded path and the sorted query without
    credential parameters (they are redacted in recordings and differ between keys)."""
    pairs = parse_qsl(query, keep_blank_values=True)
    kept = tuple(sorted((k, v) for k, v in pairs if k.lower() not in DEFAULT_QUERY_PARAMS))
    return unquote(path), kept


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
        self._sessions: dict[tuple[str, tuple[tuple[str, str], ...]], list[WebSocketFixture]] = {}
        self._sessions_served: dict[tuple[object, ...], int] = {}
        self.by_content = CrossFormatIndex()
        """The same recordings by what their requests say, for other formats' requests."""

    def __len__(self) -> int:
        return sum(len(r) for r in self._by_key.values()) + sum(
            len(sessions) for sessions in self._sessions.values()
        )

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
        request = interaction["request"]
        if is_websocket_url(request["url"]):
            self._add_websocket(interaction)
            return
        response = interaction.get("response")
        if response is None:
            return
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

    def _add_websocket(self, interaction: Interaction) -> None:
        url = urlsplit(interaction["request"]["url"])
        key = websocket_key(url.path, url.query)
        session = interaction.get("websocket")
        response = interaction.get("response")
        if session is not None:
            steps = tuple(websocket_steps(session))
            first = steps[0] if steps else None
            opening = None
            if first is not None and first.kind == "receive" and first.data is not None:
                opening = normalise_message(first.data)
            fixture = WebSocketFixture(
                steps, subprotocol=session.get("subprotocol"), opening=opening
            )
        elif response is not None:
            headers = tuple(
                (name.lower(), value)
                for name, value in response["headers"].items()
                if name.lower() not in _HOP_HEADERS
            )
            refusal = FixtureResponse(response["status"], headers, body_bytes(response))
            fixture = WebSocketFixture(refusal=refusal)
        else:
            return  # the upgrade failed without an answer: nothing to serve
        self._sessions.setdefault(key, []).append(fixture)

    def websocket_opened_by_client(self, path: str, query: str) -> bool:
        """Whether an upgrade to `path?query` is matched on the client's first message too:
        every recording there is of a session the client opens."""
        sessions = self._sessions.get(websocket_key(path, query))
        return bool(sessions) and all(s.opening is not None for s in sessions or ())

    def websocket_subprotocol(self, path: str, query: str) -> str | None:
        """The subprotocol the recordings at `path?query` were accepted with (None: none)."""
        sessions = self._sessions.get(websocket_key(path, query)) or []
        return next((s.subprotocol for s in sessions if s.subprotocol), None)

    def match_websocket(
        self, path: str, query: str, opening: str | bytes | None = None
    ) -> WebSocketFixture | None:
        """The recorded session for an upgrade to `path?query` (and, for a session the client
        opens, its first message `opening`): in turn, the last repeating."""
        if not self._sessions:
            return None
        key = websocket_key(path, query)
        sessions = self._sessions.get(key)
        if not sessions:
            return None
        served_key: tuple[object, ...] = key
        if opening is not None:
            wanted = normalise_message(opening)
            sessions = [s for s in sessions if s.opening == wanted]
            if not sessions:
                return None
            served_key = (*key, wanted)
        served = self._sessions_served.get(served_key, 0)
        self._sessions_served[served_key] = served + 1
        return sessions[min(served, len(sessions) - 1)]

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
        self._sessions_served.clear()
