"""Recorded HTTP fixtures ("cassettes"): record real provider traffic once, replay it in tests.

`Cassette.open(path, mode=...)` loads (or prepares) a cassette file and hands out httpx
transports: `.async_transport()` for `httpx.AsyncClient`, `.transport()` for `httpx.Client`.
Record modes follow vcrpy: ``none`` replays only (an unknown request raises
`CassetteMissError` naming the closest recorded request), ``once`` records when the file does
not exist yet, ``new`` replays known requests and records new ones, ``all`` records everything
and overwrites the file. Secrets are redacted before anything is stored (see `redact`).
The file format is described in `llm_router_testing.cassette_format` and docs/cassettes.md.
"""

from __future__ import annotations

import enum
import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Self

import httpx

from llm_router_testing.cassette_format import (
    CassetteError,
    CassetteFormatError,
    Interaction,
    RequestRecord,
    cassette_lock,
    dump_cassette,
    headers_record,
    is_websocket_url,
    parse_cassette,
    remove_leftovers,
    replace_file,
    request_record,
)
from llm_router_testing.matching import (
    DEFAULT_MATCH_ON,
    CassetteMismatchError,
    CassetteMissError,
    MatchFunction,
    RequestMatcher,
    describe_request,
)
from llm_router_testing.recorder import (
    RecordingTransport,
    SyncRecordingTransport,
    WebSocketCapture,
)
from llm_router_testing.redact import REDACTED, Redaction, RedactRule, scrub_secrets
from llm_router_testing.replayer import ReplayTransport, SyncReplayTransport

if TYPE_CHECKING:
    from llm_router.realtime.session import Connector
    from llm_router_testing.ws_connector import CassetteConnector

__all__ = [
    "REDACTED",
    "Cassette",
    "CassetteError",
    "CassetteFormatError",
    "CassetteMismatchError",
    "CassetteMissError",
    "Interaction",
    "RecordMode",
    "RecordingSlot",
    "RecordingTransport",
    "Redaction",
    "ReplayTransport",
    "RequestMatcher",
    "SyncRecordingTransport",
    "SyncReplayTransport",
    "WebSocketCapture",
]


class RecordMode(enum.StrEnum):
    """When a cassette may record new interactions (vcrpy's record modes)."""

    NONE = "none"  # replay only; an unknown request is an error
    ONCE = "once"  # record if the cassette file does not exist, else replay only
    NEW = "new"  # replay known requests, record new ones
    ALL = "all"  # record everything, overwrite the file

    @classmethod
    def parse(cls, value: RecordMode | str) -> RecordMode:
        if isinstance(value, RecordMode):
            return value
        try:
            return cls(value.lower())
        except ValueError:
            known = ", ".join(mode.value for mode in cls)
            raise ValueError(f"unknown record mode {value!r}; expected one of: {known}") from None


class RecordingSlot:
    """A place reserved in the cassette when a request is sent, filled once its exchange ends.

    Reserving at send time keeps interactions in request order even when concurrent responses
    finish in another order; a slot never filled (the request was cancelled) is dropped.
    """

    __slots__ = ("interaction",)

    def __init__(self) -> None:
        self.interaction: Interaction | None = None


@dataclass
class _Recorded:
    interaction: Interaction
    plays: int = 0


