"""Chat Completions requests <-> universal, for every Chat dialect (OpenAI, Mistral).

A `ChatDialect` states how a dialect spells things; `formats.openai` and `formats.mistral`
each define one and expose the uniform format-module interface on top of this engine.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
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
    "render_chat_request",
]

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


_OPENAI_EFFORTS = frozenset({"none", "minimal", "low", "medium", "high", "xhigh", "max"})


# --------------------------------------------------------------------------- request: parse


_SCALARS: dict[str, tuple[str, str]] = {
    "model": ("model", "string"),
    "temperature": ("temperature", "number"),
    "top_p": ("top_p", "number"),
    "presence_penalty": ("presence_penalty", "number"),
    "frequency_penalty": ("frequency_penalty", "number"),
    "n": ("n", "integer"),
    "top_logprobs": ("top_logprobs", "integer"),
    "logprobs": ("logprobs", "boolean"),
    "parallel_tool_calls": ("parallel_tool_calls", "boolean"),
    "store": ("store", "boolean"),
    "user": ("user", "string"),
    "service_tier": ("service_tier", "string"),
    "prompt_cache_key": ("prompt_cache_key", "string"),
    "metadata": ("metadata", "object"),
    "max_tokens": ("_max_tokens", "integer"),  # the deprecated spelling, lower precedence
}


def parse_chat_request(obj: Mapping[str, Any], d: ChatDialect) -> Request:
    obj = need_obj(obj, "")
    # One pass over the fields present (usually a handful) rather than probing every known one.
    kw: dict[str, Any] = {}
    extras: dict[str, Any] = {}
    for key, value in obj.items():
        spec = _SCALARS.get(key)
        if spec is None:
            if key == d.max_tokens_field:
                spec = ("max_tokens", "integer")
            elif key == d.seed_field:
                spec = ("seed", "integer")
            elif key not in d.known_fields:
                extras[key] = value
                continue
            else:
                continue
        if value is not None:
            kw[spec[0]] = scalar(value, spec[1], "", key)
    legacy_max = kw.pop("_max_tokens", None)
    if legacy_max is not None and "max_tokens" not in kw:
        kw["max_tokens"] = legacy_max
    messages = get_list(obj, "messages", "")
    kw["messages"] = tuple([_parse_message(m, f"messages[{i}]", d) for i, m in enumerate(messages)])
    tools = obj.get("tools")
    if tools:
        kw["tools"] = tuple(
            [_parse_tool(t, i, d) for i, t in enumerate(get_list(obj, "tools", ""))]
        )
    choice = obj.get("tool_choice")
    if choice is not None:
        kw["tool_choice"] = _parse_tool_choice(choice)
    response_format = get_obj(obj, "response_format", "")
    if response_format is not None:
        kw["response_format"] = _parse_response_format(response_format)
    effort = get_str(obj, "reasoning_effort", "")
    if effort is not None:
        mode = ReasoningMode.DISABLED if effort == "none" else ReasoningMode.ENABLED
        kw["reasoning"] = ReasoningConfig(mode=mode, effort=effort)
    stop = obj.get("stop")
    if type(stop) is str:
        kw["stop"] = (stop,)
    elif type(stop) is list and all(type(s) is str for s in stop):
        kw["stop"] = tuple(stop)
    elif stop is not None:
        raise field_error("", "stop", "string or array of strings", stop)
    if get_bool(obj, "stream", ""):
        kw["stream"] = True
    stream_options = get_obj(obj, "stream_options", "")
    if stream_options is not None:
        kw["stream_include_usage"] = get_bool(stream_options, "include_usage", "stream_options")
    if extras:
        kw["extras"] = extras
        kw["extras_origin"] = d.origin
    return Request(**kw)


def _parse_message(raw: Any, path: str, d: ChatDialect) -> Message:
    m = need_obj(raw, path)
    role = need_str(m, "role", path)
    content = m.get("content")
    if role == "user":
        return Message(Role.USER, parse_parts(content, path), get_str(m, "name", path))
    if role == "assistant":
        return parse_assistant(m, path, d)
    if role == "tool":
        call_id = need_str(m, "tool_call_id", path)
        result = ToolResultPart(call_id, parse_parts(content, path), get_str(m, "name", path))
        return Message(Role.TOOL, (result,))
    if role == "system" or role == "developer":
        kind = Role.SYSTEM if role == "system" else Role.DEVELOPER
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
    return Message(Role.ASSISTANT, tuple(parts), get_str(m, "name", path))


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
_CHOICES["any"] = _CHOICES[ToolChoiceMode.REQUIRED]  # Mistral's word for "required"


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
        return ToolChoice(
            ToolChoiceMode.REQUIRED if mode == "required" else ToolChoiceMode.AUTO, allowed=names
        )
    fn = need_obj(c.get("function"), "tool_choice.function")
    return ToolChoice(ToolChoiceMode.NAMED, need_str(fn, "name", "tool_choice.function"))


def _parse_response_format(rf: Mapping[str, Any] | None) -> ResponseFormat | None:
    if rf is None:
        return None
    kind = get_str(rf, "type", "response_format")
    if kind == "json_schema":
        js = need_obj(rf.get("json_schema"), "response_format.json_schema")
        p = "response_format.json_schema"
        return ResponseFormat(
            ResponseFormatType.JSON_SCHEMA,
            get_str(js, "name", p),
            get_obj(js, "schema", p),
            get_bool(js, "strict", p),
            get_str(js, "description", p),
        )
    if kind == "json_object":
        return ResponseFormat(ResponseFormatType.JSON_OBJECT)
    if kind == "text":
        return ResponseFormat(ResponseFormatType.TEXT)
    raise TranslationError(
        f"response_format.type: unsupported value {kind!r}", path="response_format.type"
    )


# --------------------------------------------------------------------------- request: render


def render_chat_request(
    req: Request, d: ChatDialect, default_max_tokens: int | None = None
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if req.model is not None:
        out["model"] = req.model
    out["messages"] = _render_messages(req.messages, d)
    tools: list[Mapping[str, Any]] = []
    for t in req.tools:
        if isinstance(t, Tool):
            tools.append(_render_tool(t))
        elif t.origin == d.origin:
            tools.append(t.spec)
    if tools:
        out["tools"] = tools
        if req.tool_choice is not None:
            out["tool_choice"] = _render_tool_choice(req.tool_choice, d)
        if req.parallel_tool_calls is not None:
            out["parallel_tool_calls"] = req.parallel_tool_calls
    elif req.tool_choice is not None and req.tool_choice.mode is ToolChoiceMode.NONE:
        out["tool_choice"] = "none"
    if req.response_format is not None:
        out["response_format"] = _render_response_format(req.response_format)
    if d.reasoning_effort and req.reasoning is not None:
        effort = _render_effort(req.reasoning)
        if effort is not None:
            out["reasoning_effort"] = effort
    max_tokens = req.max_tokens if req.max_tokens is not None else default_max_tokens
    _put(out, d.max_tokens_field, max_tokens)
    _put(out, "temperature", req.temperature)
    _put(out, "top_p", req.top_p)
    if req.stop:
        out["stop"] = list(req.stop)
    _put(out, d.seed_field, req.seed)
    _put(out, "presence_penalty", req.presence_penalty)
    _put(out, "frequency_penalty", req.frequency_penalty)
    _put(out, "n", req.n)
    optional = d.optional_fields
    if optional:
        for key, value in (
            ("logprobs", req.logprobs),
            ("top_logprobs", req.top_logprobs),
            ("user", req.user),
            ("metadata", req.metadata),
            ("store", req.store),
            ("service_tier", req.service_tier),
            ("prompt_cache_key", req.prompt_cache_key),
        ):
            if value is not None and key in optional:
                out[key] = value
    if req.stream:
        out["stream"] = True
        if not d.usage_on_finish_chunk:
            out["stream_options"] = {"include_usage": req.stream_include_usage is not False}
    if req.extras and req.extras_origin == d.origin:
        for key, value in req.extras.items():
            out.setdefault(key, value)
    return out


def _put(out: dict[str, Any], key: str, value: Any) -> None:
    if value is not None:
        out[key] = value


def _render_effort(r: ReasoningConfig) -> str | None:
    if r.effort is not None:
        return r.effort if r.effort in _OPENAI_EFFORTS else None
    if r.mode is ReasoningMode.DISABLED or r.mode is ReasoningMode.ADAPTIVE:
        return None
    if r.budget_tokens is not None:
        return effort_for_budget(r.budget_tokens)
    return None


def _render_messages(messages: tuple[Message, ...], d: ChatDialect) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for m in messages:
        role = m.role
        if role is Role.USER:
            msg: dict[str, Any] = {"role": "user", "content": render_user_content(m.content, d)}
        elif role is Role.ASSISTANT:
            msg = _render_assistant(m, d)
        elif role is Role.TOOL:
            others: list[ContentPart] = []
            for part in m.content:
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
            name = "developer" if role is Role.DEVELOPER and d.developer_role else "system"
            msg = {"role": name, "content": text_content(m.content, d)}
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
    if c.mode is ToolChoiceMode.NAMED and c.name is not None:
        return {"type": "function", "function": {"name": c.name}}
    if c.allowed and d.origin == "openai" and c.mode is not ToolChoiceMode.NONE:
        mode = "required" if c.mode is ToolChoiceMode.REQUIRED else "auto"
        tools = [{"type": "function", "function": {"name": n}} for n in c.allowed]
        return {"type": "allowed_tools", "allowed_tools": {"mode": mode, "tools": tools}}
    if c.mode is ToolChoiceMode.REQUIRED:
        return d.required_choice
    return "none" if c.mode is ToolChoiceMode.NONE else "auto"


def _render_response_format(rf: ResponseFormat) -> dict[str, Any]:
    if rf.type is not ResponseFormatType.JSON_SCHEMA:
        return {"type": rf.type.value}
    js: dict[str, Any] = {"name": rf.name or "response", "schema": rf.schema or {}}
    if rf.strict is not None:
        js["strict"] = rf.strict
    if rf.description is not None:
        js["description"] = rf.description
    return {"type": "json_schema", "json_schema": js}
