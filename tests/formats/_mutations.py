"""Mutating captured bodies for agreement tests: the paths of every field in a body, a body with
one field replaced or removed, and the replacement values that readers treat specially."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

__all__ = ["TRICKY", "paths", "removed", "replaced"]

# Replacement values: every JSON type, plus the ones readers treat specially (null reads as
# absent, integral floats as integers, integers as floats, empty containers).
TRICKY: list[Any] = [
    None,
    True,
    False,
    0,
    7,
    -1,
    2.0,
    0.5,
    "",
    "text",
    [],
    ["a"],
    [1],
    {},
    {"a": 1},
]


def paths(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """The path of `value` itself and of everything inside it (dict keys, list indexes)."""
    yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from paths(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from paths(item, (*path, i))


def replaced(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    """A copy of `value` with what is at `path` replaced by `new`."""
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {**value, head: replaced(value[head], rest, new)}
    return [replaced(v, rest, new) if i == head else v for i, v in enumerate(value)]


def removed(value: Any, path: tuple[Any, ...]) -> Any:
    """A copy of `value` without what is at `path` (not empty)."""
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        if not rest:
            return {k: v for k, v in value.items() if k != head}
        return {**value, head: removed(value[head], rest)}
    if not rest:
        return [v for i, v in enumerate(value) if i != head]
    return [removed(v, rest) if i == head else v for i, v in enumerate(value)]
