"""Chat Completions requests <-> universal, for every Chat dialect (OpenAI, Mistral).

A `ChatDialect` states how a dialect spells things; `formats.openai` and `formats.mistral`
each define one and expose the uniform format-module interface on top of this engine.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from llm_router.errors import TranslationError
from llm_router.formats import (
    field_error,
    get_bool,
    get_list,
    get_obj,
    get_str,
    need_obj,
    need_str,
    scalar,
)
from llm_router.formats._chat_content import (
    parse_parts,
    render_text,
    render_user_content,
    text_content,
)
from llm_router.universal import (
    ContentPart,
    FinishReasonMap,
    Message,
    ProviderTool,
    ReasoningConfig,
    ReasoningMode,
    ReasoningPart,
    RefusalPart,
    Request,
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
    "BASE_FIELDS",
    "ChatDialect",
    "parse_assistant",
    "parse_chat_request",
    "plain_assistant",
    "plain_message",
    "render_chat_request",
]

# Enum members, read once: a member read through its class costs a slow attribute lookup on
# CPython 3.11 (about ten times a module global's), and every turn and part compares a few.
_REASONING_ADAPTIVE = ReasoningMode.ADAPTIVE
_REASONING_DISABLED = ReasoningMode.DISABLED
_REASONING_ENABLED = ReasoningMode.ENABLED
_FORMAT_JSON_OBJECT = ResponseFormatType.JSON_OBJECT
_FORMAT_JSON_SCHEMA = ResponseFormatType.JSON_SCHEMA
_FORMAT_TEXT = ResponseFormatType.TEXT
_ASSISTANT = Role.ASSISTANT
_DEVELOPER = Role.DEVELOPER
_SYSTEM = Role.SYSTEM
_TOOL = Role.TOOL
_USER = Role.USER
_CHOICE_AUTO = ToolChoiceMode.AUTO
_CHOICE_NAMED = ToolChoiceMode.NAMED
_CHOICE_NONE = ToolChoiceMode.NONE
_CHOICE_REQUIRED = ToolChoiceMode.REQUIRED

BASE_FIELDS = frozenset(
    {
        "model", "messages", "tools", "tool_choice", "parallel_tool_calls", "response_format",
        "reasoning_effort", "max_tokens", "temperature", "top_p", "stop", "presence_penalty",
        "frequency_penalty", "n", "logprobs", "top_logprobs", "user", "metadata", "store",
        "service_tier", "prompt_cache_key", "stream", "stream_options",
    }
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class ChatDialect:
    """How one Chat Completions dialect spells things."""

    origin: str
    """The `ProviderFormat` value whose extras and opaque data this dialect replays."""
    finish: FinishReasonMap
    seed_field: str
    max_tokens_field: str
    required_choice: str
    developer_role: bool
    reasoning_effort: bool
    usage_on_finish_chunk: bool
    """Usage rides on the finish chunk (Mistral) rather than a trailing ``choices: []`` chunk."""
    known_fields: frozenset[str]
    tool_call_id: Callable[[str], str] = str
    """Rewrites foreign tool-call ids into ones the dialect accepts."""
    usage_details: bool = True
    """Usage carries `prompt_tokens_details` / `completion_tokens_details`."""
    optional_fields: frozenset[str] = frozenset(
        {
            "logprobs", "top_logprobs", "user", "metadata", "store", "service_tier",
            "prompt_cache_key", "refusal", "annotations",
        }
    )  # fmt: skip
    """Optional request fields the dialect accepts (strict servers reject unknown fields)."""
    cache_control: bool = True
    """Text parts may carry Anthropic-style `cache_control` (OpenAI ignores it)."""
    document_url: bool = False
    """Documents are `{"type": "document_url"}` parts (Mistral) rather than `file` parts."""
    reasoning_in_content: bool = False
    """Assistant reasoning is replayed as `thinking` content chunks (Mistral)."""
    request_fields: Mapping[str, _FieldSpec] = field(init=False, repr=False, compare=False)
    """Every request key the dialect knows, with how to read it (see `_request_fields`)."""
    role_names: Mapping[Role, str] = field(init=False, repr=False, compare=False)
    """The wire role of a plain-text turn of each universal role but `Role.TOOL`."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "request_fields", _request_fields(self))
        developer = "developer" if self.developer_role else "system"
        names = {_USER: "user", _ASSISTANT: "assistant", _SYSTEM: "system"}
        object.__setattr__(self, "role_names", {**names, _DEVELOPER: developer})


