"""Gemini generateContent <-> universal: requests, responses, stream chunks and error bodies.

Wire facts: the model travels in the URL (a body `model` is read but never written); roles
are `user` and `model`; tool results are `functionResponse` parts in user turns, matched to
their call by name (Gemini often sends no call ids); `candidatesTokenCount` excludes thoughts.
Bodies are camelCase; snake_case, which some clients send, is accepted when parsing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from llm_router.errors import TranslationError
from llm_router.formats import _google_fast as _fast
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
    scalar,
)
from llm_router.formats._google_stream import StreamParser, StreamRenderer
from llm_router.formats._google_wire import (
    FINISH,
    ORIGIN,
    CallIds,
    field,
    json_schema,
    need_parts,
    parse_error,
    parse_part,
    parse_usage,
    render_error,
    render_part,
    render_usage,
)
from llm_router.universal import (
    ContentPart,
    FinishReason,
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
    budget_for_effort,
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

FOREIGN_SIGNATURE = "skip_thought_signature_validator"
"""Google's documented stand-in signature for tool calls Gemini did not make itself: Gemini 3
refuses a model turn whose first function call carries no signature at all."""

_TOP_LEVEL = frozenset(
    {
        "model", "contents", "systemInstruction", "system_instruction", "tools", "toolConfig",
        "tool_config", "generationConfig", "generation_config",
    }
)  # fmt: skip
# generationConfig fields with a universal slot, in both spellings.
_GENERATION = frozenset(
    {
        "maxOutputTokens", "max_output_tokens", "temperature", "topP", "top_p", "topK", "top_k",
        "stopSequences", "stop_sequences", "seed", "presencePenalty", "presence_penalty",
        "frequencyPenalty", "frequency_penalty", "candidateCount", "candidate_count",
        "responseLogprobs", "response_logprobs", "logprobs", "responseMimeType",
        "response_mime_type", "responseSchema", "response_schema", "responseJsonSchema",
        "response_json_schema", "_responseJsonSchema", "thinkingConfig", "thinking_config",
    }
)  # fmt: skip
# generationConfig scalars with a universal slot: wire key -> (Request keyword, kind, and for
# a snake_case key the camelCase spelling that wins when both are given).
_GENERATION_FIELDS: dict[str, tuple[str, str, str | None]] = {
    "maxOutputTokens": ("max_tokens", "integer", None),
    "max_output_tokens": ("max_tokens", "integer", "maxOutputTokens"),
    "temperature": ("temperature", "number", None),
    "topP": ("top_p", "number", None),
    "top_p": ("top_p", "number", "topP"),
    "topK": ("top_k", "integer", None),
    "top_k": ("top_k", "integer", "topK"),
    "seed": ("seed", "integer", None),
    "presencePenalty": ("presence_penalty", "number", None),
    "presence_penalty": ("presence_penalty", "number", "presencePenalty"),
    "frequencyPenalty": ("frequency_penalty", "number", None),
    "frequency_penalty": ("frequency_penalty", "number", "frequencyPenalty"),
    "candidateCount": ("n", "integer", None),
    "candidate_count": ("n", "integer", "candidateCount"),
    "responseLogprobs": ("logprobs", "boolean", None),
    "response_logprobs": ("logprobs", "boolean", "responseLogprobs"),
    "logprobs": ("top_logprobs", "integer", None),
}
_MODES = {
    "AUTO": ToolChoiceMode.AUTO,
    "VALIDATED": ToolChoiceMode.AUTO,
    "ANY": ToolChoiceMode.REQUIRED,
    "NONE": ToolChoiceMode.NONE,
}
_LEVELS = frozenset({"minimal", "low", "medium", "high", "xhigh"})
# Universal role -> Gemini role; None for the turns that go to `systemInstruction`.
_WIRE_ROLES: dict[Role, str | None] = {
    Role.SYSTEM: None,
    Role.DEVELOPER: None,
    Role.USER: "user",
    Role.ASSISTANT: "model",
    Role.TOOL: "user",
}
# An enum member as a module constant: an attribute lookup on an enum class is slow.
_TEXT_FORMAT = ResponseFormatType.TEXT
_NO_NAMES: Mapping[str, str] = {}


# --------------------------------------------------------------------------- request: parse


def parse_request(obj: Mapping[str, Any]) -> Request:
    """Parse a generateContent body. `extras_origin` is always "google": it marks the body as
    Gemini's own, so that effort words go back as `thinkingLevel` (not as a budget)."""
    req = _fast.parse_request(obj)
    return req if req is not None else _parse_request(obj)


