"""Mistral's Chat dialect: how it differs from OpenAI on requests, streams and errors."""

from __future__ import annotations

import re
from typing import Any

import orjson
import pytest

from llm_router.formats import mistral
from llm_router.types import StreamEvent
from llm_router.universal import (
    DocumentPart,
    ErrorInfo,
    ErrorType,
    Finish,
    FinishReason,
    Message,
    MessageStart,
    ReasoningDelta,
    ReasoningPart,
    RefusalPart,
    Request,
    Response,
    Role,
    StreamDelta,
    TextDelta,
    TextPart,
    Tool,
    ToolCallPart,
    ToolChoice,
    ToolChoiceMode,
    ToolResultPart,
    Usage,
    UsageDelta,
)


def test_parse_request_reads_the_dialect_fields() -> None:
    req = mistral.parse_request(
        {
            "model": "mistral-large-latest",
            "messages": [{"role": "user", "content": "hi"}],
            "random_seed": 42,
            "max_tokens": 64,
            "tool_choice": "any",
            "safe_prompt": True,
        }
    )
    assert req.seed == 42 and req.max_tokens == 64
    assert req.tool_choice == ToolChoice(ToolChoiceMode.REQUIRED)
    assert req.extras == {"safe_prompt": True} and req.extras_origin == "mistral"


def test_render_request_speaks_only_what_mistral_accepts() -> None:
    req = Request(
        model="mistral-small",
        messages=(
            Message(Role.DEVELOPER, (TextPart("rules"),)),
            Message(
                Role.USER,
                (
                    TextPart("read", cache_control={"type": "ephemeral"}),
                    DocumentPart(data="JVB=", media_type="application/pdf", name="a.pdf"),
                ),
            ),
            Message(
                Role.ASSISTANT,
                (RefusalPart("no"), ToolCallPart("toolu_01ABCdef", "f", "{}")),
            ),
            Message(Role.TOOL, (ToolResultPart("toolu_01ABCdef", (TextPart("done"),)),)),
        ),
        tools=(Tool("f", parameters={"type": "object"}),),
        tool_choice=ToolChoice(ToolChoiceMode.REQUIRED),
        seed=3,
        max_tokens=100,
        logprobs=True,
        user="u",
        metadata={"k": "v"},
        store=True,
        stream=True,
    )
    out = mistral.render_request(req, default_max_tokens=5)
    assert out["random_seed"] == 3 and "seed" not in out
    assert out["max_tokens"] == 100 and "max_completion_tokens" not in out
    assert out["tool_choice"] == "any"
    for rejected in ("logprobs", "user", "metadata", "store", "stream_options"):
        assert rejected not in out
    messages = out["messages"]
    assert messages[0] == {"role": "system", "content": "rules"}
    assert messages[1]["content"] == [
        {"type": "text", "text": "read"},
        {"type": "document_url", "document_url": "data:application/pdf;base64,JVB=", "document_name": "a.pdf"},
    ]  # fmt: skip
    call_id = messages[2]["tool_calls"][0]["id"]
    assert re.fullmatch(r"[A-Za-z0-9]{9}", call_id)
    assert messages[3]["tool_call_id"] == call_id  # the call and its result still pair up
    assert "refusal" not in messages[2] and messages[2]["content"] == "no"


def test_tool_call_ids_are_stable_and_valid_ids_pass_through() -> None:
    assert mistral.mistral_tool_call_id("abcDEF123") == "abcDEF123"
    first = mistral.mistral_tool_call_id("call_abc")
    assert (
        first
        == mistral.mistral_tool_call_id("call_abc")
        != mistral.mistral_tool_call_id("call_abd")
    )


def test_thinking_chunks_parse_and_replay() -> None:
    req = mistral.parse_request(
        {
            "messages": [
                {
                    "role": "assistant",
                    "content": [
                        {"type": "thinking", "thinking": [{"type": "text", "text": "hmm"}]},
                        {"type": "text", "text": "4"},
                    ],
                }
            ]
        }
    )
    assert req.messages[0].content == (ReasoningPart("hmm", origin="mistral"), TextPart("4"))
    assert mistral.render_request(req)["messages"][0]["content"] == [
        {"type": "thinking", "thinking": [{"type": "text", "text": "hmm"}]},
        {"type": "text", "text": "4"},
    ]


@pytest.mark.parametrize(
    ("wire", "reason"),
    [("model_length", FinishReason.CONTEXT_WINDOW), ("error", FinishReason.ERROR), ("stop", FinishReason.STOP)],
)  # fmt: skip
def test_finish_reasons_both_ways(wire: str, reason: FinishReason) -> None:
    body = {"id": "x", "model": "m", "created": 1, "choices": [{"index": 0, "message": {"role": "assistant", "content": "a"}, "finish_reason": wire}]}  # fmt: skip
    assert mistral.parse_response(body).finish_reason is reason
    out = mistral.render_response(Response((TextPart("a"),), finish_reason=reason))
    assert out["choices"][0]["finish_reason"] == wire
    assert mistral.render_response(Response((), finish_reason=FinishReason.CONTENT_FILTER))[
        "choices"
    ][0]["finish_reason"] in {"stop", "length", "model_length", "tool_calls", "error"}


def render(deltas: list[StreamDelta]) -> list[StreamEvent]:
    renderer = mistral.StreamRenderer()
    return [e for d in deltas for e in renderer.feed(d)] + renderer.finish()


def test_stream_usage_rides_on_the_final_chunk() -> None:
    events = render(
        [MessageStart("a", "m", 1), TextDelta(0, "hi"), Finish(FinishReason.STOP), UsageDelta(Usage(3, 1))]
    )  # fmt: skip
    assert events[-1].data == b"[DONE]"
    chunks: list[dict[str, Any]] = [orjson.loads(e.data) for e in events[:-1]]
    assert all(c["choices"] for c in chunks)  # no OpenAI-style usage-only chunk
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["usage"] == {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}


def test_stream_parser_reads_usage_on_finish_chunk_and_thinking() -> None:
    parser = mistral.StreamParser()
    deltas = parser.feed(
        {"id": "a", "model": "magistral", "created": 2, "choices": [{"index": 0, "delta": {"role": "assistant", "content": [{"type": "thinking", "thinking": [{"type": "text", "text": "so"}]}]}}]}
    ) + parser.feed(
        {"id": "a", "choices": [{"index": 0, "delta": {"content": "ok"}, "finish_reason": "model_length"}], "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}}
    )  # fmt: skip
    assert ReasoningDelta(0, "so") in deltas and TextDelta(1, "ok") in deltas
    assert Finish(FinishReason.CONTEXT_WINDOW) in deltas
    assert deltas[-1] == UsageDelta(Usage(1, 2, total_tokens=3))


def test_validation_errors_422_both_ways() -> None:
    body = {"detail": [{"type": "missing", "loc": ["body", "messages"], "msg": "Field required"}]}
    err = mistral.parse_error(422, body)
    assert err.type is ErrorType.INVALID_REQUEST and err.param == "messages"
    assert "Field required" in err.message
    status, out = mistral.render_error(err)
    assert status == 422 and out["detail"][0]["loc"] == ["body", "messages"]
    status, out = mistral.render_error(ErrorInfo(ErrorType.RATE_LIMIT, "slow"))
    assert status == 429 and out == {"object": "error", "message": "slow", "type": "rate_limit_error", "param": None, "code": None}  # fmt: skip
    assert mistral.parse_error(401, {"message": "Unauthorized"}).type is ErrorType.AUTHENTICATION
