"""Anthropic Messages <-> universal: requests, responses, streams, errors, Bedrock/Vertex bodies."""

from __future__ import annotations

import base64
from typing import Any

import orjson
import pytest
from _captured import captured, essence, stream_essence
from anthropic.types import Message as SDKMessage
from anthropic.types import RawMessageStreamEvent
from anthropic.types.message_create_params import MessageCreateParamsNonStreaming
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from llm_router.errors import TranslationError
from llm_router.formats import anthropic
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
    ProviderPart,
    ReasoningConfig,
    ReasoningDelta,
    ReasoningMode,
    ReasoningPart,
    ReasoningSignatureDelta,
    Request,
    Response,
    ResponseFormat,
    ResponseFormatType,
    Role,
    StreamDelta,
    StreamErrorDelta,
    TextDelta,
    TextPart,
    ToolCallDelta,
    ToolCallPart,
    ToolCallStart,
    ToolChoice,
    ToolChoiceMode,
    ToolResultPart,
    Usage,
    UsageDelta,
)

STREAM_EVENT = TypeAdapter(RawMessageStreamEvent)
CREATE_PARAMS = TypeAdapter(MessageCreateParamsNonStreaming)
FORMATS = ("anthropic", "bedrock-anthropic", "vertex-anthropic")


def _params(kind: str) -> list[Any]:
    return [
        pytest.param(obj, id=f"{fmt}:{name}")
        for fmt in FORMATS
        for name, obj in captured(fmt, kind)
    ]


def _render_stream(deltas: list[StreamDelta]) -> list[StreamEvent]:
    renderer = anthropic.StreamRenderer()
    events = [e for d in deltas for e in renderer.feed(d)]
    return events + renderer.finish()


def _parse_stream(events: list[Any]) -> list[StreamDelta]:
    parser = anthropic.StreamParser()
    return [d for e in events for d in parser.feed(e)] + parser.finish()


# --------------------------------------------------------------------------- captured corpus


@pytest.mark.parametrize("body", _params("request"))
def test_captured_request_round_trips(body: dict[str, Any]) -> None:
    req = anthropic.parse_request(body)
    rendered = anthropic.render_request(req)
    assert essence(anthropic.parse_request(rendered)) == essence(req)
    assert rendered["max_tokens"] == body["max_tokens"]
    if "model" in rendered:  # Bedrock and Vertex bodies carry no model
        CREATE_PARAMS.validate_python({k: v for k, v in rendered.items() if k != "stream"})
    assert [t.get("name") for t in rendered.get("tools", [])] == [
        t.get("name") for t in body.get("tools", [])
    ]


@pytest.mark.parametrize("body", _params("response"))
def test_captured_response_round_trips_and_validates(body: dict[str, Any]) -> None:
    resp = anthropic.parse_response(body)
    rendered = anthropic.render_response(resp)
    SDKMessage.model_validate(rendered)
    assert essence(anthropic.parse_response(rendered)) == essence(resp)
    assert rendered["stop_reason"] == body["stop_reason"]
    assert rendered["usage"]["input_tokens"] == body["usage"]["input_tokens"]
    assert rendered["usage"]["cache_read_input_tokens"] == body["usage"]["cache_read_input_tokens"]


@pytest.mark.parametrize(
    "events",
    [p for p in _params("response-streaming") if p.values[0][0].get("type") == "message_start"],
)
def test_captured_stream_round_trips_and_validates(events: list[dict[str, Any]]) -> None:
    deltas = _parse_stream(events)
    rendered = _render_stream(deltas)
    names = [e.event for e in rendered]
    assert names[0] == "message_start" and names[-2:] == ["message_delta", "message_stop"]
    assert "ping" not in names
    decoded = [orjson.loads(e.data) for e in rendered]
    for event, payload in zip(rendered, decoded, strict=True):
        STREAM_EVENT.validate_python(payload)
        assert payload["type"] == event.event
    assert stream_essence(_parse_stream(decoded)) == stream_essence(deltas)


