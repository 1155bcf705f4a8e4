"""Gemini generateContent wire pieces shared by requests, answers and streams.

Parts <-> universal content parts, tool-call ids (Gemini often sends none: stable ones are
made up and results are matched back by function name), usage, finish reasons, error bodies.
Field names are camelCase on the wire; snake_case is accepted when parsing.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Mapping
from typing import Any

import orjson

from llm_router.errors import TranslationError
from llm_router.formats import get_bool, get_int, get_obj, get_str, need_obj, need_str
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
    "CallIds",
    "field",
    "is_synthetic_id",
    "json_schema",
    "need_parts",
    "parse_error",
    "parse_part",
    "parse_usage",
    "render_error",
    "render_part",
    "render_usage",
]

ORIGIN = "google"
"""The `ProviderFormat` value tagging opaque data (thought signatures, ...) from Gemini."""

FINISH = FinishReasonMap(
    {
        "STOP": FinishReason.STOP,
        "MAX_TOKENS": FinishReason.LENGTH,
        "SAFETY": FinishReason.CONTENT_FILTER,
        "RECITATION": FinishReason.CONTENT_FILTER,
        "BLOCKLIST": FinishReason.CONTENT_FILTER,
        "PROHIBITED_CONTENT": FinishReason.CONTENT_FILTER,
        "SPII": FinishReason.CONTENT_FILTER,
        "IMAGE_SAFETY": FinishReason.CONTENT_FILTER,
        "IMAGE_PROHIBITED_CONTENT": FinishReason.CONTENT_FILTER,
        "IMAGE_RECITATION": FinishReason.CONTENT_FILTER,
        "MODEL_ARMOR": FinishReason.CONTENT_FILTER,
        "MALFORMED_FUNCTION_CALL": FinishReason.MALFORMED_TOOL_CALL,
        "UNEXPECTED_TOOL_CALL": FinishReason.MALFORMED_TOOL_CALL,
        "TOO_MANY_TOOL_CALLS": FinishReason.MALFORMED_TOOL_CALL,
        "OTHER": FinishReason.OTHER,
    },
    render_overrides={
        FinishReason.TOOL_CALLS: "STOP",
        FinishReason.STOP_SEQUENCE: "STOP",
        FinishReason.PAUSE: "STOP",
        FinishReason.CONTEXT_WINDOW: "MAX_TOKENS",
        FinishReason.REFUSAL: "SAFETY",
        FinishReason.CONTENT_FILTER: "SAFETY",
        FinishReason.ERROR: "OTHER",
    },
    default="STOP",
)

_SYNTHETIC_PREFIX = "gcall_"
_ID_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def field(obj: Mapping[str, Any], camel: str, snake: str) -> str:
    """The key `obj` uses for a field: camelCase (the wire's), else the snake_case spelling."""
    return snake if camel not in obj and snake in obj else camel


def is_synthetic_id(call_id: str) -> bool:
    """True for tool-call ids made up by `CallIds` (never sent to Gemini)."""
    return call_id.startswith(_SYNTHETIC_PREFIX)


class CallIds:
    """Tool-call ids for one body: Gemini's own when present, else stable made-up ones.

    A made-up id is ``gcall_<n>_<name>`` (n counts calls in the body), so it is the same every
    time a body is parsed. A function response without an id answers the oldest unanswered
    call of the same name.
    """

    __slots__ = ("_count", "_pending")

    def __init__(self) -> None:
        self._count = 0
        self._pending: dict[str, deque[str]] = {}

    def call(self, name: str, call_id: str | None) -> str:
        if call_id is None:
            call_id = self._new(name)
        self._pending.setdefault(name, deque()).append(call_id)
        return call_id

    def result(self, name: str, call_id: str | None) -> str:
        pending = self._pending.get(name)
        if call_id is None:
            return pending.popleft() if pending else self._new(name)
        if pending and call_id in pending:
            pending.remove(call_id)
        return call_id

    def _new(self, name: str) -> str:
        n, self._count = self._count, self._count + 1
        return f"{_SYNTHETIC_PREFIX}{n}_{_ID_UNSAFE.sub('_', name)[:40]}"


# --------------------------------------------------------------------------- parts: parse


def parse_part(part: Any, path: str, ids: CallIds) -> ContentPart:
    """One Gemini part; `thoughtSignature` rides on the universal part it belongs to."""
    part = need_obj(part, path)
    text = part.get("text")
    if type(text) is str and len(part) == 1:
        return TextPart(text)  # the common case, kept fast
    signature = get_str(part, field(part, "thoughtSignature", "thought_signature"), path)
    if text is not None:
        if type(text) is not str:
            raise TranslationError(f"{path}.text: expected string", path=f"{path}.text")
        if get_bool(part, "thought", path):
            return ReasoningPart(text=text, signature=signature, origin=ORIGIN)
        return TextPart(text, signature=signature)
    key = field(part, "functionCall", "function_call")
    call = get_obj(part, key, path)
    if call is not None:
        cpath = f"{path}.{key}"
        name = need_str(call, "name", cpath)
        return ToolCallPart(
            id=ids.call(name, get_str(call, "id", cpath)),
            name=name,
            arguments=object_to_arguments(call.get("args") or {}),
            signature=signature,
        )
    key = field(part, "functionResponse", "function_response")
    response = get_obj(part, key, path)
    if response is not None:
        rpath = f"{path}.{key}"
        name = need_str(response, "name", rpath)
        result = response.get("response")
        content = () if result is None else (TextPart(orjson.dumps(result).decode()),)
        return ToolResultPart(
            call_id=ids.result(name, get_str(response, "id", rpath)), content=content, name=name
        )
    key = field(part, "inlineData", "inline_data")
    blob = get_obj(part, key, path)
    if blob is not None:
        bpath = f"{path}.{key}"
        mime = need_str(blob, field(blob, "mimeType", "mime_type"), bpath)
        data = need_str(blob, "data", bpath)
        if mime.startswith("image/"):
            return ImagePart(data=data, media_type=mime)
        if mime.startswith("audio/"):
            return AudioPart(data=data, media_type=mime)
        return DocumentPart(data=data, media_type=mime)
    key = field(part, "fileData", "file_data")
    file = get_obj(part, key, path)
    if file is not None:
        fpath = f"{path}.{key}"
        uri = need_str(file, field(file, "fileUri", "file_uri"), fpath)
        file_mime = get_str(file, field(file, "mimeType", "mime_type"), fpath)
        if file_mime is not None and file_mime.startswith("image/"):
            return ImagePart(url=uri, media_type=file_mime)
        return DocumentPart(url=uri, media_type=file_mime)
    if signature is not None and len(part) == 1:
        return TextPart("", signature=signature)
    return ProviderPart(ORIGIN, part)  # executableCode, codeExecutionResult, videoMetadata...


# --------------------------------------------------------------------------- parts: render


def render_part(
    p: ContentPart, *, request: bool, names: Mapping[str, str]
) -> dict[str, Any] | None:
    """One Gemini part; None for parts Gemini cannot carry (or, in requests, must not get).

    `names` maps tool-call ids to function names, for results that do not name their call.
    """
    match p:
        case TextPart():
            if not p.text and (request or p.signature is None):
                return None  # the API rejects empty text parts
            return _signed({"text": p.text}, p.signature)
        case ToolCallPart():
            call: dict[str, Any] = {"name": p.name, "args": arguments_to_object(p.arguments)}
            if not is_synthetic_id(p.id):
                call["id"] = p.id
            return _signed({"functionCall": call}, p.signature)
        case ToolResultPart():
            return {"functionResponse": _render_result(p, names)}
        case ImagePart() | DocumentPart() | AudioPart():
            return _render_media(p)
        case ReasoningPart():
            text = p.text or "\n\n".join(p.summary)
            if p.origin == ORIGIN:
                return _signed({"text": text, "thought": True}, p.signature)
            # Another family's reasoning means nothing to Gemini; a client still gets the text.
            return None if request or not text else {"text": text, "thought": True}
        case RefusalPart():
            return {"text": p.text} if p.text else None
        case ProviderPart():
            return dict(p.data) if p.origin == ORIGIN else None
    return None


def _signed(part: dict[str, Any], signature: str | None) -> dict[str, Any]:
    if signature is not None:
        part["thoughtSignature"] = signature
    return part


def _render_result(p: ToolResultPart, names: Mapping[str, str]) -> dict[str, Any]:
    name = p.name or names.get(p.call_id)
    if name is None:
        raise TranslationError(
            f"tool result for call {p.call_id!r} names no function and answers no earlier call;"
            " Gemini needs the function name"
        )
    text = "".join(c.text for c in p.content if type(c) is TextPart)
    try:
        decoded = orjson.loads(text) if text.startswith("{") else None
    except orjson.JSONDecodeError:
        decoded = None
    # `response` must be an object: JSON-object results go as they are, others are wrapped.
    if not isinstance(decoded, dict):
        decoded = {"error": text} if p.is_error else {"result": text}
    result: dict[str, Any] = {"name": name, "response": decoded}
    if not is_synthetic_id(p.call_id):
        result["id"] = p.call_id
    return result


def _render_media(p: ImagePart | DocumentPart | AudioPart) -> dict[str, Any]:
    if isinstance(p, AudioPart):
        mime = p.media_type or f"audio/{p.format or 'wav'}"
        return {"inlineData": {"mimeType": mime, "data": p.data}}
    default_mime = "image/jpeg" if isinstance(p, ImagePart) else "application/pdf"
    if p.data is not None:
        return {"inlineData": {"mimeType": p.media_type or default_mime, "data": p.data}}
    if isinstance(p, DocumentPart) and p.text is not None:
        return {"text": p.text}
    uri = p.url if p.url is not None else p.file_id
    if uri is None:
        raise TranslationError("an image or document part has no url, data, text or file id")
    inline = split_data_url(uri)
    if inline is not None:
        return {"inlineData": {"mimeType": inline[0], "data": inline[1]}}
    return {"fileData": {"mimeType": p.media_type or default_mime, "fileUri": uri}}


# --------------------------------------------------------------------------- schemas


def json_schema(schema: Mapping[str, Any]) -> Mapping[str, Any]:
    """A Gemini OpenAPI-style schema (``"type": "OBJECT"``, `nullable`) as JSON Schema.

    Returns `schema` itself, uncopied, when it is already JSON Schema.
    """
    return _to_json_schema(schema) if _is_openapi(schema) else schema


def _is_openapi(node: Any) -> bool:
    if isinstance(node, dict):
        kind = node.get("type")
        if (isinstance(kind, str) and kind.isupper()) or "nullable" in node:
            return True
        return any(_is_openapi(v) for v in node.values() if isinstance(v, dict | list))
    if isinstance(node, list):
        return any(_is_openapi(v) for v in node)
    return False


def _to_json_schema(node: Any) -> Any:
    if isinstance(node, list):
        return [_to_json_schema(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {k: _to_json_schema(v) for k, v in node.items() if k != "nullable"}
    kind = out.get("type")
    if isinstance(kind, str):
        out["type"] = kind = kind.lower()
        if node.get("nullable") is True:
            out["type"] = [kind, "null"]
    return out


# --------------------------------------------------------------------------- usage


def parse_usage(u: Mapping[str, Any], path: str) -> Usage:
    prompt = get_int(u, field(u, "promptTokenCount", "prompt_token_count"), path)
    tool_prompt = get_int(
        u, field(u, "toolUsePromptTokenCount", "tool_use_prompt_token_count"), path
    )
    candidates = get_int(u, field(u, "candidatesTokenCount", "candidates_token_count"), path)
    thoughts = get_int(u, field(u, "thoughtsTokenCount", "thoughts_token_count"), path)
    output = (
        None if candidates is None and thoughts is None else (candidates or 0) + (thoughts or 0)
    )
    return Usage(
        input_tokens=None if prompt is None else prompt + (tool_prompt or 0),
        output_tokens=output,
        cache_read_tokens=get_int(
            u, field(u, "cachedContentTokenCount", "cached_content_token_count"), path
        ),
        reasoning_tokens=thoughts,
        total_tokens=get_int(u, field(u, "totalTokenCount", "total_token_count"), path),
    )


def render_usage(u: Usage) -> dict[str, Any]:
    reasoning = u.reasoning_tokens or 0
    usage: dict[str, Any] = {
        "promptTokenCount": u.input_tokens or 0,
        "candidatesTokenCount": max((u.output_tokens or 0) - reasoning, 0),
        "totalTokenCount": u.total,
    }
    if u.reasoning_tokens is not None:
        usage["thoughtsTokenCount"] = u.reasoning_tokens
    if u.cache_read_tokens:
        usage["cachedContentTokenCount"] = u.cache_read_tokens
    return usage


# --------------------------------------------------------------------------- errors

_STATUS_TYPES: dict[str, ErrorType] = {
    "INVALID_ARGUMENT": ErrorType.INVALID_REQUEST,
    "FAILED_PRECONDITION": ErrorType.INVALID_REQUEST,
    "OUT_OF_RANGE": ErrorType.INVALID_REQUEST,
    "UNAUTHENTICATED": ErrorType.AUTHENTICATION,
    "PERMISSION_DENIED": ErrorType.PERMISSION,
    "NOT_FOUND": ErrorType.NOT_FOUND,
    "RESOURCE_EXHAUSTED": ErrorType.RATE_LIMIT,
    "UNAVAILABLE": ErrorType.OVERLOADED,
    "DEADLINE_EXCEEDED": ErrorType.TIMEOUT,
    "INTERNAL": ErrorType.SERVER,
    "UNKNOWN": ErrorType.SERVER,
}
_WIRE_STATUS: dict[ErrorType, tuple[int, str]] = {
    ErrorType.INVALID_REQUEST: (400, "INVALID_ARGUMENT"),
    ErrorType.AUTHENTICATION: (401, "UNAUTHENTICATED"),
    ErrorType.PERMISSION: (403, "PERMISSION_DENIED"),
    ErrorType.NOT_FOUND: (404, "NOT_FOUND"),
    ErrorType.RATE_LIMIT: (429, "RESOURCE_EXHAUSTED"),
    ErrorType.OVERLOADED: (503, "UNAVAILABLE"),
    ErrorType.TIMEOUT: (504, "DEADLINE_EXCEEDED"),
    ErrorType.CONTEXT_WINDOW: (400, "INVALID_ARGUMENT"),
    ErrorType.CONTENT_FILTER: (400, "INVALID_ARGUMENT"),
    ErrorType.SERVER: (500, "INTERNAL"),
}


def parse_error(status: int, obj: Any) -> ErrorInfo:
    if isinstance(obj, list) and len(obj) == 1:
        obj = obj[0]  # streaming endpoints wrap the error in an array
    err = obj.get("error") if isinstance(obj, dict) else None
    if not isinstance(err, dict):
        return ErrorInfo(ErrorType.from_status(status), f"HTTP {status} from Gemini", status=status)
    message = err.get("message")
    wire_status = err.get("status")
    kind = _STATUS_TYPES.get(wire_status) if isinstance(wire_status, str) else None
    return ErrorInfo(
        kind or ErrorType.from_status(status),
        message if isinstance(message, str) else f"HTTP {status} from Gemini",
        status=status,
        provider_type=wire_status if isinstance(wire_status, str) else None,
    )


def render_error(err: ErrorInfo) -> tuple[int, dict[str, Any]]:
    default_code, wire_status = _WIRE_STATUS[err.type]
    if err.provider_type in _STATUS_TYPES:
        wire_status = err.provider_type
    code = err.status if err.status is not None else default_code
    return code, {"error": {"code": code, "message": err.message, "status": wire_status}}


def need_parts(content: Mapping[str, Any], path: str) -> list[Any]:
    parts = content.get("parts")
    if parts is None:
        return []
    if type(parts) is not list:
        raise TranslationError(f"{path}.parts: expected array", path=f"{path}.parts")
    return parts
