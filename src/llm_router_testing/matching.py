"""Request matching for cassette replay, and the miss error that explains a failed match.

A request matches a recorded one when every criterion in `match_on` agrees: built-in names
(``method``, ``scheme``, ``host``, ``path``, ``query``, ``body``) or callables taking
``(recorded, incoming)`` request records. Bodies compare as parsed JSON (key order and
whitespace ignored, `ignore_body_keys` dropped) or, when not JSON, as bytes.

A replayed WebSocket session's client messages must be the recorded ones, in order, compared
the same way (`ignore_message_keys` dropped, and always `event_id`, which clients set afresh
each run); `message_difference` says how one differs.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import orjson

from llm_router_testing.cassette_format import CassetteError, RequestRecord, body_bytes

__all__ = [
    "ALWAYS_IGNORED_MESSAGE_KEYS",
    "DEFAULT_MATCH_ON",
    "CassetteMismatchError",
    "CassetteMissError",
    "MatchFunction",
    "RequestMatcher",
    "describe_request",
]

MatchFunction = Callable[[RequestRecord, RequestRecord], bool]
DEFAULT_MATCH_ON: tuple[str, ...] = ("method", "path", "body")
#: Keys of client WebSocket messages never compared: ids a client draws afresh each run.
ALWAYS_IGNORED_MESSAGE_KEYS: tuple[str, ...] = ("event_id",)

_DIFF_LINES = 30
_DIFF_LINE_WIDTH = 200
_SIMILARITY_CHARS = 10_000


class CassetteMissError(CassetteError):
    """A request has no recorded interaction and the record mode forbids recording it.

    The message names the request, the closest recorded request and how they differ.
    `request` is the (redacted) request record.
    """

    def __init__(self, message: str, *, request: RequestRecord) -> None:
        super().__init__(message)
        self.message = message
        self.request = request


class CassetteMismatchError(CassetteError):
    """A replayed WebSocket session's client sent a message other than the recorded one.

    `index` is the client message's place among the client's messages (0 for the first),
    `frame` its place among all the recorded frames (None when the recording has no more
    client messages), `url` the session's (redacted) URL and `diff` how the message differs
    (redacted: credentials never show). The message was not sent on.
    """

    def __init__(self, message: str, *, url: str, index: int, frame: int | None, diff: str):
        super().__init__(message)
        self.message = message
        self.url = url
        self.index = index
        self.frame = frame
        self.diff = diff


def _method(request: RequestRecord) -> str:
    return request["method"].upper()


def _scheme(request: RequestRecord) -> str:
    return urlsplit(request["url"]).scheme.lower()


def _host(request: RequestRecord) -> str:
    parts = urlsplit(request["url"])
    default_port = {"http": 80, "https": 443}.get(parts.scheme.lower())
    port = parts.port if parts.port is not None else default_port
    return f"{(parts.hostname or '').lower()}:{port}"


def _path(request: RequestRecord) -> str:
    return urlsplit(request["url"]).path or "/"


def _query(request: RequestRecord) -> list[tuple[str, str]]:
    return sorted(parse_qsl(urlsplit(request["url"]).query, keep_blank_values=True))


_FIELDS: dict[str, Callable[[RequestRecord], object]] = {
    "method": _method,
    "scheme": _scheme,
    "host": _host,
    "path": _path,
    "query": _query,
}


@dataclass(frozen=True)
class RequestMatcher:
    """Decides whether an incoming request matches a recorded one, and explains why not."""

    match_on: tuple[str | MatchFunction, ...] = DEFAULT_MATCH_ON
    ignore_body_keys: tuple[str, ...] = ()
    ignore_message_keys: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for criterion in self.match_on:
            if isinstance(criterion, str) and criterion not in (*_FIELDS, "body"):
                known = ", ".join((*_FIELDS, "body"))
                raise ValueError(f"unknown match criterion {criterion!r}; expected one of {known}")

    @classmethod
    def build(
        cls,
        match_on: Iterable[str | MatchFunction] = DEFAULT_MATCH_ON,
        ignore_body_keys: Iterable[str] = (),
        ignore_message_keys: Iterable[str] = (),
    ) -> RequestMatcher:
        return cls(tuple(match_on), tuple(ignore_body_keys), tuple(ignore_message_keys))

    def matches(self, recorded: RequestRecord, incoming: RequestRecord) -> bool:
        return not self.differences(recorded, incoming, stop_at_first=True)

    def differences(
        self, recorded: RequestRecord, incoming: RequestRecord, *, stop_at_first: bool = False
    ) -> list[str]:
        """Human-readable reasons the two requests do not match (empty when they match)."""
        reasons: list[str] = []
        for criterion in self.match_on:
            reason = self._difference(criterion, recorded, incoming)
            if reason is not None:
                reasons.append(reason)
                if stop_at_first:
                    break
        return reasons

    def _difference(
        self, criterion: str | MatchFunction, recorded: RequestRecord, incoming: RequestRecord
    ) -> str | None:
        if callable(criterion):
            if criterion(recorded, incoming):
                return None
            name = getattr(criterion, "__name__", repr(criterion))
            return f"matcher {name} rejected it"
        if criterion == "body":
            return self._body_difference(recorded, incoming)
        field = _FIELDS[criterion]
        recorded_value, incoming_value = field(recorded), field(incoming)
        if recorded_value == incoming_value:
            return None
        return f"{criterion}: recorded {recorded_value!r}, got {incoming_value!r}"

    def normalised_body(self, request: RequestRecord) -> tuple[str, Any]:
        """("json", value without ignored keys) when the body is JSON, else ("raw", bytes)."""
        if "body" in request:
            value = request["body"]
        else:
            raw = body_bytes(request)
            try:
                value = orjson.loads(raw) if raw else None
            except orjson.JSONDecodeError:
                return ("raw", raw)
        for dotted in self.ignore_body_keys:
            value = _without_key(value, dotted.split("."))
        return ("json", value)

    def _body_difference(self, recorded: RequestRecord, incoming: RequestRecord) -> str | None:
        recorded_body = self.normalised_body(recorded)
        incoming_body = self.normalised_body(incoming)
        if recorded_body == incoming_body:
            return None
        return "body differs:\n" + _diff(
            recorded_body, incoming_body, "recorded body", "request body"
        )

    def normalised_message(self, message: str | bytes) -> tuple[str, Any]:
        """("json", value without ignored keys) for a JSON message, else ("raw", bytes)."""
        raw = message.encode("utf-8") if isinstance(message, str) else message
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return ("raw", raw)
        for dotted in (*ALWAYS_IGNORED_MESSAGE_KEYS, *self.ignore_message_keys):
            value = _without_key(value, dotted.split("."))
        return ("json", value)

    def message_difference(self, recorded: str | bytes, incoming: str | bytes) -> str | None:
        """How a client WebSocket message differs from the recorded one (None: it does not);
        text and binary frames holding the same JSON are the same message."""
        recorded_message = self.normalised_message(recorded)
        incoming_message = self.normalised_message(incoming)
        if recorded_message == incoming_message:
            return None
        return _diff(recorded_message, incoming_message, "recorded message", "client message")

    def similarity(self, recorded: RequestRecord, incoming: RequestRecord) -> tuple[int, float]:
        """Rank for "closest recorded request": method+path first, then body likeness."""
        same_route = int(_method(recorded) == _method(incoming)) * 2 + int(
            _path(recorded) == _path(incoming)
        )
        recorded_text = _body_text(self.normalised_body(recorded))[:_SIMILARITY_CHARS]
        incoming_text = _body_text(self.normalised_body(incoming))[:_SIMILARITY_CHARS]
        ratio = difflib.SequenceMatcher(None, recorded_text, incoming_text).ratio()
        return (same_route, ratio)

    def closest(self, candidates: Sequence[RequestRecord], incoming: RequestRecord) -> int | None:
        """Index of the most similar recorded request, or None when there are none."""
        if not candidates:
            return None
        scores = [self.similarity(candidate, incoming) for candidate in candidates]
        return max(range(len(candidates)), key=lambda index: scores[index])


def describe_request(request: RequestRecord) -> str:
    return f"{request['method'].upper()} {request['url']}"


def _without_key(value: Any, path: list[str]) -> Any:
    if not isinstance(value, dict) or not path:
        return value
    head, rest = path[0], path[1:]
    if head not in value:
        return value
    copy = dict(value)
    if rest:
        copy[head] = _without_key(copy[head], rest)
    else:
        del copy[head]
    return copy


def _diff(recorded: tuple[str, Any], incoming: tuple[str, Any], old: str, new: str) -> str:
    diff = difflib.unified_diff(
        _body_lines(recorded), _body_lines(incoming), fromfile=old, tofile=new, lineterm="", n=1
    )
    lines = [line[:_DIFF_LINE_WIDTH] for line in diff]
    if len(lines) > _DIFF_LINES:
        lines = [*lines[:_DIFF_LINES], f"... ({len(lines) - _DIFF_LINES} more diff lines)"]
    return "\n".join("    " + line for line in lines)


def _body_text(body: tuple[str, Any]) -> str:
    kind, value = body
    if kind == "json":
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2).decode()
    return bytes(value).decode("utf-8", errors="replace")


def _body_lines(body: tuple[str, Any]) -> list[str]:
    return _body_text(body).splitlines()
