"""Bedrock Converse <-> universal: requests, responses, ConverseStream events and error bodies.

Wire facts: the model id travels in the URL (a body `modelId` is read, never written); turns
must alternate user/assistant; binary content is base64 text in JSON; `top_k` and thinking
have no Converse field and go in `additionalModelRequestFields`, in the shape Anthropic models
on Bedrock take (``{"top_k": 40, "thinking": {"type": "enabled", "budget_tokens": 2048}}``).
Errors are ``{"message": ...}`` plus the x-amzn-ErrorType header (`error_type_header`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from llm_router.errors import TranslationError
from llm_router.formats import _converse_fast as _fast
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
from llm_router.formats._anthropic_wire import thinking_config
from llm_router.formats._converse_stream import StreamParser, StreamRenderer
from llm_router.formats._converse_wire import (
    FINISH,
    ORIGIN,
    cache_point,
    error_type_header,
    parse_blocks,
    parse_error,
    parse_usage,
    render_blocks,
    render_error,
    render_usage,
)
from llm_router.universal import (
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
    "StreamParser",
    "StreamRenderer",
    "error_type_header",
    "parse_error",
    "parse_request",
    "parse_response",
    "render_error",
    "render_request",
    "render_response",
]

_INFERENCE_FIELDS: dict[str, tuple[str, str]] = {
    "maxTokens": ("max_tokens", "integer"),
    "temperature": ("temperature", "number"),
    "topP": ("top_p", "number"),
}
# Universal role -> Converse role; None for the turns that go to `system`.
_WIRE_ROLES: dict[Role, str | None] = {
    Role.SYSTEM: None,
    Role.DEVELOPER: None,
    Role.USER: "user",
    Role.ASSISTANT: "assistant",
    Role.TOOL: "user",
}
_KNOWN_FIELDS = frozenset(
    {
        "modelId", "messages", "system", "inferenceConfig", "toolConfig",
        "additionalModelRequestFields", "outputConfig",
    }
)  # fmt: skip


# --------------------------------------------------------------------------- request: parse


def parse_request(obj: Mapping[str, Any]) -> Request:
    req = _fast.parse_request(obj)
    return req if req is not None else _parse_request(obj)


def _parse_request(obj: Mapping[str, Any]) -> Request:
    """The general path: every field, and the typed errors naming the bad one."""
    obj = need_obj(obj, "")
    messages: list[Message] = []
    system = get_list(obj, "system", "")
    if system:
        messages.append(Message(Role.SYSTEM, tuple(parse_blocks(system, "system"))))
    for i, raw in enumerate(get_list(obj, "messages", "")):
        path = f"messages[{i}]"
        message = need_obj(raw, path)
        role = need_str(message, "role", path)
        parts = parse_blocks(get_list(message, "content", path), f"{path}.content")
        if role == "assistant":
            messages.append(Message(Role.ASSISTANT, tuple(parts)))
        elif role == "user":
            append_user_turn(parts, messages)
        else:
            raise TranslationError(
                f"{path}.role: expected 'user' or 'assistant', got {role!r}", path=f"{path}.role"
            )

    inference = get_obj(obj, "inferenceConfig", "") or {}
    additional = dict(get_obj(obj, "additionalModelRequestFields", "") or {})
    top_k = additional.pop("top_k", None)
    if top_k is not None and type(top_k) is not int:
        raise field_error("additionalModelRequestFields", "top_k", "integer", top_k)
    output = get_obj(obj, "outputConfig", "") or {}
    reasoning = _parse_thinking(
        additional.pop("thinking", None), get_str(output, "effort", "outputConfig")
    )
    extras = {k: v for k, v in obj.items() if k not in _KNOWN_FIELDS}
    if additional:
        extras["additionalModelRequestFields"] = additional
    kw: dict[str, Any] = {}
    if inference:
        read_fields(inference, _INFERENCE_FIELDS, "inferenceConfig", kw)
        stops = get_list(inference, "stopSequences", "inferenceConfig")
        for j, stop in enumerate(stops):
            if type(stop) is not str:
                raise field_error("inferenceConfig.stopSequences", j, "string", stop)
        kw["stop"] = tuple(stops)
    tool_config = get_obj(obj, "toolConfig", "")
    if tool_config is not None:
        kw["tools"], kw["tool_choice"] = _parse_tool_config(tool_config)
    if output:
        kw["response_format"] = _parse_output_format(output)
    return Request(
        tuple(messages),
        model=get_str(obj, "modelId", ""),
        reasoning=reasoning,
        top_k=top_k,
        extras=extras or None,
        extras_origin=ORIGIN if extras else None,
        **kw,
    )


def _parse_tool_config(
    config: Mapping[str, Any] | None,
) -> tuple[tuple[Tool | ProviderTool, ...], ToolChoice | None]:
    if config is None:
        return (), None
    tools: list[Tool | ProviderTool] = []
    for i, raw in enumerate(get_list(config, "tools", "toolConfig")):
        path = f"toolConfig.tools[{i}]"
        entry = need_obj(raw, path)
        spec = get_obj(entry, "toolSpec", path)
        if spec is not None:
            spath = f"{path}.toolSpec"
            schema = get_obj(spec, "inputSchema", spath)
            tools.append(
                Tool(
                    name=need_str(spec, "name", spath),
                    description=get_str(spec, "description", spath),
                    parameters=None
                    if schema is None
                    else get_obj(schema, "json", f"{spath}.inputSchema"),
                    strict=get_bool(spec, "strict", spath),
                )
            )
        elif "cachePoint" in entry and tools and isinstance(tools[-1], Tool):
            last = tools[-1]
            tools[-1] = Tool(
                last.name, last.description, last.parameters, last.strict, {"type": "ephemeral"}
            )
        else:
            tools.append(ProviderTool(ORIGIN, entry))  # systemTool and later kinds
    choice_obj = get_obj(config, "toolChoice", "toolConfig")
    choice = None
    if choice_obj is not None:
        if "any" in choice_obj:
            choice = ToolChoice(ToolChoiceMode.REQUIRED)
        elif "tool" in choice_obj:
            named = need_obj(choice_obj["tool"], "toolConfig.toolChoice.tool")
            choice = ToolChoice(
                ToolChoiceMode.NAMED, name=need_str(named, "name", "toolConfig.toolChoice.tool")
            )
        else:
            choice = ToolChoice(ToolChoiceMode.AUTO)
    return tuple(tools), choice


def _parse_thinking(thinking: Any, effort: str | None) -> ReasoningConfig | None:
    if thinking is None:
        return None if effort is None else ReasoningConfig(effort=effort)
    thinking = need_obj(thinking, "additionalModelRequestFields.thinking")
    kind = need_str(thinking, "type", "additionalModelRequestFields.thinking")
    try:
        mode = ReasoningMode(kind)
    except ValueError:
        path = "additionalModelRequestFields.thinking.type"
        raise TranslationError(f"{path}: unknown value {kind!r}", path=path) from None
    budget = get_int(thinking, "budget_tokens", "additionalModelRequestFields.thinking")
    return ReasoningConfig(mode=mode, effort=effort, budget_tokens=budget)


def _parse_output_format(output: Mapping[str, Any]) -> ResponseFormat | None:
    fmt = get_obj(output, "textFormat", "outputConfig")
    if fmt is None:
        return None
    path = "outputConfig.textFormat.structure.jsonSchema"
    structure = get_obj(fmt, "structure", "outputConfig.textFormat") or {}
    definition = get_obj(structure, "jsonSchema", "outputConfig.textFormat.structure") or {}
    text = get_str(definition, "schema", path)
    try:
        schema = None if text is None else orjson.loads(text)
    except orjson.JSONDecodeError:
        raise TranslationError(
            f"{path}.schema: not a JSON document", path=f"{path}.schema"
        ) from None
    return ResponseFormat(
        ResponseFormatType.JSON_SCHEMA,
        name=get_str(definition, "name", path),
        schema=schema,
        description=get_str(definition, "description", path),
    )


# --------------------------------------------------------------------------- request: render


def render_request(req: Request, *, default_max_tokens: int | None = None) -> dict[str, Any]:
    """Render a Converse body (no `modelId`: it belongs in the URL).

    `default_max_tokens` is unused: Converse does not require `maxTokens`.
    """
    system: list[dict[str, Any]] = []
    messages: list[dict[str, Any]] = []
    last_role = None
    for i, m in enumerate(req.messages):
        role = _WIRE_ROLES[m.role]
        if role is None:  # system and developer turns go to `system`
            texts = tuple(p for p in m.content if type(p) is TextPart)
            render_blocks(texts, request=True, out=system, message=i)
            continue
        # Converse wants strictly alternating turns: same-role neighbours are merged.
        if role == last_role:
            render_blocks(m.content, request=True, out=messages[-1]["content"], message=i)
            continue
        blocks: list[dict[str, Any]] = []
        render_blocks(m.content, request=True, out=blocks, message=i)
        if blocks:
            messages.append({"role": role, "content": blocks})
            last_role = role
    body: dict[str, Any] = {"messages": messages}
    if system:
        body["system"] = system
    additional = _render_settings(
        body,
        req.max_tokens,
        req.temperature,
        req.top_p,
        req.stop,
        req.top_k,
        req.reasoning,
        req.tools,
        req.tool_choice,
        req.response_format,
    )
    if req.extras and req.extras_origin == ORIGIN:
        for key, value in req.extras.items():
            if key == "additionalModelRequestFields" and isinstance(value, Mapping):
                for akey, avalue in value.items():
                    additional.setdefault(akey, avalue)
            else:
                body.setdefault(key, value)
    if additional:
        body["additionalModelRequestFields"] = additional
    return body


def _render_settings(
    body: dict[str, Any],
    max_tokens: int | None,
    temperature: float | None,
    top_p: float | None,
    stop: tuple[str, ...],
    top_k: int | None,
    reasoning: ReasoningConfig | None,
    tools: tuple[Tool | ProviderTool, ...],
    tool_choice: ToolChoice | None,
    fmt: ResponseFormat | None,
) -> dict[str, Any]:
    """Write a request's settings into `body` (`inferenceConfig`, `toolConfig`,
    `outputConfig`, in that order) and return the `additionalModelRequestFields` they need,
    for the caller to complete and write."""
    inference: dict[str, Any] = {}
    if max_tokens is not None:
        inference["maxTokens"] = max_tokens
    if temperature is not None:
        inference["temperature"] = temperature
    if top_p is not None:
        inference["topP"] = top_p
    if stop:
        inference["stopSequences"] = list(stop)
    additional: dict[str, Any] = {}
    output: dict[str, Any] = {}
    if top_k is not None:
        additional["top_k"] = top_k
    if reasoning is not None:
        # Thinking settings go in the shape Anthropic models on Bedrock take.
        thinking, thinking_max_tokens, effort = thinking_config(reasoning, max_tokens)
        if thinking is not None and thinking["type"] != "disabled":
            additional["thinking"] = thinking
            if thinking_max_tokens is not None:
                inference["maxTokens"] = thinking_max_tokens
        if effort is not None:
            output["effort"] = effort
    if inference:
        body["inferenceConfig"] = inference
    if tools:
        tool_config = _render_tool_config(tools, tool_choice)
        if tool_config is not None:
            body["toolConfig"] = tool_config
    if fmt is not None and fmt.type is ResponseFormatType.JSON_SCHEMA and fmt.schema is not None:
        definition: dict[str, Any] = {"schema": orjson.dumps(fmt.schema).decode()}
        if fmt.name:
            definition["name"] = fmt.name
        if fmt.description:
            definition["description"] = fmt.description
        output["textFormat"] = {"type": "json_schema", "structure": {"jsonSchema": definition}}
    if output:
        body["outputConfig"] = output
    return additional


def _render_tool_config(
    tools: tuple[Tool | ProviderTool, ...], choice: ToolChoice | None
) -> dict[str, Any] | None:
    specs: list[dict[str, Any]] = []
    for t in tools:
        if isinstance(t, ProviderTool):
            if t.origin == ORIGIN:
                specs.append(dict(t.spec))
            continue
        spec: dict[str, Any] = {"name": t.name}
        if t.description:
            spec["description"] = t.description
        spec["inputSchema"] = {
            "json": t.parameters
            if t.parameters is not None
            else {"type": "object", "properties": {}}
        }
        if t.strict is not None:
            spec["strict"] = t.strict
        specs.append({"toolSpec": spec})
        if t.cache_control is not None:
            specs.append(cache_point(t.cache_control))
    if not specs:
        return None
    config: dict[str, Any] = {"tools": specs}
    # Converse has no "none" choice; it is left to the default (auto).
    if choice is not None:
        if choice.mode is ToolChoiceMode.NAMED and choice.name:
            config["toolChoice"] = {"tool": {"name": choice.name}}
        elif choice.mode is ToolChoiceMode.REQUIRED:
            config["toolChoice"] = {"any": {}}
        elif choice.mode is ToolChoiceMode.AUTO:
            config["toolChoice"] = {"auto": {}}
    return config


# --------------------------------------------------------------------------- response


def parse_response(obj: Mapping[str, Any]) -> Response:
    resp = _fast.parse_response(obj)
    return resp if resp is not None else _parse_response(obj)


def _parse_response(obj: Mapping[str, Any]) -> Response:
    """The general path: every field, and the typed errors naming the bad one."""
    obj = need_obj(obj, "")
    output = get_obj(obj, "output", "") or {}
    message = get_obj(output, "message", "output") or {}
    parts = parse_blocks(get_list(message, "content", "output.message"), "output.message.content")
    usage = get_obj(obj, "usage", "")
    fields = get_obj(obj, "additionalModelResponseFields", "") or {}
    stop_sequence = fields.get("stop_sequence")
    return Response(
        content=tuple(parts),
        finish_reason=FINISH.parse(get_str(obj, "stopReason", "")),
        stop_sequence=stop_sequence if isinstance(stop_sequence, str) else None,
        usage=None if usage is None else parse_usage(usage, "usage"),
    )


def render_response(resp: Response) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    render_blocks(resp.content, request=False, out=content)
    body: dict[str, Any] = {
        "output": {"message": {"role": "assistant", "content": content}},
        "stopReason": FINISH.render(resp.finish_reason),
        "usage": render_usage(resp.usage or Usage()),
        "metrics": {"latencyMs": 0},
    }
    if resp.stop_sequence is not None:
        body["additionalModelResponseFields"] = {"stop_sequence": resp.stop_sequence}
    return body
