"""OpenAI Responses <-> universal: input items, output items, the stream lifecycle, the corpus."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from openai.types.responses import Response as SDKResponse
from openai.types.responses import ResponseStreamEvent
from pydantic import TypeAdapter

from llm_router.formats import responses
from llm_router.translate import translate_response
from llm_router.types import StreamEvent
from llm_router.universal import (
    BlockStop,
    ErrorInfo,
    ErrorType,
    Finish,
    FinishReason,
    Message,
    MessageStart,
    ProviderPart,
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

CORPUS = Path(__file__).resolve().parents[1] / "corpus" / "captured"
EVENTS: TypeAdapter[Any] = TypeAdapter(ResponseStreamEvent)


def corpus(kind: str) -> list[Path]:
    """Corpus files of one kind: "request", "response" (whole bodies) or "streaming"."""
    paths = CORPUS.glob(f"*/responses/*{kind}*.json")
    return sorted(p for p in paths if kind == "streaming" or "streaming" not in p.name)


def load(path: Path) -> Any:
    return json.loads(path.read_bytes())


def render(deltas: list[StreamDelta]) -> list[StreamEvent]:
    renderer = responses.StreamRenderer()
    return [e for d in deltas for e in renderer.feed(d)] + renderer.finish()


def validated(events: list[StreamEvent]) -> list[Any]:
    """Validate every event with the SDK's types; check names and sequence numbers."""
    parsed = [EVENTS.validate_python(orjson.loads(e.data)) for e in events]
    assert [p.type for p in parsed] == [e.event for e in events]
    assert [p.sequence_number for p in parsed] == list(range(len(parsed)))
    return parsed


def zero_usage(resp: Response) -> Response:
    """Responses always reports every usage counter, so unknown (None) renders as 0."""
    if resp.usage is None:
        return resp
    fields = {f.name: getattr(resp.usage, f.name) or 0 for f in dataclasses.fields(Usage)}
    return dataclasses.replace(resp, usage=Usage(**fields))


# --------------------------------------------------------------------------- requests


def test_parse_request_items_and_config() -> None:
    req = responses.parse_request(
        {
            "model": "gpt-5",
            "instructions": "be terse",
            "input": [
                {"role": "user", "content": [{"type": "input_text", "text": "hi"}, {"type": "input_image", "image_url": "data:image/png;base64,AA==", "detail": "high"}]},
                {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "s1"}], "encrypted_content": "enc"},
                {"type": "message", "id": "msg_1", "role": "assistant", "content": [{"type": "output_text", "text": "let me look", "annotations": []}]},
                {"type": "function_call", "id": "fc_1", "call_id": "c1", "name": "f", "arguments": "{}"},
                {"type": "web_search_call", "id": "ws_1", "status": "completed"},
                {"type": "function_call_output", "call_id": "c1", "output": "42"},
                {"role": "user", "content": "thanks"},
            ],
            "tools": [
                {"type": "function", "name": "f", "parameters": {"type": "object"}, "strict": True},
                {"type": "web_search_preview"},
            ],
            "tool_choice": {"type": "function", "name": "f"},
            "text": {"format": {"type": "json_schema", "name": "out", "schema": {"type": "object"}, "strict": True}, "verbosity": "low"},
            "reasoning": {"effort": "high", "summary": "auto"},
            "max_output_tokens": 300,
            "include": ["reasoning.encrypted_content"],
        }
    )  # fmt: skip
    assert [m.role for m in req.messages] == [
        Role.SYSTEM,
        Role.USER,
        Role.ASSISTANT,
        Role.TOOL,
        Role.USER,
    ]
    assert req.messages[0].content == (TextPart("be terse"),)
    assistant = req.messages[2]
    assert assistant.id == "msg_1"
    assert assistant.content[0] == ReasoningPart(
        summary=("s1",), encrypted="enc", id="rs_1", origin="responses"
    )
    assert assistant.content[1] == TextPart("let me look")
    assert assistant.content[2] == ToolCallPart("c1", "f", "{}", item_id="fc_1")
    assert isinstance(assistant.content[3], ProviderPart)
    assert req.messages[3].content == (ToolResultPart("c1", (TextPart("42"),)),)
    assert req.tools[0] == Tool("f", None, {"type": "object"}, True)
    assert req.tools[1] == ProviderTool("responses", {"type": "web_search_preview"})
    assert req.tool_choice == ToolChoice(ToolChoiceMode.NAMED, "f")
    assert req.response_format == ResponseFormat(
        ResponseFormatType.JSON_SCHEMA, "out", {"type": "object"}, True
    )
    assert req.reasoning == ReasoningConfig(ReasoningMode.ENABLED, "high", summary="auto")
    assert req.max_tokens == 300
    assert req.extras == {"text": {"verbosity": "low"}, "include": ["reasoning.encrypted_content"]}


