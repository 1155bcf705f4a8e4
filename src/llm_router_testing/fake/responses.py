"""OpenAI Responses on the fake server: prompt reading, response objects, the event lifecycle.

Streams follow the real lifecycle, every event named by an `event:` line and numbered by
`sequence_number`: created, in_progress, output_item.added, content_part.added, deltas, the
`.done` events, then `response.completed` (or `response.incomplete` when cut by
`max_output_tokens`), which alone carries usage.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from llm_router.types import StreamEvent

from . import openai_chat
from .wire import (
    Answer,
    ErrorReply,
    FinishReason,
    Prompt,
    RejectedRequest,
    RenderContext,
    ToolChoice,
    ToolSpec,
    as_dict,
    as_list,
    text_of,
)

__all__ = ["error_reply", "read_prompt", "render_body", "render_events", "stream_error"]

_TEXT_KEYS = ("text", "output")


def read_prompt(body: Mapping[str, Any], *, model: str | None = None) -> Prompt:
    chosen = model or body.get("model")
    if not isinstance(chosen, str) or not chosen:
        raise RejectedRequest("Missing required parameter: 'model'.")
    items = body.get("input")
    if isinstance(items, str):
        items = [{"role": "user", "content": items}]
    if not isinstance(items, list):
        raise RejectedRequest("Missing required parameter: 'input'.")
    instructions = body.get("instructions")
    words = len(instructions.split()) if isinstance(instructions, str) else 0
    last_text = ""
    for item in items:
        item = as_dict(item)
        if item.get("type") == "function_call_output":
            output = item.get("output")
            text = output if isinstance(output, str) else text_of(output, text_keys=_TEXT_KEYS)
            last_text = text
        else:
            text = text_of(item.get("content"), text_keys=_TEXT_KEYS)
            if item.get("role") == "user":
                last_text = text
        words += len(text.split())
    tools = tuple(
        ToolSpec(str(tool["name"]), as_dict(tool.get("parameters")))
        for tool in map(as_dict, as_list(body.get("tools")))
        if tool.get("type") == "function" and tool.get("name")
    )
    text_format = as_dict(as_dict(body.get("text")).get("format"))
    schema = text_format.get("schema") if text_format.get("type") == "json_schema" else None
    max_tokens = body.get("max_output_tokens")
    return Prompt(
        model=chosen,
        last_text=last_text,
        input_words=words,
        tools=tools,
        tool_choice=_tool_choice(body.get("tool_choice")),
        max_tokens=max_tokens if isinstance(max_tokens, int) else None,
        json_schema=schema if isinstance(schema, dict) else None,
        json_mode=text_format.get("type") == "json_object",
        stream=body.get("stream") is True,
    )


def _tool_choice(value: object) -> ToolChoice:
    if value in ("required", "none"):
        return ToolChoice(str(value))
    choice = as_dict(value)
    if choice.get("type") == "function" and isinstance(choice.get("name"), str):
        return ToolChoice("named", choice["name"])
    return ToolChoice()


def _usage(answer: Answer) -> dict[str, Any]:
    return {
        "input_tokens": answer.input_tokens,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": answer.output_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": answer.total_tokens,
    }


def _text_part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "annotations": [], "logprobs": [], "text": text}


def _item(answer: Answer, ctx: RenderContext, *, done: bool) -> dict[str, Any]:
    call = answer.tool_call
    if call is not None:
        return {
            "id": f"fc_{ctx.id}",
            "type": "function_call",
            "status": "completed" if done else "in_progress",
            "arguments": call.arguments if done else "",
            "call_id": f"call_{call.id}",
            "name": call.name,
        }
    status = "in_progress"
    if done:
        status = "incomplete" if answer.finish is FinishReason.LENGTH else "completed"
    return {
        "id": f"msg_{ctx.id}",
        "type": "message",
        "status": status,
        "content": [_text_part(answer.text)] if done else [],
        "role": "assistant",
    }


def _response(answer: Answer, ctx: RenderContext, *, done: bool) -> dict[str, Any]:
    request = ctx.request
    status = "in_progress"
    if done:
        status = "incomplete" if answer.finish is FinishReason.LENGTH else "completed"
    return {
        "id": f"resp_{ctx.id}",
        "object": "response",
        "created_at": ctx.created,
        "status": status,
        "background": False,
        "error": None,
        "incomplete_details": {"reason": "max_output_tokens"} if status == "incomplete" else None,
        "instructions": request.get("instructions"),
        "max_output_tokens": request.get("max_output_tokens"),
        "max_tool_calls": None,
        "model": ctx.model,
        "output": [_item(answer, ctx, done=True)] if done else [],
        "parallel_tool_calls": request.get("parallel_tool_calls", True),
        "previous_response_id": request.get("previous_response_id"),
        "reasoning": {"effort": None, "summary": None},
        "service_tier": "default",
        "store": request.get("store", True),
        "temperature": request.get("temperature", 1.0),
        "text": request.get("text") or {"format": {"type": "text"}},
        "tool_choice": request.get("tool_choice", "auto"),
        "tools": request.get("tools", []),
        "top_p": request.get("top_p", 1.0),
        "truncation": request.get("truncation", "disabled"),
        "usage": _usage(answer) if done else None,
        "user": None,
        "metadata": request.get("metadata") or {},
    }


def render_body(answer: Answer, ctx: RenderContext) -> bytes:
    return orjson.dumps(_response(answer, ctx, done=True))


def render_events(answer: Answer, ctx: RenderContext) -> list[StreamEvent]:
    payloads: list[dict[str, Any]] = [
        {"type": "response.created", "response": _response(answer, ctx, done=False)},
        {"type": "response.in_progress", "response": _response(answer, ctx, done=False)},
        {
            "type": "response.output_item.added",
            "output_index": 0,
            "item": _item(answer, ctx, done=False),
        },
    ]
    where: dict[str, Any] = {"item_id": _item(answer, ctx, done=False)["id"], "output_index": 0}
    call = answer.tool_call
    if call is not None:
        payloads.extend(
            {"type": "response.function_call_arguments.delta", **where, "delta": fragment}
            for fragment in call.fragments
        )
        payloads.append(
            {"type": "response.function_call_arguments.done", **where, "arguments": call.arguments}
        )
    else:
        where["content_index"] = 0
        payloads.append({"type": "response.content_part.added", **where, "part": _text_part("")})
        payloads.extend(
            {"type": "response.output_text.delta", **where, "delta": piece, "logprobs": []}
            for piece in answer.pieces
        )
        payloads.append(
            {"type": "response.output_text.done", **where, "text": answer.text, "logprobs": []}
        )
        payloads.append(
            {"type": "response.content_part.done", **where, "part": _text_part(answer.text)}
        )
    payloads.append(
        {
            "type": "response.output_item.done",
            "output_index": 0,
            "item": _item(answer, ctx, done=True),
        }
    )
    final = _response(answer, ctx, done=True)
    payloads.append({"type": f"response.{final['status']}", "response": final})
    return [
        StreamEvent(payload["type"], orjson.dumps({**payload, "sequence_number": number}))
        for number, payload in enumerate(payloads)
    ]


def error_reply(status: int, message: str) -> ErrorReply:
    return openai_chat.error_reply(status, message)


def stream_error(message: str, index: int = 0) -> StreamEvent:
    """The `error` event of a Responses stream that fails after HTTP 200."""
    body = {
        "type": "error",
        "code": "server_error",
        "message": message,
        "param": None,
        "sequence_number": index,
    }
    return StreamEvent("error", orjson.dumps(body))
