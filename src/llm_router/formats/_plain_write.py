"""Plain writers: a `Plain` as the body a format's `render_request` writes (see `_plain`).

Each writer writes what its format's `render_request` writes for the `Request` the general
path reads from the same body: the same fields, in the same order, with the same drops.
"""

from __future__ import annotations

from typing import Any

from llm_router.formats._anthropic_wire import DEFAULT_MAX_TOKENS, thinking_config
from llm_router.formats._chat_request import ChatDialect
from llm_router.formats._chat_request import _render_effort as render_effort
from llm_router.formats._chat_request import _render_response_format as render_response_format
from llm_router.formats._chat_request import _render_tool as render_chat_tool
from llm_router.formats._chat_request import _render_tool_choice as render_chat_tool_choice
from llm_router.formats._plain import Plain, PlainWriter, Tooling, Turns
from llm_router.universal import ProviderTool, ResponseFormatType, Role, Tool, ToolChoiceMode

__all__ = [
    "anthropic_writer",
    "chat_writer",
    "converse_writer",
    "google_writer",
    "responses_writer",
]

_JSON_SCHEMA = ResponseFormatType.JSON_SCHEMA
_TEXT = ResponseFormatType.TEXT
_SYSTEM = Role.SYSTEM
_DEVELOPER = Role.DEVELOPER
_USER = Role.USER
_ASSISTANT = Role.ASSISTANT
_CHOICE_NONE = ToolChoiceMode.NONE


# --------------------------------------------------------------------------- Chat Completions


def chat_writer(d: ChatDialect) -> PlainWriter:
    names = d.role_names
    max_tokens_field = d.max_tokens_field
    seed_field = d.seed_field
    effort_field = d.reasoning_effort
    origin = d.origin

    def write(plain: Plain, default_max_tokens: int | None) -> dict[str, Any]:
        # Chat needs no max-tokens field: `default_max_tokens` is not imposed (as in render).
        turns, model, max_tokens, rest, tooling = plain
        out: dict[str, Any] = {}
        if model is not None:
            out["model"] = model
        out["messages"] = [{"role": names[role], "content": text} for role, text in turns]
        if tooling is not None:
            tools, choice, parallel = tooling
            rendered: list[Any] = []
            for t in tools:
                if isinstance(t, Tool):
                    rendered.append(render_chat_tool(t))
                elif t.origin == origin:
                    rendered.append(t.spec)
            if rendered:
                out["tools"] = rendered
                if choice is not None:
                    out["tool_choice"] = render_chat_tool_choice(choice, d)
                if parallel is not None:
                    out["parallel_tool_calls"] = parallel
            elif choice is not None and choice.mode is _CHOICE_NONE:
                out["tool_choice"] = "none"
        if rest is None:  # the common case: no other setting
            if max_tokens is not None:
                out[max_tokens_field] = max_tokens
            return out
        temperature, top_p, _, stop, seed, presence, frequency, fmt, r = rest
        if fmt is not None:
            out["response_format"] = render_response_format(fmt)
        if r is not None and effort_field:
            effort = render_effort(r)
            if effort is not None:
                out["reasoning_effort"] = effort
        if max_tokens is not None:
            out[max_tokens_field] = max_tokens
        if temperature is not None:
            out["temperature"] = temperature
        if top_p is not None:
            out["top_p"] = top_p
        if stop:
            out["stop"] = list(stop)
        if seed is not None:
            out[seed_field] = seed
        if presence is not None:
            out["presence_penalty"] = presence
        if frequency is not None:
            out["frequency_penalty"] = frequency
        return out

    return write


# --------------------------------------------------------------------------- Anthropic Messages

_ANTHROPIC_WIRE_ROLES = {_SYSTEM: None, _DEVELOPER: None, _USER: "user", _ASSISTANT: "assistant"}


