"""Chat Completions answers <-> universal, for every Chat dialect: whole responses and streams.

Only the first choice is translated (`n > 1` answers keep choice 0). Stream chunks are
rendered from a pre-serialised head so each delta costs one small `orjson.dumps`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import orjson

from llm_router._json import dumps
from llm_router.formats import (
    field_error,
    get_int,
    get_list,
    get_obj,
    get_str,
    need_obj,
    random_hex,
)
from llm_router.formats._chat_request import ChatDialect, parse_assistant, plain_assistant
from llm_router.types import StreamEvent
from llm_router.universal import (
    BlockStop,
    ContentPart,
    ErrorInfo,
    Finish,
    FinishReason,
    MessageStart,
    ReasoningDelta,
    ReasoningPart,
    RefusalDelta,
    RefusalPart,
    Response,
    StreamDelta,
    StreamErrorDelta,
    TextDelta,
    TextPart,
    ToolCallDelta,
    ToolCallPart,
    ToolCallStart,
    Usage,
    UsageDelta,
)

__all__ = [
    "ChatStreamParser",
    "ChatStreamRenderer",
    "parse_chat_response",
    "parse_usage",
    "render_chat_response",
    "render_usage",
]

_DONE = StreamEvent(None, b"[DONE]")


def new_id(prefix: str) -> str:
    return prefix + random_hex(12)


# --------------------------------------------------------------------------- whole responses


def parse_chat_response(obj: Mapping[str, Any], d: ChatDialect) -> Response:
    # The fields are read inline, in this order; a value of another type gets the error its
    # reader (`get_str`, `get_list`...) would raise, so the first fault is the one named.
    if type(obj) is not dict:
        obj = need_obj(obj, "")
    content: tuple[ContentPart, ...] = ()
    finish = None
    choices = obj.get("choices")
    if type(choices) is not list:
        choices = get_list(obj, "choices", "")
    if choices:
        choice = choices[0]
        if type(choice) is not dict:
            choice = need_obj(choice, "choices[0]")
        msg = choice.get("message")
        if msg is not None:
            if type(msg) is not dict:
                raise field_error("choices[0]", "message", "object", msg)
            text = msg.get("content")
            if type(text) is str and plain_assistant(msg):
                content = (TextPart(text),)
            else:
                content = parse_assistant(msg, "choices[0].message", d).content
            annotations = msg.get("annotations")
            if type(annotations) is list and annotations:
                flat = tuple(_flat_annotation(a) for a in annotations if type(a) is dict)
                content = _annotate_last_text(content, flat)
        reason = choice.get("finish_reason")
        if reason is not None:
            if type(reason) is not str:
                raise field_error("choices[0]", "finish_reason", "string", reason)
            finish = d.finish.parse(reason)
    extras: dict[str, Any] | None = None
    fingerprint = obj.get("system_fingerprint")  # the `_RESPONSE_EXTRAS`, read inline
    tier = obj.get("service_tier")
    if fingerprint is not None or tier is not None:
        extras = {}
        if fingerprint is not None:
            extras["system_fingerprint"] = fingerprint
        if tier is not None:
            extras["service_tier"] = tier
    response_id = obj.get("id")
    if response_id is not None and type(response_id) is not str:
        raise field_error("", "id", "string", response_id)
    model = obj.get("model")
    if model is not None and type(model) is not str:
        raise field_error("", "model", "string", model)
    created = obj.get("created")
    if created is not None and type(created) is not int:
        created = get_int(obj, "created", "")
    usage = obj.get("usage")
    if usage is not None and type(usage) is not dict:
        raise field_error("", "usage", "object", usage)
    return Response(
        content,
        response_id,
        model,
        created,
        finish,
        None,
        parse_usage(usage),
        extras,
        None if extras is None else d.origin,
    )


# Top-level response fields kept for a response rendered back to the same dialect.
_RESPONSE_EXTRAS = ("system_fingerprint", "service_tier")


def _annotate_last_text(
    content: tuple[ContentPart, ...], annotations: tuple[Any, ...]
) -> tuple[ContentPart, ...]:
    for i in range(len(content) - 1, -1, -1):
        part = content[i]
        if isinstance(part, TextPart):
            annotated = TextPart(part.text, part.cache_control, part.signature, annotations)
            return (*content[:i], annotated, *content[i + 1 :])
    return content


def _flat_annotation(a: Mapping[str, Any]) -> Mapping[str, Any]:
    """Chat nests citation fields under the type's name; universal keeps them flat."""
    kind = a.get("type")
    nested = a.get(kind) if type(kind) is str else None
    return {"type": kind, **nested} if type(nested) is dict else a


