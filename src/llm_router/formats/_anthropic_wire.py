"""Anthropic Messages wire pieces shared by requests, answers and streams.

Content blocks <-> universal parts, usage (whose `input_tokens` excludes prompt-cache reads
and writes, unlike universal's), stop reasons and error bodies.
"""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Mapping
from typing import Any

from llm_router._json import dumps
from llm_router.errors import TranslationError
from llm_router.formats import (
    field_error,
    get_bool,
    get_int,
    get_list,
    get_obj,
    get_str,
    need_obj,
    need_str,
)
from llm_router.types import StreamEvent
from llm_router.universal import (
    ContentPart,
    DocumentPart,
    ErrorInfo,
    ErrorType,
    FinishReason,
    FinishReasonMap,
    ImagePart,
    ProviderPart,
    ReasoningConfig,
    ReasoningMode,
    ReasoningPart,
    RefusalPart,
    TextPart,
    ToolCallPart,
    ToolResultPart,
    Usage,
    arguments_to_object,
    budget_for_effort,
    object_to_arguments,
    split_data_url,
)

__all__ = [
    "FINISH",
    "KNOWN_REQUEST_FIELDS",
    "ORIGIN",
    "error_status",
    "new_message_id",
    "parse_block",
    "parse_error",
    "parse_usage",
    "render_block",
    "render_error",
    "render_text",
    "render_usage",
    "sse_event",
    "thinking_config",
    "tool_id",
]

ORIGIN = "anthropic"
"""The `ProviderFormat` value tagging opaque data (signatures, server-tool blocks) from here."""

FINISH = FinishReasonMap(
    {
        "end_turn": FinishReason.STOP,
        "max_tokens": FinishReason.LENGTH,
        "stop_sequence": FinishReason.STOP_SEQUENCE,
        "tool_use": FinishReason.TOOL_CALLS,
        "pause_turn": FinishReason.PAUSE,
        "refusal": FinishReason.REFUSAL,
        "model_context_window_exceeded": FinishReason.CONTEXT_WINDOW,
    },
    render_overrides={FinishReason.CONTENT_FILTER: "refusal"},
    default="end_turn",
)

KNOWN_REQUEST_FIELDS = frozenset(
    {
        "model", "messages", "system", "max_tokens", "tools", "tool_choice", "temperature",
        "top_p", "top_k", "stop_sequences", "metadata", "thinking", "output_config",
        "output_format", "service_tier", "stream", "anthropic_version",
    }
)  # fmt: skip
"""Top-level request fields with a universal slot; any other goes to `Request.extras`."""

DEFAULT_MAX_TOKENS = 4096
"""`max_tokens` sent when neither the request nor the caller's `default_max_tokens` has one."""
MIN_THINKING_BUDGET = 1024
_EFFORTS = frozenset({"low", "medium", "high", "xhigh", "max"})
_CITATION_TYPES = frozenset(
    {
        "char_location", "page_location", "content_block_location",
        "web_search_result_location", "search_result_location",
    }
)  # fmt: skip
_TOOL_ID = re.compile(r"[A-Za-z0-9_-]+")
_TOOL_ID_BAD = re.compile(r"[^A-Za-z0-9_-]")