_OPENAI_EFFORTS = frozenset({"none", "minimal", "low", "medium", "high", "xhigh", "max"})


# --------------------------------------------------------------------------- request: parse

# A request key -> (Request keyword, the type a valid value has, kind for `scalar`), or one of
# the markers below for the fields read after the scalars.
_FieldSpec = tuple[str, type, str]
_MESSAGES: _FieldSpec = ("messages", list, "")
_STRUCTURED: _FieldSpec = ("", object, "")
"""Tools, tool choice, response format, reasoning effort, stop and stream fields."""

_SCALARS: dict[str, _FieldSpec] = {
    "model": ("model", str, "string"),
    "temperature": ("temperature", float, "number"),
    "top_p": ("top_p", float, "number"),
    "presence_penalty": ("presence_penalty", float, "number"),
    "frequency_penalty": ("frequency_penalty", float, "number"),
    "n": ("n", int, "integer"),
    "top_logprobs": ("top_logprobs", int, "integer"),
    "logprobs": ("logprobs", bool, "boolean"),
    "parallel_tool_calls": ("parallel_tool_calls", bool, "boolean"),
    "store": ("store", bool, "boolean"),
    "user": ("user", str, "string"),
    "service_tier": ("service_tier", str, "string"),
    "prompt_cache_key": ("prompt_cache_key", str, "string"),
    "metadata": ("metadata", dict, "object"),
    "max_tokens": ("_max_tokens", int, "integer"),  # the deprecated spelling, lower precedence
}


def _request_fields(d: ChatDialect) -> dict[str, _FieldSpec]:
    fields = dict(_SCALARS)
    fields.setdefault(d.max_tokens_field, ("max_tokens", int, "integer"))
    fields.setdefault(d.seed_field, ("seed", int, "integer"))
    for key in d.known_fields:
        fields.setdefault(key, _STRUCTURED)
    fields["messages"] = _MESSAGES
    return fields


def parse_chat_request(obj: Mapping[str, Any], d: ChatDialect) -> Request:
    if type(obj) is not dict:
        obj = need_obj(obj, "")
    # One pass over the fields present (usually a handful) rather than probing every known one;
    # the rarer structured fields are then read only when one of them is present.
    fields = d.request_fields
    kw: dict[str, Any] = {}
    extras: dict[str, Any] | None = None
    messages: Any = None
    structured = False
    for key, value in obj.items():
        spec = fields.get(key)
        if spec is None:
            if extras is None:
                extras = {}
            extras[key] = value
        elif spec is _MESSAGES:
            messages = value
        elif spec is _STRUCTURED:
            structured = True
        elif value is not None:
            name, valid, kind = spec
            kw[name] = value if type(value) is valid else scalar(value, kind, "", key)
    legacy_max = kw.pop("_max_tokens", None)
    if legacy_max is not None and "max_tokens" not in kw:
        kw["max_tokens"] = legacy_max
    if type(messages) is not list:
        messages = get_list(obj, "messages", "")
    parsed: list[Message] = []
    for i, m in enumerate(messages):
        parsed.append(plain_message(m) or _parse_message(m, f"messages[{i}]", d))
    kw["messages"] = tuple(parsed)
    if structured:
        _parse_structured(obj, d, kw)
    if extras:
        kw["extras"] = extras
        kw["extras_origin"] = d.origin
    return Request(**kw)