def _nested_annotation(a: Mapping[str, Any]) -> dict[str, Any]:
    kind = a["type"]
    return {"type": kind, kind: {k: v for k, v in a.items() if k != "type"}}


def parse_usage(u: Mapping[str, Any] | None) -> Usage | None:
    if u is None:
        return None
    # Every answer carries usage: the counts are read inline, and only one that is not an
    # integer goes through `get_int` (which converts an integral float or names the fault).
    # Read in field order, so that of several faults the first is the one named.
    input_tokens = u.get("prompt_tokens")
    if input_tokens is not None and type(input_tokens) is not int:
        input_tokens = get_int(u, "prompt_tokens", "usage")
    output_tokens = u.get("completion_tokens")
    if output_tokens is not None and type(output_tokens) is not int:
        output_tokens = get_int(u, "completion_tokens", "usage")
    cache_read = cache_write = reasoning = None
    prompt = u.get("prompt_tokens_details")
    if type(prompt) is dict:
        cache_read = prompt.get("cached_tokens")
        if cache_read is not None and type(cache_read) is not int:
            cache_read = get_int(prompt, "cached_tokens", "usage.prompt_tokens_details")
        cache_write = prompt.get("cache_write_tokens")
        if cache_write is not None and type(cache_write) is not int:
            cache_write = get_int(prompt, "cache_write_tokens", "usage.prompt_tokens_details")
    completion = u.get("completion_tokens_details")
    if type(completion) is dict:
        reasoning = completion.get("reasoning_tokens")
        if reasoning is not None and type(reasoning) is not int:
            reasoning = get_int(completion, "reasoning_tokens", "usage.completion_tokens_details")
    total = u.get("total_tokens")
    if total is not None and type(total) is not int:
        total = get_int(u, "total_tokens", "usage")
    return Usage(input_tokens, output_tokens, cache_read, cache_write, reasoning, total)


def render_usage(usage: Usage, d: ChatDialect) -> dict[str, Any]:
    input_tokens = usage.input_tokens or 0
    output_tokens = usage.output_tokens or 0
    total = usage.total_tokens  # `Usage.total`, without a property call
    out: dict[str, Any] = {
        "prompt_tokens": input_tokens,
        "completion_tokens": output_tokens,
        "total_tokens": input_tokens + output_tokens if total is None else total,
    }
    if d.usage_details:
        prompt: dict[str, int] = {}
        if usage.cache_read_tokens is not None:
            prompt["cached_tokens"] = usage.cache_read_tokens
        if usage.cache_write_tokens is not None:
            prompt["cache_write_tokens"] = usage.cache_write_tokens
        if prompt:
            out["prompt_tokens_details"] = prompt
        if usage.reasoning_tokens is not None:
            out["completion_tokens_details"] = {"reasoning_tokens": usage.reasoning_tokens}
    return out