@pytest.mark.parametrize(
    "body",
    [pytest.param(b, id=n) for fmt in ("google", "bedrock") for n, b in captured(fmt, "request")],
)
def test_requests_from_other_formats_validate_with_the_sdk(body: dict[str, Any]) -> None:
    from llm_router.formats import converse, google

    source = google if "contents" in body else converse
    req = source.parse_request(body)
    rendered = anthropic.render_request(req)
    CREATE_PARAMS.validate_python({**rendered, "model": "claude-x"})
    # Another family's reasoning cannot be replayed to Anthropic; everything else is kept.
    kept = [e for e in essence(req) if e[0] != "reasoning"]
    assert essence(anthropic.parse_request(rendered)) == kept


def test_captured_stream_accumulates_to_the_captured_response() -> None:
    [events] = [
        e
        for name, e in captured("anthropic", "response-streaming")
        if name.startswith("toolCallRequest/response")
    ]
    [body] = [
        b
        for name, b in captured("anthropic", "response")
        if name.startswith("toolCallRequest/response")
    ]
    summary = stream_essence(_parse_stream(events))
    call = next(b for b in body["content"] if b["type"] == "tool_use")
    assert [(n, a) for _, n, a in summary["calls"]] == [(call["name"], call["input"])]
    assert summary["finish"] is FinishReason.TOOL_CALLS


# --------------------------------------------------------------------------- requests


def test_parse_request_content_blocks() -> None:
    req = anthropic.parse_request(
        {
            "model": "claude-x",
            "max_tokens": 100,
            "system": [
                {"type": "text", "text": "be brief", "cache_control": {"type": "ephemeral"}}
            ],
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "image",
                            "source": {"type": "base64", "media_type": "image/png", "data": "iVBO"},
                        },
                        {"type": "image", "source": {"type": "url", "url": "https://x/y.png"}},
                        {
                            "type": "document",
                            "source": {
                                "type": "base64",
                                "media_type": "application/pdf",
                                "data": "JVBE",
                            },
                            "title": "a.pdf",
                        },
                        {
                            "type": "document",
                            "source": {"type": "text", "media_type": "text/plain", "data": "plain"},
                        },
                        {"type": "text", "text": "what?"},
                    ],
                },
                {
                    "role": "assistant",
                    "content": [
                        {"type": "thinking", "thinking": "hmm", "signature": "sig"},
                        {"type": "redacted_thinking", "data": "opaque"},
                        {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {"a": 1}},
                        {
                            "type": "server_tool_use",
                            "id": "srvtoolu_1",
                            "name": "web_search",
                            "input": {},
                        },
                    ],
                },
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "tool_result",
                            "tool_use_id": "toolu_1",
                            "content": "42",
                            "is_error": True,
                        },
                        {"type": "text", "text": "thanks"},
                    ],
                },
            ],
        }
    )
    system, user, assistant, tool, user2 = req.messages
    assert system == Message(
        Role.SYSTEM, (TextPart("be brief", cache_control={"type": "ephemeral"}),)
    )
    assert user.content == (
        ImagePart(data="iVBO", media_type="image/png"),
        ImagePart(url="https://x/y.png"),
        DocumentPart(data="JVBE", media_type="application/pdf", name="a.pdf"),
        DocumentPart(text="plain", media_type="text/plain"),
        TextPart("what?"),
    )
    thinking, redacted, call, server = assistant.content
    assert thinking == ReasoningPart(text="hmm", signature="sig", origin="anthropic")
    assert redacted == ReasoningPart(encrypted="opaque", redacted=True, origin="anthropic")
    assert call == ToolCallPart(id="toolu_1", name="f", arguments='{"a":1}')
    assert isinstance(server, ProviderPart) and server.origin == "anthropic"
    assert tool == Message(
        Role.TOOL, (ToolResultPart("toolu_1", (TextPart("42"),), is_error=True),)
    )
    assert user2 == Message(Role.USER, (TextPart("thanks"),))


