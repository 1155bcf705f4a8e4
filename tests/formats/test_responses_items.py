"""The Responses readers' direct paths agree with their general ones, faults named in order.

Text parts, input messages and reasoning items are read field by field inline, and
one-text-part turns written as strings directly; these tests draw items of every shape and
check both paths give the same value, and that of several faults the one named is the first
in the general reading order.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llm_router.errors import TranslationError
from llm_router.formats import responses
from llm_router.formats._responses_items import (
    _parse_content,
    _parse_part,
    parse_input,
    render_input_content,
)
from llm_router.universal import Message, Request, Role, TextPart

_ABSENT = object()


def _key(values: list[Any]) -> st.SearchStrategy[Any]:
    return st.sampled_from([_ABSENT, *values])


def _drop_absent(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not _ABSENT}


_content_parts = st.one_of(
    st.fixed_dictionaries(
        {
            "type": _key(["input_text", "output_text", "text", "refusal", "nope", 3, ["x"]]),
            "text": _key(["hi", "", None, 4]),
            "refusal": _key(["no", None]),
            "annotations": _key([[], None, [{"type": "url_citation"}, 5], "x"]),
        }
    ).map(_drop_absent),
    st.sampled_from([None, "x", 3, []]),
)


def _outcome(fn: Any) -> Any:
    try:
        return fn()
    except TranslationError as exc:
        return ("error", exc.message, exc.path)


@settings(max_examples=500)
@given(_content_parts)
def test_text_parts_read_as_the_general_part_reader_reads_them(part: Any) -> None:
    got = _outcome(lambda: _parse_content([part], "input[0]"))
    assert got == _outcome(lambda: (_parse_part(part, "input[0].content[0]"),))


_input_items = st.fixed_dictionaries(
    {
        "type": _key(["message", None, "reasoning", "function_call_output"]),
        "role": _key(["user", "system", "developer", "assistant", "robot", None, 1]),
        "content": _key(["hello", None, 5, [{"type": "input_text", "text": "x"}], [{"type": 1}]]),
        "id": _key(["msg_1", None, 2]),
        "summary": _key([[], None, [{"type": "summary_text", "text": "s"}], "x", [5]]),
        "encrypted_content": _key(["enc", None, 3]),
        "call_id": _key(["call_1", 4]),
        "output": _key(["42", 1]),
    }
).map(_drop_absent)


@settings(max_examples=500)
@given(st.lists(_input_items, max_size=3))
def test_input_items_give_values_or_errors_naming_a_field(items: list[dict[str, Any]]) -> None:
    # Every item either reads or names the faulty field inside it.
    result = _outcome(lambda: parse_input(items))
    if isinstance(result, tuple):
        assert result[2].startswith("input[")


@pytest.mark.parametrize(
    ("body", "path"),
    [
        # input first, then tool choice, text, the scalars in body order, tools, reasoning.
        ({"model": 1, "input": 5}, "input"),
        ({"model": 1, "input": [{"role": "robot"}]}, "input[0].role"),
        ({"input": [{"content": "x"}]}, "input[0].role"),
        ({"input": [{"role": "user", "content": 5, "id": 2}]}, "input[0].content"),
        ({"input": [{"role": "user", "content": "x", "id": 2}]}, "input[0].id"),
        ({"input": [{"type": "reasoning", "summary": "x", "id": 2}]}, "input[0].summary"),
        ({"input": [{"type": "reasoning", "encrypted_content": 1, "id": 2}]}, "input[0].encrypted_content"),
        ({"model": 1, "text": 5}, "text"),
        ({"top_p": "a", "model": 1, "tools": 5}, "top_p"),
        ({"tools": 5, "reasoning": 1}, "tools"),
        ({"reasoning": 1}, "reasoning"),
    ],
)  # fmt: skip
def test_the_first_fault_in_the_general_order_is_named(body: dict[str, Any], path: str) -> None:
    with pytest.raises(TranslationError) as info:
        responses.parse_request(body)
    assert info.value.path == path


def test_scalars_convert_as_before() -> None:
    req = responses.parse_request({"input": "hi", "temperature": 1, "max_output_tokens": 8.0})
    assert req.temperature == 1.0 and type(req.temperature) is float
    assert req.max_tokens == 8 and type(req.max_tokens) is int
    assert responses.parse_request({"input": "hi", "text": {"format": None}}).extras is None
    kept = responses.parse_request(
        {"input": "hi", "text": {"verbosity": "low"}, "truncation": "auto"}
    )
    assert kept.extras == {"truncation": "auto", "text": {"verbosity": "low"}}


@given(
    st.sampled_from([Role.USER, Role.SYSTEM, Role.DEVELOPER]),
    st.sampled_from(["hi", ""]),
    st.sampled_from([None, {"type": "ephemeral"}]),
)
def test_one_text_part_turns_render_as_the_general_writer_renders_them(
    role: Role, text: str, cache: dict[str, str] | None
) -> None:
    m = Message(role, (TextPart(text, cache),))
    first = Message(Role.USER, (TextPart("first"),))  # so that a system turn is not hoisted
    rendered = responses.render_request(Request((first, m)))
    assert rendered["input"][1] == {"role": role.value, "content": render_input_content(m.content)}


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"output": 5, "status": 1}, "output"),
        ({"output": [5], "status": 1}, "output[0]"),
        ({"incomplete_details": 5, "status": 1}, "incomplete_details"),
        ({"status": 1, "incomplete_details": {"reason": 2}}, "status"),
        ({"incomplete_details": {"reason": 2}, "id": 1}, "incomplete_details.reason"),
        ({"id": 1, "model": 1, "usage": 1}, "id"),
        ({"model": 1, "usage": 1}, "model"),
        ({"usage": 1}, "usage"),
    ],
)
def test_response_faults_are_named_in_the_general_order(body: dict[str, Any], path: str) -> None:
    with pytest.raises(TranslationError) as info:
        responses.parse_response(body)
    assert info.value.path == path
