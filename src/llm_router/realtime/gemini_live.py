"""Gemini Live (`BidiGenerateContent`) messages <-> universal realtime events. Sans-IO.

Client messages read: `setup`, `clientContent` (text turns, `turnComplete`), `realtimeInput`
(text; audio and video are audio), `toolResponse`. Server messages read: `setupComplete`,
`serverContent` (`modelTurn.parts` text, `interrupted`, `turnComplete`), `toolCall`,
`usageMetadata`, `goAway`; inline audio parts are audio. Both camelCase and snake_case field
names are accepted (the google-genai SDK sends `client_content`), camelCase is written.
Gemini ends a tool-calling turn with the `toolCall` itself: that is where `ResponseDone` comes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from ..universal import Tool, Usage
from ._fields import get, obj, objects, opt_int, opt_str, string
from .events import (
    AddText,
    AddToolResult,
    AudioInput,
    AudioOutput,
    CancelResponse,
    ClientEvent,
    ConfigureSession,
    GoAway,
    Interrupted,
    Opaque,
    RealtimeProtocolError,
    RequestResponse,
    ResponseDone,
    ResponseStarted,
    ServerError,
    ServerEvent,
    SessionConfigured,
    SessionStarted,
    TextDelta,
    ToolCall,
    UsageReport,
    parse_frame,
)

__all__ = [
    "ClientEncoder",
    "ServerDecoder",
    "ServerEncoder",
    "decode_client",
    "encode_setup",
    "parse_usage",
    "render_usage",
    "setup_model",
]

PROTOCOL = "gemini-live"
_CLIENT_FIELDS = (
    ("setup", "setup"),
    ("clientContent", "client_content"),
    ("realtimeInput", "realtime_input"),
    ("toolResponse", "tool_response"),
)


def _one_field(message: Mapping[str, Any], fields: tuple[tuple[str, str], ...]) -> str | None:
    for camel, snake in fields:
        if camel in message or snake in message:
            return camel
    return None


# --------------------------------------------------------------------------- client side


def decode_client(frame: str | bytes | Mapping[str, Any]) -> list[ClientEvent]:
    message = parse_frame(frame, PROTOCOL)
    kind = _one_field(message, _CLIENT_FIELDS)
    if kind == "setup":
        return [_parse_setup(obj(get(message, "setup"), "setup"))]
    if kind == "clientContent":
        return _parse_client_content(obj(get(message, "clientContent", "client_content"), kind))
    if kind == "realtimeInput":
        return _parse_realtime_input(obj(get(message, "realtimeInput", "realtime_input"), kind))
    if kind == "toolResponse":
        return _parse_tool_response(obj(get(message, "toolResponse", "tool_response"), kind))
    raise RealtimeProtocolError(
        "gemini-live client message must have one of setup, clientContent, realtimeInput, "
        f"toolResponse; got {sorted(message)[:5]}"
    )


def setup_model(message: Mapping[str, Any]) -> str | None:
    """The `setup.model` of a client's first message (e.g. "models/gemini-live-2.5-flash")."""
    return opt_str(obj(get(message, "setup"), "setup").get("model"), "setup.model")


def _parse_setup(setup: Mapping[str, Any]) -> ConfigureSession:
    instruction = get(setup, "systemInstruction", "system_instruction")
    instructions = None
    if isinstance(instruction, str):
        instructions = instruction
    elif instruction is not None:
        parts = objects(obj(instruction, "setup.systemInstruction").get("parts"), "parts")
        instructions = "".join(opt_str(p.get("text"), "parts[].text") or "" for p in parts)
    tools = []
    for index, tool in enumerate(objects(setup.get("tools"), "setup.tools")):
        declarations = get(tool, "functionDeclarations", "function_declarations")
        for number, declaration in enumerate(
            objects(declarations, f"setup.tools[{index}].functionDeclarations")
        ):
            path = f"setup.tools[{index}].functionDeclarations[{number}]"
            parameters = get(declaration, "parameters", "parametersJsonSchema")
            tools.append(
                Tool(
                    name=string(declaration.get("name"), f"{path}.name"),
                    description=opt_str(declaration.get("description"), f"{path}.description"),
                    parameters=obj(parameters, f"{path}.parameters") if parameters else None,
                )
            )
    config = obj(get(setup, "generationConfig", "generation_config"), "setup.generationConfig")
    temperature = config.get("temperature")
    if temperature is not None and not isinstance(temperature, int | float):
        raise RealtimeProtocolError("setup.generationConfig.temperature must be a number")
    return ConfigureSession(
        instructions=instructions,
        tools=tuple(tools),
        temperature=None if temperature is None else float(temperature),
    )