def test_parse_request_settings() -> None:
    req = anthropic.parse_request(
        {
            "model": "m",
            "max_tokens": 10,
            "messages": [],
            "tools": [
                {"name": "f", "input_schema": {"type": "object"}},
                {"type": "web_search_20250305", "name": "web_search"},
            ],
            "tool_choice": {"type": "tool", "name": "f", "disable_parallel_tool_use": True},
            "temperature": 0.5,
            "top_k": 3,
            "stop_sequences": ["END"],
            "metadata": {"user_id": "u1"},
            "thinking": {"type": "enabled", "budget_tokens": 2048},
            "output_config": {
                "effort": "high",
                "format": {"type": "json_schema", "schema": {"type": "object"}},
            },
            "context_management": {"edits": []},
            "stream": True,
        }
    )
    assert req.tool_choice == ToolChoice(ToolChoiceMode.NAMED, name="f")
    assert req.parallel_tool_calls is False
    assert req.reasoning == ReasoningConfig(
        mode=ReasoningMode.ENABLED, effort="high", budget_tokens=2048
    )
    assert req.response_format == ResponseFormat(
        ResponseFormatType.JSON_SCHEMA, schema={"type": "object"}
    )
    assert (req.temperature, req.top_k, req.stop, req.user, req.stream) == (
        0.5,
        3,
        ("END",),
        "u1",
        True,
    )
    assert req.extras == {"context_management": {"edits": []}} and req.extras_origin == "anthropic"
    assert len(req.tools) == 2


def test_render_request_hoists_system_and_merges_tool_results_first() -> None:
    req = Request(
        messages=(
            Message(Role.SYSTEM, (TextPart("sys"),)),
            Message(Role.USER, (TextPart("hi"),)),
            Message(Role.ASSISTANT, (TextPart(""), ToolCallPart("call.1:x", "f", '{"q": 1}'))),
            Message(Role.USER, (TextPart("also"),)),
            Message(Role.TOOL, (ToolResultPart("call.1:x", (TextPart("r"),)),)),
            Message(Role.DEVELOPER, (TextPart("dev"),)),
        ),
        model="claude",
        max_tokens=50,
    )
    body = anthropic.render_request(req)
    assert body["system"] == [{"type": "text", "text": "sys"}, {"type": "text", "text": "dev"}]
    assert body["messages"] == [
        {"role": "user", "content": "hi"},
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "call_1_x", "name": "f", "input": {"q": 1}}],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "call_1_x", "content": "r"},
                {"type": "text", "text": "also"},
            ],
        },
    ]
    assert body["max_tokens"] == 50


def test_render_request_media_from_data_urls_and_urls() -> None:
    text_doc = "data:text/plain;base64," + base64.b64encode(b"hello").decode()
    req = Request(
        messages=(
            Message(
                Role.USER,
                (
                    ImagePart(url="data:image/jpeg;base64,/9j/"),
                    ImagePart(url="https://x/y.png"),
                    DocumentPart(url=text_doc, name="notes"),
                    DocumentPart(file_id="file_1"),
                ),
            ),
        )
    )
    blocks = anthropic.render_request(req)["messages"][0]["content"]
    assert [b["source"] for b in blocks] == [
        {"type": "base64", "media_type": "image/jpeg", "data": "/9j/"},
        {"type": "url", "url": "https://x/y.png"},
        {"type": "text", "media_type": "text/plain", "data": "hello"},
        {"type": "file", "file_id": "file_1"},
    ]
    assert blocks[2]["title"] == "notes"


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({}, 4096),
        ({"default_max_tokens": 777}, 777),
    ],
)
def test_render_request_fills_required_max_tokens(kwargs: dict[str, int], expected: int) -> None:
    body = anthropic.render_request(Request(messages=()), **kwargs)
    assert body["max_tokens"] == expected


