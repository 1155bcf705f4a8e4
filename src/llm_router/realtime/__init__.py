"""Realtime WebSocket sessions: sans-IO protocol modules, translation, and the session shell."""

from .events import (
    CrossProtocolAudioError,
    RealtimeFormat,
    RealtimeProtocolError,
    RealtimeSessionError,
)
from .translate import RealtimeTranslator

__all__ = [
    "CrossProtocolAudioError",
    "RealtimeFormat",
    "RealtimeProtocolError",
    "RealtimeSessionError",
    "RealtimeTranslator",
]
