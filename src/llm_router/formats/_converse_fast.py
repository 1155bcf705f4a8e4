"""Fast paths for the Converse bodies most callers send: they skip the fixed cost of the
general readers (one call per field the body may carry) without validating any less.

Each function returns the same value as its general counterpart in `converse`, or None when
the body needs the general path: rare fields (`additionalModelRequestFields`, `outputConfig`,
tool cache points), anything it cannot vouch for. It never raises: a body with a wrong type
anywhere goes to the general path, which raises the typed error naming the field, so errors
are the general path's alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from llm_router.errors import TranslationError
from llm_router.formats import append_user_turn
from llm_router.formats._converse_wire import FINISH, ORIGIN, parse_blocks
from llm_router.universal import (
    ContentPart,
    Message,
    ProviderTool,
    Request,
    Response,
    Role,
    TextPart,
    Tool,
    ToolChoice,
    ToolChoiceMode,
    ToolResultPart,
    Usage,
)

__all__ = ["parse_request", "parse_response"]

# What a wrong shape could raise as while the general block parser is used: the general path
# then reports it properly.
_DOUBT = (TranslationError, KeyError, IndexError, TypeError, ValueError, AttributeError)
_KNOWN_FIELDS = frozenset(
    {
        "modelId", "messages", "system", "inferenceConfig", "toolConfig",
        "additionalModelRequestFields", "outputConfig",
    }
)  # fmt: skip
# Known fields only the general path reads.
_GENERAL_FIELDS = frozenset({"additionalModelRequestFields", "outputConfig"})
# Enum members as module constants: an attribute lookup on an enum class is slow.
_ASSISTANT = Role.ASSISTANT
_SYSTEM = Role.SYSTEM
_USER = Role.USER
_CHOICE_AUTO = ToolChoiceMode.AUTO
_CHOICE_NAMED = ToolChoiceMode.NAMED
_CHOICE_REQUIRED = ToolChoiceMode.REQUIRED


def parse_request(obj: Mapping[str, Any]) -> Request | None:
    if type(obj) is not dict or not _GENERAL_FIELDS.isdisjoint(obj):
        return None
    try:
        return _request(obj)
    except _DOUBT:
        return None


def _request(obj: dict[str, Any]) -> Request | None:
    get = obj.get
    messages: list[Message] = []
    system = get("system")
    if system is not None:
        if type(system) is not list:
            return None
        if system:
            messages.append(Message(_SYSTEM, _blocks(system, "system")))
    raw_messages = get("messages")
    if type(raw_messages) is not list:
        if raw_messages is not None:
            return None
        raw_messages = ()
    for i, m in enumerate(raw_messages):
        if type(m) is not dict:
            return None
        role = m.get("role")
        content = m.get("content")
        if type(content) is not list:
            if content is not None:
                return None
            content = ()
        parts: tuple[ContentPart, ...] | None = None
        if len(content) == 1:  # the common case, one plain text block
            b = content[0]
            if type(b) is dict and len(b) == 1:
                text = b.get("text")
                if type(text) is str:
                    parts = (TextPart(text),)
        if role == "assistant":
            messages.append(Message(_ASSISTANT, parts or _blocks(content, i)))
        elif role == "user":
            lone_text = parts is not None
            if parts is None:
                parts = _blocks(content, i)
            if not lone_text and ToolResultPart in map(type, parts):
                append_user_turn(parts, messages)
            else:
                messages.append(Message(_USER, parts))
        else:
            return None

    max_tokens = temperature = top_p = None
    stop: tuple[str, ...] = ()
    inference = get("inferenceConfig")
    if inference is not None:
        if type(inference) is not dict:
            return None
        max_tokens = inference.get("maxTokens")
        if max_tokens is not None and type(max_tokens) is not int:
            return None
        temperature = inference.get("temperature")
        if temperature is not None:
            if type(temperature) is int:
                temperature = float(temperature)
            elif type(temperature) is not float:
                return None
        top_p = inference.get("topP")
        if top_p is not None:
            if type(top_p) is int:
                top_p = float(top_p)
            elif type(top_p) is not float:
                return None
        raw_stop = inference.get("stopSequences")
        if raw_stop is not None:
            if type(raw_stop) is not list:
                return None
            for s in raw_stop:
                if type(s) is not str:
                    return None
            stop = tuple(raw_stop)
    tools: tuple[Tool | ProviderTool, ...] = ()
    tool_choice = None
    tool_config = get("toolConfig")
    if tool_config is not None:
        parsed = _tool_config(tool_config)
        if parsed is None:
            return None
        tools, tool_choice = parsed
    model = get("modelId")
    if model is not None and type(model) is not str:
        return None
    extras = None if _KNOWN_FIELDS.issuperset(obj) else _extras(obj)
    # Positional: keyword binding is a third of the cost of building a Request.
    return Request(
        tuple(messages), model, tools, tool_choice, None, None, None,
        max_tokens, temperature, top_p, None, stop,
        None, None, None, None, None, None, None, None, None, None, None,  # seed ... cache key
        False, None, extras, None if extras is None else ORIGIN,
    )  # fmt: skip


def _extras(obj: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k not in _KNOWN_FIELDS}


def _blocks(blocks: list[Any] | tuple[()], where: str | int) -> tuple[ContentPart, ...]:
    """A content list; `where` is ``system`` or a message index, for the general parser's paths.

    Plain text blocks are read here; any other list (cache points change the block before
    them) goes whole to the general block parser.
    """
    if len(blocks) == 1:  # the common case, one plain text block
        b = blocks[0]
        if type(b) is dict and len(b) == 1:
            text = b.get("text")
            if type(text) is str:
                return (TextPart(text),)
    out: list[ContentPart] = []
    for b in blocks:
        if type(b) is dict and len(b) == 1:
            text = b.get("text")
            if type(text) is str:
                out.append(TextPart(text))
                continue
        path = where if type(where) is str else f"messages[{where}].content"
        return tuple(parse_blocks(blocks, path))  # type: ignore[arg-type]
    return tuple(out)


def _tool_config(
    config: Any,
) -> tuple[tuple[Tool | ProviderTool, ...], ToolChoice | None] | None:
    if type(config) is not dict:
        return None
    tools: list[Tool | ProviderTool] = []
    raw = config.get("tools")
    if raw is not None:
        if type(raw) is not list:
            return None
        for entry in raw:
            if type(entry) is not dict or "cachePoint" in entry:
                return None
            spec = entry.get("toolSpec")
            if spec is None:
                tools.append(ProviderTool(ORIGIN, entry))  # systemTool and later kinds
                continue
            if type(spec) is not dict:
                return None
            name = spec.get("name")
            description = spec.get("description")
            strict = spec.get("strict")
            schema = spec.get("inputSchema")
            if schema is not None:
                if type(schema) is not dict:
                    return None
                schema = schema.get("json")
            if (
                type(name) is not str
                or (description is not None and type(description) is not str)
                or (schema is not None and type(schema) is not dict)
                or (strict is not None and type(strict) is not bool)
            ):
                return None
            tools.append(Tool(name, description, schema, strict))
    choice = None
    raw_choice = config.get("toolChoice")
    if raw_choice is not None:
        if type(raw_choice) is not dict:
            return None
        if "any" in raw_choice:
            choice = ToolChoice(_CHOICE_REQUIRED)
        elif "tool" in raw_choice:
            named = raw_choice["tool"]
            name = named.get("name") if type(named) is dict else None
            if type(name) is not str:
                return None
            choice = ToolChoice(_CHOICE_NAMED, name=name)
        else:
            choice = ToolChoice(_CHOICE_AUTO)
    return tuple(tools), choice


def parse_response(obj: Mapping[str, Any]) -> Response | None:
    if type(obj) is not dict:
        return None
    try:
        return _response(obj)
    except _DOUBT:
        return None


def _response(obj: dict[str, Any]) -> Response | None:
    get = obj.get
    content: tuple[ContentPart, ...] = ()
    output = get("output")
    if output is not None:
        if type(output) is not dict:
            return None
        message = output.get("message")
        if message is not None:
            if type(message) is not dict:
                return None
            blocks = message.get("content")
            if blocks is not None:
                if type(blocks) is not list:
                    return None
                content = _blocks(blocks, "output.message.content")
    stop_reason = get("stopReason")
    if stop_reason is not None and type(stop_reason) is not str:
        return None
    stop_sequence = None
    fields = get("additionalModelResponseFields")
    if fields is not None:
        if type(fields) is not dict:
            return None
        stop_sequence = fields.get("stop_sequence")
        if type(stop_sequence) is not str:
            stop_sequence = None
    usage = None
    raw_usage = get("usage")
    if raw_usage is not None:
        usage = _usage(raw_usage)
        if usage is None:
            return None
    # content, id, model, created, finish_reason, stop_sequence, usage
    return Response(content, None, None, None, FINISH.parse(stop_reason), stop_sequence, usage)


def _usage(u: Any) -> Usage | None:
    if type(u) is not dict:
        return None
    get = u.get
    fresh = get("inputTokens")
    output = get("outputTokens")
    read = get("cacheReadInputTokens")
    write = get("cacheWriteInputTokens")
    total = get("totalTokens")
    for value in (fresh, output, read, write, total):
        if value is not None and type(value) is not int:
            return None
    return Usage(
        None if fresh is None else fresh + (read or 0) + (write or 0),
        output,
        read,
        write,
        None,
        total,
    )
