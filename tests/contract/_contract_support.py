"""Test support: gateways that break the contract on purpose, a loopback server, fake keys."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

import httpx
import orjson
import trio
from hypercorn.config import Config
from hypercorn.trio import serve

from llm_router.resilience import TimeoutPolicy
from llm_router.types import ProviderFormat
from llm_router_testing.fake import FAKE_KEYS

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
App = Callable[[dict[str, Any], Receive, Send], Awaitable[None]]

# A stalled first byte costs the gateway at most three attempts of 0.6 s and two backoffs
# (up to 0.5 s and 1 s): 3.3 s; an idle stream one 0.6 s wait.
TEST_TIMEOUTS = TimeoutPolicy(first_byte=0.6, idle=0.6)
TIMEOUT_BOUND = 4.0

# The fake server's key for each client format, for tests that talk to it directly.
DIRECT_KEYS = {
    ProviderFormat.OPENAI: FAKE_KEYS["openai"],
    ProviderFormat.RESPONSES: FAKE_KEYS["openai"],
    ProviderFormat.ANTHROPIC: FAKE_KEYS["anthropic"],
    ProviderFormat.GOOGLE: FAKE_KEYS["google"],
    ProviderFormat.CONVERSE: FAKE_KEYS["bedrock"],
    ProviderFormat.MISTRAL: FAKE_KEYS["mistral"],
}

OPENAI_BODY = orjson.dumps(
    {
        "id": "chatcmpl-broken",
        "object": "chat.completion",
        "created": 0,
        "model": "gpt-4o-mini",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hello!"},
                "finish_reason": "stop",
            }
        ],
    }
)


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _respond(
    send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]
) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def openai_everywhere(scope: dict[str, Any], receive: Receive, send: Send) -> None:
    """Answers every request, on every path, with the same OpenAI chat completion."""
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
        return
    await _read_body(receive)
    await _respond(send, 200, OPENAI_BODY, [(b"content-type", b"application/json")])


async def not_found_everywhere(scope: dict[str, Any], receive: Receive, send: Send) -> None:
    """Serves no path at all."""
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
        return
    await _read_body(receive)
    body = b'{"error": {"message": "Not Found"}}'
    await _respond(send, 404, body, [(b"content-type", b"application/json")])


class NaiveProxy:
    """A gateway with two classic bugs: it buffers streams whole, and retries a 429 at once."""

    def __init__(
        self,
        upstream: str,
        rewrite: Callable[[str], str] = lambda path: path,
        prefix: str = "",
    ) -> None:
        self.upstream = upstream
        self.rewrite = rewrite  # what the gateway does to the path (e.g. a wrong model id)
        self.prefix = prefix  # put before the upstream's header names it hands on

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        body = await _read_body(receive)
        headers = {
            name.decode(): value.decode()
            for name, value in scope["headers"]
            if name not in (b"host", b"content-length")
        }
        url = self.upstream + self.rewrite(scope["raw_path"].decode())
        if scope["query_string"]:
            url += "?" + scope["query_string"].decode()
        async with httpx.AsyncClient(timeout=30) as client:
            response = await client.post(url, content=body, headers=headers)
            if response.status_code == 429:
                response = await client.post(url, content=body, headers=headers)
        passed = [
            ((self.prefix if name != "content-type" else "") + name, value)
            for name, value in response.headers.items()
            if name in ("content-type", "retry-after", "retry-after-ms", "x-amzn-errortype")
            and (self.prefix or name != "retry-after-ms")
        ]
        encoded = [(name.encode(), value.encode()) for name, value in passed]
        await _respond(send, response.status_code, response.content, encoded)


@asynccontextmanager
async def serve_app(app: App) -> AsyncIterator[str]:
    """Serve `app` on a free loopback port for the duration of the block; yields its URL."""
    config = Config()
    config.bind = ["127.0.0.1:0"]
    config.accesslog = None
    config.errorlog = None
    async with trio.open_nursery() as nursery:
        binds = await nursery.start(partial(serve, app, config))  # type: ignore[arg-type]
        yield str(binds[0])
        nursery.cancel_scope.cancel()
