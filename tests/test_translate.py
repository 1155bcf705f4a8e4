"""translate_*: passthrough, hub-and-spoke translation, malformed input, streams and errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from openai.types.responses import Response as SDKResponse
from openai.types.responses import ResponseStreamEvent
from pydantic import TypeAdapter

from llm_router.errors import InvalidRequestError, TranslationError
from llm_router.translate import (
    StreamTranslator,
    translate_error,
    translate_request,
    translate_response,
)
from llm_router.types import ProviderFormat
from llm_router.universal import ErrorInfo, ErrorType

CORPUS = Path(__file__).resolve().parent / "corpus" / "captured"
OWN = ["openai", "responses", "mistral"]
EVENTS: TypeAdapter[Any] = TypeAdapter(ResponseStreamEvent)

CHAT_REQUEST = {
    "model": "gpt-5",
    "messages": [
        {"role": "system", "content": "sys"},
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "w", "arguments": '{"city":"Paris"}'}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
    ],
    "tools": [{"type": "function", "function": {"name": "w", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}],
    "tool_choice": "auto",
    "temperature": 0.5,
    "max_completion_tokens": 100,
}  # fmt: skip


def test_same_format_passes_bytes_through_untouched() -> None:
    body = b'{"model": "x",   "messages": []}'
    assert translate_request(body, "openai", ProviderFormat.OPENAI) is body
    assert translate_response(body, "responses", "responses") is body
    assert translate_request({"a": 1}, "google", "google") == b'{"a":1}'


def test_openai_request_to_responses_and_mistral() -> None:
    out = orjson.loads(translate_request(orjson.dumps(CHAT_REQUEST), "openai", "responses"))
    assert out["instructions"] == "sys"
    assert out["input"][1] == {"type": "function_call", "call_id": "c1", "name": "w", "arguments": '{"city":"Paris"}', "status": "completed"}  # fmt: skip
    assert out["input"][2] == {"type": "function_call_output", "call_id": "c1", "output": "sunny"}
    assert out["tools"][0]["strict"] is False and out["max_output_tokens"] == 100
    out = orjson.loads(translate_request(CHAT_REQUEST, "openai", "mistral"))
    assert out["max_tokens"] == 100 and out["temperature"] == 0.5
    assert out["messages"][2]["tool_calls"][0]["id"] == out["messages"][3]["tool_call_id"]
    back = orjson.loads(translate_request(orjson.dumps(out), "mistral", "openai"))
    assert back["messages"][1] == CHAT_REQUEST["messages"][1]


@pytest.mark.parametrize(
    ("body", "path"),
    [
        (b"{not json", ""),
        (b"[1, 2]", ""),
        (b'{"messages": [{"role": "user", "content": "a"}, {"role": "user", "content": [{"type": "hologram"}]}]}', "messages[1].content[0].type"),
        (b'{"messages": [], "max_completion_tokens": "lots"}', "max_completion_tokens"),
    ],
)  # fmt: skip
def test_malformed_requests_raise_invalid_request_with_path(body: bytes, path: str) -> None:
    with pytest.raises(InvalidRequestError) as info:
        translate_request(body, "openai", "responses")
    assert info.value.path == path
    assert info.value.status == 400


def test_unknown_format_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown format"):
        translate_request(b"{}", "openai", "smoke-signals")


_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=12,
)
_keys = st.sampled_from(
    ["model", "messages", "input", "tools", "tool_choice", "role", "content", "type", "text",
     "tool_calls", "function", "arguments", "name", "stop", "response_format", "text", "format",
     "reasoning", "instructions", "call_id", "output", "image_url", "url", "summary", "choices",
     "message", "usage", "id", "status", "delta", "finish_reason", "output_index", "item"]
)  # fmt: skip
_shaped = st.recursive(
    _json, lambda inner: st.dictionaries(_keys, inner, max_size=5) | st.lists(inner, max_size=3), max_leaves=25
)  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(body=_shaped, source=st.sampled_from(OWN), target=st.sampled_from(OWN))
def test_random_json_raises_only_documented_errors(body: Any, source: str, target: str) -> None:
    raw = orjson.dumps(body)
    for call in (
        lambda: translate_request(raw, source, target),
        lambda: translate_response(raw, source, target),
    ):
        try:
            call()
        except (InvalidRequestError, TranslationError) as exc:
            # Our own formats validate as they read: every refusal names what was wrong.
            assert exc.message and "unexpected shape" not in exc.message


@settings(max_examples=100, deadline=None)
@given(
    events=st.lists(_shaped, max_size=6), source=st.sampled_from(OWN), target=st.sampled_from(OWN)
)
def test_random_stream_events_raise_only_documented_errors(
    events: list[Any], source: str, target: str
) -> None:
    translator = StreamTranslator(source, target)
    try:
        for event in events:
            translator.feed(orjson.dumps(event))
        translator.finish()
    except TranslationError as exc:
        assert "unexpected shape" not in exc.message


def test_response_translation_validates_with_sdk_types() -> None:
    body = (CORPUS / "toolCallRequest" / "chat-completions" / "response.json").read_bytes()
    SDKResponse.model_validate(orjson.loads(translate_response(body, "openai", "responses")))
    body = (CORPUS / "toolCallRequest" / "responses" / "response.json").read_bytes()
    out = orjson.loads(translate_response(body, "responses", "openai"))
    ChatCompletion.model_validate(out)
    assert out["choices"][0]["message"]["tool_calls"][0]["function"]["name"] == "get_weather"
    assert out["choices"][0]["finish_reason"] == "tool_calls"


def stream(path: Path) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = json.loads(path.read_bytes())
    return events


def test_stream_openai_to_responses_end_to_end() -> None:
    translator = StreamTranslator("openai", "responses")
    out = []
    for event in stream(
        CORPUS / "toolCallRequest" / "chat-completions" / "response-streaming.json"
    ):
        out.extend(translator.feed(orjson.dumps(event)))
    out.extend(translator.feed(b"[DONE]"))
    out.extend(translator.finish())
    assert translator.finish() == []
    parsed = [EVENTS.validate_python(orjson.loads(e.data)) for e in out]
    assert [p.sequence_number for p in parsed] == list(range(len(parsed)))
    assert parsed[0].type == "response.created" and parsed[-1].type == "response.completed"
    assert parsed[-1].response.output[-1].type == "function_call"


def test_stream_responses_to_openai_end_to_end() -> None:
    translator = StreamTranslator(ProviderFormat.RESPONSES, ProviderFormat.OPENAI)
    out = []
    for event in stream(CORPUS / "simpleRequest" / "responses" / "response-streaming.json"):
        out.extend(translator.feed(event))
    out.extend(translator.finish())
    assert out[-1].data == b"[DONE]" and out[-1].to_sse() == b"data: [DONE]\n\n"
    chunks = [ChatCompletionChunk.model_validate(orjson.loads(e.data)) for e in out[:-1]]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert "Paris" in text
    assert chunks[-1].usage is not None and chunks[-1].choices == []


def test_same_format_streams_pass_through_with_event_names() -> None:
    translator = StreamTranslator("responses", "responses")
    raw = b'{"type":"response.output_text.delta","delta":"x","sequence_number":4}'
    (event,) = translator.feed(raw)
    assert event.event == "response.output_text.delta" and event.data is raw
    assert translator.finish() == []

    translator = StreamTranslator("openai", "openai")
    assert translator.feed(b'{"choices":[]}')[0].event is None
    assert [e.data for e in translator.feed(b"[DONE]")] == [b"[DONE]"]
    assert translator.finish() == []  # [DONE] is sent once

    translator = StreamTranslator("mistral", "mistral")
    translator.feed({"choices": []})
    assert [e.data for e in translator.finish()] == [b"[DONE]"]

    translator = StreamTranslator("converse", "converse")
    (event,) = translator.feed({"messageStart": {"role": "assistant"}})
    assert event.event == "messageStart" and orjson.loads(event.data) == {"role": "assistant"}


def test_fail_renders_an_error_event_in_the_target_format() -> None:
    error = ErrorInfo(ErrorType.OVERLOADED, "try later")
    (event,) = StreamTranslator("responses", "openai").fail(error)
    assert orjson.loads(event.data)["error"]["message"] == "try later"
    (event,) = StreamTranslator("openai", "responses").fail(error)
    assert event.event == "error" and orjson.loads(event.data)["message"] == "try later"


def test_translate_error_between_formats() -> None:
    body = b'{"error": {"message": "slow down", "type": "requests", "code": "rate_limit_exceeded"}}'
    assert translate_error(429, body, "openai", "openai") == (429, body)
    status, out = translate_error(429, body, "openai", "mistral")
    assert status == 429 and orjson.loads(out)["type"] == "rate_limit_error"
    detail = b'{"detail": [{"loc": ["body", "model"], "msg": "Field required", "type": "missing"}]}'
    status, out = translate_error(422, detail, "mistral", "responses")
    error = orjson.loads(out)["error"]
    assert status == 422 and error["type"] == "invalid_request_error" and error["param"] == "model"
    status, out = translate_error(502, b"<html>bad gateway</html>", "openai", "mistral")
    assert status == 502 and "bad gateway" in orjson.loads(out)["message"]


def test_openai_target_can_leave_out_the_usage_chunk() -> None:
    translator = StreamTranslator("responses", "openai", include_usage=False)
    out = []
    for event in stream(CORPUS / "simpleRequest" / "responses" / "response-streaming.json"):
        out.extend(translator.feed(event))
    out.extend(translator.finish())
    assert out[-1].data == b"[DONE]"
    assert all(orjson.loads(e.data)["choices"] for e in out[:-1])


@pytest.mark.parametrize("name", OWN)
def test_registry_returns_modules_with_the_uniform_interface(name: str) -> None:
    from llm_router.formats import get_format

    module = get_format(name)
    assert module is get_format(ProviderFormat(name))
    for attr in ("parse_request", "render_request", "parse_response", "render_response",
                 "parse_error", "render_error"):  # fmt: skip
        assert callable(getattr(module, attr))
    assert module.StreamParser().finish() == []
    assert module.StreamRenderer().finish() == []  # nothing started, nothing to close


@pytest.mark.parametrize(
    ("source", "body"),
    [
        (
            "openai",
            {
                "id": "x",
                "object": "chat.completion",
                "created": 1,
                "model": "m",
                "choices": [],
                "usage": {"prompt_tokens": 1.8e19, "completion_tokens": 1, "total_tokens": 2},
            },
        ),
        (
            "anthropic",
            {
                "id": "x",
                "type": "message",
                "role": "assistant",
                "model": "m",
                "content": [],
                "stop_reason": "end_turn",
                "usage": {"input_tokens": 1.8e19, "output_tokens": 1},
            },
        ),
    ],
)
def test_integral_floats_beyond_int64_are_refused_with_a_path(
    source: str, body: dict[str, object]
) -> None:
    # orjson cannot write such an int: it must be refused at parse time, not crash at render time.
    with pytest.raises(TranslationError) as info:
        translate_response(orjson.dumps(body), source, "google")
    assert info.value.path is not None and "tokens" in info.value.path
