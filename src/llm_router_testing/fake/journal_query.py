"""Questions over the journal for test assertions: `fake.journal.called(model=..., ...)`.

A query names request fields (model, provider, format, path, rule, status, stream, attempt)
compared exactly, and conversation conditions (user_text, user_is, user_contains,
tool_result_for, tool_call_id, turn, system, tools, metadata) read from each request body in
its own wire format, as scenario rules read them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from llm_router.types import ProviderFormat

from .conversation import ContentMatch, Conversation

if TYPE_CHECKING:
    from .journal import JournalEntry

__all__ = ["JournalMatches", "find_entries"]

_FIELDS = ("model", "provider", "format", "path", "rule", "status", "stream", "attempt")
_ALIASES = {"user_is": "user_text_is", "user_contains": "user_text_contains"}


@dataclass(frozen=True, slots=True)
class JournalMatches:
    """The entries a query matched; true when there is at least one.

    Its repr says what was asked and what the journal holds, so a failing
    ``assert fake.journal.called(...)`` explains itself.
    """

    query: Mapping[str, Any]
    entries: tuple[JournalEntry, ...]
    seen: tuple[str, ...]

    def __bool__(self) -> bool:
        return bool(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def __repr__(self) -> str:
        asked = ", ".join(f"{key}={value!r}" for key, value in self.query.items())
        if self.entries:
            return f"<{len(self.entries)} request(s) matched {asked}>"
        seen = "; ".join(self.seen) or "no requests"
        return f"<no request matched {asked}; the journal holds: {seen}>"


def find_entries(entries: Iterable[JournalEntry], query: Mapping[str, Any]) -> JournalMatches:
    fields = {key: value for key, value in query.items() if key in _FIELDS}
    content_keys = {_ALIASES.get(key, key): value for key, value in query.items()}
    content_keys = {key: value for key, value in content_keys.items() if key in ContentMatch.KEYS}
    unknown = set(query) - set(fields) - set(_ALIASES) - ContentMatch.KEYS
    if unknown:
        known = sorted({*_FIELDS, *_ALIASES, *ContentMatch.KEYS})
        raise TypeError(f"unknown journal conditions {sorted(unknown)} (use {', '.join(known)})")
    content = ContentMatch.from_mapping(content_keys)
    matched: list[JournalEntry] = []
    seen: list[str] = []
    for entry in entries:
        if all(getattr(entry, key) == value for key, value in fields.items()) and (
            content.is_empty or not content.failures(_conversation(entry))
        ):
            matched.append(entry)
        seen.append(_describe(entry))
    return JournalMatches(dict(query), tuple(matched), tuple(seen[-10:]))


def _conversation(entry: JournalEntry) -> Conversation | None:
    body = entry.json()
    if entry.format is None or not isinstance(body, dict):
        return None
    return Conversation.read(ProviderFormat(entry.format), body, entry.model or "")


def _describe(entry: JournalEntry) -> str:
    parts = [f"#{entry.id} {entry.method} {entry.path}", f"model={entry.model!r}"]
    if entry.rule is not None:
        parts.append(f"rule={entry.rule!r}")
    conversation = _conversation(entry)
    if conversation is not None:
        names = [name for _, name in conversation.tool_results]
        parts.append(f"user={conversation.last_user_text[:40]!r}")
        if names:
            parts.append(f"tool results for {names}")
    parts.append(f"status={entry.status}")
    return " ".join(parts)
