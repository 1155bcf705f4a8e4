"""Bedrock Converse wire pieces shared by requests, answers and streams.

Content blocks <-> universal parts (binary `bytes` travel as base64 text in JSON; a
`cachePoint` block marks the block before it as a prompt-cache boundary), usage (whose
`inputTokens` excludes cache reads and writes), stop reasons and AWS error bodies.
"""

from __future__ import annotations

import dataclasses
import re
import zlib
from collections.abc import Mapping
from typing import Any, cast

import orjson

from llm_router.errors import TranslationError
from llm_router.formats import get_int, get_list, get_obj, get_str, need_obj, need_str
from llm_router.universal import (
    AudioPart,
    ContentPart,
    DocumentPart,
    ErrorInfo,
    ErrorType,
    FinishReason,
    FinishReasonMap,
    ImagePart,
    ProviderPart,
    ReasoningPart,
    RefusalPart,
    TextPart,
    ToolCallPart,
    ToolResultPart,
    Usage,
    arguments_to_object,
    object_to_arguments,
    split_data_url,
)

__all__ = [
    "FINISH",
    "ORIGIN",
    "cache_point",
    "error_type_header",
    "exception_event",
    "parse_blocks",
    "parse_error",
    "parse_usage",
    "render_blocks",
    "render_error",
    "render_usage",
    "tool_use_id",
]

ORIGIN = "converse"
"""The `ProviderFormat` value tagging opaque data (reasoning signatures, ...) from Converse."""

FINISH = FinishReasonMap(
    {
        "end_turn": FinishReason.STOP,
        "tool_use": FinishReason.TOOL_CALLS,
        "max_tokens": FinishReason.LENGTH,
        "stop_sequence": FinishReason.STOP_SEQUENCE,
        "guardrail_intervened": FinishReason.CONTENT_FILTER,
        "content_filtered": FinishReason.CONTENT_FILTER,
        "malformed_model_output": FinishReason.ERROR,
        "malformed_tool_use": FinishReason.MALFORMED_TOOL_CALL,
        "model_context_window_exceeded": FinishReason.CONTEXT_WINDOW,
    },
    render_overrides={
        FinishReason.CONTENT_FILTER: "content_filtered",
        FinishReason.REFUSAL: "content_filtered",
    },
    default="end_turn",
)

_IMAGE_FORMATS = {
    "png": "image/png",
    "jpeg": "image/jpeg",
    "gif": "image/gif",
    "webp": "image/webp",
}
_DOCUMENT_FORMATS = {
    "pdf": "application/pdf",
    "csv": "text/csv",
    "doc": "application/msword",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xls": "application/vnd.ms-excel",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "html": "text/html",
    "txt": "text/plain",
    "md": "text/markdown",
}
_VIDEO_FORMATS = {
    "mkv": "video/x-matroska",
    "mov": "video/quicktime",
    "mp4": "video/mp4",
    "webm": "video/webm",
    "flv": "video/x-flv",
    "mpeg": "video/mpeg",
    "mpg": "video/mpg",
    "wmv": "video/x-ms-wmv",
    "three_gp": "video/3gpp",
}
_FORMAT_OF = {
    mime: fmt
    for table in (_IMAGE_FORMATS, _DOCUMENT_FORMATS, _VIDEO_FORMATS)
    for fmt, mime in table.items()
}
_FORMAT_OF["image/jpg"] = "jpeg"
_ID_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
# Document names allow letters, digits, single spaces, hyphens, parentheses and brackets.
_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9 ()\[\]-]+")
_EPHEMERAL: Mapping[str, Any] = {"type": "ephemeral"}


def tool_use_id(call_id: str) -> str:
    """Converse tool-use ids must match ``[A-Za-z0-9_-]+``; rewrite foreign ids that do not."""
    return _ID_UNSAFE.sub("_", call_id) or "tooluse_empty"


# --------------------------------------------------------------------------- blocks: parse


def parse_blocks(blocks: list[Any], path: str) -> list[ContentPart]:
    """A content-block list; `cachePoint` blocks become `cache_control` on the block before."""
    parts: list[ContentPart] = []
    for i, raw in enumerate(blocks):
        if type(raw) is dict and len(raw) == 1 and type(raw.get("text")) is str:
            parts.append(TextPart(raw["text"]))  # the common case, kept fast
            continue
        bpath = f"{path}[{i}]"
        block = need_obj(raw, bpath)
        point = block.get("cachePoint")
        if point is not None:
            if parts and hasattr(parts[-1], "cache_control"):
                ttl = point.get("ttl") if isinstance(point, dict) else None
                cache = _EPHEMERAL if ttl is None else {"type": "ephemeral", "ttl": ttl}
                parts[-1] = dataclasses.replace(cast(Any, parts[-1]), cache_control=cache)
            continue
        parts.append(_parse_block(block, bpath))
    return parts