def _parse_request(obj: Mapping[str, Any]) -> Request:
    """The general path: every field and spelling, and the typed errors naming the bad one."""
    obj = need_obj(obj, "")
    ids = CallIds()
    messages: list[Message] = []
    key = field(obj, "systemInstruction", "system_instruction")
    system = obj.get(key)
    if type(system) is str:
        messages.append(Message(Role.SYSTEM, (TextPart(system),)))
    elif system is not None:
        messages.append(Message(Role.SYSTEM, _parse_parts(need_obj(system, key), key, ids)))
    for i, raw in enumerate(get_list(obj, "contents", "")):
        path = f"contents[{i}]"
        content = need_obj(raw, path)
        role = get_str(content, "role", path) or "user"
        parts = _parse_parts(content, path, ids)
        if role == "model":
            messages.append(Message(Role.ASSISTANT, parts))
        elif role in ("user", "function"):
            append_user_turn(parts, messages)
        else:
            raise TranslationError(
                f"{path}.role: expected 'user' or 'model', got {role!r}", path=f"{path}.role"
            )

    extras: dict[str, Any] = {k: v for k, v in obj.items() if k not in _TOP_LEVEL}
    kw: dict[str, Any] = {}
    key = field(obj, "generationConfig", "generation_config")
    gen = get_obj(obj, key, "")
    if gen:
        _parse_generation(gen, key, kw, extras)
    if "tools" in obj or "toolConfig" in obj or "tool_config" in obj:
        kw["tools"], kw["tool_choice"] = _parse_tools(obj)
    model = get_str(obj, "model", "")
    if model:
        kw["model"] = model.removeprefix("models/")
    return Request(tuple(messages), extras=extras or None, extras_origin=ORIGIN, **kw)


def _parse_generation(
    gen: Mapping[str, Any], key: str, kw: dict[str, Any], extras: dict[str, Any]
) -> None:
    """`generationConfig` into `Request` keywords `kw`; fields with no slot go to `extras`."""
    leftover: dict[str, Any] = {}
    for wire, value in gen.items():
        spec = _GENERATION_FIELDS.get(wire)
        if spec is None:
            if wire not in _GENERATION:
                leftover[wire] = value
            continue
        name, kind, camel = spec
        if value is not None and (camel is None or camel not in gen):
            kw[name] = scalar(value, kind, key, wire)
    if leftover:
        extras["generationConfig"] = leftover
    stop_key = field(gen, "stopSequences", "stop_sequences")
    stops = get_list(gen, stop_key, key)
    for j, stop in enumerate(stops):
        if type(stop) is not str:
            raise field_error(f"{key}.{stop_key}", j, "string", stop)
    if stops:
        kw["stop"] = tuple(stops)
    response_format = _parse_response_format(gen, key)
    if response_format is not None:
        kw["response_format"] = response_format
    thinking = get_obj(gen, field(gen, "thinkingConfig", "thinking_config"), key)
    if thinking is not None:
        kw["reasoning"] = _parse_thinking(thinking)


def _parse_parts(content: Mapping[str, Any], path: str, ids: CallIds) -> tuple[ContentPart, ...]:
    parts = need_parts(content, path)
    return tuple([parse_part(p, f"{path}.parts[{j}]", ids) for j, p in enumerate(parts)])


