"""Mistral's Chat Completions dialect: the format-module interface over the shared Chat engine.

How it differs from OpenAI: `random_seed` and `max_tokens`; `tool_choice` "any"; finish
reasons `model_length` and `error`; usage on the last stream chunk (no `stream_options`);
tool-call ids must be nine alphanumerics; strict request validation (unknown fields are
rejected, so only fields Mistral accepts are rendered); 422 ``{"detail": [...]}`` errors.
"""

from __future__ import annotations

import functools
import hashlib
import re
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
from llm_router.formats.openai import error_from_body
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
    "mistral_tool_call_id",
    "parse_error",
    "parse_request",
    "parse_response",
    "render_error",
    "render_request",
    "render_response",
]

_ID_RE = re.compile(r"[A-Za-z0-9]{9}")
_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


@functools.lru_cache(maxsize=4096)  # every id is rewritten twice: on its call and its result
def mistral_tool_call_id(call_id: str) -> str:
    """A nine-alphanumeric id Mistral accepts, stable for a given foreign id.

    Mistral rejects other id shapes, and the same foreign id appears both on the assistant's
    call and on the tool result, so the mapping must be a pure function of the id.
    """
    if _ID_RE.fullmatch(call_id):
        return call_id
    n = int.from_bytes(hashlib.blake2b(call_id.encode(), digest_size=8).digest(), "big")
    chars = []
    for _ in range(9):
        n, r = divmod(n, 62)
        chars.append(_ALPHABET[r])
    return "".join(chars)


DIALECT = ChatDialect(
    origin="mistral",
    finish=FinishReasonMap(
        {
            "stop": FinishReason.STOP,
            "length": FinishReason.LENGTH,
            "model_length": FinishReason.CONTEXT_WINDOW,
            "tool_calls": FinishReason.TOOL_CALLS,
            "error": FinishReason.ERROR,
        },
        default="stop",
    ),
    seed_field="random_seed",
    max_tokens_field="max_tokens",
    required_choice="any",
    developer_role=False,
    reasoning_effort=False,
    usage_on_finish_chunk=True,
    known_fields=BASE_FIELDS | {"random_seed"},
    tool_call_id=mistral_tool_call_id,
    usage_details=False,
    optional_fields=frozenset(),
    cache_control=False,
    document_url=True,
    reasoning_in_content=True,
)


def parse_request(obj: Mapping[str, Any]) -> Request:
    return parse_chat_request(obj, DIALECT)


def render_request(req: Request, *, default_max_tokens: int | None = None) -> dict[str, Any]:
    del default_max_tokens  # Mistral needs no max-tokens field
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

    def __init__(self) -> None:
        super().__init__(DIALECT, lambda err: render_error(err)[1])


# --------------------------------------------------------------------------- errors

_WIRE_TYPES: dict[ErrorType, str] = {
    ErrorType.INVALID_REQUEST: "invalid_request_error",
    ErrorType.AUTHENTICATION: "authentication_error",
    ErrorType.PERMISSION: "permission_error",
    ErrorType.NOT_FOUND: "not_found_error",
    ErrorType.RATE_LIMIT: "rate_limit_error",
    ErrorType.OVERLOADED: "service_unavailable",
    ErrorType.TIMEOUT: "timeout_error",
    ErrorType.CONTEXT_WINDOW: "invalid_request_error",
    ErrorType.CONTENT_FILTER: "invalid_request_error",
    ErrorType.SERVER: "api_error",
}


def parse_error(status: int, obj: Any) -> ErrorInfo:
    detail = obj.get("detail") if isinstance(obj, dict) else None
    if isinstance(detail, list):  # FastAPI-style validation errors
        messages: list[str] = []
        param = None
        for item in detail:
            if not isinstance(item, dict):
                continue
            loc = item.get("loc")
            if isinstance(loc, list) and loc[:1] == ["body"]:
                loc = loc[1:]
            where = ".".join(str(x) for x in loc) if isinstance(loc, list) else ""
            param = param or where or None
            msg = item.get("msg")
            messages.append(f"{where}: {msg}" if where else str(msg))
        return ErrorInfo(
            ErrorType.INVALID_REQUEST,
            "; ".join(messages) or f"HTTP {status}",
            status,
            param=param,
            provider_type="validation_error",
        )
    if isinstance(detail, str):
        return ErrorInfo(ErrorType.from_status(status), detail, status)
    return error_from_body(status, obj)


def render_error(err: ErrorInfo) -> tuple[int, dict[str, Any]]:
    status = err.http_status
    if err.type is ErrorType.INVALID_REQUEST and status == 422:
        loc: list[Any] = ["body", *err.param.split(".")] if err.param else ["body"]
        return status, {
            "detail": [{"type": err.code or "value_error", "loc": loc, "msg": err.message}]
        }
    if status == 529:
        status = 503  # Mistral has no 529; 503 is its "overloaded"
    return status, {
        "object": "error",
        "message": err.message,
        "type": _WIRE_TYPES[err.type],
        "param": err.param,
        "code": err.code,
    }