def _parse_block(b: Mapping[str, Any], path: str) -> ContentPart:
    text = b.get("text")
    if text is not None:
        return TextPart(need_str(b, "text", path))
    if "toolUse" in b:
        use = need_obj(b["toolUse"], f"{path}.toolUse")
        return ToolCallPart(
            id=need_str(use, "toolUseId", f"{path}.toolUse"),
            name=need_str(use, "name", f"{path}.toolUse"),
            arguments=object_to_arguments(use.get("input") or {}),
        )
    if "toolResult" in b:
        rpath = f"{path}.toolResult"
        result = need_obj(b["toolResult"], rpath)
        content: list[ContentPart] = []
        for i, raw in enumerate(get_list(result, "content", rpath)):
            item = need_obj(raw, f"{rpath}.content[{i}]")
            if "json" in item:  # results given as JSON values reach other formats as JSON text
                content.append(TextPart(orjson.dumps(item["json"]).decode()))
            else:
                content.append(_parse_block(item, f"{rpath}.content[{i}]"))
        return ToolResultPart(
            call_id=need_str(result, "toolUseId", rpath),
            content=tuple(content),
            is_error=get_str(result, "status", rpath) == "error",
        )
    if "image" in b or "document" in b or "video" in b:
        return _parse_media(b, path)
    if "reasoningContent" in b:
        rpath = f"{path}.reasoningContent"
        reasoning = need_obj(b["reasoningContent"], rpath)
        redacted = get_str(reasoning, "redactedContent", rpath)
        if redacted is not None:
            return ReasoningPart(encrypted=redacted, redacted=True, origin=ORIGIN)
        rtext = get_obj(reasoning, "reasoningText", rpath) or {}
        signature = get_str(rtext, "signature", f"{rpath}.reasoningText")
        return ReasoningPart(
            text=get_str(rtext, "text", f"{rpath}.reasoningText") or "",
            signature=signature,
            origin=ORIGIN if signature else None,
        )
    return ProviderPart(ORIGIN, b)  # guardContent, citationsContent, searchResult...


def _parse_media(b: Mapping[str, Any], path: str) -> ContentPart:
    kind = "image" if "image" in b else "document" if "document" in b else "video"
    mpath = f"{path}.{kind}"
    media = need_obj(b[kind], mpath)
    fmt = get_str(media, "format", mpath)
    table = (
        _IMAGE_FORMATS
        if kind == "image"
        else _DOCUMENT_FORMATS
        if kind == "document"
        else _VIDEO_FORMATS
    )
    mime = table.get(fmt) if fmt is not None else None
    source = get_obj(media, "source", mpath)
    if source is None:
        raise TranslationError(
            f"{mpath}.source: required object is missing", path=f"{mpath}.source"
        )
    spath = f"{mpath}.source"
    data = get_str(source, "bytes", spath)
    location = get_obj(source, "s3Location", spath)
    url = None if location is None else need_str(location, "uri", f"{spath}.s3Location")
    if kind == "image":
        return ImagePart(url=url, data=data, media_type=mime)
    text = get_str(source, "text", spath)
    if data is None and url is None and text is None:
        return ProviderPart(ORIGIN, b)  # structured `content` sources have no universal form
    return DocumentPart(
        url=url, data=data, text=text, media_type=mime, name=get_str(media, "name", mpath)
    )


# --------------------------------------------------------------------------- blocks: render


def render_blocks(
    parts: tuple[ContentPart, ...],
    *,
    request: bool,
    out: list[dict[str, Any]],
    path: str | None = None,
    message: int | None = None,
) -> None:
    """Append the blocks for `parts` to `out` (several per part when a cache point follows).

    `path` (e.g. ``messages[2].content``), or the index of the request message holding the
    parts, locates them in errors.
    """
    for j, p in enumerate(parts):
        if type(p) is TextPart:  # the common case, kept fast
            if p.text or not request:  # empty text blocks are refused in requests
                out.append({"text": p.text})
                if p.cache_control is not None:
                    out.append(cache_point(p.cache_control))
            continue
        try:
            block = _render_block(p, request=request)
        except TranslationError as exc:
            if message is not None:
                path = f"messages[{message}].content"
            if path is None:
                raise
            raise TranslationError(f"{path}[{j}]: {exc.message}", path=f"{path}[{j}]") from None
        if block is None:
            continue
        out.append(block)
        cache = getattr(p, "cache_control", None)
        if cache is not None:
            out.append(cache_point(cache))


