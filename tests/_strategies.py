"""Hypothesis strategies for universal values, and the format facts tests build expectations from.

`requests()` and `responses()` draw whole conversations and answers in the shapes a client
sends: a leading system (or developer) prompt, user turns mixing text and images (by URL or
inline base64), assistant turns with text and tool calls (unique ids, JSON-object arguments),
tool turns answering every call of the turn before, tool definitions and choice, sampling
parameters, usage and finish reasons. `json_values()` and `mutated()` feed the fuzz tests.
"""

from __future__ import annotations

import base64
import json
import operator
import string
from collections.abc import Callable
from typing import Any, TypeVar

import orjson
from hypothesis import strategies as st

from llm_router.formats._anthropic_wire import tool_id as anthropic_tool_id
from llm_router.formats._converse_wire import tool_use_id as converse_tool_id
from llm_router.formats.mistral import mistral_tool_call_id
from llm_router.universal import (
    FinishReason,
    ImagePart,
    Message,
    Request,
    Response,
    Role,
    TextPart,
    Tool,
    ToolCallPart,
    ToolChoice,
    ToolChoiceMode,
    ToolResultPart,
    Usage,
)

__all__ = [
    "COLLAPSED_FINISH",
    "TOOL_IDS",
    "arguments",
    "expected_finish",
    "gemini_result",
    "images",
    "json_objects",
    "json_values",
    "mutated",
    "requests",
    "responses",
    "tools",
    "usages",
]

_T = TypeVar("_T")

# --------------------------------------------------------------------------- format facts

_F = FinishReason
#: Finish reasons a format has no word for, and what they read back as (docs/translation.md).
COLLAPSED_FINISH: dict[str, dict[FinishReason, FinishReason]] = {
    "openai": {
        _F.STOP_SEQUENCE: _F.STOP,
        _F.PAUSE: _F.STOP,
        _F.ERROR: _F.STOP,
        _F.OTHER: _F.STOP,
        _F.MALFORMED_TOOL_CALL: _F.STOP,
        _F.CONTEXT_WINDOW: _F.LENGTH,
        _F.REFUSAL: _F.CONTENT_FILTER,
    },
    "mistral": {
        _F.STOP_SEQUENCE: _F.STOP,
        _F.PAUSE: _F.STOP,
        _F.OTHER: _F.STOP,
        _F.MALFORMED_TOOL_CALL: _F.STOP,
        _F.CONTENT_FILTER: _F.STOP,
        _F.REFUSAL: _F.STOP,
    },
    "responses": {
        _F.STOP_SEQUENCE: _F.STOP,
        _F.PAUSE: _F.STOP,
        _F.OTHER: _F.STOP,
        _F.MALFORMED_TOOL_CALL: _F.STOP,
        _F.REFUSAL: _F.STOP,
        _F.TOOL_CALLS: _F.STOP,
        _F.CONTEXT_WINDOW: _F.LENGTH,
    },
    "anthropic": {
        _F.CONTENT_FILTER: _F.REFUSAL,
        _F.MALFORMED_TOOL_CALL: _F.STOP,
        _F.ERROR: _F.STOP,
        _F.OTHER: _F.STOP,
    },
    "google": {
        _F.TOOL_CALLS: _F.STOP,
        _F.STOP_SEQUENCE: _F.STOP,
        _F.PAUSE: _F.STOP,
        _F.CONTEXT_WINDOW: _F.LENGTH,
        _F.REFUSAL: _F.CONTENT_FILTER,
        _F.ERROR: _F.OTHER,
    },
    "converse": {_F.PAUSE: _F.STOP, _F.OTHER: _F.STOP, _F.REFUSAL: _F.CONTENT_FILTER},
}
#: Formats that read a plain "stop" of an answer holding tool calls as a tool-call finish.
_CALLS_FROM_STOP = frozenset({"responses", "google"})
#: How a format rewrites tool-call ids it does not accept (unchanged for the others).
TOOL_IDS: dict[str, Callable[[str], str]] = {
    "mistral": mistral_tool_call_id,
    "anthropic": anthropic_tool_id,
    "converse": converse_tool_id,
}


def gemini_result(text: str, is_error: bool) -> str:
    """A tool result's text after Gemini: JSON-object text as is, other text wrapped."""
    try:
        value = orjson.loads(text) if text.startswith("{") else None
    except orjson.JSONDecodeError:
        value = None
    if not isinstance(value, dict):
        value = {"error" if is_error else "result": text}
    return orjson.dumps(value).decode()


