"""Gemini generateContent <-> universal: requests, responses, streams and error bodies."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from _captured import CORPUS, captured, essence, stream_essence
from google.genai import types as genai
from hypothesis import given, settings
from hypothesis import strategies as st

from llm_router.errors import TranslationError
from llm_router.formats import google
from llm_router.types import StreamEvent
from llm_router.universal import (
    BlockStop,
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

FORMATS = ("google", "vertex-google")


def _params(kind: str) -> list[Any]:
    return [
        pytest.param(obj, id=f"{fmt}:{name}")
        for fmt in FORMATS
        for name, obj in captured(fmt, kind)
    ]


def _parse_stream(chunks: list[Any]) -> list[StreamDelta]:
    parser = google.StreamParser()
    return [d for c in chunks for d in parser.feed(c)] + parser.finish()


def _render_stream(deltas: list[StreamDelta]) -> list[StreamEvent]:
    renderer = google.StreamRenderer()
    return [e for d in deltas for e in renderer.feed(d)] + renderer.finish()


# --------------------------------------------------------------------------- captured corpus


@pytest.mark.parametrize("body", _params("request"))
def test_captured_request_round_trips(body: dict[str, Any]) -> None:
    req = google.parse_request(body)
    rendered = google.render_request(req)
    assert "model" not in rendered
    assert essence(google.parse_request(rendered)) == essence(req)
    signatures = [
        p.get("thoughtSignature") for c in body.get("contents", []) for p in c.get("parts", [])
    ]
    assert [
        p.get("thoughtSignature") for c in rendered["contents"] for p in c["parts"]
    ] == signatures


@pytest.mark.parametrize("body", _params("response"))
def test_captured_response_round_trips_and_validates(body: dict[str, Any]) -> None:
    resp = google.parse_response(body)
    rendered = google.render_response(resp)
    genai.GenerateContentResponse.model_validate(rendered)
    assert essence(google.parse_response(rendered)) == essence(resp)
    assert rendered["usageMetadata"]["promptTokenCount"] == body["usageMetadata"][
        "promptTokenCount"
    ] + body["usageMetadata"].get("toolUsePromptTokenCount", 0)
    assert rendered["usageMetadata"]["totalTokenCount"] == body["usageMetadata"]["totalTokenCount"]
    assert rendered["candidates"][0]["finishReason"] == body["candidates"][0]["finishReason"]


@pytest.mark.parametrize("chunks", _params("response-streaming"))
def test_captured_stream_round_trips_and_validates(chunks: list[dict[str, Any]]) -> None:
    deltas = _parse_stream(chunks)
    rendered = _render_stream(deltas)
    assert all(e.event is None for e in rendered)
    decoded = [orjson.loads(e.data) for e in rendered]
    for chunk in decoded:
        genai.GenerateContentResponse.model_validate(chunk)
    assert "usageMetadata" in decoded[-1] and "finishReason" in decoded[-1]["candidates"][0]
    assert all("usageMetadata" not in c for c in decoded[:-1])
    assert stream_essence(_parse_stream(decoded)) == stream_essence(deltas)


def test_captured_thought_signature_survives_gemini_to_gemini() -> None:
    [body] = [
        b
        for name, b in captured("google", "response")
        if name.startswith("toolCallRequest/response")
    ]
    part = body["candidates"][0]["content"]["parts"][0]
    rendered = google.render_response(google.parse_response(body))
    assert rendered["candidates"][0]["content"]["parts"][0] == part  # id and signature included
    assert rendered["candidates"][0]["finishReason"] == "STOP"


# --------------------------------------------------------------------------- requests


def test_parse_request_parts_and_tool_ids() -> None:
    req = google.parse_request(
        {
            "model": "models/gemini-2.5-flash",
            "system_instruction": {"parts": [{"text": "be brief"}]},
            "contents": [
                {
                    "role": "user",
                    "parts": [
                        {"text": "hi"},
                        {"inline_data": {"mime_type": "image/png", "data": "iVBO"}},
                    ],
                },
                {
                    "role": "model",
                    "parts": [
                        {"text": "plan", "thought": True, "thoughtSignature": "s0"},
                        {
                            "functionCall": {"name": "get", "args": {"q": 1}},
                            "thoughtSignature": "s1",
                        },
                        {"functionCall": {"name": "get", "args": {"q": 2}}},
                    ],
                },
                {
                    "role": "user",
                    "parts": [
                        {"functionResponse": {"name": "get", "response": {"r": 1}}},
                        {"functionResponse": {"name": "get", "response": {"r": 2}}},
                    ],
                },
            ],
        }
    )
    system, user, model, tool = req.messages
    assert req.model == "gemini-2.5-flash"
    assert system == Message(Role.SYSTEM, (TextPart("be brief"),))
    assert user.content == (TextPart("hi"), ImagePart(data="iVBO", media_type="image/png"))
    thought, call_a, call_b = model.content
    assert thought == ReasoningPart(text="plan", signature="s0", origin="google")
    assert call_a == ToolCallPart("gcall_0_get", "get", '{"q":1}', signature="s1")
    assert call_b.id == "gcall_1_get"
    assert tool.role is Role.TOOL
    assert [(r.call_id, r.name, r.content) for r in tool.content] == [  # type: ignore[union-attr]
        ("gcall_0_get", "get", (TextPart('{"r":1}'),)),
        ("gcall_1_get", "get", (TextPart('{"r":2}'),)),
    ]


def test_parse_request_generation_config() -> None:
    req = google.parse_request(
        {
            "contents": [],
            "tools": [
                {
                    "functionDeclarations": [
                        {
                            "name": "f",
                            "parameters": {
                                "type": "OBJECT",
                                "properties": {"x": {"type": "STRING", "nullable": True}},
                            },
                        }
                    ]
                },
                {"googleSearch": {}},
            ],
            "toolConfig": {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["f"]}},
            "generationConfig": {
                "maxOutputTokens": 100,
                "temperature": 0,
                "topK": 4,
                "stopSequences": ["X"],
                "seed": 7,
                "responseMimeType": "application/json",
                "responseJsonSchema": {"type": "object"},
                "thinkingConfig": {"thinkingBudget": -1, "includeThoughts": True},
                "responseModalities": ["TEXT"],
            },
            "safetySettings": [],
        }
    )
    tool, search = req.tools
    assert tool == Tool(
        "f", parameters={"type": "object", "properties": {"x": {"type": ["string", "null"]}}}
    )
    assert search == ProviderTool("google", {"googleSearch": {}})
    assert req.tool_choice == ToolChoice(ToolChoiceMode.NAMED, name="f")
    assert (req.max_tokens, req.temperature, req.top_k, req.stop, req.seed) == (
        100,
        0.0,
        4,
        ("X",),
        7,
    )
    assert req.response_format == ResponseFormat(
        ResponseFormatType.JSON_SCHEMA, schema={"type": "object"}
    )
    assert req.reasoning == ReasoningConfig(mode=ReasoningMode.ADAPTIVE, summary="auto")
    assert req.extras == {
        "safetySettings": [],
        "generationConfig": {"responseModalities": ["TEXT"]},
    }
    rendered = google.render_request(req)
    assert rendered["generationConfig"]["responseModalities"] == ["TEXT"]
    assert rendered["generationConfig"]["thinkingConfig"] == {
        "thinkingBudget": -1,
        "includeThoughts": True,
    }
    assert rendered["safetySettings"] == []
    assert rendered["toolConfig"] == {
        "functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["f"]}
    }


def test_render_request_from_another_format() -> None:
    req = Request(
        messages=(
            Message(Role.SYSTEM, (TextPart("sys"),)),
            Message(Role.USER, (TextPart("q"), ImagePart(url="data:image/webp;base64,UklG"))),
            Message(
                Role.ASSISTANT,
                (
                    TextPart(""),
                    ToolCallPart("toolu_1", "f", '{"a": 1}'),
                    ToolCallPart("toolu_2", "f", "{}"),
                ),
            ),
            Message(Role.TOOL, (ToolResultPart("toolu_1", (TextPart("plain"),)),)),
            Message(Role.TOOL, (ToolResultPart("toolu_2", (TextPart('{"ok": true}'),)),)),
        ),
        model="gemini",
        tools=(
            Tool("f", parameters={"type": "object"}),
            ProviderTool("anthropic", {"type": "bash"}),
        ),
        tool_choice=ToolChoice(ToolChoiceMode.REQUIRED),
        reasoning=ReasoningConfig(mode=ReasoningMode.ENABLED, effort="low"),
        max_tokens=64,
    )
    body = google.render_request(req)
    assert body["systemInstruction"] == {"parts": [{"text": "sys"}]}
    assert body["contents"] == [
        {
            "role": "user",
            "parts": [{"text": "q"}, {"inlineData": {"mimeType": "image/webp", "data": "UklG"}}],
        },
        {
            "role": "model",
            "parts": [
                {
                    "functionCall": {"name": "f", "args": {"a": 1}, "id": "toolu_1"},
                    "thoughtSignature": "skip_thought_signature_validator",
                },
                {"functionCall": {"name": "f", "args": {}, "id": "toolu_2"}},
            ],
        },
        {
            "role": "user",
            "parts": [
                {
                    "functionResponse": {
                        "name": "f",
                        "response": {"result": "plain"},
                        "id": "toolu_1",
                    }
                },
                {"functionResponse": {"name": "f", "response": {"ok": True}, "id": "toolu_2"}},
            ],
        },
    ]
    assert body["tools"] == [
        {"functionDeclarations": [{"name": "f", "parametersJsonSchema": {"type": "object"}}]}
    ]
    assert body["toolConfig"] == {"functionCallingConfig": {"mode": "ANY"}}
    assert body["generationConfig"] == {
        "maxOutputTokens": 64,
        "thinkingConfig": {"thinkingBudget": 2048},
    }


def test_render_request_thinking_level_for_gemini_bodies_only() -> None:
    body = {"contents": [], "generationConfig": {"thinkingConfig": {"thinkingLevel": "LOW"}}}
    assert (
        google.render_request(google.parse_request(body))["generationConfig"]
        == body["generationConfig"]
    )
    foreign = Request(messages=(), reasoning=ReasoningConfig(effort="low"))
    assert google.render_request(foreign)["generationConfig"] == {
        "thinkingConfig": {"thinkingBudget": 2048}
    }
    disabled = Request(
        messages=(), reasoning=ReasoningConfig(mode=ReasoningMode.DISABLED, effort="none")
    )
    assert google.render_request(disabled)["generationConfig"] == {
        "thinkingConfig": {"thinkingBudget": 0}
    }


def test_render_request_needs_a_name_for_tool_results() -> None:
    req = Request(messages=(Message(Role.TOOL, (ToolResultPart("call_9", (TextPart("x"),)),)),))
    with pytest.raises(TranslationError) as info:
        google.render_request(req)
    assert info.value.path == "messages[0].content[0]"


def test_gemini_calls_keep_no_made_up_ids_on_the_wire() -> None:
    body = {
        "contents": [
            {"role": "user", "parts": [{"text": "q"}]},
            {"role": "model", "parts": [{"functionCall": {"name": "f", "args": {}}}]},
            {"role": "user", "parts": [{"functionResponse": {"name": "f", "response": {"a": 1}}}]},
        ]
    }
    assert google.render_request(google.parse_request(body))["contents"] == body["contents"]


# --------------------------------------------------------------------------- responses


@pytest.mark.parametrize(
    ("wire", "reason", "back"),
    [
        ("STOP", FinishReason.STOP, "STOP"),
        ("MAX_TOKENS", FinishReason.LENGTH, "MAX_TOKENS"),
        ("SAFETY", FinishReason.CONTENT_FILTER, "SAFETY"),
        ("RECITATION", FinishReason.CONTENT_FILTER, "SAFETY"),
        ("MALFORMED_FUNCTION_CALL", FinishReason.MALFORMED_TOOL_CALL, "MALFORMED_FUNCTION_CALL"),
        ("LANGUAGE", FinishReason.OTHER, "OTHER"),
    ],
)
def test_finish_reasons(wire: str, reason: FinishReason, back: str) -> None:
    body = {
        "candidates": [
            {"content": {"role": "model", "parts": [{"text": "x"}]}, "finishReason": wire}
        ]
    }
    resp = google.parse_response(body)
    assert resp.finish_reason is reason
    assert google.render_response(resp)["candidates"][0]["finishReason"] == back


def test_function_calls_finish_as_tool_calls_and_usage_counts_thoughts() -> None:
    body = {
        "candidates": [
            {
                "content": {
                    "role": "model",
                    "parts": [{"functionCall": {"name": "f", "args": {"a": 1}}}],
                },
                "finishReason": "STOP",
            }
        ],
        "usageMetadata": {
            "promptTokenCount": 10,
            "candidatesTokenCount": 5,
            "thoughtsTokenCount": 20,
            "cachedContentTokenCount": 4,
            "totalTokenCount": 35,
        },
        "modelVersion": "gemini-2.5-flash",
        "responseId": "resp_1",
    }
    resp = google.parse_response(body)
    assert resp.finish_reason is FinishReason.TOOL_CALLS
    assert resp.usage == Usage(
        input_tokens=10, output_tokens=25, cache_read_tokens=4, reasoning_tokens=20, total_tokens=35
    )
    assert (resp.id, resp.model) == ("resp_1", "gemini-2.5-flash")
    rendered = google.render_response(resp)
    assert rendered["usageMetadata"] == body["usageMetadata"]
    assert (
        rendered["candidates"][0]["content"]["parts"] == body["candidates"][0]["content"]["parts"]
    )


def test_render_response_from_another_format_validates() -> None:
    resp = Response(
        content=(
            ReasoningPart(text="why", signature="anthropic-sig", origin="anthropic"),
            TextPart("hi"),
            ToolCallPart("toolu_1", "f", '{"x": [1]}'),
        ),
        finish_reason=FinishReason.TOOL_CALLS,
        usage=Usage(input_tokens=3, output_tokens=4),
    )
    rendered = google.render_response(resp)
    genai.GenerateContentResponse.model_validate(rendered)
    assert rendered["candidates"][0]["content"]["parts"] == [
        {"text": "why", "thought": True},
        {"text": "hi"},
        {"functionCall": {"name": "f", "args": {"x": [1]}, "id": "toolu_1"}},
    ]


# --------------------------------------------------------------------------- streams


def test_stream_parser_blocks_calls_finish_and_usage() -> None:
    chunks = [
        {
            "candidates": [
                {"content": {"role": "model", "parts": [{"text": "a", "thought": True}]}}
            ],
            "responseId": "r",
            "modelVersion": "g",
        },
        {
            "candidates": [{"content": {"role": "model", "parts": [{"text": "b"}]}}],
            "usageMetadata": {"promptTokenCount": 1},
        },
        {
            "candidates": [
                {
                    "content": {
                        "role": "model",
                        "parts": [
                            {
                                "functionCall": {"name": "f", "args": {"k": 1}},
                                "thoughtSignature": "sig",
                            }
                        ],
                    },
                    "finishReason": "STOP",
                }
            ],
            "usageMetadata": {
                "promptTokenCount": 1,
                "candidatesTokenCount": 2,
                "totalTokenCount": 3,
            },
        },
    ]
    assert _parse_stream(chunks) == [
        MessageStart(id="r", model="g"),
        ReasoningDelta(0, "a"),
        BlockStop(0),
        TextDelta(1, "b"),
        BlockStop(1),
        ToolCallStart(2, "gcall_0_f", "f", signature="sig"),
        ToolCallDelta(2, '{"k":1}'),
        BlockStop(2),
        Finish(FinishReason.TOOL_CALLS),
        UsageDelta(Usage(input_tokens=1, output_tokens=2, total_tokens=3)),
    ]


def test_stream_renderer_sends_calls_whole_and_usage_last() -> None:
    events = _render_stream(
        [
            MessageStart(id="msg_1", model="claude"),
            TextDelta(0, "hi"),
            ToolCallStart(1, "toolu_1", "f"),
            ToolCallDelta(1, '{"a"'),
            ToolCallDelta(1, ": 2}"),
            Finish(FinishReason.TOOL_CALLS),
            UsageDelta(Usage(input_tokens=2, output_tokens=3)),
        ]
    )
    chunks = [orjson.loads(e.data) for e in events]
    assert [c["candidates"][0]["content"]["parts"] for c in chunks] == [
        [{"text": "hi"}],
        [{"functionCall": {"name": "f", "args": {"a": 2}, "id": "toolu_1"}}],
        [{"text": ""}],
    ]
    assert chunks[-1]["candidates"][0]["finishReason"] == "STOP"
    assert chunks[-1]["usageMetadata"] == {
        "promptTokenCount": 2,
        "candidatesTokenCount": 3,
        "totalTokenCount": 5,
    }
    assert all(c["responseId"] == "msg_1" and c["modelVersion"] == "claude" for c in chunks)


def test_stream_errors_both_ways() -> None:
    [delta] = google.StreamParser().feed(
        {"error": {"code": 503, "message": "overloaded", "status": "UNAVAILABLE"}}
    )
    assert delta == StreamErrorDelta(
        ErrorInfo(ErrorType.OVERLOADED, "overloaded", status=503, provider_type="UNAVAILABLE")
    )
    renderer = google.StreamRenderer()
    [event] = renderer.feed(delta)
    assert orjson.loads(event.data) == {
        "error": {"code": 503, "message": "overloaded", "status": "UNAVAILABLE"}
    }
    assert renderer.finish() == []


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("code", "status", "kind"),
    [
        (429, "RESOURCE_EXHAUSTED", ErrorType.RATE_LIMIT),
        (400, "INVALID_ARGUMENT", ErrorType.INVALID_REQUEST),
        (401, "UNAUTHENTICATED", ErrorType.AUTHENTICATION),
        (403, "PERMISSION_DENIED", ErrorType.PERMISSION),
        (404, "NOT_FOUND", ErrorType.NOT_FOUND),
        (500, "INTERNAL", ErrorType.SERVER),
        (503, "UNAVAILABLE", ErrorType.OVERLOADED),
    ],
)
def test_errors_map_both_ways(code: int, status: str, kind: ErrorType) -> None:
    body = {"error": {"code": code, "message": "nope", "status": status}}
    info = google.parse_error(code, body)
    assert info.type is kind
    assert google.render_error(info) == (code, body)
    assert google.render_error(ErrorInfo(kind, "nope")) == (code, body)


def test_captured_error_body_parses() -> None:
    path = CORPUS / "imageUrlMimeTypeFallbackParam/google/error.json"
    text = orjson.loads(path.read_bytes())["error"]
    body = orjson.loads(text[text.index("{") :])
    info = google.parse_error(400, body)
    assert (info.type, info.message) == (
        ErrorType.INVALID_REQUEST,
        "Cannot fetch content from the provided URL.",
    )
    assert google.parse_error(500, [body]).provider_type == "INVALID_ARGUMENT"
    assert google.parse_error(502, "garbage").type is ErrorType.SERVER


# --------------------------------------------------------------------------- robustness

_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-3, 3)
    | st.text(max_size=4)
    | st.sampled_from(["user", "model", "STOP", "AUTO", "image/png"]),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                [
                    "role",
                    "parts",
                    "text",
                    "thought",
                    "functionCall",
                    "functionResponse",
                    "name",
                    "args",
                    "inlineData",
                    "mimeType",
                    "data",
                    "content",
                    "candidates",
                    "finishReason",
                    "mode",
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
                "contents",
                "systemInstruction",
                "tools",
                "toolConfig",
                "generationConfig",
                "candidates",
                "usageMetadata",
                "error",
            ]
        ),
        _JSON,
        max_size=5,
    )
)
def test_random_json_raises_only_translation_errors_with_a_path(obj: dict[str, Any]) -> None:
    for parse in (google.parse_request, google.parse_response, google.StreamParser().feed):
        try:
            parse(obj)
        except TranslationError as exc:
            assert exc.path is not None


def test_truncated_stream_gets_no_final_chunk() -> None:
    renderer = google.StreamRenderer()
    assert len(renderer.feed(TextDelta(0, "partial"))) == 1
    renderer.feed(ToolCallStart(1, "call_1", "f"))
    assert renderer.finish() == []
