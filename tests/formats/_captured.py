"""The captured payload corpus (tests/corpus/captured) and what translation must preserve.

The corpus was captured from the lingua project's payload corpus (braintrustdata/lingua,
MIT OR Apache-2.0). `essence` reduces universal values to what a round trip must keep:
texts, tool names, ids and arguments, tool results.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import orjson

from llm_router.universal import (
    Finish,
    Message,
    ReasoningDelta,
    ReasoningPart,
    Request,
    Response,
    Role,
    StreamDelta,
    TextDelta,
    TextPart,
    ToolCallDelta,
    ToolCallPart,
    ToolCallStart,
    ToolResultPart,
    arguments_to_object,
)

__all__ = ["CORPUS", "captured", "essence", "stream_essence"]

_SYSTEM = (Role.SYSTEM, Role.DEVELOPER)
CORPUS = Path(__file__).resolve().parent.parent / "corpus" / "captured"


def captured(fmt: str, kind: str) -> Iterator[tuple[str, Any]]:
    """(case name, decoded JSON) of each `<case>/<fmt>/*<kind>.json` file, in a stable order.

    `kind` is "request", "response" or "response-streaming" (follow-ups included).
    """
    for path in sorted(CORPUS.glob(f"*/{fmt}/*.json")):
        stem = path.stem.removeprefix("followup-")
        if stem == kind:
            obj = orjson.loads(path.read_bytes())
            yield f"{path.parent.parent.name}/{path.name}", _js_buffers_to_base64(obj)


def _js_buffers_to_base64(obj: Any) -> Any:
    """The capture tool serialised Bedrock `bytes` as JS Buffers; the wire has base64 text."""
    if isinstance(obj, dict):
        if obj.get("type") == "Buffer" and isinstance(obj.get("data"), list):
            return base64.b64encode(bytes(obj["data"])).decode()
        if obj and all(k.isdigit() for k in obj) and set(obj) == {str(i) for i in range(len(obj))}:
            return base64.b64encode(bytes(obj[str(i)] for i in range(len(obj)))).decode()
        return {k: _js_buffers_to_base64(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_js_buffers_to_base64(v) for v in obj]
    return obj


def essence(value: Request | Response | Iterable[Message]) -> list[tuple[Any, ...]]:
    """Texts, tool calls (id, name, decoded arguments) and tool results, in order.

    System and developer texts come first: formats with a separate system field hoist them.
    """
    if isinstance(value, Request):
        system = [p for m in value.messages if m.role in _SYSTEM for p in m.content]
        parts = system + [p for m in value.messages if m.role not in _SYSTEM for p in m.content]
    elif isinstance(value, Response):
        parts = list(value.content)
    else:
        parts = [p for m in value for p in m.content]
    out: list[tuple[Any, ...]] = []
    for p in parts:
        if isinstance(p, TextPart) and p.text:
            out.append(("text", p.text))
        elif isinstance(p, ReasoningPart) and p.text:
            out.append(("reasoning", p.text))
        elif isinstance(p, ToolCallPart):
            out.append(("call", p.id, p.name, arguments_to_object(p.arguments)))
        elif isinstance(p, ToolResultPart):
            texts = tuple(c.text for c in p.content if isinstance(c, TextPart))
            out.append(("result", p.call_id, texts))
    return out


def stream_essence(deltas: Iterable[StreamDelta]) -> dict[str, Any]:
    """Accumulated text, reasoning and tool calls of a universal stream, plus its finish."""
    text: list[str] = []
    reasoning: list[str] = []
    calls: dict[int, list[Any]] = {}
    finish = None
    for d in deltas:
        if isinstance(d, TextDelta):
            text.append(d.text)
        elif isinstance(d, ReasoningDelta):
            reasoning.append(d.text)
        elif isinstance(d, ToolCallStart):
            calls[d.index] = [d.id, d.name, ""]
        elif isinstance(d, ToolCallDelta):
            calls[d.index][2] += d.arguments
        elif isinstance(d, Finish):
            finish = d.reason
    return {
        "text": "".join(text),
        "reasoning": "".join(reasoning),
        "calls": [(i, n, arguments_to_object(a)) for i, n, a in calls.values()],
        "finish": finish,
    }