def _parse_tools(
    obj: Mapping[str, Any],
) -> tuple[tuple[Tool | ProviderTool, ...], ToolChoice | None]:
    tools: list[Tool | ProviderTool] = []
    for i, raw in enumerate(get_list(obj, "tools", "")):
        path = f"tools[{i}]"
        entry = need_obj(raw, path)
        for key, value in entry.items():
            if key not in ("functionDeclarations", "function_declarations"):
                tools.append(ProviderTool(ORIGIN, {key: value}))  # googleSearch, codeExecution...
                continue
            for j, decl in enumerate(get_list(entry, key, path)):
                tools.append(
                    _parse_declaration(need_obj(decl, f"{path}.{key}[{j}]"), f"{path}.{key}[{j}]")
                )
    key = field(obj, "toolConfig", "tool_config")
    config = get_obj(obj, key, "")
    if config is None:
        return tuple(tools), None
    ckey = field(config, "functionCallingConfig", "function_calling_config")
    calling = get_obj(config, ckey, key)
    if calling is None:
        return tuple(tools), None
    path = f"{key}.{ckey}"
    mode = get_str(calling, "mode", path) or "AUTO"
    allowed = tuple(
        s
        for s in get_list(
            calling, field(calling, "allowedFunctionNames", "allowed_function_names"), path
        )
        if type(s) is str
    )
    choice_mode = _MODES.get(mode.upper())
    if choice_mode is None:
        raise TranslationError(f"{path}.mode: unknown value {mode!r}", path=f"{path}.mode")
    if choice_mode is ToolChoiceMode.REQUIRED and len(allowed) == 1:
        return tuple(tools), ToolChoice(ToolChoiceMode.NAMED, name=allowed[0])
    return tuple(tools), ToolChoice(choice_mode, allowed=allowed)


def _parse_declaration(decl: Mapping[str, Any], path: str) -> Tool:
    schema = get_obj(decl, field(decl, "parametersJsonSchema", "parameters_json_schema"), path)
    if schema is None:
        schema = get_obj(decl, "parameters", path)
        schema = None if schema is None else json_schema(schema)
    return Tool(
        name=need_str(decl, "name", path),
        description=get_str(decl, "description", path),
        parameters=schema,
    )


def _parse_response_format(gen: Mapping[str, Any], path: str) -> ResponseFormat | None:
    mime = get_str(gen, field(gen, "responseMimeType", "response_mime_type"), path)
    schema = None
    for key in ("responseJsonSchema", "response_json_schema", "_responseJsonSchema"):
        schema = schema or get_obj(gen, key, path)
    if schema is None:
        openapi = get_obj(gen, field(gen, "responseSchema", "response_schema"), path)
        schema = None if openapi is None else json_schema(openapi)
    if schema is not None:
        return ResponseFormat(ResponseFormatType.JSON_SCHEMA, schema=schema)
    if mime == "application/json":
        return ResponseFormat(ResponseFormatType.JSON_OBJECT)
    return None


def _parse_thinking(config: Mapping[str, Any]) -> ReasoningConfig:
    path = "generationConfig.thinkingConfig"
    budget = get_int(config, field(config, "thinkingBudget", "thinking_budget"), path)
    level = get_str(config, field(config, "thinkingLevel", "thinking_level"), path)
    include = get_bool(config, field(config, "includeThoughts", "include_thoughts"), path)
    if budget == 0:
        mode: ReasoningMode | None = ReasoningMode.DISABLED
    elif budget == -1:
        mode, budget = ReasoningMode.ADAPTIVE, None
    else:
        mode = None if budget is None else ReasoningMode.ENABLED
    return ReasoningConfig(
        mode=mode,
        effort=None if level is None else level.lower(),
        budget_tokens=budget,
        summary="auto" if include else None,
    )


# --------------------------------------------------------------------------- request: render


