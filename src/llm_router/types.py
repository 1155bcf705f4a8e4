"""Small value types shared by every layer: wire formats and ready-to-send stream events."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

import orjson

__all__ = ["ProviderFormat", "StreamEvent"]


class ProviderFormat(enum.StrEnum):
    """The wire formats the router speaks, on either side of a call."""

    OPENAI = "openai"  # OpenAI Chat Completions
    RESPONSES = "responses"  # OpenAI Responses
    ANTHROPIC = "anthropic"  # Anthropic Messages
    GOOGLE = "google"  # Gemini generateContent
    CONVERSE = "converse"  # Bedrock Converse / ConverseStream
    MISTRAL = "mistral"  # Mistral's Chat Completions dialect

    @classmethod
    def parse(cls, value: ProviderFormat | str) -> ProviderFormat:
        """Accept a member or its string value; raise a clear ValueError otherwise."""
        if isinstance(value, ProviderFormat):
            return value
        try:
            return cls(value)
        except ValueError:
            known = ", ".join(f.value for f in cls)
            raise ValueError(f"unknown format {value!r}; expected one of: {known}") from None


@dataclass(frozen=True, slots=True, init=False)
class StreamEvent:
    """One pre-serialised stream event in some wire format.

    `event` is the SSE event name (None for formats that send bare `data:` lines), `data`
    the JSON payload bytes. For `converse`, `event` is the event type (`messageStart`, ...)
    and `data` its payload, ready for event-stream framing or SSE.
    """

    event: str | None
    data: bytes

    def __init__(self, event: str | None, data: bytes) -> None:
        # A stream builds two of these per event it relays. A frozen dataclass's own
        # `__init__` stores each field through `object.__setattr__` (three times the cost of
        # this); the slots' own setters skip the guard while it still refuses assignment.
        _set_event(self, event)
        _set_data(self, data)

    def json(self) -> Any:
        """The decoded payload; None for OpenAI's ``[DONE]`` end-of-stream sentinel."""
        if self.data[:1] != b"{" and self.data.strip() == b"[DONE]":
            return None
        return orjson.loads(self.data)

    def to_sse(self) -> bytes:
        """Render as one SSE frame (`event:` line when named, then `data:`, blank line)."""
        if self.event is None:
            return b"data: " + self.data + b"\n\n"
        return b"event: " + self.event.encode() + b"\ndata: " + self.data + b"\n\n"


_set_event = StreamEvent.__dict__["event"].__set__
_set_data = StreamEvent.__dict__["data"].__set__