def _parse_structured(obj: Mapping[str, Any], d: ChatDialect, kw: dict[str, Any]) -> None:
    # Each field read inline: a value of another type gets the error its reader would raise.
    tools = obj.get("tools")
    if tools:
        kw["tools"] = tuple(
            [_parse_tool(t, i, d) for i, t in enumerate(get_list(obj, "tools", ""))]
        )
    choice = obj.get("tool_choice")
    if choice is not None:
        kw["tool_choice"] = _parse_tool_choice(choice)
    response_format = obj.get("response_format")
    if response_format is not None:
        if type(response_format) is not dict:
            raise field_error("", "response_format", "object", response_format)
        kw["response_format"] = _parse_response_format(response_format)
    effort = obj.get("reasoning_effort")
    if effort is not None:
        if type(effort) is not str:
            raise field_error("", "reasoning_effort", "string", effort)
        kw["reasoning"] = _EFFORT_CONFIGS.get(effort) or _effort_config(effort)
    stop = obj.get("stop")
    if type(stop) is str:
        kw["stop"] = (stop,)
    elif type(stop) is list and all(type(s) is str for s in stop):
        kw["stop"] = tuple(stop)
    elif stop is not None:
        raise field_error("", "stop", "string or array of strings", stop)
    stream = obj.get("stream")
    if stream is not None:
        if type(stream) is not bool:
            raise field_error("", "stream", "boolean", stream)
        if stream:
            kw["stream"] = True
    stream_options = obj.get("stream_options")
    if stream_options is not None:
        if type(stream_options) is not dict:
            raise field_error("", "stream_options", "object", stream_options)
        kw["stream_include_usage"] = get_bool(stream_options, "include_usage", "stream_options")


def _effort_config(effort: str) -> ReasoningConfig:
    mode = _REASONING_DISABLED if effort == "none" else _REASONING_ENABLED
    return ReasoningConfig(mode=mode, effort=effort)


# One shared instance per effort word (values are immutable), as for tool choices below.
_EFFORT_CONFIGS: dict[str, ReasoningConfig] = {e: _effort_config(e) for e in _OPENAI_EFFORTS}


_PLAIN_ROLES = {"user": _USER, "system": _SYSTEM, "developer": _DEVELOPER}


def plain_message(m: Any) -> Message | None:
    """A plain-text turn (string content, no tool calls, refusal or reasoning) read directly.

    Most turns are plain, and reading them through the general reader costs a call per field.
    Anything else — other shapes and every malformed turn — gives None, and the general reader
    (`_parse_message`) reads it and names what is wrong; where both read a turn, they agree.
    """
    if type(m) is not dict:
        return None
    content = m.get("content")
    role = m.get("role")
    if type(content) is not str or type(role) is not str:
        return None
    kind = _PLAIN_ROLES.get(role)
    if kind is not None:
        name = m.get("name")
        if name is None or type(name) is str:
            return Message(kind, (TextPart(content),), name)
    elif role == "assistant":
        if plain_assistant(m):
            return Message(_ASSISTANT, (TextPart(content),), m.get("name"))
    elif role == "tool":
        call_id = m.get("tool_call_id")
        name = m.get("name")
        if type(call_id) is str and (name is None or type(name) is str):
            return Message(_TOOL, (ToolResultPart(call_id, (TextPart(content),), name),))
    return None


# The keys `plain_assistant` must look at but `refusal` (which answers usually carry as null).
_NOT_PLAIN_ASSISTANT = frozenset(
    {"tool_calls", "reasoning_content", "reasoning", "reasoning_signature", "name"}
)


def plain_assistant(m: Mapping[str, Any]) -> bool:
    """Whether `parse_assistant` reads `m` as its content alone, when that is a string."""
    # Most turns have none of those keys: one set test instead of a lookup for each.
    if _NOT_PLAIN_ASSISTANT.isdisjoint(m):
        return m.get("refusal") is None
    name = m.get("name")
    return (
        m.get("tool_calls") is None
        and m.get("refusal") is None
        and m.get("reasoning_content") is None
        and m.get("reasoning") is None
        and m.get("reasoning_signature") is None
        and (name is None or type(name) is str)
    )


def _parse_message(raw: Any, path: str, d: ChatDialect) -> Message:
    m = need_obj(raw, path)
    role = need_str(m, "role", path)
    content = m.get("content")
    if role == "user":
        return Message(_USER, parse_parts(content, path), get_str(m, "name", path))
    if role == "assistant":
        return parse_assistant(m, path, d)
    if role == "tool":
        call_id = need_str(m, "tool_call_id", path)
        result = ToolResultPart(call_id, parse_parts(content, path), get_str(m, "name", path))
        return Message(_TOOL, (result,))
    if role == "system" or role == "developer":
        kind = _SYSTEM if role == "system" else _DEVELOPER
        return Message(kind, parse_parts(content, path), get_str(m, "name", path))
    raise TranslationError(f"{path}.role: unsupported role {role!r}", path=f"{path}.role")


