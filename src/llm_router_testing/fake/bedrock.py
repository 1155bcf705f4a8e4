"""AWS Bedrock on the fake server: Converse bodies and events, event-stream framing, errors.

ConverseStream answers are `application/vnd.amazon.eventstream` frames (messageStart,
contentBlockStart/Delta/Stop, messageStop, metadata); InvokeModel streams wrap each Anthropic
event in a `chunk` frame whose payload is `{"bytes": base64(event JSON)}`. Errors carry an
`x-amzn-ErrorType` header and a `{"message": ...}` body; in-stream failures are `exception`
frames.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

import orjson

from llm_router.types import StreamEvent

from .eventstream import event_frame, exception_frame
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
)

__all__ = [
    "EVENTSTREAM_CONTENT_TYPE",
    "error_reply",
    "frame_converse",
    "frame_invoke",
    "malformed_frame",
    "read_prompt",
    "render_body",
    "render_events",
    "stream_error_frame",
]

EVENTSTREAM_CONTENT_TYPE = "application/vnd.amazon.eventstream"
STOP_REASONS = {
    FinishReason.STOP: "end_turn",
    FinishReason.LENGTH: "max_tokens",
    FinishReason.TOOL_CALL: "tool_use",
}


def _block_text(block: Mapping[str, Any]) -> str:
    if isinstance(block.get("text"), str):
        return str(block["text"])
    result = as_dict(block.get("toolResult"))
    texts = []
    for part in map(as_dict, as_list(result.get("content"))):
        if isinstance(part.get("text"), str):
            texts.append(part["text"])
        elif "json" in part:
            texts.append(orjson.dumps(part["json"]).decode())
    return " ".join(texts)


def read_prompt(body: Mapping[str, Any], *, model: str) -> Prompt:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise RejectedRequest("A conversation must start with a user message.")
    words = sum(len(_block_text(as_dict(b)).split()) for b in as_list(body.get("system")))
    last_text = ""
    for message in map(as_dict, messages):
        texts = [_block_text(as_dict(block)) for block in as_list(message.get("content"))]
        words += sum(len(text.split()) for text in texts)
        if message.get("role") == "user":
            last_text = " ".join(text for text in texts if text)
    tool_config = as_dict(body.get("toolConfig"))
    tools = tuple(
        ToolSpec(str(spec["name"]), as_dict(as_dict(spec.get("inputSchema")).get("json")))
        for spec in (as_dict(as_dict(t).get("toolSpec")) for t in as_list(tool_config.get("tools")))
        if spec.get("name")
    )
    max_tokens = as_dict(body.get("inferenceConfig")).get("maxTokens")
    return Prompt(
        model=model,
        last_text=last_text,
        input_words=words,
        tools=tools,
        tool_choice=_tool_choice(as_dict(tool_config.get("toolChoice"))),
        max_tokens=max_tokens if isinstance(max_tokens, int) else None,
        json_schema=_json_schema(as_dict(body.get("outputConfig"))),
    )


def _json_schema(output_config: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """`outputConfig.textFormat.structure.jsonSchema.schema`: the schema as a JSON string."""
    text_format = as_dict(output_config.get("textFormat"))
    schema = as_dict(as_dict(text_format.get("structure")).get("jsonSchema")).get("schema")
    if isinstance(schema, str):
        try:
            schema = orjson.loads(schema)
        except orjson.JSONDecodeError:
            raise RejectedRequest(
                "outputConfig.textFormat.structure.jsonSchema.schema is not valid JSON"
            ) from None
    return schema if isinstance(schema, dict) else None


def _tool_choice(choice: Mapping[str, Any]) -> ToolChoice:
    if "any" in choice:
        return ToolChoice("required")
    name = as_dict(choice.get("tool")).get("name")
    return ToolChoice("named", name) if isinstance(name, str) else ToolChoice()


def _usage(answer: Answer) -> dict[str, int]:
    return {
        "inputTokens": answer.input_tokens,
        "outputTokens": answer.output_tokens,
        "totalTokens": answer.total_tokens,
    }


def render_body(answer: Answer, ctx: RenderContext) -> bytes:
    call = answer.tool_call
    if call is not None:
        tool_use = {
            "toolUseId": f"tooluse_{call.id}",
            "name": call.name,
            "input": call.arguments_object(),
        }
        content: list[dict[str, Any]] = [{"toolUse": tool_use}]
    else:
        content = [{"text": answer.text}]
    return orjson.dumps(
        {
            "output": {"message": {"role": "assistant", "content": content}},
            "stopReason": STOP_REASONS[answer.finish],
            "usage": _usage(answer),
            "metrics": {"latencyMs": 1},
        }
    )


def render_events(answer: Answer, ctx: RenderContext) -> list[StreamEvent]:
    """Converse stream events: `event` is the event type, `data` its JSON payload."""
    events = [StreamEvent("messageStart", b'{"role":"assistant"}')]
    call = answer.tool_call
    if call is not None:
        start = {"toolUse": {"toolUseId": f"tooluse_{call.id}", "name": call.name}}
        opening = {"start": start, "contentBlockIndex": 0}
        events.append(StreamEvent("contentBlockStart", orjson.dumps(opening)))
        delta = Template.of(
            lambda slot: {"delta": {"toolUse": {"input": slot}}, "contentBlockIndex": 0}
        )
        pieces = call.fragments
    else:
        delta = Template.of(lambda slot: {"delta": {"text": slot}, "contentBlockIndex": 0})
        pieces = answer.pieces
    events.extend(StreamEvent("contentBlockDelta", delta.fill(piece)) for piece in pieces)
    closing: list[tuple[str, dict[str, Any]]] = [
        ("contentBlockStop", {"contentBlockIndex": 0}),
        ("messageStop", {"stopReason": STOP_REASONS[answer.finish]}),
        ("metadata", {"usage": _usage(answer), "metrics": {"latencyMs": 1}}),
    ]
    events.extend(StreamEvent(name, orjson.dumps(payload)) for name, payload in closing)
    return events


def frame_converse(event: StreamEvent, *, corrupt_crc: bool = False) -> bytes:
    return event_frame(event.event or "chunk", event.data, corrupt_crc=corrupt_crc)


def frame_invoke(event: StreamEvent, *, corrupt_crc: bool = False) -> bytes:
    """Wrap one Anthropic stream event as InvokeModelWithResponseStream's `chunk` frame."""
    payload = orjson.dumps({"bytes": base64.b64encode(event.data).decode()})
    return event_frame("chunk", payload, corrupt_crc=corrupt_crc)


def malformed_frame(event_type: str) -> bytes:
    """A frame with valid checksums whose JSON payload is cut short."""
    return event_frame(event_type, b'{"truncated":')


def stream_error_frame(message: str) -> bytes:
    return exception_frame("throttlingException", message)


_ERROR_TYPES = {
    400: "ValidationException",
    401: "UnrecognizedClientException",
    403: "AccessDeniedException",
    404: "ResourceNotFoundException",
    408: "ModelTimeoutException",
    424: "ModelErrorException",
    429: "ThrottlingException",
    500: "InternalServerException",
}


def error_reply(status: int, message: str, *, error_type: str | None = None) -> ErrorReply:
    kind = error_type or _ERROR_TYPES.get(
        status, "ServiceUnavailableException" if status >= 502 else "InternalServerException"
    )
    headers = (
        ("x-amzn-ErrorType", f"{kind}:http://internal.amazon.com/coral/com.amazon.bedrock/"),
    )
    return ErrorReply(status, orjson.dumps({"message": message}), headers)
