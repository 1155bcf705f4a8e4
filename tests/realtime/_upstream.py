"""A scripted realtime upstream speaking real WebSocket over in-memory streams.

Passed to `router.realtime(..., connector=upstream.connect)`, it answers each upgrade from a
per-host script (refuse, close before the first event, stay silent, or start the session), so
session tests run on `trio.testing.MockClock` with nothing waiting on the network.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import trio
import trio.testing
from trio_websocket import (
    ConnectionClosed,
    ConnectionRejected,
    WebSocketConnection,
    wrap_client_stream,
    wrap_server_stream,
)

from llm_router.realtime.session import RealtimeOptions

__all__ = ["SESSION_CREATED", "Upgrade", "Upstream", "open_upstream"]

SESSION_CREATED = '{"type": "session.created", "session": {}}'


@dataclass(frozen=True)
class Upgrade:
    """One scripted answer to an upgrade: refuse with `status` (and `headers`), or accept and
    close with `close` before the first event, or accept and send `first`."""

    status: int = 101
    headers: tuple[tuple[str, str], ...] = ()
    close: int | None = None
    first: str | None = SESSION_CREATED  # None: accept, then say nothing
    then: tuple[str, ...] = ()  # sent right after `first`, without waiting for the client


@dataclass
class Upstream:
    """Answers each upgrade with the next scripted `Upgrade` of its host (default: accept).

    Its server side runs in `nursery`, outside the sessions' cancel scopes, as a remote server
    would: cancelling a session never cancels the upstream that must answer its close."""

    nursery: trio.Nursery
    scripts: dict[str, deque[Upgrade]] = field(default_factory=dict)
    seen: list[tuple[float, str]] = field(default_factory=list)  # (trio time, host)
    open_sockets: int = 0
    closes: list[tuple[float, int | None]] = field(default_factory=list)  # (time, client code)

    def script(self, host: str, *replies: Upgrade) -> None:
        self.scripts.setdefault(host, deque()).extend(replies)

    def hosts(self) -> list[str]:
        return [host for _, host in self.seen]

    @asynccontextmanager
    async def connect(
        self, url: str, headers: list[tuple[bytes, bytes]], options: RealtimeOptions
    ) -> AsyncIterator[WebSocketConnection]:
        parts = urlsplit(url)
        host = (parts.hostname or "").split(".")[0]  # "primary" of primary.test
        self.seen.append((trio.current_time(), host))
        queue = self.scripts.get(host)
        reply = queue.popleft() if queue else Upgrade()
        client, server = trio.testing.memory_stream_pair()
        try:
            async with trio.open_nursery() as nursery:
                self.nursery.start_soon(self._serve, server, reply)
                ws = await wrap_client_stream(
                    nursery,
                    client,  # type: ignore[arg-type]
                    host,
                    f"{parts.path}?{parts.query}",
                    extra_headers=headers,
                    max_message_size=options.max_message_size,
                )
                self.open_sockets += 1
                try:
                    yield ws
                finally:
                    self.open_sockets -= 1
                    # As `open_websocket_url` does: close, then let the reader finish the
                    # closing handshake (never cancel it, a close in progress would hang).
                    with trio.move_on_after(options.close_timeout) as closing:
                        closing.shield = True
                        await ws.aclose()
        except BaseExceptionGroup as group:
            # trio-websocket's reader task raises the refusal: hand it on as itself, as
            # `open_websocket_url` does.
            refused, _ = group.split(ConnectionRejected)
            if refused is None:
                raise
            raise refused.exceptions[0] from None

    async def _serve(self, stream: trio.abc.Stream, reply: Upgrade) -> None:
        try:
            await self._answer(stream, reply)
        finally:
            with trio.CancelScope(shield=True):
                await stream.aclose()  # the client sees the end of the stream, as over TCP

    async def _answer(self, stream: trio.abc.Stream, reply: Upgrade) -> None:
        async with trio.open_nursery() as nursery:
            try:
                request = await wrap_server_stream(nursery, stream)
                if reply.status != 101:
                    await request.reject(
                        reply.status,
                        extra_headers=[(k.encode(), v.encode()) for k, v in reply.headers],
                        body=b'{"error": {"message": "busy", "type": "server_error"}}',
                    )
                    return
                ws = await request.accept()
                if reply.close is not None:
                    await ws.aclose(reply.close, "scripted close")
                    return
                if reply.first is not None:
                    await ws.send_message(reply.first)
                for frame in reply.then:
                    await ws.send_message(frame)
                try:
                    while True:
                        await ws.get_message()
                except ConnectionClosed as closed:
                    code = None if closed.reason is None else closed.reason.code
                    self.closes.append((trio.current_time(), code))
                    return
            finally:
                nursery.cancel_scope.cancel()


@asynccontextmanager
async def open_upstream() -> AsyncIterator[Upstream]:
    async with trio.open_nursery() as nursery:
        yield Upstream(nursery)
        nursery.cancel_scope.cancel()
