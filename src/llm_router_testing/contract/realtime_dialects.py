"""What each realtime protocol's contract checks say on the wire: URL, key, a turn, a tool call.

One dialect per protocol (OpenAI Realtime, Responses WebSocket mode, Gemini Live), used by
`realtime.py` over one trio-websocket connection. A dialect raises `RealtimeViolation` naming
what the gateway sent instead of what the protocol requires.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Protocol

from trio_websocket import WebSocketConnection

from llm_router.realtime import RealtimeFormat

__all__ = ["DIALECTS", "RealtimeDialect", "RealtimeViolation", "TurnResult", "realtime_dialect"]

WEATHER_PARAMETERS = {
    "type": "object",
    "properties": {"city": {"type": "string"}},
    "required": ["city"],
}
GEMINI_PATH = "/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent"
MAX_EVENTS = 10_000  # a turn that never ends is a failure, not a hang


class RealtimeViolation(Exception):
    """The gateway broke the protocol's contract; the message says how."""


@dataclass(frozen=True, slots=True)
class TurnResult:
    """What one turn produced: the answer text, the tool call (name, JSON arguments), usage."""

    events: int
    text: str = ""
    tool_name: str | None = None
    tool_arguments: str | None = None
    output_tokens: int = 0
    total_tokens: int = 0


def _loads(frame: str | bytes) -> dict[str, Any]:
    try:
        value = json.loads(frame)
    except ValueError:
        raise RealtimeViolation(f"a frame is not JSON: {frame[:80]!r}") from None
    if not isinstance(value, dict):
        raise RealtimeViolation(f"a frame is not a JSON object: {frame[:80]!r}")
    return value


class RealtimeDialect(Protocol):
    format: RealtimeFormat
    default_model: str
    path_pattern: str  # a regex on the upstream path, for the fake's scenario rules
    refusal_statuses: tuple[int, ...]  # how the protocol's servers refuse a wrong key

    def url(self, root: str, model: str) -> str: ...

    def key_headers(self, key: str) -> list[tuple[str, str]]: ...

    def key_urls(self, root: str, model: str, key: str) -> list[tuple[str, list[tuple[str, str]]]]:
        """Every way a client presents `key` (URL, headers), for the keys_refused check."""
        ...

    async def open(self, ws: WebSocketConnection, model: str, marker: str) -> None:
        """Start the session (its first exchange), `marker` reaching the upstream."""
        ...

    async def text_turn(self, ws: WebSocketConnection, model: str, prompt: str) -> TurnResult:
        """Open the session and ask for `prompt` answered as text."""
        ...

    async def tool_turn(self, ws: WebSocketConnection, model: str, prompt: str) -> TurnResult:
        """Open the session with the weather tool required, and ask for `prompt`."""
        ...


