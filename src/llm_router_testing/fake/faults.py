"""Fault specifications for the fake server: parsing `x-fake-*` headers, durations, latency mixtures.

Every fault has one name used three ways: as a header (`x-fake-drop-after-events: 3`), as a
scenario key (`"drop_after_events": 3`, dashes also accepted) and as a `Fault` field.

| header / key            | effect                                                               |
|-------------------------|----------------------------------------------------------------------|
| status                  | answer with this HTTP status and the provider's error body           |
| retry-after             | send `retry-after: <value>` with the error (seconds or HTTP date)     |
| retry-after-ms          | send `retry-after-ms` (and Azure's `x-ms-retry-after-ms`)            |
| should-retry            | send `x-should-retry: true|false`                                    |
| latency                 | delay before the response starts, a mixture drawn per attempt        |
| ttfb                    | further delay between the response headers and the first body byte  |
| inter-event-delay       | delay between stream events (`tokens-per-second: N` sets 1/N s)      |
| drop-after-events       | send N stream events (or no body, when N = 0) then cut the connection |
| end-after-events        | send N stream events then end the body cleanly, closing events left out |
| malformed-event         | the event after the first N is replaced by one with broken JSON      |
| bad-crc                 | (Bedrock) the frame after the first N has a wrong message CRC        |
| stream-error            | after N events, send the provider's in-stream error and end          |
| stall-after-events      | after N stream events, send nothing for `stall-for` (an idle upstream) |
| stall-for               | how long a stall lasts (default 60s)                                 |
| fail-times              | only the first N attempts fail (status defaults to 500); then succeed |
| answer                  | the answer text, instead of "You said: ..."                          |
| response-headers        | extra response headers: a JSON object of name: value (scenario: an object) |
| close-code              | (WebSocket) close the session with this code after `drop-after-events` server frames (default 1) |
| go-away                 | (Gemini Live) send `goAway` after N server frames                    |

Values are checked when a request arrives: a bad one is a 400 naming the header (or the scenario
key), never a broken answer. `status` must be 200-599 (1xx, 204 and 304 cannot carry an error
body), counts are non-negative integers, `retry-after` is printable ASCII.

Durations are `250us`, `50ms`, `1.5s` or `2m`; a bare number means seconds. A latency mixture
is `50ms:0.97,3s:0.03`: comma-separated components `duration[:weight]` or `low-high[:weight]`
(uniform between the two); a missing weight counts as 1 and weights are normalised.
"""

from __future__ import annotations

import dataclasses
import math
import random
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

__all__ = [
    "Fault",
    "FaultSpecError",
    "LatencyMixture",
    "parse_duration",
]

HEADER_PREFIX = "x-fake-"
_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(us|µs|ms|s|m)?\s*$")
_UNITS = {None: 1.0, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}


class FaultSpecError(ValueError):
    """A fault header or scenario value could not be parsed; the message names it."""


def parse_duration(text: str) -> float:
    """Seconds in `text` (`50ms`, `1.5s`, `2m`, `250us`, or bare seconds)."""
    found = _DURATION.match(text)
    if found is None:
        raise FaultSpecError(f"not a duration: {text!r} (use e.g. 50ms, 1.5s, 2m)")
    return float(found.group(1)) * _UNITS[found.group(2)]


@dataclass(frozen=True, slots=True)
class LatencyMixture:
    """A mixture of fixed or uniform delays; `components` are (low, high, probability)."""

    components: tuple[tuple[float, float, float], ...]

    @classmethod
    def parse(cls, spec: str) -> LatencyMixture:
        parts = [part.strip() for part in spec.split(",") if part.strip()]
        if not parts:
            raise FaultSpecError("empty latency specification")
        raw: list[tuple[float, float, float]] = []
        for part in parts:
            duration, _, weight_text = part.partition(":")
            low_text, dash, high_text = duration.partition("-")
            low = parse_duration(low_text)
            high = parse_duration(high_text) if dash else low
            try:
                weight = float(weight_text) if weight_text else 1.0
            except ValueError:
                raise FaultSpecError(f"not a weight: {weight_text!r} in {spec!r}") from None
            if weight < 0 or high < low:
                raise FaultSpecError(f"bad latency component {part!r}")
            raw.append((low, high, weight))
        total = sum(weight for _, _, weight in raw)
        if total <= 0:
            raise FaultSpecError(f"latency weights of {spec!r} sum to zero")
        return cls(tuple((low, high, weight / total) for low, high, weight in raw))

    def draw(self, rng: random.Random) -> float:
        """One delay in seconds, drawn with `rng` (seed it for reproducible runs)."""
        point = rng.random()
        for low, high, probability in self.components:
            point -= probability
            if point < 0:
                return low if low == high else rng.uniform(low, high)
        low, high, _ = self.components[-1]
        return low if low == high else rng.uniform(low, high)

    @property
    def mean(self) -> float:
        return sum((low + high) / 2 * p for low, high, p in self.components)


