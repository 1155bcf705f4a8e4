"""Fast paths for the generateContent bodies most callers send: they skip the fixed cost of
the general readers (one call per field the body may carry) without validating any less.

Each function returns the same value as its general counterpart in `google`, or None when
the body needs the general path: snake_case spellings, rare fields, anything it cannot vouch
for. It never raises: a body with a wrong type anywhere goes to the general path, which
raises the typed error naming the field, so errors are the general path's alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from llm_router.errors import TranslationError
from llm_router.formats import append_user_turn
from llm_router.formats._google_wire import FINISH, ORIGIN, CallIds, json_schema, parse_part
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
    Usage,
)

__all__ = ["parse_request", "parse_response"]

# What a wrong shape could raise as while the general part parser is used: the general path
# then reports it properly.
_DOUBT = (TranslationError, KeyError, IndexError, TypeError, ValueError, AttributeError)
_TOP_LEVEL = frozenset(
    {"model", "contents", "systemInstruction", "tools", "toolConfig", "generationConfig"}
)
_SNAKE_TOP_LEVEL = frozenset({"system_instruction", "tool_config", "generation_config"})
# generationConfig: camelCase scalars with a universal slot -> (index in the values list, kind).
_SCALARS: dict[str, tuple[int, str]] = {
    "maxOutputTokens": (0, "integer"),
    "temperature": (1, "number"),
    "topP": (2, "number"),
    "topK": (3, "integer"),
    "seed": (4, "integer"),
    "presencePenalty": (5, "number"),
    "frequencyPenalty": (6, "number"),
    "candidateCount": (7, "integer"),
    "responseLogprobs": (8, "boolean"),
    "logprobs": (9, "integer"),
}
# generationConfig fields read here besides the scalars; any snake_case or other spelling of a
# field with a universal slot sends the body the general way.
_GENERATION_READ = frozenset(
    {"stopSequences", "responseMimeType", "responseJsonSchema", "responseSchema", "thinkingConfig"}
)
_GENERATION_GENERAL = frozenset(
    {
        "max_output_tokens", "top_p", "top_k", "stop_sequences", "presence_penalty",
        "frequency_penalty", "candidate_count", "response_logprobs", "response_mime_type",
        "response_schema", "response_json_schema", "_responseJsonSchema", "thinking_config",
    }
)  # fmt: skip
_THINKING_SNAKE = frozenset({"thinking_budget", "thinking_level", "include_thoughts"})
_MODES = {
    "AUTO": ToolChoiceMode.AUTO,
    "VALIDATED": ToolChoiceMode.AUTO,
    "ANY": ToolChoiceMode.REQUIRED,
    "NONE": ToolChoiceMode.NONE,
}
_RESPONSE_SNAKE = frozenset({"usage_metadata", "response_id", "model_version", "prompt_feedback"})
_USAGE_SNAKE = frozenset(
    {
        "prompt_token_count", "tool_use_prompt_token_count", "candidates_token_count",
        "thoughts_token_count", "cached_content_token_count", "total_token_count",
    }
)  # fmt: skip
# Enum members as module constants: an attribute lookup on an enum class is slow.
_FINISH_CONTENT_FILTER = FinishReason.CONTENT_FILTER
_FINISH_STOP = FinishReason.STOP
_FINISH_TOOL_CALLS = FinishReason.TOOL_CALLS
_REASONING_ADAPTIVE = ReasoningMode.ADAPTIVE
_REASONING_DISABLED = ReasoningMode.DISABLED
_REASONING_ENABLED = ReasoningMode.ENABLED
_FORMAT_JSON_OBJECT = ResponseFormatType.JSON_OBJECT
_FORMAT_JSON_SCHEMA = ResponseFormatType.JSON_SCHEMA
_ASSISTANT = Role.ASSISTANT
_SYSTEM = Role.SYSTEM
_USER = Role.USER
_CHOICE_NAMED = ToolChoiceMode.NAMED
_CHOICE_REQUIRED = ToolChoiceMode.REQUIRED


def parse_request(obj: Mapping[str, Any]) -> Request | None:
    if type(obj) is not dict or not _SNAKE_TOP_LEVEL.isdisjoint(obj):
        return None
    try:
        return _request(obj)
    except _DOUBT:
        return None


def _request(obj: dict[str, Any]) -> Request | None:
    get = obj.get
    ids: list[CallIds] = []  # made on first use: most bodies have no tool calls
    messages: list[Message] = []
    system = get("systemInstruction")
    if system is not None:
        if type(system) is str:
            messages.append(Message(_SYSTEM, (TextPart(system),)))
        elif type(system) is dict:
            system_parts = _parts(system, "systemInstruction", ids)
            if system_parts is None:
                return None
            messages.append(Message(_SYSTEM, system_parts))
        else:
            return None
    contents = get("contents")
    if type(contents) is not list:
        if contents is not None:
            return None
        contents = ()
    for i, content in enumerate(contents):
        if type(content) is not dict:
            return None
        role = content.get("role")
        raw = content.get("parts")
        parts: tuple[ContentPart, ...] | None = None
        if type(raw) is list and len(raw) == 1:  # the common case, one plain text part
            p = raw[0]
            if type(p) is dict and len(p) == 1:
                text = p.get("text")
                if type(text) is str:
                    parts = (TextPart(text),)
        lone_text = parts is not None
        if parts is None:
            parts = _parts(content, i, ids)
            if parts is None:
                return None
        if role == "model":
            messages.append(Message(_ASSISTANT, parts))
        elif role is None or role == "user" or role == "function" or role == "":
            if not lone_text and ToolResultPart in map(type, parts):
                append_user_turn(parts, messages)
            else:
                messages.append(Message(_USER, parts))
        else:
            return None

    extras = None if _TOP_LEVEL.issuperset(obj) else _extras(obj)
    # maxOutputTokens, temperature, topP, topK, seed, presencePenalty, frequencyPenalty,
    # candidateCount, responseLogprobs, logprobs
    values: list[Any] = [None] * 10
    stop: tuple[str, ...] = ()
    response_format = None
    reasoning = None
    gen = get("generationConfig")
    if gen is not None and type(gen) is not dict:
        return None
    if gen:
        if not _GENERATION_GENERAL.isdisjoint(gen):
            return None
        leftover = None
        for key, value in gen.items():
            spec = _SCALARS.get(key)
            if spec is None:
                if key not in _GENERATION_READ:
                    if leftover is None:
                        leftover = {}
                    leftover[key] = value
                continue
            if value is None:
                continue
            kind = spec[1]
            if kind == "integer":
                if type(value) is not int:
                    return None
            elif kind == "number":
                if type(value) is int:
                    value = float(value)
                elif type(value) is not float:
                    return None
            elif type(value) is not bool:
                return None
            values[spec[0]] = value
        if leftover is not None:
            if extras is None:
                extras = {}
            extras["generationConfig"] = leftover
        raw_stop = gen.get("stopSequences")
        if raw_stop is not None:
            if type(raw_stop) is not list:
                return None
            for s in raw_stop:
                if type(s) is not str:
                    return None
            stop = tuple(raw_stop)
        mime = gen.get("responseMimeType")
        schema = gen.get("responseJsonSchema")
        if (mime is not None and type(mime) is not str) or (
            schema is not None and (type(schema) is not dict or not schema)
        ):
            return None
        if schema is None:
            openapi = gen.get("responseSchema")
            if openapi is not None:
                if type(openapi) is not dict:
                    return None
                schema = json_schema(openapi)
        if schema is not None:
            response_format = ResponseFormat(_FORMAT_JSON_SCHEMA, schema=schema)
        elif mime == "application/json":
            response_format = ResponseFormat(_FORMAT_JSON_OBJECT)
        thinking = gen.get("thinkingConfig")
        if thinking is not None:
            reasoning = _thinking(thinking)
            if reasoning is None:
                return None

    tools: tuple[Tool | ProviderTool, ...] = ()
    tool_choice = None
    if "tools" in obj or "toolConfig" in obj:
        parsed = _tools(obj)
        if parsed is None:
            return None
        tools, tool_choice = parsed
    model = get("model")
    if model is not None:
        if type(model) is not str:
            return None
        model = model.removeprefix("models/") if model else None
    # Positional: keyword binding is a third of the cost of building a Request.
    return Request(
        tuple(messages), model, tools, tool_choice, None, response_format, reasoning,
        values[0], values[1], values[2], values[3], stop, values[4], values[5], values[6],
        values[7], values[8], values[9],
        None, None, None, None, None, False, None,  # user ... stream_include_usage
        extras, ORIGIN,
    )  # fmt: skip


def _extras(obj: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k not in _TOP_LEVEL}


def _parts(
    content: dict[str, Any], where: str | int, ids: list[CallIds]
) -> tuple[ContentPart, ...] | None:
    """A content's parts; `where` is ``systemInstruction`` or a contents index, for paths;
    `ids` holds the body's `CallIds` once a part needs one."""
    raw = content.get("parts")
    if type(raw) is not list:
        return () if raw is None else None
    if len(raw) == 1:  # the common case, one plain text part
        p = raw[0]
        if type(p) is dict and len(p) == 1:
            text = p.get("text")
            if type(text) is str:
                return (TextPart(text),)
    out: list[ContentPart] = []
    for j, p in enumerate(raw):
        if type(p) is dict and len(p) == 1:
            text = p.get("text")
            if type(text) is str:
                out.append(TextPart(text))
                continue
        prefix = where if type(where) is str else f"contents[{where}]"
        if not ids:
            ids.append(CallIds())
        out.append(parse_part(p, f"{prefix}.parts[{j}]", ids[0]))
    return tuple(out)