class OpenAIRealtimeDialect:
    format: RealtimeFormat = RealtimeFormat.OPENAI_REALTIME
    default_model: str = "gpt-realtime"
    path_pattern: str = "/realtime$"
    refusal_statuses: tuple[int, ...] = (401, 403)

    def url(self, root: str, model: str) -> str:
        return f"{root}/v1/realtime?model={model}"

    def key_headers(self, key: str) -> list[tuple[str, str]]:
        return [("authorization", f"Bearer {key}")]

    def key_urls(self, root: str, model: str, key: str) -> list[tuple[str, list[tuple[str, str]]]]:
        return [(self.url(root, model), self.key_headers(key))]

    async def open(self, ws: WebSocketConnection, model: str, marker: str) -> None:
        first = _loads(await ws.get_message())
        if first.get("type") != "session.created":
            raise RealtimeViolation(
                f"first event is {first.get('type')!r}, expected session.created"
            )
        session = {"type": "realtime", "output_modalities": ["text"], "instructions": marker}
        await ws.send_message(json.dumps({"type": "session.update", "session": session}))
        await self._until(ws, "session.updated")

    async def _until(self, ws: WebSocketConnection, wanted: str) -> list[dict[str, Any]]:
        events = []
        for _ in range(MAX_EVENTS):
            event = _loads(await ws.get_message())
            events.append(event)
            if event.get("type") == "error":
                raise RealtimeViolation(f"error event: {event.get('error')}")
            if event.get("type") == wanted:
                return events
        raise RealtimeViolation(f"no {wanted} in {MAX_EVENTS} events")

    async def _turn(
        self, ws: WebSocketConnection, prompt: str, session: dict[str, Any] | None
    ) -> TurnResult:
        if session is not None:
            await ws.send_message(json.dumps({"type": "session.update", "session": session}))
        content = [{"type": "input_text", "text": prompt}]
        item = {"type": "message", "role": "user", "content": content}
        await ws.send_message(json.dumps({"type": "conversation.item.create", "item": item}))
        await ws.send_message(json.dumps({"type": "response.create"}))
        events = await self._until(ws, "response.done")
        text = "".join(
            str(e.get("delta", "")) for e in events if e["type"] == "response.output_text.delta"
        )
        calls = [e for e in events if e["type"] == "response.function_call_arguments.done"]
        usage = (events[-1].get("response") or {}).get("usage") or {}
        return TurnResult(
            events=len(events),
            text=text,
            tool_name=calls[0].get("name") if calls else None,
            tool_arguments=calls[0].get("arguments") if calls else None,
            output_tokens=int(usage.get("output_tokens") or 0),
            total_tokens=int(usage.get("total_tokens") or 0),
        )

    async def text_turn(self, ws: WebSocketConnection, model: str, prompt: str) -> TurnResult:
        await self.open(ws, model, prompt)
        return await self._turn(ws, prompt, None)

    async def tool_turn(self, ws: WebSocketConnection, model: str, prompt: str) -> TurnResult:
        await self.open(ws, model, prompt)
        tool = {"type": "function", "name": "get_weather", "parameters": WEATHER_PARAMETERS}
        session = {"type": "realtime", "tools": [tool], "tool_choice": "required"}
        return await self._turn(ws, prompt, session)


class ResponsesWsDialect:
    format: RealtimeFormat = RealtimeFormat.RESPONSES_WS
    default_model: str = "gpt-4o-mini"
    path_pattern: str = "/responses$"
    refusal_statuses: tuple[int, ...] = (401, 403)

    def url(self, root: str, model: str) -> str:
        return f"{root}/v1/responses"

    def key_headers(self, key: str) -> list[tuple[str, str]]:
        return [("authorization", f"Bearer {key}")]

    def key_urls(self, root: str, model: str, key: str) -> list[tuple[str, list[tuple[str, str]]]]:
        return [(self.url(root, model), self.key_headers(key))]

    async def open(self, ws: WebSocketConnection, model: str, marker: str) -> None:
        # The client speaks first: its first turn opens the upstream session.
        await self._turn(ws, {"model": model, "input": marker, "instructions": marker})

    async def _turn(self, ws: WebSocketConnection, body: dict[str, Any]) -> TurnResult:
        await ws.send_message(json.dumps({"type": "response.create", **body}))
        events = []
        for _ in range(MAX_EVENTS):
            event = _loads(await ws.get_message())
            events.append(event)
            kind = event.get("type")
            if kind == "error":
                raise RealtimeViolation(f"error event: {event.get('error')}")
            if kind in ("response.completed", "response.failed", "response.incomplete"):
                break
        else:
            raise RealtimeViolation(f"no response.completed in {MAX_EVENTS} events")
        if events[-1]["type"] != "response.completed":
            raise RealtimeViolation(f"the turn ended with {events[-1]['type']}")
        text = "".join(
            str(e.get("delta", "")) for e in events if e["type"] == "response.output_text.delta"
        )
        calls = [
            e["item"]
            for e in events
            if e["type"] == "response.output_item.done"
            and isinstance(e.get("item"), dict)
            and e["item"].get("type") == "function_call"
        ]
        usage = (events[-1].get("response") or {}).get("usage") or {}
        return TurnResult(
            events=len(events),
            text=text,
            tool_name=calls[0].get("name") if calls else None,
            tool_arguments=calls[0].get("arguments") if calls else None,
            output_tokens=int(usage.get("output_tokens") or 0),
            total_tokens=int(usage.get("total_tokens") or 0),
        )

    async def text_turn(self, ws: WebSocketConnection, model: str, prompt: str) -> TurnResult:
        return await self._turn(ws, {"model": model, "input": prompt})

    async def tool_turn(self, ws: WebSocketConnection, model: str, prompt: str) -> TurnResult:
        tool = {"type": "function", "name": "get_weather", "parameters": WEATHER_PARAMETERS}
        body = {"model": model, "input": prompt, "tools": [tool], "tool_choice": "required"}
        return await self._turn(ws, body)


