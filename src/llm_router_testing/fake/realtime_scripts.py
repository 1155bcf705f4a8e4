"""The fake model's realtime sessions: what each protocol's server says to each client frame.

A script is sans-IO: `opening()` gives the frames sent on connect, `handle(frame)` the frames
answering one client frame. Answers follow `answers.derive_answer` (the same words and token
counts as over HTTP): a tool call when the session's tool choice requires one (OpenAI
`tool_choice: "required"` or a named function; Gemini Live has no tool choice, so declared
tools are called unless a raw `setup.toolConfig` says AUTO or NONE), else text; right after a tool result the answer is text. When the session asks for audio, the text
comes as audio deltas of silence with a transcript.
"""

from __future__ import annotations

import base64
import itertools
from collections.abc import Mapping
from typing import Any

import orjson

from .answers import derive_answer
from .responses import read_prompt, render_events
from .wire import (
    Answer,
    Prompt,
    RejectedRequest,
    RenderContext,
    ToolChoice,
    ToolSpec,
    as_dict,
    as_list,
    text_of,
)

__all__ = [
    "GeminiLiveScript",
    "OpenAIRealtimeScript",
    "ResponsesWsScript",
    "ScriptClose",
    "SILENCE",
]

# 20 ms of 24 kHz mono PCM16 silence per audio delta.
SILENCE = base64.b64encode(bytes(960)).decode()
# Audio input as the providers count it: OpenAI one token per 100 ms of 24 kHz PCM16,
# Gemini 32 tokens per second of 16 kHz PCM16 (one per 1000 bytes); parts round up.
OPENAI_AUDIO_BYTES_PER_TOKEN = 4800
GEMINI_AUDIO_BYTES_PER_TOKEN = 1000


