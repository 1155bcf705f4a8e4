"""The gateway's realtime WebSocket endpoints: one router session per client socket, relayed.

Paths: `/v1/realtime?model=...` (OpenAI Realtime; also as Azure OpenAI clients dial it,
`/openai/v1/realtime?model=` and `/openai/realtime?deployment=`), `/v1/responses` and
`/openai/v1/responses` (Responses WebSocket mode),
`/ws/google.ai.generativelanguage.{v1alpha,v1beta,v1}.GenerativeService.BidiGenerateContent`
and Vertex's `/ws/google.cloud.aiplatform.{v1,v1beta1}.LlmBidiService/BidiGenerateContent`
(Gemini Live; a Vertex setup's `projects/.../models/{m}` names model `m`). Gateway keys are checked before the upgrade (401); the client never sees
provider credentials: the router injects its own, and caller credentials are never forwarded. An
OpenAI Realtime session is opened before the upgrade is accepted, so a model no route can
serve is refused with an HTTP error; Gemini Live and Responses-WS clients speak first (the
setup, or the first `response.create`, names the model), so theirs are accepted first: a Gemini
Live setup no route can serve is closed as the service closes it (1008 naming the model for
what the client got wrong, 1013 when every route is limited or down, 1011 otherwise), and a
refused `response.create` is answered with the protocol's `error` event, the socket staying
open for the next one. Either side closing closes the other: a
provider close reaches the client with the provider's code.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl

import orjson
import trio

from llm_router import errors
from llm_router.gateway.asgi import Receive, Scope, Send
from llm_router.gateway.errors import render_error
from llm_router.gateway.keys import GatewayKeys, presented_key
from llm_router.gateway.metrics import GatewayMetrics
from llm_router.realtime import RealtimeFormat, RealtimeProtocolError
from llm_router.realtime.session import RealtimeSession, RealtimeSessionClosed
from llm_router.router import Router
from llm_router.types import ProviderFormat

__all__ = ["realtime_format", "serve_realtime"]

_GEMINI = re.compile(
    r"^/ws/google\.ai\.generativelanguage\.(v1alpha|v1beta|v1)\.GenerativeService\."
    r"BidiGenerateContent$"
)


_VERTEX = re.compile(
    r"^/ws/google\.cloud\.aiplatform\.(v1|v1beta1)\.LlmBidiService/BidiGenerateContent$"
)
#: OpenAI Realtime as Azure OpenAI clients dial it: the v1 surface, or the deployment form.
_AZURE_REALTIME = frozenset({"/openai/v1/realtime", "/openai/realtime"})


def realtime_format(path: str) -> RealtimeFormat | None:
    if path == "/v1/realtime" or path in _AZURE_REALTIME:
        return RealtimeFormat.OPENAI_REALTIME
    if path in ("/v1/responses", "/openai/v1/responses"):
        return RealtimeFormat.RESPONSES_WS
    if _GEMINI.match(path) or _VERTEX.match(path):
        return RealtimeFormat.GEMINI_LIVE
    return None


async def _deny(send: Send, status: int, message: str) -> None:
    body = orjson.dumps({"error": {"message": message, "type": "invalid_request_error"}})
    await _refuse(send, status, body, {"content-type": "application/json"})


async def _refuse(send: Send, status: int, body: bytes, headers: dict[str, str]) -> None:
    """Refuse the upgrade with an HTTP answer (the ASGI WebSocket denial response)."""
    pairs = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
    await send({"type": "websocket.http.response.start", "status": status, "headers": pairs})
    await send({"type": "websocket.http.response.body", "body": body})


def _live_close_code(status: int) -> int:
    """The close code Gemini Live refuses a setup with: 1008 (policy violation) for what the
    client got wrong (an unknown or non-live model, a bad setup, a refused key), as the
    service closes for a model it does not serve; 1013 (try again later) when every route is
    limited or unavailable; 1011 for any other failure."""
    if status in (429, 503):
        return 1013
    return 1008 if 400 <= status < 500 else 1011


def _reason(text: str) -> str:
    """`text` cut to what a close frame carries: at most 123 bytes of UTF-8, whole characters."""
    data = text.encode()
    if len(data) <= 123:
        return text
    return data[:120].decode(errors="ignore") + "..."


def _frame(message: dict[str, Any]) -> str | bytes | None:
    if message.get("text") is not None:
        return str(message["text"])
    if message.get("bytes") is not None:
        return bytes(message["bytes"])
    return None


async def serve_realtime(
    router: Router,
    scope: Scope,
    receive: Receive,
    send: Send,
    *,
    keys: GatewayKeys | None = None,
    metrics: GatewayMetrics | None = None,
) -> None:
    """Serve one client WebSocket (an ASGI `websocket` scope) through `router`; with
    `metrics`, count the session (`outcome`: refused, failed, closed) and its frames."""
    tally = {"format": "", "outcome": "refused"}  # filled in as the session goes
    if metrics is not None:
        metrics.realtime_open.inc()
    try:
        await _serve(router, scope, receive, send, keys, metrics, tally)
    finally:
        if metrics is not None:
            metrics.realtime_open.dec()
            metrics.realtime_sessions.labels(tally["format"], tally["outcome"]).inc()


async def _serve(
    router: Router,
    scope: Scope,
    receive: Receive,
    send: Send,
    keys: GatewayKeys | None,
    metrics: GatewayMetrics | None,
    tally: dict[str, str],
) -> None:
    path = scope["path"]
    query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
    if (await receive())["type"] != "websocket.connect":
        tally["outcome"] = "refused"
        return
    fmt = realtime_format(path)
    if fmt is None:
        await _deny(send, 404, f"no realtime endpoint at {path}")
        tally["outcome"] = "refused"
        return
    tally["format"] = fmt.value
    caller: str | None = None  # the key's name or digest, for per-key limits
    if keys is not None:
        caller = keys.identify(presented_key(headers, query))
        if caller is None:
            await _deny(send, 401, "a valid gateway key is required")
            tally["outcome"] = "refused"
            return
    first: str | bytes | None = None
    session_config: dict[str, Any] | None = None
    if fmt == RealtimeFormat.OPENAI_REALTIME:
        model = query.get("model") or query.get("deployment")  # Azure clients send the latter
        if not model:
            await _deny(send, 400, "the realtime URL needs ?model=")
            tally["outcome"] = "refused"
            return
        opened = router.realtime(model, fmt, headers=headers, caller=caller)
        try:
            session = await opened.__aenter__()
        except errors.LLMRouterError as error:
            # As an HTTP call would be answered: a chat model is a 400 naming it, every route
            # refused or skipped a 503 (429) with `retry-after` for the client to back off.
            status, body, extra = render_error(error, ProviderFormat.OPENAI)
            await _refuse(send, status, body, extra)
            tally["outcome"] = "failed"
            return
        await send({"type": "websocket.accept"})
    else:
        await send({"type": "websocket.accept"})
        while True:
            message = await receive()
            first = _frame(message)
            if first is None:
                tally["outcome"] = "closed"
                return
            try:
                value = orjson.loads(first)
                if fmt == RealtimeFormat.GEMINI_LIVE:
                    session_config = dict(value["setup"])
                    model = str(session_config.pop("model")).rsplit("/", 1)[-1]
                    first = None  # the setup goes with the session's opening
                else:
                    model = str(value["model"])
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                await send({"type": "websocket.close", "code": 1007, "reason": "bad first message"})
                tally["outcome"] = "failed"
                return
            opened = router.realtime(
                model, fmt, session=session_config, headers=headers, caller=caller
            )
            try:
                session = await opened.__aenter__()
                break
            except errors.LLMRouterError as error:
                if fmt == RealtimeFormat.RESPONSES_WS:
                    # As the Responses WebSocket server answers a refused `response.create`: an
                    # `error` event, the socket left open for the client's next one.
                    status, body, _ = render_error(error, ProviderFormat.RESPONSES)
                    event = {"type": "error", "status": status, **orjson.loads(body)}
                    await send({"type": "websocket.send", "text": orjson.dumps(event).decode()})
                    continue
                status, _, _ = render_error(error, ProviderFormat.GOOGLE)
                await send(
                    {
                        "type": "websocket.close",
                        "code": _live_close_code(status),
                        "reason": _reason(str(error)),
                    }
                )
                tally["outcome"] = "failed"
                return
    tally["outcome"] = "closed"
    failure: BaseException | None = None
    try:
        await _relay(session, first, receive, send, metrics)
    except BaseException as exc:
        failure = exc
        raise
    finally:
        with trio.CancelScope(shield=True):
            try:
                await opened.__aexit__(
                    type(failure) if failure else None,
                    failure,
                    failure.__traceback__ if failure else None,
                )
            finally:
                if metrics is not None:
                    metrics.observe_realtime(session)  # its usage is final once it is closed


async def _relay(
    session: RealtimeSession,
    first: str | bytes | None,
    receive: Receive,
    send: Send,
    metrics: GatewayMetrics | None,
) -> None:
    def count(direction: str) -> None:
        if metrics is not None:
            metrics.realtime_frames.labels(direction).inc()

    async def upstream(cancel: trio.CancelScope) -> None:
        if first is not None:
            await session.send(first)
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                cancel.cancel()  # the client left: leaving the session closes the provider
                return
            frame = _frame(message)
            if frame is None:
                continue
            try:
                await session.send(frame)
                count("upstream")
            except RealtimeSessionClosed:
                return
            except RealtimeProtocolError as refused:
                await send(
                    {"type": "websocket.close", "code": 1007, "reason": _reason(str(refused))}
                )
                cancel.cancel()
                return

    async with trio.open_nursery() as nursery:
        nursery.start_soon(upstream, nursery.cancel_scope)
        code, reason = 1000, ""
        try:
            async for event in session:
                key = "bytes" if isinstance(event.data, bytes) else "text"
                await send({"type": "websocket.send", key: event.data})
                count("downstream")
        except RealtimeSessionClosed as closed:
            code, reason = closed.code or 1011, _reason(closed.message)
        if code in (1005, 1006, 1015):  # reserved: never sent in a close frame
            code = 1011
        await send({"type": "websocket.close", "code": code, "reason": reason})
        nursery.cancel_scope.cancel()
