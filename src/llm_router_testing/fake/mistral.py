"""Mistral's Chat Completions dialect on the fake server: OpenAI Chat with its own details.

Differences rendered here: usage rides on the last content chunk (no `include_usage` needed,
no `choices: []` chunk), tool-call ids are 9 alphanumerics, `tool_choice: "any"` is accepted,
and errors use Mistral's `{"object": "error", ...}` body (422 `{"detail": [...]}` for
validation failures).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from llm_router.types import StreamEvent

from . import openai_chat
from .wire import Answer, ErrorReply, Prompt, RejectedRequest, RenderContext

__all__ = ["error_reply", "read_prompt", "render_body", "render_events", "stream_error"]


def read_prompt(body: Mapping[str, Any]) -> Prompt:
    if "max_completion_tokens" in body:
        raise RejectedRequest("Extra inputs are not permitted: max_completion_tokens", status=422)
    return openai_chat.read_prompt(body)


def _usage(answer: Answer) -> dict[str, int]:
    return {
        "prompt_tokens": answer.input_tokens,
        "completion_tokens": answer.output_tokens,
        "total_tokens": answer.total_tokens,
    }


def _tool_calls(answer: Answer) -> list[dict[str, Any]] | None:
    call = answer.tool_call
    if call is None:
        return None
    function = {"name": call.name, "arguments": call.arguments}
    return [{"id": call.id[-9:], "type": "function", "function": function, "index": 0}]


def render_body(answer: Answer, ctx: RenderContext) -> bytes:
    content = None if answer.tool_call else answer.text
    message = {"role": "assistant", "content": content, "tool_calls": _tool_calls(answer)}
    return orjson.dumps(
        {
            "id": ctx.id,
            "object": "chat.completion",
            "created": ctx.created,
            "model": ctx.model,
            "choices": [
                {"index": 0, "message": message, "finish_reason": openai_chat.FINISH[answer.finish]}
            ],
            "usage": _usage(answer),
        }
    )


def render_events(answer: Answer, ctx: RenderContext) -> list[StreamEvent]:
    head = {
        "id": ctx.id,
        "object": "chat.completion.chunk",
        "created": ctx.created,
        "model": ctx.model,
    }
    deltas = openai_chat.deltas(answer)
    if answer.tool_call:
        opening = deltas[0]["tool_calls"][0]
        opening["id"] = answer.tool_call.id[-9:]
    events = [
        StreamEvent(
            None,
            orjson.dumps(
                {**head, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
            ),
        )
        for delta in deltas
    ]
    last = {
        "index": 0,
        "delta": {"content": ""},
        "finish_reason": openai_chat.FINISH[answer.finish],
    }
    events.append(
        StreamEvent(None, orjson.dumps({**head, "choices": [last], "usage": _usage(answer)}))
    )
    events.append(openai_chat.DONE)
    return events


_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    429: "rate_limited",
}


def error_reply(status: int, message: str) -> ErrorReply:
    if status == 422:
        detail = [{"type": "invalid_request", "loc": ["body"], "msg": message, "input": None}]
        return ErrorReply(422, orjson.dumps({"detail": detail}))
    kind = _ERROR_TYPES.get(status, "internal_server_error")
    body = {"object": "error", "message": message, "type": kind, "param": None, "code": str(status)}
    return ErrorReply(status, orjson.dumps(body))


def stream_error(message: str, index: int = 0) -> StreamEvent:
    body = {"object": "error", "message": message, "type": "internal_server_error", "code": "500"}
    return StreamEvent(None, orjson.dumps({"error": body}))
