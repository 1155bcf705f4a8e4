"""OpenAI Realtime (GA) frames <-> universal realtime events. Sans-IO: JSON objects in and out.

Client events read: `session.update`, `conversation.item.create` (text messages and
`function_call_output` items), `response.create`, `response.cancel`; `input_audio_buffer.*`
and audio content are audio. Server events read: `session.created`, `session.updated`,
`response.created`, `response.output_text.delta`, `response.function_call_arguments.done`,
`response.done` (with usage), `error`; `response.output_audio.delta` is audio. Everything else
is `Opaque`. What other protocols cannot carry is listed in docs/realtime.md.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

import orjson

from ..universal import Tool, Usage
from ._fields import obj, objects, opt_int, opt_str, string
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
    "ServerEncoder",
    "decode_client",
    "decode_server",
    "dumps",
    "encode_client",
    "event_type",
    "parse_usage",
    "render_usage",
]

PROTOCOL = "openai-realtime"
_AUDIO_CLIENT_EVENTS = frozenset(
    {"input_audio_buffer.append", "input_audio_buffer.commit", "input_audio_buffer.clear"}
)
_AUDIO_SERVER_EVENTS = frozenset({"response.output_audio.delta", "response.output_audio.done"})


def event_type(frame: Mapping[str, Any]) -> str:
    return string(frame.get("type"), "type")


# --------------------------------------------------------------------------- client side


def decode_client(frame: str | bytes | Mapping[str, Any]) -> list[ClientEvent]:
    message = parse_frame(frame, PROTOCOL)
    kind = event_type(message)
    if kind == "session.update":
        return [_parse_session(obj(message.get("session"), "session"))]
    if kind == "conversation.item.create":
        return _parse_item(obj(message.get("item"), "item"))
    if kind == "response.create":
        return [RequestResponse()]
    if kind == "response.cancel":
        return [CancelResponse()]
    if kind in _AUDIO_CLIENT_EVENTS:
        return [AudioInput(kind)]
    return [Opaque(kind, message)]


def _parse_session(session: Mapping[str, Any]) -> ConfigureSession:
    tools = []
    for index, tool in enumerate(objects(session.get("tools"), "session.tools")):
        path = f"session.tools[{index}]"
        if tool.get("type", "function") != "function":
            continue  # MCP tools have no Gemini counterpart (drop table)
        parameters = tool.get("parameters")
        tools.append(
            Tool(
                name=string(tool.get("name"), f"{path}.name"),
                description=opt_str(tool.get("description"), f"{path}.description"),
                parameters=obj(parameters, f"{path}.parameters") if parameters else None,
            )
        )
    temperature = session.get("temperature")
    if temperature is not None and not isinstance(temperature, int | float):
        raise RealtimeProtocolError("session.temperature must be a number", path="temperature")
    return ConfigureSession(
        instructions=opt_str(session.get("instructions"), "session.instructions"),
        tools=tuple(tools),
        temperature=None if temperature is None else float(temperature),
    )


def _parse_item(item: Mapping[str, Any]) -> list[ClientEvent]:
    kind = item.get("type")
    if kind == "function_call_output":
        return [
            AddToolResult(
                call_id=string(item.get("call_id"), "item.call_id"),
                output=string(item.get("output"), "item.output"),
            )
        ]
    if kind != "message":
        return [Opaque(f"conversation.item.create:{kind}", {"item": item})]
    role = item.get("role")
    if role not in ("user", "assistant"):
        return [Opaque(f"conversation.item.create:{role}", {"item": item})]
    texts = []
    for index, part in enumerate(objects(item.get("content"), "item.content")):
        part_kind = part.get("type")
        if part_kind in ("input_text", "output_text", "text"):
            texts.append(string(part.get("text"), f"item.content[{index}].text"))
        elif part_kind in ("input_audio", "output_audio", "audio"):
            return [AudioInput(f"conversation.item.create:{part_kind}")]
        else:
            return [Opaque(f"conversation.item.create:{part_kind}", {"item": item})]
    return [AddText("".join(texts), role=str(role))]


def encode_client(event: ClientEvent) -> list[dict[str, Any]]:
    """The frames that carry `event` to an OpenAI Realtime server (Opaque passes as is)."""
    if isinstance(event, ConfigureSession):
        session: dict[str, Any] = {"type": "realtime", "output_modalities": ["text"]}
        if event.instructions is not None:
            session["instructions"] = event.instructions
        if event.tools:
            session["tools"] = [_render_tool(tool) for tool in event.tools]
        return [{"type": "session.update", "session": session}]
    if isinstance(event, AddText):
        part = "input_text" if event.role == "user" else "output_text"
        return [
            {
                "type": "conversation.item.create",
                "item": {
                    "type": "message",
                    "role": event.role,
                    "content": [{"type": part, "text": event.text}],
                },
            }
        ]
    if isinstance(event, AddToolResult):
        return [
            {
                "type": "conversation.item.create",
                "item": {
                    "type": "function_call_output",
                    "call_id": event.call_id,
                    "output": event.output,
                },
            }
        ]
    if isinstance(event, RequestResponse):
        return [{"type": "response.create"}]
    if isinstance(event, CancelResponse):
        return [{"type": "response.cancel"}]
    if isinstance(event, Opaque):
        return [dict(event.frame)]
    raise RealtimeProtocolError(f"{event.kind} has no text rendering", path=event.kind)


def _render_tool(tool: Tool) -> dict[str, Any]:
    rendered: dict[str, Any] = {"type": "function", "name": tool.name}
    if tool.description is not None:
        rendered["description"] = tool.description
    rendered["parameters"] = tool.parameters or {"type": "object", "properties": {}}
    return rendered


# --------------------------------------------------------------------------- server side


def decode_server(frame: str | bytes | Mapping[str, Any]) -> list[ServerEvent]:
    message = parse_frame(frame, PROTOCOL)
    kind = event_type(message)
    if kind == "session.created":
        session = obj(message.get("session"), "session")
        return [SessionStarted(opt_str(session.get("id"), "session.id"))]
    if kind == "session.updated":
        return [SessionConfigured()]
    if kind == "response.created":
        response = obj(message.get("response"), "response")
        return [ResponseStarted(opt_str(response.get("id"), "response.id"))]
    if kind == "response.output_text.delta":
        return [TextDelta(string(message.get("delta"), "delta"))]
    if kind == "response.function_call_arguments.done":
        return [
            ToolCall(
                call_id=string(message.get("call_id"), "call_id"),
                name=string(message.get("name"), "name"),
                arguments=string(message.get("arguments"), "arguments"),
            )
        ]
    if kind == "response.done":
        response = obj(message.get("response"), "response")
        usage = response.get("usage")
        return [
            ResponseDone(
                usage=None if usage is None else parse_usage(obj(usage, "response.usage")),
                status=opt_str(response.get("status"), "response.status") or "completed",
            )
        ]
    if kind == "error":
        error = obj(message.get("error"), "error")
        code = error.get("code")
        return [
            ServerError(
                message=opt_str(error.get("message"), "error.message") or "error",
                code=str(code) if code is not None else opt_str(error.get("type"), "error.type"),
            )
        ]
    if kind in _AUDIO_SERVER_EVENTS:
        return [AudioOutput(kind)]
    return [Opaque(kind, message)]


def parse_usage(usage: Mapping[str, Any]) -> Usage:
    input_details = obj(usage.get("input_token_details"), "usage.input_token_details")
    return Usage(
        input_tokens=opt_int(usage.get("input_tokens"), "usage.input_tokens"),
        output_tokens=opt_int(usage.get("output_tokens"), "usage.output_tokens"),
        cache_read_tokens=opt_int(
            input_details.get("cached_tokens"), "usage.input_token_details.cached_tokens"
        ),
        total_tokens=opt_int(usage.get("total_tokens"), "usage.total_tokens"),
    )


def render_usage(usage: Usage) -> dict[str, Any]:
    rendered: dict[str, Any] = {
        "total_tokens": usage.total,
        "input_tokens": usage.input_tokens or 0,
        "output_tokens": usage.output_tokens or 0,
        "input_token_details": {
            "cached_tokens": usage.cache_read_tokens or 0,
            "text_tokens": usage.input_tokens or 0,
            "audio_tokens": 0,
        },
        "output_token_details": {"text_tokens": usage.output_tokens or 0, "audio_tokens": 0},
    }
    return rendered


class ServerEncoder:
    """Universal server events -> the OpenAI Realtime event sequence a client expects.

    Stateful: it opens `response.created`, the output item and its content part before the
    first delta, and closes them (`*.done`) before `response.done`. Usage reported apart from
    the end of a response is held and attached to the next `response.done`.
    """

    def __init__(self, model: str) -> None:
        self.model = model
        self._ids = itertools.count(1)
        self._response_id: str | None = None
        self._output: list[dict[str, Any]] = []
        self._text_item: dict[str, Any] | None = None
        self._text: list[str] = []
        self._usage: Usage | None = None

    def _id(self, prefix: str) -> str:
        return f"{prefix}_{next(self._ids):06d}"

    def _event(self, kind: str, **fields: Any) -> dict[str, Any]:
        return {"type": kind, "event_id": self._id("event"), **fields}

    def feed(self, event: ServerEvent) -> list[dict[str, Any]]:
        if isinstance(event, SessionStarted):
            session = {
                "type": "realtime",
                "object": "realtime.session",
                "id": event.session_id or self._id("sess"),
                "model": self.model,
                "output_modalities": ["text"],
                "tools": [],
            }
            return [self._event("session.created", session=session)]
        if isinstance(event, SessionConfigured):
            session = {"type": "realtime", "model": self.model, "output_modalities": ["text"]}
            return [self._event("session.updated", session=session)]
        if isinstance(event, ResponseStarted):
            return self._open_response(event.response_id)
        if isinstance(event, TextDelta):
            return self._text_delta(event.text)
        if isinstance(event, ToolCall):
            return self._tool_call(event)
        if isinstance(event, UsageReport):
            self._usage = event.usage if self._usage is None else self._usage.merge(event.usage)
            return []
        if isinstance(event, ResponseDone):
            return self._done(event.usage, event.status)
        if isinstance(event, Interrupted):
            return self._done(None, "cancelled") if self._response_id is not None else []
        if isinstance(event, ServerError):
            error = {"type": "server_error", "code": event.code, "message": event.message}
            return [self._event("error", error=error)]
        if isinstance(event, GoAway):
            return []  # no OpenAI counterpart (drop table)
        if isinstance(event, AudioOutput):
            raise RealtimeProtocolError(f"{event.kind} cannot be rendered", path=event.kind)
        return [dict(event.frame)] if event.frame.get("type") else []

    def _response(self, status: str) -> dict[str, Any]:
        return {
            "object": "realtime.response",
            "id": self._response_id,
            "status": status,
            "output": list(self._output),
            "output_modalities": ["text"],
            "usage": None,
        }

    def _open_response(self, response_id: str | None = None) -> list[dict[str, Any]]:
        if self._response_id is not None:
            return []
        self._response_id = response_id or self._id("resp")
        self._output = []
        return [self._event("response.created", response=self._response("in_progress"))]

    def _text_delta(self, text: str) -> list[dict[str, Any]]:
        events = self._open_response()
        if self._text_item is None:
            self._text_item = {
                "id": self._id("item"),
                "object": "realtime.item",
                "type": "message",
                "role": "assistant",
                "status": "in_progress",
                "content": [],
            }
            self._text = []
            events.append(self._item_event("response.output_item.added", self._text_item))
            events.append(
                self._part_event("response.content_part.added", {"type": "text", "text": ""})
            )
        self._text.append(text)
        events.append(self._part_event("response.output_text.delta", None, delta=text))
        return events

    def _item_event(self, kind: str, item: dict[str, Any]) -> dict[str, Any]:
        return self._event(
            kind, response_id=self._response_id, output_index=len(self._output), item=item
        )

    def _part_event(self, kind: str, part: dict[str, Any] | None, **fields: Any) -> dict[str, Any]:
        assert self._text_item is not None
        extra = {} if part is None else {"part": part}
        return self._event(
            kind,
            response_id=self._response_id,
            item_id=self._text_item["id"],
            output_index=len(self._output),
            content_index=0,
            **extra,
            **fields,
        )

    def _close_text(self) -> list[dict[str, Any]]:
        if self._text_item is None:
            return []
        text = "".join(self._text)
        events = [
            self._part_event("response.output_text.done", None, text=text),
            self._part_event("response.content_part.done", {"type": "text", "text": text}),
        ]
        item = {
            **self._text_item,
            "status": "completed",
            "content": [{"type": "output_text", "text": text}],
        }
        events.append(self._item_event("response.output_item.done", item))
        self._output.append(item)
        self._text_item = None
        return events

    def _tool_call(self, call: ToolCall) -> list[dict[str, Any]]:
        events = self._open_response() + self._close_text()
        item = {
            "id": self._id("item"),
            "object": "realtime.item",
            "type": "function_call",
            "status": "in_progress",
            "call_id": call.call_id,
            "name": call.name,
            "arguments": "",
        }
        events.append(self._item_event("response.output_item.added", item))
        common = {
            "response_id": self._response_id,
            "item_id": item["id"],
            "output_index": len(self._output),
            "call_id": call.call_id,
        }
        events.append(
            self._event("response.function_call_arguments.delta", delta=call.arguments, **common)
        )
        events.append(
            self._event(
                "response.function_call_arguments.done",
                arguments=call.arguments,
                name=call.name,
                **common,
            )
        )
        done = {**item, "status": "completed", "arguments": call.arguments}
        events.append(self._item_event("response.output_item.done", done))
        self._output.append(done)
        return events

    def _done(self, usage: Usage | None, status: str) -> list[dict[str, Any]]:
        events = self._open_response() + self._close_text()
        if usage is not None:
            self._usage = usage if self._usage is None else self._usage.merge(usage)
        response = self._response(status)
        response["usage"] = None if self._usage is None else render_usage(self._usage)
        events.append(self._event("response.done", response=response))
        self._response_id, self._output, self._usage = None, [], None
        return events


def dumps(frame: Mapping[str, Any]) -> str:
    return orjson.dumps(frame).decode()
