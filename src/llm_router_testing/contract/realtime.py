"""Contract checks for realtime WebSocket endpoints (OpenAI Realtime protocol) of a gateway.

Put the gateway in front of the fake server and run `run_realtime_checks(base_url, ...)`:

==================== ===================================================================
session_round_trip   `session.created` first, then a text turn answered with the fake's
                     echo and a `response.done` carrying usage
tool_call            a required tool yields `response.function_call_arguments.done` with the
                     tool's name and JSON arguments
client_close         (needs fake_url) the client closing its socket closes the upstream one:
                     the fake's journal shows the session closed by its client
upstream_close       a provider closing with code 4000 reaches the client with 4000 (faults by
                     `x-fake-*` headers, and by a scenario rule when fake_url is given)
keys_refused         (needs bad_key) a wrong gateway key is refused before the upgrade
==================== ===================================================================
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import trio
from trio_websocket import (
    ConnectionClosed,
    ConnectionRejected,
    WebSocketConnection,
    open_websocket_url,
)

__all__ = ["RealtimeCheckResult", "REALTIME_CHECKS", "run_realtime_checks"]

TOOL = {
    "type": "function",
    "name": "get_weather",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}


@dataclass(frozen=True, slots=True)
class RealtimeCheckResult:
    name: str
    status: str  # "pass", "fail" or "skip"
    detail: str


class _Failed(Exception):
    pass


class _Skip(Exception):
    pass


@dataclass(frozen=True, slots=True)
class _Context:
    url: str  # ws(s)://.../v1/realtime?model=...
    headers: list[tuple[str, str]]
    fake_url: str | None
    bad_key: str | None
    timeout: float


def _marker() -> str:
    return f"rt-{secrets.token_hex(4)}"


async def _expect_created(ws: WebSocketConnection) -> None:
    first = json.loads(await ws.get_message())
    if first.get("type") != "session.created":
        raise _Failed(f"first event is {first.get('type')!r}, expected session.created")


async def _until_done(ws: WebSocketConnection) -> list[dict[str, Any]]:
    events = []
    while True:
        event = json.loads(await ws.get_message())
        events.append(event)
        if event.get("type") == "error":
            raise _Failed(f"error event: {event.get('error')}")
        if event.get("type") == "response.done":
            return events


async def _turn(
    ws: WebSocketConnection, session: dict[str, Any], text: str
) -> list[dict[str, Any]]:
    await ws.send_message(json.dumps({"type": "session.update", "session": session}))
    item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}
    await ws.send_message(json.dumps({"type": "conversation.item.create", "item": item}))
    await ws.send_message(json.dumps({"type": "response.create"}))
    return await _until_done(ws)


async def check_session_round_trip(ctx: _Context) -> str:
    prompt = f"Contract check realtime {_marker()}"
    async with open_websocket_url(ctx.url, extra_headers=_headers(ctx.headers)) as ws:
        await _expect_created(ws)
        events = await _turn(ws, {"type": "realtime", "output_modalities": ["text"]}, prompt)
    text = "".join(e.get("delta", "") for e in events if e["type"] == "response.output_text.delta")
    if text != f"You said: {prompt}":
        raise _Failed(f"answer {text[:80]!r}, expected the fake's echo")
    usage = events[-1].get("response", {}).get("usage") or {}
    if not usage.get("output_tokens"):
        raise _Failed("response.done carries no usage")
    return f"{len(events)} events, {usage.get('total_tokens')} tokens"


async def check_tool_call(ctx: _Context) -> str:
    session = {
        "type": "realtime",
        "output_modalities": ["text"],
        "tools": [TOOL],
        "tool_choice": "required",
    }
    async with open_websocket_url(ctx.url, extra_headers=_headers(ctx.headers)) as ws:
        await _expect_created(ws)
        events = await _turn(ws, session, f"weather? {_marker()}")
    calls = [e for e in events if e["type"] == "response.function_call_arguments.done"]
    if not calls or calls[0].get("name") != "get_weather":
        raise _Failed("no call of get_weather")
    json.loads(calls[0]["arguments"])
    return f"called {calls[0]['name']}({calls[0]['arguments']})"


async def _journal(fake_url: str) -> list[dict[str, Any]]:
    async with httpx.AsyncClient() as client:
        response = await client.get(fake_url + "/_fake/journal")
    entries: list[dict[str, Any]] = response.json()
    return entries


async def check_client_close(ctx: _Context) -> str:
    if ctx.fake_url is None:
        raise _Skip("needs the fake server's URL")
    marker = _marker()
    async with open_websocket_url(ctx.url, extra_headers=_headers(ctx.headers)) as ws:
        await _expect_created(ws)
        update = {"type": "session.update", "session": {"type": "realtime", "instructions": marker}}
        await ws.send_message(json.dumps(update))
        await ws.get_message()  # session.updated: the upstream got the marker
    with trio.move_on_after(ctx.timeout):
        while True:
            for entry in await _journal(ctx.fake_url):
                ours = entry.get("method") == "WEBSOCKET" and marker in json.dumps(
                    entry.get("body")
                )
                if ours and entry.get("ended_at") is not None:
                    if entry.get("closed_by") != "client":
                        raise _Failed(f"upstream session ended by {entry.get('closed_by')}")
                    return "the upstream session was closed by the gateway"
            await trio.sleep(0.05)
    raise _Failed("the upstream session was still open after the client left")


async def check_upstream_close(ctx: _Context) -> str:
    faults = [("x-fake-close-code", "4000"), ("x-fake-drop-after-events", "1")]
    if ctx.fake_url is not None:
        rule = {
            "name": f"contract realtime close {_marker()}",
            "match": {"path": "/realtime$"},
            "close_code": 4000,
            "drop_after_events": 1,
            "times": 1,
        }
        async with httpx.AsyncClient() as client:
            await client.post(ctx.fake_url + "/_fake/rules", json={"rules": [rule]})
    async with open_websocket_url(ctx.url, extra_headers=_headers([*ctx.headers, *faults])) as ws:
        await _expect_created(ws)
        try:
            while True:
                await ws.get_message()
        except ConnectionClosed as closed:
            code = closed.reason.code if closed.reason else None
    if code != 4000:
        raise _Failed(f"the client saw close code {code}, the provider closed with 4000")
    return "close code 4000 reached the client"


async def check_keys_refused(ctx: _Context) -> str:
    if ctx.bad_key is None:
        raise _Skip("needs a key the gateway must refuse (bad_key)")
    headers = [(k, v) for k, v in ctx.headers if k.lower() != "authorization"]
    headers.append(("authorization", f"Bearer {ctx.bad_key}"))
    try:
        async with open_websocket_url(ctx.url, extra_headers=_headers(headers)):
            pass
    except ConnectionRejected as rejected:
        if rejected.status_code in (401, 403):
            return f"refused with {rejected.status_code} before the upgrade"
        raise _Failed(f"refused with {rejected.status_code}, expected 401 or 403") from None
    raise _Failed("the upgrade was accepted with a wrong key")


def _headers(pairs: list[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    return [(k.encode("latin-1"), v.encode("latin-1")) for k, v in pairs]


REALTIME_CHECKS: dict[str, Callable[[_Context], Awaitable[str]]] = {
    "session_round_trip": check_session_round_trip,
    "tool_call": check_tool_call,
    "client_close": check_client_close,
    "upstream_close": check_upstream_close,
    "keys_refused": check_keys_refused,
}


async def run_realtime_checks(
    base_url: str,
    *,
    model: str = "gpt-realtime",
    api_key: str | None = None,
    fake_url: str | None = None,
    bad_key: str | None = None,
    check_timeout: float = 10.0,
) -> list[RealtimeCheckResult]:
    """Run every realtime check against the gateway at `base_url` (http or ws scheme); each
    check is bounded by `check_timeout` seconds."""
    root = base_url.rstrip("/").replace("https://", "wss://", 1).replace("http://", "ws://", 1)
    headers = [("authorization", f"Bearer {api_key}")] if api_key else []
    ctx = _Context(f"{root}/v1/realtime?model={model}", headers, fake_url, bad_key, check_timeout)
    results = []
    for name, check in REALTIME_CHECKS.items():
        try:
            with trio.fail_after(check_timeout):
                detail = await check(ctx)
            results.append(RealtimeCheckResult(name, "pass", detail))
        except _Skip as skip:
            results.append(RealtimeCheckResult(name, "skip", str(skip)))
        except (
            _Failed,
            ConnectionRejected,
            ConnectionClosed,
            OSError,
            ValueError,
            KeyError,
            trio.TooSlowError,
        ) as failure:
            results.append(
                RealtimeCheckResult(name, "fail", f"{type(failure).__name__}: {failure}")
            )
    return results
