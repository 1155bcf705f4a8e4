"""The gateway's ASGI application: every caller path routed through an open Router.

Per request: the caller's key is checked (when the gateway has keys), the body is read within
its size and time limits, and the call runs beside a task watching for `http.disconnect`, so
a caller who hangs up cancels the upstream call at once, streaming or not (hypercorn does not
cancel the app by itself). Errors leave in the caller's format; each request ends as one
access-log line and in the metrics.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

import orjson
import trio

from llm_router import errors
from llm_router.framing.eventstream import encode_stream_event
from llm_router.gateway.access_log import AccessLog, Exchange
from llm_router.gateway.asgi import (
    Receive,
    Scope,
    Send,
    lifespan,
    respond,
    serve_watching_disconnect,
)
from llm_router.gateway.config import GatewaySettings
from llm_router.gateway.embeddings import match_embedding, serve_embedding
from llm_router.gateway.errors import error_info, render_error, render_info
from llm_router.gateway.keys import GatewayKeys, presented_key
from llm_router.gateway.limits import BodyTimeout, BodyTooLarge, ClientGone, read_body
from llm_router.gateway.listing import anthropic_models, gemini_models, one_model, openai_models
from llm_router.gateway.metrics import CONTENT_TYPE_LATEST, GatewayMetrics
from llm_router.gateway.passthrough import passthrough_headers
from llm_router.gateway.paths import Endpoint, Extra, match_endpoint, match_extra
from llm_router.gateway.realtime import serve_realtime
from llm_router.router import CompletionResult, Router, RouterStream
from llm_router.types import ProviderFormat, StreamEvent
from llm_router.universal import ErrorInfo, ErrorType, Usage

__all__ = ["Gateway"]

logger = logging.getLogger("llm_router.gateway")

_JSON = {"content-type": "application/json"}
#: The field each format's count answer carries the count in (Gemini's `totalTokens` otherwise).
_COUNT_FIELDS = {ProviderFormat.ANTHROPIC: "input_tokens", ProviderFormat.CONVERSE: "inputTokens"}
#: Sent with answers given before the request body was read: the connection cannot be reused.
_CLOSE = {"connection": "close"}
#: `Gateway._caller` for a caller who presented no gateway key.
_REFUSED = "\0refused"


class Gateway:
    """ASGI application routing every request through `router` (which must be open).

    `keys`: the tokens callers must present (None lets everyone in); `access_log` receives
    one record per request.
    """

    def __init__(
        self,
        router: Router,
        settings: GatewaySettings | None = None,
        *,
        keys: GatewayKeys | None = None,
        access_log: AccessLog | None = None,
        metrics: GatewayMetrics | None = None,
    ) -> None:
        self.router = router
        self.settings = settings or GatewaySettings()
        self.keys = keys
        self.access_log = access_log
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await lifespan(receive, send)
            return
        if scope["type"] == "websocket":  # realtime sessions: see realtime.py
            await serve_realtime(
                self.router, scope, receive, send, keys=self.keys, metrics=self.metrics
            )
            return
        if scope["type"] != "http":
            return
        path: str = scope.get("raw_path", scope["path"].encode()).decode("latin-1").split("?", 1)[0]
        exchange = Exchange(scope["method"], path, trio.current_time())
        if self.metrics is not None:
            self.metrics.in_flight.inc()
        tracing = self.router.tracing
        try:
            if tracing is None:
                await self._http(scope, receive, exchange.recording(send), exchange)
            else:
                await self._http_traced(tracing, scope, receive, send, exchange)
        finally:
            exchange.ended = trio.current_time()
            if self.metrics is not None:
                self.metrics.in_flight.dec()
                self.metrics.observe(exchange)
            if self.access_log is not None and exchange.operation not in _QUIET:
                self.access_log.record(exchange)

    async def _http_traced(
        self, tracing: Any, scope: Scope, receive: Receive, send: Send, exchange: Exchange
    ) -> None:
        """`_http` inside the request's server span (the router's call span nests under it)."""
        from opentelemetry import trace

        from llm_router.tracing import end_server_span

        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        span = tracing.server_span(exchange.method, exchange.path, headers)
        try:
            with trace.use_span(span, end_on_exit=False, record_exception=False):
                await self._http(scope, receive, exchange.recording(send), exchange)
        finally:
            end_server_span(span, exchange)

    async def _http(self, scope: Scope, receive: Receive, send: Send, exchange: Exchange) -> None:
        method, path = exchange.method, exchange.path
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        if method == "GET" and path in _OPERATIONS_PATHS:
            await self._operations(path, send, exchange)
            return
        extra = match_extra(method, path, headers)
        if extra is not None:
            exchange.operation, exchange.format = extra.operation, extra.format.value
            exchange.model = extra.model
            if self._caller(scope, headers) is _REFUSED:
                await self._refuse(send, extra.format, ErrorType.AUTHENTICATION, 401, _KEY_MESSAGE)
                return
            await self._extra(extra, scope, receive, send, headers, exchange)
            return
        embedding = match_embedding(method, path)
        if embedding is not None:
            await serve_embedding(self, embedding, scope, receive, send, headers, exchange)
            return
        endpoint = match_endpoint(path)
        if endpoint is None or method != "POST":
            await respond(
                send,
                404,
                orjson.dumps({"error": {"message": f"no route for {method} {path}"}}),
                _JSON,
            )
            return
        exchange.operation = "generate"
        exchange.format = endpoint.format.value
        exchange.model = endpoint.model
        caller = self._caller(scope, headers)
        if caller is _REFUSED:
            await self._refuse(send, endpoint.format, ErrorType.AUTHENTICATION, 401, _KEY_MESSAGE)
            return
        body = await self._read_limited(receive, headers, send, endpoint.format, exchange)
        if body is None:
            return
        _note_request(exchange, body)
        await self._call_watching_disconnect(
            endpoint, body, headers, receive, send, exchange, caller
        )

    async def _operations(self, path: str, send: Send, exchange: Exchange) -> None:
        """/healthz (alive), /readyz (open, with a provider), /metrics (Prometheus text)."""
        exchange.operation = path.strip("/_").replace("gateway/", "")
        if path == "/metrics":
            if self.metrics is None:
                await respond(send, 404, b'{"error":{"message":"metrics are off"}}', _JSON)
                return
            await respond(send, 200, self.metrics.render(), {"content-type": CONTENT_TYPE_LATEST})
            return
        if path == "/readyz":
            problem = None
            if not self.router.is_open:
                problem = "the router is not open"
            elif not self.router.providers:
                problem = "no provider is configured"
            body = (
                {"status": "ready"}
                if problem is None
                else {"status": "not ready", "reason": problem}
            )
            await respond(send, 200 if problem is None else 503, orjson.dumps(body), _JSON)
            return
        await respond(send, 200, orjson.dumps({"status": "ok"}), _JSON)

    async def _extra(
        self,
        extra: Extra,
        scope: Scope,
        receive: Receive,
        send: Send,
        headers: Mapping[str, str],
        exchange: Exchange,
    ) -> None:
        """Model listings (answered by the gateway itself) and token counts."""
        if extra.operation == "model":
            assert extra.model is not None
            entry = one_model(self.router, extra.model, extra.format)
            if entry is None:
                await self._refuse(
                    send,
                    extra.format,
                    ErrorType.NOT_FOUND,
                    404,
                    f"model {extra.model!r} is not served here: GET the models list for "
                    "the models this gateway routes",
                )
                return
            await respond(send, 200, orjson.dumps(entry), _JSON)
            return
        if extra.operation == "models":
            listing = {
                ProviderFormat.OPENAI: openai_models,
                ProviderFormat.ANTHROPIC: anthropic_models,
                ProviderFormat.GOOGLE: gemini_models,
            }[extra.format](self.router)
            await respond(send, 200, orjson.dumps(listing), _JSON)
            return
        body = await self._read_limited(receive, headers, send, extra.format, exchange)
        if body is None:
            return
        await serve_watching_disconnect(
            receive, exchange, lambda: self._count(extra, body, headers, send, exchange)
        )

    async def _count(
        self,
        extra: Extra,
        body: bytes,
        headers: Mapping[str, str],
        send: Send,
        exchange: Exchange,
    ) -> None:
        """A token count, by a provider that counts or the local estimate (`x-llm-router-
        token-count: provider` or `estimate` says which)."""
        try:
            count = await self.router.count_tokens(body, extra.format, extra.model, headers=headers)
        except errors.LLMRouterError as exc:
            exchange.error = type(exc).__name__
            status, payload, extra_headers = render_error(exc, extra.format)
            await respond(send, status, payload, extra_headers)
            return
        exchange.input_tokens = count.input_tokens
        exchange.provider, exchange.route_model = count.provider, count.model
        field = _COUNT_FIELDS.get(extra.format, "totalTokens")
        answer = {field: count.input_tokens}
        reply_headers = {
            **_JSON,
            "x-llm-router-token-count": "estimate" if count.estimated else "provider",
        }
        if count.provider is not None:
            reply_headers["x-llm-router-provider"] = count.provider
        await respond(send, 200, orjson.dumps(answer), reply_headers)

    async def _read_limited(
        self,
        receive: Receive,
        headers: Mapping[str, str],
        send: Send,
        fmt: ProviderFormat,
        exchange: Exchange,
    ) -> bytes | None:
        """The request body, or None once the refusal (413, 408) is sent or the caller left."""
        try:
            return await read_body(
                receive,
                headers,
                max_bytes=self.settings.max_body_bytes,
                time_limit=self.settings.read_timeout,
            )
        except BodyTooLarge as exc:
            await self._refuse(send, fmt, ErrorType.INVALID_REQUEST, 413, str(exc))
        except BodyTimeout as exc:
            await self._refuse(send, fmt, ErrorType.INVALID_REQUEST, 408, str(exc))
        except ClientGone:
            exchange.disconnected = True
        return None

    def _admitted(self, scope: Scope, headers: Mapping[str, str]) -> bool:
        return self._caller(scope, headers) is not _REFUSED

    def _caller(self, scope: Scope, headers: Mapping[str, str]) -> str | None:
        """Who is calling (the key's name or digest, for per-key limits): None without
        gateway keys, `_REFUSED` when the caller presented none of them."""
        if self.keys is None:
            return None
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        identity = self.keys.identify(presented_key(headers, query))
        return _REFUSED if identity is None else identity

    async def _refuse(
        self, send: Send, fmt: ProviderFormat, kind: ErrorType, status: int, message: str
    ) -> None:
        out_status, payload, extra = render_info(ErrorInfo(kind, message, status=status), fmt)
        await respond(send, out_status, payload, {**extra, **_CLOSE})

    async def _call_watching_disconnect(
        self,
        endpoint: Endpoint,
        body: bytes,
        headers: dict[str, str],
        receive: Receive,
        send: Send,
        exchange: Exchange,
        caller: str | None = None,
    ) -> None:
        async def serve() -> None:
            try:
                await self._serve(endpoint, body, headers, send, exchange, caller)
            except errors.LLMRouterError as exc:
                exchange.error = type(exc).__name__
                status, payload, extra = render_error(exc, endpoint.format)
                passed = passthrough_headers(_error_headers(exc), endpoint.format)
                await respond(send, status, payload, {**passed, **extra})
            except Exception as exc:  # a bug of ours: one log line, a 500 in the caller's format
                logger.exception("gateway: unexpected error serving %s", exchange.path)
                exchange.error = type(exc).__name__
                if exchange.status is None:
                    await self._refuse(
                        send, endpoint.format, ErrorType.SERVER, 500, "internal gateway error"
                    )

        await serve_watching_disconnect(receive, exchange, serve)

    async def _serve(
        self,
        endpoint: Endpoint,
        body: bytes,
        headers: dict[str, str],
        send: Send,
        exchange: Exchange,
        caller: str | None = None,
    ) -> None:
        router = self.router
        fmt, model = endpoint.format, endpoint.model
        if endpoint.stream is None:
            request = router.handle(body, fmt, model, headers=headers, caller=caller)
        elif endpoint.stream:
            request = router.stream(body, fmt, model, headers=headers, caller=caller)
        else:
            result = await router.complete(body, fmt, model, headers=headers, caller=caller)
            await self._send_result(result, send, exchange, fmt)
            return
        async with request as answer:
            if isinstance(answer, CompletionResult):
                await self._send_result(answer, send, exchange, endpoint.format)
                return
            exchange.stream = True
            await self._stream_out(answer, endpoint.format, send, exchange)

    async def _send_result(
        self, result: CompletionResult, send: Send, exchange: Exchange, fmt: ProviderFormat
    ) -> None:
        exchange.provider, exchange.route_model = result.provider, result.model
        exchange.attempts = len(result.attempts)
        _note_usage(exchange, result.usage, result.cost)
        headers = {**passthrough_headers(result.upstream_headers, fmt), **_result_headers(result)}
        await respond(send, 200, result.body, headers)

    async def _stream_out(
        self, events: RouterStream, fmt: ProviderFormat, send: Send, exchange: Exchange
    ) -> None:
        """Write events as SSE (or event-stream frames for Converse) until done."""
        exchange.provider, exchange.route_model = events.provider, events.model
        exchange.attempts = len(events.attempts)
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
                    *(
                        (name.encode(), value.encode())
                        for name, value in passthrough_headers(events.upstream_headers, fmt).items()
                    ),
                ],
            }
        )
        try:
            try:
                async for event in events:
                    # The events the same network read brought go out in one write: a write
                    # per event cost hypercorn and h11 most of a stream's CPU.
                    parts = [_frame(event, binary)]
                    failure: errors.LLMRouterError | None = None
                    while len(parts) < _EVENTS_PER_WRITE:
                        try:
                            ready = events.next_ready()
                        except errors.LLMRouterError as exc:
                            failure = exc  # after the events before it are written
                            break
                        if ready is None:
                            break
                        parts.append(_frame(ready, binary))
                    body = parts[0] if len(parts) == 1 else b"".join(parts)
                    await send({"type": "http.response.body", "body": body, "more_body": True})
                    if failure is not None:
                        raise failure
            except errors.LLMRouterError as exc:
                # Committed stream: report the failure in-band, in the caller's format.
                exchange.error = type(exc).__name__
                await send(
                    {
                        "type": "http.response.body",
                        "body": _error_frames(events, exc, fmt),
                        "more_body": True,
                    }
                )
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            _note_usage(exchange, events.usage, events.cost)


_OPERATIONS_PATHS = frozenset({"/healthz", "/readyz", "/metrics", "/health", "/_gateway/health"})
_QUIET = frozenset({"healthz", "readyz", "metrics", "health"})  # probes stay out of the log

_KEY_MESSAGE = (
    "missing or invalid gateway key: present one of the gateway's keys as this API's "
    "client would (Authorization: Bearer, x-api-key, x-goog-api-key or ?key=)"
)


def _note_request(exchange: Exchange, body: bytes) -> None:
    """The model named in the body, for the log (the URL names it for Gemini and Bedrock)."""
    if exchange.model is not None:
        return
    try:
        obj = orjson.loads(body)
    except orjson.JSONDecodeError:
        return
    if isinstance(obj, dict) and isinstance(obj.get("model"), str):
        exchange.model = obj["model"][:200]


def _note_usage(exchange: Exchange, usage: Usage | None, cost: float | None) -> None:
    if usage is not None:
        exchange.input_tokens, exchange.output_tokens = usage.input_tokens, usage.output_tokens
    exchange.cost = cost


_EVENTS_PER_WRITE = 64  # at most this many already-read events joined into one write


def _frame(event: StreamEvent, binary: bool) -> bytes:
    return encode_stream_event(event) if binary else event.to_sse()


def _error_frames(events: RouterStream, exc: errors.LLMRouterError, fmt: ProviderFormat) -> bytes:
    """The caller format's own in-stream error event for a failure after commit."""
    failure = events.error_events(error_info(exc))
    return b"".join(_frame(e, fmt is ProviderFormat.CONVERSE) for e in failure)


def _error_headers(exc: BaseException) -> Mapping[str, str] | None:
    """The upstream response headers behind a router error (its last route's), if any."""
    headers = getattr(exc, "headers", None)
    if isinstance(headers, Mapping) and headers:
        return headers
    for inner in reversed(getattr(exc, "errors", None) or []):
        found = _error_headers(inner)
        if found:
            return found
    return None


def _result_headers(result: CompletionResult) -> dict[str, str]:
    return {"content-type": "application/json", "x-llm-router-provider": result.provider}
