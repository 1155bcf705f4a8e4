"""The canonical answer rules: echo, tool calls, structured output, token counts, truncation."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llm_router_testing.fake.answers import (
    DEFAULT_TEXT,
    derive_answer,
    json_slices,
    minimal_json,
    split_words,
)
from llm_router_testing.fake.wire import FinishReason, Prompt, ToolChoice, ToolSpec

WEATHER = ToolSpec(
    "get_weather",
    {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]},
)


def test_text_answer_echoes_the_last_text_one_token_per_word() -> None:
    answer = derive_answer(Prompt(model="m", last_text="hello big world", input_words=7))
    assert answer.text == "You said: hello big world"
    assert answer.pieces == ("You ", "said: ", "hello ", "big ", "world")
    assert (answer.input_tokens, answer.output_tokens, answer.total_tokens) == (7, 5, 12)
    assert answer.finish is FinishReason.STOP
    assert answer.tool_call is None


def test_empty_conversation_gets_the_default_text_and_one_input_token() -> None:
    answer = derive_answer(Prompt(model="m"))
    assert answer.text == DEFAULT_TEXT
    assert answer.input_tokens == 1


def test_forced_answer_wins_over_a_required_tool() -> None:
    prompt = Prompt(model="m", tools=(WEATHER,), tool_choice=ToolChoice("required"))
    answer = derive_answer(prompt, forced_text="exactly this")
    assert answer.text == "exactly this"
    assert answer.tool_call is None


def test_auto_tool_choice_answers_in_text() -> None:
    answer = derive_answer(Prompt(model="m", last_text="hi", tools=(WEATHER,)))
    assert answer.tool_call is None


def test_required_tool_choice_calls_the_first_tool_with_minimal_arguments() -> None:
    other = ToolSpec("other", {"type": "object"})
    answer = derive_answer(
        Prompt(model="m", tools=(WEATHER, other), tool_choice=ToolChoice("required"))
    )
    call = answer.tool_call
    assert call is not None
    assert call.name == "get_weather"
    assert call.arguments_object() == {"location": ""}
    assert len(call.fragments) >= 2
    assert "".join(call.fragments) == call.arguments
    assert answer.finish is FinishReason.TOOL_CALL
    assert answer.output_tokens == len(call.fragments)


def test_named_tool_choice_calls_that_tool() -> None:
    other = ToolSpec("other", {"type": "object", "properties": {}})
    answer = derive_answer(
        Prompt(model="m", tools=(WEATHER, other), tool_choice=ToolChoice("named", "other"))
    )
    assert answer.tool_call is not None
    assert answer.tool_call.name == "other"
    assert answer.tool_call.arguments == "{}"


def test_tiny_max_tokens_truncates_with_length_reason() -> None:
    answer = derive_answer(Prompt(model="m", last_text="one two three", max_tokens=2))
    assert answer.pieces == ("You ", "said: ")
    assert answer.finish is FinishReason.LENGTH
    assert answer.output_tokens == 2


def test_zero_max_tokens_still_answers_one_token() -> None:
    answer = derive_answer(Prompt(model="m", last_text="x", max_tokens=0))
    assert len(answer.pieces) == 1
    assert answer.output_tokens == 1


def test_json_schema_answer_is_the_minimal_document() -> None:
    schema = {
        "type": "object",
        "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 18}},
        "required": ["name", "age"],
        "additionalProperties": False,
    }
    answer = derive_answer(Prompt(model="m", json_schema=schema))
    assert orjson.loads(answer.text) == {"name": "", "age": 18}
    assert all(len(piece) <= 8 for piece in answer.pieces)


def test_json_mode_wraps_the_echo() -> None:
    answer = derive_answer(Prompt(model="m", last_text="hi", json_mode=True))
    assert orjson.loads(answer.text) == {"answer": "You said: hi"}


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        ({"type": "STRING"}, ""),
        ({"type": ["null", "number"], "exclusiveMinimum": 2}, 2.5),
        ({"type": "integer", "exclusiveMinimum": 2.5}, 3),
        ({"type": "integer", "maximum": -3}, -3),
        ({"type": "string", "minLength": 3}, "xxx"),
        ({"type": "string", "format": "date-time"}, "1970-01-01T00:00:00Z"),
        ({"enum": ["b", "a"]}, "b"),
        ({"const": 7}, 7),
        ({"type": "boolean"}, False),
        ({"anyOf": [{"type": "null"}, {"type": "integer"}]}, 0),
        ({"type": "array", "items": {"type": "integer"}, "minItems": 2}, [0, 0]),
        ({"type": "array", "prefixItems": [{"type": "string"}], "minItems": 1}, [""]),
        (
            {
                "allOf": [
                    {"properties": {"a": {"type": "integer"}}, "required": ["a"]},
                    {"properties": {"b": {"type": "string"}}, "required": ["b"]},
                ]
            },
            {"a": 0, "b": ""},
        ),
        (
            {
                "$defs": {
                    "Item": {"type": "object", "properties": {"x": {"const": 1}}, "required": ["x"]}
                },
                "type": "object",
                "properties": {"item": {"$ref": "#/$defs/Item"}},
                "required": ["item"],
            },
            {"item": {"x": 1}},
        ),
    ],
)
def test_minimal_json(schema: dict[str, Any], expected: Any) -> None:
    assert minimal_json(schema, schema) == expected


_leaf = st.sampled_from(
    [
        {"type": "string"},
        {"type": "integer", "minimum": 3},
        {"type": "number", "exclusiveMaximum": -1},
        {"type": "boolean"},
        {"type": "null"},
        {"enum": ["x", "y"]},
        {"type": "string", "format": "email"},
        {"type": "string", "minLength": 2, "maxLength": 5},
    ]
)
_schemas = st.recursive(
    _leaf,
    lambda inner: st.one_of(
        st.dictionaries(st.sampled_from("abcde"), inner, max_size=4).map(
            lambda props: {"type": "object", "properties": props, "required": sorted(props)}
        ),
        st.tuples(inner, st.integers(0, 3)).map(
            lambda pair: {"type": "array", "items": pair[0], "minItems": pair[1]}
        ),
        st.lists(inner, min_size=1, max_size=3).map(lambda branches: {"anyOf": branches}),
    ),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None)
@given(_schemas)
def test_minimal_json_is_valid_against_its_schema(schema: dict[str, Any]) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.validate(minimal_json(schema, schema), schema)


@given(st.text(max_size=60))
def test_split_words_round_trips_and_counts_words(text: str) -> None:
    pieces = split_words(text)
    assert "".join(pieces) == text
    assert len(pieces) == max(len(text.split()), 1 if text else 0)


@given(st.text(max_size=40), st.integers(1, 4))
def test_json_slices_round_trip_with_the_minimum_count(text: str, minimum: int) -> None:
    pieces = json_slices(text, minimum=minimum)
    assert "".join(pieces) == text
    if len(text) >= minimum:
        assert len(pieces) >= minimum
