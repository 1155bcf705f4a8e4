"""The fast paths of the Anthropic, Gemini and Converse modules agree with their general paths.

A fast path may decline a body (None: the general path takes it), but whatever it returns
must equal what the general path returns, and it must decline every body the general path
rejects, so that errors always come from the general path. Checked on the captured corpus,
on every field of it replaced by values of each JSON type, and on randomly mutated bodies.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any

import pytest
from _captured import captured
from _mutations import TRICKY, paths, removed, replaced
from hypothesis import given, settings
from hypothesis import strategies as st

from llm_router.formats import (
    _anthropic_fast,
    _converse_fast,
    _google_fast,
    anthropic,
    converse,
    google,
)

Parse = Callable[[Any], Any]

# format -> (captured directories, (fast, general) per kind)
FORMATS: dict[str, tuple[tuple[str, ...], dict[str, tuple[Parse, Parse]]]] = {
    "anthropic": (
        ("anthropic", "bedrock-anthropic", "vertex-anthropic"),
        {
            "request": (_anthropic_fast.parse_request, anthropic._parse_request),
            "response": (_anthropic_fast.parse_response, anthropic._parse_response),
        },
    ),
    "google": (
        ("google", "vertex-google"),
        {
            "request": (_google_fast.parse_request, google._parse_request),
            "response": (_google_fast.parse_response, google._parse_response),
        },
    ),
    "converse": (
        ("bedrock",),
        {
            "request": (_converse_fast.parse_request, converse._parse_request),
            "response": (_converse_fast.parse_response, converse._parse_response),
        },
    ),
}
CASES = [(fmt, kind) for fmt, (_, kinds) in FORMATS.items() for kind in kinds]


@functools.cache
def _corpus(fmt: str, kind: str) -> list[Any]:
    return [body for d in FORMATS[fmt][0] for _, body in captured(d, kind)]


def agrees(fast: Parse, general: Parse, body: Any) -> bool:
    """Assert agreement on `body`; True when the fast path took it."""
    try:
        expected = general(body)
    except Exception:  # the general path's error, whatever it is: the fast path must decline
        expected = None
    got = fast(body)
    if got is not None:
        assert expected is not None, "the fast path accepted a body the general path rejects"
        assert got == expected
    return got is not None


@pytest.mark.parametrize(("fmt", "kind"), CASES)
def test_fast_path_takes_and_agrees_on_the_corpus(fmt: str, kind: str) -> None:
    fast, general = FORMATS[fmt][1][kind]
    bodies = _corpus(fmt, kind)
    taken = sum(agrees(fast, general, body) for body in bodies)
    # The fast path is for the common shapes: most captured bodies must take it.
    assert taken >= 0.9 * len(bodies)


@pytest.mark.parametrize(("fmt", "kind"), CASES)
def test_fast_path_agrees_with_every_field_replaced(fmt: str, kind: str) -> None:
    fast, general = FORMATS[fmt][1][kind]
    for body in _corpus(fmt, kind):
        for path in paths(body):
            if len(path) > 5:
                continue
            for value in TRICKY:
                agrees(fast, general, replaced(body, path, value))
            if path:  # the field left out
                agrees(fast, general, removed(body, path))


def _field_paths(fmt: str, kind: str) -> list[tuple[str, ...]]:
    """Every object field, to depth two, that some captured body of `fmt` has."""
    paths: set[tuple[str, ...]] = set()
    for body in _corpus(fmt, kind):
        for key, value in body.items():
            paths.add((key,))
            if isinstance(value, dict):
                paths.update((key, inner) for inner in value)
    return sorted(paths)


def _set(body: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any] | None:
    head, rest = path[0], path[1:]
    if not rest:
        return {**body, head: value}
    inner = body.get(head, {})
    if not isinstance(inner, dict):
        return None
    new = _set(inner, rest, value)
    return None if new is None else {**body, head: new}


@pytest.mark.parametrize(("fmt", "kind"), CASES)
def test_fast_path_agrees_with_fields_of_other_bodies_added(fmt: str, kind: str) -> None:
    fast, general = FORMATS[fmt][1][kind]
    field_paths = _field_paths(fmt, kind)
    for body in _corpus(fmt, kind):
        for path in field_paths:
            for value in TRICKY:
                changed = _set(body, path, value)
                if changed is not None:
                    agrees(fast, general, changed)


def _snake_case(key: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", key).lower()


def _respelled(value: Any, path: tuple[Any, ...], keep: bool) -> Any:
    """`value` with the key at `path` in snake_case (`keep`: the camelCase one stays too)."""
    head, rest = path[0], path[1:]
    if isinstance(value, list):
        return [_respelled(v, rest, keep) if i == head else v for i, v in enumerate(value)]
    if rest:
        return {**value, head: _respelled(value[head], rest, keep)}
    out = {k: v for k, v in value.items() if keep or k != head}
    out[_snake_case(head)] = value[head]
    return out


@pytest.mark.parametrize("kind", ["request", "response"])
def test_gemini_fast_path_leaves_snake_case_to_the_general_path(kind: str) -> None:
    fast, general = FORMATS["google"][1][kind]
    for body in _corpus("google", kind):
        for path in paths(body):
            if not path or not isinstance(path[-1], str) or _snake_case(path[-1]) == path[-1]:
                continue
            for keep in (False, True):
                respelled = _respelled(body, path, keep)
                agrees(fast, general, respelled)
                for value in TRICKY:  # and a wrong value under the snake_case key
                    agrees(
                        fast,
                        general,
                        replaced(respelled, (*path[:-1], _snake_case(path[-1])), value),
                    )


_JSON = st.recursive(
    st.sampled_from(TRICKY) | st.integers() | st.floats(allow_nan=False) | st.text(max_size=6),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)


@st.composite
def _mutated_case(draw: st.DrawFn) -> tuple[str, str, Any]:
    """A corpus body with one to three of its values, at any depth, replaced by random JSON."""
    fmt, kind = draw(st.sampled_from(CASES))
    body = draw(st.sampled_from(_corpus(fmt, kind)))
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(list(paths(body))))
        body = replaced(body, path, draw(_JSON))
    return fmt, kind, body


@settings(max_examples=300, deadline=None)
@given(case=_mutated_case())
def test_fast_path_agrees_on_mutated_bodies(case: tuple[str, str, Any]) -> None:
    fmt, kind, body = case
    fast, general = FORMATS[fmt][1][kind]
    agrees(fast, general, body)