class GeminiLiveDialect:
    format: RealtimeFormat = RealtimeFormat.GEMINI_LIVE
    default_model: str = "gemini-live-2.5-flash"
    path_pattern: str = "BidiGenerateContent$"
    # Google answers a wrong API key with 400 API_KEY_INVALID.
    refusal_statuses: tuple[int, ...] = (400, 401, 403)

    def url(self, root: str, model: str) -> str:
        return root + GEMINI_PATH

    def key_headers(self, key: str) -> list[tuple[str, str]]:
        return [("x-goog-api-key", key)]

    def key_urls(self, root: str, model: str, key: str) -> list[tuple[str, list[tuple[str, str]]]]:
        url = self.url(root, model)
        return [(url, self.key_headers(key)), (f"{url}?key={key}", [])]

    def _setup(self, model: str, marker: str, tools: bool = False) -> dict[str, Any]:
        setup: dict[str, Any] = {
            "model": f"models/{model}",
            "generationConfig": {"responseModalities": ["TEXT"]},
            "systemInstruction": {"parts": [{"text": marker}]},
        }
        if tools:
            declaration = {"name": "get_weather", "parameters": WEATHER_PARAMETERS}
            setup["tools"] = [{"functionDeclarations": [declaration]}]
        return {"setup": setup}

    async def open(self, ws: WebSocketConnection, model: str, marker: str) -> None:
        await self._start(ws, self._setup(model, marker))

    async def _start(self, ws: WebSocketConnection, setup: dict[str, Any]) -> None:
        await ws.send_message(json.dumps(setup))
        first = _loads(await ws.get_message())
        if "setupComplete" not in first:
            raise RealtimeViolation(f"first message is {sorted(first)}, expected setupComplete")

    async def _turn(self, ws: WebSocketConnection, prompt: str) -> TurnResult:
        turn = {"role": "user", "parts": [{"text": prompt}]}
        content = {"clientContent": {"turns": [turn], "turnComplete": True}}
        await ws.send_message(json.dumps(content))
        text, events = "", 0
        usage: dict[str, Any] = {}
        name = arguments = None
        for _ in range(MAX_EVENTS):
            message = _loads(await ws.get_message())
            events += 1
            usage = message.get("usageMetadata") or usage
            calls = (message.get("toolCall") or {}).get("functionCalls") or []
            if calls:
                name, arguments = calls[0].get("name"), json.dumps(calls[0].get("args") or {})
                break
            server = message.get("serverContent") or {}
            for part in (server.get("modelTurn") or {}).get("parts") or []:
                text += str(part.get("text") or "")
            if server.get("turnComplete"):
                break
        else:
            raise RealtimeViolation(f"no turnComplete in {MAX_EVENTS} messages")
        return TurnResult(
            events=events,
            text=text,
            tool_name=name,
            tool_arguments=arguments,
            output_tokens=int(usage.get("responseTokenCount") or 0),
            total_tokens=int(usage.get("totalTokenCount") or 0),
        )

    async def text_turn(self, ws: WebSocketConnection, model: str, prompt: str) -> TurnResult:
        await self._start(ws, self._setup(model, prompt))
        return await self._turn(ws, prompt)

    async def tool_turn(self, ws: WebSocketConnection, model: str, prompt: str) -> TurnResult:
        await self._start(ws, self._setup(model, prompt, tools=True))
        return await self._turn(ws, prompt)


DIALECTS: dict[RealtimeFormat, RealtimeDialect] = {
    RealtimeFormat.OPENAI_REALTIME: OpenAIRealtimeDialect(),
    RealtimeFormat.RESPONSES_WS: ResponsesWsDialect(),
    RealtimeFormat.GEMINI_LIVE: GeminiLiveDialect(),
}


def realtime_dialect(fmt: RealtimeFormat) -> RealtimeDialect:
    return DIALECTS[fmt]
