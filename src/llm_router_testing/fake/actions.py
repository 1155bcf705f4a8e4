"""Scripted answers: what a scenario rule's `respond` says, rendered in any wire format.

An `Action` is format-independent (text, tool calls, structured output, reasoning, refusal,
finish reason, usage, an error, stream timing). It becomes one universal `Response` (or a
universal stream) and is written by the library's own format modules, so the same rule
answers OpenAI Chat, Responses, Anthropic, Gemini, Converse and Mistral clients alike.

`respond` keys::

    {"text": "It is sunny",                       # answer text (one stream delta per word)
     "tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}, "id": "call_1"}],
     "json": {"temperature": 21},                  # structured output: the JSON as the text
     "reasoning": "The user wants the weather.",   # a thinking block before the answer
     "refusal": "I can't help with that.",
     "finish_reason": "stop",                      # stop, length, tool_calls, content_filter...
     "usage": {"input_tokens": 10, "output_tokens": 3},
     "error": {"status": 429, "message": "Slow down"},   # or just a status: "error": 503
     "stream": {"ttfb": "100ms", "token_delay": "20ms", "delays": ["0", "1s"]}}
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from llm_router.formats import get_format
from llm_router.formats import openai as openai_format
from llm_router.types import ProviderFormat, StreamEvent
from llm_router.universal import (
    ContentPart,
    Finish,
    FinishReason,
    MessageStart,
    ReasoningDelta,
    ReasoningPart,
    RefusalDelta,
    RefusalPart,
    Response,
    StreamDelta,
    TextDelta,
    TextPart,
    ToolCallDelta,
    ToolCallPart,
    ToolCallStart,
    Usage,
    UsageDelta,
)

from .answers import json_slices, split_words
from .conversation import UNSET
from .faults import FaultSpecError, parse_duration
from .wire import _new_id

__all__ = ["Action", "ActionError", "ScriptedCall", "StreamTiming", "TimedEvents"]

_KEYS = frozenset(
    {
        "text",
        "tool_calls",
        "json",
        "reasoning",
        "refusal",
        "finish_reason",
        "usage",
        "error",
        "stream",
    }
)
_USAGE_KEYS = frozenset(
    {
        "input_tokens",
        "output_tokens",
        "cache_read_tokens",
        "cache_write_tokens",
        "reasoning_tokens",
        "total_tokens",
    }
)


@dataclass(frozen=True, slots=True)
class ScriptedCall:
    name: str
    arguments: str
    """JSON text of the arguments object."""
    id: str | None = None


@dataclass(frozen=True, slots=True)
class ActionError:
    status: int
    message: str | None = None


@dataclass(frozen=True, slots=True)
class StreamTiming:
    """Delays for a streamed answer: before the first event, and before each later token."""

    ttfb: float | None = None
    token_delay: float | None = None
    delays: tuple[float, ...] = ()
    """Per-token delays, in order (the first before the first token); `token_delay` after."""

    def before_token(self, index: int) -> float:
        if index < len(self.delays):
            return self.delays[index]
        if index == 0:
            return 0.0
        return self.token_delay or 0.0


@dataclass(frozen=True, slots=True)
class TimedEvents:
    """A rendered stream: events and the delay before each (seconds)."""

    events: list[StreamEvent]
    delays: list[float]
    ttfb: float | None


@dataclass(frozen=True, slots=True)
class Action:
    """One scripted answer; see the module docstring for the JSON keys."""

    text: str | None = None
    tool_calls: tuple[ScriptedCall, ...] = ()
    json: Any = UNSET
    reasoning: str | None = None
    refusal: str | None = None
    finish_reason: FinishReason | None = None
    usage: Usage | None = None
    error: ActionError | None = None
    stream: StreamTiming = field(default_factory=StreamTiming)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], where: str = "respond") -> Action:
        unknown = set(values) - _KEYS
        if unknown:
            raise FaultSpecError(
                f"{where}: unknown keys {sorted(unknown)} (use {', '.join(sorted(_KEYS))})"
            )
        text = values.get("text")
        if text is not None and not isinstance(text, str):
            raise FaultSpecError(f"{where}.text must be a string")
        if "json" in values:
            _dumps(values["json"], f"{where}.json")
        return cls(
            text=text,
            tool_calls=_calls(values.get("tool_calls"), f"{where}.tool_calls"),
            json=values.get("json", UNSET),
            reasoning=_string(values.get("reasoning"), f"{where}.reasoning"),
            refusal=_string(values.get("refusal"), f"{where}.refusal"),
            finish_reason=_finish(values.get("finish_reason"), f"{where}.finish_reason"),
            usage=_usage(values.get("usage"), f"{where}.usage"),
            error=_error(values.get("error"), f"{where}.error"),
            stream=_timing(values.get("stream"), f"{where}.stream"),
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.text is not None:
            out["text"] = self.text
        if self.tool_calls:
            out["tool_calls"] = [
                {"name": c.name, "arguments": orjson.loads(c.arguments)}
                | ({"id": c.id} if c.id else {})
                for c in self.tool_calls
            ]
        if self.json is not UNSET:
            out["json"] = self.json
        if self.reasoning is not None:
            out["reasoning"] = self.reasoning
        if self.refusal is not None:
            out["refusal"] = self.refusal
        if self.finish_reason is not None:
            out["finish_reason"] = self.finish_reason.value
        if self.usage is not None:
            out["usage"] = {
                k: getattr(self.usage, k) for k in _USAGE_KEYS if getattr(self.usage, k) is not None
            }
        if self.error is not None:
            out["error"] = {"status": self.error.status} | (
                {"message": self.error.message} if self.error.message else {}
            )
        timing = self.stream
        if timing != StreamTiming():
            stream: dict[str, Any] = {}
            if timing.ttfb is not None:
                stream["ttfb"] = timing.ttfb
            if timing.token_delay is not None:
                stream["token_delay"] = timing.token_delay
            if timing.delays:
                stream["delays"] = list(timing.delays)
            out["stream"] = stream
        return out

    # ------------------------------------------------------------------ rendering

    def answer_text(self) -> str | None:
        if self.json is not UNSET:
            return orjson.dumps(self.json).decode()
        return self.text

    def _pieces(self) -> tuple[str, ...]:
        if self.json is not UNSET:
            return json_slices(orjson.dumps(self.json).decode())
        return split_words(self.text) if self.text else ()

    def _calls(self) -> list[ToolCallPart]:
        return [
            ToolCallPart(
                id=call.id or f"call_{_new_id()}", name=call.name, arguments=call.arguments
            )
            for call in self.tool_calls
        ]

    def _finish(self) -> FinishReason:
        if self.finish_reason is not None:
            return self.finish_reason
        return FinishReason.TOOL_CALLS if self.tool_calls else FinishReason.STOP

    def _usage(self, input_words: int, output_tokens: int) -> Usage:
        counted = Usage(input_tokens=max(1, input_words), output_tokens=max(1, output_tokens))
        if self.usage is None:
            return Usage(
                input_tokens=counted.input_tokens,
                output_tokens=counted.output_tokens,
                total_tokens=counted.total,
            )
        merged = counted.merge(self.usage)
        if merged.total_tokens is None:
            merged = merged.merge(Usage(total_tokens=merged.total))
        return merged

    def response(self, *, model: str, input_words: int) -> Response:
        content: list[ContentPart] = []
        if self.reasoning is not None:
            content.append(ReasoningPart(text=self.reasoning))
        text = self.answer_text()
        if text is not None:
            content.append(TextPart(text=text))
        if self.refusal is not None:
            content.append(RefusalPart(text=self.refusal))
        calls = self._calls()
        content.extend(calls)
        output = len(self._pieces()) + sum(len(json_slices(c.arguments)) for c in calls)
        if self.reasoning:
            output += len(split_words(self.reasoning))
        if self.refusal:
            output += len(split_words(self.refusal))
        return Response(
            content=tuple(content),
            id=_new_id(),
            model=model,
            created=int(time.time()),
            finish_reason=self._finish(),
            usage=self._usage(input_words, output),
        )

    def render_body(self, fmt: ProviderFormat, *, model: str, input_words: int) -> bytes:
        return orjson.dumps(
            get_format(fmt).render_response(self.response(model=model, input_words=input_words))
        )

    def deltas(self, *, model: str, input_words: int) -> list[tuple[bool, StreamDelta]]:
        """The universal stream, each delta flagged True when it carries one token."""
        out: list[tuple[bool, StreamDelta]] = [
            (False, MessageStart(id=_new_id(), model=model, created=int(time.time())))
        ]
        index = 0
        tokens = 0
        if self.reasoning is not None:
            for piece in split_words(self.reasoning) or ("",):
                out.append((True, ReasoningDelta(index, piece)))
                tokens += 1
            index += 1
        pieces = self._pieces()
        if pieces:
            for piece in pieces:
                out.append((True, TextDelta(index, piece)))
                tokens += 1
            index += 1
        if self.refusal is not None:
            for piece in split_words(self.refusal) or ("",):
                out.append((True, RefusalDelta(index, piece)))
                tokens += 1
            index += 1
        for call in self._calls():
            out.append((False, ToolCallStart(index, call.id, call.name)))
            for fragment in json_slices(call.arguments, minimum=2):
                out.append((True, ToolCallDelta(index, fragment)))
                tokens += 1
            index += 1
        out.append((False, Finish(self._finish())))
        out.append((False, UsageDelta(self._usage(input_words, tokens))))
        return out

    def render_stream(
        self, fmt: ProviderFormat, *, model: str, input_words: int, include_usage: bool = True
    ) -> TimedEvents:
        if fmt is ProviderFormat.OPENAI:
            renderer: Any = openai_format.StreamRenderer(include_usage=include_usage)
        else:
            renderer = get_format(fmt).StreamRenderer()
        events: list[StreamEvent] = []
        delays: list[float] = []
        token = 0
        pending = 0.0  # a token's delay waits for the next event actually written
        for is_token, delta in self.deltas(model=model, input_words=input_words):
            if is_token:
                pending += self.stream.before_token(token)
                token += 1
            for event in renderer.feed(delta):
                events.append(event)
                delays.append(pending)
                pending = 0.0
        for event in renderer.finish():
            events.append(event)
            delays.append(0.0)
        return TimedEvents(events, delays, self.stream.ttfb)


def _string(value: object, where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise FaultSpecError(f"{where} must be a string")
    return value


def _calls(value: object, where: str) -> tuple[ScriptedCall, ...]:
    if value is None:
        return ()
    if isinstance(value, Mapping):
        value = [value]
    if not isinstance(value, Sequence) or isinstance(value, str):
        raise FaultSpecError(f"{where} must be a list of {{name, arguments}} objects")
    calls = []
    for position, call in enumerate(value):
        if not isinstance(call, Mapping) or not isinstance(call.get("name"), str):
            raise FaultSpecError(f"{where}[{position}] needs a string `name`")
        arguments = call.get("arguments", {})
        if isinstance(arguments, str):
            try:
                orjson.loads(arguments)
            except orjson.JSONDecodeError:
                raise FaultSpecError(f"{where}[{position}].arguments is not JSON") from None
            text = arguments
        elif isinstance(arguments, Mapping):
            text = _dumps(arguments, f"{where}[{position}].arguments")
        else:
            raise FaultSpecError(f"{where}[{position}].arguments must be an object")
        call_id = call.get("id")
        calls.append(ScriptedCall(call["name"], text, str(call_id) if call_id else None))
    return tuple(calls)


def _dumps(value: object, where: str) -> str:
    try:
        return orjson.dumps(value).decode()
    except TypeError as error:
        raise FaultSpecError(f"{where} cannot be written as JSON: {error}") from None


def _finish(value: object, where: str) -> FinishReason | None:
    if value is None:
        return None
    try:
        return FinishReason(str(value))
    except ValueError:
        names = ", ".join(reason.value for reason in FinishReason)
        raise FaultSpecError(f"{where}: unknown finish reason {value!r} (use {names})") from None


def _usage(value: object, where: str) -> Usage | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise FaultSpecError(f"{where} must be an object of token counts")
    unknown = set(value) - _USAGE_KEYS
    if unknown:
        raise FaultSpecError(f"{where}: unknown keys {sorted(unknown)}")
    for key, count in value.items():
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise FaultSpecError(f"{where}.{key} must be a non-negative integer")
    return Usage(**dict(value))


def _error(value: object, where: str) -> ActionError | None:
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        value = {"status": value}
    if not isinstance(value, Mapping):
        raise FaultSpecError(f"{where} must be a status or {{status, message}}")
    status = value.get("status")
    if isinstance(status, bool) or not isinstance(status, int) or not 400 <= status <= 599:
        raise FaultSpecError(f"{where}.status must be an HTTP error status (400-599)")
    return ActionError(status, _string(value.get("message"), f"{where}.message"))


def _seconds(value: object, where: str) -> float:
    if isinstance(value, bool):
        raise FaultSpecError(f"{where} must be a duration")
    if isinstance(value, int | float):
        if value < 0:
            raise FaultSpecError(f"{where} must not be negative")
        return float(value)
    try:
        return parse_duration(str(value))
    except FaultSpecError as error:
        raise FaultSpecError(f"{where}: {error}") from None


def _timing(value: object, where: str) -> StreamTiming:
    if value is None:
        return StreamTiming()
    if not isinstance(value, Mapping):
        raise FaultSpecError(f"{where} must be an object (ttfb, token_delay, delays)")
    unknown = set(value) - {"ttfb", "token_delay", "delays"}
    if unknown:
        raise FaultSpecError(f"{where}: unknown keys {sorted(unknown)}")
    delays = value.get("delays") or ()
    if not isinstance(delays, Sequence) or isinstance(delays, str):
        raise FaultSpecError(f"{where}.delays must be a list of durations")
    return StreamTiming(
        ttfb=_seconds(value["ttfb"], f"{where}.ttfb") if value.get("ttfb") is not None else None,
        token_delay=_seconds(value["token_delay"], f"{where}.token_delay")
        if value.get("token_delay") is not None
        else None,
        delays=tuple(_seconds(d, f"{where}.delays[{i}]") for i, d in enumerate(delays)),
    )
