"""OpenAI Chat Completions on the fake server: prompt reading, bodies, chunks, error bodies.

Also the base of the Mistral dialect (`mistral.py`), which differs only in a few fields.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from llm_router.types import StreamEvent

from .wire import (
    Answer,
    ErrorReply,
    FinishReason,
    Prompt,
    RejectedRequest,
    RenderContext,
    Template,
    ToolChoice,
    ToolSpec,
    as_dict,
    as_list,
    text_of,
)

__all__ = ["error_reply", "read_prompt", "render_body", "render_events", "stream_error"]

FINISH = {
    FinishReason.STOP: "stop",
    FinishReason.LENGTH: "length",
    FinishReason.TOOL_CALL: "tool_calls",
}
DONE = StreamEvent(None, b"[DONE]")


def read_prompt(body: Mapping[str, Any], *, model: str | None = None) -> Prompt:
    """Read a Chat Completions body; `model` (an Azure deployment) overrides the body's."""
    chosen = model or body.get("model")
    if not isinstance(chosen, str) or not chosen:
        raise RejectedRequest("you must provide a model parameter")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise RejectedRequest("'messages' must be a non-empty array")
    words = 0
    last_text = ""
    for message in messages:
        message = as_dict(message)
        text = text_of(message.get("content"))
        words += len(text.split())
        if message.get("role") in ("user", "tool"):
            last_text = text
    tools = tuple(
        ToolSpec(str(function.get("name", "")), as_dict(function.get("parameters")))
        for function in (as_dict(as_dict(t).get("function")) for t in as_list(body.get("tools")))
        if function.get("name")
    )
    max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
    response_format = as_dict(body.get("response_format"))
    schema = as_dict(response_format.get("json_schema")).get("schema")
    return Prompt(
        model=chosen,
        last_text=last_text,
        input_words=words,
        tools=tools,
        tool_choice=read_tool_choice(body.get("tool_choice")),
        max_tokens=max_tokens if isinstance(max_tokens, int) else None,
        json_schema=schema if isinstance(schema, dict) else None,
        json_mode=response_format.get("type") == "json_object",
        stream=body.get("stream") is True,
    )


def read_tool_choice(value: object) -> ToolChoice:
    if value in ("required", "any"):  # "any" is Mistral's spelling
        return ToolChoice("required")
    if value == "none":
        return ToolChoice("none")
    name = as_dict(as_dict(value).get("function")).get("name")
    return ToolChoice("named", name) if isinstance(name, str) else ToolChoice()


def usage(answer: Answer) -> dict[str, Any]:
    return {
        "prompt_tokens": answer.input_tokens,
        "completion_tokens": answer.output_tokens,
        "total_tokens": answer.total_tokens,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def message(answer: Answer) -> dict[str, Any]:
    result: dict[str, Any] = {
        "role": "assistant",
        "content": None if answer.tool_call else answer.text,
        "refusal": None,
        "annotations": [],
    }
    if answer.tool_call:
        call = answer.tool_call
        result["tool_calls"] = [
            {
                "id": f"call_{call.id}",
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments},
            }
        ]
    return result


def render_body(answer: Answer, ctx: RenderContext) -> bytes:
    return orjson.dumps(
        {
            "id": f"chatcmpl-{ctx.id}",
            "object": "chat.completion",
            "created": ctx.created,
            "model": ctx.model,
            "choices": [
                {
                    "index": 0,
                    "message": message(answer),
                    "logprobs": None,
                    "finish_reason": FINISH[answer.finish],
                }
            ],
            "usage": usage(answer),
            "service_tier": "default",
            "system_fingerprint": None,
        }
    )


def first_delta(answer: Answer) -> dict[str, Any]:
    """The opening `delta` of a streamed answer: the role, and a tool call's id and name."""
    call = answer.tool_call
    if call is None:
        return {"role": "assistant", "content": "", "refusal": None}
    opening = {
        "index": 0,
        "id": f"call_{call.id}",
        "type": "function",
        "function": {"name": call.name, "arguments": ""},
    }
    return {"role": "assistant", "content": None, "tool_calls": [opening], "refusal": None}


def deltas(answer: Answer) -> list[dict[str, Any]]:
    """The `delta` objects of a streamed answer, first (with the role) to last."""
    pieces = answer.tool_call.fragments if answer.tool_call else answer.pieces
    return [first_delta(answer), *(_delta_with(answer, piece) for piece in pieces)]


def render_events(answer: Answer, ctx: RenderContext) -> list[StreamEvent]:
    include_usage = as_dict(ctx.request.get("stream_options")).get("include_usage") is True
    head = {
        "id": f"chatcmpl-{ctx.id}",
        "object": "chat.completion.chunk",
        "created": ctx.created,
        "model": ctx.model,
        "service_tier": "default",
        "system_fingerprint": None,
    }
    extra = {"usage": None} if include_usage else {}
    first = first_delta(answer)
    events = [
        _chunk(head, {"index": 0, "delta": first, "logprobs": None, "finish_reason": None}, extra)
    ]
    template = Template.of(
        lambda slot: {
            **head,
            "choices": [
                {
                    "index": 0,
                    "delta": _delta_with(answer, slot),
                    "logprobs": None,
                    "finish_reason": None,
                }
            ],
            **extra,
        }
    )
    pieces = answer.tool_call.fragments if answer.tool_call else answer.pieces
    events.extend(StreamEvent(None, template.fill(piece)) for piece in pieces)
    last = {"index": 0, "delta": {}, "logprobs": None, "finish_reason": FINISH[answer.finish]}
    events.append(_chunk(head, last, extra))
    if include_usage:
        events.append(
            StreamEvent(None, orjson.dumps({**head, "choices": [], "usage": usage(answer)}))
        )
    events.append(DONE)
    return events


def _delta_with(answer: Answer, text: str) -> dict[str, Any]:
    if answer.tool_call is None:
        return {"content": text}
    return {"tool_calls": [{"index": 0, "function": {"arguments": text}}]}


def _chunk(head: dict[str, Any], choice: dict[str, Any], extra: dict[str, Any]) -> StreamEvent:
    return StreamEvent(None, orjson.dumps({**head, "choices": [choice], **extra}))


_ERROR_KINDS = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("invalid_request_error", "unsupported_country_region_territory"),
    404: ("invalid_request_error", "model_not_found"),
    429: ("requests", "rate_limit_exceeded"),
}


def error_object(status: int, message: str) -> dict[str, Any]:
    kind, code = _ERROR_KINDS.get(status, ("server_error", None))
    return {"message": message, "type": kind, "param": None, "code": code}


def error_reply(status: int, message: str) -> ErrorReply:
    return ErrorReply(status, orjson.dumps({"error": error_object(status, message)}))


def stream_error(message: str, index: int = 0) -> StreamEvent:
    """The `data: {"error": ...}` event OpenAI sends when a stream fails after HTTP 200."""
    return StreamEvent(None, orjson.dumps({"error": error_object(500, message)}))
