"""Anthropic Messages SSE streams <-> universal stream deltas (both directions)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from llm_router.formats import (
    get_int,
    get_obj,
    get_str,
    need_obj,
    need_str,
)
from llm_router.formats._anthropic_wire import (
    FINISH,
    ORIGIN,
    error_status,
    new_message_id,
    parse_error,
    parse_usage,
    render_error,
    render_usage,
    sse_event,
    tool_id,
)
from llm_router.types import StreamEvent
from llm_router.universal import (
    BlockStop,
    Finish,
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
    object_to_arguments,
)

__all__ = ["StreamParser", "StreamRenderer"]


class StreamParser:
    """Messages SSE events (decoded `data:` JSON) -> universal deltas."""

    def __init__(self) -> None:
        self._blocks: dict[int, int] = {}  # wire index -> universal index
        self._usage = Usage()  # as of message_start; message_delta brings the rest

    def feed(self, event: Mapping[str, Any]) -> list[StreamDelta]:
        kind = event.get("type")
        if kind == "content_block_delta":
            # Nearly every event of a stream: a text delta of a block already started, read
            # here with the checks of `_delta` done inline (anything else takes `_delta`).
            delta = event.get("delta")
            if type(delta) is dict and delta.get("type") == "text_delta":
                wire_index = event.get("index")
                text = delta.get("text")
                if type(wire_index) is int and type(text) is str:
                    index = self._blocks.get(wire_index)
                    return [] if index is None else [TextDelta(index, text)]
            return self._delta(event)
        if kind == "content_block_start":
            return self._start(event)
        if kind == "content_block_stop":
            index = self._blocks.get(get_int(event, "index", "") or 0)
            return [] if index is None else [BlockStop(index)]
        if kind == "message_start":
            msg = need_obj(event.get("message"), "message")
            usage = get_obj(msg, "usage", "message")
            if usage is not None:
                self._usage = parse_usage(usage, "message.usage")
            return [
                MessageStart(
                    id=get_str(msg, "id", "message"), model=get_str(msg, "model", "message")
                )
            ]
        if kind == "message_delta":
            return self._message_delta(event)
        if kind == "error":
            return [StreamErrorDelta(parse_error(error_status(event), event))]
        return []  # ping, message_stop, and event types added after this was written

    def finish(self) -> list[StreamDelta]:
        return []

    def _start(self, event: Mapping[str, Any]) -> list[StreamDelta]:
        block = need_obj(event.get("content_block"), "content_block")
        kind = block.get("type")
        if kind not in ("text", "tool_use", "thinking", "redacted_thinking"):
            return []  # server-tool blocks have no universal stream form
        index = len(self._blocks)
        self._blocks[get_int(event, "index", "") or 0] = index
        if kind == "tool_use":
            out: list[StreamDelta] = [
                ToolCallStart(
                    index,
                    need_str(block, "id", "content_block"),
                    need_str(block, "name", "content_block"),
                )
            ]
            if block.get("input"):
                out.append(ToolCallDelta(index, object_to_arguments(block["input"])))
            return out
        if kind == "redacted_thinking":
            return [
                ReasoningSignatureDelta(
                    index,
                    encrypted=get_str(block, "data", "content_block"),
                    redacted=True,
                    origin=ORIGIN,
                )
            ]
        text = get_str(block, "text" if kind == "text" else "thinking", "content_block")
        if not text:
            return []
        return [TextDelta(index, text) if kind == "text" else ReasoningDelta(index, text)]

    def _delta(self, event: Mapping[str, Any]) -> list[StreamDelta]:
        wire_index = event.get("index")
        delta = event.get("delta")
        if type(wire_index) is int and type(delta) is dict:
            # Nearly every event of a stream: a text delta of a block already started, read
            # with the checks below done inline (anything else takes the checked path).
            text = delta.get("text")
            if type(text) is str and delta.get("type") == "text_delta":
                index = self._blocks.get(wire_index)
                return [] if index is None else [TextDelta(index, text)]
        index = self._blocks.get(get_int(event, "index", "") or 0)
        if index is None:
            return []
        delta = need_obj(delta, "delta")
        kind = delta.get("type")
        if kind == "text_delta":
            return [TextDelta(index, need_str(delta, "text", "delta"))]
        if kind == "input_json_delta":
            fragment = need_str(delta, "partial_json", "delta")
            return [ToolCallDelta(index, fragment)] if fragment else []
        if kind == "thinking_delta":
            return [ReasoningDelta(index, need_str(delta, "thinking", "delta"))]
        if kind == "signature_delta":
            return [
                ReasoningSignatureDelta(
                    index, signature=need_str(delta, "signature", "delta"), origin=ORIGIN
                )
            ]
        return []  # citations_delta: citations are not carried in universal streams

    def _message_delta(self, event: Mapping[str, Any]) -> list[StreamDelta]:
        out: list[StreamDelta] = []
        delta = get_obj(event, "delta", "") or {}
        reason = FINISH.parse(get_str(delta, "stop_reason", "delta"))
        if reason is not None:
            out.append(Finish(reason, get_str(delta, "stop_sequence", "delta")))
        usage = get_obj(event, "usage", "")
        if usage is not None:
            newer = parse_usage(usage, "usage")
            if newer.input_tokens is None and self._usage.input_tokens is not None:
                # Older API versions report only output_tokens here: keep the start's input.
                newer = Usage(
                    output_tokens=newer.output_tokens, reasoning_tokens=newer.reasoning_tokens
                )
            self._usage = self._usage.merge(newer)
            out.append(UsageDelta(self._usage))
        return out


class StreamRenderer:
    """Universal deltas -> Messages SSE events, from `message_start` to `message_stop`."""

    def __init__(self) -> None:
        self._started = False
        self._ended = False
        self._blocks: dict[int, int] = {}  # universal index -> wire index
        self._open: int | None = None  # universal index of the open block
        self._finish: Finish | None = None
        self._usage: Usage | None = None

    def feed(self, delta: StreamDelta) -> list[StreamEvent]:
        if self._ended:
            return []
        out: list[StreamEvent] = []
        if not self._started:
            out.append(
                self._message_start(delta if isinstance(delta, MessageStart) else MessageStart())
            )
        match delta:
            case TextDelta() | RefusalDelta():
                self._ensure_block(delta.index, "text", out)
                out.append(self._delta(delta.index, {"type": "text_delta", "text": delta.text}))
            case ReasoningDelta():
                self._ensure_block(delta.index, "thinking", out)
                out.append(
                    self._delta(delta.index, {"type": "thinking_delta", "thinking": delta.text})
                )
            case ReasoningSignatureDelta():
                self._reasoning_signature(delta, out)
            case ToolCallStart():
                block = {
                    "type": "tool_use",
                    "id": tool_id(delta.id),
                    "name": delta.name,
                    "input": {},
                }
                self._ensure_block(delta.index, "tool_use", out, block)
            case ToolCallDelta():
                # Blocks cannot be reopened: fragments for a closed call have nowhere to go.
                if self._open == delta.index and delta.arguments:
                    out.append(
                        self._delta(
                            delta.index,
                            {"type": "input_json_delta", "partial_json": delta.arguments},
                        )
                    )
            case BlockStop():
                if self._open == delta.index:
                    self._close(out)
            case Finish():
                self._close(out)
                self._finish = delta
            case UsageDelta():
                self._usage = delta.usage if self._usage is None else self._usage.merge(delta.usage)
                if self._finish is not None:
                    out += self._end()
            case StreamErrorDelta():
                self._ended = True
                out.append(sse_event("error", render_error(delta.error)[1]))
        return out

    def finish(self) -> list[StreamEvent]:
        if self._ended or self._finish is None:
            return []  # a truncated upstream gets no message_stop, so the caller can tell
        return self._end()

    def _message_start(self, start: MessageStart) -> StreamEvent:
        self._started = True
        message: dict[str, Any] = {
            "id": start.id or new_message_id(),
            "type": "message",
            "role": "assistant",
            "model": start.model or "unknown",
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 0, "output_tokens": 0},
        }
        return sse_event("message_start", {"type": "message_start", "message": message})

    def _delta(self, index: int, delta: Mapping[str, Any]) -> StreamEvent:
        payload = {"type": "content_block_delta", "index": self._blocks[index], "delta": delta}
        return sse_event("content_block_delta", payload)

    def _ensure_block(
        self, index: int, kind: str, out: list[StreamEvent], block: dict[str, Any] | None = None
    ) -> None:
        if self._open == index:
            return
        self._close(out)
        if block is None:
            block = (
                {"type": "text", "text": ""}
                if kind == "text"
                else {"type": "thinking", "thinking": "", "signature": ""}
            )
        wire = self._blocks[index] = len(self._blocks)
        self._open = index
        out.append(
            sse_event(
                "content_block_start",
                {"type": "content_block_start", "index": wire, "content_block": block},
            )
        )

    def _reasoning_signature(self, delta: ReasoningSignatureDelta, out: list[StreamEvent]) -> None:
        if delta.origin != ORIGIN:
            return
        if delta.redacted:
            block = {"type": "redacted_thinking", "data": delta.encrypted or ""}
            self._ensure_block(delta.index, "redacted_thinking", out, block)
            return
        if delta.signature:
            self._ensure_block(delta.index, "thinking", out)
            out.append(
                self._delta(delta.index, {"type": "signature_delta", "signature": delta.signature})
            )

    def _close(self, out: list[StreamEvent]) -> None:
        if self._open is not None:
            payload = {"type": "content_block_stop", "index": self._blocks[self._open]}
            out.append(sse_event("content_block_stop", payload))
            self._open = None

    def _end(self) -> list[StreamEvent]:
        self._ended = True
        finish = self._finish
        reason = FINISH.render(finish.reason if finish else None)
        delta = {"stop_reason": reason, "stop_sequence": finish.stop_sequence if finish else None}
        usage = render_usage(self._usage or Usage())
        return [
            sse_event("message_delta", {"type": "message_delta", "delta": delta, "usage": usage}),
            sse_event("message_stop", {"type": "message_stop"}),
        ]
