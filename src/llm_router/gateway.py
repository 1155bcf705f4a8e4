"""An ASGI gateway in front of a Router: every format's endpoint, errors in the caller's format.

Paths mirror the providers' own, so official SDKs can point at the gateway unchanged:
OpenAI `/v1/chat/completions` and `/v1/responses`, Anthropic `/v1/messages`, Gemini
`/v1beta|v1/models/{model}:generateContent|:streamGenerateContent`, Bedrock Converse
`/model/{id}/converse|converse-stream` (answered with AWS event-stream frames), and Mistral
`/mistral/v1/chat/completions`. A client that disconnects mid-stream cancels the upstream call.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import orjson
import trio

from llm_router import errors
from llm_router.formats import converse, get_format
from llm_router.framing.eventstream import encode_stream_event
from llm_router.router import CompletionResult, Router, RouterStream
from llm_router.types import ProviderFormat, StreamEvent
from llm_router.universal import ErrorInfo, ErrorType

__all__ = ["Gateway", "error_info", "render_error"]

Scope = Mapping[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class _Endpoint:
    format: ProviderFormat
    model: str | None  # from the URL (Gemini, Bedrock), else from the body
    stream: bool | None  # from the URL; None: from the body's "stream" flag


_ROUTES: list[tuple[re.Pattern[str], Callable[[re.Match[str]], _Endpoint]]] = [
    (re.compile(r"^/v1/chat/completions$"), lambda m: _Endpoint(ProviderFormat.OPENAI, None, None)),
    (re.compile(r"^/v1/responses$"), lambda m: _Endpoint(ProviderFormat.RESPONSES, None, None)),
    (re.compile(r"^/v1/messages$"), lambda m: _Endpoint(ProviderFormat.ANTHROPIC, None, None)),
    (
        re.compile(r"^/mistral/v1/chat/completions$"),
        lambda m: _Endpoint(ProviderFormat.MISTRAL, None, None),
    ),
    (
        re.compile(
            r"^/v1(?:beta)?/models/(?P<model>[^/:]+):(?P<verb>generateContent|streamGenerateContent)$"
        ),
        lambda m: _Endpoint(
            ProviderFormat.GOOGLE, unquote(m["model"]), m["verb"] == "streamGenerateContent"
        ),
    ),
    (
        re.compile(r"^/model/(?P<model>[^/]+)/(?P<verb>converse|converse-stream)$"),
        lambda m: _Endpoint(
            ProviderFormat.CONVERSE, unquote(m["model"]), m["verb"] == "converse-stream"
        ),
    ),
]

_ERROR_TYPES: list[tuple[type[BaseException], ErrorType]] = [
    (errors.RateLimitError, ErrorType.RATE_LIMIT),
    (errors.OverloadedError, ErrorType.OVERLOADED),
    (errors.AuthenticationError, ErrorType.AUTHENTICATION),
    (errors.PermissionError, ErrorType.PERMISSION),
    (errors.NotFoundError, ErrorType.NOT_FOUND),
    (errors.ModelNotFoundError, ErrorType.NOT_FOUND),
    (errors.ContextWindowExceededError, ErrorType.CONTEXT_WINDOW),
    (errors.ContentFilterError, ErrorType.CONTENT_FILTER),
    (errors.TimeoutError, ErrorType.TIMEOUT),
    (errors.InvalidRequestError, ErrorType.INVALID_REQUEST),
    (errors.TranslationError, ErrorType.INVALID_REQUEST),
]


def error_info(exc: errors.LLMRouterError) -> ErrorInfo:
    """The universal form of a router error (kind, message, the upstream status if any)."""
    kind = next((k for cls, k in _ERROR_TYPES if isinstance(exc, cls)), ErrorType.SERVER)
    status = getattr(exc, "status", None)
    if not isinstance(status, int) or status < 400:
        status = None
    return ErrorInfo(type=kind, message=str(exc), status=status)


def render_error(
    exc: errors.LLMRouterError, fmt: ProviderFormat
) -> tuple[int, bytes, dict[str, str]]:
    """Status, body and headers for `exc` as a provider speaking `fmt` would send it."""
    info = error_info(exc)
    out_status, body = get_format(fmt).render_error(info)
    headers = {"content-type": "application/json"}
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is not None:
        headers["retry-after"] = f"{max(0, round(retry_after))}"
        headers["retry-after-ms"] = f"{max(0, round(retry_after * 1000))}"
    if fmt is ProviderFormat.CONVERSE:
        headers["x-amzn-errortype"] = converse.error_type_header(info)
    return out_status, orjson.dumps(body), headers


class Gateway:
    """ASGI application routing every request through `router` (which must be open)."""

    def __init__(self, router: Router) -> None:
        self.router = router

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        path: str = scope.get("raw_path", scope["path"].encode()).decode("latin-1").split("?", 1)[0]
        if scope["method"] == "GET" and path in ("/health", "/_gateway/health"):
            await _respond(
                send, 200, orjson.dumps({"status": "ok"}), {"content-type": "application/json"}
            )
            return
        endpoint = _match(path)
        if endpoint is None or scope["method"] != "POST":
            await _respond(
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
            await _respond(send, status, payload, extra)

    async def _serve(
        self,
        endpoint: _Endpoint,
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
            await _respond(send, 200, result.body, _result_headers(result))
            return
        async with request as answer:
            if isinstance(answer, CompletionResult):
                await _respond(send, 200, answer.body, _result_headers(answer))
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
    async with trio.open_nursery() as nursery:

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


def _match(path: str) -> _Endpoint | None:
    for pattern, make in _ROUTES:
        m = pattern.match(path)
        if m:
            return make(m)
    return None


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


async def _respond(send: Send, status: int, body: bytes, headers: Mapping[str, str]) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(k.encode(), v.encode()) for k, v in headers.items()],
        }
    )
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