def cache_point(cache_control: Mapping[str, Any]) -> dict[str, Any]:
    point: dict[str, Any] = {"type": "default"}
    ttl = cache_control.get("ttl")
    if isinstance(ttl, str):
        point["ttl"] = ttl
    return {"cachePoint": point}


def _render_block(p: ContentPart, *, request: bool) -> dict[str, Any] | None:
    match p:
        case TextPart():
            return {"text": p.text} if (p.text or not request) else None
        case ToolCallPart():
            use = {
                "toolUseId": tool_use_id(p.id),
                "name": p.name,
                "input": arguments_to_object(p.arguments),
            }
            return {"toolUse": use}
        case ToolResultPart():
            content: list[dict[str, Any]] = []
            render_blocks(p.content, request=True, out=content)
            result: dict[str, Any] = {"toolUseId": tool_use_id(p.call_id), "content": content}
            if p.is_error:
                result["status"] = "error"
            return {"toolResult": result}
        case ImagePart() | DocumentPart():
            return _render_media(p)
        case ReasoningPart():
            return _render_reasoning(p, request=request)
        case RefusalPart():
            return {"text": p.text} if p.text else None
        case ProviderPart():
            return dict(p.data) if p.origin == ORIGIN else None
        case AudioPart():
            return None
    return None


def _render_reasoning(p: ReasoningPart, *, request: bool) -> dict[str, Any] | None:
    if p.origin == ORIGIN and p.redacted:
        return {"reasoningContent": {"redactedContent": p.encrypted or ""}}
    text = p.text or "\n\n".join(p.summary)
    if p.origin != ORIGIN and (request or not text):
        return None  # another family's reasoning cannot be replayed to Bedrock
    reasoning: dict[str, Any] = {"text": text}
    if p.origin == ORIGIN and p.signature:
        reasoning["signature"] = p.signature
    return {"reasoningContent": {"reasoningText": reasoning}}


def _render_media(p: ImagePart | DocumentPart) -> dict[str, Any]:
    data: str | None = p.data
    mime: str | None = p.media_type
    source: dict[str, Any] | None = None
    if data is None and p.url is not None:
        inline = split_data_url(p.url)
        if inline is not None:
            mime, data = inline
        elif p.url.startswith("s3://"):
            source = {"s3Location": {"uri": p.url}}
        else:
            raise TranslationError(
                f"Converse cannot fetch {p.url[:60]!r}: send the content inline or from S3"
            )
    if data is not None:
        source = {"bytes": data}
    if isinstance(p, ImagePart):
        if source is None:
            raise TranslationError("Converse needs image bytes or an s3:// URL, not a file id")
        return {"image": {"format": _FORMAT_OF.get(mime or "", "png"), "source": source}}
    if source is None:
        if p.text is None:
            raise TranslationError(
                "Converse needs document bytes, text or an s3:// URL, not a file id"
            )
        source = {"text": p.text}
        mime = mime or "text/plain"
    fmt = _FORMAT_OF.get(mime or "application/pdf")
    if fmt is None:  # a media type with no Converse document format
        raise TranslationError(f"Converse does not accept documents of type {mime!r}")
    if fmt in _VIDEO_FORMATS:
        return {"video": {"format": fmt, "source": source}}
    # Names are required; a made-up one is derived from the content so it is stable.
    name = " ".join(_NAME_UNSAFE.sub(" ", p.name or "").split())
    name = name or f"document-{zlib.crc32(orjson.dumps(source)):08x}"
    return {"document": {"format": fmt, "name": name, "source": source}}


# --------------------------------------------------------------------------- usage


def parse_usage(u: Mapping[str, Any], path: str) -> Usage:
    fresh = get_int(u, "inputTokens", path)
    read = get_int(u, "cacheReadInputTokens", path)
    write = get_int(u, "cacheWriteInputTokens", path)
    return Usage(
        input_tokens=None if fresh is None else fresh + (read or 0) + (write or 0),
        output_tokens=get_int(u, "outputTokens", path),
        cache_read_tokens=read,
        cache_write_tokens=write,
        total_tokens=get_int(u, "totalTokens", path),
    )


def render_usage(u: Usage) -> dict[str, Any]:
    read, write = u.cache_read_tokens, u.cache_write_tokens
    usage: dict[str, Any] = {
        "inputTokens": max((u.input_tokens or 0) - (read or 0) - (write or 0), 0),
        "outputTokens": u.output_tokens or 0,
        "totalTokens": u.total,
    }
    if read is not None:
        usage["cacheReadInputTokens"] = read
    if write is not None:
        usage["cacheWriteInputTokens"] = write
    return usage