def render_request(req: Request, *, default_max_tokens: int | None = None) -> dict[str, Any]:
    """Render a generateContent body (no `model`: it belongs in the URL).

    `default_max_tokens` is unused: Gemini does not require `maxOutputTokens`.
    """
    names: dict[str, str] = {}  # tool-call id -> function name, for results that lack it
    system: list[dict[str, Any]] = []
    contents: list[dict[str, Any]] = []
    last_role = None
    for i, m in enumerate(req.messages):
        role = _WIRE_ROLES[m.role]
        if role is None:  # system and developer turns go to `systemInstruction`
            system += ({"text": p.text} for p in m.content if type(p) is TextPart and p.text)
            continue
        parts: list[dict[str, Any]] = []
        only_text = True  # text parts cannot be function calls: no signing to look at
        for j, p in enumerate(m.content):
            if type(p) is TextPart:
                if p.text:  # the API rejects empty text parts
                    text_part: dict[str, Any] = {"text": p.text}
                    if p.signature is not None:
                        text_part["thoughtSignature"] = p.signature
                    parts.append(text_part)
                continue
            only_text = False
            if type(p) is ToolCallPart:
                names[p.id] = p.name
            elif type(p) is ToolResultPart and p.name is None and p.call_id not in names:
                path = f"messages[{i}].content[{j}]"
                raise TranslationError(
                    f"{path}: tool result for call {p.call_id!r} answers no earlier tool call;"
                    " Gemini needs the function name",
                    path=path,
                )
            try:
                part = render_part(p, request=True, names=names)
            except TranslationError as exc:
                path = f"messages[{i}].content[{j}]"
                raise TranslationError(f"{path}: {exc.message}", path=path) from None
            if part is not None:
                parts.append(part)
        if not parts:
            continue
        if role == "model" and not only_text:
            _sign_foreign_calls(parts)
        if role == last_role:
            contents[-1]["parts"] += parts
        else:
            contents.append({"role": role, "parts": parts})
            last_role = role

    body: dict[str, Any] = {"contents": contents}
    if system:
        body["systemInstruction"] = {"parts": system}
    if req.tools:
        tools = _render_tools(req.tools)
        if tools:
            body["tools"] = tools
            config = _render_tool_choice(req.tool_choice)
            if config is not None:
                body["toolConfig"] = {"functionCallingConfig": config}
    same_family = req.extras_origin == ORIGIN
    gen = _render_generation(req, same_family)
    if same_family and req.extras:
        for key, value in req.extras.items():
            if key == "generationConfig" and isinstance(value, Mapping):
                for gkey, gvalue in value.items():
                    gen.setdefault(gkey, gvalue)
            else:
                body.setdefault(key, value)
    if gen:
        body["generationConfig"] = gen
    return body


def _sign_foreign_calls(parts: list[dict[str, Any]]) -> None:
    calls = [p for p in parts if "functionCall" in p]
    # Ids that Gemini did not make (made-up ones are never rendered) mark another family's calls.
    if (
        calls
        and "id" in calls[0]["functionCall"]
        and not any("thoughtSignature" in p for p in parts)
    ):
        calls[0]["thoughtSignature"] = FOREIGN_SIGNATURE


def _render_tools(tools: tuple[Tool | ProviderTool, ...]) -> list[dict[str, Any]]:
    declarations: list[dict[str, Any]] = []
    out: list[dict[str, Any]] = []
    for t in tools:
        if isinstance(t, ProviderTool):
            if t.origin == ORIGIN:
                out.append(dict(t.spec))
            continue
        decl: dict[str, Any] = {"name": t.name}
        if t.description:
            decl["description"] = t.description
        if t.parameters is not None:
            decl["parametersJsonSchema"] = t.parameters
        declarations.append(decl)
    if declarations:
        out.insert(0, {"functionDeclarations": declarations})
    return out


def _render_tool_choice(tc: ToolChoice | None) -> dict[str, Any] | None:
    if tc is None:
        return None
    if tc.mode is ToolChoiceMode.NAMED and tc.name:
        return {"mode": "ANY", "allowedFunctionNames": [tc.name]}
    mode = {ToolChoiceMode.REQUIRED: "ANY", ToolChoiceMode.NONE: "NONE"}.get(tc.mode, "AUTO")
    config: dict[str, Any] = {"mode": mode}
    if tc.allowed and mode != "NONE":
        config["allowedFunctionNames"] = list(tc.allowed)
    return config


