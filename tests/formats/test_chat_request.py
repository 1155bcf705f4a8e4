"""The Chat request engine's direct readers and writers agree with its general ones.

Plain turns and the common fields are read (and one-text-part turns written) without the
general reader's call per field; these tests draw turns and bodies of every shape, well- and
ill-formed, and check that where the direct path answers, the general path gives the same
value, and that of several faults in one body the same one is named as the general order
(scalars in body order, then messages, tools, tool choice, response format, reasoning effort,
stop, stream, stream options).
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llm_router.errors import TranslationError
from llm_router.formats import mistral, openai
from llm_router.formats._chat_content import render_user_content, text_content
from llm_router.formats._chat_request import (
    ChatDialect,
    _parse_message,
    _render_assistant,
    _render_messages,
    plain_message,
)
from llm_router.universal import Message, Role, TextPart

DIALECTS = [openai.DIALECT, mistral.DIALECT]

_ODD: list[Any] = [None, 0, 1.5, True, "", "x", [], {}, [1], {"a": 1}]
_TEXT_PARTS: list[Any] = [[{"type": "text", "text": "hi"}], [{"type": "text"}], [{"type": "nope"}]]


def _key(values: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A key's value, or `_ABSENT` for a key the turn does not carry."""
    return st.one_of(st.just(_ABSENT), values)


_ABSENT = object()
_turns = st.fixed_dictionaries(
    {
        "role": _key(
            st.sampled_from(["user", "system", "developer", "assistant", "tool", "robot", 3, None])
        ),
        "content": _key(st.sampled_from(["hello", "", None, 7, *_TEXT_PARTS])),
        "name": _key(st.sampled_from(["ann", None, 5, ["x"]])),
        "tool_call_id": _key(st.sampled_from(["call_1", None, 9])),
        "tool_calls": _key(
            st.sampled_from(
                [None, [], [{"id": "c", "function": {"name": "f", "arguments": "{}"}}], "x"]
            )
        ),
        "refusal": _key(st.sampled_from([None, "", "no", 1])),
        "reasoning_content": _key(st.sampled_from([None, "", "think", 2])),
        "reasoning": _key(st.sampled_from([None, "think"])),
        "reasoning_signature": _key(st.sampled_from([None, "sig", ["a", "b"]])),
        "annotations": _key(st.sampled_from([[], None])),
    }
).map(lambda d: {k: v for k, v in d.items() if v is not _ABSENT})


def _outcome(fn: Any, *args: Any) -> Any:
    try:
        return fn(*args)
    except TranslationError as exc:
        return ("error", exc.message, exc.path)


@settings(max_examples=1000)
@given(_turns, st.sampled_from(DIALECTS))
def test_plain_turns_read_as_the_general_reader_reads_them(
    m: dict[str, Any], d: ChatDialect
) -> None:
    direct = plain_message(m)
    if direct is not None:
        assert direct == _parse_message(m, "messages[0]", d)


@settings(max_examples=500)
@given(st.one_of(_turns, st.sampled_from(_ODD)), st.sampled_from(DIALECTS))
def test_a_body_reads_every_turn_as_the_general_reader_does(m: Any, d: ChatDialect) -> None:
    parse = openai.parse_request if d is openai.DIALECT else mistral.parse_request
    got = _outcome(lambda: parse({"messages": [m]}).messages[0])
    assert got == _outcome(_parse_message, m, "messages[0]", d)


def test_plain_turns_cover_the_common_roles() -> None:
    for role in ("user", "system", "developer", "assistant"):
        assert plain_message({"role": role, "content": "hi", "refusal": None}) is not None
    assert plain_message({"role": "tool", "tool_call_id": "c", "content": "42"}) is not None
    assert plain_message({"role": "assistant", "content": "x", "tool_calls": []}) is None


_PARTS = st.builds(
    TextPart,
    st.sampled_from(["hi", ""]),
    st.sampled_from([None, {"type": "ephemeral"}]),
    st.sampled_from([None, "sig"]),
)


@given(
    st.sampled_from([Role.USER, Role.SYSTEM, Role.DEVELOPER, Role.ASSISTANT]),
    _PARTS,
    st.sampled_from([None, "ann"]),
    st.sampled_from(DIALECTS),
)
def test_one_text_part_turns_render_as_the_general_writer_renders_them(
    role: Role, part: TextPart, name: str | None, d: ChatDialect
) -> None:
    m = Message(role, (part,), name)
    if role is Role.USER:
        expected = {"role": "user", "content": render_user_content(m.content, d)}
    elif role is Role.ASSISTANT:
        expected = _render_assistant(m, d)
    else:
        wire = "developer" if role is Role.DEVELOPER and d.developer_role else "system"
        expected = {"role": wire, "content": text_content(m.content, d)}
    if name is not None:
        expected["name"] = name
    assert _render_messages((m,), d) == [expected]


@pytest.mark.parametrize(
    ("body", "path"),
    [
        # Scalars first, in body order; then the structured fields in their fixed order.
        ({"messages": 5, "model": 1}, "model"),
        ({"temperature": "hot", "model": 1}, "temperature"),
        ({"model": "m", "stream": "yes", "messages": 5}, "messages"),
        ({"stream": "yes", "tools": 5, "messages": []}, "tools"),
        ({"stop": 5, "reasoning_effort": 1}, "reasoning_effort"),
        ({"stream_options": 1, "stream": 1}, "stream"),
        ({"stream_options": 1}, "stream_options"),
        ({"response_format": "json", "tool_choice": "sometimes"}, "tool_choice"),
        ({"stop": [1], "response_format": "json"}, "response_format"),
        ({"messages": [{"role": "user", "content": 5}]}, "messages[0].content"),
        ({"messages": [{"role": "assistant", "content": "x", "name": 5}]}, "messages[0].name"),
        ({"messages": [{"role": "tool", "content": "x"}]}, "messages[0].tool_call_id"),
        (
            {"messages": [{"role": "tool", "tool_call_id": "c", "content": "x", "name": 5}]},
            "messages[0].name",
        ),
        ({"max_completion_tokens": 1.5}, "max_completion_tokens"),
    ],
)
def test_the_first_fault_in_the_general_order_is_named(body: dict[str, Any], path: str) -> None:
    with pytest.raises(TranslationError) as info:
        openai.parse_request(body)
    assert info.value.path == path


def test_structured_fields_read_as_before() -> None:
    req = openai.parse_request(
        {"messages": [], "reasoning_effort": "none", "stream": False, "stop": "END"}
    )
    assert req.reasoning is not None and req.reasoning.effort == "none"
    assert req.reasoning.mode is not None and req.reasoning.mode.value == "disabled"
    assert req.stream is False and req.stop == ("END",)
    odd = openai.parse_request({"messages": [], "reasoning_effort": "extreme"})
    assert odd.reasoning is not None and odd.reasoning.effort == "extreme"
    assert openai.parse_request({"messages": [], "max_tokens": 5}).max_tokens == 5
    both = openai.parse_request({"max_tokens": 5, "max_completion_tokens": 7, "messages": []})
    assert both.max_tokens == 7
    assert mistral.parse_request({"messages": [], "max_tokens": 5}).max_tokens == 5