def parse_block(b: Any, path: str) -> ContentPart:
    """One content block; `path` names it in errors (``messages[1].content[0]``)."""
    kind = need_str(need_obj(b, path), "type", path)
    if kind == "text":
        text = need_str(b, "text", path)
        if len(b) == 2:  # the common case: nothing but type and text
            return TextPart(text)
        citations = get_list(b, "citations", path)
        return TextPart(
            text,
            cache_control=get_obj(b, "cache_control", path),
            annotations=tuple(
                need_obj(c, f"{path}.citations[{k}]") for k, c in enumerate(citations)
            )
            if citations
            else (),
        )
    cache = get_obj(b, "cache_control", path)
    if kind == "image":
        src = _need_source(b, path)
        stype = src["type"]
        if stype == "base64":
            return ImagePart(
                data=need_str(src, "data", f"{path}.source"),
                media_type=get_str(src, "media_type", f"{path}.source"),
                cache_control=cache,
            )
        if stype == "url":
            return ImagePart(url=need_str(src, "url", f"{path}.source"), cache_control=cache)
        if stype == "file":
            return ImagePart(
                file_id=need_str(src, "file_id", f"{path}.source"), cache_control=cache
            )
        return ProviderPart(ORIGIN, b)
    if kind == "document":
        return _parse_document(b, path, cache)
    if kind == "tool_use":
        return ToolCallPart(
            id=need_str(b, "id", path),
            name=need_str(b, "name", path),
            arguments=object_to_arguments(b.get("input") or {}),
            cache_control=cache,
        )
    if kind == "tool_result":
        content = b.get("content")
        if content is None:
            result: tuple[ContentPart, ...] = ()
        elif type(content) is str:
            result = (TextPart(content),)
        elif type(content) is list:
            result = tuple(parse_block(c, f"{path}.content[{k}]") for k, c in enumerate(content))
        else:
            raise field_error(path, "content", "string or array", content)
        return ToolResultPart(
            call_id=need_str(b, "tool_use_id", path),
            content=result,
            is_error=bool(get_bool(b, "is_error", path)),
            cache_control=cache,
        )
    if kind == "thinking":
        signature = get_str(b, "signature", path)
        return ReasoningPart(
            text=need_str(b, "thinking", path),
            signature=signature or None,
            origin=ORIGIN if signature else None,
        )
    if kind == "redacted_thinking":
        return ReasoningPart(encrypted=need_str(b, "data", path), redacted=True, origin=ORIGIN)
    # Server tools, search results, container uploads...: replayed to Anthropic only.
    return ProviderPart(ORIGIN, b)


def _need_source(b: Mapping[str, Any], path: str) -> Mapping[str, Any]:
    src = get_obj(b, "source", path)
    if src is None:
        raise TranslationError(f"{path}.source: required object is missing", path=f"{path}.source")
    need_str(src, "type", f"{path}.source")
    return src


def _parse_document(
    b: Mapping[str, Any], path: str, cache: Mapping[str, Any] | None
) -> ContentPart:
    src = _need_source(b, path)
    spath = f"{path}.source"
    name = get_str(b, "title", path)
    citations = get_obj(b, "citations", path)
    stype = src["type"]
    if stype == "base64":
        return DocumentPart(
            data=need_str(src, "data", spath),
            media_type=get_str(src, "media_type", spath),
            name=name,
            cache_control=cache,
            citations=citations,
        )
    if stype == "url":
        return DocumentPart(
            url=need_str(src, "url", spath), name=name, cache_control=cache, citations=citations
        )
    if stype == "text":
        return DocumentPart(
            text=need_str(src, "data", spath),
            media_type=get_str(src, "media_type", spath) or "text/plain",
            name=name,
            cache_control=cache,
            citations=citations,
        )
    if stype == "file":
        return DocumentPart(
            file_id=need_str(src, "file_id", spath),
            name=name,
            cache_control=cache,
            citations=citations,
        )
    return ProviderPart(ORIGIN, b)


def render_text(p: TextPart) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "text", "text": p.text}
    if p.cache_control is not None:
        block["cache_control"] = p.cache_control
    if p.annotations:
        citations = [a for a in p.annotations if _is_citation(a)]
        if citations:
            block["citations"] = citations
    return block


def _is_citation(annotation: Mapping[str, Any]) -> bool:
    # Annotations from other formats (OpenAI url_citation...) are not Anthropic citations.
    kind = annotation.get("type")
    return isinstance(kind, str) and kind in _CITATION_TYPES


def render_block(p: ContentPart, *, request: bool) -> dict[str, Any] | None:
    """One content block; None for parts Anthropic cannot carry (or, in requests, must not get)."""
    block: dict[str, Any]
    match p:
        case TextPart():
            return render_text(p) if (p.text or not request) else None
        case ToolCallPart():
            args = arguments_to_object(p.arguments)
            block = {"type": "tool_use", "id": tool_id(p.id), "name": p.name, "input": args}
        case ToolResultPart():
            block = _render_tool_result(p)
        case ImagePart() | DocumentPart():
            block = _render_media(p)
        case ReasoningPart():
            return _render_reasoning_part(p, request=request)
        case RefusalPart():
            return {"type": "text", "text": p.text} if p.text else None
        case ProviderPart():
            return dict(p.data) if p.origin == ORIGIN else None
        case _:
            return None  # audio
    if p.cache_control is not None:
        block["cache_control"] = p.cache_control
    return block


