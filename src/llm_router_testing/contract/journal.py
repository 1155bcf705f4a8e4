"""Reading the fake provider server's request journal over HTTP, for checks that need it.

The fake server lists every request it answered at `GET /_fake/journal`. Contract checks tag
their requests with a unique `x-fake-request-id` header and look up the matching entries, so
several runs (or other traffic) can share one fake server.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import trio

__all__ = ["FakeJournal", "JournalRecord"]

REQUEST_ID_HEADER = "x-fake-request-id"


@dataclass(frozen=True, slots=True)
class JournalRecord:
    """One upstream request as the fake server saw it (times on the server's clock, seconds)."""

    id: int
    path: str
    status: int | None
    started_at: float
    first_byte_at: float | None
    ended_at: float | None
    events_sent: int
    disconnected: bool
    body: Any = None  # the request body, parsed when it was JSON

    @classmethod
    def from_json(cls, entry: dict[str, Any]) -> JournalRecord:
        return cls(
            id=int(entry["id"]),
            path=str(entry.get("path", "")),
            status=entry.get("status"),
            started_at=float(entry.get("started_at") or 0.0),
            first_byte_at=entry.get("first_byte_at"),
            ended_at=entry.get("ended_at"),
            events_sent=int(entry.get("events_sent") or 0),
            disconnected=bool(entry.get("disconnected")),
            body=entry.get("body"),
        )

    @property
    def done(self) -> bool:
        return self.ended_at is not None


class FakeJournal:
    """The journal of the fake server at `fake_url`, filtered by request id."""

    def __init__(self, client: httpx.AsyncClient, fake_url: str) -> None:
        self._client = client
        self._url = fake_url.rstrip("/") + "/_fake/journal"

    async def entries(self, request_id: str) -> list[JournalRecord]:
        """The entries tagged with `request_id`, oldest first."""
        response = await self._client.get(self._url)
        if response.status_code != 200:
            raise RuntimeError(f"GET {self._url} answered {response.status_code}")
        listed = orjson.loads(response.content)
        return [
            JournalRecord.from_json(entry)
            for entry in listed
            if (entry.get("headers") or {}).get(REQUEST_ID_HEADER) == request_id
        ]

    async def wait_for(
        self,
        request_id: str,
        settled: Callable[[Sequence[JournalRecord]], bool],
        *,
        within: float,
        interval: float = 0.05,
    ) -> list[JournalRecord]:
        """Poll until `settled(entries)` holds or `within` seconds pass; return the last entries seen."""
        entries: list[JournalRecord] = []
        with trio.move_on_after(within):
            while True:
                entries = await self.entries(request_id)
                if settled(entries):
                    return entries
                await trio.sleep(interval)
        return entries
