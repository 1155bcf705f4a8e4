"""A scripted upstream on loopback (hypercorn on Trio): each test says, per request, which
status, headers and body chunks to send, and whether to cut the connection instead of ending
the body. For the answers no real provider should give, which the fake server does not script.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import trio
from hypercorn.config import Config
from hypercorn.trio import serve

from llm_router.gateway.asgi import lifespan


@dataclass(frozen=True)
class Seen:
    """One request as the upstream received it."""

    method: str
    path: str
    query: str
    headers: list[tuple[str, str]]
    body: bytes


@dataclass
class Reply:
    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=list)
    chunks: list[bytes] = field(default_factory=list)
    cut: bool = False  # end without finishing the body: the client sees a dropped connection
    gate: trio.Event | None = None  # sent after the first chunk, once the test sets it


Handler = Callable[[Seen], Reply]


@dataclass
class RawUpstream:
    url: str
    handler: Handler
    seen: list[Seen] = field(default_factory=list)
    disconnects: int = 0


def _app(upstream: list[RawUpstream]) -> Any:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await lifespan(receive, send)
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        server = upstream[0]
        seen = Seen(
            scope["method"],
            scope["path"],
            scope["query_string"].decode("latin-1"),
            [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]],
            body,
        )
        server.seen.append(seen)
        reply = server.handler(seen)
        await send(
            {
                "type": "http.response.start",
                "status": reply.status,
                "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in reply.headers],
            }
        )
        try:
            for index, chunk in enumerate(reply.chunks):
                if index == 1 and reply.gate is not None:
                    await reply.gate.wait()
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            if not reply.cut:
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        except BaseException:
            server.disconnects += 1
            raise

    return app


@asynccontextmanager
async def open_raw_upstream(handler: Handler) -> AsyncIterator[RawUpstream]:
    config = Config()
    config.bind = ["127.0.0.1:0"]
    config.accesslog = None
    config.errorlog = None
    holder: list[RawUpstream] = []
    async with trio.open_nursery() as nursery:
        binds = await nursery.start(partial(serve, _app(holder), config))
        holder.append(RawUpstream(str(binds[0]), handler))
        yield holder[0]
        nursery.cancel_scope.cancel()
