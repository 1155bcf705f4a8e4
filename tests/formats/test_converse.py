"""Bedrock Converse <-> universal: requests, responses, ConverseStream events and errors.

Rendered bodies and events are checked against botocore's bedrock-runtime service model.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from _botocore_shapes import converse_shape, shape_errors, stream_event_shape
from _captured import captured, essence, stream_essence
from hypothesis import given, settings
from hypothesis import strategies as st

from llm_router.errors import TranslationError
from llm_router.formats import converse
from llm_router.framing.eventstream import EventStreamDecoder, encode_event
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


def _params(kind: str) -> list[Any]:
    return [pytest.param(obj, id=name) for name, obj in captured("bedrock", kind)]


def _parse_stream(events: list[Any]) -> list[StreamDelta]:
    parser = converse.StreamParser()
    return [d for e in events for d in parser.feed(e)] + parser.finish()


def _render_stream(deltas: list[StreamDelta]) -> list[StreamEvent]:
    renderer = converse.StreamRenderer()
    return [e for d in deltas for e in renderer.feed(d)] + renderer.finish()


def _valid_request(body: dict[str, Any]) -> None:
    assert shape_errors(body, converse_shape("input")) == []


# --------------------------------------------------------------------------- captured corpus


@pytest.mark.parametrize("body", _params("request"))
def test_captured_request_round_trips(body: dict[str, Any]) -> None:
    req = converse.parse_request(body)
    assert req.model == body["modelId"]
    rendered = converse.render_request(req)
    _valid_request(rendered)
    assert "modelId" not in rendered
    assert essence(converse.parse_request(rendered)) == essence(req)


@pytest.mark.parametrize("body", _params("response"))
def test_captured_response_round_trips_and_validates(body: dict[str, Any]) -> None:
    resp = converse.parse_response(body)
    rendered = converse.render_response(resp)
    assert shape_errors(rendered, converse_shape("output")) == []
    assert essence(converse.parse_response(rendered)) == essence(resp)
    assert rendered["stopReason"] == body["stopReason"]
    assert rendered["usage"] == body["usage"]


@pytest.mark.parametrize("events", _params("response-streaming"))
def test_captured_stream_round_trips_and_validates(events: list[dict[str, Any]]) -> None:
    deltas = _parse_stream(events)
    rendered = _render_stream(deltas)
    for event in rendered:
        assert event.event is not None
        assert shape_errors(orjson.loads(event.data), stream_event_shape(event.event)) == []
    names = [e.event for e in rendered]
    assert names[0] == "messageStart" and names[-2:] == ["messageStop", "metadata"]
    decoded = [{e.event: orjson.loads(e.data)} for e in rendered]
    assert stream_essence(_parse_stream(decoded)) == stream_essence(deltas)


def test_captured_stream_through_event_stream_frames() -> None:
    [events] = [
        e
        for name, e in captured("bedrock", "response-streaming")
        if name.startswith("toolCallRequest/response")
    ]
    frames = b"".join(
        encode_event(k, orjson.dumps(v)) for event in events for k, v in event.items()
    )
    decoder = EventStreamDecoder()
    decoded = decoder.feed(frames[:100]) + decoder.feed(frames[100:])
    decoder.finish()
    summary = stream_essence(_parse_stream(decoded))
    assert [(n, a) for _, n, a in summary["calls"]] == [
        ("get_weather", {"location": "San Francisco, CA"})
    ]
    assert summary["finish"] is FinishReason.TOOL_CALLS


# --------------------------------------------------------------------------- requests


def test_parse_request_blocks_and_cache_points() -> None:
    req = converse.parse_request(
        {
            "system": [{"text": "sys"}, {"cachePoint": {"type": "default"}}],
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"text": "look"},
                        {"image": {"format": "png", "source": {"bytes": "iVBO"}}},
                        {"document": {"format": "pdf", "name": "doc", "source": {"bytes": "JVBE"}}},
                        {
                            "image": {
                                "format": "jpeg",
                                "source": {"s3Location": {"uri": "s3://b/k.jpg"}},
                            }
                        },
                    ],
                },
                {
                    "role": "assistant",
                    "content": [
                        {
                            "reasoningContent": {
                                "reasoningText": {"text": "hmm", "signature": "sig"}
                            }
                        },
                        {"reasoningContent": {"redactedContent": "b3BhcXVl"}},
                        {"toolUse": {"toolUseId": "tooluse_1", "name": "f", "input": {"a": 1}}},
                    ],
                },
                {
                    "role": "user",
                    "content": [
                        {
                            "toolResult": {
                                "toolUseId": "tooluse_1",
                                "content": [{"json": {"r": 1}}, {"text": "t"}],
                                "status": "error",
                            }
                        },
                        {"text": "next"},
                    ],
                },
            ],
            "inferenceConfig": {
                "maxTokens": 4000,
                "temperature": 0.2,
                "topP": 0.9,
                "stopSequences": ["Z"],
            },
            "toolConfig": {
                "tools": [
                    {"toolSpec": {"name": "f", "inputSchema": {"json": {"type": "object"}}}},
                    {"cachePoint": {"type": "default"}},
                ],
                "toolChoice": {"any": {}},
            },
            "additionalModelRequestFields": {
                "top_k": 5,
                "thinking": {"type": "enabled", "budget_tokens": 2048},
                "other": 1,
            },
            "guardrailConfig": {"guardrailIdentifier": "g", "guardrailVersion": "1"},
        }
    )
    system, user, assistant, tool, user2 = req.messages
    assert system == Message(Role.SYSTEM, (TextPart("sys", cache_control={"type": "ephemeral"}),))
    assert user.content == (
        TextPart("look"),
        ImagePart(data="iVBO", media_type="image/png"),
        DocumentPart(data="JVBE", media_type="application/pdf", name="doc"),
        ImagePart(url="s3://b/k.jpg", media_type="image/jpeg"),
    )
    assert assistant.content == (
        ReasoningPart(text="hmm", signature="sig", origin="converse"),
        ReasoningPart(encrypted="b3BhcXVl", redacted=True, origin="converse"),
        ToolCallPart("tooluse_1", "f", '{"a":1}'),
    )
    assert tool.content == (
        ToolResultPart("tooluse_1", (TextPart('{"r":1}'), TextPart("t")), is_error=True),
    )
    assert user2.content == (TextPart("next"),)
    assert req.tools == (
        Tool("f", parameters={"type": "object"}, cache_control={"type": "ephemeral"}),
    )
    assert req.tool_choice == ToolChoice(ToolChoiceMode.REQUIRED)
    assert (req.max_tokens, req.temperature, req.top_p, req.stop, req.top_k) == (
        4000,
        0.2,
        0.9,
        ("Z",),
        5,
    )
    assert req.reasoning == ReasoningConfig(mode=ReasoningMode.ENABLED, budget_tokens=2048)
    assert req.extras == {
        "guardrailConfig": {"guardrailIdentifier": "g", "guardrailVersion": "1"},
        "additionalModelRequestFields": {"other": 1},
    }
    rendered = converse.render_request(req)
    _valid_request(rendered)
    assert rendered["system"] == [{"text": "sys"}, {"cachePoint": {"type": "default"}}]
    assert rendered["additionalModelRequestFields"] == {
        "top_k": 5,
        "thinking": {"type": "enabled", "budget_tokens": 2048},
        "other": 1,
    }
    assert rendered["guardrailConfig"] == {"guardrailIdentifier": "g", "guardrailVersion": "1"}
    assert rendered["toolConfig"]["tools"][1] == {"cachePoint": {"type": "default"}}


def test_render_request_from_another_format() -> None:
    req = Request(
        messages=(
            Message(
                Role.SYSTEM, (TextPart("sys", cache_control={"type": "ephemeral", "ttl": "1h"}),)
            ),
            Message(Role.USER, (TextPart("a"),)),
            Message(
                Role.USER,
                (
                    TextPart("b"),
                    ImagePart(url="data:image/jpeg;base64,/9j/"),
                    DocumentPart(text="notes", name="my notes.txt!"),
                ),
            ),
            Message(
                Role.ASSISTANT,
                (
                    ReasoningPart(text="x", encrypted="e", origin="responses"),
                    ToolCallPart("call:1", "f", '{"q":1}'),
                ),
            ),
            Message(Role.TOOL, (ToolResultPart("call:1", (TextPart("42"),)),)),
        ),
        tools=(Tool("f", description="fn"), ProviderTool("anthropic", {"type": "bash"})),
        tool_choice=ToolChoice(ToolChoiceMode.NAMED, name="f"),
        response_format=ResponseFormat(
            ResponseFormatType.JSON_SCHEMA, name="out", schema={"type": "object"}
        ),
        top_k=3,
        temperature=0.0,
    )
    body = converse.render_request(req)
    _valid_request(body)
    assert body["system"] == [{"text": "sys"}, {"cachePoint": {"type": "default", "ttl": "1h"}}]
    assert body["messages"] == [
        {
            "role": "user",
            "content": [
                {"text": "a"},
                {"text": "b"},
                {"image": {"format": "jpeg", "source": {"bytes": "/9j/"}}},
                {
                    "document": {
                        "format": "txt",
                        "name": "my notes txt",
                        "source": {"text": "notes"},
                    }
                },
            ],
        },
        {
            "role": "assistant",
            "content": [{"toolUse": {"toolUseId": "call_1", "name": "f", "input": {"q": 1}}}],
        },
        {
            "role": "user",
            "content": [{"toolResult": {"toolUseId": "call_1", "content": [{"text": "42"}]}}],
        },
    ]
    assert body["toolConfig"] == {
        "tools": [
            {
                "toolSpec": {
                    "name": "f",
                    "description": "fn",
                    "inputSchema": {"json": {"type": "object", "properties": {}}},
                }
            }
        ],
        "toolChoice": {"tool": {"name": "f"}},
    }
    assert body["outputConfig"] == {
        "textFormat": {
            "type": "json_schema",
            "structure": {"jsonSchema": {"schema": '{"type":"object"}', "name": "out"}},
        }
    }
    assert body["inferenceConfig"] == {"temperature": 0.0}
    assert body["additionalModelRequestFields"] == {"top_k": 3}
    assert converse.parse_request(body).response_format == ResponseFormat(
        ResponseFormatType.JSON_SCHEMA, name="out", schema={"type": "object"}
    )


def test_render_request_refuses_urls_it_cannot_fetch() -> None:
    req = Request(messages=(Message(Role.USER, (ImagePart(url="https://x/y.png"),)),))
    with pytest.raises(TranslationError, match="cannot fetch") as info:
        converse.render_request(req)
    assert info.value.path == "messages[0].content[0]"


def test_thinking_from_an_effort_word() -> None:
    body = converse.render_request(
        Request(messages=(), reasoning=ReasoningConfig(mode=ReasoningMode.ENABLED, effort="medium"))
    )
    assert body["additionalModelRequestFields"] == {
        "thinking": {"type": "enabled", "budget_tokens": 8192}
    }
    assert body["inferenceConfig"]["maxTokens"] > 8192
    assert "outputConfig" not in body
    effort_only = converse.render_request(
        Request(messages=(), reasoning=ReasoningConfig(effort="high"))
    )
    assert effort_only["outputConfig"] == {"effort": "high"}


# --------------------------------------------------------------------------- responses


@pytest.mark.parametrize(
    ("wire", "reason", "back"),
    [
        ("end_turn", FinishReason.STOP, "end_turn"),
        ("tool_use", FinishReason.TOOL_CALLS, "tool_use"),
        ("max_tokens", FinishReason.LENGTH, "max_tokens"),
        ("stop_sequence", FinishReason.STOP_SEQUENCE, "stop_sequence"),
        ("guardrail_intervened", FinishReason.CONTENT_FILTER, "content_filtered"),
        ("content_filtered", FinishReason.CONTENT_FILTER, "content_filtered"),
        ("malformed_tool_use", FinishReason.MALFORMED_TOOL_CALL, "malformed_tool_use"),
        (
            "model_context_window_exceeded",
            FinishReason.CONTEXT_WINDOW,
            "model_context_window_exceeded",
        ),
    ],
)
def test_stop_reasons(wire: str, reason: FinishReason, back: str) -> None:
    body = {
        "output": {"message": {"role": "assistant", "content": [{"text": "x"}]}},
        "stopReason": wire,
        "usage": {"inputTokens": 1, "outputTokens": 1, "totalTokens": 2},
        "metrics": {"latencyMs": 1},
    }
    resp = converse.parse_response(body)
    assert resp.finish_reason is reason
    assert converse.render_response(resp)["stopReason"] == back


def test_usage_counts_cache_tokens_as_input() -> None:
    usage = {
        "inputTokens": 5,
        "outputTokens": 7,
        "totalTokens": 112,
        "cacheReadInputTokens": 60,
        "cacheWriteInputTokens": 40,
    }
    resp = converse.parse_response(
        {
            "output": {"message": {"role": "assistant", "content": []}},
            "stopReason": "end_turn",
            "usage": usage,
        }
    )
    assert resp.usage == Usage(
        input_tokens=105,
        output_tokens=7,
        cache_read_tokens=60,
        cache_write_tokens=40,
        total_tokens=112,
    )
    assert converse.render_response(resp)["usage"] == usage


def test_render_response_from_another_format_validates() -> None:
    resp = Response(
        content=(
            ReasoningPart(text="why", signature="x", origin="anthropic"),
            TextPart("hi"),
            ToolCallPart("toolu_1", "f", "{}"),
        ),
        finish_reason=FinishReason.REFUSAL,
        stop_sequence="END",
    )
    body = converse.render_response(resp)
    assert shape_errors(body, converse_shape("output")) == []
    assert body["output"]["message"]["content"][0] == {
        "reasoningContent": {"reasoningText": {"text": "why"}}
    }
    assert body["stopReason"] == "content_filtered"
    assert body["additionalModelResponseFields"] == {"stop_sequence": "END"}


# --------------------------------------------------------------------------- streams


def test_stream_parser() -> None:
    events = [
        {"messageStart": {"role": "assistant"}},
        {
            "contentBlockDelta": {
                "contentBlockIndex": 0,
                "delta": {"reasoningContent": {"text": "t"}},
            }
        },
        {
            "contentBlockDelta": {
                "contentBlockIndex": 0,
                "delta": {"reasoningContent": {"signature": "s"}},
            }
        },
        {"contentBlockStop": {"contentBlockIndex": 0}},
        {"contentBlockDelta": {"contentBlockIndex": 1, "delta": {"text": "hi"}}},
        {"contentBlockStop": {"contentBlockIndex": 1}},
        {
            "contentBlockStart": {
                "contentBlockIndex": 2,
                "start": {"toolUse": {"toolUseId": "tu_1", "name": "f"}},
            }
        },
        {"contentBlockDelta": {"contentBlockIndex": 2, "delta": {"toolUse": {"input": '{"a":1}'}}}},
        {"contentBlockStop": {"contentBlockIndex": 2}},
        {"messageStop": {"stopReason": "tool_use"}},
        {
            "metadata": {
                "usage": {"inputTokens": 1, "outputTokens": 2, "totalTokens": 3},
                "metrics": {"latencyMs": 5},
            }
        },
    ]
    assert _parse_stream(events) == [
        MessageStart(),
        ReasoningDelta(0, "t"),
        ReasoningSignatureDelta(0, signature="s", origin="converse"),
        BlockStop(0),
        TextDelta(1, "hi"),
        BlockStop(1),
        ToolCallStart(2, "tu_1", "f"),
        ToolCallDelta(2, '{"a":1}'),
        BlockStop(2),
        Finish(FinishReason.TOOL_CALLS),
        UsageDelta(Usage(input_tokens=1, output_tokens=2, total_tokens=3)),
    ]
    [error] = converse.StreamParser().feed({"throttlingException": {"message": "slow down"}})
    assert error == StreamErrorDelta(
        ErrorInfo(
            ErrorType.RATE_LIMIT, "slow down", status=429, provider_type="ThrottlingException"
        )
    )


def test_stream_renderer_order_and_errors() -> None:
    events = _render_stream(
        [
            MessageStart(id="m"),
            TextDelta(0, "a"),
            ToolCallStart(1, "call_1", "f"),
            ToolCallDelta(1, "{}"),
            Finish(FinishReason.TOOL_CALLS),
        ]
    )
    assert [e.event for e in events] == [
        "messageStart",
        "contentBlockDelta",
        "contentBlockStop",
        "contentBlockStart",
        "contentBlockDelta",
        "contentBlockStop",
        "messageStop",
        "metadata",
    ]
    assert orjson.loads(events[-1].data) == {
        "usage": {"inputTokens": 0, "outputTokens": 0, "totalTokens": 0},
        "metrics": {"latencyMs": 0},
    }
    renderer = converse.StreamRenderer()
    renderer.feed(MessageStart())
    [event] = renderer.feed(StreamErrorDelta(ErrorInfo(ErrorType.OVERLOADED, "busy")))
    assert (event.event, orjson.loads(event.data)) == (
        "serviceUnavailableException",
        {"message": "busy"},
    )
    assert renderer.finish() == []


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("name", "status", "kind"),
    [
        ("ThrottlingException", 429, ErrorType.RATE_LIMIT),
        ("ValidationException", 400, ErrorType.INVALID_REQUEST),
        ("AccessDeniedException", 403, ErrorType.PERMISSION),
        ("ResourceNotFoundException", 404, ErrorType.NOT_FOUND),
        ("ModelTimeoutException", 408, ErrorType.TIMEOUT),
        ("InternalServerException", 500, ErrorType.SERVER),
        ("ServiceUnavailableException", 503, ErrorType.OVERLOADED),
        ("ModelErrorException", 424, ErrorType.SERVER),
    ],
)
def test_errors_map_both_ways(name: str, status: int, kind: ErrorType) -> None:
    info = converse.parse_error(
        status, {"message": "m"}, error_type=f"{name}:http://internal.amazon.com/coral/"
    )
    assert (info.type, info.provider_type) == (kind, name)
    assert converse.parse_error(status, {"message": "m"}).type is kind  # from the status alone
    assert converse.render_error(info) == (status, {"message": "m"})
    assert converse.error_type_header(info) == name


def test_error_defaults_and_context_window() -> None:
    assert converse.render_error(ErrorInfo(ErrorType.OVERLOADED, "busy")) == (
        503,
        {"message": "busy"},
    )
    assert converse.error_type_header(ErrorInfo(ErrorType.RATE_LIMIT, "x")) == "ThrottlingException"
    info = converse.parse_error(400, {"message": "Input is too long for requested model."})
    assert info.type is ErrorType.CONTEXT_WINDOW
    assert converse.parse_error(500, "not json").type is ErrorType.SERVER


# --------------------------------------------------------------------------- robustness

_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-3, 3)
    | st.text(max_size=4)
    | st.sampled_from(["user", "assistant", "png", "end_turn"]),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                [
                    "role",
                    "content",
                    "text",
                    "image",
                    "format",
                    "source",
                    "bytes",
                    "toolUse",
                    "toolResult",
                    "toolUseId",
                    "name",
                    "input",
                    "reasoningContent",
                    "cachePoint",
                    "contentBlockIndex",
                    "delta",
                    "start",
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
                "toolConfig",
                "inferenceConfig",
                "additionalModelRequestFields",
                "outputConfig",
                "output",
                "usage",
                "contentBlockDelta",
                "contentBlockStart",
                "messageStop",
                "metadata",
            ]
        ),
        _JSON,
        max_size=5,
    )
)
def test_random_json_raises_only_translation_errors_with_a_path(obj: dict[str, Any]) -> None:
    for parse in (converse.parse_request, converse.parse_response, converse.StreamParser().feed):
        try:
            parse(obj)
        except TranslationError as exc:
            assert exc.path is not None


def test_truncated_stream_gets_no_message_stop() -> None:
    renderer = converse.StreamRenderer()
    assert [e.event for e in renderer.feed(TextDelta(0, "partial"))] == [
        "messageStart",
        "contentBlockDelta",
    ]
    assert renderer.finish() == []