# --------------------------------------------------------------------------- errors

# Exception name -> (universal type, HTTP status), as the bedrock-runtime service model has them.
_EXCEPTIONS: dict[str, tuple[ErrorType, int]] = {
    "ThrottlingException": (ErrorType.RATE_LIMIT, 429),
    "ServiceQuotaExceededException": (ErrorType.RATE_LIMIT, 400),
    "ModelNotReadyException": (ErrorType.OVERLOADED, 429),
    "ServiceUnavailableException": (ErrorType.OVERLOADED, 503),
    "ValidationException": (ErrorType.INVALID_REQUEST, 400),
    "AccessDeniedException": (ErrorType.PERMISSION, 403),
    "UnrecognizedClientException": (ErrorType.AUTHENTICATION, 403),
    "ResourceNotFoundException": (ErrorType.NOT_FOUND, 404),
    "ModelTimeoutException": (ErrorType.TIMEOUT, 408),
    "ModelErrorException": (ErrorType.SERVER, 424),
    "ModelStreamErrorException": (ErrorType.SERVER, 424),
    "InternalServerException": (ErrorType.SERVER, 500),
}
# The usual exception for a status, when the x-amzn-ErrorType header is not at hand.
_BY_STATUS = {
    400: "ValidationException",
    403: "AccessDeniedException",
    404: "ResourceNotFoundException",
    408: "ModelTimeoutException",
    424: "ModelErrorException",
    429: "ThrottlingException",
    500: "InternalServerException",
    503: "ServiceUnavailableException",
}
_RENDER: dict[ErrorType, str] = {
    ErrorType.INVALID_REQUEST: "ValidationException",
    ErrorType.AUTHENTICATION: "UnrecognizedClientException",
    ErrorType.PERMISSION: "AccessDeniedException",
    ErrorType.NOT_FOUND: "ResourceNotFoundException",
    ErrorType.RATE_LIMIT: "ThrottlingException",
    ErrorType.OVERLOADED: "ServiceUnavailableException",
    ErrorType.TIMEOUT: "ModelTimeoutException",
    ErrorType.CONTEXT_WINDOW: "ValidationException",
    ErrorType.CONTENT_FILTER: "ValidationException",
    ErrorType.SERVER: "InternalServerException",
}
# ConverseStream can only carry these exception events.
_STREAM_EXCEPTIONS = frozenset(
    {
        "ThrottlingException", "ServiceUnavailableException", "ValidationException",
        "InternalServerException", "ModelStreamErrorException",
    }
)  # fmt: skip


def parse_error(status: int, obj: Any, *, error_type: str | None = None) -> ErrorInfo:
    """An AWS error body (``{"message": ...}``); `error_type` is the x-amzn-ErrorType header."""
    message = None
    if isinstance(obj, dict):
        message = obj.get("message", obj.get("Message"))
        if error_type is None and isinstance(obj.get("__type"), str):
            error_type = obj["__type"]
    if not isinstance(message, str):
        message = f"HTTP {status} from Bedrock"
    name = (error_type or "").split(":", 1)[0].rsplit("#", 1)[-1]
    if not name:
        name = _BY_STATUS.get(status, "")
    kind = _EXCEPTIONS[name][0] if name in _EXCEPTIONS else ErrorType.from_status(status)
    if kind is ErrorType.INVALID_REQUEST and "too long" in message.lower():
        kind = ErrorType.CONTEXT_WINDOW
    return ErrorInfo(kind, message, status=status, provider_type=name or None)


def error_type_header(err: ErrorInfo) -> str:
    """The x-amzn-ErrorType value (``ThrottlingException``, ...) that goes with `render_error`."""
    if err.provider_type in _EXCEPTIONS:
        return err.provider_type
    return _RENDER[err.type]


def render_error(err: ErrorInfo) -> tuple[int, dict[str, Any]]:
    name = error_type_header(err)
    status = err.status if err.status is not None else _EXCEPTIONS[name][1]
    return status, {"message": err.message}


def exception_event(err: ErrorInfo) -> tuple[str, dict[str, Any]]:
    """The ConverseStream exception event (``throttlingException``, ...) for an error."""
    name = error_type_header(err)
    if name not in _STREAM_EXCEPTIONS:
        name = (
            "ServiceUnavailableException"
            if err.type is ErrorType.OVERLOADED
            else "InternalServerException"
        )
        if err.type in (
            ErrorType.INVALID_REQUEST,
            ErrorType.CONTEXT_WINDOW,
            ErrorType.CONTENT_FILTER,
        ):
            name = "ValidationException"
    return name[0].lower() + name[1:], {"message": err.message}
