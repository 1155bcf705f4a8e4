"""Gemini streamGenerateContent chunks <-> universal stream deltas (both directions).

Each chunk is a partial GenerateContentResponse: text arrives in pieces, a function call
arrives whole, and the finish reason and final usage come on the last chunk.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from llm_router._json import dumps
from llm_router.formats import get_list, get_obj, get_str, need_obj
from llm_router.formats._google_wire import (
    FINISH,
    ORIGIN,
    CallIds,
    is_synthetic_id,
    need_parts,
    parse_error,
    parse_part,
    parse_usage,
    render_error,
    render_usage,
)
from llm_router.formats._google_wire import field as key_of
from llm_router.types import StreamEvent
from llm_router.universal import (
    BlockStop,
    ContentPart,
    Finish,
    FinishReason,
    MessageStart,
    ReasoningDelta,
    ReasoningPart,
    ReasoningSignatureDelta,
    RefusalDelta,
    StreamDelta,
    StreamErrorDelta,
    TextDelta,
    TextPart,
    ToolCallDelta,
    ToolCallPart,
    ToolCallStart,
    Usage,
    UsageDelta,
    arguments_to_object,
)

__all__ = ["StreamParser", "StreamRenderer"]


class StreamParser:
    """Gemini stream chunks (decoded `data:` JSON) -> universal deltas."""

    def __init__(self) -> None:
        self._ids = CallIds()
        self._started = False
        self._blocks = 0
        self._open: int | None = None
        self._open_kind: type[ContentPart] | None = None
        self._saw_call = False
        self._finished = False
        self._usage: Usage | None = None
        self._usage_sent: Usage | None = None

    def feed(self, event: Mapping[str, Any]) -> list[StreamDelta]:
        error = event.get("error")
        if isinstance(error, dict):
            code = error.get("code")
            return [StreamErrorDelta(parse_error(code if type(code) is int else 500, event))]
        out: list[StreamDelta] = []
        if not self._started:
            self._started = True
            out.append(
                MessageStart(
                    id=get_str(event, key_of(event, "responseId", "response_id"), ""),
                    model=get_str(event, key_of(event, "modelVersion", "model_version"), ""),
                )
            )
        candidates = get_list(event, "candidates", "")
        if candidates:
            candidate = need_obj(candidates[0], "candidates[0]")
            content = get_obj(candidate, "content", "candidates[0]")
            if content is not None:
                path = "candidates[0].content"
                for j, raw in enumerate(need_parts(content, path)):
                    ppath = f"{path}.parts[{j}]"
                    self._part(parse_part(raw, ppath, self._ids), out)
            reason_key = key_of(candidate, "finishReason", "finish_reason")
            reason = FINISH.parse(get_str(candidate, reason_key, "candidates[0]"))
            if reason is not None:
                self._close(out)
                if reason is FinishReason.STOP and self._saw_call:
                    reason = FinishReason.TOOL_CALLS
                out.append(Finish(reason))
                self._finished = True
        usage = get_obj(event, key_of(event, "usageMetadata", "usage_metadata"), "")
        if usage is not None:
            self._usage = parse_usage(usage, "usageMetadata")
        if self._finished:
            out += self._flush_usage()
        return out

    def finish(self) -> list[StreamDelta]:
        out: list[StreamDelta] = []
        self._close(out)
        return out + self._flush_usage()

    def _part(self, part: ContentPart, out: list[StreamDelta]) -> None:
        match part:
            case TextPart():
                if part.text or part.signature is not None:
                    index = self._block(TextPart, out)
                    out.append(TextDelta(index, part.text, signature=part.signature))
            case ReasoningPart():
                index = self._block(ReasoningPart, out)
                if part.text:
                    out.append(ReasoningDelta(index, part.text))
                if part.signature is not None:
                    out.append(
                        ReasoningSignatureDelta(index, signature=part.signature, origin=ORIGIN)
                    )
            case ToolCallPart():
                self._close(out)
                index = self._new_block()
                self._saw_call = True
                out.append(ToolCallStart(index, part.id, part.name, signature=part.signature))
                out.append(ToolCallDelta(index, part.arguments))
                out.append(BlockStop(index))
            case _:
                pass  # code execution and other provider parts have no universal stream form

    def _block(self, kind: type[ContentPart], out: list[StreamDelta]) -> int:
        if self._open is not None and self._open_kind is kind:
            return self._open
        self._close(out)
        self._open, self._open_kind = self._new_block(), kind
        return self._open

    def _new_block(self) -> int:
        index, self._blocks = self._blocks, self._blocks + 1
        return index

    def _close(self, out: list[StreamDelta]) -> None:
        if self._open is not None:
            out.append(BlockStop(self._open))
            self._open = self._open_kind = None

    def _flush_usage(self) -> list[StreamDelta]:
        if self._usage is None or self._usage == self._usage_sent:
            return []
        self._usage_sent = self._usage
        return [UsageDelta(self._usage)]


@dataclass(slots=True)
class _PendingCall:
    id: str
    name: str
    signature: str | None
    fragments: list[str] = field(default_factory=list)


class StreamRenderer:
    """Universal deltas -> Gemini stream chunks (data-only SSE, `event` None).

    Function calls are buffered until their block ends, since Gemini sends each call whole;
    the last chunk carries the finish reason and `usageMetadata`.
    """

    def __init__(self) -> None:
        self._id: str | None = None
        self._model: str | None = None
        self._calls: dict[int, _PendingCall] = {}
        self._finish: Finish | None = None
        self._usage: Usage | None = None
        self._ended = False

    def feed(self, delta: StreamDelta) -> list[StreamEvent]:
        if self._ended:
            return []
        match delta:
            case MessageStart():
                self._id, self._model = delta.id, delta.model
            case TextDelta():
                if delta.text or delta.signature is not None:
                    part: dict[str, Any] = {"text": delta.text}
                    if delta.signature is not None:
                        part["thoughtSignature"] = delta.signature
                    return [self._chunk([part])]
            case RefusalDelta():
                return [self._chunk([{"text": delta.text}])]
            case ReasoningDelta():
                return [self._chunk([{"text": delta.text, "thought": True}])]
            case ReasoningSignatureDelta():
                if delta.origin == ORIGIN and delta.signature is not None:
                    part = {"text": "", "thought": True, "thoughtSignature": delta.signature}
                    return [self._chunk([part])]
            case ToolCallStart():
                self._calls[delta.index] = _PendingCall(delta.id, delta.name, delta.signature)
            case ToolCallDelta():
                call = self._calls.get(delta.index)
                if call is not None:
                    call.fragments.append(delta.arguments)
            case BlockStop():
                return self._flush_calls(delta.index)
            case Finish():
                self._finish = delta
                return self._flush_calls()
            case UsageDelta():
                self._usage = delta.usage if self._usage is None else self._usage.merge(delta.usage)
                if self._finish is not None:
                    return self._end()
            case StreamErrorDelta():
                self._ended = True
                return [StreamEvent(None, dumps(render_error(delta.error)[1]))]
        return []

    def finish(self) -> list[StreamEvent]:
        if self._ended or self._finish is None:
            return []  # a truncated upstream gets no final chunk, so the caller can tell
        return self._end()

    def _flush_calls(self, index: int | None = None) -> list[StreamEvent]:
        if index is None:
            calls, self._calls = list(self._calls.values()), {}
        else:
            call = self._calls.pop(index, None)
            calls = [] if call is None else [call]
        return [self._chunk([_call_part(c)]) for c in calls]

    def _end(self) -> list[StreamEvent]:
        self._ended = True
        reason = FINISH.render(self._finish.reason if self._finish else None)
        extra: dict[str, Any] = {"finishReason": reason}
        usage = None if self._usage is None else render_usage(self._usage)
        return [self._chunk([{"text": ""}], extra, usage)]

    def _chunk(
        self,
        parts: list[dict[str, Any]],
        extra: Mapping[str, Any] | None = None,
        usage: Mapping[str, Any] | None = None,
    ) -> StreamEvent:
        candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}}
        if extra:
            candidate.update(extra)
        candidate["index"] = 0
        chunk: dict[str, Any] = {"candidates": [candidate]}
        if usage is not None:
            chunk["usageMetadata"] = usage
        if self._model is not None:
            chunk["modelVersion"] = self._model
        if self._id is not None:
            chunk["responseId"] = self._id
        return StreamEvent(None, dumps(chunk))


def _call_part(call: _PendingCall) -> dict[str, Any]:
    function: dict[str, Any] = {
        "name": call.name,
        "args": arguments_to_object("".join(call.fragments)),
    }
    if not is_synthetic_id(call.id):
        function["id"] = call.id
    part: dict[str, Any] = {"functionCall": function}
    if call.signature is not None:
        part["thoughtSignature"] = call.signature
    return part
