"""Realtime translation between OpenAI Realtime and Gemini Live, through the universal events.

`RealtimeTranslator(caller, provider, model)` turns the caller's frames into the provider's
and back. Same-protocol pairs pass frames through untouched (audio included); across
protocols text turns, tool calls and usage are translated, frames with no counterpart are
dropped (counted in `dropped`, listed in docs/realtime.md), and audio is refused with
`CrossProtocolAudioError`. Sans-IO: frames in, JSON text out.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

import orjson

from . import gemini_live, openai_realtime
from .events import (
    AddToolResult,
    AudioInput,
    AudioOutput,
    ClientEvent,
    ConfigureSession,
    CrossProtocolAudioError,
    Opaque,
    RealtimeFormat,
    ServerEvent,
)

__all__ = ["RealtimeTranslator"]

_TRANSLATABLE = frozenset({RealtimeFormat.OPENAI_REALTIME, RealtimeFormat.GEMINI_LIVE})


class RealtimeTranslator:
    """One session's translation state (encoders keep per-response state)."""

    def __init__(self, caller: RealtimeFormat, provider: RealtimeFormat, model: str) -> None:
        if caller != provider and not {caller, provider} <= _TRANSLATABLE:
            raise ValueError(f"no realtime translation between {caller} and {provider}")
        self.caller = caller
        self.provider = provider
        self.passthrough = caller == provider
        self.dropped: Counter[str] = Counter()
        self._gemini_client = gemini_live.ClientEncoder(model)
        self._gemini_decoder = gemini_live.ServerDecoder()
        self._gemini_server = gemini_live.ServerEncoder()
        self._openai_server = openai_realtime.ServerEncoder(model)

    @property
    def close(self) -> tuple[int, str] | None:
        """A close the caller must see because its protocol reports the event that way."""
        return self._gemini_server.close

    def decode_client(self, frame: str | bytes | Mapping[str, Any]) -> list[ClientEvent]:
        if self.caller == RealtimeFormat.GEMINI_LIVE:
            return gemini_live.decode_client(frame)
        return openai_realtime.decode_client(frame)

    def decode_server(self, frame: str | bytes | Mapping[str, Any]) -> list[ServerEvent]:
        if self.provider == RealtimeFormat.GEMINI_LIVE:
            return self._gemini_decoder.feed(frame)
        return openai_realtime.decode_server(frame)

    def encode_client(self, events: list[ClientEvent]) -> list[str]:
        """The provider frames for universal client events (audio refused)."""
        out: list[dict[str, Any]] = []
        for event in events:
            if isinstance(event, AudioInput):
                raise CrossProtocolAudioError(event.kind, self.caller, self.provider)
            if isinstance(event, Opaque):
                self.dropped[event.kind] += 1
                continue
            if self.provider == RealtimeFormat.GEMINI_LIVE:
                if isinstance(event, AddToolResult):
                    self._gemini_decoder.tool_response_sent()
                out.extend(self._gemini_client.feed(event))
            else:
                out.extend(openai_realtime.encode_client(event))
        return [orjson.dumps(frame).decode() for frame in out]

    def setup(self, config: ConfigureSession, model: str | None = None) -> list[str]:
        """The first frames of a session on the provider (Gemini's `setup`, for `model` when
        given, e.g. a Vertex resource name)."""
        if model is not None:
            self._gemini_client.model = model
        return self.encode_client([config])

    def encode_server(self, events: list[ServerEvent]) -> list[str]:
        out: list[dict[str, Any]] = []
        for event in events:
            if isinstance(event, AudioOutput):
                raise CrossProtocolAudioError(event.kind, self.provider, self.caller)
            if isinstance(event, Opaque):
                self.dropped[event.kind] += 1
                continue
            if self.caller == RealtimeFormat.GEMINI_LIVE:
                out.extend(self._gemini_server.feed(event))
            else:
                out.extend(self._openai_server.feed(event))
        return [orjson.dumps(frame).decode() for frame in out]

    def to_provider(self, frame: str | bytes) -> list[str | bytes]:
        if self.passthrough:
            return [frame]
        return list(self.encode_client(self.decode_client(frame)))

    def to_caller(self, frame: str | bytes) -> list[str | bytes]:
        if self.passthrough:
            return [frame]
        return list(self.encode_server(self.decode_server(frame)))