def expected_finish(reason: FinishReason | None, fmt: str, calls: bool) -> FinishReason:
    """What `reason` reads back as after a trip through `fmt`; `calls`: the answer has some."""
    if reason is None:
        reason = FinishReason.TOOL_CALLS if calls else FinishReason.STOP
    reason = COLLAPSED_FINISH[fmt].get(reason, reason)
    if fmt in _CALLS_FROM_STOP and reason is FinishReason.STOP and calls:
        return FinishReason.TOOL_CALLS
    return reason


# --------------------------------------------------------------------------- JSON

_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
)


def json_values(max_leaves: int = 10) -> st.SearchStrategy[Any]:
    """Any JSON value orjson can write (64-bit integers, finite floats)."""
    return st.recursive(
        _SCALARS,
        lambda inner: (
            st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
        ),
        max_leaves=max_leaves,
    )


def json_objects() -> st.SearchStrategy[dict[str, Any]]:
    return st.dictionaries(st.text(max_size=8), json_values(6), max_size=4)


@st.composite
def arguments(draw: st.DrawFn) -> str:
    """Tool-call arguments: the JSON text of an object, compact or spaced as models write it."""
    obj = draw(json_objects())
    if draw(st.booleans()):
        return orjson.dumps(obj).decode()
    return json.dumps(obj, ensure_ascii=draw(st.booleans()))


def _paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [path]
    if isinstance(value, dict):
        for key, item in value.items():
            out += _paths(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            out += _paths(item, (*path, i))
    return out


def _replace(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {**value, head: _replace(value[head], rest, new)}
    return [_replace(v, rest, new) if i == head else v for i, v in enumerate(value)]


@st.composite
def mutated(draw: st.DrawFn, bodies: list[Any]) -> Any:
    """One of `bodies` with one to three of its values (at any depth) replaced by random JSON."""
    body = draw(st.sampled_from(bodies))
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(_paths(body)))
        body = _replace(body, path, draw(json_values(6)))
    return body


# --------------------------------------------------------------------------- parts

_texts = st.text(min_size=1, max_size=24)
_WORD = string.ascii_letters + string.digits + "_"
_names = st.builds(operator.add, st.sampled_from(string.ascii_letters), st.text(_WORD, max_size=15))
#: Tool-call ids: provider-like prefixes, sometimes with characters some formats rewrite.
#: (`gcall_` is left out: it marks the ids Gemini parsing makes up.)
_call_ids = st.builds(
    operator.add,
    st.sampled_from(["call_", "toolu_", "tooluse_", "fc_", "x_"]),
    st.text(_WORD + ".:-", min_size=1, max_size=12),
)
_MEDIA = ("image/png", "image/jpeg", "image/gif", "image/webp")


@st.composite
def images(draw: st.DrawFn) -> ImagePart:
    """An image by https or s3 URL, or inline base64 with its media type."""
    detail = draw(st.none() | st.sampled_from(["low", "high", "auto"]))
    if draw(st.booleans()):
        scheme = draw(st.sampled_from(["https://example.com/", "s3://bucket/"]))
        return ImagePart(url=scheme + draw(_names) + ".png", detail=detail)
    data = base64.b64encode(draw(st.binary(min_size=1, max_size=12))).decode()
    return ImagePart(data=data, media_type=draw(st.sampled_from(_MEDIA)), detail=detail)


_SCHEMA_TYPES = ("string", "integer", "number", "boolean")


@st.composite
def _schemas(draw: st.DrawFn) -> dict[str, Any]:
    props = draw(st.dictionaries(_names, st.sampled_from(_SCHEMA_TYPES), max_size=3))
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {k: {"type": v} for k, v in props.items()},
    }
    if props and draw(st.booleans()):
        schema["required"] = sorted(props)[:1]
    return schema


@st.composite
def tools(draw: st.DrawFn) -> list[Tool]:
    names = draw(st.lists(_names, max_size=3, unique=True))
    return [
        Tool(
            name,
            draw(st.none() | _texts),
            draw(st.none() | _schemas()),
            draw(st.none() | st.booleans()),
        )
        for name in names
    ]


# --------------------------------------------------------------------------- requests


_paragraphs = st.lists(_texts, min_size=1, max_size=2).map(lambda ts: tuple(map(TextPart, ts)))
_user_parts = st.lists(_texts.map(TextPart) | images(), min_size=1, max_size=3).map(tuple)
#: Tool results: plain text, or the JSON text of an object (which Gemini sends as is).
_results = st.lists(
    _texts | json_objects().map(lambda o: orjson.dumps(o).decode()), min_size=1, max_size=2
).map(lambda ts: tuple(map(TextPart, ts)))
_MODES = (ToolChoiceMode.AUTO, ToolChoiceMode.NONE, ToolChoiceMode.REQUIRED)