def render_chat_response(resp: Response, d: ChatDialect) -> dict[str, Any]:
    content = resp.content
    calls: list[dict[str, Any]] = []
    if len(content) == 1 and type(content[0]) is TextPart and not content[0].annotations:
        # The common answer: one text part.
        message: dict[str, Any] = {"role": "assistant", "content": content[0].text, "refusal": None}
    else:
        message = _render_message(content, d, calls)
    reason = resp.finish_reason
    if reason is None and calls:
        reason = FinishReason.TOOL_CALLS
    created = resp.created
    out: dict[str, Any] = {
        "id": resp.id or new_id("chatcmpl-"),
        "object": "chat.completion",
        "created": created if created is not None else int(time.time()),
        "model": resp.model or "",
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": d.finish.render(reason),
                "logprobs": None,
            }
        ],
    }
    if resp.usage is not None:
        out["usage"] = render_usage(resp.usage, d)
    if resp.extras and resp.extras_origin == d.origin:
        for key, value in resp.extras.items():
            out.setdefault(key, value)
    return out


def _render_message(
    content: tuple[ContentPart, ...], d: ChatDialect, calls: list[dict[str, Any]]
) -> dict[str, Any]:
    """The answer's assistant message, with its tool calls also appended to `calls`."""
    texts: list[str] = []
    annotations: list[Any] = []
    refusal: list[str] = []
    reasoning: list[str] = []
    for p in content:
        if isinstance(p, TextPart):
            texts.append(p.text)
            if p.annotations and "annotations" in d.optional_fields:
                annotations.extend(
                    _nested_annotation(a) for a in p.annotations if a.get("type") == "url_citation"
                )
        elif isinstance(p, ToolCallPart):
            calls.append(
                {
                    "id": d.tool_call_id(p.id),
                    "type": "function",
                    "function": {"name": p.name, "arguments": p.arguments},
                }
            )
        elif isinstance(p, RefusalPart):
            refusal.append(p.text)
        elif isinstance(p, ReasoningPart):
            text = p.text or "\n\n".join(p.summary)
            if text:
                reasoning.append(text)
    message: dict[str, Any] = {
        "role": "assistant",
        "content": "".join(texts) if texts else None,
        "refusal": "".join(refusal) if refusal else None,
    }
    if annotations:
        message["annotations"] = annotations
    if calls:
        message["tool_calls"] = calls
    if reasoning:
        message["reasoning_content"] = "\n\n".join(reasoning)
    return message


# --------------------------------------------------------------------------- stream: parse


