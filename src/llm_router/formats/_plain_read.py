"""Plain readers: a format's plain request body as a `Plain`, or None (see `_plain`).

Each reader takes a body exactly as its format's `parse_request` reads it, field for field,
and returns None for anything else — any other field, shape or value type, and so every
malformed body, which the general path then reads and names the fault of.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from llm_router.errors import TranslationError
from llm_router.formats._chat_request import _EFFORT_CONFIGS as EFFORT_CONFIGS
from llm_router.formats._chat_request import _NOT_PLAIN_ASSISTANT as NOT_PLAIN_ASSISTANT
from llm_router.formats._chat_request import ChatDialect, plain_assistant
from llm_router.formats._chat_request import _effort_config as effort_config
from llm_router.formats._chat_request import _parse_response_format as parse_response_format
from llm_router.formats._chat_request import _parse_tool as parse_chat_tool
from llm_router.formats._chat_request import _parse_tool_choice as parse_chat_tool_choice
from llm_router.formats._plain import Plain, PlainReader, Tooling, Turns
from llm_router.universal import (
    ProviderTool,
    ReasoningConfig,
    ReasoningMode,
    ResponseFormat,
    ResponseFormatType,
    Role,
    Tool,
    ToolChoice,
)

__all__ = [
    "anthropic_reader",
    "chat_reader",
    "converse_reader",
    "google_reader",
    "responses_reader",
]

_JSON_OBJECT = ResponseFormatType.JSON_OBJECT
_JSON_SCHEMA = ResponseFormatType.JSON_SCHEMA
_SYSTEM = Role.SYSTEM
_DEVELOPER = Role.DEVELOPER
_USER = Role.USER
_ASSISTANT = Role.ASSISTANT


# What a helper of the general or fast readers may raise on a shape it rejects: the body then
# goes to the general path, which names the fault.
_DOUBT = (TranslationError, KeyError, IndexError, TypeError, ValueError, AttributeError)


def _tooling(
    tools: tuple[Tool | ProviderTool, ...], choice: ToolChoice | None, parallel: bool | None
) -> Tooling:
    return None if not tools and choice is None and parallel is None else (tools, choice, parallel)


class _Decline(Exception):
    """A value a reader does not vouch for: the body goes to the general path."""


# Values read as numbers (integers become floats, as the general readers convert them).
def _number(value: Any) -> float | None:
    t = type(value)
    if t is float:
        return value  # type: ignore[no-any-return]
    if t is int:
        return float(value)
    raise _Decline


def _integer(value: Any) -> int | None:
    if type(value) is int:
        return value  # type: ignore[no-any-return]
    raise _Decline


def _strings(value: Any) -> tuple[str, ...]:
    if type(value) is list:
        for s in value:
            if type(s) is not str:
                raise _Decline
        return tuple(value)
    raise _Decline


# --------------------------------------------------------------------------- Chat Completions

_CHAT_ROLES = {"user": _USER, "system": _SYSTEM, "developer": _DEVELOPER}


def chat_reader(d: ChatDialect) -> PlainReader:
    max_tokens_field = d.max_tokens_field
    seed_field = d.seed_field
    fields = frozenset(
        {
            "model", "messages", "max_tokens", max_tokens_field, "temperature", "top_p",
            "response_format", "reasoning_effort", "stop", seed_field, "presence_penalty",
            "frequency_penalty", "tools", "tool_choice", "parallel_tool_calls",
        }
    )  # fmt: skip

    def read(obj: dict[str, Any]) -> Plain | None:
        model = messages = max_tokens = legacy_max_tokens = seed = None
        base = 0  # keys read that hold no `Settings` field: when all keys are, none is set
        temperature = top_p = presence = frequency = response_format = reasoning = None
        tool_choice = parallel = None
        tools: tuple[Tool | ProviderTool, ...] = ()
        stop: tuple[str, ...] = ()
        # One pass over the keys present (usually two or three), the common ones first; a
        # null reads as absent, but only for a field plain bodies have.
        try:
            for key, value in obj.items():
                if key == "messages":
                    messages = value
                    base += 1
                elif key == "model":
                    model = value
                    base += 1
                elif key == "temperature":
                    if type(value) is float:
                        temperature = value
                    elif value is not None:
                        temperature = _number(value)
                elif key == max_tokens_field:
                    if type(value) is int:
                        max_tokens = value
                    elif value is not None:
                        return None
                    base += 1
                elif value is None:
                    if key not in fields:
                        return None
                elif key == "max_tokens":  # the legacy spelling: read only in the other's absence
                    if type(value) is not int:
                        return None
                    legacy_max_tokens = value
                    base += 1
                elif key == "top_p":
                    top_p = _number(value)
                elif key == "response_format":
                    if type(value) is not dict:
                        return None
                    try:
                        response_format = parse_response_format(value)
                    except _DOUBT:
                        return None
                elif key == "tools":
                    if type(value) is not list:
                        if value:  # a falsy value reads as no tools, as in the general reader
                            return None
                        continue
                    try:
                        tools = tuple([parse_chat_tool(t, i, d) for i, t in enumerate(value)])
                    except _DOUBT:
                        return None
                elif key == "tool_choice":
                    try:
                        tool_choice = parse_chat_tool_choice(value)
                    except _DOUBT:
                        return None
                elif key == "parallel_tool_calls":
                    if type(value) is not bool:
                        return None
                    parallel = value
                elif key == "reasoning_effort":
                    if type(value) is not str:
                        return None
                    reasoning = EFFORT_CONFIGS.get(value) or effort_config(value)
                elif key == "stop":
                    if type(value) is str:
                        stop = (value,)
                    elif type(value) is list:
                        for v in value:
                            if type(v) is not str:
                                return None
                        stop = tuple(value)
                    else:
                        return None
                elif key == seed_field:
                    if type(value) is not int:
                        return None
                    seed = value
                elif key == "presence_penalty":
                    presence = _number(value)
                elif key == "frequency_penalty":
                    frequency = _number(value)
                else:
                    return None  # a field plain bodies lack
        except _Decline:  # a number of another type
            return None
        if (model is not None and type(model) is not str) or type(messages) is not list:
            return None
        turns: Turns = []
        append = turns.append
        for m in messages:
            # As `plain_message` reads a turn: other keys are not looked at.
            if type(m) is not dict:
                return None
            if len(m) == 2:  # the common turn: a role and a content, nothing else
                try:
                    content = m["content"]
                    role = m["role"]
                except KeyError:
                    return None
            else:
                content = m.get("content")
                role = m.get("role")
                if m.get("name") is not None:
                    return None
            if type(content) is not str or type(role) is not str:
                return None
            kind = _CHAT_ROLES.get(role)
            if kind is None:
                if role != "assistant":
                    return None
                if NOT_PLAIN_ASSISTANT.isdisjoint(m):  # `plain_assistant`, its common case
                    if m.get("refusal") is not None:
                        return None
                elif not plain_assistant(m):
                    return None
                kind = _ASSISTANT
            append((kind, content))
        if max_tokens is None:
            max_tokens = legacy_max_tokens
        if len(obj) == base:  # the common case: no other field
            return turns, model, max_tokens, None, None
        rest = (
            temperature, top_p, None, stop, seed, presence, frequency, response_format, reasoning
        )  # fmt: skip
        if tool_choice is None and parallel is None and not tools:
            return turns, model, max_tokens, rest, None
        return turns, model, max_tokens, rest, (tools, tool_choice, parallel)

    return read


# --------------------------------------------------------------------------- Anthropic Messages

_ANTHROPIC_FIELDS = frozenset(
    {
        "model", "messages", "system", "max_tokens", "temperature", "top_p", "top_k",
        "stop_sequences", "anthropic_version", "output_config", "thinking", "tools", "tool_choice",
    }
)  # fmt: skip
_ANTHROPIC_SAMPLING = frozenset({"temperature", "top_p", "top_k", "stop_sequences"})
_ANTHROPIC_ROLES = {"user": _USER, "assistant": _ASSISTANT, "system": _SYSTEM}
_ANTHROPIC_OUTPUT = frozenset({"format", "effort"})
_ANTHROPIC_THINKING = frozenset({"type", "budget_tokens"})
_MODES = {mode.value: mode for mode in ReasoningMode}


def _turns(
    system: Any,
    messages: Any,
    roles: dict[str, Role],
    text_of: Callable[[Any], str | None],
    strings: bool,
) -> Turns | None:
    """The turns of a body whose system prompt and each message's content are read by
    `text_of` (Anthropic, Converse), or None when one is not plain text; `strings`: a
    content may be a string itself (read without a call)."""
    turns: Turns = []
    if system is not None:
        text = text_of(system)
        if text is None:
            return None
        turns.append((_SYSTEM, text))
    if type(messages) is not list:
        return None
    for m in messages:
        if type(m) is not dict:
            return None
        role = m.get("role")
        kind = roles.get(role) if type(role) is str else None
        content = m.get("content")
        text = content if strings and type(content) is str else text_of(content)
        if kind is None or text is None:
            return None
        turns.append((kind, text))
    return turns


def _anthropic_text(content: Any) -> str | None:
    """The text of a content that is a string or one plain text block, else None."""
    if type(content) is str:
        return content
    if type(content) is list and len(content) == 1:
        b = content[0]
        if type(b) is dict and len(b) == 2 and b.get("type") == "text":
            text = b.get("text")
            if type(text) is str:
                return text
    return None


def anthropic_reader() -> PlainReader:
    from llm_router.formats._anthropic_fast import _tool as read_tool
    from llm_router.formats._anthropic_fast import _tool_choice as read_tool_choice

    def read(obj: dict[str, Any]) -> Plain | None:
        if not _ANTHROPIC_FIELDS.issuperset(obj):
            return None
        get = obj.get
        turns = _turns(get("system"), get("messages"), _ANTHROPIC_ROLES, _anthropic_text, True)
        if turns is None:
            return None
        model = get("model")
        max_tokens = get("max_tokens")
        if (model is not None and type(model) is not str) or (
            max_tokens is not None and type(max_tokens) is not int
        ):
            return None
        temperature = top_p = top_k = None
        stop: tuple[str, ...] = ()
        sampled = not _ANTHROPIC_SAMPLING.isdisjoint(obj)
        if sampled:
            try:
                if (value := get("temperature")) is not None:
                    temperature = _number(value)
                if (value := get("top_p")) is not None:
                    top_p = _number(value)
                if (value := get("top_k")) is not None:
                    top_k = _integer(value)
                if (value := get("stop_sequences")) is not None:
                    stop = _strings(value)
            except _Decline:
                return None
        response_format = reasoning = None
        output_config = get("output_config")
        thinking = get("thinking")
        if output_config is not None or thinking is not None:
            effort = None
            if output_config is not None:
                if type(output_config) is not dict or not _ANTHROPIC_OUTPUT.issuperset(
                    output_config
                ):
                    return None
                effort = output_config.get("effort")
                if effort is not None and type(effort) is not str:
                    return None
                fmt = output_config.get("format")
                if fmt is not None:
                    if type(fmt) is not dict:
                        return None
                    fmt_type = fmt.get("type")
                    if fmt_type == "json_schema":
                        schema = fmt.get("schema")
                        if schema is not None and type(schema) is not dict:
                            return None
                        response_format = ResponseFormat(_JSON_SCHEMA, schema=schema)
                    elif fmt_type is not None and type(fmt_type) is not str:
                        return None
            if thinking is not None:
                if type(thinking) is not dict or not _ANTHROPIC_THINKING.issuperset(thinking):
                    return None
                kind = thinking.get("type")
                mode = _MODES.get(kind) if type(kind) is str else None
                budget = thinking.get("budget_tokens")
                if mode is None or (budget is not None and type(budget) is not int):
                    return None
                reasoning = ReasoningConfig(mode, effort, budget)
            elif effort is not None:
                reasoning = ReasoningConfig(effort=effort)
        tooling = None
        if "tools" in obj or "tool_choice" in obj:
            # As the Messages fast path reads them.
            tools: tuple[Tool | ProviderTool, ...] = ()
            raw_tools = obj.get("tools")
            if raw_tools is not None:
                if type(raw_tools) is not list:
                    return None
                parsed: list[Tool | ProviderTool] = []
                for t in raw_tools:
                    try:
                        tool = read_tool(t)
                    except _DOUBT:
                        return None
                    if tool is None:
                        return None
                    parsed.append(tool)
                tools = tuple(parsed)
            tool_choice = parallel = None
            raw_choice = obj.get("tool_choice")
            if raw_choice is not None:
                choice = read_tool_choice(raw_choice)
                if choice is None:
                    return None
                tool_choice, parallel = choice
            tooling = _tooling(tools, tool_choice, parallel)
        if not sampled and output_config is None and thinking is None:
            return turns, model, max_tokens, None, tooling
        rest = (temperature, top_p, top_k, stop, None, None, None, response_format, reasoning)
        return turns, model, max_tokens, rest, tooling

    return read


# --------------------------------------------------------------------------- Gemini

_GOOGLE_FIELDS = frozenset(
    {"model", "contents", "systemInstruction", "generationConfig", "tools", "toolConfig"}
)
_GOOGLE_GENERATION = frozenset(
    {
        "maxOutputTokens", "temperature", "topP", "topK", "seed", "presencePenalty",
        "frequencyPenalty", "stopSequences", "responseMimeType", "responseJsonSchema",
        "thinkingConfig",
    }
)  # fmt: skip
_GOOGLE_USER_ROLES = frozenset({"user", "function", ""})


def _google_text(content: Any) -> str | None:
    """The text of a content (or system instruction) of one plain text part, else None."""
    if type(content) is not dict:
        return None
    parts = content.get("parts")
    if type(parts) is list and len(parts) == 1:
        p = parts[0]
        if type(p) is dict and len(p) == 1:
            text = p.get("text")
            if type(text) is str:
                return text
    return None


def google_reader() -> PlainReader:
    from llm_router.formats._google_fast import _thinking as read_thinking
    from llm_router.formats._google_fast import _tools as read_tools

    def read(obj: dict[str, Any]) -> Plain | None:
        if not _GOOGLE_FIELDS.issuperset(obj):
            return None
        get = obj.get
        turns: Turns = []
        system = get("systemInstruction")
        if system is not None:
            text = system if type(system) is str else _google_text(system)
            if text is None:
                return None
            turns.append((_SYSTEM, text))
        contents = get("contents")
        if type(contents) is not list:
            return None
        for content in contents:
            # `_google_text`, inline: one plain text part.
            if type(content) is not dict:
                return None
            parts = content.get("parts")
            if type(parts) is not list or len(parts) != 1:
                return None
            part = parts[0]
            if type(part) is not dict or len(part) != 1:
                return None
            text = part.get("text")
            if type(text) is not str:
                return None
            role = content.get("role")
            if role == "model":
                turns.append((_ASSISTANT, text))
            elif role is None or (type(role) is str and role in _GOOGLE_USER_ROLES):
                turns.append((_USER, text))
            else:
                return None
        model = get("model")
        if model is not None:
            if type(model) is not str:
                return None
            model = model.removeprefix("models/") if model else None
        tooling = None
        if "tools" in obj or "toolConfig" in obj:
            try:
                parsed = read_tools(obj)
            except _DOUBT:
                return None
            if parsed is None:
                return None
            tooling = _tooling(parsed[0], parsed[1], None)
        max_tokens = top_k = seed = temperature = top_p = presence = frequency = None
        response_format = reasoning = None
        stop: tuple[str, ...] = ()
        gen = get("generationConfig")
        if gen is not None:
            if type(gen) is not dict or not _GOOGLE_GENERATION.issuperset(gen):
                return None
            g = gen.get
            try:
                if (value := g("maxOutputTokens")) is not None:
                    max_tokens = _integer(value)
                if (value := g("temperature")) is not None:
                    temperature = _number(value)
                if (value := g("topP")) is not None:
                    top_p = _number(value)
                if (value := g("topK")) is not None:
                    top_k = _integer(value)
                if (value := g("seed")) is not None:
                    seed = _integer(value)
                if (value := g("presencePenalty")) is not None:
                    presence = _number(value)
                if (value := g("frequencyPenalty")) is not None:
                    frequency = _number(value)
                if (value := g("stopSequences")) is not None:
                    stop = _strings(value)
            except _Decline:
                return None
            mime = g("responseMimeType")
            schema = g("responseJsonSchema")
            if (mime is not None and type(mime) is not str) or (
                schema is not None and (type(schema) is not dict or not schema)
            ):
                return None
            if schema is not None:
                response_format = ResponseFormat(_JSON_SCHEMA, schema=schema)
            elif mime == "application/json":
                response_format = ResponseFormat(_JSON_OBJECT)
            thinking = g("thinkingConfig")
            if thinking is not None:
                try:
                    reasoning = read_thinking(thinking)
                except _DOUBT:
                    return None
                if reasoning is None:
                    return None
        if gen is None or len(gen) == ("maxOutputTokens" in gen):  # no other setting
            return turns, model, max_tokens, None, tooling
        rest = (
            temperature, top_p, top_k, stop, seed, presence, frequency, response_format, reasoning
        )  # fmt: skip
        return turns, model, max_tokens, rest, tooling

    return read


# --------------------------------------------------------------------------- Bedrock Converse

_CONVERSE_FIELDS = frozenset({"modelId", "messages", "system", "inferenceConfig", "toolConfig"})
_CONVERSE_INFERENCE = frozenset({"maxTokens", "temperature", "topP", "stopSequences"})
_CONVERSE_ROLES = {"user": _USER, "assistant": _ASSISTANT}


def _converse_text(blocks: Any) -> str | None:
    """The text of a list of one plain text block, else None."""
    if type(blocks) is list and len(blocks) == 1:
        b = blocks[0]
        if type(b) is dict and len(b) == 1:
            text = b.get("text")
            if type(text) is str:
                return text
    return None


def converse_reader() -> PlainReader:
    from llm_router.formats._converse_fast import _tool_config as read_tool_config

    def read(obj: dict[str, Any]) -> Plain | None:
        if not _CONVERSE_FIELDS.issuperset(obj):
            return None
        get = obj.get
        turns = _turns(get("system"), get("messages"), _CONVERSE_ROLES, _converse_text, False)
        if turns is None:
            return None
        model = get("modelId")
        if model is not None and type(model) is not str:
            return None
        max_tokens = temperature = top_p = None
        stop: tuple[str, ...] = ()
        inference = get("inferenceConfig")
        if inference is not None:
            if type(inference) is not dict or not _CONVERSE_INFERENCE.issuperset(inference):
                return None
            i = inference.get
            try:
                if (value := i("maxTokens")) is not None:
                    max_tokens = _integer(value)
                if (value := i("temperature")) is not None:
                    temperature = _number(value)
                if (value := i("topP")) is not None:
                    top_p = _number(value)
                if (value := i("stopSequences")) is not None:
                    stop = _strings(value)
            except _Decline:
                return None
        tooling = None
        config = get("toolConfig")
        if config is not None:
            try:
                parsed = read_tool_config(config)  # as the Converse fast path reads it
            except _DOUBT:
                return None
            if parsed is None:
                return None
            tooling = _tooling(parsed[0], parsed[1], None)
        if inference is None or len(inference) == ("maxTokens" in inference):  # no other setting
            return turns, model, max_tokens, None, tooling
        rest = (temperature, top_p, None, stop, None, None, None, None, None)
        return turns, model, max_tokens, rest, tooling

    return read


# --------------------------------------------------------------------------- OpenAI Responses

_RESPONSES_FIELDS = frozenset(
    {
        "model", "input", "instructions", "max_output_tokens", "temperature", "top_p", "text",
        "reasoning", "tools", "tool_choice", "parallel_tool_calls",
    }
)  # fmt: skip
_RESPONSES_REASONING = frozenset({"effort", "summary", "generate_summary"})
_RESPONSES_ROLES = {"user": _USER, "system": _SYSTEM, "developer": _DEVELOPER}
_RESPONSES_ITEM = frozenset({"type", "role", "content"})


def responses_reader() -> PlainReader:
    from llm_router.formats.responses import _parse_format as parse_format
    from llm_router.formats.responses import _parse_reasoning as parse_reasoning
    from llm_router.formats.responses import _parse_tool as parse_tool
    from llm_router.formats.responses import _parse_tool_choice as parse_tool_choice

    def read(obj: dict[str, Any]) -> Plain | None:
        if not _RESPONSES_FIELDS.issuperset(obj):
            return None
        get = obj.get
        turns: Turns = []
        instructions = get("instructions")
        if instructions is not None:
            if type(instructions) is not str:
                return None
            turns.append((_SYSTEM, instructions))
        value = get("input")
        if type(value) is str:
            turns.append((_USER, value))
        elif type(value) is list:
            last_assistant = False  # neighbouring assistant items make one turn of several parts
            for item in value:
                if type(item) is not dict or not _RESPONSES_ITEM.issuperset(item):
                    return None
                kind = item.get("type")
                role = item.get("role")
                content = item.get("content")
                if (kind is not None and kind != "message") or type(content) is not str:
                    return None
                if role == "assistant":
                    if last_assistant:
                        return None
                    turns.append((_ASSISTANT, content))
                    last_assistant = True
                    continue
                input_role = _RESPONSES_ROLES.get(role) if type(role) is str else None
                if input_role is None:
                    return None
                turns.append((input_role, content))
                last_assistant = False
        else:
            return None
        model = get("model")
        max_tokens = get("max_output_tokens")
        if (model is not None and type(model) is not str) or (
            max_tokens is not None and type(max_tokens) is not int
        ):
            return None
        try:
            temperature = None if (v := get("temperature")) is None else _number(v)
            top_p = None if (v := get("top_p")) is None else _number(v)
        except _Decline:
            return None
        response_format = reasoning = None
        text = get("text")
        if text is not None:
            if type(text) is not dict or not {"format"}.issuperset(text):
                return None
            fmt = text.get("format")
            if fmt is not None:
                if type(fmt) is not dict:
                    return None
                try:
                    response_format = parse_format(fmt)
                except _DOUBT:
                    return None
        tooling = None
        if "tools" in obj or "tool_choice" in obj or "parallel_tool_calls" in obj:
            choice = get("tool_choice")
            try:
                tool_choice = parse_tool_choice(choice)
            except _DOUBT:
                return None
            if tool_choice is None and choice is not None:
                return None  # a hosted-tool choice: kept as an extra by the general path
            parallel = get("parallel_tool_calls")
            if parallel is not None and type(parallel) is not bool:
                return None
            raw_tools = get("tools")
            tools: tuple[Tool | ProviderTool, ...] = ()
            if raw_tools is not None:
                if type(raw_tools) is not list:
                    return None
                try:
                    tools = tuple([parse_tool(t, i) for i, t in enumerate(raw_tools)])
                except _DOUBT:
                    return None
            tooling = _tooling(tools, tool_choice, parallel)
        r = get("reasoning")
        if r is not None:
            if type(r) is not dict or not _RESPONSES_REASONING.issuperset(r):
                return None
            try:
                reasoning = parse_reasoning(r)
            except _DOUBT:
                return None
        if temperature is None and top_p is None and response_format is None and reasoning is None:
            return turns, model, max_tokens, None, tooling
        rest = (temperature, top_p, None, (), None, None, None, response_format, reasoning)
        return turns, model, max_tokens, rest, tooling

    return read
