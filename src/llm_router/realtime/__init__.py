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
from .usage import RealtimeCost, RealtimeUsage

__all__ = [
    "CrossProtocolAudioError",
    "RealtimeAttempt",
    "RealtimeCost",
    "RealtimeEvent",
    "RealtimeOptions",
    "RealtimeSession",
    "RealtimeSessionClosed",
    "RealtimeFormat",
    "RealtimeProtocolError",
    "RealtimeSessionError",
    "RealtimeTranslator",
    "RealtimeUsage",
]