def test_foreign_effort_becomes_a_thinking_budget() -> None:
    req = Request(messages=(), reasoning=ReasoningConfig(mode=ReasoningMode.ENABLED, effort="high"))
    body = anthropic.render_request(req)
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 24576}
    assert body["max_tokens"] > 24576  # defaulted max_tokens makes room for the budget
    assert "output_config" not in body
    capped = anthropic.render_request(
        Request(
            messages=(),
            max_tokens=3000,
            reasoning=ReasoningConfig(mode=ReasoningMode.ENABLED, effort="high"),
        )
    )
    assert capped["thinking"]["budget_tokens"] == 2999 and capped["max_tokens"] == 3000


def test_anthropic_effort_and_adaptive_thinking_round_trip() -> None:
    body = {
        "model": "m",
        "max_tokens": 9,
        "messages": [],
        "thinking": {"type": "adaptive"},
        "output_config": {"effort": "minimal"},
    }
    rendered = anthropic.render_request(anthropic.parse_request(body))
    assert rendered["thinking"] == {"type": "adaptive"}
    assert rendered["output_config"] == {"effort": "low"}


def test_render_request_drops_foreign_reasoning_and_tool_choice_without_tools() -> None:
    req = Request(
        messages=(
            Message(Role.USER, (TextPart("q"),)),
            Message(
                Role.ASSISTANT,
                (ReasoningPart(text="thought", encrypted="enc", origin="responses"), TextPart("a")),
            ),
        ),
        tool_choice=ToolChoice(ToolChoiceMode.REQUIRED),
    )
    body = anthropic.render_request(req)
    assert body["messages"][1] == {"role": "assistant", "content": "a"}
    assert "tool_choice" not in body


def test_render_request_tool_choice_and_parallel() -> None:
    from llm_router.universal import Tool

    req = Request(
        messages=(),
        tools=(Tool("f"),),
        tool_choice=ToolChoice(ToolChoiceMode.REQUIRED),
        parallel_tool_calls=False,
    )
    body = anthropic.render_request(req)
    assert body["tool_choice"] == {"type": "any", "disable_parallel_tool_use": True}
    assert body["tools"] == [{"name": "f", "input_schema": {"type": "object", "properties": {}}}]


# --------------------------------------------------------------------------- responses


@pytest.mark.parametrize(
    ("wire", "reason"),
    [
        ("end_turn", FinishReason.STOP),
        ("max_tokens", FinishReason.LENGTH),
        ("stop_sequence", FinishReason.STOP_SEQUENCE),
        ("tool_use", FinishReason.TOOL_CALLS),
        ("pause_turn", FinishReason.PAUSE),
        ("refusal", FinishReason.REFUSAL),
        ("model_context_window_exceeded", FinishReason.CONTEXT_WINDOW),
    ],
)
def test_stop_reasons_map_both_ways(wire: str, reason: FinishReason) -> None:
    body = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "m",
        "content": [],
        "stop_reason": wire,
        "usage": {"input_tokens": 1, "output_tokens": 1},
    }
    resp = anthropic.parse_response(body)
    assert resp.finish_reason is reason
    assert anthropic.render_response(resp)["stop_reason"] == wire


def test_foreign_finish_reasons_render_to_anthropic_words() -> None:
    for reason, wire in [
        (FinishReason.CONTENT_FILTER, "refusal"),
        (FinishReason.OTHER, "end_turn"),
        (None, "end_turn"),
    ]:
        assert (
            anthropic.render_response(Response(content=(), finish_reason=reason))["stop_reason"]
            == wire
        )


def test_usage_counts_cache_tokens_as_input() -> None:
    body = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "m",
        "content": [{"type": "text", "text": "hi"}],
        "stop_reason": "end_turn",
        "usage": {
            "input_tokens": 10,
            "output_tokens": 5,
            "cache_creation_input_tokens": 100,
            "cache_read_input_tokens": 1000,
        },
    }
    resp = anthropic.parse_response(body)
    assert resp.usage == Usage(
        input_tokens=1110, output_tokens=5, cache_read_tokens=1000, cache_write_tokens=100
    )
    assert anthropic.render_response(resp)["usage"] == body["usage"]