def test_render_request_from_universal() -> None:
    req = Request(
        model="gpt-5",
        messages=(
            Message(Role.SYSTEM, (TextPart("sys"),)),
            Message(Role.USER, (TextPart("q"),)),
            Message(
                Role.ASSISTANT,
                (
                    ReasoningPart("claude thinks", signature="sig", origin="anthropic"),
                    ReasoningPart(
                        summary=("mine",), encrypted="enc", id="rs_9", origin="responses"
                    ),
                    TextPart("ok"),
                    ToolCallPart("toolu_1", "f", '{"a":1}'),
                ),
            ),
            Message(Role.TOOL, (ToolResultPart("toolu_1", (TextPart("res"),)),)),
            Message(Role.DEVELOPER, (TextPart("later rule"),)),
        ),
        tools=(Tool("f", "desc", {"type": "object"}),),
        tool_choice=ToolChoice(ToolChoiceMode.AUTO, allowed=("f",)),
        response_format=ResponseFormat(ResponseFormatType.JSON_OBJECT),
        reasoning=ReasoningConfig(ReasoningMode.ENABLED, budget_tokens=9000),
        max_tokens=50,
        stop=("x",),
        seed=1,
    )
    assert responses.render_request(req) == {
        "model": "gpt-5",
        "instructions": "sys",
        "input": [
            {"role": "user", "content": "q"},
            {"type": "reasoning", "id": "rs_9", "summary": [{"type": "summary_text", "text": "mine"}], "encrypted_content": "enc"},
            {"type": "message", "role": "assistant", "status": "completed", "content": [{"type": "output_text", "text": "ok", "annotations": []}]},
            {"type": "function_call", "call_id": "toolu_1", "name": "f", "arguments": '{"a":1}', "status": "completed"},
            {"type": "function_call_output", "call_id": "toolu_1", "output": "res"},
            {"role": "developer", "content": "later rule"},
        ],
        "tools": [{"type": "function", "name": "f", "description": "desc", "parameters": {"type": "object"}, "strict": False}],
        "tool_choice": {"type": "allowed_tools", "mode": "auto", "tools": [{"type": "function", "name": "f"}]},
        "text": {"format": {"type": "json_object"}},
        "reasoning": {"effort": "high"},
        "max_output_tokens": 50,
    }  # fmt: skip


def test_malformed_input_names_the_item() -> None:
    from llm_router.errors import TranslationError

    with pytest.raises(TranslationError) as info:
        responses.parse_request({"input": [{"role": "user", "content": [{"type": "input_video"}]}]})
    assert info.value.path == "input[0].content[0].type"
    with pytest.raises(TranslationError) as info:
        responses.parse_request({"input": [{"type": "function_call_output", "output": "x"}]})
    assert info.value.path == "input[0].call_id"


@pytest.mark.parametrize("path", corpus("request"), ids=lambda p: f"{p.parts[-3]}/{p.name}")
def test_corpus_requests_round_trip(path: Path) -> None:
    original = responses.parse_request(load(path))
    rendered = orjson.loads(orjson.dumps(responses.render_request(original)))
    assert responses.parse_request(rendered) == original


# --------------------------------------------------------------------------- responses


@pytest.mark.parametrize("path", corpus("response"), ids=lambda p: f"{p.parts[-3]}/{p.name}")
def test_corpus_responses_round_trip_and_validate(path: Path) -> None:
    original = zero_usage(responses.parse_response(load(path)))
    rendered = responses.render_response(original)
    SDKResponse.model_validate(rendered)
    assert zero_usage(responses.parse_response(rendered)) == original


def test_response_status_from_finish_reason() -> None:
    def status(reason: FinishReason) -> tuple[str, Any]:
        out = responses.render_response(Response((TextPart("x"),), finish_reason=reason))
        SDKResponse.model_validate(out)
        return out["status"], out["incomplete_details"]

    assert status(FinishReason.STOP) == ("completed", None)
    assert status(FinishReason.LENGTH) == ("incomplete", {"reason": "max_output_tokens"})
    assert status(FinishReason.CONTENT_FILTER) == ("incomplete", {"reason": "content_filter"})
    assert status(FinishReason.ERROR)[0] == "failed"
    incomplete = {"id": "r", "status": "incomplete", "incomplete_details": {"reason": "max_output_tokens"}, "output": []}  # fmt: skip
    assert responses.parse_response(incomplete).finish_reason is FinishReason.LENGTH