def _thinking(config: Any) -> ReasoningConfig | None:
    if type(config) is not dict or not _THINKING_SNAKE.isdisjoint(config):
        return None
    budget = config.get("thinkingBudget")
    level = config.get("thinkingLevel")
    include = config.get("includeThoughts")
    if (
        (budget is not None and type(budget) is not int)
        or (level is not None and type(level) is not str)
        or (include is not None and type(include) is not bool)
    ):
        return None
    if budget == 0:
        mode: ReasoningMode | None = _REASONING_DISABLED
    elif budget == -1:
        mode, budget = _REASONING_ADAPTIVE, None
    else:
        mode = None if budget is None else _REASONING_ENABLED
    return ReasoningConfig(
        mode, None if level is None else level.lower(), budget, "auto" if include else None
    )


def _tools(
    obj: dict[str, Any],
) -> tuple[tuple[Tool | ProviderTool, ...], ToolChoice | None] | None:
    tools: list[Tool | ProviderTool] = []
    raw = obj.get("tools")
    if raw is not None:
        if type(raw) is not list:
            return None
        for entry in raw:
            if type(entry) is not dict:
                return None
            for key, value in entry.items():
                if key != "functionDeclarations":
                    if key == "function_declarations":
                        return None
                    tools.append(ProviderTool(ORIGIN, {key: value}))  # googleSearch...
                    continue
                if value is None:
                    continue
                if type(value) is not list:
                    return None
                for decl in value:
                    tool = _declaration(decl)
                    if tool is None:
                        return None
                    tools.append(tool)
    config = obj.get("toolConfig")
    if config is None:
        return tuple(tools), None
    if type(config) is not dict or "function_calling_config" in config:
        return None
    calling = config.get("functionCallingConfig")
    if calling is None:
        return tuple(tools), None
    if type(calling) is not dict or "allowed_function_names" in calling:
        return None
    mode = calling.get("mode")
    if mode is None or mode == "":
        mode = "AUTO"
    elif type(mode) is not str:
        return None
    names = calling.get("allowedFunctionNames")
    if names is None:
        allowed: tuple[str, ...] = ()
    elif type(names) is list:
        allowed = tuple([s for s in names if type(s) is str])
    else:
        return None
    choice_mode = _MODES.get(mode.upper())
    if choice_mode is None:
        return None
    if choice_mode is _CHOICE_REQUIRED and len(allowed) == 1:
        return tuple(tools), ToolChoice(_CHOICE_NAMED, name=allowed[0])
    return tuple(tools), ToolChoice(choice_mode, allowed=allowed)


