"""Reading the fake provider server's request journal over HTTP, for checks that need it.

The fake server lists every request it answered at `GET /_fake/journal`. Contract checks tag
their requests with a unique marker, sent both as the `x-fake-request-id` header and inside
the prompt, and look up the entries carrying either, so several runs (or other traffic) can
share one fake server and nothing depends on the gateway forwarding headers. Faults are
installed the same way: `POST /_fake/rules` with a rule matching the marker in the request's
content.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import trio

from .dialects import ContractViolation, preview

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
    provider: str | None = None
    format: str | None = None
    model: str | None = None
    stream: bool | None = None
    error: str | None = None

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
            provider=entry.get("provider"),
            format=entry.get("format"),
            model=entry.get("model"),
            stream=entry.get("stream"),
            error=entry.get("error"),
        )

    @property
    def done(self) -> bool:
        return self.ended_at is not None


class FakeJournal:
    """The journal of the fake server at `fake_url`, filtered by request id."""

    def __init__(self, client: httpx.AsyncClient, fake_url: str) -> None:
        self._client = client
        self._root = fake_url.rstrip("/")
        self._url = self._root + "/_fake/journal"
        self._added: list[str] = []

    async def entries(self, request_id: str) -> list[JournalRecord]:
        """The entries tagged with `request_id` (header or prompt), oldest first."""
        listed = await self._control("GET", self._url)
        if not isinstance(listed, list):
            raise ContractViolation(
                f"GET {self._url} did not answer a journal (a JSON array): {preview(listed)}; "
                "is --fake-url the fake server?"
            )
        marker = request_id.encode()
        return [
            JournalRecord.from_json(entry)
            for entry in listed
            if isinstance(entry, dict)
            and (
                (entry.get("headers") or {}).get(REQUEST_ID_HEADER) == request_id
                or marker in orjson.dumps(entry.get("body"))
            )
        ]

    async def add_rule(self, rule: dict[str, Any]) -> None:
        """Install one named scenario rule on the fake server (before the existing ones);
        `remove_added` takes it away again."""
        name = str(rule["name"])
        self._added.append(name)  # before sending: a request cut short may still have landed
        await self._control("POST", self._root + "/_fake/rules", {"rules": [rule]})

    @property
    def added(self) -> tuple[str, ...]:
        """Names of the rules installed and not yet removed."""
        return tuple(self._added)

    async def remove_added(self, *, within: float = 5.0) -> None:
        """Remove every rule this journal installed, even while the caller is being cancelled
        (shielded, bounded by `within` seconds), so a shared fake is left as it was found."""
        if not self._added:
            return
        names, self._added = self._added, []
        with trio.CancelScope(shield=True) as scope:
            scope.deadline = trio.current_time() + within
            try:
                await self._control("DELETE", self._root + "/_fake/rules", {"names": names})
            except ContractViolation:
                pass  # not the fake server: there was nothing of ours to remove

    async def _control(self, method: str, url: str, body: Any = None) -> Any:
        hint = "is --fake-url the fake server?"
        try:
            response = await self._client.request(
                method, url, content=None if body is None else orjson.dumps(body)
            )
        except httpx.HTTPError as error:
            raise ContractViolation(f"{method} {url} failed: {error!r}; {hint}") from None
        if response.status_code != 200:
            raise ContractViolation(
                f"{method} {url} answered {response.status_code}: {preview(response.text)}; {hint}"
            )
        try:
            return orjson.loads(response.content)
        except orjson.JSONDecodeError:
            raise ContractViolation(
                f"{method} {url} answered non-JSON: {preview(response.text)}; {hint}"
            ) from None

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