def parse_assistant(m: Mapping[str, Any], path: str, d: ChatDialect) -> Message:
    parts: list[ContentPart] = []
    # Compatible servers carry reasoning beside the content under several names.
    reasoning = m.get("reasoning_content")
    if reasoning is None:
        reasoning = m.get("reasoning")
    signature = m.get("reasoning_signature")
    if (type(reasoning) is str and reasoning) or signature is not None:
        sigs = signature if type(signature) is list else [signature]
        for i, sig in enumerate(sigs):
            parts.append(
                ReasoningPart(
                    text=reasoning if i == 0 and type(reasoning) is str else "",
                    signature=sig if type(sig) is str else None,
                    origin=d.origin,
                )
            )
    parts.extend(parse_parts(m.get("content"), path, d.origin))
    refusal = get_str(m, "refusal", path)
    if refusal:
        parts.append(RefusalPart(refusal))
    for i, raw in enumerate(get_list(m, "tool_calls", path)):
        cpath = f"{path}.tool_calls[{i}]"
        call = need_obj(raw, cpath)
        fn = need_obj(call.get("function"), f"{cpath}.function")
        args = fn.get("arguments")
        if type(args) is not str:
            # Some compatible servers send an object; the canonical form is JSON text.
            args = "{}" if args is None else orjson.dumps(args).decode()
        parts.append(
            ToolCallPart(
                need_str(call, "id", cpath), need_str(fn, "name", f"{cpath}.function"), args
            )
        )
    return Message(_ASSISTANT, tuple(parts), get_str(m, "name", path))


def _parse_tool(raw: Any, i: int, d: ChatDialect) -> Tool | ProviderTool:
    path = f"tools[{i}]"
    t = need_obj(raw, path)
    if t.get("type", "function") != "function":
        return ProviderTool(d.origin, t)
    fn = need_obj(t.get("function"), f"{path}.function")
    fpath = f"{path}.function"
    return Tool(
        need_str(fn, "name", fpath),
        get_str(fn, "description", fpath),
        get_obj(fn, "parameters", fpath),
        get_bool(fn, "strict", fpath),
    )


# Values, so one shared instance per mode (a dict hit is much cheaper than the enum's lookup).
_CHOICES: dict[str, ToolChoice] = {m.value: ToolChoice(m) for m in ToolChoiceMode}
_CHOICES["any"] = _CHOICES[_CHOICE_REQUIRED]  # Mistral's word for "required"


def _parse_tool_choice(choice: Any) -> ToolChoice | None:
    if choice is None:
        return None
    if type(choice) is str:
        parsed = _CHOICES.get(choice)
        if parsed is None:
            raise TranslationError(f"tool_choice: unsupported value {choice!r}", path="tool_choice")
        return parsed
    c = need_obj(choice, "tool_choice")
    if c.get("type") == "allowed_tools":
        allowed = need_obj(c.get("allowed_tools"), "tool_choice.allowed_tools")
        names = tuple(
            need_str(need_obj(t.get("function"), "tool_choice"), "name", "tool_choice")
            if "function" in t
            else need_str(t, "name", "tool_choice")
            for t in (
                need_obj(t, "tool_choice.allowed_tools.tools")
                for t in get_list(allowed, "tools", "tool_choice.allowed_tools")
            )
        )
        mode = get_str(allowed, "mode", "tool_choice.allowed_tools")
        return ToolChoice(_CHOICE_REQUIRED if mode == "required" else _CHOICE_AUTO, allowed=names)
    fn = need_obj(c.get("function"), "tool_choice.function")
    return ToolChoice(_CHOICE_NAMED, need_str(fn, "name", "tool_choice.function"))