# --------------------------------------------------------------------------- streams


def test_stream_renderer_follows_the_lifecycle() -> None:
    events = render(
        [
            MessageStart("resp_1", "gpt-5", 100),
            ReasoningDelta(0, "plan"),
            ReasoningSignatureDelta(0, encrypted="enc", id="rs_1", origin="responses"),
            BlockStop(0),
            TextDelta(1, "Hel"),
            TextDelta(1, "lo"),
            BlockStop(1),
            ToolCallStart(2, "call_1", "f"),
            ToolCallDelta(2, '{"a"'),
            ToolCallDelta(2, ":1}"),
            Finish(FinishReason.TOOL_CALLS),
            UsageDelta(Usage(10, 5, cache_read_tokens=2, reasoning_tokens=3)),
        ]
    )
    parsed = validated(events)
    assert [e.event for e in events] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.reasoning_summary_part.added",
        "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.done",
        "response.reasoning_summary_part.done",
        "response.output_item.done",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.completed",
    ]
    reasoning_done = parsed[7].item
    assert reasoning_done.id == "rs_1" and reasoning_done.encrypted_content == "enc"
    assert parsed[12].text == "Hello"
    assert parsed[18].arguments == '{"a":1}'
    final = parsed[-1].response
    assert final.id == "resp_1" and final.model == "gpt-5" and final.status == "completed"
    assert [item.type for item in final.output] == ["reasoning", "message", "function_call"]
    assert final.usage.input_tokens == 10 and final.usage.input_tokens_details.cached_tokens == 2
    assert final.usage.output_tokens_details.reasoning_tokens == 3


def test_stream_renderer_incomplete_error_and_truncation() -> None:
    events = render([TextDelta(0, "x"), Finish(FinishReason.LENGTH)])
    parsed = validated(events)
    assert parsed[-1].type == "response.incomplete"
    assert parsed[-1].response.incomplete_details.reason == "max_output_tokens"
    error = StreamErrorDelta(ErrorInfo(ErrorType.OVERLOADED, "busy"))
    parsed = validated(render([TextDelta(0, "x"), error, Finish(FinishReason.STOP)]))
    assert parsed[-1].type == "error" and parsed[-1].message == "busy"
    assert validated(render([TextDelta(0, "x")]))[-1].type == "response.output_text.delta"


@pytest.mark.parametrize("path", corpus("streaming"), ids=lambda p: f"{p.parts[-3]}/{p.name}")
def test_corpus_streams_parse_and_rerender(path: Path) -> None:
    events = load(path)
    if not any("sequence_number" in e for e in events):
        pytest.skip("pre-release event shape without sequence numbers")
    parser = responses.StreamParser()
    deltas = [d for e in events for d in parser.feed(e)] + parser.finish()
    text = "".join(d.text for d in deltas if isinstance(d, TextDelta))
    wire = "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")
    assert text == wire
    arguments = "".join(d.arguments for d in deltas if isinstance(d, ToolCallDelta))
    assert arguments == "".join(
        e["arguments"] for e in events if e["type"] == "response.function_call_arguments.done"
    )
    terminal = events[-1]["type"]
    assert isinstance(deltas[-1], Finish) == (terminal != "response.failed")
    assert any(isinstance(d, UsageDelta) for d in deltas)
    rendered = validated(render(deltas))
    assert rendered[-1].type == terminal


def test_an_annotation_whose_type_is_not_a_string_is_dropped_not_a_crash() -> None:
    # Found by the corpus property test: an Anthropic citation with `"type": [...]` made the
    # Responses renderer look a list up in a set (TypeError, not a translation).
    citation = {"type": ["url_citation"], "url": "https://example.com", "title": "t"}
    answer = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5",
        "content": [{"type": "text", "text": "cited", "citations": [citation]}],
        "stop_reason": "end_turn",
        "usage": {"input_tokens": 1, "output_tokens": 1},
    }
    out = orjson.loads(translate_response(orjson.dumps(answer), "anthropic", "responses"))
    (message,) = out["output"]
    assert message["content"][0]["text"] == "cited"
    assert message["content"][0]["annotations"] == []
