"""The fake server's ASGI application: lifespan, control endpoints, provider requests.

Control endpoints (never journaled, never authenticated):

- `GET /_fake/journal`: the request journal as a JSON array; `DELETE` clears it.
- `POST /_fake/reset`: clear the journal, attempt counters, rule counters, fixture positions.
- `POST /_fake/scenario`: replace the scenario with the JSON body (see `scenario.py`).
- `POST /_fake/rules`: put the body's `rules` before the current ones (the contract suite adds
  rules matched by a marker in each check's request this way).
- `DELETE /_fake/rules`: remove the rules named in the body's `names` (what a contract run
  added, so a shared fake is left as found).
- `GET /_fake/health`: `{"status": "ok"}`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import trio

from . import batches
from .auth import check
from .dialects import error_reply
from .exchange import ProviderExchange
from .faults import FaultSpecError
from .http1 import BODY_FOLLOWS
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
            if batches.handles(scope["path"]):
                await self._batch_api(scope, headers, body, send)
                return
            await ProviderExchange(self.state, scope, receive, send, headers, body).run()
        elif kind == "websocket":  # realtime sessions: see realtime.py
            await serve_websocket(self.state, scope, receive, send)
        elif kind == "lifespan":
            await _lifespan(receive, send)

    async def _batch_api(
        self, scope: dict[str, Any], headers: dict[str, str], body: bytes, send: Send
    ) -> None:
        """OpenAI Files and Batch endpoints (see `batches.py`); not journaled themselves."""
        state = self.state
        if state.require_auth:
            failure = check("openai", headers, {}, state.credentials)
            if failure is not None:
                reply = error_reply("openai", failure.status, failure.message)
                await _raw(send, reply.status, reply.body, "application/json")
                return

        async def internal(
            method: str, path: str, line_headers: dict[str, str], line_body: bytes
        ) -> tuple[int, bytes]:
            return await _internal_request(state, method, path, line_headers, line_body)

        status, answer, content_type = await state.batches.handle(
            scope["method"], scope["path"], headers, body, internal
        )
        await _raw(send, status, answer, content_type)

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
        elif path == "/_fake/rules" and method == "DELETE":
            names = _rule_names(body)
            if names is None:
                message = 'DELETE /_fake/rules takes {"names": ["rule name", ...]}'
                await _json(send, 400, {"error": {"message": message}})
                return
            removed = state.remove_rules(names)
            await _json(send, 200, {"removed": removed, "rules": len(state.scenario.rules)})
        elif path == "/_fake/health" and method == "GET":
            await _json(send, 200, {"status": "ok"})
        else:
            await _json(
                send, 404, {"error": {"message": f"unknown control endpoint {method} {path}"}}
            )


def _rule_names(body: bytes) -> list[str] | None:
    try:
        value = orjson.loads(body or b"{}")
    except orjson.JSONDecodeError:
        return None
    names = value.get("names") if isinstance(value, dict) else None
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        return None
    return names


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


async def _internal_request(
    state: FakeState, method: str, path: str, headers: dict[str, str], body: bytes
) -> tuple[int, bytes]:
    """Answer one request in-process, as if it came over HTTP (it is journaled)."""
    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()],
    }
    status = 500
    chunks: list[bytes] = []

    async def receive() -> dict[str, Any]:
        await trio.sleep_forever()
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = int(message["status"])
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await ProviderExchange(state, scope, receive, send, headers, body).run()
    return status, b"".join(chunks)


async def _raw(send: Send, status: int, body: bytes, content_type: str) -> None:
    headers = [
        (b"content-type", content_type.encode()),
        (b"content-length", str(len(body)).encode()),
    ]
    start = {"type": "http.response.start", "status": status, "headers": headers}
    await send({**start, BODY_FOLLOWS: True})
    await send({"type": "http.response.body", "body": body})


async def _json(send: Send, status: int, value: Any) -> None:
    await _raw(send, status, orjson.dumps(value), "application/json")


async def _lifespan(receive: Receive, send: Send) -> None:
    # hypercorn on Trio fails at startup unless the app answers the lifespan protocol.
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