def anthropic_writer() -> PlainWriter:
    from llm_router.formats.anthropic import _render_tool as render_tool
    from llm_router.formats.anthropic import _render_tool_choice as render_tool_choice

    def add_tools(body: dict[str, Any], tooling: Tooling) -> None:
        assert tooling is not None
        tools, choice, parallel = tooling
        rendered = [
            render_tool(t)
            for t in tools
            if type(t) is Tool or (type(t) is ProviderTool and t.origin == "anthropic")
        ]
        if rendered:
            body["tools"] = rendered
            tool_choice = render_tool_choice(choice, parallel)
            if tool_choice is not None:  # the API refuses a tool_choice without tools
                body["tool_choice"] = tool_choice

    def write(plain: Plain, default_max_tokens: int | None) -> dict[str, Any]:
        turns, model, max_tokens, rest, tooling = plain
        body: dict[str, Any] = {}
        if model is not None:
            body["model"] = model
        system: list[str] = []
        messages: list[dict[str, Any]] = []
        last_role = None
        for role, text in turns:
            wire_role = _ANTHROPIC_WIRE_ROLES[role]
            if wire_role is None:
                if text:
                    system.append(text)
                continue
            if not text:
                continue  # the API rejects empty turns
            if wire_role != last_role:
                messages.append({"role": wire_role, "content": text})
                last_role = wire_role
                continue
            turn = messages[-1]["content"]
            if type(turn) is str:
                turn = messages[-1]["content"] = [{"type": "text", "text": turn}]
            turn.append({"type": "text", "text": text})
        if system:
            body["system"] = (
                system[0] if len(system) == 1 else [{"type": "text", "text": s} for s in system]
            )
        body["messages"] = messages
        if max_tokens is None:
            max_tokens = default_max_tokens
        if rest is None:  # the common case: no other setting
            body["max_tokens"] = DEFAULT_MAX_TOKENS if max_tokens is None else max_tokens
            if tooling is not None:
                add_tools(body, tooling)
            return body
        temperature, top_p, top_k, stop, _, _, _, fmt, r = rest
        if r is not None:
            thinking, max_tokens, effort = thinking_config(r, max_tokens)
            if thinking is not None:
                body["thinking"] = thinking
            if effort is not None:
                body["output_config"] = {"effort": effort}
        body["max_tokens"] = DEFAULT_MAX_TOKENS if max_tokens is None else max_tokens
        if tooling is not None:
            add_tools(body, tooling)
        if temperature is not None:
            body["temperature"] = temperature
        if top_p is not None:
            body["top_p"] = top_p
        if top_k is not None:
            body["top_k"] = top_k
        if stop:
            body["stop_sequences"] = list(stop)
        if fmt is not None and fmt.type is _JSON_SCHEMA and fmt.schema is not None:
            format_ = {"type": "json_schema", "schema": fmt.schema}
            body.setdefault("output_config", {})["format"] = format_
        return body

    return write


