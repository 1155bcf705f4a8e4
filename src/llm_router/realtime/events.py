"""Universal realtime events: what an OpenAI Realtime or Gemini Live frame means, protocol-free.

This module owns the intermediate representation that realtime translation goes through (hub
and spoke, like `universal.py` for HTTP bodies), the protocol names and the realtime errors.
It knows no wire detail and never imports trio or trio-websocket.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import orjson

from ..errors import LLMRouterError, TranslationError
from ..universal import Tool, Usage

__all__ = [
    "AddText",
    "AddToolResult",
    "AudioInput",
    "AudioOutput",
    "CancelResponse",
    "ClientEvent",
    "ConfigureSession",
    "CrossProtocolAudioError",
    "GoAway",
    "Interrupted",
    "Opaque",
    "RealtimeFormat",
    "RealtimeProtocolError",
    "RealtimeSessionError",
    "RequestResponse",
    "ResponseDone",
    "ResponseStarted",
    "ServerError",
    "ServerEvent",
    "SessionConfigured",
    "SessionStarted",
    "TextDelta",
    "ToolCall",
    "UsageReport",
    "parse_frame",
]


class RealtimeFormat(enum.StrEnum):
    """The realtime protocols a caller or a provider speaks."""

    OPENAI_REALTIME = "openai-realtime"
    """OpenAI Realtime (GA): `/v1/realtime?model=...`, also Azure `/openai/v1/realtime`."""
    RESPONSES_WS = "responses-ws"
    """OpenAI Responses WebSocket mode: `/v1/responses`, one `response.create` per turn."""
    GEMINI_LIVE = "gemini-live"
    """Gemini Live `BidiGenerateContent` (Gemini API and Vertex AI)."""


class RealtimeProtocolError(TranslationError):
    """A realtime frame is not what its protocol allows: bad JSON, wrong field types, too big."""


class CrossProtocolAudioError(RealtimeProtocolError):
    """An audio event cannot cross between protocols; `kind` names the event that carried it.

    Audio passes through untouched on routes that speak the caller's own protocol; choose such
    a route (or send text) to use audio.
    """

    def __init__(self, kind: str, source: str, target: str) -> None:
        super().__init__(
            f"audio event {kind!r} cannot be translated from {source} to {target}: audio passes "
            "only between sessions of the same protocol; route this model to a provider "
            f"speaking {source}, or send text",
            path=kind,
        )
        self.kind = kind


class RealtimeSessionError(LLMRouterError):
    """A realtime session failed or was closed; `code` is the WebSocket close code if any."""

    def __init__(self, message: str, *, code: int | None = None, provider: str | None = None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.provider = provider


# --------------------------------------------------------------------------- client events


@dataclass(frozen=True, slots=True)
class ConfigureSession:
    """Session configuration: `session.update` / Gemini `setup` (the model is the router's)."""

    instructions: str | None = None
    tools: tuple[Tool, ...] = ()
    temperature: float | None = None


@dataclass(frozen=True, slots=True)
class AddText:
    """A text turn added to the conversation; `role` is "user" or "assistant"."""

    text: str
    role: str = "user"


@dataclass(frozen=True, slots=True)
class AddToolResult:
    """The output of a tool call the model asked for."""

    call_id: str
    output: str
    name: str | None = None


@dataclass(frozen=True, slots=True)
class RequestResponse:
    """Ask the model to answer now (`response.create`, Gemini `turnComplete: true`)."""


@dataclass(frozen=True, slots=True)
class CancelResponse:
    """Stop the answer in progress (`response.cancel`)."""


@dataclass(frozen=True, slots=True)
class AudioInput:
    """Caller audio; `kind` names the wire event (it cannot cross protocols)."""

    kind: str


# --------------------------------------------------------------------------- server events


@dataclass(frozen=True, slots=True)
class SessionStarted:
    """The provider accepted the session (`session.created` / `setupComplete`): the commit point."""

    session_id: str | None = None


@dataclass(frozen=True, slots=True)
class SessionConfigured:
    """The provider applied a configuration change (`session.updated`)."""


@dataclass(frozen=True, slots=True)
class ResponseStarted:
    response_id: str | None = None


@dataclass(frozen=True, slots=True)
class TextDelta:
    text: str


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A complete function call; `arguments` is the JSON text of the arguments object."""

    call_id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class UsageReport:
    """Token usage reported apart from the end of a response (Gemini `usageMetadata`)."""

    usage: Usage


@dataclass(frozen=True, slots=True)
class ResponseDone:
    """The answer is over; `status` as OpenAI names it (completed, cancelled, incomplete, failed)."""

    usage: Usage | None = None
    status: str = "completed"


@dataclass(frozen=True, slots=True)
class Interrupted:
    """The model's answer was interrupted (barge-in)."""


@dataclass(frozen=True, slots=True)
class GoAway:
    """The provider will close the socket soon; `time_left` as sent (e.g. "10s")."""

    time_left: str | None = None


@dataclass(frozen=True, slots=True)
class ServerError:
    message: str
    code: str | None = None


@dataclass(frozen=True, slots=True)
class AudioOutput:
    """Model audio; `kind` names the wire event (it cannot cross protocols)."""

    kind: str


# --------------------------------------------------------------------------- either direction


@dataclass(frozen=True, slots=True)
class Opaque:
    """A frame with no universal meaning: forwarded on same-protocol routes, else dropped."""

    kind: str
    frame: Mapping[str, Any] = field(default_factory=dict, compare=False)


ClientEvent: TypeAlias = (
    ConfigureSession
    | AddText
    | AddToolResult
    | RequestResponse
    | CancelResponse
    | AudioInput
    | Opaque
)
ServerEvent: TypeAlias = (
    SessionStarted
    | SessionConfigured
    | ResponseStarted
    | TextDelta
    | ToolCall
    | UsageReport
    | ResponseDone
    | Interrupted
    | GoAway
    | ServerError
    | AudioOutput
    | Opaque
)


def parse_frame(frame: str | bytes | Mapping[str, Any], protocol: str) -> Mapping[str, Any]:
    """One WebSocket message as a JSON object, or `RealtimeProtocolError` saying why not."""
    if isinstance(frame, Mapping):
        return frame
    try:
        value = orjson.loads(frame)
    except orjson.JSONDecodeError as error:
        raise RealtimeProtocolError(f"{protocol} frame is not valid JSON: {error}") from None
    if not isinstance(value, dict):
        raise RealtimeProtocolError(
            f"{protocol} frame must be a JSON object, got {type(value).__name__}"
        )
    return value
