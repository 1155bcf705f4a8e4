"""Gemini generateContent on the fake server (Gemini API and Vertex AI publishers/google).

Streams are `data:` lines, one partial response per text token; the last one carries
`finishReason` and `usageMetadata`. Function calls arrive whole in one chunk, as Gemini
sends them. Field names are read in camelCase or snake_case (the REST API accepts both).
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
    ToolChoice,
    ToolSpec,
    as_dict,
    as_list,
)

__all__ = [
    "count_request",
    "count_tokens_body",
    "error_reply",
    "read_prompt",
    "render_body",
    "render_events",
    "stream_error",
]

FINISH = {
    FinishReason.STOP: "STOP",
    FinishReason.LENGTH: "MAX_TOKENS",
    FinishReason.TOOL_CALL: "STOP",
}


def _get(obj: Mapping[str, Any], camel: str) -> Any:
    if camel in obj:
        return obj[camel]
    snake = "".join(f"_{c.lower()}" if c.isupper() else c for c in camel)
    return obj.get(snake)


def _part_text(part: Mapping[str, Any]) -> str:
    if isinstance(part.get("text"), str) and not part.get("thought"):
        return str(part["text"])
    response = _get(part, "functionResponse")
    if isinstance(response, dict):
        return orjson.dumps(response.get("response")).decode()
    return ""


def read_prompt(body: Mapping[str, Any], *, model: str) -> Prompt:
    contents = body.get("contents")
    if not isinstance(contents, list) or not contents:
        raise RejectedRequest("* GenerateContentRequest.contents: contents is not specified")
    system = as_dict(_get(body, "systemInstruction"))
    words = sum(len(_part_text(as_dict(p)).split()) for p in as_list(system.get("parts")))
    last_text = ""
    for content in map(as_dict, contents):
        texts = [_part_text(as_dict(part)) for part in as_list(content.get("parts"))]
        words += sum(len(text.split()) for text in texts)
        if content.get("role", "user") == "user":
            last_text = " ".join(text for text in texts if text)
    tools = tuple(
        ToolSpec(str(decl["name"]), _declaration_schema(decl))
        for tool in map(as_dict, as_list(body.get("tools")))
        for decl in map(as_dict, as_list(_get(tool, "functionDeclarations")))
        if decl.get("name")
    )
    config = as_dict(_get(body, "generationConfig"))
    schema = _get(config, "responseJsonSchema") or _get(config, "responseSchema")
    max_tokens = _get(config, "maxOutputTokens")
    return Prompt(
        model=model,
        last_text=last_text,
        input_words=words,
        tools=tools,
        tool_choice=_tool_choice(as_dict(_get(body, "toolConfig"))),
        max_tokens=max_tokens if isinstance(max_tokens, int) else None,
        json_schema=schema if isinstance(schema, dict) else None,
        json_mode=_get(config, "responseMimeType") == "application/json",
    )


def _declaration_schema(declaration: Mapping[str, Any]) -> Mapping[str, Any]:
    schema = _get(declaration, "parametersJsonSchema") or declaration.get("parameters")
    return as_dict(schema)


def _tool_choice(tool_config: Mapping[str, Any]) -> ToolChoice:
    config = as_dict(_get(tool_config, "functionCallingConfig"))
    mode = str(config.get("mode", "AUTO")).upper()
    if mode == "ANY":
        allowed = as_list(_get(config, "allowedFunctionNames"))
        if allowed and isinstance(allowed[0], str):
            return ToolChoice("named", allowed[0])
        return ToolChoice("required")
    return ToolChoice("none") if mode == "NONE" else ToolChoice()


def _usage(answer: Answer) -> dict[str, Any]:
    return {
        "promptTokenCount": answer.input_tokens,
        "candidatesTokenCount": answer.output_tokens,
        "totalTokenCount": answer.total_tokens,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": answer.input_tokens}],
    }


def _parts(answer: Answer) -> list[dict[str, Any]]:
    call = answer.tool_call
    if call is not None:
        function_call = {"name": call.name, "args": call.arguments_object(), "id": call.id}
        return [{"functionCall": function_call}]
    return [{"text": answer.text}]


def _response(
    ctx: RenderContext, parts: list[dict[str, Any]], *, finish: str | None, usage: Any
) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"parts": parts, "role": "model"}}
    if finish is not None:
        candidate["finishReason"] = finish
    candidate["index"] = 0
    body: dict[str, Any] = {"candidates": [candidate]}
    if usage is not None:
        body["usageMetadata"] = usage
    body["modelVersion"] = ctx.model
    body["responseId"] = ctx.id
    return body


def render_body(answer: Answer, ctx: RenderContext) -> bytes:
    finish = FINISH[answer.finish]
    return orjson.dumps(_response(ctx, _parts(answer), finish=finish, usage=_usage(answer)))


def render_events(answer: Answer, ctx: RenderContext) -> list[StreamEvent]:
    finish = FINISH[answer.finish]
    if answer.tool_call is not None:
        body = _response(ctx, _parts(answer), finish=finish, usage=_usage(answer))
        return [StreamEvent(None, orjson.dumps(body))]
    events = []
    last = len(answer.pieces) - 1
    for index, piece in enumerate(answer.pieces):
        done = index == last
        body = _response(
            ctx,
            [{"text": piece}],
            finish=finish if done else None,
            usage=_usage(answer) if done else None,
        )
        events.append(StreamEvent(None, orjson.dumps(body)))
    return events


def count_request(body: Mapping[str, Any]) -> Mapping[str, Any]:
    """The generate request a `:countTokens` body counts: its `contents`, or its
    `generateContentRequest` (which must name its model), never both."""
    inner = body.get("generateContentRequest")
    if inner is None:
        return body
    if "contents" in body:
        raise RejectedRequest("only one of contents and generateContentRequest may be set")
    inner = as_dict(inner)
    if not isinstance(inner.get("model"), str) or not inner["model"]:
        raise RejectedRequest("* CountTokensRequest.generate_content_request.model: required")
    return inner


def count_tokens_body(prompt: Prompt) -> bytes:
    return orjson.dumps({"totalTokens": max(1, prompt.input_words)})


_STATUSES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    408: "DEADLINE_EXCEEDED",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    501: "NOT_IMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


def error_object(status: int, message: str, *, reason: str | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {
        "code": status,
        "message": message,
        "status": _STATUSES.get(status, "INTERNAL"),
    }
    if reason is not None:
        error["details"] = [
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": reason,
                "domain": "googleapis.com",
            }
        ]
    return error


def error_reply(status: int, message: str, *, reason: str | None = None) -> ErrorReply:
    return ErrorReply(status, orjson.dumps({"error": error_object(status, message, reason=reason)}))


def stream_error(message: str, index: int = 0) -> StreamEvent:
    """A `data: {"error": ...}` chunk, as Gemini sends when a stream fails after HTTP 200."""
    return StreamEvent(None, orjson.dumps({"error": error_object(503, message)}))