class ChatStreamParser:
    """Chunks -> universal deltas. Blocks are numbered in order of first appearance."""

    __slots__ = ("_d", "_kinds", "_next", "_on_error", "_open", "_started", "_tools")

    def __init__(self, d: ChatDialect, on_error: Callable[[int, Any], ErrorInfo]) -> None:
        self._d = d
        self._on_error = on_error
        self._started = False
        self._next = 0
        self._open: int | None = None
        self._kinds: dict[str, int] = {}  # "text"/"reasoning"/"refusal" -> its latest block
        self._tools: dict[int, int] = {}  # wire tool-call index -> block index

    def feed(self, event: Mapping[str, Any]) -> list[StreamDelta]:
        text = self._more_text(event)
        if text is not None:
            return [TextDelta(self._kinds["text"], text)]
        out: list[StreamDelta] = []
        event = need_obj(event, "")
        if "choices" not in event and event.get("error") is not None:
            out.append(StreamErrorDelta(self._on_error(500, event)))
            return out
        if not self._started:
            self._started = True
            out.append(
                MessageStart(
                    get_str(event, "id", ""),
                    get_str(event, "model", ""),
                    get_int(event, "created", ""),
                )
            )
        for i, raw in enumerate(get_list(event, "choices", "")):
            path = f"choices[{i}]"
            choice = need_obj(raw, path)
            if choice.get("index", 0) != 0:
                continue
            delta = get_obj(choice, "delta", path)
            if delta:
                self._delta(delta, f"{path}.delta", out)
            reason = get_str(choice, "finish_reason", path)
            if reason is not None:
                self._close(out)
                out.append(Finish(self._d.finish.parse(reason) or FinishReason.OTHER))
        usage = get_obj(event, "usage", "")
        if usage is not None:
            parsed = parse_usage(usage)
            if parsed is not None:
                out.append(UsageDelta(parsed))
        return out

    def finish(self) -> list[StreamDelta]:
        out: list[StreamDelta] = []
        self._close(out)
        return out

    def _more_text(self, event: Mapping[str, Any]) -> str | None:
        """The text of a chunk that only continues the open text block (most chunks), else None.

        Checked quickly here; every other chunk takes the general path, which validates it.
        """
        if self._open is None or self._kinds.get("text") != self._open or type(event) is not dict:
            return None
        choices = event.get("choices")
        if type(choices) is not list or len(choices) != 1 or event.get("usage") is not None:
            return None
        choice = choices[0]
        if type(choice) is not dict or choice.get("finish_reason") is not None:
            return None
        delta = choice.get("delta")
        if type(delta) is not dict or len(delta) != 1 or choice.get("index", 0) != 0:
            return None
        text = delta.get("content")
        return text if type(text) is str and text else None

    def _delta(self, delta: Mapping[str, Any], path: str, out: list[StreamDelta]) -> None:
        reasoning = delta.get("reasoning_content")
        if reasoning is None:
            reasoning = delta.get("reasoning")
        if type(reasoning) is str and reasoning:
            out.append(ReasoningDelta(self._block("reasoning", out), reasoning))
        content = delta.get("content")
        if type(content) is str:
            if content:
                out.append(TextDelta(self._block("text", out), content))
        elif type(content) is list:  # Mistral sends typed chunks (text / thinking)
            for part in content:
                if type(part) is not dict:
                    continue
                if part.get("type") == "thinking":
                    for chunk in part.get("thinking") or ():
                        text = chunk.get("text") if type(chunk) is dict else None
                        if type(text) is str and text:
                            out.append(ReasoningDelta(self._block("reasoning", out), text))
                else:
                    text = part.get("text")
                    if type(text) is str and text:
                        out.append(TextDelta(self._block("text", out), text))
        refusal = delta.get("refusal")
        if type(refusal) is str and refusal:
            out.append(RefusalDelta(self._block("refusal", out), refusal))
        for j, raw in enumerate(get_list(delta, "tool_calls", path)):
            cpath = f"{path}.tool_calls[{j}]"
            call = need_obj(raw, cpath)
            wire_index = get_int(call, "index", cpath)
            if wire_index is None:
                wire_index = j
            fn = get_obj(call, "function", cpath) or {}
            block = self._tools.get(wire_index)
            if block is None:
                self._close(out)
                block = self._next
                self._next += 1
                self._open = block
                self._tools[wire_index] = block
                call_id = get_str(call, "id", cpath) or f"call_{block}"
                out.append(ToolCallStart(block, call_id, get_str(fn, "name", cpath) or ""))
            args = fn.get("arguments")
            if type(args) is str:
                if args:
                    out.append(ToolCallDelta(block, args))
            elif args is not None:  # an object from a lenient server: one whole fragment
                out.append(ToolCallDelta(block, orjson.dumps(args).decode()))

    def _block(self, kind: str, out: list[StreamDelta]) -> int:
        index = self._kinds.get(kind)
        if index is not None and index == self._open:
            return index
        self._close(out)
        index = self._next
        self._next += 1
        self._kinds[kind] = index
        self._open = index
        return index

    def _close(self, out: list[StreamDelta]) -> None:
        if self._open is not None:
            out.append(BlockStop(self._open))
            self._open = None


# --------------------------------------------------------------------------- stream: render