def _merged_turns(
    turns: Turns, roles: dict[Role, str | None], key: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Gemini's and Converse's turns: (system text blocks, messages of `{"text"}` blocks under
    `key`). Empty texts are dropped (both APIs refuse them, and a turn of none goes); turns
    must alternate, so neighbours of one role merge into one message."""
    system: list[dict[str, Any]] = []
    messages: list[dict[str, Any]] = []
    last_role = None
    for role, text in turns:
        if not text:
            continue
        wire_role = roles[role]
        if wire_role is None:
            system.append({"text": text})
        elif wire_role == last_role:
            messages[-1][key].append({"text": text})
        else:
            messages.append({"role": wire_role, key: [{"text": text}]})
            last_role = wire_role
    return system, messages


# --------------------------------------------------------------------------- Gemini

_GOOGLE_WIRE_ROLES = {_SYSTEM: None, _DEVELOPER: None, _USER: "user", _ASSISTANT: "model"}


def google_writer() -> PlainWriter:
    from llm_router.formats.google import _render_thinking as render_thinking
    from llm_router.formats.google import _render_tool_choice as render_tool_choice
    from llm_router.formats.google import _render_tools as render_tools

    def write(plain: Plain, default_max_tokens: int | None) -> dict[str, Any]:
        # Gemini needs no max-tokens field: `default_max_tokens` is not imposed (as in render).
        turns, _, max_tokens, rest, tooling = plain
        system, contents = _merged_turns(turns, _GOOGLE_WIRE_ROLES, "parts")
        body: dict[str, Any] = {"contents": contents}
        if system:
            body["systemInstruction"] = {"parts": system}
        if tooling is not None and tooling[0]:
            tools = render_tools(tooling[0])
            if tools:
                body["tools"] = tools
                config = render_tool_choice(tooling[1])
                if config is not None:
                    body["toolConfig"] = {"functionCallingConfig": config}
        if rest is None:  # the common case: no other setting
            if max_tokens is not None:
                body["generationConfig"] = {"maxOutputTokens": max_tokens}
            return body
        temperature, top_p, top_k, stop, seed, presence, frequency, fmt, r = rest
        gen: dict[str, Any] = {}
        if max_tokens is not None:
            gen["maxOutputTokens"] = max_tokens
        if temperature is not None:
            gen["temperature"] = temperature
        if top_p is not None:
            gen["topP"] = top_p
        if top_k is not None:
            gen["topK"] = top_k
        if seed is not None:
            gen["seed"] = seed
        if presence is not None:
            gen["presencePenalty"] = presence
        if frequency is not None:
            gen["frequencyPenalty"] = frequency
        if stop:
            gen["stopSequences"] = list(stop)
        if fmt is not None and fmt.type is not _TEXT:
            gen["responseMimeType"] = "application/json"
            if fmt.schema is not None:
                gen["responseJsonSchema"] = fmt.schema
        if r is not None:
            # Not Gemini's own request (that passes through): effort words become budgets.
            thinking = render_thinking(r, False)
            if thinking:
                gen["thinkingConfig"] = thinking
        if gen:
            body["generationConfig"] = gen
        return body

    return write


# --------------------------------------------------------------------------- Bedrock Converse

_CONVERSE_WIRE_ROLES = {_SYSTEM: None, _DEVELOPER: None, _USER: "user", _ASSISTANT: "assistant"}


def converse_writer() -> PlainWriter:
    from llm_router.formats.converse import _render_settings as render_settings
    from llm_router.formats.converse import _render_tool_config as render_tool_config

    def write(plain: Plain, default_max_tokens: int | None) -> dict[str, Any]:
        # Converse needs no max-tokens field: `default_max_tokens` is not imposed (as in render).
        turns, _, max_tokens, rest, tooling = plain
        system, messages = _merged_turns(turns, _CONVERSE_WIRE_ROLES, "content")
        body: dict[str, Any] = {"messages": messages}
        if system:
            body["system"] = system
        if rest is None:  # the common case: no other setting
            if max_tokens is not None:
                body["inferenceConfig"] = {"maxTokens": max_tokens}
            if tooling is not None and tooling[0]:
                tool_config = render_tool_config(tooling[0], tooling[1])
                if tool_config is not None:
                    body["toolConfig"] = tool_config
            return body
        temperature, top_p, top_k, stop, _, _, _, fmt, r = rest
        tools, choice = (tooling[0], tooling[1]) if tooling is not None else ((), None)
        additional = render_settings(
            body, max_tokens, temperature, top_p, stop, top_k, r, tools, choice, fmt
        )
        if additional:
            body["additionalModelRequestFields"] = additional
        return body

    return write


# --------------------------------------------------------------------------- OpenAI Responses


def responses_writer() -> PlainWriter:
    from llm_router.formats.responses import _render_format as render_format
    from llm_router.formats.responses import _render_reasoning as render_reasoning
    from llm_router.formats.responses import _render_tool_choice as render_tool_choice

    def write(plain: Plain, default_max_tokens: int | None) -> dict[str, Any]:
        # Responses needs no max-tokens field: `default_max_tokens` is not imposed (as in render).
        turns, model, max_tokens, rest, tooling = plain
        out: dict[str, Any] = {}
        if model is not None:
            out["model"] = model
        first = 0
        while first < len(turns) and turns[first][0] is _SYSTEM:
            first += 1
        if first:
            out["instructions"] = "\n\n".join([text for _, text in turns[:first]])
        items: list[dict[str, Any]] = []
        for role, text in turns[first:] if first else turns:
            if role is _ASSISTANT:
                content = [{"type": "output_text", "text": text, "annotations": []}]
                item: dict[str, Any] = {"type": "message", "role": "assistant"}
                item["status"] = "completed"
                item["content"] = content
                items.append(item)
            else:
                items.append({"role": role.value, "content": text})
        out["input"] = items
        if tooling is not None:
            tools, choice, parallel = tooling
            rendered: list[Any] = []
            for t in tools:
                if isinstance(t, Tool):
                    tool: dict[str, Any] = {"type": "function", "name": t.name}
                    if t.description is not None:
                        tool["description"] = t.description
                    tool["parameters"] = (
                        t.parameters if t.parameters is not None else {"type": "object"}
                    )
                    tool["strict"] = bool(t.strict)  # Responses defaults to strict; others do not
                    rendered.append(tool)
                elif t.origin == "responses":
                    rendered.append(t.spec)
            if rendered:
                out["tools"] = rendered
                if parallel is not None:
                    out["parallel_tool_calls"] = parallel
            if choice is not None and (rendered or choice.mode is _CHOICE_NONE):
                out["tool_choice"] = render_tool_choice(choice)
        if rest is None:  # the common case: no other setting
            if max_tokens is not None:
                out["max_output_tokens"] = max_tokens
            return out
        temperature, top_p, _, _, _, _, _, fmt, r = rest
        if fmt is not None:
            out["text"] = {"format": render_format(fmt)}
        if r is not None:
            reasoning = render_reasoning(r)
            if reasoning:
                out["reasoning"] = reasoning
        if max_tokens is not None:
            out["max_output_tokens"] = max_tokens
        if temperature is not None:
            out["temperature"] = temperature
        if top_p is not None:
            out["top_p"] = top_p
        return out

    return write