def test_render_response_shows_foreign_reasoning_to_clients() -> None:
    resp = Response(
        content=(ReasoningPart(summary=("step one",), origin="responses"), TextPart("done")),
        model="gpt",
    )
    rendered = anthropic.render_response(resp)
    SDKMessage.model_validate(rendered)
    assert rendered["content"][0] == {"type": "thinking", "thinking": "step one", "signature": ""}
    assert rendered["id"].startswith("msg_")


# --------------------------------------------------------------------------- streams


def test_stream_renderer_bookends_and_indices() -> None:
    deltas: list[StreamDelta] = [
        MessageStart(id="msg_9", model="m"),
        ReasoningDelta(0, "think"),
        ReasoningSignatureDelta(0, signature="sig", origin="anthropic"),
        TextDelta(1, "Hello"),
        ToolCallStart(2, "call_1", "f"),
        ToolCallDelta(2, '{"a":'),
        ToolCallDelta(2, "1}"),
        Finish(FinishReason.TOOL_CALLS),
        UsageDelta(Usage(input_tokens=5, output_tokens=7)),
    ]
    events = _render_stream(deltas)
    payloads = [orjson.loads(e.data) for e in events]
    for p in payloads:
        STREAM_EVENT.validate_python(p)
    assert [e.event for e in events] == [
        "message_start",
        "content_block_start", "content_block_delta", "content_block_delta", "content_block_stop",
        "content_block_start", "content_block_delta", "content_block_stop",
        "content_block_start", "content_block_delta", "content_block_delta", "content_block_stop",
        "message_delta", "message_stop",
    ]  # fmt: skip
    starts = [p for p in payloads if p["type"] == "content_block_start"]
    assert [(s["index"], s["content_block"]["type"]) for s in starts] == [
        (0, "thinking"),
        (1, "text"),
        (2, "tool_use"),
    ]
    assert payloads[-2]["delta"]["stop_reason"] == "tool_use"
    assert payloads[-2]["usage"]["output_tokens"] == 7


def test_stream_renderer_waits_for_usage_after_finish() -> None:
    renderer = anthropic.StreamRenderer()
    assert [e.event for e in renderer.feed(UsageDelta(Usage(input_tokens=3)))] == ["message_start"]
    assert renderer.feed(Finish(FinishReason.STOP)) == []
    end = renderer.feed(UsageDelta(Usage(output_tokens=4)))
    assert [e.event for e in end] == ["message_delta", "message_stop"]
    assert orjson.loads(end[0].data)["usage"]["input_tokens"] == 3
    assert renderer.finish() == []


def test_stream_renderer_drops_fragments_for_a_closed_tool_block() -> None:
    renderer = anthropic.StreamRenderer()
    renderer.feed(ToolCallStart(0, "call_1", "f"))
    renderer.feed(BlockStop(0))
    assert renderer.feed(ToolCallDelta(0, "{}")) == []


