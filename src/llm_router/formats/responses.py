"""OpenAI Responses <-> universal: requests, responses, stream events and error bodies.

Wire facts: `instructions` is the system prompt; `input` is a string or a list of items
(messages, `function_call`, `function_call_output`, `reasoning` with `encrypted_content`);
tools are flat (`{"type": "function", "name", "parameters", "strict"}`, strict by default);
structured output lives in `text.format`. Streams are named events with a monotonically
increasing `sequence_number` (see `_responses_stream`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from llm_router.errors import TranslationError
from llm_router.formats import (
    field_error,
    get_bool,
    get_list,
    get_obj,
    get_str,
    need_obj,
    read_fields,
)
from llm_router.formats._responses_items import (
    ORIGIN,
    finish_from_status,
    new_id,
    parse_assistant_item,
    parse_input,
    parse_usage,
    render_assistant_items,
    render_input_content,
    response_object,
)
from llm_router.formats._responses_stream import StreamParser, StreamRenderer
from llm_router.formats.openai import error_from_body
from llm_router.formats.openai import render_error as render_openai_error
from llm_router.universal import (
    ContentPart,
    ErrorInfo,
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
    ToolCallPart,
    ToolChoice,
    ToolChoiceMode,
    ToolResultPart,
    effort_for_budget,
)

__all__ = [
    "StreamParser",
    "StreamRenderer",
    "parse_error",
    "parse_request",
    "parse_response",
    "render_error",
    "render_request",
    "render_response",
]

# Enum members, read once: a member read through its class costs a slow attribute lookup on
# CPython 3.11 (about ten times a module global's), and every turn and part compares a few.
_REASONING_DISABLED = ReasoningMode.DISABLED
_REASONING_ENABLED = ReasoningMode.ENABLED
_FORMAT_JSON_OBJECT = ResponseFormatType.JSON_OBJECT
_FORMAT_JSON_SCHEMA = ResponseFormatType.JSON_SCHEMA
_FORMAT_TEXT = ResponseFormatType.TEXT
_ASSISTANT = Role.ASSISTANT
_SYSTEM = Role.SYSTEM
_TOOL = Role.TOOL
_CHOICE_AUTO = ToolChoiceMode.AUTO
_CHOICE_NAMED = ToolChoiceMode.NAMED
_CHOICE_NONE = ToolChoiceMode.NONE
_CHOICE_REQUIRED = ToolChoiceMode.REQUIRED

_KNOWN = frozenset(
    {
        "model", "input", "instructions", "tools", "tool_choice", "parallel_tool_calls", "text",
        "reasoning", "max_output_tokens", "temperature", "top_p", "top_logprobs", "user",
        "metadata", "store", "service_tier", "prompt_cache_key", "stream",
    }
)  # fmt: skip
_EFFORTS = frozenset({"none", "minimal", "low", "medium", "high", "xhigh", "max"})
# Top-level scalars: wire key -> (Request keyword, kind, the type a value of that kind has
# when it needs no conversion).
_FIELDS: dict[str, tuple[str, str, type]] = {
    "model": ("model", "string", str),
    "parallel_tool_calls": ("parallel_tool_calls", "boolean", bool),
    "max_output_tokens": ("max_tokens", "integer", int),
    "temperature": ("temperature", "number", float),
    "top_p": ("top_p", "number", float),
    "top_logprobs": ("top_logprobs", "integer", int),
    "user": ("user", "string", str),
    "metadata": ("metadata", "object", dict),
    "store": ("store", "boolean", bool),
    "service_tier": ("service_tier", "string", str),
    "prompt_cache_key": ("prompt_cache_key", "string", str),
    "stream": ("stream", "boolean", bool),
}


# --------------------------------------------------------------------------- requests


def parse_request(obj: Mapping[str, Any]) -> Request:
    if type(obj) is not dict:
        obj = need_obj(obj, "")
    # One pass over the keys present: unknown ones are kept as extras, scalars of the expected
    # type are taken. Any other scalar is left to `read_fields` below, at its turn, so that a
    # body with several faults names the same one as ever.
    kw: dict[str, Any] = {}
    extras: dict[str, Any] = {}
    odd_scalar = False
    for key, value in obj.items():
        spec = _FIELDS.get(key)
        if spec is not None:
            if value is not None:
                if type(value) is spec[2]:
                    kw[spec[0]] = value
                else:
                    odd_scalar = True
        elif key not in _KNOWN:
            extras[key] = value
    messages = parse_input(obj.get("input"))
    instructions = obj.get("instructions")
    if type(instructions) is str:
        messages.insert(0, Message(_SYSTEM, (TextPart(instructions),)))
    elif instructions is not None:
        messages[0:0] = parse_input(instructions)
    choice = obj.get("tool_choice")
    tool_choice = _parse_tool_choice(choice)
    if tool_choice is None and choice is not None:
        extras["tool_choice"] = choice  # a hosted-tool choice: Responses only
    response_format = None
    text = obj.get("text")
    if text is not None:
        if type(text) is not dict:
            raise field_error("", "text", "object", text)
        fmt = get_obj(text, "format", "text")
        response_format = None if fmt is None else _parse_format(fmt)
        if len(text) > (0 if fmt is None else 1):
            rest = {k: v for k, v in text.items() if k != "format"}
            if rest:
                extras["text"] = rest
    if odd_scalar:
        read_fields(obj, _FIELDS, "", kw)
    tools = get_list(obj, "tools", "")
    if tools:
        kw["tools"] = tuple([_parse_tool(t, i) for i, t in enumerate(tools)])
    reasoning = obj.get("reasoning")
    if reasoning is not None:
        if type(reasoning) is not dict:
            raise field_error("", "reasoning", "object", reasoning)
        kw["reasoning"] = _parse_reasoning(reasoning)
    if extras:
        kw["extras"] = extras
        kw["extras_origin"] = ORIGIN
    return Request(
        tuple(messages),
        tool_choice=tool_choice,
        response_format=response_format,
        **kw,
    )


def _parse_tool(raw: Any, i: int) -> Tool | ProviderTool:
    path = f"tools[{i}]"
    t = need_obj(raw, path)
    if t.get("type") != "function":
        return ProviderTool(ORIGIN, t)
    return Tool(
        get_str(t, "name", path) or "",
        get_str(t, "description", path),
        get_obj(t, "parameters", path),
        get_bool(t, "strict", path),
    )


# Values, so one shared instance per mode (a dict hit is much cheaper than the enum's lookup).
_CHOICES: dict[str, ToolChoice] = {m.value: ToolChoice(m) for m in ToolChoiceMode}


def _parse_tool_choice(choice: Any) -> ToolChoice | None:
    if choice is None:
        return None
    if type(choice) is str:
        parsed = _CHOICES.get(choice)
        if parsed is None:
            raise TranslationError(f"tool_choice: unsupported value {choice!r}", path="tool_choice")
        return parsed
    c = need_obj(choice, "tool_choice")
    kind = c.get("type")
    if kind == "function":
        return ToolChoice(_CHOICE_NAMED, get_str(c, "name", "tool_choice"))
    if kind == "allowed_tools":
        names = tuple(
            name
            for t in get_list(c, "tools", "tool_choice")
            if type(t) is dict and type(name := t.get("name")) is str
        )
        mode = _CHOICE_REQUIRED if c.get("mode") == "required" else _CHOICE_AUTO
        return ToolChoice(mode, allowed=names)
    return None


def _parse_format(fmt: Mapping[str, Any]) -> ResponseFormat:
    path = "text.format"
    kind = get_str(fmt, "type", path)
    if kind == "json_schema":
        return ResponseFormat(
            _FORMAT_JSON_SCHEMA,
            get_str(fmt, "name", path),
            get_obj(fmt, "schema", path),
            get_bool(fmt, "strict", path),
            get_str(fmt, "description", path),
        )
    if kind == "json_object":
        return ResponseFormat(_FORMAT_JSON_OBJECT)
    if kind == "text":
        return ResponseFormat(_FORMAT_TEXT)
    raise TranslationError(f"{path}.type: unsupported value {kind!r}", path=f"{path}.type")


def _parse_reasoning(r: Mapping[str, Any]) -> ReasoningConfig:
    effort = get_str(r, "effort", "reasoning")
    summary = get_str(r, "summary", "reasoning") or get_str(r, "generate_summary", "reasoning")
    mode = None
    if effort is not None:
        mode = _REASONING_DISABLED if effort == "none" else _REASONING_ENABLED
    return ReasoningConfig(mode=mode, effort=effort, summary=summary)


def render_request(req: Request, *, default_max_tokens: int | None = None) -> dict[str, Any]:
    del default_max_tokens  # Responses needs no max-tokens field
    out: dict[str, Any] = {}
    if req.model is not None:
        out["model"] = req.model
    messages = req.messages
    instructions: list[str] = []
    while messages and messages[0].role is _SYSTEM:
        instructions.extend(p.text for p in messages[0].content if isinstance(p, TextPart))
        messages = messages[1:]
    if instructions:
        out["instructions"] = "\n\n".join(instructions)
    out["input"] = _render_input(messages)
    tools: list[Mapping[str, Any]] = []
    for t in req.tools:
        if isinstance(t, Tool):
            tools.append(
                {
                    "type": "function",
                    "name": t.name,
                    **({"description": t.description} if t.description is not None else {}),
                    "parameters": t.parameters if t.parameters is not None else {"type": "object"},
                    # Responses defaults to strict; other formats do not.
                    "strict": bool(t.strict),
                }
            )
        elif t.origin == ORIGIN:
            tools.append(t.spec)
    if tools:
        out["tools"] = tools
        if req.parallel_tool_calls is not None:
            out["parallel_tool_calls"] = req.parallel_tool_calls
    if req.tool_choice is not None and (tools or req.tool_choice.mode is _CHOICE_NONE):
        out["tool_choice"] = _render_tool_choice(req.tool_choice)
    if req.response_format is not None:
        out["text"] = {"format": _render_format(req.response_format)}
    if req.reasoning is not None:
        reasoning = _render_reasoning(req.reasoning)
        if reasoning:
            out["reasoning"] = reasoning
    # Field by field rather than through a table: building one costs more than the fields.
    value: Any
    if (value := req.max_tokens) is not None:
        out["max_output_tokens"] = value
    if (value := req.temperature) is not None:
        out["temperature"] = value
    if (value := req.top_p) is not None:
        out["top_p"] = value
    if (value := req.top_logprobs) is not None:
        out["top_logprobs"] = value
    if (value := req.user) is not None:
        out["user"] = value
    if (value := req.metadata) is not None:
        out["metadata"] = value
    if (value := req.store) is not None:
        out["store"] = value
    if (value := req.service_tier) is not None:
        out["service_tier"] = value
    if (value := req.prompt_cache_key) is not None:
        out["prompt_cache_key"] = value
    if req.stream:
        out["stream"] = True
    if req.extras and req.extras_origin == ORIGIN:
        for key, value in req.extras.items():
            if key == "text" and "text" in out:
                out["text"] = {**value, **out["text"]}
            else:
                out.setdefault(key, value)
    return out


_ROLE_NAMES = {role: role.value for role in Role}  # a dict hit is cheaper than `.value`


def _render_input(messages: tuple[Message, ...]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for m in messages:
        role = m.role
        content = m.content
        if role is _ASSISTANT:
            items.extend(render_assistant_items(content, m.id, complete_ids=False))
        elif role is _TOOL:
            others: list[ContentPart] = []
            for p in content:
                if isinstance(p, ToolResultPart):
                    output = render_input_content(p.content) if p.content else ""
                    items.append(
                        {"type": "function_call_output", "call_id": p.call_id, "output": output}
                    )
                else:
                    others.append(p)
            if others:
                items.append({"role": "user", "content": render_input_content(tuple(others))})
        elif len(content) == 1 and type(content[0]) is TextPart:
            items.append({"role": _ROLE_NAMES[role], "content": content[0].text})
        else:
            items.append({"role": _ROLE_NAMES[role], "content": render_input_content(content)})
    return items


def _render_tool_choice(c: ToolChoice) -> Any:
    if c.mode is _CHOICE_NAMED and c.name is not None:
        return {"type": "function", "name": c.name}
    if c.allowed and c.mode is not _CHOICE_NONE:
        mode = "required" if c.mode is _CHOICE_REQUIRED else "auto"
        tools = [{"type": "function", "name": n} for n in c.allowed]
        return {"type": "allowed_tools", "mode": mode, "tools": tools}
    return c.mode.value if c.mode is not _CHOICE_NAMED else "required"


def _render_format(rf: ResponseFormat) -> dict[str, Any]:
    if rf.type is not _FORMAT_JSON_SCHEMA:
        return {"type": rf.type.value}
    out: dict[str, Any] = {
        "type": "json_schema",
        "name": rf.name or "response",
        "schema": rf.schema or {},
    }
    if rf.strict is not None:
        out["strict"] = rf.strict
    if rf.description is not None:
        out["description"] = rf.description
    return out


def _render_reasoning(r: ReasoningConfig) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if r.effort is not None:
        effort: str | None = r.effort if r.effort in _EFFORTS else None
    elif r.mode is _REASONING_ENABLED and r.budget_tokens is not None:
        effort = effort_for_budget(r.budget_tokens)
    else:
        effort = None
    if effort is not None:
        out["effort"] = effort
    if r.summary is not None:
        out["summary"] = r.summary
    return out


# --------------------------------------------------------------------------- responses


def parse_response(obj: Mapping[str, Any]) -> Response:
    # The fields are read inline, in this order; a value of another type gets the error its
    # reader (`get_str`, `get_list`...) would raise, so the first fault is the one named.
    if type(obj) is not dict:
        obj = need_obj(obj, "")
    parts: list[ContentPart] = []
    called_tools = False
    output = obj.get("output")
    if type(output) is not list:
        output = get_list(obj, "output", "")
    for i, item in enumerate(output):
        if type(item) is not dict:
            item = need_obj(item, f"output[{i}]")
        item_parts = parse_assistant_item(item, f"output[{i}]")
        parts += item_parts
        if not called_tools:
            for p in item_parts:
                if isinstance(p, ToolCallPart):
                    called_tools = True
                    break
    details = obj.get("incomplete_details")
    if details is not None and type(details) is not dict:
        raise field_error("", "incomplete_details", "object", details)
    status = obj.get("status")
    if status is not None and type(status) is not str:
        raise field_error("", "status", "string", status)
    reason = finish_from_status(
        status,
        None if details is None else get_str(details, "reason", "incomplete_details"),
        called_tools,
    )
    created = obj.get("created_at")
    response_id = obj.get("id")
    if response_id is not None and type(response_id) is not str:
        raise field_error("", "id", "string", response_id)
    model = obj.get("model")
    if model is not None and type(model) is not str:
        raise field_error("", "model", "string", model)
    usage = obj.get("usage")
    if usage is not None and type(usage) is not dict:
        raise field_error("", "usage", "object", usage)
    return Response(
        tuple(parts),
        response_id,
        model,
        int(created) if isinstance(created, int | float) else None,
        reason,
        None,
        parse_usage(usage),
    )


def render_response(resp: Response) -> dict[str, Any]:
    return response_object(
        resp.id or new_id("resp"),
        resp.model or "",
        resp.created if resp.created is not None else int(time.time()),
        render_assistant_items(resp.content, None, complete_ids=True),
        resp.finish_reason,
        resp.usage,
    )


# --------------------------------------------------------------------------- errors


def parse_error(status: int, obj: Any) -> ErrorInfo:
    return error_from_body(status, obj)


def render_error(err: ErrorInfo) -> tuple[int, dict[str, Any]]:
    return render_openai_error(err)