class ChatStreamRenderer:
    """Universal deltas -> `chat.completion.chunk` events, then ``[DONE]``."""

    __slots__ = (
        "_d",
        "_done",
        "_finish",
        "_head",
        "_include_usage",
        "_meta",
        "_on_error",
        "_tools",
        "_usage",
    )

    def __init__(
        self,
        d: ChatDialect,
        on_error: Callable[[ErrorInfo], Mapping[str, Any]],
        *,
        include_usage: bool = True,
    ) -> None:
        self._d = d
        self._on_error = on_error
        self._include_usage = include_usage
        self._head: bytes | None = None
        self._meta = b""
        self._tools: dict[int, int] = {}
        self._usage: Usage | None = None
        self._finish: Finish | None = None
        self._done = False

    def feed(self, delta: StreamDelta) -> list[StreamEvent]:
        if self._done:
            return []
        out: list[StreamEvent] = []
        if self._head is None and not isinstance(delta, StreamErrorDelta):
            start = delta if isinstance(delta, MessageStart) else MessageStart()
            self._start(start, out)
            if delta is start:
                return out
        if isinstance(delta, TextDelta):
            out.append(self._chunk({"content": delta.text}))
        elif isinstance(delta, ToolCallDelta):
            tool = self._tools.get(delta.index)
            if tool is None:
                tool = self._tools[delta.index] = len(self._tools)
            call = {"index": tool, "function": {"arguments": delta.arguments}}
            out.append(self._chunk({"tool_calls": [call]}))
        elif isinstance(delta, ReasoningDelta):
            out.append(self._chunk({"reasoning_content": delta.text}))
        elif isinstance(delta, ToolCallStart):
            tool = self._tools[delta.index] = len(self._tools)
            call = {
                "index": tool,
                "id": self._d.tool_call_id(delta.id),
                "type": "function",
                "function": {"name": delta.name, "arguments": ""},
            }
            out.append(self._chunk({"tool_calls": [call]}))
        elif isinstance(delta, RefusalDelta):
            out.append(self._chunk({"refusal": delta.text}))
        elif isinstance(delta, UsageDelta):
            self._usage = delta.usage if self._usage is None else self._usage.merge(delta.usage)
        elif isinstance(delta, Finish):
            if self._finish is None:
                self._finish = delta
                if not self._d.usage_on_finish_chunk:
                    out.append(self._final_chunk(delta, None))
        elif isinstance(delta, StreamErrorDelta):
            self._done = True
            out.append(StreamEvent(None, dumps(self._on_error(delta.error))))
        # MessageStart (repeated), BlockStop and signatures have no Chat spelling.
        return out

    def finish(self) -> list[StreamEvent]:
        if self._done:
            return []
        self._done = True
        out: list[StreamEvent] = []
        if self._finish is None:
            return out  # truncated upstream: no [DONE], so the caller can tell
        if self._head is None:
            self._start(MessageStart(), out)
        if self._d.usage_on_finish_chunk:
            out.append(self._final_chunk(self._finish, self._usage))
        elif self._include_usage and self._usage is not None:
            usage = orjson.dumps(render_usage(self._usage, self._d))
            out.append(StreamEvent(None, self._meta + b',"choices":[],"usage":' + usage + b"}"))
        out.append(_DONE)
        return out

    def _start(self, start: MessageStart, out: list[StreamEvent]) -> None:
        created = start.created if start.created is not None else int(time.time())
        self._meta = (
            b'{"id":'
            + orjson.dumps(start.id or new_id("chatcmpl-"))
            + b',"object":"chat.completion.chunk","created":'
            + str(created).encode()
            + b',"model":'
            + orjson.dumps(start.model or "")
        )
        self._head = self._meta + b',"choices":[{"index":0,"delta":'
        out.append(self._chunk({"role": "assistant", "content": ""}))

    def _chunk(self, delta: Mapping[str, Any]) -> StreamEvent:
        assert self._head is not None
        return StreamEvent(None, self._head + orjson.dumps(delta) + b',"finish_reason":null}]}')

    def _final_chunk(self, finish: Finish, usage: Usage | None) -> StreamEvent:
        assert self._head is not None
        reason = orjson.dumps(self._d.finish.render(finish.reason))
        tail = b"}]"
        if usage is not None:
            tail += b',"usage":' + orjson.dumps(render_usage(usage, self._d))
        return StreamEvent(None, self._head + b'{},"finish_reason":' + reason + tail + b"}")