def test_stream_parser_usage_and_error_event() -> None:
    parser = anthropic.StreamParser()
    parser.feed(
        {
            "type": "message_start",
            "message": {
                "id": "msg_1",
                "model": "m",
                "usage": {"input_tokens": 5, "cache_read_input_tokens": 20, "output_tokens": 1},
            },
        }
    )
    parser.feed({"type": "ping"})
    deltas = parser.feed(
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
            "usage": {"output_tokens": 9},
        }
    )
    assert deltas == [
        Finish(FinishReason.STOP),
        UsageDelta(Usage(input_tokens=25, output_tokens=9, cache_read_tokens=20)),
    ]
    [error] = parser.feed(
        {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    )
    assert error == StreamErrorDelta(
        ErrorInfo(ErrorType.OVERLOADED, "Overloaded", status=529, provider_type="overloaded_error")
    )


def test_stream_error_renders_error_event() -> None:
    renderer = anthropic.StreamRenderer()
    events = renderer.feed(StreamErrorDelta(ErrorInfo(ErrorType.RATE_LIMIT, "slow down")))
    assert events[-1] == StreamEvent(
        "error", b'{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}'
    )
    assert renderer.finish() == []


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("status", "wire_type", "kind"),
    [
        (400, "invalid_request_error", ErrorType.INVALID_REQUEST),
        (401, "authentication_error", ErrorType.AUTHENTICATION),
        (403, "permission_error", ErrorType.PERMISSION),
        (404, "not_found_error", ErrorType.NOT_FOUND),
        (429, "rate_limit_error", ErrorType.RATE_LIMIT),
        (500, "api_error", ErrorType.SERVER),
        (529, "overloaded_error", ErrorType.OVERLOADED),
    ],
)
def test_errors_map_both_ways(status: int, wire_type: str, kind: ErrorType) -> None:
    body = {"type": "error", "error": {"type": wire_type, "message": "boom"}, "request_id": "req_1"}
    info = anthropic.parse_error(status, body)
    assert (info.type, info.message, info.status) == (kind, "boom", status)
    assert anthropic.render_error(info) == (
        status,
        {"type": "error", "error": {"type": wire_type, "message": "boom"}},
    )


def test_parse_error_never_raises_and_spots_context_window() -> None:
    assert anthropic.parse_error(502, b"<html>").type is ErrorType.SERVER
    assert anthropic.parse_error(429, None).type is ErrorType.RATE_LIMIT
    info = anthropic.parse_error(
        400,
        {
            "type": "error",
            "error": {
                "type": "invalid_request_error",
                "message": "prompt is too long: 300000 tokens",
            },
        },
    )
    assert info.type is ErrorType.CONTEXT_WINDOW
    assert anthropic.render_error(ErrorInfo(ErrorType.OVERLOADED, "busy"))[0] == 529


# --------------------------------------------------------------------------- Bedrock / Vertex


def test_bedrock_and_vertex_bodies() -> None:
    body = anthropic.render_request(
        Request(messages=(Message(Role.USER, (TextPart("hi"),)),), model="claude", stream=True)
    )
    bedrock = anthropic.to_bedrock_invoke_body(body)
    vertex = anthropic.to_vertex_body(body)
    assert "model" not in bedrock and "stream" not in bedrock
    assert bedrock["anthropic_version"] == "bedrock-2023-05-31"
    assert vertex["anthropic_version"] == "vertex-2023-10-16" and vertex["stream"] is True
    assert anthropic.parse_request(bedrock).extras is None  # anthropic_version is not an extra


def test_unwrap_invoke_chunk() -> None:
    inner = {
        "type": "content_block_delta",
        "index": 0,
        "delta": {"type": "text_delta", "text": "hi"},
    }
    chunk = {"chunk": {"bytes": base64.b64encode(orjson.dumps(inner)).decode()}}
    assert anthropic.unwrap_invoke_chunk(chunk) == inner
    with pytest.raises(TranslationError, match=r"chunk\.bytes"):
        anthropic.unwrap_invoke_chunk({"chunk": {"bytes": "!!!"}})


# --------------------------------------------------------------------------- robustness

_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-3, 3)
    | st.text(max_size=4)
    | st.sampled_from(["text", "tool_use", "tool_result", "image", "user", "assistant", "base64"]),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                [
                    "type",
                    "text",
                    "role",
                    "content",
                    "messages",
                    "system",
                    "source",
                    "id",
                    "name",
                    "input",
                    "tools",
                    "tool_choice",
                    "thinking",
                    "index",
                    "delta",
                    "usage",
                ]
            ),
            inner,
            max_size=4,
        )
    ),
    max_leaves=25,
)


