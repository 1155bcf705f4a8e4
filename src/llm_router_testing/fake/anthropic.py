"""Anthropic Messages on the fake server: prompt reading, messages, the SSE event sequence.

Serves api.anthropic.com, Vertex `rawPredict` (body has `anthropic_version`, no `model`) and
Bedrock InvokeModel (same, with `bedrock-2023-05-31`; its stream events are wrapped in
event-stream `chunk` frames by `bedrock.py`).
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

STOP_REASONS = {
    FinishReason.STOP: "end_turn",
    FinishReason.LENGTH: "max_tokens",
    FinishReason.TOOL_CALL: "tool_use",
}
_TEXT_KEYS = ("text", "content")


#: What a `count_tokens` body may hold (the real API refuses max_tokens, stream, sampling).
_COUNTED_FIELDS = frozenset(
    {
        "model",
        "messages",
        "system",
        "tools",
        "tool_choice",
        "thinking",
        "mcp_servers",
        "anthropic_version",
        "context_management",
        "output_format",
    }
)


def read_prompt(
    body: Mapping[str, Any],
    *,
    model: str | None = None,
    version: str | None = None,
    counting: bool = False,
) -> Prompt:
    """Read a Messages body (`counting`: a count_tokens body, which has no max_tokens).

    `model` comes from the URL on Vertex and Bedrock, whose bodies instead carry
    `anthropic_version` (which must then equal `version`).
    """
    if version is not None:
        if body.get("anthropic_version") != version:
            raise RejectedRequest(f"anthropic_version: must be {version!r}")
        if "model" in body and version.startswith("bedrock"):
            raise RejectedRequest("extraneous key [model] is not permitted")
    if counting:
        extra = sorted(set(body) - _COUNTED_FIELDS)
        if extra:
            raise RejectedRequest(f"{extra[0]}: Extra inputs are not permitted")
    chosen = model or body.get("model")
    if not isinstance(chosen, str) or not chosen:
        raise RejectedRequest("model: Field required")
    max_tokens = body.get("max_tokens")
    if not counting and not isinstance(max_tokens, int):
        raise RejectedRequest("max_tokens: Field required")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise RejectedRequest("messages: Field required")
    words = len(text_of(body.get("system")).split())
    last_text = ""
    for message in map(as_dict, messages):
        content = message.get("content")
        texts = [text_of(content)] if isinstance(content, str) else _block_texts(content)
        words += sum(len(text.split()) for text in texts)
        if message.get("role") == "user":
            last_text = " ".join(texts)
    tools = tuple(
        ToolSpec(str(tool["name"]), as_dict(tool.get("input_schema")))
        for tool in map(as_dict, as_list(body.get("tools")))
        if tool.get("name") and "input_schema" in tool
    )
    output_format = as_dict(as_dict(body.get("output_config")).get("format")) or as_dict(
        body.get("output_format")
    )
    schema = output_format.get("schema") if output_format.get("type") == "json_schema" else None
    return Prompt(
        model=chosen,
        last_text=last_text,
        input_words=words,
        tools=tools,
        tool_choice=_tool_choice(body.get("tool_choice")),
        max_tokens=max_tokens if isinstance(max_tokens, int) else None,
        json_schema=schema if isinstance(schema, dict) else None,
        stream=body.get("stream") is True,
    )


def _block_texts(content: object) -> list[str]:
    texts = []
    for block in map(as_dict, as_list(content)):
        if block.get("type") == "tool_result":
            texts.append(text_of(block.get("content"), text_keys=_TEXT_KEYS))
        elif isinstance(block.get("text"), str):
            texts.append(block["text"])
    return texts


def _tool_choice(value: object) -> ToolChoice:
    choice = as_dict(value)
    kind = choice.get("type")
    if kind == "any":
        return ToolChoice("required")
    if kind == "tool" and isinstance(choice.get("name"), str):
        return ToolChoice("named", choice["name"])
    if kind == "none":
        return ToolChoice("none")
    return ToolChoice()


def _ids(ctx: RenderContext) -> tuple[str, str]:
    infix = "bdrk_" if ctx.provider == "bedrock" else ""
    return f"msg_{infix}{ctx.id}", f"toolu_{infix}"


def _usage(answer: Answer, output_tokens: int) -> dict[str, Any]:
    return {
        "input_tokens": answer.input_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "output_tokens": output_tokens,
    }


def _message(answer: Answer, ctx: RenderContext, *, done: bool) -> dict[str, Any]:
    message_id, tool_prefix = _ids(ctx)
    content: list[dict[str, Any]] = []
    if done and answer.tool_call:
        call = answer.tool_call
        input_ = call.arguments_object()
        content.append(
            {"type": "tool_use", "id": tool_prefix + call.id, "name": call.name, "input": input_}
        )
    elif done:
        content.append({"type": "text", "text": answer.text})
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": ctx.model,
        "content": content,
        "stop_reason": STOP_REASONS[answer.finish] if done else None,
        "stop_sequence": None,
        "usage": _usage(answer, answer.output_tokens if done else 1),
    }


def render_body(answer: Answer, ctx: RenderContext) -> bytes:
    return orjson.dumps(_message(answer, ctx, done=True))


def render_events(answer: Answer, ctx: RenderContext) -> list[StreamEvent]:
    call = answer.tool_call
    if call is not None:
        block: dict[str, Any] = {
            "type": "tool_use",
            "id": _ids(ctx)[1] + call.id,
            "name": call.name,
            "input": {},
        }
        delta_type, key, pieces = "input_json_delta", "partial_json", call.fragments
    else:
        block = {"type": "text", "text": ""}
        delta_type, key, pieces = "text_delta", "text", answer.pieces
    opening: list[dict[str, Any]] = [
        {"type": "message_start", "message": _message(answer, ctx, done=False)},
        {"type": "ping"},
        {"type": "content_block_start", "index": 0, "content_block": block},
    ]
    stop: dict[str, Any] = {"type": "message_stop"}
    if ctx.provider == "bedrock":
        stop["amazon-bedrock-invocationMetrics"] = {
            "inputTokenCount": answer.input_tokens,
            "outputTokenCount": answer.output_tokens,
            "invocationLatency": 1,
            "firstByteLatency": 1,
        }
    closing: list[dict[str, Any]] = [
        {"type": "content_block_stop", "index": 0},
        {
            "type": "message_delta",
            "delta": {"stop_reason": STOP_REASONS[answer.finish], "stop_sequence": None},
            "usage": _usage(answer, answer.output_tokens),
        },
        stop,
    ]
    delta = Template.of(
        lambda slot: {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": delta_type, key: slot},
        }
    )
    return [
        *(StreamEvent(payload["type"], orjson.dumps(payload)) for payload in opening),
        *(StreamEvent("content_block_delta", delta.fill(piece)) for piece in pieces),
        *(StreamEvent(payload["type"], orjson.dumps(payload)) for payload in closing),
    ]


_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    504: "timeout_error",
    529: "overloaded_error",
}


def error_payload(status: int, message: str) -> dict[str, Any]:
    kind = _ERROR_TYPES.get(status, "api_error")
    return {"type": "error", "error": {"type": kind, "message": message}}


def error_reply(status: int, message: str) -> ErrorReply:
    payload = error_payload(status, message)
    payload["request_id"] = f"req_fake_{status}"
    return ErrorReply(status, orjson.dumps(payload))


def stream_error(message: str, index: int = 0) -> StreamEvent:
    """The `error` event Anthropic sends when a stream fails after HTTP 200."""
    return StreamEvent("error", orjson.dumps(error_payload(529, message)))
