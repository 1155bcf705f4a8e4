"""OpenAI Chat Completions: the format-module interface over the shared Chat engine.

Wire facts: `tool_calls[].function.arguments` is JSON text; stream tool calls are addressed
by `index` with `id`/`name` on the first fragment only; ``stream_options.include_usage`` adds
a final chunk with ``choices: []`` before ``data: [DONE]``. Errors are
``{"error": {"message", "type", "param", "code"}}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from llm_router.formats._chat_request import (
    BASE_FIELDS,
    ChatDialect,
    parse_chat_request,
    render_chat_request,
)
from llm_router.formats._chat_response import (
    ChatStreamParser,
    ChatStreamRenderer,
    parse_chat_response,
    render_chat_response,
)
from llm_router.universal import (
    ErrorInfo,
    ErrorType,
    FinishReason,
    FinishReasonMap,
    Request,
    Response,
)

__all__ = [
    "DIALECT",
    "StreamParser",
    "StreamRenderer",
    "error_from_body",
    "parse_error",
    "parse_request",
    "parse_response",
    "render_error",
    "render_request",
    "render_response",
]

DIALECT = ChatDialect(
    origin="openai",
    finish=FinishReasonMap(
        {
            "stop": FinishReason.STOP,
            "length": FinishReason.LENGTH,
            "tool_calls": FinishReason.TOOL_CALLS,
            "content_filter": FinishReason.CONTENT_FILTER,
            "function_call": FinishReason.TOOL_CALLS,
        },
        render_overrides={
            FinishReason.CONTEXT_WINDOW: "length",
            FinishReason.REFUSAL: "content_filter",
        },
        default="stop",
    ),
    seed_field="seed",
    max_tokens_field="max_completion_tokens",
    required_choice="required",
    developer_role=True,
    reasoning_effort=True,
    usage_on_finish_chunk=False,
    known_fields=BASE_FIELDS | {"seed", "max_completion_tokens"},
)


def parse_request(obj: Mapping[str, Any]) -> Request:
    return parse_chat_request(obj, DIALECT)


def render_request(req: Request, *, default_max_tokens: int | None = None) -> dict[str, Any]:
    # OpenAI needs no max-tokens field, so the catalog default is not imposed on it.
    del default_max_tokens
    return render_chat_request(req, DIALECT)


def parse_response(obj: Mapping[str, Any]) -> Response:
    return parse_chat_response(obj, DIALECT)


def render_response(resp: Response) -> dict[str, Any]:
    return render_chat_response(resp, DIALECT)


class StreamParser(ChatStreamParser):
    __slots__ = ()

    def __init__(self) -> None:
        super().__init__(DIALECT, parse_error)


class StreamRenderer(ChatStreamRenderer):
    __slots__ = ()

    def __init__(self, *, include_usage: bool = True) -> None:
        super().__init__(DIALECT, lambda err: render_error(err)[1], include_usage=include_usage)


# --------------------------------------------------------------------------- errors

_TYPE_FROM_WIRE: dict[str, ErrorType] = {
    "invalid_request_error": ErrorType.INVALID_REQUEST,
    "authentication_error": ErrorType.AUTHENTICATION,
    "permission_error": ErrorType.PERMISSION,
    "not_found_error": ErrorType.NOT_FOUND,
    "rate_limit_exceeded": ErrorType.RATE_LIMIT,
    "insufficient_quota": ErrorType.RATE_LIMIT,
    "tokens": ErrorType.RATE_LIMIT,
    "requests": ErrorType.RATE_LIMIT,
    "server_error": ErrorType.SERVER,
    "service_unavailable": ErrorType.OVERLOADED,
    "timeout": ErrorType.TIMEOUT,
}
_TYPE_FROM_CODE: dict[str, ErrorType] = {
    "context_length_exceeded": ErrorType.CONTEXT_WINDOW,
    "content_filter": ErrorType.CONTENT_FILTER,
    "content_policy_violation": ErrorType.CONTENT_FILTER,
    "invalid_api_key": ErrorType.AUTHENTICATION,
    "model_not_found": ErrorType.NOT_FOUND,
    "rate_limit_exceeded": ErrorType.RATE_LIMIT,
}
_TYPE_TO_WIRE: dict[ErrorType, tuple[str, str | None]] = {
    ErrorType.INVALID_REQUEST: ("invalid_request_error", None),
    ErrorType.AUTHENTICATION: ("invalid_request_error", "invalid_api_key"),
    ErrorType.PERMISSION: ("permission_error", None),
    ErrorType.NOT_FOUND: ("invalid_request_error", "model_not_found"),
    ErrorType.RATE_LIMIT: ("requests", "rate_limit_exceeded"),
    ErrorType.OVERLOADED: ("server_error", "service_unavailable"),
    ErrorType.TIMEOUT: ("server_error", "timeout"),
    ErrorType.CONTEXT_WINDOW: ("invalid_request_error", "context_length_exceeded"),
    ErrorType.CONTENT_FILTER: ("invalid_request_error", "content_policy_violation"),
    ErrorType.SERVER: ("server_error", None),
}


def error_from_body(status: int, obj: Any) -> ErrorInfo:
    """Read ``{"error": {...}}`` (or anything else) leniently; shared with other dialects."""
    err = obj.get("error") if isinstance(obj, dict) else None
    if isinstance(err, str):
        err = {"message": err}
    if not isinstance(err, dict):
        message = obj if isinstance(obj, str) else _fallback_message(obj)
        return ErrorInfo(ErrorType.from_status(status), message or f"HTTP {status}", status)
    wire_type = _str(err.get("type"))
    code = err.get("code")
    code = str(code) if code is not None else None
    kind = _TYPE_FROM_CODE.get(code or "") or ErrorType.from_status(status)
    if kind is ErrorType.INVALID_REQUEST or status >= 500:
        kind = _TYPE_FROM_CODE.get(code or "") or _TYPE_FROM_WIRE.get(wire_type or "", kind)
    return ErrorInfo(
        kind,
        _str(err.get("message")) or f"HTTP {status}",
        status,
        code,
        _str(err.get("param")),
        wire_type,
    )


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _fallback_message(obj: Any) -> str:
    if isinstance(obj, dict):
        for key in ("message", "detail"):
            if isinstance(obj.get(key), str):
                return str(obj[key])
    return ""


def parse_error(status: int, obj: Any) -> ErrorInfo:
    return error_from_body(status, obj)


def render_error(err: ErrorInfo) -> tuple[int, dict[str, Any]]:
    wire_type, code = _TYPE_TO_WIRE[err.type]
    status = err.status
    if status is None:
        status = 503 if err.type is ErrorType.OVERLOADED else err.type.default_status
    body = {
        "message": err.message,
        "type": wire_type,
        "param": err.param,
        "code": err.code if err.code is not None else code,
    }
    return status, {"error": body}
