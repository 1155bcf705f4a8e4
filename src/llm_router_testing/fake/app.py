"""The fake server's ASGI application: lifespan, control endpoints, provider requests.

Control endpoints (never journaled, never authenticated):

- `GET /_fake/journal`: the request journal as a JSON array; `DELETE` clears it.
- `POST /_fake/reset`: clear the journal, attempt counters, rule counters, fixture positions.
- `POST /_fake/scenario`: replace the scenario with the JSON body (see `scenario.py`).
- `POST /_fake/rules`: put the body's `rules` before the current ones (the contract suite adds
  rules matched by a marker in each check's request this way).
- `GET /_fake/health`: `{"status": "ok"}`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from .exchange import ProviderExchange
from .faults import FaultSpecError
from .realtime import serve_websocket
from .state import FakeState

__all__ = ["FakeApp"]

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


class FakeApp:
    """A raw ASGI 3 application (no framework: the hot path stays short)."""

    def __init__(self, state: FakeState) -> None:
        self.state = state

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            body = await _read_body(receive)
            headers = {
                name.decode("latin-1").lower(): value.decode("latin-1")
                for name, value in scope["headers"]
            }
            if scope["path"].startswith("/_fake/"):
                await self._control(scope, body, send)
                return
            await ProviderExchange(self.state, scope, receive, send, headers, body).run()
        elif kind == "websocket":  # realtime sessions: see realtime.py
            await serve_websocket(self.state, scope, receive, send)
        elif kind == "lifespan":
            await _lifespan(receive, send)

    async def _control(self, scope: dict[str, Any], body: bytes, send: Send) -> None:
        method, path = scope["method"], scope["path"]
        state = self.state
        if path == "/_fake/journal" and method == "GET":
            await _json(send, 200, state.journal.to_json())
        elif path == "/_fake/journal" and method == "DELETE":
            state.journal.clear()
            await _json(send, 200, {"cleared": True})
        elif path == "/_fake/reset" and method == "POST":
            state.reset()
            await _json(send, 200, {"reset": True})
        elif path == "/_fake/scenario" and method == "POST":
            try:
                scenario = state.set_scenario(body or b"{}")
            except FaultSpecError as error:
                await _json(send, 400, {"error": {"message": str(error)}})
                return
            await _json(send, 200, {"rules": len(scenario.rules)})
        elif path == "/_fake/rules" and method == "POST":
            try:
                added = state.add_rules(body or b"{}")
            except FaultSpecError as error:
                await _json(send, 400, {"error": {"message": str(error)}})
                return
            await _json(send, 200, {"added": len(added.rules), "rules": len(state.scenario.rules)})
        elif path == "/_fake/health" and method == "GET":
            await _json(send, 200, {"status": "ok"})
        else:
            await _json(
                send, 404, {"error": {"message": f"unknown control endpoint {method} {path}"}}
            )


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def _json(send: Send, status: int, value: Any) -> None:
    body = orjson.dumps(value)
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _lifespan(receive: Receive, send: Send) -> None:
    # hypercorn on Trio fails at startup unless the app answers the lifespan protocol.
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
