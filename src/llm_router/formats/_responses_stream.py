"""OpenAI Responses stream events <-> universal deltas.

Rendering follows the API's lifecycle: `response.created` -> `response.in_progress` -> per
output item `output_item.added` -> (`content_part.added` -> `output_text.delta`... ->
`output_text.done` -> `content_part.done`) -> `output_item.done` -> `response.completed`
(or `.incomplete` / `.failed`), every event with the next `sequence_number`. The terminal
event carries the full output and usage, so it is sent from `finish()`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from llm_router._json import dumps
from llm_router.formats import get_int, get_obj, get_str, need_obj
from llm_router.formats._responses_items import (
    ORIGIN,
    finish_from_status,
    new_id,
    parse_usage,
    response_object,
)
from llm_router.formats.openai import error_from_body
from llm_router.types import StreamEvent
from llm_router.universal import (
    BlockStop,
    ErrorInfo,
    ErrorType,
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

_TERMINAL = frozenset({"response.completed", "response.incomplete", "response.failed"})


class StreamParser:
    """Responses events -> universal deltas; one block per content part / tool call / reasoning."""

    __slots__ = ("_blocks", "_called_tools", "_next", "_reasoning")

    def __init__(self) -> None:
        self._next = 0
        self._blocks: dict[tuple[int, int], int] = {}  # (output_index, content_index) -> block
        self._reasoning: dict[int, str | None] = {}  # reasoning output_index -> item id
        self._called_tools = False

    def _block(self, output_index: int, content_index: int = 0) -> int:
        key = (output_index, content_index)
        block = self._blocks.get(key)
        if block is None:
            block = self._blocks[key] = self._next
            self._next += 1
        return block

    def feed(self, event: Mapping[str, Any]) -> list[StreamDelta]:
        event = need_obj(event, "")
        kind = event.get("type")
        out: list[StreamDelta] = []
        if type(kind) is not str:
            return out  # not a Responses event (e.g. pre-release shapes): nothing to carry
        if kind == "response.output_text.delta":
            # Most events of a stream are deltas to a block already seen: check them quickly.
            fast = self._known_block(event, event.get("content_index"))
            if fast is not None:
                return [TextDelta(*fast)]
            block = self._block(_int(event, "output_index"), _int(event, "content_index"))
            out.append(TextDelta(block, get_str(event, "delta", "") or ""))
        elif kind == "response.function_call_arguments.delta":
            block = self._block(_int(event, "output_index"))
            out.append(ToolCallDelta(block, get_str(event, "delta", "") or ""))
        elif kind in ("response.reasoning_summary_text.delta", "response.reasoning_text.delta"):
            summary = kind == "response.reasoning_summary_text.delta"
            paragraph = event.get("summary_index" if summary else "content_index")
            fast = self._known_block(event, 0)
            if fast is not None and type(paragraph) is int:
                return [ReasoningDelta(*fast, summary, paragraph)]
            block = self._block(_int(event, "output_index"))
            index = _int(event, "summary_index" if summary else "content_index")
            out.append(ReasoningDelta(block, get_str(event, "delta", "") or "", summary, index))
        elif kind == "response.refusal.delta":
            block = self._block(_int(event, "output_index"), _int(event, "content_index"))
            out.append(RefusalDelta(block, get_str(event, "delta", "") or ""))
        elif kind == "response.output_item.added":
            self._item_added(event, out)
        elif kind == "response.output_item.done":
            self._item_done(event, out)
        elif kind == "response.content_part.done":
            key = (_int(event, "output_index"), _int(event, "content_index"))
            if key in self._blocks:
                out.append(BlockStop(self._blocks[key]))
        elif kind == "response.created":
            response = need_obj(event.get("response"), "response")
            created = response.get("created_at")
            out.append(
                MessageStart(
                    get_str(response, "id", "response"),
                    get_str(response, "model", "response"),
                    int(created) if isinstance(created, int | float) else None,
                )
            )
        elif kind in _TERMINAL:
            self._terminal(need_obj(event.get("response"), "response"), out)
        elif kind == "error":
            out.append(StreamErrorDelta(_event_error(event)))
        # Other events (in_progress, *.done duplicates, hosted tool progress) carry nothing new.
        return out

    def finish(self) -> list[StreamDelta]:
        return []

    def _known_block(self, event: Mapping[str, Any], content_index: Any) -> tuple[int, str] | None:
        """(block, delta) of a well-formed delta event to a block already seen, else None."""
        output_index = event.get("output_index")
        delta = event.get("delta")
        if type(output_index) is int and type(content_index) is int and type(delta) is str:
            block = self._blocks.get((output_index, content_index))
            if block is not None:
                return block, delta
        return None

    def _item_added(self, event: Mapping[str, Any], out: list[StreamDelta]) -> None:
        item = need_obj(event.get("item"), "item")
        output_index = _int(event, "output_index")
        kind = item.get("type")
        if kind == "function_call":
            self._called_tools = True
            block = self._block(output_index)
            out.append(
                ToolCallStart(
                    block,
                    get_str(item, "call_id", "item") or "",
                    get_str(item, "name", "item") or "",
                    item_id=get_str(item, "id", "item"),
                )
            )
            arguments = get_str(item, "arguments", "item")
            if arguments:
                out.append(ToolCallDelta(block, arguments))
        elif kind == "reasoning":
            self._reasoning[output_index] = get_str(item, "id", "item")

    def _item_done(self, event: Mapping[str, Any], out: list[StreamDelta]) -> None:
        item = need_obj(event.get("item"), "item")
        output_index = _int(event, "output_index")
        kind = item.get("type")
        if kind == "function_call":
            out.append(BlockStop(self._block(output_index)))
        elif kind == "reasoning":
            encrypted = get_str(item, "encrypted_content", "item")
            key = (output_index, 0)
            if encrypted is not None or key in self._blocks:
                block = self._block(output_index)
                out.append(
                    ReasoningSignatureDelta(
                        block,
                        encrypted=encrypted,
                        id=get_str(item, "id", "item"),
                        origin=ORIGIN,
                    )
                )
                out.append(BlockStop(block))

    def _terminal(self, response: Mapping[str, Any], out: list[StreamDelta]) -> None:
        usage = parse_usage(get_obj(response, "usage", "response"))
        if usage is not None:
            out.append(UsageDelta(usage))
        status = get_str(response, "status", "response")
        if status == "failed":
            error = response.get("error")
            body = {"error": error} if isinstance(error, dict) else {}
            info = error_from_body(500, body)
            out.append(StreamErrorDelta(ErrorInfo(ErrorType.SERVER, info.message, code=info.code)))
            return
        details = get_obj(response, "incomplete_details", "response")
        reason = finish_from_status(
            status,
            None if details is None else get_str(details, "reason", "incomplete_details"),
            self._called_tools,
        )
        out.append(Finish(reason or FinishReason.STOP))


def _int(event: Mapping[str, Any], key: str) -> int:
    return get_int(event, key, "") or 0


def _event_error(event: Mapping[str, Any]) -> ErrorInfo:
    code = event.get("code")
    message = event.get("message")
    info = error_from_body(500, {"error": {"code": code, "message": message}})
    kind = info.type if code else ErrorType.SERVER
    return ErrorInfo(kind, info.message, None, info.code, get_str(event, "param", ""))


# --------------------------------------------------------------------------- render


class _Item:
    """The output item being streamed."""

    __slots__ = ("block", "data", "kind", "output_index", "text")

    def __init__(self, kind: str, block: int, output_index: int, data: dict[str, Any]) -> None:
        self.kind = kind  # "text" | "refusal" | "reasoning" | "call"
        self.block = block
        self.output_index = output_index
        self.data = data  # the item object, completed when it closes
        self.text: list[str] = []


class StreamRenderer:
    """Universal deltas -> Responses events with full item/part objects."""

    __slots__ = (
        "_created",
        "_done",
        "_finish",
        "_id",
        "_item",
        "_model",
        "_output",
        "_seq",
        "_started",
        "_usage",
    )

    def __init__(self) -> None:
        self._seq = 0
        self._started = False
        self._done = False
        self._id = ""
        self._model = ""
        self._created = 0
        self._item: _Item | None = None
        self._output: list[dict[str, Any]] = []
        self._usage: Usage | None = None
        self._finish: Finish | None = None

    def _event(self, kind: str, body: dict[str, Any]) -> StreamEvent:
        body["type"] = kind
        body["sequence_number"] = self._seq
        self._seq += 1
        return StreamEvent(kind, dumps(body))

    def feed(self, delta: StreamDelta) -> list[StreamEvent]:
        if self._done:
            return []
        out: list[StreamEvent] = []
        if not self._started and not isinstance(delta, StreamErrorDelta):
            self._start(delta if isinstance(delta, MessageStart) else MessageStart(), out)
        if isinstance(delta, TextDelta):
            item = self._open("text", delta.index, out)
            item.text.append(delta.text)
            out.append(self._event("response.output_text.delta", self._part_ref(item, delta.text)))
        elif isinstance(delta, ToolCallDelta):
            call = self._item
            if call is not None and call.block == delta.index and call.kind == "call":
                call.text.append(delta.arguments)
                body = {"item_id": call.data["id"], "output_index": call.output_index}
                body["delta"] = delta.arguments
                out.append(self._event("response.function_call_arguments.delta", body))
        elif isinstance(delta, ReasoningDelta):
            item = self._open("reasoning", delta.index, out)
            ref = {
                "item_id": item.data["id"],
                "output_index": item.output_index,
                "summary_index": 0,
            }
            if not item.text:
                part = {"type": "summary_text", "text": ""}
                out.append(
                    self._event("response.reasoning_summary_part.added", {**ref, "part": part})
                )
            item.text.append(delta.text)
            body = {
                "item_id": item.data["id"],
                "output_index": item.output_index,
                "summary_index": 0,
                "delta": delta.text,
            }
            out.append(self._event("response.reasoning_summary_text.delta", body))
        elif isinstance(delta, ToolCallStart):
            self._close(out)
            data = {
                "id": delta.item_id or new_id("fc"),
                "type": "function_call",
                "status": "in_progress",
                "arguments": "",
                "call_id": delta.id,
                "name": delta.name,
            }
            self._add_item(_Item("call", delta.index, len(self._output), data), out)
        elif isinstance(delta, RefusalDelta):
            item = self._open("refusal", delta.index, out)
            item.text.append(delta.text)
            out.append(self._event("response.refusal.delta", self._part_ref(item, delta.text)))
        elif isinstance(delta, ReasoningSignatureDelta):
            item = self._open("reasoning", delta.index, out)
            if delta.origin == ORIGIN:
                if delta.id is not None:
                    item.data["id"] = delta.id
                if delta.encrypted is not None:
                    item.data["encrypted_content"] = delta.encrypted
        elif isinstance(delta, BlockStop):
            if self._item is not None and self._item.block == delta.index:
                self._close(out)
        elif isinstance(delta, UsageDelta):
            self._usage = delta.usage if self._usage is None else self._usage.merge(delta.usage)
        elif isinstance(delta, Finish):
            self._close(out)
            self._finish = delta
        elif isinstance(delta, StreamErrorDelta):
            self._close(out)
            self._done = True
            err = delta.error
            body = {"code": err.code or err.type.value, "message": err.message, "param": err.param}
            out.append(self._event("error", body))
        return out

    def finish(self) -> list[StreamEvent]:
        if self._done:
            return []
        self._done = True
        out: list[StreamEvent] = []
        if self._finish is None:
            return out  # truncated upstream: no terminal event, so the caller can tell
        if not self._started:
            self._start(MessageStart(), out)
        self._close(out)
        response = response_object(
            self._id, self._model, self._created, self._output, self._finish.reason, self._usage
        )
        status = response["status"]
        kind = "response.completed" if status == "completed" else f"response.{status}"
        out.append(self._event(kind, {"response": response}))
        return out

    # -- lifecycle helpers

    def _start(self, start: MessageStart, out: list[StreamEvent]) -> None:
        self._started = True
        self._id = start.id or new_id("resp")
        self._model = start.model or ""
        self._created = start.created if start.created is not None else int(time.time())
        for kind in ("response.created", "response.in_progress"):
            response = response_object(
                self._id, self._model, self._created, [], None, None, status="in_progress"
            )
            out.append(self._event(kind, {"response": response}))

    def _open(self, kind: str, block: int, out: list[StreamEvent]) -> _Item:
        item = self._item
        if item is not None and item.block == block and item.kind == kind:
            return item
        self._close(out)
        output_index = len(self._output)
        if kind == "reasoning":
            data: dict[str, Any] = {"id": new_id("rs"), "type": "reasoning", "summary": []}
            return self._add_item(_Item(kind, block, output_index, data), out)
        data = {
            "id": new_id("msg"),
            "type": "message",
            "status": "in_progress",
            "content": [],
            "role": "assistant",
        }
        item = self._add_item(_Item(kind, block, output_index, data), out)
        body = self._part_ref(item, None)
        body["part"] = _empty_part(kind)
        out.append(self._event("response.content_part.added", body))
        return item

    def _add_item(self, item: _Item, out: list[StreamEvent]) -> _Item:
        self._item = item
        self._output.append(item.data)
        # Serialised at once, so the later mutations of `item.data` do not leak into it.
        body = {"output_index": item.output_index, "item": item.data}
        out.append(self._event("response.output_item.added", body))
        return item

    def _part_ref(self, item: _Item, delta: str | None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "item_id": item.data["id"],
            "output_index": item.output_index,
            "content_index": 0,
        }
        if delta is not None:
            body["delta"] = delta
            if item.kind == "text":
                body["logprobs"] = []
        return body

    def _close(self, out: list[StreamEvent]) -> None:
        item = self._item
        if item is None:
            return
        self._item = None
        text = "".join(item.text)
        data = item.data
        if item.kind == "call":
            data["arguments"] = text
            data["status"] = "completed"
            body = {"item_id": data["id"], "output_index": item.output_index, "arguments": text}
            body["name"] = data["name"]
            out.append(self._event("response.function_call_arguments.done", body))
        elif item.kind == "reasoning":
            if item.text:
                summary = {"type": "summary_text", "text": text}
                data["summary"] = [summary]
                ref = {"item_id": data["id"], "output_index": item.output_index, "summary_index": 0}
                out.append(
                    self._event("response.reasoning_summary_text.done", {**ref, "text": text})
                )
                out.append(
                    self._event("response.reasoning_summary_part.done", {**ref, "part": summary})
                )
        else:
            if item.kind == "text":
                part: dict[str, Any] = {"type": "output_text", "text": text, "annotations": []}
                done = self._part_ref(item, None)
                done["text"] = text
                done["logprobs"] = []
                out.append(self._event("response.output_text.done", done))
            else:
                part = {"type": "refusal", "refusal": text}
                done = self._part_ref(item, None)
                done["refusal"] = text
                out.append(self._event("response.refusal.done", done))
            data["content"] = [part]
            data["status"] = "completed"
            body = self._part_ref(item, None)
            body["part"] = part
            out.append(self._event("response.content_part.done", body))
        out.append(
            self._event(
                "response.output_item.done", {"output_index": item.output_index, "item": data}
            )
        )


def _empty_part(kind: str) -> dict[str, Any]:
    if kind == "text":
        return {"type": "output_text", "text": "", "annotations": []}
    return {"type": "refusal", "refusal": ""}
