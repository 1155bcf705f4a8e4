"""Fast paths for the Messages bodies most callers send: they skip the fixed cost of the
general readers (one call per field the body may carry) without validating any less.

Each function returns the same value as its general counterpart in `anthropic`, or None when
the body needs the general path: a field it does not read, or anything it cannot vouch for.
It never raises: a body with a wrong type anywhere goes to the general path, which raises the
typed error naming the field, so errors are the general path's alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from llm_router.errors import TranslationError
from llm_router.formats import append_user_turn
from llm_router.formats._anthropic_wire import FINISH, KNOWN_REQUEST_FIELDS, ORIGIN, parse_block
from llm_router.universal import (
    ContentPart,
    Message,
    ProviderTool,
    ReasoningConfig,
    ReasoningMode,
    Request,
    Response,
    ResponseFormat,
    ResponseFormatType,
    Role,
    TextPart,
    Tool,
    ToolChoice,
    ToolChoiceMode,
    ToolResultPart,
    Usage,
)

__all__ = ["parse_request", "parse_response"]

# Shapes a wrong one could raise as while the general readers below are used: the general
# path then reports it properly.
_DOUBT = (TranslationError, KeyError, IndexError, TypeError, ValueError, AttributeError)
_KNOWN_FIELDS = KNOWN_REQUEST_FIELDS
_ROLES = {"user": Role.USER, "assistant": Role.ASSISTANT, "system": Role.SYSTEM}
_CHOICES = {
    "auto": ToolChoiceMode.AUTO,
    "any": ToolChoiceMode.REQUIRED,
    "none": ToolChoiceMode.NONE,
}
_MODES = {mode.value: mode for mode in ReasoningMode}
# Fields most bodies lack: one set test skips reading each of them.
_SAMPLING = frozenset(
    {"top_k", "stream", "service_tier", "temperature", "top_p", "stop_sequences", "metadata"}
)
_OUTPUT = frozenset({"output_config", "thinking", "output_format"})
# Enum members as module constants: an attribute lookup on an enum class is slow.
_FORMAT_JSON_SCHEMA = ResponseFormatType.JSON_SCHEMA
_SYSTEM = Role.SYSTEM
_USER = Role.USER
_CHOICE_NAMED = ToolChoiceMode.NAMED


def parse_request(obj: Mapping[str, Any]) -> Request | None:
    if type(obj) is not dict:
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
        if type(system) is str:
            messages.append(Message(_SYSTEM, (TextPart(system),)))
        elif type(system) is list:
            messages.append(Message(_SYSTEM, _blocks(system, "system")))
        else:
            return None
    raw_messages = get("messages")
    if type(raw_messages) is not list:
        if raw_messages is not None:
            return None
        raw_messages = ()
    for i, m in enumerate(raw_messages):
        if type(m) is not dict:
            return None
        wire_role = m.get("role")
        role = _ROLES.get(wire_role) if type(wire_role) is str else None
        if role is None:
            return None
        content = m.get("content")
        if type(content) is str:
            messages.append(Message(role, (TextPart(content),)))
            continue
        if type(content) is not list:
            return None
        if len(content) == 1:  # the common case, one plain text block
            b = content[0]
            if type(b) is dict and len(b) == 2 and b.get("type") == "text":
                text = b.get("text")
                if type(text) is str:
                    messages.append(Message(role, (TextPart(text),)))
                    continue
        parts = _blocks(content, i)
        if role is _USER and ToolResultPart in map(type, parts):
            append_user_turn(parts, messages)
        else:
            messages.append(Message(role, parts))

    # Scalars: only the exact wire types (integral floats and the like go the general way).
    model = get("model")
    max_tokens = get("max_tokens")
    if (model is not None and type(model) is not str) or (
        max_tokens is not None and type(max_tokens) is not int
    ):
        return None
    top_k = stream = service_tier = temperature = top_p = user = None
    stop: tuple[str, ...] = ()
    if not _SAMPLING.isdisjoint(obj):
        top_k = get("top_k")
        stream = get("stream")
        service_tier = get("service_tier")
        if (
            (top_k is not None and type(top_k) is not int)
            or (stream is not None and type(stream) is not bool)
            or (service_tier is not None and type(service_tier) is not str)
        ):
            return None
        temperature = get("temperature")
        if temperature is not None:
            if type(temperature) is int:
                temperature = float(temperature)
            elif type(temperature) is not float:
                return None
        top_p = get("top_p")
        if top_p is not None:
            if type(top_p) is int:
                top_p = float(top_p)
            elif type(top_p) is not float:
                return None
        raw_stop = get("stop_sequences")
        if raw_stop is not None:
            if type(raw_stop) is not list:
                return None
            for v in raw_stop:
                if type(v) is not str:
                    return None
            stop = tuple(raw_stop)
        metadata = get("metadata")
        if metadata is not None:
            if type(metadata) is not dict:
                return None
            user = metadata.get("user_id")
            if user is not None and type(user) is not str:
                return None

    tools: tuple[Tool | ProviderTool, ...] = ()
    raw_tools = get("tools")
    if raw_tools is not None:
        if type(raw_tools) is not list:
            return None
        parsed: list[Tool | ProviderTool] = []
        for t in raw_tools:
            tool = _tool(t)
            if tool is None:
                return None
            parsed.append(tool)
        tools = tuple(parsed)  # () for an empty list, as the general path has it
    tool_choice = None
    parallel = None
    raw_choice = get("tool_choice")
    if raw_choice is not None:
        choice = _tool_choice(raw_choice)
        if choice is None:
            return None
        tool_choice, parallel = choice

    response_format = None
    reasoning = None
    if not _OUTPUT.isdisjoint(obj):
        output_config = get("output_config")
        thinking = get("thinking")
        out_format = None
        effort = None
        if output_config is not None:
            if type(output_config) is not dict:
                return None
            out_format = output_config.get("format")
            effort = output_config.get("effort")
            if effort is not None and type(effort) is not str:
                return None
        if out_format is None:  # the pre-GA spelling of the same field
            out_format = get("output_format")
        if out_format is not None:
            if type(out_format) is not dict:
                return None
            format_type = out_format.get("type")
            if format_type is not None and type(format_type) is not str:
                return None
            if format_type == "json_schema":
                schema = out_format.get("schema")
                if schema is not None and type(schema) is not dict:
                    return None
                response_format = ResponseFormat(_FORMAT_JSON_SCHEMA, schema=schema)
        if thinking is not None:
            if type(thinking) is not dict:
                return None
            thinking_mode = _MODES.get(thinking.get("type"))  # type: ignore[arg-type]
            budget = thinking.get("budget_tokens")
            if thinking_mode is None or (budget is not None and type(budget) is not int):
                return None
            reasoning = ReasoningConfig(thinking_mode, effort, budget)
        elif effort is not None:
            reasoning = ReasoningConfig(effort=effort)
    extras = None if _KNOWN_FIELDS.issuperset(obj) else _extras(obj)
    # Positional: keyword binding is a third of the cost of building a Request.
    return Request(
        tuple(messages), model, tools, tool_choice, parallel, response_format, reasoning,
        max_tokens, temperature, top_p, top_k, stop,
        None, None, None, None, None, None,  # seed ... top_logprobs: no Messages field
        user, None, None, service_tier, None,
        False if stream is None else stream, None,
        extras, None if extras is None else ORIGIN,
    )  # fmt: skip


def _extras(obj: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k not in _KNOWN_FIELDS}


def _blocks(blocks: list[Any], where: str | int) -> tuple[ContentPart, ...]:
    """Content blocks; `where` is ``system`` or a message index, for the general parser's paths."""
    if len(blocks) == 1:  # the common case, one plain text block
        b = blocks[0]
        if type(b) is dict and len(b) == 2 and b.get("type") == "text":
            text = b.get("text")
            if type(text) is str:
                return (TextPart(text),)
    out: list[ContentPart] = []
    for j, b in enumerate(blocks):
        if type(b) is dict and len(b) == 2 and b.get("type") == "text":
            text = b.get("text")
            if type(text) is str:
                out.append(TextPart(text))
                continue
        path = f"{where}[{j}]" if type(where) is str else f"messages[{where}].content[{j}]"
        out.append(parse_block(b, path))
    return tuple(out)