def _render_generation(req: Request, same_family: bool) -> dict[str, Any]:
    gen: dict[str, Any] = {}
    if req.max_tokens is not None:
        gen["maxOutputTokens"] = req.max_tokens
    if req.temperature is not None:
        gen["temperature"] = req.temperature
    if req.top_p is not None:
        gen["topP"] = req.top_p
    if req.top_k is not None:
        gen["topK"] = req.top_k
    if req.seed is not None:
        gen["seed"] = req.seed
    if req.presence_penalty is not None:
        gen["presencePenalty"] = req.presence_penalty
    if req.frequency_penalty is not None:
        gen["frequencyPenalty"] = req.frequency_penalty
    if req.n is not None:
        gen["candidateCount"] = req.n
    if req.logprobs is not None:
        gen["responseLogprobs"] = req.logprobs
    if req.top_logprobs is not None:
        gen["logprobs"] = req.top_logprobs
    if req.stop:
        gen["stopSequences"] = list(req.stop)
    fmt = req.response_format
    if fmt is not None and fmt.type is not _TEXT_FORMAT:
        gen["responseMimeType"] = "application/json"
        if fmt.schema is not None:
            gen["responseJsonSchema"] = fmt.schema
    if req.reasoning is not None:
        thinking = _render_thinking(req.reasoning, same_family)
        if thinking:
            gen["thinkingConfig"] = thinking
    return gen


def _render_thinking(r: ReasoningConfig, same_family: bool) -> dict[str, Any]:
    config: dict[str, Any] = {}
    if r.mode is ReasoningMode.DISABLED:
        config["thinkingBudget"] = 0
    elif r.mode is ReasoningMode.ADAPTIVE:
        config["thinkingBudget"] = -1
    elif r.budget_tokens is not None:
        config["thinkingBudget"] = r.budget_tokens
    elif r.effort is not None:
        if same_family and r.effort in _LEVELS:
            config["thinkingLevel"] = r.effort.upper()
        else:
            # Gemini 2.5 takes only budgets, and Gemini 3 still honours them.
            budget = budget_for_effort(r.effort)
            if budget is not None:
                config["thinkingBudget"] = budget
    if r.summary is not None and r.mode is not ReasoningMode.DISABLED:
        config["includeThoughts"] = r.summary != "none"
    return config


# --------------------------------------------------------------------------- response


def parse_response(obj: Mapping[str, Any]) -> Response:
    resp = _fast.parse_response(obj)
    return resp if resp is not None else _parse_response(obj)


def _parse_response(obj: Mapping[str, Any]) -> Response:
    """The general path: every field and spelling, and the typed errors naming the bad one."""
    obj = need_obj(obj, "")
    content: tuple[ContentPart, ...] = ()
    finish: FinishReason | None = None
    candidates = get_list(obj, "candidates", "")
    if candidates:
        candidate = need_obj(candidates[0], "candidates[0]")
        body = get_obj(candidate, "content", "candidates[0]")
        if body is not None:
            content = _parse_parts(body, "candidates[0].content", CallIds())
        finish = FINISH.parse(
            get_str(candidate, field(candidate, "finishReason", "finish_reason"), "candidates[0]")
        )
        if finish is FinishReason.STOP and any(type(p) is ToolCallPart for p in content):
            finish = FinishReason.TOOL_CALLS  # Gemini has no finish reason of its own for calls
    elif get_obj(obj, field(obj, "promptFeedback", "prompt_feedback"), ""):
        finish = FinishReason.CONTENT_FILTER  # the prompt itself was blocked
    usage = get_obj(obj, field(obj, "usageMetadata", "usage_metadata"), "")
    return Response(
        content=content,
        id=get_str(obj, field(obj, "responseId", "response_id"), ""),
        model=get_str(obj, field(obj, "modelVersion", "model_version"), ""),
        finish_reason=finish,
        usage=None if usage is None else parse_usage(usage, "usageMetadata"),
    )


def render_response(resp: Response) -> dict[str, Any]:
    parts: list[dict[str, Any]] = []
    for p in resp.content:
        if type(p) is TextPart:
            if p.text or p.signature is not None:  # an empty unsigned text says nothing
                text_part: dict[str, Any] = {"text": p.text}
                if p.signature is not None:
                    text_part["thoughtSignature"] = p.signature
                parts.append(text_part)
            continue
        part = render_part(p, request=False, names=_NO_NAMES)
        if part is not None:
            parts.append(part)
    candidate = {
        "content": {"role": "model", "parts": parts},
        "finishReason": FINISH.render(resp.finish_reason),
        "index": 0,
    }
    body: dict[str, Any] = {"candidates": [candidate]}
    if resp.usage is not None:
        body["usageMetadata"] = render_usage(resp.usage)
    if resp.model is not None:
        body["modelVersion"] = resp.model
    if resp.id is not None:
        body["responseId"] = resp.id
    return body