@settings(max_examples=150, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(
            [
                "messages",
                "system",
                "content",
                "tools",
                "tool_choice",
                "thinking",
                "type",
                "usage",
                "stop_reason",
                "index",
                "delta",
                "content_block",
            ]
        ),
        _JSON,
        max_size=5,
    )
)
def test_random_json_raises_only_translation_errors_with_a_path(obj: dict[str, Any]) -> None:
    for parse in (anthropic.parse_request, anthropic.parse_response, anthropic.StreamParser().feed):
        try:
            parse(obj)
        except TranslationError as exc:
            assert exc.path is not None


def test_truncated_stream_gets_no_synthetic_end() -> None:
    renderer = anthropic.StreamRenderer()
    assert [e.event for e in renderer.feed(TextDelta(0, "partial"))] == [
        "message_start",
        "content_block_start",
        "content_block_delta",
    ]
    assert renderer.finish() == []


@pytest.mark.parametrize(
    ("wire_type", "status"), [("rate_limit_error", 429), ("api_error", 500), ("mystery", 500)]
)
def test_stream_error_event_status(wire_type: str, status: int) -> None:
    [delta] = anthropic.StreamParser().feed(
        {"type": "error", "error": {"type": wire_type, "message": "m"}}
    )
    assert isinstance(delta, StreamErrorDelta)
    assert delta.error.status == status


# The turns `render_request` writes, as the reference reading states them: every turn as a
# list of blocks, merged into the turn before when the wire role repeats (tool results first
# in a user turn), then each turn of one plain text block written as a string. The renderer
# writes lone texts as strings at once; the two must agree.
def _reference_turns(messages: tuple[Message, ...]) -> list[dict[str, Any]]:
    wire_roles = {Role.USER: "user", Role.TOOL: "user", Role.ASSISTANT: "assistant"}
    turns: list[dict[str, Any]] = []
    last_role = None
    for i, m in enumerate(messages):
        role = wire_roles.get(m.role)
        if role is None:
            continue
        blocks = anthropic._render_blocks(m.content, i)
        if not blocks:
            continue
        if role != last_role:
            turns.append({"role": role, "content": blocks})
            last_role = role
        elif m.role is Role.TOOL:
            turn = turns[-1]["content"]
            first = next((k for k, b in enumerate(turn) if b["type"] != "tool_result"), len(turn))
            turn[first:first] = blocks
        else:
            turns[-1]["content"] += blocks
    for turn in turns:
        blocks = turn["content"]
        if len(blocks) == 1 and blocks[0]["type"] == "text" and len(blocks[0]) == 2:
            turn["content"] = blocks[0]["text"]
    return turns


_TURN_PARTS = st.one_of(
    st.builds(TextPart, st.sampled_from(["", "hi", "there"])),
    st.builds(TextPart, st.just("cached"), cache_control=st.just({"type": "ephemeral"})),
    st.builds(ToolCallPart, st.sampled_from(["c1", "c2"]), st.just("f"), st.just('{"a":1}')),
)
_TURNS = st.lists(
    st.one_of(
        st.builds(
            Message,
            st.sampled_from([Role.USER, Role.ASSISTANT, Role.SYSTEM]),
            st.lists(_TURN_PARTS, max_size=3).map(tuple),
        ),
        st.builds(
            Message,
            st.just(Role.TOOL),
            st.lists(
                st.builds(
                    ToolResultPart,
                    st.sampled_from(["c1", "c2"]),
                    st.lists(st.builds(TextPart, st.just("ok")), max_size=1).map(tuple),
                ),
                min_size=1,
                max_size=2,
            ).map(tuple),
        ),
    ),
    max_size=6,
).map(tuple)


@settings(max_examples=300, deadline=None)
@given(_TURNS)
def test_render_request_writes_lone_texts_as_the_reference_reading_does(
    messages: tuple[Message, ...],
) -> None:
    rendered = anthropic.render_request(Request(messages))
    assert rendered["messages"] == _reference_turns(messages)
    # Same key order too: the bytes are what callers see.
    assert orjson.dumps(rendered["messages"]) == orjson.dumps(_reference_turns(messages))
