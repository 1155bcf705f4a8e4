"""Anthropic Messages <-> universal: requests, responses, SSE stream events and error bodies.

Also the Messages bodies that Bedrock InvokeModel and Vertex rawPredict carry (no `model`,
plus `anthropic_version`): see `to_bedrock_invoke_body`, `to_vertex_body`, `unwrap_invoke_chunk`.
Wire facts: `max_tokens` is required; tool results ride in user turns and must come first
there; `input_tokens` excludes prompt-cache reads and writes (universal counts them).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

import orjson

from llm_router.errors import TranslationError
from llm_router.formats import _anthropic_fast as _fast
from llm_router.formats import (
    append_user_turn,
    field_error,
    get_bool,
    get_int,
    get_list,
    get_obj,
    get_str,
    need_obj,
    need_str,
    read_fields,
)
from llm_router.formats._anthropic_stream import StreamParser, StreamRenderer
from llm_router.formats._anthropic_wire import (
    DEFAULT_MAX_TOKENS,
    FINISH,
    KNOWN_REQUEST_FIELDS,
    ORIGIN,
    new_message_id,
    parse_block,
    parse_error,
    parse_usage,
    render_block,
    render_error,
    render_text,
    render_usage,
    thinking_config,
)
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
    Usage,
)

__all__ = [
    "BEDROCK_ANTHROPIC_VERSION",
    "DEFAULT_MAX_TOKENS",
    "VERTEX_ANTHROPIC_VERSION",
    "StreamParser",
    "StreamRenderer",
    "parse_error",
    "parse_request",
    "parse_response",
    "render_error",
    "render_request",
    "render_response",
    "to_bedrock_invoke_body",
    "to_vertex_body",
    "unwrap_invoke_chunk",
]

BEDROCK_ANTHROPIC_VERSION = "bedrock-2023-05-31"
VERTEX_ANTHROPIC_VERSION = "vertex-2023-10-16"

_KNOWN_FIELDS = KNOWN_REQUEST_FIELDS
_SERVICE_TIERS = frozenset({"auto", "standard_only"})
# Top-level scalars: wire key -> (Request keyword, kind).
_FIELDS: dict[str, tuple[str, str]] = {
    "model": ("model", "string"),
    "max_tokens": ("max_tokens", "integer"),
    "temperature": ("temperature", "number"),
    "top_p": ("top_p", "number"),
    "top_k": ("top_k", "integer"),
    "service_tier": ("service_tier", "string"),
    "stream": ("stream", "boolean"),
}
_ROLES = {"user": Role.USER, "assistant": Role.ASSISTANT, "system": Role.SYSTEM}
# Universal role -> Messages role; None for the turns that go to `system`.
_WIRE_ROLES: dict[Role, str | None] = {
    Role.SYSTEM: None,
    Role.DEVELOPER: None,
    Role.USER: "user",
    Role.ASSISTANT: "assistant",
    Role.TOOL: "user",
}
# Enum members as module constants: an attribute lookup on an enum class is slow.
_TOOL = Role.TOOL
_JSON_SCHEMA = ResponseFormatType.JSON_SCHEMA


# --------------------------------------------------------------------------- request: parse


def parse_request(obj: Mapping[str, Any]) -> Request:
    req = _fast.parse_request(obj)
    return req if req is not None else _parse_request(obj)


def _parse_request(obj: Mapping[str, Any]) -> Request:
    """The general path: every field, and the typed errors naming the bad one."""
    obj = need_obj(obj, "")
    messages: list[Message] = []
    system = obj.get("system")
    if type(system) is str:
        messages.append(Message(Role.SYSTEM, (TextPart(system),)))
    elif type(system) is list:
        parts = tuple(parse_block(b, f"system[{i}]") for i, b in enumerate(system))
        messages.append(Message(Role.SYSTEM, parts))
    elif system is not None:
        raise field_error("", "system", "string or array", system)
    for i, raw in enumerate(get_list(obj, "messages", "")):
        path = f"messages[{i}]"
        _parse_message(need_obj(raw, path), path, messages)

    kw: dict[str, Any] = {}
    read_fields(obj, _FIELDS, "", kw)
    tools = get_list(obj, "tools", "")
    if tools:
        kw["tools"] = tuple(
            [_parse_tool(need_obj(t, f"tools[{i}]"), f"tools[{i}]") for i, t in enumerate(tools)]
        )
    tool_choice = get_obj(obj, "tool_choice", "")
    if tool_choice is not None:
        kw["tool_choice"], kw["parallel_tool_calls"] = _parse_tool_choice(tool_choice)
    output_config = get_obj(obj, "output_config", "") or {}
    out_format = get_obj(output_config, "format", "output_config")
    if out_format is None:  # the pre-GA spelling of the same field
        out_format = get_obj(obj, "output_format", "")
    if out_format is not None:
        kw["response_format"] = _parse_output_format(out_format)
    thinking = get_obj(obj, "thinking", "")
    if thinking is not None or output_config:
        kw["reasoning"] = _parse_reasoning(thinking, output_config)
    stop = _str_list(obj, "stop_sequences", "")
    if stop:
        kw["stop"] = tuple(stop)
    metadata = get_obj(obj, "metadata", "")
    if metadata is not None:
        kw["user"] = get_str(metadata, "user_id", "metadata")
    extras = {k: v for k, v in obj.items() if k not in _KNOWN_FIELDS}
    return Request(
        tuple(messages), extras=extras or None, extras_origin=ORIGIN if extras else None, **kw
    )


def _str_list(obj: Mapping[str, Any], key: str, path: str) -> list[str]:
    values = get_list(obj, key, path)
    for i, v in enumerate(values):
        if type(v) is not str:
            raise field_error(f"{path}.{key}" if path else key, i, "string", v)
    return values


def _parse_message(m: Mapping[str, Any], path: str, out: list[Message]) -> None:
    wire_role = m.get("role")
    role = _ROLES.get(wire_role) if type(wire_role) is str else None
    if role is None:
        raise TranslationError(
            f"{path}.role: expected 'user', 'assistant' or 'system', got {wire_role!r}",
            path=f"{path}.role",
        )
    content = m.get("content")
    if type(content) is str:
        out.append(Message(role, (TextPart(content),)))
        return
    if type(content) is not list:
        raise field_error(path, "content", "string or array", content)
    parts = [parse_block(b, f"{path}.content[{j}]") for j, b in enumerate(content)]
    if role is not Role.USER:
        out.append(Message(role, tuple(parts)))
        return
    append_user_turn(parts, out)


def _parse_tool(t: Mapping[str, Any], path: str) -> Tool | ProviderTool:
    kind = get_str(t, "type", path)
    if kind not in (None, "custom"):
        return ProviderTool(ORIGIN, t)  # web_search_20250305, bash_20250124, ...
    return Tool(
        name=need_str(t, "name", path),
        description=get_str(t, "description", path),
        parameters=get_obj(t, "input_schema", path),
        strict=get_bool(t, "strict", path),
        cache_control=get_obj(t, "cache_control", path),
    )


def _parse_tool_choice(tc: Mapping[str, Any] | None) -> tuple[ToolChoice | None, bool | None]:
    if tc is None:
        return None, None
    kind = need_str(tc, "type", "tool_choice")
    disable = get_bool(tc, "disable_parallel_tool_use", "tool_choice")
    parallel = None if disable is None else not disable
    if kind == "auto":
        return ToolChoice(ToolChoiceMode.AUTO), parallel
    if kind == "any":
        return ToolChoice(ToolChoiceMode.REQUIRED), parallel
    if kind == "none":
        return ToolChoice(ToolChoiceMode.NONE), parallel
    if kind == "tool":
        return ToolChoice(ToolChoiceMode.NAMED, name=need_str(tc, "name", "tool_choice")), parallel
    raise TranslationError(f"tool_choice.type: unknown value {kind!r}", path="tool_choice.type")


def _parse_reasoning(
    thinking: Mapping[str, Any] | None, output_config: Mapping[str, Any]
) -> ReasoningConfig | None:
    effort = get_str(output_config, "effort", "output_config")
    if thinking is None:
        return None if effort is None else ReasoningConfig(effort=effort)
    kind = need_str(thinking, "type", "thinking")
    try:
        mode = ReasoningMode(kind)
    except ValueError:
        raise TranslationError(
            f"thinking.type: unknown value {kind!r}", path="thinking.type"
        ) from None
    return ReasoningConfig(
        mode=mode, effort=effort, budget_tokens=get_int(thinking, "budget_tokens", "thinking")
    )


def _parse_output_format(fmt: Mapping[str, Any] | None) -> ResponseFormat | None:
    if fmt is None:
        return None
    if get_str(fmt, "type", "output_config.format") != "json_schema":
        return None
    return ResponseFormat(
        ResponseFormatType.JSON_SCHEMA, schema=get_obj(fmt, "schema", "output_config.format")
    )


# --------------------------------------------------------------------------- request: render


def render_request(req: Request, *, default_max_tokens: int | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if req.model is not None:
        body["model"] = req.model
    system: list[dict[str, Any]] = []
    messages: list[dict[str, Any]] = []
    last_role = None
    short_form_later = False  # whether a turn of blocks may end up as one plain text
    for i, m in enumerate(req.messages):
        wire_role = _WIRE_ROLES[m.role]
        if wire_role is None:  # system and developer turns go to `system`
            system += (render_text(p) for p in m.content if type(p) is TextPart and p.text)
            continue
        content = m.content
        p = content[0] if len(content) == 1 else None
        if type(p) is TextPart and p.cache_control is None and not p.annotations:
            # The common case: a turn of one plain text, written in the short form (a string)
            # unless it joins the turn before.
            if not p.text:
                continue  # the API rejects empty turns
            if wire_role != last_role:
                messages.append({"role": wire_role, "content": p.text})
                last_role = wire_role
                continue
            blocks = [{"type": "text", "text": p.text}]
        else:
            blocks = _render_blocks(content, i)
            if not blocks:
                continue  # the API rejects empty turns
        if wire_role != last_role:
            messages.append({"role": wire_role, "content": blocks})
            last_role = wire_role
            short_form_later = True
            continue
        turn = messages[-1]["content"]
        if type(turn) is str:  # a lone text so far: blocks from now on
            turn = messages[-1]["content"] = [{"type": "text", "text": turn}]
        if m.role is _TOOL:
            # The API wants a user turn's tool results before anything else in it.
            first_other = next(
                (k for k, b in enumerate(turn) if b["type"] != "tool_result"), len(turn)
            )
            turn[first_other:first_other] = blocks
        else:
            turn += blocks
    if short_form_later:
        for msg in messages:
            blocks = msg["content"]
            if (
                type(blocks) is list
                and len(blocks) == 1
                and blocks[0]["type"] == "text"
                and len(blocks[0]) == 2
            ):
                msg["content"] = blocks[0]["text"]  # the short form for a lone plain text
    max_tokens = req.max_tokens if req.max_tokens is not None else default_max_tokens
    if system:
        body["system"] = system[0]["text"] if len(system) == 1 and len(system[0]) == 2 else system
    body["messages"] = messages
    if req.reasoning is not None:
        thinking, max_tokens, effort = thinking_config(req.reasoning, max_tokens)
        if thinking is not None:
            body["thinking"] = thinking
        if effort is not None:
            body["output_config"] = {"effort": effort}
    body["max_tokens"] = DEFAULT_MAX_TOKENS if max_tokens is None else max_tokens
    if req.tools:
        tools = [
            _render_tool(t)
            for t in req.tools
            if type(t) is Tool or (type(t) is ProviderTool and t.origin == ORIGIN)
        ]
        if tools:
            body["tools"] = tools
            tool_choice = _render_tool_choice(req.tool_choice, req.parallel_tool_calls)
            if tool_choice is not None:  # the API refuses a tool_choice without tools
                body["tool_choice"] = tool_choice
    if req.temperature is not None:
        body["temperature"] = req.temperature
    if req.top_p is not None:
        body["top_p"] = req.top_p
    if req.top_k is not None:
        body["top_k"] = req.top_k
    if req.stop:
        body["stop_sequences"] = list(req.stop)
    if req.user is not None:
        body["metadata"] = {"user_id": req.user}
    if req.service_tier is not None and req.service_tier in _SERVICE_TIERS:
        body["service_tier"] = req.service_tier
    fmt = req.response_format
    if fmt is not None and fmt.type is _JSON_SCHEMA and fmt.schema is not None:
        body.setdefault("output_config", {})["format"] = {
            "type": "json_schema",
            "schema": fmt.schema,
        }
    if req.stream:
        body["stream"] = True
    if req.extras and req.extras_origin == ORIGIN:
        for key, value in req.extras.items():
            body.setdefault(key, value)
    return body


def _render_blocks(parts: tuple[ContentPart, ...], message: int) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    for j, part in enumerate(parts):
        if type(part) is TextPart and part.cache_control is None and not part.annotations:
            if part.text:  # empty text blocks are refused in requests
                blocks.append({"type": "text", "text": part.text})
            continue
        try:
            block = render_block(part, request=True)
        except TranslationError as exc:
            path = f"messages[{message}].content[{j}]"
            raise TranslationError(f"{path}: {exc.message}", path=path) from None
        if block is not None:
            blocks.append(block)
    return blocks


def _render_tool(t: Tool | ProviderTool) -> dict[str, Any]:
    if isinstance(t, ProviderTool):
        return dict(t.spec)
    tool: dict[str, Any] = {"name": t.name}
    if t.description:
        tool["description"] = t.description
    tool["input_schema"] = (
        t.parameters if t.parameters is not None else {"type": "object", "properties": {}}
    )
    if t.strict is not None:
        tool["strict"] = t.strict
    if t.cache_control is not None:
        tool["cache_control"] = t.cache_control
    return tool


def _render_tool_choice(tc: ToolChoice | None, parallel: bool | None) -> dict[str, Any] | None:
    if tc is None:
        choice: dict[str, Any] | None = None if parallel is not False else {"type": "auto"}
    elif tc.mode is ToolChoiceMode.NAMED and tc.name:
        choice = {"type": "tool", "name": tc.name}
    elif tc.mode is ToolChoiceMode.REQUIRED:
        choice = {"type": "any"}
    elif tc.mode is ToolChoiceMode.NONE:
        choice = {"type": "none"}
    else:
        choice = {"type": "auto"}
    if choice is not None and parallel is not None and choice["type"] != "none":
        choice["disable_parallel_tool_use"] = not parallel
    return choice


# --------------------------------------------------------------------------- response


def parse_response(obj: Mapping[str, Any]) -> Response:
    resp = _fast.parse_response(obj)
    return resp if resp is not None else _parse_response(obj)


def _parse_response(obj: Mapping[str, Any]) -> Response:
    """The general path: every field, and the typed errors naming the bad one."""
    obj = need_obj(obj, "")
    content = tuple(
        parse_block(b, f"content[{i}]") for i, b in enumerate(get_list(obj, "content", ""))
    )
    usage = get_obj(obj, "usage", "")
    return Response(
        content=content,
        id=get_str(obj, "id", ""),
        model=get_str(obj, "model", ""),
        finish_reason=FINISH.parse(get_str(obj, "stop_reason", "")),
        stop_sequence=get_str(obj, "stop_sequence", ""),
        usage=None if usage is None else parse_usage(usage, "usage"),
    )


def render_response(resp: Response) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    for p in resp.content:
        if type(p) is TextPart and p.cache_control is None and not p.annotations:
            content.append({"type": "text", "text": p.text})
        else:
            block = render_block(p, request=False)
            if block is not None:
                content.append(block)
    return {
        "id": resp.id or new_message_id(),
        "type": "message",
        "role": "assistant",
        "model": resp.model or "unknown",
        "content": content,
        "stop_reason": FINISH.render(resp.finish_reason),
        "stop_sequence": resp.stop_sequence,
        "usage": render_usage(resp.usage or Usage()),
    }


# --------------------------------------------------------------------------- Bedrock / Vertex bodies


def to_bedrock_invoke_body(body: Mapping[str, Any]) -> dict[str, Any]:
    """A rendered Messages body as Bedrock InvokeModel takes it (model and stream in the URL)."""
    out = {k: v for k, v in body.items() if k not in ("model", "stream")}
    out["anthropic_version"] = BEDROCK_ANTHROPIC_VERSION
    return out


def to_vertex_body(body: Mapping[str, Any]) -> dict[str, Any]:
    """A rendered Messages body as Vertex rawPredict / streamRawPredict takes it."""
    out = {k: v for k, v in body.items() if k != "model"}
    out["anthropic_version"] = VERTEX_ANTHROPIC_VERSION
    return out


def unwrap_invoke_chunk(event: Mapping[str, Any]) -> Mapping[str, Any]:
    """The Messages stream event inside a Bedrock InvokeModelWithResponseStream `chunk` event.

    `event` is one decoded event-stream event, ``{"chunk": {"bytes": "<base64 JSON>"}}``.
    """
    chunk = event.get("chunk")
    raw = chunk.get("bytes") if isinstance(chunk, dict) else None
    if not isinstance(raw, str):
        raise TranslationError(
            "expected a Bedrock `chunk` event with base64 `bytes`", path="chunk.bytes"
        )
    try:
        inner = orjson.loads(base64.b64decode(raw))
    except (ValueError, orjson.JSONDecodeError) as exc:
        raise TranslationError(
            f"chunk.bytes: not base64-encoded JSON ({exc})", path="chunk.bytes"
        ) from None
    return need_obj(inner, "chunk.bytes")