DEFAULT_STALL = 60.0  # seconds a `stall_after_events` stall lasts unless `stall_for` says

_FAILING = (
    "status",
    "drop_after_events",
    "end_after_events",
    "malformed_event",
    "bad_crc",
    "stream_error",
    "close_code",
)


@dataclass(frozen=True, slots=True)
class Fault:
    """What to do to one response; None means "not set" so layers can be merged."""

    status: int | None = None
    retry_after: str | None = None
    retry_after_ms: int | None = None
    should_retry: bool | None = None
    latency: LatencyMixture | None = None
    ttfb: float | None = None
    inter_event_delay: float | None = None
    drop_after_events: int | None = None
    end_after_events: int | None = None
    malformed_event: int | None = None
    bad_crc: int | None = None
    stream_error: int | None = None
    fail_times: int | None = None
    answer: str | None = None
    close_code: int | None = None
    go_away: int | None = None
    response_headers: tuple[tuple[str, str], ...] | None = None
    stall_after_events: int | None = None
    stall_for: float | None = None

    @property
    def stall_seconds(self) -> float:
        return DEFAULT_STALL if self.stall_for is None else self.stall_for

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> Fault:
        """Build from scenario keys or header names (`x-fake-` prefix optional)."""
        fields: dict[str, Any] = {}
        for key, value in values.items():
            name = key.lower().removeprefix(HEADER_PREFIX).replace("-", "_")
            if name == "request_id":
                continue
            if name == "response_headers":
                fields[name] = _response_headers(key, value)
                continue
            parser = _PARSERS.get(name)
            if parser is None:
                raise FaultSpecError(f"unknown fault {key!r}")
            text = str(value) if not isinstance(value, bool) else str(value).lower()
            try:
                target, parsed = parser(text)
            except FaultSpecError as error:
                raise FaultSpecError(f"{key}: {error}") from None
            fields[target] = parsed
        return cls(**fields)

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> Fault | None:
        """The fault asked for by a request's `x-fake-*` headers, or None when there is none."""
        chosen = {k: v for k, v in headers.items() if k.startswith(HEADER_PREFIX)}
        if not chosen:
            return None
        if "x-fake-answer" in chosen:  # header values arrive as latin-1; answers may be UTF-8
            chosen["x-fake-answer"] = (
                chosen["x-fake-answer"].encode("latin-1").decode("utf-8", "replace")
            )
        return cls.from_mapping(chosen)

    def over(self, base: Fault | None) -> Fault:
        """This fault with unset fields taken from `base`."""
        if base is None:
            return self
        changes = {
            field.name: getattr(base, field.name)
            for field in dataclasses.fields(self)
            if getattr(self, field.name) is None and getattr(base, field.name) is not None
        }
        return dataclasses.replace(self, **changes) if changes else self

    @property
    def is_failing(self) -> bool:
        """Whether this fault makes the attempt fail (not only slow it down)."""
        if self.status is not None and not 200 <= self.status < 300:
            return True
        return any(getattr(self, name) is not None for name in _FAILING[1:])

    def succeeding(self) -> Fault:
        """This fault without its failures: what attempts after `fail_times` get."""
        return dataclasses.replace(self, **dict.fromkeys(_FAILING), fail_times=None)

    def failing(self) -> Fault:
        """This fault as a failed attempt: status 500 unless another failure is set."""
        if self.is_failing:
            return self
        return dataclasses.replace(self, status=500)