def _tool_choice(raw: Any) -> tuple[ToolChoice, bool | None] | None:
    """A `tool_choice` with what its `disable_parallel_tool_use` says of parallel tool calls
    (None: not said), or None for one the general path must read."""
    if type(raw) is not dict:
        return None
    kind = raw.get("type")
    parallel = None
    disable = raw.get("disable_parallel_tool_use")
    if disable is not None:
        if type(disable) is not bool:
            return None
        parallel = not disable
    if kind == "tool":
        name = raw.get("name")
        if type(name) is not str:
            return None
        return ToolChoice(_CHOICE_NAMED, name=name), parallel
    mode = _CHOICES.get(kind) if type(kind) is str else None
    if mode is None:
        return None
    return ToolChoice(mode), parallel


def _tool(t: Any) -> Tool | ProviderTool | None:
    if type(t) is not dict:
        return None
    kind = t.get("type")
    if kind is not None and kind != "custom":
        return ProviderTool(ORIGIN, t) if type(kind) is str else None
    name = t.get("name")
    description = t.get("description")
    schema = t.get("input_schema")
    strict = t.get("strict")
    cache = t.get("cache_control")
    if (
        type(name) is not str
        or (description is not None and type(description) is not str)
        or (schema is not None and type(schema) is not dict)
        or (strict is not None and type(strict) is not bool)
        or (cache is not None and type(cache) is not dict)
    ):
        return None
    return Tool(name, description, schema, strict, cache)


def parse_response(obj: Mapping[str, Any]) -> Response | None:
    if type(obj) is not dict:
        return None
    try:
        return _response(obj)
    except _DOUBT:
        return None


def _response(obj: dict[str, Any]) -> Response | None:
    get = obj.get
    raw_content = get("content")
    content: tuple[ContentPart, ...] = ()
    if raw_content is not None:
        if type(raw_content) is not list:
            return None
        content = _blocks(raw_content, "content")
    rid = get("id")
    model = get("model")
    stop_reason = get("stop_reason")
    stop_sequence = get("stop_sequence")
    if (
        (rid is not None and type(rid) is not str)
        or (model is not None and type(model) is not str)
        or (stop_reason is not None and type(stop_reason) is not str)
        or (stop_sequence is not None and type(stop_sequence) is not str)
    ):
        return None
    usage = None
    raw_usage = get("usage")
    if raw_usage is not None:
        usage = _usage(raw_usage)
        if usage is None:
            return None
    # content, id, model, created, finish_reason, stop_sequence, usage
    return Response(content, rid, model, None, FINISH.parse(stop_reason), stop_sequence, usage)


def _usage(u: Any) -> Usage | None:
    if type(u) is not dict:
        return None
    get = u.get
    fresh = get("input_tokens")
    output = get("output_tokens")
    write = get("cache_creation_input_tokens")
    read = get("cache_read_input_tokens")
    if (
        (fresh is not None and type(fresh) is not int)
        or (output is not None and type(output) is not int)
        or (write is not None and type(write) is not int)
        or (read is not None and type(read) is not int)
        or get("output_tokens_details") is not None
    ):
        return None
    return Usage(
        None if fresh is None else fresh + (write or 0) + (read or 0),
        output,
        read,
        write,
    )