def audio_tokens(size: int, per_token: int) -> int:
    return -(-size // per_token)


def _b64_size(data: Any) -> int:
    if not isinstance(data, str):
        return 0
    return len(data) * 3 // 4 - data[-2:].count("=")


Frame = str | bytes


class ScriptClose(Exception):
    """The script ends the session with this close code and reason (protocol violations)."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def _loads(frame: Frame) -> Any:
    try:
        return orjson.loads(frame)
    except orjson.JSONDecodeError:
        return None


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


def _answer(prompt: Prompt, forced: str | None) -> Answer:
    return derive_answer(prompt, forced_text=forced)


class OpenAIRealtimeScript:
    """An OpenAI Realtime (GA) server session."""

    def __init__(self, model: str, *, answer: str | None = None) -> None:
        self.model = model
        self.forced = answer
        self._ids = itertools.count(1)
        self.session: dict[str, Any] = {
            "type": "realtime",
            "object": "realtime.session",
            "id": self._id("sess"),
            "model": model,
            "output_modalities": ["audio"],
            "instructions": "",
            "tools": [],
            "tool_choice": "auto",
        }
        self._last_text = ""
        self._words = 0
        self._after_tool_result = False
        self._audio_bytes = 0
        self._audio_input = 0  # audio tokens committed to the conversation

    def _id(self, prefix: str) -> str:
        return f"{prefix}_{next(self._ids):06d}"

    def _event(self, kind: str, **fields: Any) -> str:
        return _json({"type": kind, "event_id": self._id("event"), **fields})

    def opening(self) -> list[Frame]:
        return [self._event("session.created", session=self.session)]

    def _error(self, message: str, code: str = "invalid_request_error") -> list[Frame]:
        error = {"type": "invalid_request_error", "code": code, "message": message, "param": None}
        return [self._event("error", error=error)]

    def handle(self, frame: Frame) -> list[Frame]:
        event = _loads(frame)
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            return self._error("The client event is not a JSON object with a type.", "invalid_json")
        kind = event["type"]
        if kind == "session.update":
            session = as_dict(event.get("session"))
            for key in ("instructions", "tools", "tool_choice", "output_modalities", "audio"):
                if key in session:
                    self.session[key] = session[key]
            return [self._event("session.updated", session=self.session)]
        if kind == "conversation.item.create":
            return self._item(as_dict(event.get("item")))
        if kind == "input_audio_buffer.append":
            self._audio_bytes += _b64_size(event.get("audio"))
            return []
        if kind == "input_audio_buffer.commit":
            item_id = self._id("item")
            self._audio_input += audio_tokens(self._audio_bytes, OPENAI_AUDIO_BYTES_PER_TOKEN)
            self._audio_bytes = 0
            return [self._event("input_audio_buffer.committed", item_id=item_id)]
        if kind == "input_audio_buffer.clear":
            self._audio_bytes = 0
            return [self._event("input_audio_buffer.cleared")]
        if kind == "response.create":
            return self._respond()
        if kind == "response.cancel":
            return []  # answers are sent whole: nothing is ever in progress
        return self._error(f"Invalid value: '{kind}'. Unknown client event type.", "unknown_event")

    def _item(self, item: Mapping[str, Any]) -> list[Frame]:
        item = {"id": self._id("item"), "object": "realtime.item", "status": "completed", **item}
        if item.get("type") == "function_call_output":
            output = item.get("output")
            self._last_text = output if isinstance(output, str) else ""
            self._after_tool_result = True
        elif item.get("type") == "message":
            text = text_of(item.get("content"), text_keys=("text", "transcript"))
            if item.get("role") == "user":
                self._last_text = text
                self._after_tool_result = False
            self._words += len(text.split())
        else:
            return self._error(f"Invalid item type {item.get('type')!r}.")
        return [
            self._event("conversation.item.added", previous_item_id=None, item=item),
            self._event("conversation.item.done", previous_item_id=None, item=item),
        ]

    def _prompt(self) -> Prompt:
        tools = tuple(
            ToolSpec(str(tool["name"]), as_dict(tool.get("parameters")))
            for tool in map(as_dict, as_list(self.session.get("tools")))
            if tool.get("name")
        )
        choice = self.session.get("tool_choice")
        if self._after_tool_result or choice in (None, "auto", "none"):
            mode = ToolChoice()
        elif choice == "required":
            mode = ToolChoice("required")
        else:
            mode = ToolChoice("named", str(as_dict(choice).get("name") or ""))
        words = self._words + len(str(self.session.get("instructions") or "").split())
        return Prompt(self.model, self._last_text, words, tools, mode)

    def _respond(self) -> list[Frame]:
        answer = _answer(self._prompt(), self.forced)
        response_id = self._id("resp")
        audio = "audio" in as_list(self.session.get("output_modalities"))
        response: dict[str, Any] = {
            "object": "realtime.response",
            "id": response_id,
            "status": "in_progress",
            "output": [],
            "output_modalities": ["audio"] if audio else ["text"],
            "usage": None,
        }
        frames: list[Frame] = [self._event("response.created", response=response)]
        item_id = self._id("item")
        where = {"response_id": response_id, "item_id": item_id, "output_index": 0}
        call = answer.tool_call
        if call is not None:
            item: dict[str, Any] = {
                "id": item_id,
                "object": "realtime.item",
                "type": "function_call",
                "status": "in_progress",
                "call_id": call.id,
                "name": call.name,
                "arguments": "",
            }
            frames.append(self._added(response_id, item))
            for fragment in call.fragments:
                frames.append(
                    self._event(
                        "response.function_call_arguments.delta",
                        **where,
                        call_id=call.id,
                        delta=fragment,
                    )
                )
            frames.append(
                self._event(
                    "response.function_call_arguments.done",
                    **where,
                    call_id=call.id,
                    name=call.name,
                    arguments=call.arguments,
                )
            )
            done = {**item, "status": "completed", "arguments": call.arguments}
        else:
            part_type = "audio" if audio else "text"
            content_type = "output_audio" if audio else "output_text"
            item = {
                "id": item_id,
                "object": "realtime.item",
                "type": "message",
                "role": "assistant",
                "status": "in_progress",
                "content": [],
            }
            frames.append(self._added(response_id, item))
            part = {**where, "content_index": 0}
            frames.append(
                self._event("response.content_part.added", **part, part={"type": part_type})
            )
            for piece in answer.pieces:
                if audio:
                    frames.append(self._event("response.output_audio.delta", **part, delta=SILENCE))
                    frames.append(
                        self._event("response.output_audio_transcript.delta", **part, delta=piece)
                    )
                else:
                    frames.append(self._event("response.output_text.delta", **part, delta=piece))
            if audio:
                frames.append(self._event("response.output_audio.done", **part))
                frames.append(
                    self._event(
                        "response.output_audio_transcript.done", **part, transcript=answer.text
                    )
                )
                final_part = {"type": "audio", "transcript": answer.text}
            else:
                frames.append(self._event("response.output_text.done", **part, text=answer.text))
                final_part = {"type": "text", "text": answer.text}
            frames.append(self._event("response.content_part.done", **part, part=final_part))
            content = (
                {"type": "output_audio", "transcript": answer.text}
                if audio
                else {"type": content_type, "text": answer.text}
            )
            done = {**item, "status": "completed", "content": [content]}
        frames.append(
            self._event(
                "response.output_item.done", response_id=response_id, output_index=0, item=done
            )
        )
        self._words += answer.output_tokens
        response.update(
            status="completed",
            output=[done],
            usage={
                "total_tokens": answer.total_tokens + self._audio_input,
                "input_tokens": answer.input_tokens + self._audio_input,
                "output_tokens": answer.output_tokens,
                "input_token_details": {
                    "cached_tokens": 0,
                    "text_tokens": answer.input_tokens,
                    "audio_tokens": self._audio_input,
                    "cached_tokens_details": {"text_tokens": 0, "audio_tokens": 0},
                },
                "output_token_details": {
                    "text_tokens": 0 if audio else answer.output_tokens,
                    "audio_tokens": answer.output_tokens if audio else 0,
                },
            },
        )
        frames.append(self._event("response.done", response=response))
        return frames

    def _added(self, response_id: str, item: dict[str, Any]) -> str:
        return self._event(
            "response.output_item.added", response_id=response_id, output_index=0, item=item
        )


def _get(value: Mapping[str, Any], camel: str, snake: str) -> Any:
    return value.get(camel, value.get(snake))


class GeminiLiveScript:
    """A Gemini Live server session: `setup` first, then turns (frames sent as binary JSON)."""

    def __init__(self, model: str | None, *, answer: str | None = None) -> None:
        self.model = model
        self.forced = answer
        self.setup: dict[str, Any] | None = None
        self._turns: list[str] = []
        self._words = 0
        self._after_tool_result = False
        self._ids = itertools.count(1)
        self._audio_bytes = 0  # audio of the turn being spoken
        self._audio_input = 0  # audio tokens in the conversation

    def opening(self) -> list[Frame]:
        return []  # the client speaks first

    def handle(self, frame: Frame) -> list[Frame]:
        message = _loads(frame)
        if not isinstance(message, dict):
            raise ScriptClose(1007, "Request contains an invalid argument.")
        if self.setup is None:
            setup = message.get("setup")
            if not isinstance(setup, dict):
                raise ScriptClose(1007, "The first message must be a setup message.")
            model = setup.get("model")
            if not isinstance(model, str) or not model:
                raise ScriptClose(1007, "setup.model is required.")
            self.setup, self.model = setup, model.removeprefix("models/")
            return [orjson.dumps({"setupComplete": {}})]
        content = _get(message, "clientContent", "client_content")
        if isinstance(content, dict):
            for turn in map(as_dict, as_list(content.get("turns")) or [content.get("turns")]):
                text = text_of(turn.get("parts"))
                if turn.get("role", "user") == "user" and turn.get("parts"):
                    self._turns.append(text)
                    self._after_tool_result = False
                self._words += len(text.split())
            if _get(content, "turnComplete", "turn_complete"):
                return self._respond()
            return []
        realtime = _get(message, "realtimeInput", "realtime_input")
        if isinstance(realtime, dict):
            if isinstance(realtime.get("text"), str):
                self._turns.append(realtime["text"])
                self._words += len(realtime["text"].split())
                self._after_tool_result = False
                return self._respond()
            chunks = [
                realtime.get("audio"),
                *as_list(_get(realtime, "mediaChunks", "media_chunks")),
            ]
            for chunk in map(as_dict, chunks):
                self._audio_bytes += _b64_size(chunk.get("data"))
            if _get(realtime, "audioStreamEnd", "audio_stream_end"):
                self._audio_input += audio_tokens(self._audio_bytes, GEMINI_AUDIO_BYTES_PER_TOKEN)
                self._audio_bytes = 0
                return self._respond()
            return []
        tool = _get(message, "toolResponse", "tool_response")
        if isinstance(tool, dict):
            responses = _get(tool, "functionResponses", "function_responses")
            outputs = [_json(as_dict(r).get("response")) for r in as_list(responses)]
            self._turns.append(" ".join(outputs))
            self._after_tool_result = True
            return self._respond()
        raise ScriptClose(1007, "Request contains an invalid argument.")

    def _prompt(self) -> Prompt:
        setup = self.setup or {}
        tools = tuple(
            ToolSpec(
                str(declaration["name"]),
                as_dict(
                    declaration.get("parameters")
                    or _get(declaration, "parametersJsonSchema", "parameters_json_schema")
                ),
            )
            for tool in map(as_dict, as_list(setup.get("tools")))
            for declaration in map(
                as_dict, as_list(_get(tool, "functionDeclarations", "function_declarations"))
            )
            if declaration.get("name")
        )
        config = as_dict(
            _get(
                as_dict(_get(setup, "toolConfig", "tool_config")),
                "functionCallingConfig",
                "function_calling_config",
            )
        )
        # Live sessions have no tool choice: declared tools are called unless a raw setup's
        # toolConfig says AUTO or NONE.
        mode = str(config.get("mode", "ANY")).upper()
        required = bool(tools) and mode == "ANY" and not self._after_tool_result
        choice = ToolChoice("required") if required else ToolChoice()
        return Prompt(
            self.model or "", self._turns[-1] if self._turns else "", self._words, tools, choice
        )

    def _respond(self) -> list[Frame]:
        answer = _answer(self._prompt(), self.forced)
        audio = self._audio_output(answer)
        prompt = [{"modality": "TEXT", "tokenCount": answer.input_tokens}]
        if self._audio_input:
            prompt.append({"modality": "AUDIO", "tokenCount": self._audio_input})
        usage = {
            "promptTokenCount": answer.input_tokens + self._audio_input,
            "responseTokenCount": answer.output_tokens,
            "totalTokenCount": answer.total_tokens + self._audio_input,
            "promptTokensDetails": prompt,
            "responseTokensDetails": [
                {"modality": "AUDIO" if audio else "TEXT", "tokenCount": answer.output_tokens}
            ],
        }
        self._words += answer.output_tokens
        call = answer.tool_call
        if call is not None:
            functions = [{"id": call.id, "name": call.name, "args": call.arguments_object()}]
            return [
                orjson.dumps({"toolCall": {"functionCalls": functions}, "usageMetadata": usage})
            ]
        frames: list[Frame] = []
        for piece in answer.pieces:
            part: dict[str, Any] = (
                {"inlineData": {"mimeType": "audio/pcm;rate=24000", "data": SILENCE}}
                if audio
                else {"text": piece}
            )
            content: dict[str, Any] = {"modelTurn": {"role": "model", "parts": [part]}}
            if audio:
                content["outputTranscription"] = {"text": piece}
            frames.append(orjson.dumps({"serverContent": content}))
        frames.append(orjson.dumps({"serverContent": {"generationComplete": True}}))
        frames.append(
            orjson.dumps({"serverContent": {"turnComplete": True}, "usageMetadata": usage})
        )
        return frames

    def _audio_output(self, answer: Answer) -> bool:
        """Whether the answer is spoken: a tool call never is; text when the setup asks."""
        if answer.tool_call is not None:
            return False
        config = as_dict(_get(self.setup or {}, "generationConfig", "generation_config"))
        modalities = [
            str(m).upper()
            for m in as_list(config.get("responseModalities", config.get("response_modalities")))
        ]
        return "AUDIO" in modalities or not modalities


class ResponsesWsScript:
    """OpenAI Responses WebSocket mode: one `response.create` per turn, the ordinary events back.

    `previous_response_id` is honoured only for responses made on this same socket, as the
    real server keeps that state per connection.
    """

    def __init__(self, *, answer: str | None = None) -> None:
        self.forced = answer
        self._responses: set[str] = set()

    def opening(self) -> list[Frame]:
        return []

    def _error(self, status: int, code: str, message: str, param: str | None = None) -> list[Frame]:
        error = {"type": "invalid_request_error", "code": code, "message": message, "param": param}
        return [_json({"type": "error", "status": status, "error": error})]

    def handle(self, frame: Frame) -> list[Frame]:
        event = _loads(frame)
        if not isinstance(event, dict) or event.get("type") != "response.create":
            return self._error(400, "invalid_event", "Expected a response.create event.", "type")
        body = {k: v for k, v in event.items() if k != "type"}
        if "stream" in body:
            return self._error(400, "unknown_parameter", "Unknown parameter: 'stream'.", "stream")
        previous = body.get("previous_response_id")
        if previous is not None and previous not in self._responses:
            return self._error(
                400,
                "previous_response_not_found",
                f"Previous response with id '{previous}' not found.",
                "previous_response_id",
            )
        try:
            prompt = read_prompt(body)
        except RejectedRequest as rejected:
            return self._error(rejected.status, "invalid_request_error", rejected.message)
        answer = _answer(prompt, self.forced)
        context = RenderContext(model=prompt.model, provider="openai", request=body)
        events = render_events(answer, context)
        for event in events:
            payload = _loads(event.data)
            response_id = as_dict(as_dict(payload).get("response")).get("id")
            if isinstance(response_id, str):
                self._responses.add(response_id)
        return [event.data.decode() for event in events]
