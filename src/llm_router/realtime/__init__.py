"""Realtime WebSocket sessions: sans-IO protocol modules, translation, and the session shell."""

from .events import (
    CrossProtocolAudioError,
    RealtimeFormat,
    RealtimeProtocolError,
    RealtimeSessionError,
)
from .session import (
    RealtimeAttempt,
    RealtimeEvent,
    RealtimeOptions,
    RealtimeSession,
    RealtimeSessionClosed,
)
from .translate import RealtimeTranslator

__all__ = [
    "CrossProtocolAudioError",
    "RealtimeAttempt",
    "RealtimeEvent",
    "RealtimeOptions",
    "RealtimeSession",
    "RealtimeSessionClosed",
    "RealtimeFormat",
    "RealtimeProtocolError",
    "RealtimeSessionError",
    "RealtimeTranslator",
]