def _declaration(decl: Any) -> Tool | None:
    if type(decl) is not dict or "parameters_json_schema" in decl:
        return None
    name = decl.get("name")
    description = decl.get("description")
    schema = decl.get("parametersJsonSchema")
    if (
        type(name) is not str
        or (description is not None and type(description) is not str)
        or (schema is not None and type(schema) is not dict)
    ):
        return None
    if schema is None:
        openapi = decl.get("parameters")
        if openapi is not None:
            if type(openapi) is not dict:
                return None
            schema = json_schema(openapi)
    return Tool(name, description, schema)


def parse_response(obj: Mapping[str, Any]) -> Response | None:
    if type(obj) is not dict or not _RESPONSE_SNAKE.isdisjoint(obj):
        return None
    try:
        return _response(obj)
    except _DOUBT:
        return None


def _response(obj: dict[str, Any]) -> Response | None:
    get = obj.get
    content: tuple[ContentPart, ...] = ()
    finish: FinishReason | None = None
    candidates = get("candidates")
    if candidates is not None and type(candidates) is not list:
        return None
    if candidates:
        candidate = candidates[0]
        if type(candidate) is not dict or "finish_reason" in candidate:
            return None
        body = candidate.get("content")
        if body is not None:
            if type(body) is not dict:
                return None
            parts = _parts(body, "candidates[0].content", [])
            if parts is None:
                return None
            content = parts
        reason = candidate.get("finishReason")
        if reason is not None and type(reason) is not str:
            return None
        finish = FINISH.parse(reason)
        if (
            finish is _FINISH_STOP
            and (len(content) != 1 or type(content[0]) is not TextPart)  # a lone text: no calls
            and ToolCallPart in map(type, content)
        ):
            finish = _FINISH_TOOL_CALLS  # Gemini has no finish reason of its own for calls
    else:
        feedback = get("promptFeedback")
        if feedback is not None:
            if type(feedback) is not dict:
                return None
            if feedback:
                finish = _FINISH_CONTENT_FILTER  # the prompt itself was blocked
    usage = None
    raw_usage = get("usageMetadata")
    if raw_usage is not None:
        usage = _usage(raw_usage)
        if usage is None:
            return None
    rid = get("responseId")
    model = get("modelVersion")
    if (rid is not None and type(rid) is not str) or (model is not None and type(model) is not str):
        return None
    # content, id, model, created, finish_reason, stop_sequence, usage
    return Response(content, rid, model, None, finish, None, usage)


def _usage(u: Any) -> Usage | None:
    if type(u) is not dict or not _USAGE_SNAKE.isdisjoint(u):
        return None
    get = u.get
    prompt = get("promptTokenCount")
    tool_prompt = get("toolUsePromptTokenCount")
    candidates = get("candidatesTokenCount")
    thoughts = get("thoughtsTokenCount")
    cached = get("cachedContentTokenCount")
    total = get("totalTokenCount")
    if (
        (prompt is not None and type(prompt) is not int)
        or (tool_prompt is not None and type(tool_prompt) is not int)
        or (candidates is not None and type(candidates) is not int)
        or (thoughts is not None and type(thoughts) is not int)
        or (cached is not None and type(cached) is not int)
        or (total is not None and type(total) is not int)
    ):
        return None
    output = (
        None if candidates is None and thoughts is None else (candidates or 0) + (thoughts or 0)
    )
    return Usage(
        None if prompt is None else prompt + (tool_prompt or 0),
        output,
        cached,
        None,
        thoughts,
        total,
    )