def _maybe(values: st.SearchStrategy[_T]) -> st.SearchStrategy[_T | None]:
    return st.none() | values


def _tool_choices(tool_names: list[str]) -> st.SearchStrategy[ToolChoice | None]:
    named = st.sampled_from(tool_names or ["undefined"]).map(
        lambda name: ToolChoice(ToolChoiceMode.NAMED, name)
    )
    modes = st.sampled_from(_MODES).map(ToolChoice)
    return st.none() | modes | (named if tool_names else st.nothing())


@st.composite
def _conversation(draw: st.DrawFn, tool_names: list[str]) -> list[Message]:
    """User turns, assistant turns (text and calls) and tool turns answering every call."""
    messages: list[Message] = []
    if draw(st.booleans()):
        role = draw(st.sampled_from([Role.SYSTEM, Role.DEVELOPER]))
        messages.append(Message(role, draw(_paragraphs)))
    ids = iter(draw(st.lists(_call_ids, min_size=9, max_size=9, unique=True)))
    names = tool_names or draw(st.lists(_names, min_size=1, max_size=2))
    for turn in range(draw(st.integers(1, 3))):
        messages.append(Message(Role.USER, draw(_user_parts)))
        if turn and draw(st.integers(0, 3)) == 0:
            break  # end on a user turn
        texts = [TextPart(t) for t in draw(st.lists(_texts, max_size=2))]
        calls = [
            ToolCallPart(next(ids), draw(st.sampled_from(names)), draw(arguments()))
            for _ in range(draw(st.integers(0 if texts else 1, 3)))
        ]
        messages.append(Message(Role.ASSISTANT, (*texts, *calls)))
        if calls:
            results = tuple(
                ToolResultPart(c.id, draw(_results), is_error=draw(st.booleans())) for c in calls
            )
            messages.append(Message(Role.TOOL, results))
    return messages


@st.composite
def requests(draw: st.DrawFn) -> Request:
    defined = draw(tools())
    names = [t.name for t in defined]
    return Request(
        messages=tuple(draw(_conversation(names))),
        model=draw(_maybe(_names)),
        tools=tuple(defined),
        tool_choice=draw(_tool_choices(names)),
        parallel_tool_calls=draw(_maybe(st.booleans())),
        max_tokens=draw(_maybe(st.integers(1, 100_000))),
        temperature=draw(_maybe(st.floats(0, 2))),
        top_p=draw(_maybe(st.floats(0, 1))),
        top_k=draw(_maybe(st.integers(1, 500))),
        stop=tuple(draw(st.lists(_texts, max_size=3))),
        seed=draw(_maybe(st.integers(0, 2**31))),
        presence_penalty=draw(_maybe(st.floats(-2, 2))),
        frequency_penalty=draw(_maybe(st.floats(-2, 2))),
        stream=draw(st.booleans()),
    )


# --------------------------------------------------------------------------- responses


@st.composite
def usages(draw: st.DrawFn) -> Usage:
    """Usage as universal counts it: input includes cache reads and writes, output reasoning."""
    count = st.none() | st.integers(0, 50_000)
    read, write, reasoning = draw(count), draw(count), draw(count)
    input_tokens = draw(
        st.none() | st.integers(0, 50_000).map(lambda n: n + (read or 0) + (write or 0))
    )
    output = draw(st.none() | st.integers(0, 50_000).map(lambda n: n + (reasoning or 0)))
    total = draw(st.none() | st.just((input_tokens or 0) + (output or 0)))
    return Usage(input_tokens, output, read, write, reasoning, total)


@st.composite
def responses(draw: st.DrawFn) -> Response:
    texts = [TextPart(t) for t in draw(st.lists(_texts, max_size=3))]
    ids = draw(st.lists(_call_ids, max_size=3, unique=True))
    calls = [ToolCallPart(i, draw(_names), draw(arguments())) for i in ids]
    return Response(
        content=(*texts, *calls),
        id=draw(_names.map(lambda s: "resp_" + s)),
        model=draw(_names),
        created=draw(st.integers(1_600_000_000, 2_000_000_000)),
        finish_reason=draw(st.sampled_from(FinishReason)),
        stop_sequence=draw(st.none() | _texts),
        usage=draw(st.none() | usages()),
    )
