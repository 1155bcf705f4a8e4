"""The ASGI message helpers the gateway's modules share: types, whole responses, lifespan,
serving while watching for the client's disconnect."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from llm_router._concurrency import open_nursery

if TYPE_CHECKING:
    from llm_router.gateway.access_log import Exchange

__all__ = ["Receive", "Scope", "Send", "lifespan", "respond", "serve_watching_disconnect"]

Scope = Mapping[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


async def respond(send: Send, status: int, body: bytes, headers: Mapping[str, str]) -> None:
    """Send one whole response."""
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(k.encode(), v.encode()) for k, v in headers.items()],
        }
    )
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def serve_watching_disconnect(
    receive: Receive, exchange: Exchange, serve: Callable[[], Awaitable[None]]
) -> None:
    """Run `serve` while reading `receive`: a client who hangs up cancels it (and the
    upstream calls under it), and `exchange` records the disconnect unless the answer had
    been sent whole."""
    async with open_nursery() as nursery:

        async def watch_disconnect() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            exchange.disconnected = not exchange.complete
            nursery.cancel_scope.cancel()

        nursery.start_soon(watch_disconnect)
        await serve()
        nursery.cancel_scope.cancel()


async def lifespan(receive: Receive, send: Send) -> None:
    """Answer the lifespan protocol (hypercorn on Trio fails at startup without it)."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