def _parse_response_format(rf: Mapping[str, Any] | None) -> ResponseFormat | None:
    if rf is None:
        return None
    kind = get_str(rf, "type", "response_format")
    if kind == "json_schema":
        js = need_obj(rf.get("json_schema"), "response_format.json_schema")
        p = "response_format.json_schema"
        return ResponseFormat(
            _FORMAT_JSON_SCHEMA,
            get_str(js, "name", p),
            get_obj(js, "schema", p),
            get_bool(js, "strict", p),
            get_str(js, "description", p),
        )
    if kind == "json_object":
        return ResponseFormat(_FORMAT_JSON_OBJECT)
    if kind == "text":
        return ResponseFormat(_FORMAT_TEXT)
    raise TranslationError(
        f"response_format.type: unsupported value {kind!r}", path="response_format.type"
    )


# --------------------------------------------------------------------------- request: render


def render_chat_request(
    req: Request, d: ChatDialect, default_max_tokens: int | None = None
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    value: Any = req.model
    if value is not None:
        out["model"] = value
    out["messages"] = _render_messages(req.messages, d)
    tools: list[Mapping[str, Any]] = []
    for t in req.tools:
        if isinstance(t, Tool):
            tools.append(_render_tool(t))
        elif t.origin == d.origin:
            tools.append(t.spec)
    choice = req.tool_choice
    if tools:
        out["tools"] = tools
        if choice is not None:
            out["tool_choice"] = _render_tool_choice(choice, d)
        if req.parallel_tool_calls is not None:
            out["parallel_tool_calls"] = req.parallel_tool_calls
    elif choice is not None and choice.mode is _CHOICE_NONE:
        out["tool_choice"] = "none"
    if req.response_format is not None:
        out["response_format"] = _render_response_format(req.response_format)
    if d.reasoning_effort and req.reasoning is not None:
        effort = _render_effort(req.reasoning)
        if effort is not None:
            out["reasoning_effort"] = effort
    # Field by field rather than through a helper: a call per field is most of the cost here.
    value = req.max_tokens
    if value is None:
        value = default_max_tokens
    if value is not None:
        out[d.max_tokens_field] = value
    if (value := req.temperature) is not None:
        out["temperature"] = value
    if (value := req.top_p) is not None:
        out["top_p"] = value
    if req.stop:
        out["stop"] = list(req.stop)
    if (value := req.seed) is not None:
        out[d.seed_field] = value
    if (value := req.presence_penalty) is not None:
        out["presence_penalty"] = value
    if (value := req.frequency_penalty) is not None:
        out["frequency_penalty"] = value
    if (value := req.n) is not None:
        out["n"] = value
    optional = d.optional_fields
    if optional:
        if (value := req.logprobs) is not None and "logprobs" in optional:
            out["logprobs"] = value
        if (value := req.top_logprobs) is not None and "top_logprobs" in optional:
            out["top_logprobs"] = value
        if (value := req.user) is not None and "user" in optional:
            out["user"] = value
        if (value := req.metadata) is not None and "metadata" in optional:
            out["metadata"] = value
        if (value := req.store) is not None and "store" in optional:
            out["store"] = value
        if (value := req.service_tier) is not None and "service_tier" in optional:
            out["service_tier"] = value
        if (value := req.prompt_cache_key) is not None and "prompt_cache_key" in optional:
            out["prompt_cache_key"] = value
    if req.stream:
        out["stream"] = True
        if not d.usage_on_finish_chunk:
            out["stream_options"] = {"include_usage": req.stream_include_usage is not False}
    if req.extras and req.extras_origin == d.origin:
        for key, value in req.extras.items():
            out.setdefault(key, value)
    return out


def _render_effort(r: ReasoningConfig) -> str | None:
    if r.effort is not None:
        return r.effort if r.effort in _OPENAI_EFFORTS else None
    if r.mode is _REASONING_DISABLED or r.mode is _REASONING_ADAPTIVE:
        return None
    if r.budget_tokens is not None:
        return effort_for_budget(r.budget_tokens)
    return None


def _render_messages(messages: tuple[Message, ...], d: ChatDialect) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    plain_roles = d.role_names
    cache_control = d.cache_control
    for m in messages:
        role = m.role
        content = m.content
        if len(content) == 1 and role is not _TOOL:
            # A turn of one plain text part is a string, whatever its role (see the readers).
            only = content[0]
            if type(only) is TextPart and (only.cache_control is None or not cache_control):
                msg: dict[str, Any] = {"role": plain_roles[role], "content": only.text}
                if m.name is not None:
                    msg["name"] = m.name
                out.append(msg)
                continue
        if role is _USER:
            msg = {"role": "user", "content": render_user_content(content, d)}
        elif role is _ASSISTANT:
            msg = _render_assistant(m, d)
        elif role is _TOOL:
            others: list[ContentPart] = []
            for part in content:
                if isinstance(part, ToolResultPart):
                    out.append(
                        {
                            "role": "tool",
                            "tool_call_id": d.tool_call_id(part.call_id),
                            "content": text_content(part.content, d),
                        }
                    )
                else:
                    others.append(part)
            if others:
                out.append({"role": "user", "content": render_user_content(tuple(others), d)})
            continue
        else:
            name = "developer" if role is _DEVELOPER and d.developer_role else "system"
            msg = {"role": name, "content": text_content(content, d)}
        if m.name is not None:
            msg["name"] = m.name
        out.append(msg)
    return out


def _render_assistant(m: Message, d: ChatDialect) -> dict[str, Any]:
    texts: list[TextPart] = []
    calls: list[dict[str, Any]] = []
    refusal: list[str] = []
    reasoning: list[ReasoningPart] = []
    for p in m.content:
        if isinstance(p, TextPart):
            texts.append(p)
        elif isinstance(p, ToolCallPart):
            calls.append(
                {
                    "id": d.tool_call_id(p.id),
                    "type": "function",
                    "function": {"name": p.name, "arguments": p.arguments},
                }
            )
        elif isinstance(p, RefusalPart):
            refusal.append(p.text)
        elif isinstance(p, ReasoningPart) and p.origin == d.origin:
            reasoning.append(p)
    if refusal and "refusal" not in d.optional_fields:
        texts.append(TextPart("".join(refusal)))  # the dialect has no refusal slot
        refusal = []
    msg: dict[str, Any] = {"role": "assistant"}
    if reasoning and d.reasoning_in_content:
        chunks = [
            {"type": "thinking", "thinking": [{"type": "text", "text": r.text}]}
            for r in reasoning
            if r.text
        ]
        msg["content"] = chunks + [render_text(t, d) for t in texts]
        reasoning = []
    elif texts:
        msg["content"] = text_content(tuple(texts), d)
    elif not calls:
        msg["content"] = ""
    else:
        msg["content"] = None
    if refusal:
        msg["refusal"] = "".join(refusal)
    if calls:
        msg["tool_calls"] = calls
    if reasoning:
        text = "".join(r.text for r in reasoning)
        if text:
            msg["reasoning_content"] = text
        sigs = [r.signature for r in reasoning if r.signature is not None]
        if sigs:
            msg["reasoning_signature"] = sigs[0] if len(sigs) == 1 else sigs
    return msg


def _render_tool(t: Tool) -> dict[str, Any]:
    fn: dict[str, Any] = {"name": t.name}
    if t.description is not None:
        fn["description"] = t.description
    fn["parameters"] = t.parameters if t.parameters is not None else {"type": "object"}
    if t.strict is not None:
        fn["strict"] = t.strict
    return {"type": "function", "function": fn}


def _render_tool_choice(c: ToolChoice, d: ChatDialect) -> Any:
    if c.mode is _CHOICE_NAMED and c.name is not None:
        return {"type": "function", "function": {"name": c.name}}
    if c.allowed and d.origin == "openai" and c.mode is not _CHOICE_NONE:
        mode = "required" if c.mode is _CHOICE_REQUIRED else "auto"
        tools = [{"type": "function", "function": {"name": n}} for n in c.allowed]
        return {"type": "allowed_tools", "allowed_tools": {"mode": mode, "tools": tools}}
    if c.mode is _CHOICE_REQUIRED:
        return d.required_choice
    return "none" if c.mode is _CHOICE_NONE else "auto"


def _render_response_format(rf: ResponseFormat) -> dict[str, Any]:
    if rf.type is not _FORMAT_JSON_SCHEMA:
        return {"type": rf.type.value}
    js: dict[str, Any] = {"name": rf.name or "response", "schema": rf.schema or {}}
    if rf.strict is not None:
        js["strict"] = rf.strict
    if rf.description is not None:
        js["description"] = rf.description
    return {"type": "json_schema", "json_schema": js}
