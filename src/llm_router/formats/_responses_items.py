"""OpenAI Responses items <-> universal parts: input/output items, content parts and usage.

Shared by the Responses request, response and stream code. Item kinds with no universal
meaning (`web_search_call`, `custom_tool_call`...) become `ProviderPart`s and are only
re-emitted to Responses.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from llm_router.errors import TranslationError
from llm_router.formats import (
    field_error,
    get_int,
    get_list,
    get_str,
    need_obj,
    need_str,
    random_hex,
)
from llm_router.universal import (
    AudioPart,
    ContentPart,
    DocumentPart,
    FinishReason,
    ImagePart,
    Message,
    ProviderPart,
    ReasoningPart,
    RefusalPart,
    Role,
    TextPart,
    ToolCallPart,
    ToolResultPart,
    Usage,
    data_url,
    split_data_url,
)

__all__ = [
    "ORIGIN",
    "new_id",
    "parse_assistant_item",
    "parse_input",
    "parse_usage",
    "render_assistant_items",
    "render_input_content",
    "render_reasoning_item",
    "render_usage",
    "finish_from_status",
    "response_object",
]

# Enum members, read once: a member read through its class costs a slow attribute lookup on
# CPython 3.11 (about ten times a module global's), and every turn and part compares a few.
_FINISH_CONTENT_FILTER = FinishReason.CONTENT_FILTER
_FINISH_CONTEXT_WINDOW = FinishReason.CONTEXT_WINDOW
_FINISH_ERROR = FinishReason.ERROR
_FINISH_LENGTH = FinishReason.LENGTH
_FINISH_OTHER = FinishReason.OTHER
_FINISH_STOP = FinishReason.STOP
_FINISH_TOOL_CALLS = FinishReason.TOOL_CALLS
_ASSISTANT = Role.ASSISTANT
_DEVELOPER = Role.DEVELOPER
_SYSTEM = Role.SYSTEM
_TOOL = Role.TOOL
_USER = Role.USER

ORIGIN = "responses"
# Annotation kinds the Responses SDK types accept on `output_text`.
_ANNOTATIONS = frozenset({"url_citation", "file_citation", "container_file_citation", "file_path"})


_INPUT_ROLES = {"user": _USER, "system": _SYSTEM, "developer": _DEVELOPER}


def new_id(prefix: str) -> str:
    return f"{prefix}_{random_hex(16)}"


# --------------------------------------------------------------------------- parse


def parse_input(value: Any) -> list[Message]:
    """`input` (a string or a list of items) as messages.

    Consecutive assistant-side items (reasoning, assistant messages, function calls, hosted
    tool items) form one assistant turn; consecutive `function_call_output`s one tool turn.
    """
    if type(value) is str:
        return [Message(_USER, (TextPart(value),))]
    if value is None:
        return []
    if type(value) is not list:
        raise field_error("", "input", "string or array", value)
    messages: list[Message] = []
    # The turn being gathered: assistant-side parts or tool results (never both at once).
    assistant: list[ContentPart] = []
    assistant_id: str | None = None
    results: list[ContentPart] = []
    for i, item in enumerate(value):
        if type(item) is not dict:
            item = need_obj(item, f"input[{i}]")
        kind = item.get("type")
        role = item.get("role")
        if kind == "function_call_output":
            if assistant:
                messages.append(Message(_ASSISTANT, tuple(assistant), None, assistant_id))
                assistant = []
                assistant_id = None
            results.append(_parse_call_output(item, f"input[{i}]"))
            continue
        if (kind is None or kind == "message") and role != "assistant":
            if assistant:
                messages.append(Message(_ASSISTANT, tuple(assistant), None, assistant_id))
                assistant = []
                assistant_id = None
            elif results:
                messages.append(Message(_TOOL, tuple(results)))
                results = []
            messages.append(_input_message(item, role, f"input[{i}]"))
            continue
        if results:
            messages.append(Message(_TOOL, tuple(results)))
            results = []
        if kind is None or kind == "message":
            assistant_id = assistant_id or get_str(item, "id", f"input[{i}]")
        assistant += parse_assistant_item(item, f"input[{i}]")
    if assistant:
        messages.append(Message(_ASSISTANT, tuple(assistant), None, assistant_id))
    elif results:
        messages.append(Message(_TOOL, tuple(results)))
    return messages


def _input_message(item: Mapping[str, Any], role: Any, path: str) -> Message:
    """A user, system or developer message item."""
    input_role = _INPUT_ROLES.get(role) if type(role) is str else None
    if input_role is None:
        role_s = need_str(item, "role", path)
        raise TranslationError(f"{path}.role: unsupported role {role_s!r}", path=f"{path}.role")
    content = item.get("content")
    parts = (TextPart(content),) if type(content) is str else _parse_content(content, path)
    item_id = item.get("id")
    if item_id is not None and type(item_id) is not str:
        raise field_error(path, "id", "string", item_id)
    return Message(input_role, parts, None, item_id)


def parse_assistant_item(item: Mapping[str, Any], path: str) -> list[ContentPart]:
    """One output item (or an assistant-side input item) as universal parts."""
    kind = item.get("type")
    if kind is None or kind == "message":
        content = item.get("content")
        if type(content) is str:
            return [TextPart(content)]
        return list(_parse_content(content, path))
    if kind == "function_call":
        return [
            ToolCallPart(
                need_str(item, "call_id", path),
                need_str(item, "name", path),
                get_str(item, "arguments", path) or "",
                item_id=get_str(item, "id", path),
            )
        ]
    if kind == "reasoning":
        return [_parse_reasoning(item, path)]
    if type(kind) is not str:
        raise field_error(path, "type", "string", kind)
    return [ProviderPart(ORIGIN, item)]


def _parse_reasoning(item: Mapping[str, Any], path: str) -> ReasoningPart:
    # Answers carry several reasoning items, most with no summary or text, so the fields are
    # read inline; a value of another type gets the error its reader would raise.
    summary: tuple[str, ...] = ()
    raw = item.get("summary")
    if type(raw) is not list:
        raw = get_list(item, "summary", path)
    if raw:
        summary = tuple(
            [
                need_str(need_obj(s, f"{path}.summary[{j}]"), "text", f"{path}.summary[{j}]")
                for j, s in enumerate(raw)
            ]
        )
    text = ""
    raw = item.get("content")
    if type(raw) is not list:
        raw = get_list(item, "content", path)
    if raw:
        text = "".join(
            [
                get_str(need_obj(c, f"{path}.content[{j}]"), "text", f"{path}.content[{j}]") or ""
                for j, c in enumerate(raw)
            ]
        )
    encrypted = item.get("encrypted_content")
    if encrypted is not None and type(encrypted) is not str:
        raise field_error(path, "encrypted_content", "string", encrypted)
    item_id = item.get("id")
    if item_id is not None and type(item_id) is not str:
        raise field_error(path, "id", "string", item_id)
    return ReasoningPart(text, summary, None, encrypted, False, item_id, ORIGIN)


def _parse_call_output(item: Mapping[str, Any], path: str) -> ToolResultPart:
    output = item.get("output")
    if type(output) is str:
        content: tuple[ContentPart, ...] = (TextPart(output),)
    else:
        content = _parse_content(output, path, key="output")
    return ToolResultPart(need_str(item, "call_id", path), content)


_TEXT_KINDS = frozenset({"input_text", "output_text", "text"})


def _parse_content(content: Any, path: str, key: str = "content") -> tuple[ContentPart, ...]:
    if type(content) is str:
        return (TextPart(content),)
    if content is None:
        return ()
    if type(content) is not list:
        raise field_error(path, key, "string or array", content)
    parts: list[ContentPart] = []
    for j, p in enumerate(content):
        if type(p) is dict:
            # Text, the common part, is read here; anything else (or a malformed text part)
            # by `_parse_part`, which names what is wrong.
            kind = p.get("type")
            if type(kind) is str and kind in _TEXT_KINDS:
                text = p.get("text")
                if type(text) is str:
                    annotations = p.get("annotations")
                    if type(annotations) is list and annotations:
                        parts.append(
                            TextPart(
                                text, None, None, tuple(a for a in annotations if type(a) is dict)
                            )
                        )
                    else:
                        parts.append(TextPart(text))
                    continue
        parts.append(_parse_part(p, f"{path}.{key}[{j}]"))
    return tuple(parts)


def _parse_part(raw: Any, ppath: str) -> ContentPart:
    p = need_obj(raw, ppath)
    kind = p.get("type")
    if kind == "input_text" or kind == "output_text" or kind == "text":
        annotations = p.get("annotations")
        return TextPart(
            need_str(p, "text", ppath),
            annotations=tuple(a for a in annotations if type(a) is dict)
            if type(annotations) is list
            else (),
        )
    if kind == "refusal":
        return RefusalPart(need_str(p, "refusal", ppath))
    if kind == "input_image":
        url = get_str(p, "image_url", ppath)
        inline = split_data_url(url) if url else None
        return ImagePart(
            url=url if inline is None else None,
            data=inline[1] if inline else None,
            media_type=inline[0] if inline else None,
            detail=get_str(p, "detail", ppath),
            file_id=get_str(p, "file_id", ppath),
        )
    if kind == "input_file":
        raw_data = get_str(p, "file_data", ppath)
        inline = split_data_url(raw_data) if raw_data else None
        return DocumentPart(
            url=get_str(p, "file_url", ppath),
            data=inline[1] if inline else raw_data,
            file_id=get_str(p, "file_id", ppath),
            media_type=inline[0] if inline else None,
            name=get_str(p, "filename", ppath),
        )
    if kind == "input_audio":
        audio = need_obj(p.get("input_audio"), f"{ppath}.input_audio")
        return AudioPart(
            need_str(audio, "data", f"{ppath}.input_audio"),
            get_str(audio, "format", f"{ppath}.input_audio"),
        )
    raise TranslationError(
        f"{ppath}.type: unsupported content part type {kind!r}", path=f"{ppath}.type"
    )


def parse_usage(u: Mapping[str, Any] | None) -> Usage | None:
    if u is None:
        return None
    # Every answer carries usage: the counts are read inline, and only one that is not an
    # integer goes through `get_int` (which converts an integral float or names the fault).
    # Read in field order, so that of several faults the first is the one named.
    input_tokens = u.get("input_tokens")
    if input_tokens is not None and type(input_tokens) is not int:
        input_tokens = get_int(u, "input_tokens", "usage")
    output_tokens = u.get("output_tokens")
    if output_tokens is not None and type(output_tokens) is not int:
        output_tokens = get_int(u, "output_tokens", "usage")
    cache_read = cache_write = reasoning = None
    inp = u.get("input_tokens_details")
    if type(inp) is dict:
        cache_read = inp.get("cached_tokens")
        if cache_read is not None and type(cache_read) is not int:
            cache_read = get_int(inp, "cached_tokens", "usage.input_tokens_details")
        cache_write = inp.get("cache_write_tokens")
        if cache_write is not None and type(cache_write) is not int:
            cache_write = get_int(inp, "cache_write_tokens", "usage.input_tokens_details")
    out = u.get("output_tokens_details")
    if type(out) is dict:
        reasoning = out.get("reasoning_tokens")
        if reasoning is not None and type(reasoning) is not int:
            reasoning = get_int(out, "reasoning_tokens", "usage.output_tokens_details")
    total = u.get("total_tokens")
    if total is not None and type(total) is not int:
        total = get_int(u, "total_tokens", "usage")
    return Usage(input_tokens, output_tokens, cache_read, cache_write, reasoning, total)


# --------------------------------------------------------------------------- render


def render_usage(usage: Usage) -> dict[str, Any]:
    input_tokens = usage.input_tokens or 0
    output_tokens = usage.output_tokens or 0
    total = usage.total_tokens  # `Usage.total`, without a property call
    return {
        "input_tokens": input_tokens,
        "input_tokens_details": {
            "cached_tokens": usage.cache_read_tokens or 0,
            "cache_write_tokens": usage.cache_write_tokens or 0,
        },
        "output_tokens": output_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens or 0},
        "total_tokens": input_tokens + output_tokens if total is None else total,
    }


def render_input_content(parts: tuple[ContentPart, ...]) -> str | list[dict[str, Any]]:
    """User/system content (and tool output) as a string or `input_*` parts."""
    if len(parts) == 1 and isinstance(parts[0], TextPart):
        return parts[0].text
    out: list[dict[str, Any]] = []
    for p in parts:
        if isinstance(p, TextPart):
            out.append({"type": "input_text", "text": p.text})
        elif isinstance(p, ImagePart):
            image: dict[str, Any] = {"type": "input_image", "detail": p.detail or "auto"}
            if p.data is not None:
                image["image_url"] = data_url(p.media_type or "image/jpeg", p.data)
            elif p.url is not None:
                image["image_url"] = p.url
            if p.file_id is not None:
                image["file_id"] = p.file_id
            out.append(image)
        elif isinstance(p, DocumentPart):
            out.append(_render_file(p))
        elif isinstance(p, AudioPart):
            fmt = p.format or (p.media_type or "audio/wav").rpartition("/")[2]
            out.append({"type": "input_audio", "input_audio": {"data": p.data, "format": fmt}})
        elif isinstance(p, RefusalPart):
            out.append({"type": "input_text", "text": p.text})
    return out


def _render_file(p: DocumentPart) -> dict[str, Any]:
    if p.text is not None:
        return {"type": "input_text", "text": p.text}
    f: dict[str, Any] = {"type": "input_file"}
    if p.data is not None:
        f["file_data"] = data_url(p.media_type or "application/pdf", p.data)
    elif p.url is not None:
        f["file_url"] = p.url
    if p.file_id is not None:
        f["file_id"] = p.file_id
    if p.name is not None:
        f["filename"] = p.name
    return f


def render_assistant_items(
    parts: tuple[ContentPart, ...], message_id: str | None, *, complete_ids: bool
) -> list[dict[str, Any]]:
    """Assistant parts as output items, in order; consecutive text/refusal share a message.

    `complete_ids` invents the ids output items require (for responses); request input
    keeps only real ids, because the API looks up the ids it is sent.
    """
    items: list[dict[str, Any]] = []
    content: list[dict[str, Any]] | None = None  # the message item being filled
    for p in parts:
        if isinstance(p, TextPart):
            annotations = p.annotations
            text: dict[str, Any] = {
                "type": "output_text",
                "text": p.text,
                # Only the annotation kinds Responses defines (a `type` of any other value, or
                # of another JSON type, is a kind it has not: dropped as the others are).
                "annotations": [a for a in annotations if str(a.get("type")) in _ANNOTATIONS]
                if annotations
                else [],
            }
            if content is None:
                content = []
                message_id = _add_message(items, content, message_id, complete_ids)
            content.append(text)
            continue
        if isinstance(p, RefusalPart):
            if content is None:
                content = []
                message_id = _add_message(items, content, message_id, complete_ids)
            content.append({"type": "refusal", "refusal": p.text})
            continue
        content = None
        if isinstance(p, ToolCallPart):
            call: dict[str, Any] = {
                "type": "function_call",
                "call_id": p.id,
                "name": p.name,
                "arguments": p.arguments,
                "status": "completed",
            }
            if p.item_id is not None or complete_ids:
                call["id"] = p.item_id or new_id("fc")
            items.append(call)
        elif isinstance(p, ReasoningPart):
            reasoning = render_reasoning_item(p, complete_ids=complete_ids)
            if reasoning is not None:
                items.append(reasoning)
        elif isinstance(p, ProviderPart) and p.origin == ORIGIN:
            items.append(dict(p.data))
    return items


def _add_message(
    items: list[dict[str, Any]],
    content: list[dict[str, Any]],
    message_id: str | None,
    complete_ids: bool,
) -> str | None:
    """Append an assistant message item holding `content` (filled by the caller afterwards);
    returns the message id still unused (an id belongs to the first message only)."""
    item: dict[str, Any] = {"type": "message", "role": "assistant", "status": "completed"}
    if message_id is not None or complete_ids:
        item["id"] = message_id or new_id("msg")
        message_id = None
    item["content"] = content
    items.append(item)
    return message_id


def render_reasoning_item(p: ReasoningPart, *, complete_ids: bool) -> dict[str, Any] | None:
    """A reasoning item; foreign opaque data is dropped, and so is foreign reasoning in input.

    Reasoning text without summary paragraphs becomes one summary paragraph: summaries are
    what Responses clients display.
    """
    own = p.origin == ORIGIN
    if not own and not complete_ids:
        return None  # OpenAI cannot replay another provider's reasoning
    item: dict[str, Any] = {"type": "reasoning"}
    if own and p.id is not None:
        item["id"] = p.id
    elif complete_ids:
        item["id"] = new_id("rs")
    summary = p.summary or ((p.text,) if p.text and not own else ())
    item["summary"] = [{"type": "summary_text", "text": s} for s in summary]
    if own and p.text:
        item["content"] = [{"type": "reasoning_text", "text": p.text}]
    if own and p.encrypted is not None:
        item["encrypted_content"] = p.encrypted
    return item


def finish_from_status(
    status: str | None, incomplete_reason: str | None, called_tools: bool
) -> FinishReason | None:
    """A response's `status` (and `incomplete_details.reason`) as a finish reason."""
    if status == "completed":
        return _FINISH_TOOL_CALLS if called_tools else _FINISH_STOP
    if status == "incomplete":
        if incomplete_reason == "content_filter":
            return _FINISH_CONTENT_FILTER
        return _FINISH_LENGTH
    if status == "failed":
        return _FINISH_ERROR
    if status in ("cancelled", "canceled"):
        return _FINISH_OTHER
    return None


_OUT_OF_TOKENS = frozenset({_FINISH_LENGTH, _FINISH_CONTEXT_WINDOW})


def response_object(
    response_id: str,
    model: str,
    created: int,
    output: list[dict[str, Any]],
    reason: FinishReason | None,
    usage: Usage | None,
    *,
    status: str | None = None,
) -> dict[str, Any]:
    """A complete `response` object as the SDK's `Response` type requires it."""
    incomplete = None
    error = None
    if status is None:
        status = "completed"
        if reason in _OUT_OF_TOKENS:
            status, incomplete = "incomplete", {"reason": "max_output_tokens"}
        elif reason is _FINISH_CONTENT_FILTER:
            status, incomplete = "incomplete", {"reason": "content_filter"}
        elif reason is _FINISH_ERROR:
            status = "failed"
            error = {"code": "server_error", "message": "the model stopped with an error"}
    return {
        "id": response_id,
        "object": "response",
        "created_at": created,
        "status": status,
        "error": error,
        "incomplete_details": incomplete,
        "instructions": None,
        "metadata": {},
        "model": model,
        "output": output,
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "usage": None if usage is None else render_usage(usage),
    }