def _render_tool_result(p: ToolResultPart) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "tool_result", "tool_use_id": tool_id(p.call_id)}
    if (
        len(p.content) == 1
        and type(p.content[0]) is TextPart
        and p.content[0].cache_control is None
    ):
        block["content"] = p.content[0].text
    elif p.content:
        block["content"] = [
            b for c in p.content if (b := render_block(c, request=True)) is not None
        ]
    if p.is_error:
        block["is_error"] = True
    return block


def _render_media(p: ImagePart | DocumentPart) -> dict[str, Any]:
    data, mime = p.data, p.media_type
    inline = None if data is not None or p.url is None else split_data_url(p.url)
    if inline is not None:
        mime, data = inline
    source: dict[str, Any]
    if data is not None:
        if isinstance(p, DocumentPart) and mime == "text/plain":
            source = {"type": "text", "media_type": "text/plain", "data": _decode_text(data)}
        else:
            source = {"type": "base64", "media_type": mime or _default_media_type(p), "data": data}
    elif p.file_id is not None:
        source = {"type": "file", "file_id": p.file_id}
    elif isinstance(p, DocumentPart) and p.text is not None:
        source = {"type": "text", "media_type": "text/plain", "data": p.text}
    elif p.url is not None:
        source = {"type": "url", "url": p.url}
    else:
        raise TranslationError("an image or document part has no url, data, text or file id")
    if isinstance(p, ImagePart):
        return {"type": "image", "source": source}
    block: dict[str, Any] = {"type": "document", "source": source}
    if p.name:
        block["title"] = p.name
    if p.citations is not None:
        block["citations"] = p.citations
    return block


def _decode_text(data: str) -> str:
    # Plain-text documents travel as text sources: Anthropic takes base64 only for PDFs.
    try:
        return base64.b64decode(data).decode("utf-8", "replace")
    except ValueError:
        raise TranslationError("a text/plain document's data is not valid base64") from None


def _default_media_type(p: ImagePart | DocumentPart) -> str:
    return "image/png" if isinstance(p, ImagePart) else "application/pdf"


def _render_reasoning_part(p: ReasoningPart, *, request: bool) -> dict[str, Any] | None:
    if p.origin == ORIGIN:
        if p.redacted:
            return {"type": "redacted_thinking", "data": p.encrypted or ""}
        return {"type": "thinking", "thinking": p.text, "signature": p.signature or ""}
    # Another family's reasoning has no valid signature: the API would reject it, a client
    # reading an answer still gets the text.
    text = p.text or "\n\n".join(p.summary)
    if request or not text:
        return None
    return {"type": "thinking", "thinking": text, "signature": ""}


def tool_id(call_id: str) -> str:
    """Anthropic tool ids must match ``[A-Za-z0-9_-]+``; rewrite foreign ids that do not."""
    if _TOOL_ID.fullmatch(call_id):
        return call_id
    return _TOOL_ID_BAD.sub("_", call_id) or "toolu_empty"


def new_message_id() -> str:
    return "msg_" + os.urandom(12).hex()


# --------------------------------------------------------------------------- thinking


def thinking_config(
    r: ReasoningConfig, max_tokens: int | None
) -> tuple[dict[str, Any] | None, int | None, str | None]:
    """`thinking` as Anthropic models take it, the max tokens to send, and the effort word.

    `max_tokens` is the caller's limit (None when unset: it is then set above the budget).
    The effort comes back None when it was turned into a budget or Anthropic has no such word.
    """
    effort = r.effort
    if r.mode is None:
        return None, max_tokens, _effort(effort)
    if r.mode is not ReasoningMode.ENABLED:
        return {"type": r.mode.value}, max_tokens, _effort(effort)
    budget = r.budget_tokens
    if budget is None:
        # Effort words from other formats become a budget: every thinking model takes one,
        # while `output_config.effort` is limited to the newest models.
        budget = budget_for_effort(effort or "medium") or 0
        effort = None
        if max_tokens is not None and budget >= max_tokens:
            budget = max_tokens - 1  # the caller's limit wins over a made-up budget
        if budget < MIN_THINKING_BUDGET:
            return None, max_tokens, None
    if max_tokens is None:
        max_tokens = budget + DEFAULT_MAX_TOKENS
    return {"type": "enabled", "budget_tokens": budget}, max_tokens, _effort(effort)


def _effort(effort: str | None) -> str | None:
    if effort == "minimal":
        return "low"
    return effort if effort in _EFFORTS else None