def _turn_text(turn: Mapping[str, Any], path: str) -> str:
    texts = []
    for index, part in enumerate(objects(turn.get("parts"), f"{path}.parts")):
        if "text" in part:
            texts.append(string(part["text"], f"{path}.parts[{index}].text"))
        elif get(part, "inlineData", "inline_data") is not None:
            raise _AudioSignal("clientContent.turns.parts.inlineData")
        # other parts (fileData, executable code...) are dropped (drop table)
    return "".join(texts)


class _AudioSignal(Exception):  # internal control flow, never escapes
    def __init__(self, kind: str) -> None:
        self.kind = kind


def _parse_client_content(content: Mapping[str, Any]) -> list[ClientEvent]:
    events: list[ClientEvent] = []
    try:
        for index, turn in enumerate(objects(content.get("turns"), "clientContent.turns")):
            role = turn.get("role", "user")
            text = _turn_text(turn, f"clientContent.turns[{index}]")
            events.append(AddText(text, role="assistant" if role == "model" else "user"))
    except _AudioSignal as signal:
        return [AudioInput(signal.kind)]
    if get(content, "turnComplete", "turn_complete"):
        events.append(RequestResponse())
    return events


def _parse_realtime_input(realtime: Mapping[str, Any]) -> list[ClientEvent]:
    text = realtime.get("text")
    if text is not None:
        return [AddText(string(text, "realtimeInput.text")), RequestResponse()]
    for camel, snake in (
        ("audio", "audio"),
        ("mediaChunks", "media_chunks"),
        ("audioStreamEnd", "audio_stream_end"),
        ("video", "video"),
    ):
        if camel in realtime or snake in realtime:
            return [AudioInput(f"realtimeInput.{camel}")]
    return [Opaque("realtimeInput", {"realtimeInput": realtime})]


def _parse_tool_response(response: Mapping[str, Any]) -> list[ClientEvent]:
    events: list[ClientEvent] = []
    field = get(response, "functionResponses", "function_responses")
    for index, item in enumerate(objects(field, "toolResponse.functionResponses")):
        path = f"toolResponse.functionResponses[{index}]"
        body = obj(item.get("response"), f"{path}.response")
        only_output = set(body) == {"output"} and isinstance(body["output"], str)
        events.append(
            AddToolResult(
                call_id=string(item.get("id"), f"{path}.id"),
                output=body["output"] if only_output else orjson.dumps(body).decode(),
                name=opt_str(item.get("name"), f"{path}.name"),
            )
        )
    events.append(RequestResponse())  # Gemini continues on its own after a tool response
    return events


def encode_setup(config: ConfigureSession, model: str) -> dict[str, Any]:
    """The first client message of a Gemini Live session for `model` ("models/..." or bare)."""
    setup: dict[str, Any] = {
        "model": model if model.startswith(("models/", "projects/")) else f"models/{model}",
        "generationConfig": {"responseModalities": ["TEXT"]},
    }
    if config.temperature is not None:
        setup["generationConfig"]["temperature"] = config.temperature
    if config.instructions is not None:
        setup["systemInstruction"] = {"parts": [{"text": config.instructions}]}
    if config.tools:
        declarations = []
        for tool in config.tools:
            declaration: dict[str, Any] = {"name": tool.name}
            if tool.description is not None:
                declaration["description"] = tool.description
            if tool.parameters:
                declaration["parameters"] = tool.parameters
            declarations.append(declaration)
        setup["tools"] = [{"functionDeclarations": declarations}]
    return {"setup": setup}


class ClientEncoder:
    """Universal client events -> Gemini client messages.

    Text turns are held until the caller asks for an answer, then sent as one `clientContent`
    with `turnComplete: true` (or sent without it just before a tool response, keeping order). An answer asked for right after tool results sends nothing:
    Gemini continues by itself once it has the `toolResponse`.
    """

    def __init__(self, model: str) -> None:
        self.model = model
        """The setup's model: a bare id, "models/..." or a Vertex resource name."""
        self._turns: list[dict[str, Any]] = []
        self._after_tool_result = False
        self.setup_sent = False

    def feed(self, event: ClientEvent) -> list[dict[str, Any]]:
        if isinstance(event, ConfigureSession):
            if self.setup_sent and event == ConfigureSession():
                return []  # nothing Gemini could change (e.g. only output_modalities: text)
            if self.setup_sent:
                raise RealtimeProtocolError(
                    "a Gemini Live session is configured once, by its setup message: pass the "
                    "session configuration when opening the session instead of updating it",
                    path="session.update",
                )
            self.setup_sent = True
            return [encode_setup(event, self.model)]
        if isinstance(event, AddText):
            role = "model" if event.role == "assistant" else "user"
            self._turns.append({"role": role, "parts": [{"text": event.text}]})
            self._after_tool_result = False
            return []
        if isinstance(event, AddToolResult):
            self._after_tool_result = True
            held, self._turns = self._turns, []
            flush = [{"clientContent": {"turns": held, "turnComplete": False}}] if held else []
            return [*flush, {"toolResponse": {"functionResponses": [_render_tool_result(event)]}}]
        if isinstance(event, RequestResponse):
            if self._after_tool_result and not self._turns:
                self._after_tool_result = False
                return []
            turns, self._turns = self._turns, []
            return [{"clientContent": {"turns": turns, "turnComplete": True}}]
        if isinstance(event, CancelResponse):
            return []  # Gemini has no cancel message (drop table)
        if isinstance(event, Opaque):
            return [dict(event.frame)] if _one_field(event.frame, _CLIENT_FIELDS) else []
        raise RealtimeProtocolError(f"{event.kind} cannot be rendered", path=event.kind)


