"""OpenAI Chat Completions <-> universal: requests, responses, streams, errors, and the corpus."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from llm_router.errors import TranslationError
from llm_router.formats import openai
from llm_router.types import StreamEvent
from llm_router.universal import (
    BlockStop,
    DocumentPart,
    ErrorInfo,
    ErrorType,
    Finish,
    FinishReason,
    ImagePart,
    Message,
    MessageStart,
    ProviderTool,
    ReasoningDelta,
    ReasoningMode,
    ReasoningPart,
    Request,
    Response,
    ResponseFormatType,
    Role,
    StreamDelta,
    StreamErrorDelta,
    TextDelta,
    TextPart,
    Tool,
    ToolCallDelta,
    ToolCallPart,
    ToolCallStart,
    ToolChoice,
    ToolChoiceMode,
    ToolResultPart,
    Usage,
    UsageDelta,
)

CORPUS = Path(__file__).resolve().parents[1] / "corpus" / "captured"


def corpus(kind: str) -> list[Path]:
    """Corpus files of one kind: "request", "response" (whole bodies) or "streaming"."""
    paths = CORPUS.glob(f"*/chat-completions/*{kind}*.json")
    return sorted(p for p in paths if kind == "streaming" or "streaming" not in p.name)


def load(path: Path) -> Any:
    return json.loads(path.read_bytes())


def render_stream(deltas: list[StreamDelta], **kw: bool) -> list[StreamEvent]:
    renderer = openai.StreamRenderer(**kw)
    events = [e for d in deltas for e in renderer.feed(d)]
    return events + renderer.finish()


def parse_stream(chunks: list[dict[str, Any]]) -> list[StreamDelta]:
    parser = openai.StreamParser()
    return [d for c in chunks for d in parser.feed(c)] + parser.finish()


# --------------------------------------------------------------------------- requests


def test_parse_request_covers_messages_tools_and_params() -> None:
    body = {
        "model": "gpt-5",
        "messages": [
            {"role": "developer", "content": "be brief"},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "look", "cache_control": {"type": "ephemeral"}},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAA="}},
                    {"type": "image_url", "image_url": {"url": "https://x/y.jpg", "detail": "low"}},
                    {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVB=", "filename": "a.pdf"}},
                ],
            },
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"a":1}'}},
                    {"id": "c2", "type": "function", "function": {"name": "g", "arguments": "{}"}},
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": "one"},
        ],
        "tools": [
            {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}, "strict": True}},
            {"type": "custom", "custom": {"name": "raw"}},
        ],
        "tool_choice": {"type": "function", "function": {"name": "f"}},
        "response_format": {"type": "json_schema", "json_schema": {"name": "r", "schema": {"type": "object"}, "strict": True}},
        "reasoning_effort": "high",
        "max_tokens": 5,
        "max_completion_tokens": 50,
        "stop": "END",
        "seed": 7,
        "temperature": 1,
        "stream": True,
        "stream_options": {"include_usage": True},
        "logit_bias": {"1": 2},
    }  # fmt: skip
    req = openai.parse_request(body)
    assert req.model == "gpt-5"
    assert [m.role for m in req.messages] == [Role.DEVELOPER, Role.USER, Role.ASSISTANT, Role.TOOL]
    user = req.messages[1].content
    assert user[0] == TextPart("look", cache_control={"type": "ephemeral"})
    assert user[1] == ImagePart(data="AAA=", media_type="image/png")
    assert user[2] == ImagePart(url="https://x/y.jpg", detail="low")
    assert user[3] == DocumentPart(data="JVB=", media_type="application/pdf", name="a.pdf")
    assert req.messages[2].content == (
        ToolCallPart("c1", "f", '{"a":1}'),
        ToolCallPart("c2", "g", "{}"),
    )
    assert req.messages[3].content == (ToolResultPart("c1", (TextPart("one"),)),)
    assert req.tools[0] == Tool("f", None, {"type": "object"}, True)
    assert isinstance(req.tools[1], ProviderTool) and req.tools[1].origin == "openai"
    assert req.tool_choice == ToolChoice(ToolChoiceMode.NAMED, "f")
    assert req.response_format is not None
    assert req.response_format.type is ResponseFormatType.JSON_SCHEMA
    assert req.response_format.name == "r" and req.response_format.strict is True
    assert req.reasoning is not None and req.reasoning.effort == "high"
    assert req.max_tokens == 50  # max_completion_tokens wins over the deprecated field
    assert req.stop == ("END",) and req.seed == 7 and req.temperature == 1.0
    assert req.stream and req.stream_include_usage is True
    assert req.extras == {"logit_bias": {"1": 2}} and req.extras_origin == "openai"


def test_render_request_from_universal() -> None:
    req = Request(
        model="m",
        messages=(
            Message(Role.SYSTEM, (TextPart("sys"),)),
            Message(Role.USER, (TextPart("hi"), ImagePart(data="QUJD", media_type="image/png"))),
            Message(
                Role.ASSISTANT,
                (
                    ReasoningPart("thought", signature="sig", origin="anthropic"),
                    TextPart("calling"),
                    ToolCallPart("t1", "f", '{"x":1}'),
                ),
            ),
            Message(
                Role.TOOL,
                (ToolResultPart("t1", (TextPart("ok"),), is_error=True), TextPart("and more")),
            ),
        ),
        tools=(
            Tool("f", "does f", {"type": "object"}),
            ProviderTool("anthropic", {"type": "bash"}),
        ),
        tool_choice=ToolChoice(ToolChoiceMode.REQUIRED),
        reasoning=None,
        max_tokens=10,
        top_k=5,
        stop=("a", "b"),
        stream=True,
    )
    out = openai.render_request(req, default_max_tokens=999)
    assert out == {
        "model": "m",
        "messages": [
            {"role": "system", "content": "sys"},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "hi"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,QUJD"}},
                ],
            },
            {
                "role": "assistant",
                "content": "calling",
                "tool_calls": [
                    {"id": "t1", "type": "function", "function": {"name": "f", "arguments": '{"x":1}'}}
                ],
            },
            {"role": "tool", "tool_call_id": "t1", "content": "ok"},
            {"role": "user", "content": "and more"},
        ],
        "tools": [
            {"type": "function", "function": {"name": "f", "description": "does f", "parameters": {"type": "object"}}}
        ],
        "tool_choice": "required",
        "max_completion_tokens": 10,
        "stop": ["a", "b"],
        "stream": True,
        "stream_options": {"include_usage": True},
    }  # fmt: skip


def test_reasoning_config_renders_as_effort() -> None:
    from llm_router.universal import ReasoningConfig

    def effort(cfg: ReasoningConfig) -> Any:
        return openai.render_request(Request((), reasoning=cfg)).get("reasoning_effort")

    assert effort(ReasoningConfig(ReasoningMode.ENABLED, budget_tokens=2000)) == "low"
    assert effort(ReasoningConfig(ReasoningMode.ENABLED, budget_tokens=20000)) == "high"
    assert effort(ReasoningConfig(ReasoningMode.DISABLED)) is None
    assert effort(ReasoningConfig(effort="minimal")) == "minimal"
    assert openai.parse_request({"messages": [], "reasoning_effort": "none"}).reasoning == (
        ReasoningConfig(ReasoningMode.DISABLED, effort="none")
    )


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"messages": "hi"}, "messages"),
        ({"messages": [1]}, "messages[0]"),
        ({"messages": [{"role": "user", "content": [{"type": "video"}]}]}, "messages[0].content[0].type"),
        ({"messages": [{"role": "user", "content": 5}]}, "messages[0].content"),
        ({"messages": [{"role": "robot", "content": "x"}]}, "messages[0].role"),
        ({"messages": [{"role": "tool", "content": "x"}]}, "messages[0].tool_call_id"),
        ({"messages": [], "temperature": "hot"}, "temperature"),
        ({"messages": [], "stop": [1]}, "stop"),
        ({"messages": [], "tool_choice": "sometimes"}, "tool_choice"),
        ({"messages": [], "tools": [{"type": "function", "function": {"name": 3}}]}, "tools[0].function.name"),
        ({"messages": [], "response_format": {"type": "yaml"}}, "response_format.type"),
    ],
)  # fmt: skip
def test_malformed_requests_name_the_field(body: dict[str, Any], path: str) -> None:
    with pytest.raises(TranslationError) as info:
        openai.parse_request(body)
    assert info.value.path == path


@pytest.mark.parametrize("path", corpus("request"), ids=lambda p: f"{p.parts[-3]}/{p.name}")
def test_corpus_requests_round_trip(path: Path) -> None:
    original = openai.parse_request(load(path))
    rendered = openai.render_request(original)
    assert openai.parse_request(orjson.loads(orjson.dumps(rendered))) == original
    assert rendered["messages"] and rendered.get("model") == load(path).get("model")


# --------------------------------------------------------------------------- responses


@pytest.mark.parametrize("path", corpus("response"), ids=lambda p: f"{p.parts[-3]}/{p.name}")
def test_corpus_responses_round_trip_and_validate(path: Path) -> None:
    original = openai.parse_response(load(path))
    rendered = openai.render_response(original)
    ChatCompletion.model_validate(rendered)
    assert openai.parse_response(rendered) == original


def test_response_mapping_of_tool_calls_usage_and_finish() -> None:
    body = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 5,
        "model": "gpt",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": "hi",
                    "reasoning_content": "hmm",
                    "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}],
                },
                "finish_reason": "tool_calls",
            }
        ],
        "usage": {
            "prompt_tokens": 10, "completion_tokens": 4, "total_tokens": 14,
            "prompt_tokens_details": {"cached_tokens": 3},
            "completion_tokens_details": {"reasoning_tokens": 2},
        },
    }  # fmt: skip
    resp = openai.parse_response(body)
    assert resp.content == (
        ReasoningPart("hmm", origin="openai"),
        TextPart("hi"),
        ToolCallPart("c", "f", "{}"),
    )
    assert resp.finish_reason is FinishReason.TOOL_CALLS
    assert resp.usage == Usage(10, 4, 3, None, 2, 14)
    out = openai.render_response(
        Response(resp.content, finish_reason=FinishReason.CONTEXT_WINDOW, usage=resp.usage)
    )
    ChatCompletion.model_validate(out)
    assert out["choices"][0]["finish_reason"] == "length"
    assert out["choices"][0]["message"]["reasoning_content"] == "hmm"
    assert out["usage"]["prompt_tokens_details"] == {"cached_tokens": 3}


# --------------------------------------------------------------------------- streams


def test_stream_parser_tracks_tool_fragments_by_index() -> None:
    chunks = [
        {"id": "x", "model": "m", "created": 1, "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hi"}}]},
        {"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "id": "a", "type": "function", "function": {"name": "f", "arguments": ""}}]}}]},
        {"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": '{"q":'}}]}}]},
        {"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 1, "id": "b", "function": {"name": "g", "arguments": "{}"}}]}}]},
        {"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": "1}"}}]}}]},
        {"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]},
        {"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}},
    ]  # fmt: skip
    assert parse_stream(chunks) == [
        MessageStart("x", "m", 1),
        TextDelta(0, "Hi"),
        BlockStop(0),
        ToolCallStart(1, "a", "f"),
        ToolCallDelta(1, '{"q":'),
        BlockStop(1),
        ToolCallStart(2, "b", "g"),
        ToolCallDelta(2, "{}"),
        ToolCallDelta(1, "1}"),  # a late fragment still reaches its own call
        BlockStop(2),
        Finish(FinishReason.TOOL_CALLS),
        UsageDelta(Usage(3, 2, total_tokens=5)),
    ]


def test_stream_renderer_emits_sdk_chunks_usage_then_done() -> None:
    deltas: list[StreamDelta] = [
        MessageStart("id1", "gpt", 7),
        ReasoningDelta(0, "think"),
        TextDelta(1, "Hello"),
        ToolCallStart(2, "call_1", "f"),
        ToolCallDelta(2, '{"a":'),
        ToolCallDelta(2, "1}"),
        Finish(FinishReason.TOOL_CALLS),
        UsageDelta(Usage(5, 6)),
    ]
    events = render_stream(deltas)
    assert all(e.event is None for e in events)
    assert events[-1].data == b"[DONE]"
    chunks = [ChatCompletionChunk.model_validate(orjson.loads(e.data)) for e in events[:-1]]
    assert {c.id for c in chunks} == {"id1"} and {c.model for c in chunks} == {"gpt"}
    assert chunks[0].choices[0].delta.role == "assistant"
    calls = [
        c.choices[0].delta.tool_calls for c in chunks if c.choices and c.choices[0].delta.tool_calls
    ]
    assert calls[0] is not None and calls[0][0].id == "call_1" and calls[0][0].index == 0
    assert "".join(c[0].function.arguments or "" for c in calls if c and c[0].function) == '{"a":1}'
    assert chunks[-2].choices[0].finish_reason == "tool_calls"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.total_tokens == 11


def test_stream_renderer_without_usage_and_truncated_streams() -> None:
    events = render_stream(
        [TextDelta(0, "x"), Finish(FinishReason.STOP), UsageDelta(Usage(1, 1))], include_usage=False
    )
    assert [orjson.loads(e.data) for e in events[:-1]][-1]["choices"][0]["finish_reason"] == "stop"
    assert all(b'"usage"' not in e.data for e in events)
    # No Finish: the stream was cut upstream, so no [DONE] tells the caller it completed.
    assert render_stream([TextDelta(0, "x")])[-1].data != b"[DONE]"


def test_stream_errors_both_ways() -> None:
    (delta,) = openai.StreamParser().feed({"error": {"message": "boom", "type": "server_error"}})
    assert isinstance(delta, StreamErrorDelta) and delta.error.message == "boom"
    events = render_stream([TextDelta(0, "x"), delta, Finish(FinishReason.STOP)])
    assert orjson.loads(events[-1].data)["error"]["message"] == "boom"
    assert b"[DONE]" not in [e.data for e in events]


@pytest.mark.parametrize("path", corpus("streaming"), ids=lambda p: f"{p.parts[-3]}/{p.name}")
def test_corpus_streams_reassemble_and_rerender(path: Path) -> None:
    chunks = load(path)
    deltas = parse_stream(chunks)
    text = "".join(d.text for d in deltas if isinstance(d, TextDelta))
    wire_text = "".join(
        c["choices"][0]["delta"].get("content") or "" for c in chunks if c.get("choices")
    )
    assert text == wire_text
    events = render_stream(deltas)
    for event in events[:-1]:
        ChatCompletionChunk.model_validate(orjson.loads(event.data))
    assert events[-1].data == b"[DONE]"
    assert parse_stream([orjson.loads(e.data) for e in events[:-1]])[1:] == deltas[1:]


# --------------------------------------------------------------------------- errors


def test_errors_parse_and_render() -> None:
    err = openai.parse_error(
        400, {"error": {"message": "too long", "type": "invalid_request_error", "param": "messages", "code": "context_length_exceeded"}}
    )  # fmt: skip
    assert err.type is ErrorType.CONTEXT_WINDOW and err.param == "messages"
    status, body = openai.render_error(err)
    assert status == 400 and body["error"]["code"] == "context_length_exceeded"
    assert openai.parse_error(429, "slow down") == ErrorInfo(ErrorType.RATE_LIMIT, "slow down", 429)
    assert openai.parse_error(502, None).message == "HTTP 502"
    status, body = openai.render_error(ErrorInfo(ErrorType.OVERLOADED, "busy"))
    assert status == 503 and body["error"]["type"] == "server_error"