# --------------------------------------------------------------------------- usage


def parse_usage(u: Mapping[str, Any], path: str) -> Usage:
    fresh = get_int(u, "input_tokens", path)
    write = get_int(u, "cache_creation_input_tokens", path)
    read = get_int(u, "cache_read_input_tokens", path)
    details = get_obj(u, "output_tokens_details", path)
    return Usage(
        input_tokens=None if fresh is None else fresh + (write or 0) + (read or 0),
        output_tokens=get_int(u, "output_tokens", path),
        cache_read_tokens=read,
        cache_write_tokens=write,
        reasoning_tokens=None
        if details is None
        else get_int(details, "thinking_tokens", f"{path}.output_tokens_details"),
    )


def render_usage(u: Usage) -> dict[str, Any]:
    read = u.cache_read_tokens or 0
    write = u.cache_write_tokens or 0
    return {
        "input_tokens": max((u.input_tokens or 0) - read - write, 0),
        "output_tokens": u.output_tokens or 0,
        "cache_creation_input_tokens": write,
        "cache_read_input_tokens": read,
    }


# --------------------------------------------------------------------------- errors

_ERROR_TYPES: dict[str, ErrorType] = {
    "invalid_request_error": ErrorType.INVALID_REQUEST,
    "request_too_large": ErrorType.INVALID_REQUEST,
    "authentication_error": ErrorType.AUTHENTICATION,
    "permission_error": ErrorType.PERMISSION,
    "billing_error": ErrorType.PERMISSION,
    "not_found_error": ErrorType.NOT_FOUND,
    "rate_limit_error": ErrorType.RATE_LIMIT,
    "timeout_error": ErrorType.TIMEOUT,
    "overloaded_error": ErrorType.OVERLOADED,
    "api_error": ErrorType.SERVER,
}
_WIRE_ERROR_TYPES: dict[ErrorType, str] = {
    ErrorType.INVALID_REQUEST: "invalid_request_error",
    ErrorType.AUTHENTICATION: "authentication_error",
    ErrorType.PERMISSION: "permission_error",
    ErrorType.NOT_FOUND: "not_found_error",
    ErrorType.RATE_LIMIT: "rate_limit_error",
    ErrorType.OVERLOADED: "overloaded_error",
    ErrorType.TIMEOUT: "timeout_error",
    ErrorType.CONTEXT_WINDOW: "invalid_request_error",
    ErrorType.CONTENT_FILTER: "invalid_request_error",
    ErrorType.SERVER: "api_error",
}


_STATUS: dict[str, int] = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}


def error_status(obj: Any) -> int:
    """The HTTP status an error body stands for, for errors that arrive inside a stream."""
    err = obj.get("error") if isinstance(obj, dict) else None
    kind = err.get("type") if isinstance(err, dict) else None
    return _STATUS.get(kind, 500) if isinstance(kind, str) else 500


def parse_error(status: int, obj: Any) -> ErrorInfo:
    err = obj.get("error") if isinstance(obj, dict) else None
    if not isinstance(err, dict):
        text = obj.get("message") if isinstance(obj, dict) else None
        message = text if isinstance(text, str) else f"HTTP {status} from Anthropic"
        return ErrorInfo(ErrorType.from_status(status), message, status=status)
    wire_type = err.get("type")
    raw_message = err.get("message")
    message = raw_message if isinstance(raw_message, str) else f"HTTP {status} from Anthropic"
    kind = _ERROR_TYPES.get(wire_type) if isinstance(wire_type, str) else None
    if kind is None:
        kind = ErrorType.from_status(status)
    elif kind is ErrorType.INVALID_REQUEST and "prompt is too long" in message:
        kind = ErrorType.CONTEXT_WINDOW
    return ErrorInfo(
        kind,
        message,
        status=status,
        provider_type=wire_type if isinstance(wire_type, str) else None,
    )


def render_error(err: ErrorInfo) -> tuple[int, dict[str, Any]]:
    wire_type = (
        err.provider_type if err.provider_type in _ERROR_TYPES else _WIRE_ERROR_TYPES[err.type]
    )
    return err.http_status, {"type": "error", "error": {"type": wire_type, "message": err.message}}


def sse_event(name: str, payload: Mapping[str, Any]) -> StreamEvent:
    return StreamEvent(name, dumps(payload))
