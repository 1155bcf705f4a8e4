"""Typed field access for realtime frames: each failure names the field that was wrong."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .events import RealtimeProtocolError

__all__ = ["get", "obj", "objects", "opt_str", "string"]


def get(frame: Mapping[str, Any], *names: str) -> Any:
    """The first present key of `names` (Gemini accepts camelCase and snake_case alike)."""
    for name in names:
        if name in frame:
            return frame[name]
    return None


def obj(value: Any, path: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise RealtimeProtocolError(f"{path} must be an object", path=path)
    return value


def objects(value: Any, path: str) -> list[Mapping[str, Any]]:
    if value is None:
        return []
    if isinstance(value, Mapping):  # Gemini accepts a single turn where a list is expected
        return [value]
    if not isinstance(value, Sequence) or isinstance(value, str | bytes):
        raise RealtimeProtocolError(f"{path} must be an array", path=path)
    return [obj(item, f"{path}[{index}]") for index, item in enumerate(value)]


def opt_str(value: Any, path: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise RealtimeProtocolError(f"{path} must be a string", path=path)
    return value


def string(value: Any, path: str) -> str:
    if not isinstance(value, str):
        raise RealtimeProtocolError(f"{path} must be a string", path=path)
    return value


def opt_int(value: Any, path: str) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise RealtimeProtocolError(f"{path} must be an integer", path=path)
    return value