def _render_tool_result(result: AddToolResult) -> dict[str, Any]:
    try:
        parsed = orjson.loads(result.output)
    except orjson.JSONDecodeError:
        parsed = None
    response = parsed if isinstance(parsed, dict) else {"output": result.output}
    rendered: dict[str, Any] = {"id": result.call_id, "response": response}
    if result.name is not None:
        rendered["name"] = result.name
    return rendered


# --------------------------------------------------------------------------- server side

_SERVER_FIELDS = (
    ("setupComplete", "setup_complete"),
    ("serverContent", "server_content"),
    ("toolCall", "tool_call"),
    ("toolCallCancellation", "tool_call_cancellation"),
    ("usageMetadata", "usage_metadata"),
    ("goAway", "go_away"),
    ("sessionResumptionUpdate", "session_resumption_update"),
)


def parse_usage(usage: Mapping[str, Any]) -> Usage:
    response = opt_int(get(usage, "responseTokenCount", "response_token_count"), "usage")
    thoughts = opt_int(get(usage, "thoughtsTokenCount", "thoughts_token_count"), "usage")
    output = None if response is None and thoughts is None else (response or 0) + (thoughts or 0)
    return Usage(
        input_tokens=opt_int(get(usage, "promptTokenCount", "prompt_token_count"), "usage"),
        output_tokens=output,
        cache_read_tokens=opt_int(
            get(usage, "cachedContentTokenCount", "cached_content_token_count"), "usage"
        ),
        reasoning_tokens=thoughts,
        total_tokens=opt_int(get(usage, "totalTokenCount", "total_token_count"), "usage"),
    )


def render_usage(usage: Usage) -> dict[str, Any]:
    rendered: dict[str, Any] = {
        "promptTokenCount": usage.input_tokens or 0,
        "responseTokenCount": (usage.output_tokens or 0) - (usage.reasoning_tokens or 0),
        "totalTokenCount": usage.total,
    }
    if usage.cache_read_tokens:
        rendered["cachedContentTokenCount"] = usage.cache_read_tokens
    if usage.reasoning_tokens:
        rendered["thoughtsTokenCount"] = usage.reasoning_tokens
    return rendered


