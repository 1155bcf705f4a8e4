"""The gateway's ASGI application: every caller path routed through an open Router.

Errors leave in the caller's format; a client that disconnects mid-stream cancels the
upstream call.
"""

from __future__ import annotations

import orjson

from llm_router import errors
from llm_router._concurrency import open_nursery
from llm_router.framing.eventstream import encode_stream_event
from llm_router.gateway.asgi import Receive, Scope, Send, lifespan, respond
from llm_router.gateway.errors import error_info, render_error
from llm_router.gateway.paths import Endpoint, match_endpoint
from llm_router.router import CompletionResult, Router, RouterStream
from llm_router.types import ProviderFormat, StreamEvent

__all__ = ["Gateway"]


class Gateway:
    """ASGI application routing every request through `router` (which must be open)."""

    def __init__(self, router: Router) -> None:
        self.router = router

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        path: str = scope.get("raw_path", scope["path"].encode()).decode("latin-1").split("?", 1)[0]
        if scope["method"] == "GET" and path in ("/health", "/_gateway/health"):
            await respond(
                send, 200, orjson.dumps({"status": "ok"}), {"content-type": "application/json"}
            )
            return
        endpoint = match_endpoint(path)
        if endpoint is None or scope["method"] != "POST":
            await respond(
                send,
                404,
                orjson.dumps({"error": {"message": f"no route for {scope['method']} {path}"}}),
                {"content-type": "application/json"},
            )
            return
        body = await _read_body(receive)
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        try:
            await self._serve(endpoint, body, headers, receive, send)
        except errors.LLMRouterError as exc:
            status, payload, extra = render_error(exc, endpoint.format)
            await respond(send, status, payload, extra)

    async def _serve(
        self,
        endpoint: Endpoint,
        body: bytes,
        headers: dict[str, str],
        receive: Receive,
        send: Send,
    ) -> None:
        if endpoint.stream is None:
            request = self.router.handle(body, endpoint.format, endpoint.model, headers=headers)
        elif endpoint.stream:
            request = self.router.stream(body, endpoint.format, endpoint.model, headers=headers)
        else:
            result = await self.router.complete(
                body, endpoint.format, endpoint.model, headers=headers
            )
            await respond(send, 200, result.body, _result_headers(result))
            return
        async with request as answer:
            if isinstance(answer, CompletionResult):
                await respond(send, 200, answer.body, _result_headers(answer))
                return
            await _stream_out(answer, endpoint.format, receive, send)


async def _stream_out(
    events: RouterStream, fmt: ProviderFormat, receive: Receive, send: Send
) -> None:
    """Write events as SSE (or event-stream frames for Converse) until done or the client leaves."""
    binary = fmt is ProviderFormat.CONVERSE
    content_type = "application/vnd.amazon.eventstream" if binary else "text/event-stream"
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", content_type.encode()),
                (b"cache-control", b"no-cache"),
                (b"x-llm-router-provider", events.provider.encode()),
            ],
        }
    )
    async with open_nursery() as nursery:

        async def watch_disconnect() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            nursery.cancel_scope.cancel()

        nursery.start_soon(watch_disconnect)
        try:
            async for event in events:
                await send(
                    {"type": "http.response.body", "body": _frame(event, binary), "more_body": True}
                )
        except errors.LLMRouterError as exc:
            # Committed stream: report the failure in-band, in the caller's format.
            await send(
                {
                    "type": "http.response.body",
                    "body": _error_frames(events, exc, fmt),
                    "more_body": True,
                }
            )
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        nursery.cancel_scope.cancel()


def _frame(event: StreamEvent, binary: bool) -> bytes:
    return encode_stream_event(event) if binary else event.to_sse()


def _error_frames(events: RouterStream, exc: errors.LLMRouterError, fmt: ProviderFormat) -> bytes:
    """The caller format's own in-stream error event for a failure after commit."""
    failure = events.error_events(error_info(exc))
    return b"".join(_frame(e, fmt is ProviderFormat.CONVERSE) for e in failure)


def _result_headers(result: CompletionResult) -> dict[str, str]:
    return {"content-type": "application/json", "x-llm-router-provider": result.provider}


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)