def _int(name: str) -> Any:
    def parse(text: str) -> tuple[str, int]:
        try:
            value = int(text)
        except ValueError:
            raise FaultSpecError(f"expected an integer, got {text!r}") from None
        if value < 0:
            raise FaultSpecError(f"must not be negative, got {value}")
        if value > _MAX_COUNT:
            raise FaultSpecError(f"must be at most {_MAX_COUNT}, got {value}")
        return name, value

    return parse


_MAX_COUNT = 10**9
# 1xx answers are protocol switches, not answers: the server cannot send one as a final status.
# 204 and 304 carry no body, so the provider's error body could not go with them.
_BODILESS = (204, 304)


def _status(text: str) -> tuple[str, int]:
    _, value = _int("status")(text)
    if not 200 <= value <= 599 or value in _BODILESS:
        raise FaultSpecError(
            f"expected an HTTP status from 200 to 599 (not 204 or 304), got {value}"
        )
    return "status", value


_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$")


def _response_headers(key: str, value: Any) -> tuple[tuple[str, str], ...]:
    """Extra response headers: an object of name: value (as JSON text in a header)."""
    if isinstance(value, str):
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            value = None
    if not isinstance(value, Mapping):
        raise FaultSpecError(f'{key}: expected an object of name: value, e.g. {{"x-a": "1"}}')
    pairs = []
    for name, text in value.items():
        if not isinstance(name, str) or not _TOKEN.match(name):
            raise FaultSpecError(f"{key}: {name!r} is not a header name")
        _, checked = _header_value(name)(str(text))
        pairs.append((name.lower(), checked))
    return tuple(pairs)


def _bool(text: str) -> tuple[str, bool]:
    if text.lower() not in ("true", "false", "1", "0"):
        raise FaultSpecError(f"expected true or false, got {text!r}")
    return "should_retry", text.lower() in ("true", "1")


def _header_value(name: str) -> Any:
    # Sent back as a response header: only visible ASCII and spaces survive HTTP framing.
    def parse(text: str) -> tuple[str, str]:
        value = text.strip()
        if not value or len(value) > 200 or not all(" " <= char <= "~" for char in value):
            raise FaultSpecError(f"expected up to 200 printable ASCII characters, got {text!r}")
        return name, value

    return parse


def _duration(name: str) -> Any:
    return lambda text: (name, parse_duration(text))


def _tokens_per_second(text: str) -> tuple[str, float]:
    try:
        rate = float(text)
    except ValueError:
        raise FaultSpecError(f"expected a number, got {text!r}") from None
    if not 0 < rate < math.inf:
        raise FaultSpecError(f"must be a positive finite number, got {text!r}")
    return "inter_event_delay", 1.0 / rate


def _bad_crc(text: str) -> tuple[str, int]:
    # A bare flag (`x-fake-bad-crc: true`) corrupts the very first frame.
    return ("bad_crc", 0) if text.lower() in ("", "true") else _int("bad_crc")(text)


_PARSERS: dict[str, Any] = {
    "status": _status,
    "retry_after": _header_value("retry_after"),
    "retry_after_ms": _int("retry_after_ms"),
    "should_retry": _bool,
    "latency": lambda text: ("latency", LatencyMixture.parse(text)),
    "ttfb": _duration("ttfb"),
    "inter_event_delay": _duration("inter_event_delay"),
    "tokens_per_second": _tokens_per_second,
    "drop_after_events": _int("drop_after_events"),
    "end_after_events": _int("end_after_events"),
    "malformed_event": _int("malformed_event"),
    "bad_crc": _bad_crc,
    "stream_error": _int("stream_error"),
    "fail_times": _int("fail_times"),
    "stall_after_events": _int("stall_after_events"),
    "stall_for": _duration("stall_for"),
    "answer": lambda text: ("answer", text),
    "close_code": lambda text: _close_code(text),
    "go_away": _int("go_away"),
}


def _close_code(text: str) -> tuple[str, int]:
    # 1005, 1006 and 1015 are reserved: a peer never sends them in a close frame.
    _, value = _int("close_code")(text)
    if not (1000 <= value <= 4999) or value in (1004, 1005, 1006, 1015):
        raise FaultSpecError(f"expected a WebSocket close code (1000-4999, sendable), got {value}")
    return "close_code", value