class ServerDecoder:
    """Gemini server messages -> universal events.

    One message may hold several fields (`serverContent` with `usageMetadata`); usage is read
    first so that the `ResponseDone` of a `turnComplete` carries it. A `turnComplete` after a
    tool-calling turn and before the client's tool response adds nothing: that turn already
    ended with its `toolCall`.
    """

    def __init__(self) -> None:
        self._usage: Usage | None = None
        self._in_turn = False
        self._after_tool_call = False

    def feed(self, frame: str | bytes | Mapping[str, Any]) -> list[ServerEvent]:
        message = parse_frame(frame, PROTOCOL)
        events: list[ServerEvent] = []
        usage = get(message, "usageMetadata", "usage_metadata")
        if usage is not None:
            self._usage = parse_usage(obj(usage, "usageMetadata"))
        if get(message, "setupComplete", "setup_complete") is not None:
            setup = obj(get(message, "setupComplete", "setup_complete"), "setupComplete")
            events.append(SessionStarted(opt_str(get(setup, "sessionId", "session_id"), "id")))
        content = get(message, "serverContent", "server_content")
        if content is not None:
            events.extend(self._content(obj(content, "serverContent")))
        call = get(message, "toolCall", "tool_call")
        if call is not None:
            events.extend(self._tool_call(obj(call, "toolCall")))
        away = get(message, "goAway", "go_away")
        if away is not None:
            away = obj(away, "goAway")
            events.append(GoAway(opt_str(get(away, "timeLeft", "time_left"), "goAway.timeLeft")))
        cancellation = get(message, "toolCallCancellation", "tool_call_cancellation")
        if cancellation is not None:
            events.append(Opaque("toolCallCancellation", message))
        if get(message, "sessionResumptionUpdate", "session_resumption_update") is not None:
            events.append(Opaque("sessionResumptionUpdate", message))
        if usage is not None and not any(isinstance(e, ResponseDone) for e in events):
            events.append(UsageReport(self._usage or Usage()))
            self._usage = None
        if not events and _one_field(message, _SERVER_FIELDS) is None:
            events.append(Opaque("unknown", message))
        return events

    def tool_response_sent(self) -> None:
        """The client answered the tool calls: a `turnComplete` now ends a new (maybe empty) turn."""
        self._after_tool_call = False

    def _content(self, content: Mapping[str, Any]) -> list[ServerEvent]:
        events: list[ServerEvent] = []
        turn = get(content, "modelTurn", "model_turn")
        if turn is not None:
            for index, part in enumerate(objects(obj(turn, "modelTurn").get("parts"), "parts")):
                if get(part, "inlineData", "inline_data") is not None:
                    events.append(AudioOutput("serverContent.modelTurn.parts.inlineData"))
                elif "text" in part and not part.get("thought"):
                    text = string(part["text"], f"serverContent.modelTurn.parts[{index}].text")
                    if not self._in_turn:
                        self._in_turn, self._after_tool_call = True, False
                        events.append(ResponseStarted())
                    events.append(TextDelta(text))
        if content.get("interrupted"):
            self._in_turn = False
            events.append(Interrupted())
        if get(content, "turnComplete", "turn_complete"):
            if not self._after_tool_call:
                if not self._in_turn:
                    events.append(ResponseStarted())
                events.append(ResponseDone(usage=self._usage))
                self._usage = None
            self._in_turn = self._after_tool_call = False
        return events

    def _tool_call(self, call: Mapping[str, Any]) -> list[ServerEvent]:
        events: list[ServerEvent] = [] if self._in_turn else [ResponseStarted()]
        field = get(call, "functionCalls", "function_calls")
        for index, item in enumerate(objects(field, "toolCall.functionCalls")):
            path = f"toolCall.functionCalls[{index}]"
            args = obj(item.get("args"), f"{path}.args")
            events.append(
                ToolCall(
                    call_id=opt_str(item.get("id"), f"{path}.id") or f"call_{index}",
                    name=string(item.get("name"), f"{path}.name"),
                    arguments=orjson.dumps(args).decode(),
                )
            )
        events.append(ResponseDone(usage=self._usage))
        self._usage = None
        self._in_turn, self._after_tool_call = False, True
        return events


class ServerEncoder:
    """Universal server events -> Gemini server messages (errors become a close, see `close`).

    Tool calls are held and sent together, with the usage, when the response ends: Gemini
    sends one `toolCall` per turn and no `turnComplete` until the tool response came back.
    """

    def __init__(self) -> None:
        self._calls: list[dict[str, Any]] = []
        self.close: tuple[int, str] | None = None
        """Set when an event can only be told by closing the socket: (code, reason)."""

    def feed(self, event: ServerEvent) -> list[dict[str, Any]]:
        if isinstance(event, SessionStarted):
            return [{"setupComplete": {}}]
        if isinstance(event, SessionConfigured | ResponseStarted):
            return []
        if isinstance(event, TextDelta):
            return [{"serverContent": {"modelTurn": {"parts": [{"text": event.text}]}}}]
        if isinstance(event, ToolCall):
            try:
                args = orjson.loads(event.arguments) if event.arguments else {}
            except orjson.JSONDecodeError:
                raise RealtimeProtocolError(
                    f"tool call {event.name!r} arguments are not JSON: {event.arguments[:80]!r}",
                    path="arguments",
                ) from None
            if not isinstance(args, dict):
                args = {"arguments": args}
            self._calls.append({"id": event.call_id, "name": event.name, "args": args})
            return []
        if isinstance(event, UsageReport):
            return [{"usageMetadata": render_usage(event.usage)}]
        if isinstance(event, ResponseDone):
            message: dict[str, Any]
            if self._calls:
                message = {"toolCall": {"functionCalls": self._calls}}
                self._calls = []
            else:
                message = {"serverContent": {"turnComplete": True}}
            if event.usage is not None:
                message["usageMetadata"] = render_usage(event.usage)
            return [message]
        if isinstance(event, Interrupted):
            return [{"serverContent": {"interrupted": True}}]
        if isinstance(event, GoAway):
            return [{"goAway": {"timeLeft": event.time_left or "0s"}}]
        if isinstance(event, ServerError):
            # Gemini Live reports errors by closing the socket; reasons are capped at 123 bytes.
            reason = event.message.encode()[:120].decode("utf-8", "ignore")
            self.close = (1011, reason)
            return []
        if isinstance(event, AudioOutput):
            raise RealtimeProtocolError(f"{event.kind} cannot be rendered", path=event.kind)
        return [dict(event.frame)] if _one_field(event.frame, _SERVER_FIELDS) else []
