"""The request journal: what the fake server received and how each answer went.

Readable from the server's Trio run, from another Trio run and from plain threads (the
threaded fake), so it is guarded by a lock and wakes waiters through their own Trio tokens.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, overload
from urllib.parse import parse_qsl, urlencode

import orjson
import trio

from llm_router_testing.redact import DEFAULT_QUERY_PARAMS

if TYPE_CHECKING:
    from .journal_query import JournalMatches

__all__ = ["Journal", "JournalEntry", "redact_headers", "redact_query"]

REDACTED = "[redacted]"
_SECRET_HEADERS = frozenset(
    {"authorization", "x-api-key", "api-key", "x-goog-api-key", "x-amz-security-token"}
)


def redact_headers(headers: dict[str, str]) -> dict[str, str]:
    """Copy of `headers` with credentials replaced; a SigV4 header keeps all but its signature."""
    redacted = dict(headers)
    for name in _SECRET_HEADERS.intersection(headers):
        value = headers[name]
        if name == "authorization" and value.startswith("AWS4-HMAC-SHA256"):
            head, _, _ = value.partition("Signature=")
            redacted[name] = f"{head}Signature={REDACTED}"
        elif name == "authorization" and " " in value:
            redacted[name] = f"{value.split(' ', 1)[0]} {REDACTED}"
        else:
            redacted[name] = REDACTED
    return redacted


def redact_query(query: str) -> str:
    """`query` with credential parameters (Gemini's `key`, SAS `sig`, presigned AWS) replaced."""
    if not query:
        return query
    pairs = parse_qsl(query, keep_blank_values=True)
    if not any(name.lower() in DEFAULT_QUERY_PARAMS for name, _ in pairs):
        return query
    return urlencode(
        [
            (name, REDACTED if name.lower() in DEFAULT_QUERY_PARAMS else value)
            for name, value in pairs
        ],
        safe="/:",
    )


# Mutable on purpose: the server fills timings and counters in while it answers, and a test
# may look at an entry before the answer is over (e.g. after a disconnect).
@dataclass(slots=True, eq=False)
class JournalEntry:
    """One request as the server saw it and answered it.

    Times are on the server's Trio clock in seconds (`wall_time` is epoch time):
    `first_byte_at` when the status line and headers went out, `first_event_at` when the first
    body bytes did. `events_sent` counts stream events written (SSE events, `[DONE]` included,
    or event-stream frames); `disconnected` is True when the client went away before the
    answer was complete. `faults` names the faults applied; `error` says why a request was
    refused (e.g. a credential failure); `rule` names the scenario rule that matched it.
    """

    id: int
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    provider: str | None = None
    format: str | None = None
    model: str | None = None
    stream: bool = False
    attempt: int = 1
    wall_time: float = field(default_factory=time.time)
    started_at: float = 0.0
    first_byte_at: float | None = None
    first_event_at: float | None = None
    ended_at: float | None = None
    status: int | None = None
    events_sent: int = 0
    disconnected: bool = False
    faults: tuple[str, ...] = ()
    error: str | None = None
    rule: str | None = None
    # WebSocket sessions (method "WEBSOCKET"): frames from the client, how the session ended.
    frames_received: int = 0
    close_code: int | None = None
    closed_by: str | None = None  # "client" or "server"

    @property
    def done(self) -> bool:
        return self.ended_at is not None

    def json(self) -> Any:
        """The request body parsed as JSON (None when it is not JSON)."""
        try:
            return orjson.loads(self.body)
        except orjson.JSONDecodeError:
            return None

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready mapping; a body too deeply nested to write back stays as text."""
        body: Any = self.body.decode("utf-8", "replace")
        parsed = self.json()
        if parsed is not None:
            try:  # orjson parses deeper nesting (1024) than it writes (254)
                orjson.dumps(parsed)
            except TypeError:
                parsed = None
        return {
            "id": self.id,
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "headers": self.headers,
            "body": parsed if parsed is not None else body,
            "provider": self.provider,
            "format": self.format,
            "model": self.model,
            "stream": self.stream,
            "attempt": self.attempt,
            "wall_time": self.wall_time,
            "started_at": self.started_at,
            "first_byte_at": self.first_byte_at,
            "first_event_at": self.first_event_at,
            "ended_at": self.ended_at,
            "status": self.status,
            "events_sent": self.events_sent,
            "disconnected": self.disconnected,
            "faults": list(self.faults),
            "error": self.error,
            "rule": self.rule,
            "frames_received": self.frames_received,
            "close_code": self.close_code,
            "closed_by": self.closed_by,
        }


Predicate = Callable[[JournalEntry], bool]


class Journal(Sequence[JournalEntry]):
    """The last `max_entries` requests, oldest first; list-like and safe to read from any thread."""

    def __init__(self, max_entries: int = 10_000) -> None:
        self._entries: deque[JournalEntry] = deque(maxlen=max_entries)
        self._condition = threading.Condition()
        self._trio_waiters: list[tuple[trio.lowlevel.TrioToken, trio.Event]] = []
        self._next_id = 1

    def __len__(self) -> int:
        return len(self._entries)

    @overload
    def __getitem__(self, index: int) -> JournalEntry: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[JournalEntry]: ...
    def __getitem__(self, index: int | slice) -> JournalEntry | Sequence[JournalEntry]:
        with self._condition:
            return list(self._entries)[index]

    def __iter__(self) -> Iterator[JournalEntry]:
        with self._condition:
            return iter(list(self._entries))

    def new_entry(self, **fields: Any) -> JournalEntry:
        """Create and record the entry of a request that just arrived."""
        with self._condition:
            entry = JournalEntry(id=self._next_id, **fields)
            self._next_id += 1
            self._entries.append(entry)
        self.notify()
        return entry

    def clear(self) -> None:
        with self._condition:
            self._entries.clear()
        self.notify()

    def notify(self) -> None:
        """Wake every waiter: an entry was added or changed."""
        with self._condition:
            waiters, self._trio_waiters = self._trio_waiters, []
            self._condition.notify_all()
        for token, event in waiters:
            try:
                token.run_sync_soon(event.set)
            except trio.RunFinishedError:
                pass

    def _find(self, predicate: Predicate) -> JournalEntry | None:
        for entry in self._entries:
            if predicate(entry):
                return entry
        return None

    async def wait_for(self, predicate: Predicate) -> JournalEntry:
        """The oldest entry satisfying `predicate`, waiting for one to appear or change.

        Works from any Trio run (the server's or a test's); bound it with `trio.fail_after`.
        """
        while True:
            event = trio.Event()
            with self._condition:
                found = self._find(predicate)
                if found is not None:
                    return found
                self._trio_waiters.append((trio.lowlevel.current_trio_token(), event))
            await event.wait()

    async def wait_for_disconnect(self) -> JournalEntry:
        """The first request whose client went away before its answer was complete."""
        return await self.wait_for(lambda entry: entry.disconnected)

    async def wait_for_count(self, count: int) -> None:
        """Wait until at least `count` requests have been answered."""
        await self.wait_for(lambda _: sum(e.done for e in self._entries) >= count)

    def wait_for_blocking(self, predicate: Predicate, *, timeout: float = 10.0) -> JournalEntry:
        """`wait_for` for plain threads; raises TimeoutError after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        with self._condition:
            while True:
                found = self._find(predicate)
                if found is not None:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"no journal entry matched within {timeout} s")
                self._condition.wait(remaining)

    def wait_for_disconnect_blocking(self, *, timeout: float = 10.0) -> JournalEntry:
        return self.wait_for_blocking(lambda entry: entry.disconnected, timeout=timeout)

    def to_json(self) -> list[dict[str, Any]]:
        with self._condition:
            return [entry.to_json() for entry in self._entries]

    def matching(self, **conditions: Any) -> JournalMatches:
        """The requests satisfying every condition (see `journal_query` for the names)."""
        from .journal_query import find_entries

        return find_entries(iter(self), conditions)

    def called(self, **conditions: Any) -> JournalMatches:
        """Whether some request satisfied every condition: ``assert journal.called(model=...)``.

        The result is true when at least one matched; its repr lists what the journal holds.
        """
        return self.matching(**conditions)
