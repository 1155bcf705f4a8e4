"""ConverseStream events (``{"<eventType>": payload}``) <-> universal stream deltas.

The order on the wire: `messageStart`, per block `contentBlockStart` (tool calls only),
`contentBlockDelta`..., `contentBlockStop`, then `messageStop` and `metadata` (usage).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from llm_router._json import dumps
from llm_router.formats import get_int, get_obj, get_str, need_obj, need_str
from llm_router.formats._converse_wire import (
    FINISH,
    ORIGIN,
    exception_event,
    parse_error,
    parse_usage,
    render_usage,
    tool_use_id,
)
from llm_router.types import StreamEvent
from llm_router.universal import (
    BlockStop,
    Finish,
    FinishReason,
    MessageStart,
    ReasoningDelta,
    ReasoningSignatureDelta,
    RefusalDelta,
    StreamDelta,
    StreamErrorDelta,
    TextDelta,
    ToolCallDelta,
    ToolCallStart,
    Usage,
    UsageDelta,
)

__all__ = ["StreamParser", "StreamRenderer"]

# In-stream exception events and the HTTP status each stands for.
_EXCEPTION_STATUS = {
    "throttlingException": 429,
    "serviceUnavailableException": 503,
    "validationException": 400,
    "internalServerException": 500,
    "modelStreamErrorException": 424,
}


class StreamParser:
    """ConverseStream events -> universal deltas."""

    def __init__(self) -> None:
        self._blocks: dict[int, int] = {}  # contentBlockIndex -> universal index

    def feed(self, event: Mapping[str, Any]) -> list[StreamDelta]:
        for kind, payload in event.items():
            if kind == "contentBlockDelta":
                return self._delta(need_obj(payload, kind))
            if kind == "contentBlockStart":
                return self._start(need_obj(payload, kind))
            if kind == "contentBlockStop":
                index = self._blocks.get(
                    get_int(need_obj(payload, kind), "contentBlockIndex", kind) or 0
                )
                return [] if index is None else [BlockStop(index)]
            if kind == "messageStart":
                return [MessageStart()]
            if kind == "messageStop":
                return [_finish(need_obj(payload, kind))]
            if kind == "metadata":
                usage = get_obj(need_obj(payload, kind), "usage", kind)
                return [] if usage is None else [UsageDelta(parse_usage(usage, "metadata.usage"))]
            if kind in _EXCEPTION_STATUS:
                name = kind[0].upper() + kind[1:]
                return [
                    StreamErrorDelta(parse_error(_EXCEPTION_STATUS[kind], payload, error_type=name))
                ]
        return []

    def finish(self) -> list[StreamDelta]:
        return []

    def _index(self, payload: Mapping[str, Any], path: str) -> int:
        wire = get_int(payload, "contentBlockIndex", path) or 0
        index = self._blocks.get(wire)
        if index is None:
            index = self._blocks[wire] = len(self._blocks)
        return index

    def _start(self, payload: Mapping[str, Any]) -> list[StreamDelta]:
        start = get_obj(payload, "start", "contentBlockStart") or {}
        use = get_obj(start, "toolUse", "contentBlockStart.start")
        if use is None:
            return []  # other block kinds announce nothing the deltas do not repeat
        path = "contentBlockStart.start.toolUse"
        index = self._index(payload, "contentBlockStart")
        return [ToolCallStart(index, need_str(use, "toolUseId", path), need_str(use, "name", path))]

    def _delta(self, payload: Mapping[str, Any]) -> list[StreamDelta]:
        index = self._index(payload, "contentBlockDelta")
        delta = get_obj(payload, "delta", "contentBlockDelta") or {}
        text = get_str(delta, "text", "contentBlockDelta.delta")
        if text is not None:
            return [TextDelta(index, text)]
        use = get_obj(delta, "toolUse", "contentBlockDelta.delta")
        if use is not None:
            fragment = get_str(use, "input", "contentBlockDelta.delta.toolUse")
            return [ToolCallDelta(index, fragment)] if fragment else []
        reasoning = get_obj(delta, "reasoningContent", "contentBlockDelta.delta")
        if reasoning is None:
            return []  # citations and later delta kinds have no universal stream form
        path = "contentBlockDelta.delta.reasoningContent"
        out: list[StreamDelta] = []
        text = get_str(reasoning, "text", path)
        if text:
            out.append(ReasoningDelta(index, text))
        signature = get_str(reasoning, "signature", path)
        if signature:
            out.append(ReasoningSignatureDelta(index, signature=signature, origin=ORIGIN))
        redacted = get_str(reasoning, "redactedContent", path)
        if redacted:
            out.append(
                ReasoningSignatureDelta(index, encrypted=redacted, redacted=True, origin=ORIGIN)
            )
        return out


def _finish(payload: Mapping[str, Any]) -> Finish:
    reason = FINISH.parse(get_str(payload, "stopReason", "messageStop"))
    fields = get_obj(payload, "additionalModelResponseFields", "messageStop") or {}
    stop_sequence = fields.get("stop_sequence")
    return Finish(
        FinishReason.STOP if reason is None else reason,
        stop_sequence if isinstance(stop_sequence, str) else None,
    )


class StreamRenderer:
    """Universal deltas -> ConverseStream events (`StreamEvent.event` is the event type)."""

    def __init__(self) -> None:
        self._started = False
        self._stopped = False  # messageStop sent
        self._ended = False  # metadata (or an exception) sent
        self._blocks: dict[int, int] = {}  # universal index -> contentBlockIndex
        self._open: int | None = None
        self._usage: Usage | None = None

    def feed(self, delta: StreamDelta) -> list[StreamEvent]:
        if self._ended:
            return []
        out: list[StreamEvent] = []
        if not self._started:
            self._started = True
            out.append(_event("messageStart", {"role": "assistant"}))
        match delta:
            case TextDelta() | RefusalDelta():
                if delta.text:
                    out.append(self._delta(delta.index, {"text": delta.text}, out))
            case ReasoningDelta():
                out.append(
                    self._delta(delta.index, {"reasoningContent": {"text": delta.text}}, out)
                )
            case ReasoningSignatureDelta():
                if delta.origin == ORIGIN and (delta.signature or delta.encrypted):
                    key = "redactedContent" if delta.redacted else "signature"
                    value = delta.encrypted if delta.redacted else delta.signature
                    out.append(self._delta(delta.index, {"reasoningContent": {key: value}}, out))
            case ToolCallStart():
                self._close(out)
                wire = self._open_block(delta.index)
                start = {"toolUse": {"toolUseId": tool_use_id(delta.id), "name": delta.name}}
                out.append(_event("contentBlockStart", {"contentBlockIndex": wire, "start": start}))
            case ToolCallDelta():
                if self._open == delta.index and delta.arguments:
                    out.append(
                        self._delta(delta.index, {"toolUse": {"input": delta.arguments}}, out)
                    )
            case BlockStop():
                if self._open == delta.index:
                    self._close(out)
            case Finish():
                out += self._stop(FINISH.render(delta.reason), delta.stop_sequence)
            case UsageDelta():
                self._usage = delta.usage if self._usage is None else self._usage.merge(delta.usage)
                if self._stopped:
                    out += self._metadata()
            case StreamErrorDelta():
                self._ended = True
                out.append(_event(*exception_event(delta.error)))
        return out

    def finish(self) -> list[StreamEvent]:
        if self._ended or not self._stopped:
            return []  # a truncated upstream gets no messageStop, so the caller can tell
        return self._metadata()

    def _open_block(self, index: int) -> int:
        wire = self._blocks[index] = len(self._blocks)
        self._open = index
        return wire

    def _delta(self, index: int, delta: Mapping[str, Any], out: list[StreamEvent]) -> StreamEvent:
        if self._open != index:
            self._close(out)
            self._open_block(index)
        return _event(
            "contentBlockDelta", {"delta": delta, "contentBlockIndex": self._blocks[index]}
        )

    def _close(self, out: list[StreamEvent]) -> None:
        if self._open is not None:
            out.append(_event("contentBlockStop", {"contentBlockIndex": self._blocks[self._open]}))
            self._open = None

    def _stop(self, reason: str, stop_sequence: str | None) -> list[StreamEvent]:
        out: list[StreamEvent] = []
        self._close(out)
        self._stopped = True
        payload: dict[str, Any] = {"stopReason": reason}
        if stop_sequence is not None:
            payload["additionalModelResponseFields"] = {"stop_sequence": stop_sequence}
        out.append(_event("messageStop", payload))
        return out

    def _metadata(self) -> list[StreamEvent]:
        self._ended = True
        usage = render_usage(self._usage or Usage())
        return [_event("metadata", {"usage": usage, "metrics": {"latencyMs": 0}})]


def _event(name: str, payload: Mapping[str, Any]) -> StreamEvent:
    return StreamEvent(name, dumps(payload))
