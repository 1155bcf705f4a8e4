"""The Chat response engine's direct reader and writer agree with its general ones.

A plain answer (one string of content, nothing else) is read without `parse_assistant` and
written without the general message writer; these tests draw answers of every shape and check
that both paths give the same value, and that usage faults are named in field order.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llm_router.errors import TranslationError
from llm_router.formats import mistral, openai
from llm_router.formats._chat_request import ChatDialect, parse_assistant
from llm_router.formats._chat_response import (
    _render_message,
    parse_chat_response,
    render_chat_response,
)
from llm_router.universal import (
    ContentPart,
    ReasoningPart,
    RefusalPart,
    Response,
    TextPart,
    ToolCallPart,
)

DIALECTS = [openai.DIALECT, mistral.DIALECT]
_ABSENT = object()


def _key(values: list[Any]) -> st.SearchStrategy[Any]:
    return st.sampled_from([_ABSENT, *values])


_messages = st.fixed_dictionaries(
    {
        "role": _key(["assistant", None, 3]),
        "content": _key(["hello", "", None, 7, [{"type": "text", "text": "hi"}]]),
        "name": _key(["ann", None, 5]),
        "tool_calls": _key(
            [None, [], [{"id": "c", "function": {"name": "f", "arguments": "{}"}}], "x"]
        ),
        "refusal": _key([None, "", "no", 1]),
        "reasoning_content": _key([None, "", "think", 2]),
        "reasoning": _key([None, "think"]),
        "reasoning_signature": _key([None, "sig"]),
    }
).map(lambda d: {k: v for k, v in d.items() if v is not _ABSENT})


def _outcome(fn: Any) -> Any:
    try:
        return fn()
    except TranslationError as exc:
        return ("error", exc.message, exc.path)


@settings(max_examples=500)
@given(_messages, st.sampled_from(DIALECTS))
def test_answers_read_as_the_general_reader_reads_them(m: dict[str, Any], d: ChatDialect) -> None:
    got = _outcome(lambda: parse_chat_response({"choices": [{"message": m}]}, d).content)
    expected = _outcome(lambda: parse_assistant(m, "choices[0].message", d).content)
    assert got == expected


_parts: st.SearchStrategy[ContentPart] = st.one_of(
    st.builds(TextPart, st.sampled_from(["hi", ""])),
    st.builds(ToolCallPart, st.just("call_1"), st.just("f")),
    st.builds(RefusalPart, st.just("no")),
    st.builds(ReasoningPart, st.sampled_from(["", "think"])),
)


@given(st.lists(_parts, max_size=3), st.sampled_from(DIALECTS))
def test_answers_render_as_the_general_writer_renders_them(
    parts: list[ContentPart], d: ChatDialect
) -> None:
    content = tuple(parts)
    resp = Response(content, id="chatcmpl-1", created=1)
    message = render_chat_response(resp, d)["choices"][0]["message"]
    assert message == _render_message(content, d, [])


@pytest.mark.parametrize(
    ("usage", "path"),
    [
        ({"prompt_tokens": "a", "prompt_tokens_details": {"cached_tokens": "b"}}, "usage.prompt_tokens"),
        ({"completion_tokens": "a", "prompt_tokens_details": {"cached_tokens": "b"}}, "usage.completion_tokens"),
        ({"total_tokens": "a", "prompt_tokens_details": {"cached_tokens": "b"}}, "usage.prompt_tokens_details.cached_tokens"),
        ({"total_tokens": "a", "completion_tokens_details": {"reasoning_tokens": "b"}}, "usage.completion_tokens_details.reasoning_tokens"),
    ],
)  # fmt: skip
def test_usage_faults_are_named_in_field_order(usage: dict[str, Any], path: str) -> None:
    with pytest.raises(TranslationError) as info:
        openai.parse_response({"choices": [], "usage": usage})
    assert info.value.path == path


def test_top_level_extras_kept_for_the_same_dialect() -> None:
    resp = openai.parse_response(
        {"choices": [], "service_tier": "default", "system_fingerprint": None}
    )
    assert resp.extras == {"service_tier": "default"} and resp.extras_origin == "openai"
    assert openai.parse_response({"choices": []}).extras is None


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"choices": 5, "id": 1}, "choices"),
        ({"choices": [{"message": 5}], "id": 1}, "choices[0].message"),
        ({"choices": [{"finish_reason": 5}], "model": 1}, "choices[0].finish_reason"),
        ({"id": 1, "model": 1, "created": "x", "usage": 1}, "id"),
        ({"model": 1, "created": "x", "usage": 1}, "model"),
        ({"created": 1.5, "usage": 1}, "created"),
        ({"usage": 1}, "usage"),
    ],
)
def test_response_faults_are_named_in_the_general_order(body: dict[str, Any], path: str) -> None:
    with pytest.raises(TranslationError) as info:
        openai.parse_response(body)
    assert info.value.path == path
    assert openai.parse_response({"choices": [], "created": 7.0}).created == 7