class Cassette:
    """One cassette file: its interactions, record mode, matching and redaction settings.

    Safe to share between concurrent tasks and threads. Assertions for tests:
    `interactions`, `play_count`, `all_played`, `misses`.
    """

    def __init__(
        self,
        path: Path | None,
        mode: RecordMode,
        interactions: Iterable[Interaction] = (),
        *,
        file_existed: bool = False,
        matcher: RequestMatcher | None = None,
        redaction: Redaction | None = None,
        allow_playback_repeats: bool = True,
        realtime: bool = False,
    ) -> None:
        self.path = path
        self.mode = mode
        self.matcher = matcher or RequestMatcher()
        self.redaction = redaction or Redaction()
        self.allow_playback_repeats = allow_playback_repeats
        self.realtime = realtime
        self.misses: list[CassetteMissError] = []
        self._file_existed = file_existed
        self._effective_mode = mode
        if mode is RecordMode.ONCE:
            self._effective_mode = RecordMode.NONE if file_existed else RecordMode.ALL
        self._loaded = [_Recorded(i) for i in interactions]
        if self._effective_mode is RecordMode.ALL:
            self._loaded = []
        self._slots: list[RecordingSlot] = []
        # What a save writes before this session's recordings, and the file as last seen.
        self._base: list[Interaction] = [r.interaction for r in self._loaded]
        self._on_disk: bytes | None = None
        self._play_count = 0
        self._secrets: set[str] = set()
        self._lock = threading.Lock()

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        mode: RecordMode | str = RecordMode.NONE,
        *,
        match_on: Iterable[str | MatchFunction] = DEFAULT_MATCH_ON,
        ignore_body_keys: Iterable[str] = (),
        ignore_message_keys: Iterable[str] = (),
        allow_playback_repeats: bool = True,
        realtime: bool = False,
        redact: Iterable[RedactRule] | Redaction = (),
    ) -> Cassette:
        """Open a cassette file (it need not exist yet: a missing file is an empty cassette).

        `match_on`: criteria a request must share with a recorded one (see `RequestMatcher`).
        `ignore_body_keys`: JSON body keys (dotted paths) left out of body matching.
        `ignore_message_keys`: keys (dotted paths) of replayed WebSocket sessions' client
        messages left out of their check (`event_id` always is): any other difference from
        the recorded message raises `CassetteMismatchError`.
        `allow_playback_repeats`: once every match was played, replay the last one again.
        `realtime`: replay streams with their recorded timing (async transports, Trio clock).
        `redact`: extra rules on top of the built-in credential redaction.
        """
        record_mode = RecordMode.parse(mode)
        file_path = Path(path)
        remove_leftovers(file_path)  # what a save killed mid-way (SIGKILL) left beside it
        data = _read_if_exists(file_path)
        interactions: list[Interaction] = []
        if data is not None and record_mode is not RecordMode.ALL:
            interactions = parse_cassette(data, file_path)
        cassette = cls(
            file_path,
            record_mode,
            interactions,
            file_existed=data is not None,
            matcher=RequestMatcher.build(match_on, ignore_body_keys, ignore_message_keys),
            redaction=Redaction.from_rules(redact),
            allow_playback_repeats=allow_playback_repeats,
            realtime=realtime,
        )
        cassette._on_disk = data
        return cassette

    # -- assertions ------------------------------------------------------------------------

    @property
    def recording(self) -> bool:
        """Whether requests without a recording are sent upstream and recorded."""
        return self._effective_mode is not RecordMode.NONE

    @property
    def replaying(self) -> bool:
        """Whether recorded interactions are replayed (every mode but ``all``)."""
        return self._effective_mode is not RecordMode.ALL

    @property
    def interactions(self) -> list[Interaction]:
        """Replayable interactions followed by those recorded in this session."""
        return [r.interaction for r in self._loaded] + self.new_interactions

    @property
    def new_interactions(self) -> list[Interaction]:
        """Interactions recorded in this session (in request order)."""
        with self._lock:
            return [s.interaction for s in self._slots if s.interaction is not None]

    @property
    def play_count(self) -> int:
        """How many responses were replayed from the cassette."""
        return self._play_count

    @property
    def all_played(self) -> bool:
        """Whether every replayable interaction was replayed at least once."""
        return all(r.plays for r in self._loaded)

    @property
    def unplayed(self) -> list[Interaction]:
        """Replayable interactions never replayed (handy in an assertion message)."""
        return [r.interaction for r in self._loaded if not r.plays]

    # -- transports ------------------------------------------------------------------------

    def async_transport(
        self, inner: httpx.AsyncBaseTransport | None = None, *, realtime: bool | None = None
    ) -> httpx.AsyncBaseTransport:
        """A transport for `httpx.AsyncClient` that replays and/or records per the mode.

        `inner` sends what must be recorded (default: a new `httpx.AsyncHTTPTransport`).
        """
        replay_realtime = self.realtime if realtime is None else realtime
        if self._effective_mode is RecordMode.NONE:
            return ReplayTransport(self, realtime=replay_realtime)
        recorder = RecordingTransport(inner or httpx.AsyncHTTPTransport(), self)
        if self._effective_mode is RecordMode.ALL:
            return recorder
        return ReplayTransport(self, realtime=replay_realtime, on_miss=recorder)

    def transport(self, inner: httpx.BaseTransport | None = None) -> httpx.BaseTransport:
        """A transport for `httpx.Client` (no realtime replay: that needs a Trio clock)."""
        if self._effective_mode is RecordMode.NONE:
            return SyncReplayTransport(self)
        recorder = SyncRecordingTransport(inner or httpx.HTTPTransport(), self)
        if self._effective_mode is RecordMode.ALL:
            return recorder
        return SyncReplayTransport(self, on_miss=recorder)

    def websocket_connector(
        self, inner: Connector | None = None, *, realtime: bool | None = None
    ) -> CassetteConnector:
        """A realtime `Connector` replaying and/or recording WebSocket sessions per the mode
        (`RouterBuilder.with_websocket_connector`, or `router.realtime(..., connector=)`).

        `inner` dials what must be recorded (default: a real WebSocket connection)."""
        from llm_router_testing.ws_connector import CassetteConnector

        return CassetteConnector(self, inner, realtime=realtime)

    # -- persistence -----------------------------------------------------------------------

    def save(self) -> bool:
        """Write the cassette if this session recorded; return whether the file was written.

        Mode ``all`` rewrites the file with this session's recordings, ``new`` appends them.
        Saves take turns through `cassette_lock`, and when another writer (a parallel test
        run) saved the file since this cassette read it, its interactions are kept and ours
        appended: concurrent writers never lose recordings. The file keeps its permissions.
        Exchanges whose response is still open are not written (close responses first).
        """
        if self.path is None or not self.recording:
            return False
        new = self.new_interactions
        if not new and self._effective_mode is not RecordMode.ALL:
            return False
        with self._lock:
            secrets = set(self._secrets)
        # A secret first seen in a later exchange may have been echoed by an earlier one.
        ours = [scrub_secrets(i, secrets) for i in new]
        with cassette_lock(self.path):
            on_disk = _read_if_exists(self.path)
            if on_disk != self._on_disk and on_disk is not None:
                # Another writer saved since we read the file: keep its recordings too.
                self._base = [i for i in parse_cassette(on_disk, self.path) if i not in ours]
            base = [scrub_secrets(i, secrets) for i in self._base]
            data = dump_cassette([*base, *ours])
            replace_file(self.path, data)
            self._on_disk = data
        return True

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.save()

    # -- used by the transports ------------------------------------------------------------

    def incoming_request(self, request: httpx.Request) -> RequestRecord:
        """The redacted record of a request whose body has been read, ready for matching."""
        record = request_record(request)
        self.redaction.redact_request(record)
        return record

    def take_playback(
        self, request: RequestRecord, matcher: RequestMatcher, allow_repeats: bool
    ) -> Interaction | None:
        """The interaction to replay for `request`: the first unplayed match, else (when
        repeats are allowed) the last match again; None when nothing may be replayed."""
        with self._lock:
            websocket = is_websocket_url(request["url"])
            matches = [
                r
                for r in self._loaded
                if is_websocket_url(r.interaction["request"]["url"]) == websocket
                and matcher.matches(r.interaction["request"], request)
            ]
            chosen = next((r for r in matches if not r.plays), None)
            if chosen is None and matches and allow_repeats:
                chosen = matches[-1]
            if chosen is None:
                return None
            chosen.plays += 1
            self._play_count += 1
            return chosen.interaction

    def take_websocket(
        self, url: str, headers: Iterable[tuple[str, str]] = ()
    ) -> Interaction | None:
        """The recorded session (or refused upgrade) to replay for an upgrade to `url`: matched
        like an HTTP request (after redaction, so a recording made with one key matches
        another), the first unplayed match, else the last again when repeats are allowed."""
        record: RequestRecord = {
            "method": "GET",
            "url": url,
            "headers": headers_record(httpx.Headers(list(headers))),
        }
        self.redaction.redact_request(record)
        return self.take_playback(record, self.matcher, self.allow_playback_repeats)

    def record_websocket(
        self, url: str, headers: Iterable[tuple[str, str]] = ()
    ) -> WebSocketCapture:
        """Start recording a WebSocket session whose upgrade is being sent to `url` (``ws://``
        or ``wss://``) with `headers`; see `WebSocketCapture` for what to tell it."""
        if not is_websocket_url(url):
            raise ValueError(f"a WebSocket session needs a ws:// or wss:// URL, got {url!r}")
        record: RequestRecord = {
            "method": "GET",
            "url": url,
            "headers": headers_record(httpx.Headers(list(headers))),
        }
        return WebSocketCapture(self, self.reserve_slot(), record)

    def reserve_slot(self) -> RecordingSlot:
        with self._lock:
            slot = RecordingSlot()
            self._slots.append(slot)
            return slot

    def store(self, slot: RecordingSlot, interaction: Interaction) -> None:
        """Redact an exchange and put it in its slot: only redacted data is ever kept."""
        with self._lock:
            slot.interaction = self.redaction.apply(interaction, self._secrets)

    def miss_error(
        self, request: RequestRecord, matcher: RequestMatcher, allow_repeats: bool
    ) -> CassetteMissError:
        """Build (and remember) the error for a request nothing may be replayed for."""
        with self._lock:
            recorded = [r.interaction["request"] for r in self._loaded]
        lines = [f"no recorded interaction matches {describe_request(request)}"]
        criteria = ", ".join(
            c if isinstance(c, str) else getattr(c, "__name__", repr(c)) for c in matcher.match_on
        )
        lines.append(
            f"  cassette: {self.path} (mode {self.mode.value!r}, {len(recorded)} replayable"
            f" interactions, matching on {criteria})"
        )
        closest = matcher.closest(recorded, request)
        if closest is None:
            reason = "the cassette file does not exist" if not self._file_existed else "it is empty"
            lines.append(f"  {reason}")
        else:
            candidate = recorded[closest]
            lines.append(f"  closest recorded request: #{closest} {describe_request(candidate)}")
            differences = matcher.differences(candidate, request)
            if differences:
                lines.extend("    " + line for d in differences for line in d.splitlines())
            elif not allow_repeats:
                lines.append(
                    "    it matches, but was already replayed and allow_playback_repeats is False"
                )
        lines.append(
            "  to record it: run pytest with --llm-record-mode=new (or open the cassette with"
            " mode='new')"
        )
        error = CassetteMissError("\n".join(lines), request=request)
        with self._lock:
            self.misses.append(error)
        return error

    def __repr__(self) -> str:
        return (
            f"Cassette({str(self.path)!r}, mode={self.mode.value!r},"
            f" {len(self._loaded)} replayable, {len(self.new_interactions)} new)"
        )


def _read_if_exists(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
