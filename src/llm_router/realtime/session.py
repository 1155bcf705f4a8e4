"""Realtime sessions over WebSocket: the trio-websocket shell around the sans-IO protocol modules.

`open_session` resolves a model to routes, opens the provider's socket with credentials
injected, and yields a `RealtimeSession` speaking the caller's protocol. One nursery per
session holds the provider connection's tasks and the reader that translates provider frames
into a bounded channel (a slow reader applies backpressure down to the socket). Failures before
the first server event (`session.created` / `setupComplete`; the handshake for `responses-ws`)
are retried and fail over along the routes; after it the session is committed. Leaving the
block closes the provider socket (1000; 1011 on an exception; 1001 when cancelled) within
`close_timeout`; a provider close ends the session with the provider's code.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import httpx
import orjson
import trio
from trio_websocket import (
    ConnectionClosed,
    ConnectionRejected,
    HandshakeError,
    WebSocketConnection,
    open_websocket_url,
)
from wsproto.utilities import LocalProtocolError

from .. import errors
from ..auth import AuthConfig
from ..executor import Executor
from ..limiting import Demand
from ..providers.azure import AzureProvider
from ..providers.google import GoogleProvider
from ..providers.openai import OpenAIProvider
from ..providers.vertex import VertexProvider
from ..resilience import AttemptRecord
from ..resilience.engine import Finisher
from ..routing import NEVER_FORWARDED, Resolver, Route
from ..types import ProviderFormat
from . import gemini_live, openai_realtime, responses_ws
from .events import (
    ConfigureSession,
    RealtimeFormat,
    RealtimeProtocolError,
    RealtimeSessionError,
    parse_frame,
)
from .translate import RealtimeTranslator
from .usage import RealtimeCost, RealtimeUsage, UsageMeter, price

if TYPE_CHECKING:
    from ..catalog import Catalog

__all__ = [
    "RealtimeAttempt",
    "RealtimeEvent",
    "RealtimeOptions",
    "RealtimeSession",
    "RealtimeSessionClosed",
    "dial",
    "open_session",
]

_CALLER_FORMAT = {
    RealtimeFormat.OPENAI_REALTIME: ProviderFormat.OPENAI,
    RealtimeFormat.RESPONSES_WS: ProviderFormat.RESPONSES,
    RealtimeFormat.GEMINI_LIVE: ProviderFormat.GOOGLE,
}
# Closes before the commit point that another attempt may cure (going away, server error,
# restart, try again later, abnormal).
_RETRYABLE_CLOSES = frozenset({1001, 1006, 1011, 1012, 1013, 1014})
_RETRYABLE_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504, 529})
# Closes of a committed session that say the route failed it (abnormal, protocol error,
# server error, restart, overloaded, bad gateway, TLS): counted by the route's breaker.
# Normal closes, going away (announced) and application codes are not.
_FAILED_CLOSES = frozenset({1002, 1006, 1011, 1012, 1013, 1014, 1015})


@dataclass(frozen=True, slots=True)
class RealtimeOptions:
    """Limits of one session; every wait is bounded (None turns a timeout off)."""

    connect_timeout: float = 10.0
    """Handshake of one attempt (TCP, TLS and the HTTP upgrade)."""
    commit_timeout: float = 10.0
    """From the handshake to the first server event."""
    idle_timeout: float | None = None
    """Longest silence from the provider once committed."""
    session_timeout: float | None = None
    """Whole session, attempts included."""
    close_timeout: float = 2.0
    """Closing handshake with the provider before the socket is dropped."""
    max_message_size: int = 4 * 1024 * 1024
    """Largest frame accepted either way (bytes)."""
    buffer: int = 64
    """Provider frames held for a slow reader before reading from the socket stops."""
    attempts_per_route: int | None = None
    """Attempts on one route before the next (None: the router's `RetryPolicy.max_attempts`)."""


@dataclass(frozen=True, slots=True)
class RealtimeEvent:
    """One frame in the caller's protocol: `data` as sent on the wire (JSON text or bytes)."""

    data: str | bytes

    def json(self) -> Any:
        return orjson.loads(self.data)

    @property
    def type(self) -> str | None:
        """The OpenAI event type, or the Gemini message's first field (`serverContent`...)."""
        value = self.json()
        if not isinstance(value, dict):
            return None
        kind = value.get("type")
        return kind if isinstance(kind, str) else next(iter(value), None)


@dataclass(frozen=True, slots=True)
class RealtimeAttempt:
    """One connection attempt: route, outcome ("committed", "failed", "reconnected")."""

    route: str
    outcome: str
    error: str | None = None


class RealtimeSessionClosed(RealtimeSessionError):
    """The session is over; `code` is the close code (the provider's when it closed first)."""


Connector = Callable[
    [str, list[tuple[bytes, bytes]], RealtimeOptions],
    contextlib.AbstractAsyncContextManager[WebSocketConnection],
]
"""Opens one provider socket: (ws URL, handshake headers, options) -> an async context manager
of a trio-websocket connection. The default dials the URL; tests may pass one over in-memory
streams (`router.realtime(..., connector=...)`) to run sessions on a virtual clock."""


def dial(
    url: str, headers: list[tuple[bytes, bytes]], options: RealtimeOptions
) -> contextlib.AbstractAsyncContextManager[WebSocketConnection]:
    """The default `Connector`: a WebSocket client connection to `url` (ws:// or wss://)."""
    return open_websocket_url(
        url,
        extra_headers=headers,
        message_queue_size=1,
        max_message_size=options.max_message_size,
        connect_timeout=options.connect_timeout,
        disconnect_timeout=options.close_timeout,
    )


@dataclass(eq=False)
class _Link:
    route: Route
    protocol: RealtimeFormat
    url: str
    headers: list[tuple[bytes, bytes]]
    ws: WebSocketConnection | None = None
    scope: trio.CancelScope = field(default_factory=trio.CancelScope)
    done: trio.Event = field(default_factory=trio.Event)

    async def hold(
        self,
        options: RealtimeOptions,
        connector: Connector,
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Own the connection (trio-websocket's tasks live in here) until `done` is set.

        The handshake can be cancelled; once it is done the connection is shielded, so that
        a session cancelled from outside (or past `session_timeout`) can still finish its
        closing handshake: trio-websocket's reader, which completes it, lives in here. Every
        path that ends a session or an attempt sets `done` (see `_run_session`)."""
        started = False
        try:
            with trio.CancelScope() as guard:
                async with connector(self.url, self.headers, options) as ws:
                    self.ws = ws
                    guard.shield = True
                    started = True
                    task_status.started()
                    await self.done.wait()
        except BaseException as failure:
            # trio-websocket's reader, given several frames over `max_message_size` in one
            # read, tries to send a second 1009 close and wsproto refuses: the session has
            # already ended with 1009, so that is no failure of the caller's.
            if not (started and _only_refused_sends(failure)):
                raise


def _only_refused_sends(failure: BaseException) -> bool:
    """Whether `failure` is wsproto refusing a frame in the state the connection is in."""
    if isinstance(failure, BaseExceptionGroup):
        return failure.split(LocalProtocolError)[1] is None
    return isinstance(failure, LocalProtocolError)


class RealtimeSession:
    """A committed realtime session in the caller's protocol (see `open_session`)."""

    def __init__(
        self,
        caller: RealtimeFormat,
        link: _Link,
        translator: RealtimeTranslator,
        options: RealtimeOptions,
        nursery: trio.Nursery,
        attempts: list[RealtimeAttempt],
        reconnect: Any,
        *,
        executor: Executor | None = None,
        model: str | None = None,
    ) -> None:
        self.caller = caller
        self._link = link
        self._translator = translator
        self._options = options
        self._nursery = nursery
        self._send_frames, self._frames = trio.open_memory_channel[RealtimeEvent](options.buffer)
        self._closed: RealtimeSessionClosed | None = None
        self._reconnect = reconnect
        self._conversation = responses_ws.Conversation()
        self._send_lock = trio.Lock()
        self._turn: Mapping[str, Any] | None = None  # the Responses-WS turn last sent
        self._turn_events = 0
        self.attempts = attempts
        self._records: list[AttemptRecord] = []
        self.frames_sent = 0
        self.frames_received = 0
        self._executor = executor
        self._model = model or link.route.model
        self._meters: list[tuple[_Link, UsageMeter]] = [(link, UsageMeter(link.protocol))]
        self.failure: errors.LLMRouterError | None = None
        """Why the route failed the session after it opened (fed to its breaker), if it did."""

    @property
    def route(self) -> Route:
        return self._link.route

    @property
    def attempt_records(self) -> tuple[AttemptRecord, ...]:
        """The resilience engine's log of the opening attempts (kind, outcome, timing), the
        same records HTTP calls keep; `attempts` is the session's own summary."""
        return tuple(self._records)

    @property
    def provider_protocol(self) -> RealtimeFormat:
        return self._link.protocol

    @property
    def dropped(self) -> Mapping[str, int]:
        """Frames dropped by translation, per kind (see docs/realtime.md)."""
        return dict(self._translator.dropped)

    @property
    def usage(self) -> RealtimeUsage:
        """Tokens the provider reported so far: per response (`usage.responses`) and in total;
        `usage.partial` (with `usage.problems`) when a report was malformed or missing."""
        return _combined([meter.usage for _, meter in self._meters])

    @property
    def cost(self) -> float | None:
        """Dollars so far at the catalog's text and audio prices; None when they cannot be
        known (`cost_unknown_reason` says why), never a guess."""
        return self._priced().dollars

    @property
    def cost_unknown_reason(self) -> str | None:
        return self._priced().reason

    def _priced(self) -> RealtimeCost:
        dollars = 0.0
        for link, meter in self._meters:
            usage = meter.usage
            if not usage.responses and not usage.partial:
                continue  # a socket that answered nothing costs nothing
            cost = self._price(link.route, usage)
            if cost.dollars is None:
                return cost
            dollars += cost.dollars
        return RealtimeCost(dollars)

    def _spent(self, link: _Link) -> tuple[RealtimeUsage | None, float | None]:
        """Usage and cost of what `link` answered (for the request's hooks and limits)."""
        for owner, meter in self._meters:
            if owner is link:
                usage = meter.usage
                return usage, self._price(link.route, usage).dollars
        return None, None

    def _price(self, route: Route, usage: RealtimeUsage) -> RealtimeCost:
        catalog = _catalog_of(self._executor)
        return price(usage, catalog.find(route.model) or catalog.find(self._model), route.model)

    def _route_failed(self, error: errors.LLMRouterError) -> None:
        """The route failed the committed session: its breaker counts a failure, as for a
        failed HTTP attempt (once per session)."""
        if self.failure is not None:
            return
        self.failure = error
        if self._executor is None:
            return
        breaker = self._executor.state.route(self._link.route.key).breaker
        if breaker is not None:
            now = trio.current_time()
            permit = breaker.try_acquire(now)  # None: the circuit is already open
            if permit is not None:
                breaker.record_failure(permit, now)

    def __repr__(self) -> str:
        return f"<RealtimeSession {self.caller} via {self._link.route.key} ({self._link.protocol})>"

    # -- caller side ------------------------------------------------------------------------------
    async def send(self, event: Mapping[str, Any] | str | bytes) -> None:
        """Send one caller-protocol event (a mapping is serialised as JSON)."""
        data = orjson.dumps(event).decode() if isinstance(event, Mapping) else event
        if len(data) > self._options.max_message_size:
            raise RealtimeProtocolError(
                f"realtime frame of {len(data)} bytes is over max_message_size "
                f"({self._options.max_message_size} bytes)",
                path="max_message_size",
            )
        if self._closed is not None:
            raise self._closed
        frames = self._outgoing(data)
        async with self._send_lock:
            if self.caller == RealtimeFormat.RESPONSES_WS:
                await self._send_turn(frames)
                return
            for frame in frames:
                await self._write(frame)

    def _outgoing(self, data: str | bytes) -> list[str | bytes]:
        if self.caller == RealtimeFormat.GEMINI_LIVE and "setup" in parse_frame(data, "gemini"):
            raise RealtimeProtocolError(
                "the Gemini Live setup is sent when the session opens: pass it as "
                "router.realtime(..., session=<setup>)",
                path="setup",
            )
        if self.caller == RealtimeFormat.RESPONSES_WS:
            message = responses_ws.with_model(
                responses_ws.decode_client(data), self._link.route.model
            )
            return [orjson.dumps(message).decode()]
        return self._translator.to_provider(data)

    async def _send_turn(self, frames: list[str | bytes]) -> None:
        message = parse_frame(frames[0], "responses-ws")
        if self._link_lost():
            await self._resend(message)
            return
        self._start_turn(message)
        try:
            await self._write(orjson.dumps(message).decode())
        except RealtimeSessionClosed:
            # The socket went between turns before the reader saw it go: use a new one.
            await self._resend(message)

    def _link_lost(self) -> bool:
        ws = self._link.ws
        return self._closed is not None or ws is None or ws.closed is not None

    def _start_turn(self, message: Mapping[str, Any]) -> None:
        self._conversation.client_turn(message)
        self._turn, self._turn_events = message, 0

    async def _resend(self, message: Mapping[str, Any]) -> None:
        """Reconnect and send `message` carrying the whole conversation (Responses-WS)."""
        if self._conversation.in_turn and self._turn_events:
            raise RealtimeSessionClosed("the socket was lost during a turn", code=1006)
        rewritten = self._conversation.resend(message)
        await self._reconnect(self)
        self._start_turn(rewritten)
        await self._write(orjson.dumps(rewritten).decode())

    async def _resend_unanswered(self) -> None:
        async with self._send_lock:
            if self._link_lost() and self._turn is not None:
                await self._resend(self._turn)

    async def _write(self, frame: str | bytes) -> None:
        ws = self._link.ws
        assert ws is not None
        try:
            await ws.send_message(frame)
        except ConnectionClosed as closed:
            raise self._ended(*_close_of(closed)) from None
        self.frames_sent += 1

    async def receive(self) -> RealtimeEvent:
        """The next frame in the caller's protocol; `RealtimeSessionClosed` once it is over."""
        try:
            return await self._frames.receive()
        except trio.EndOfChannel:
            raise self._closed or RealtimeSessionClosed("session closed", code=1000) from None

    def __aiter__(self) -> AsyncIterator[RealtimeEvent]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[RealtimeEvent]:
        while True:
            try:
                event = await self.receive()
            except RealtimeSessionClosed as closed:
                if closed.code in (1000, None):
                    return
                raise
            yield event

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the provider socket (bounded by `close_timeout`) and end the session."""
        ws = self._link.ws
        if ws is not None and ws.closed is None:
            with trio.move_on_after(self._options.close_timeout) as waited:
                waited.shield = True
                await ws.aclose(code, reason)
        self._closed = self._closed or RealtimeSessionClosed(
            f"session closed by the caller ({code})", code=code
        )
        self._link.scope.cancel()
        self._link.done.set()
        self._send_frames.close()

    # -- provider side ----------------------------------------------------------------------------
    def start_reader(self, first: str | bytes | None) -> None:
        self._link.scope = trio.CancelScope()
        self._nursery.start_soon(self._read, self._link, first)

    async def _read(self, link: _Link, first: str | bytes | None) -> None:
        ws = link.ws
        assert ws is not None
        idle = self._options.idle_timeout
        with link.scope:
            if first is not None:
                await self._deliver(first)
            while True:
                with trio.move_on_after(math.inf if idle is None else idle) as waited:
                    try:
                        frame = await ws.get_message()
                    except ConnectionClosed as closed:
                        self._finish(link, *_close_of(closed))
                        return
                if waited.cancelled_caught:
                    self._closed = RealtimeSessionClosed(
                        f"no frame from {link.route.key} for {idle} s (idle_timeout)", code=1001
                    )
                    self._route_failed(
                        errors.TimeoutError(self._closed.message, provider=link.route.alias)
                    )
                    with trio.move_on_after(self._options.close_timeout) as closing:
                        closing.shield = True
                        await ws.aclose(1001, "idle timeout")
                    link.done.set()
                    self._send_frames.close()
                    return
                await self._deliver(frame)

    async def _deliver(self, frame: str | bytes) -> None:
        self.frames_received += 1
        meter = self._meters[-1][1]
        meter.feed(frame)
        try:
            if self.caller == RealtimeFormat.RESPONSES_WS:
                self._turn_events += 1
                self._conversation.server_event(frame)
                out: list[str | bytes] = [frame]
            else:
                out = self._translator.to_caller(frame)
        except RealtimeProtocolError as error:
            self._closed = RealtimeSessionClosed(
                f"{self._link.route.key} sent a frame that cannot be delivered: {error}", code=1011
            )
            self._route_failed(
                errors.UpstreamError(self._closed.message, provider=self._link.route.alias)
            )
            if self._link.ws is not None:
                with trio.move_on_after(self._options.close_timeout) as closing:
                    closing.shield = True
                    await self._link.ws.aclose(1011, "untranslatable frame")
            self._link.done.set()
            self._send_frames.close()
            return
        for data in out:
            await self._send_frames.send(RealtimeEvent(data))
        if self._translator.close is not None:
            code, reason = self._translator.close
            self._closed = RealtimeSessionClosed(reason, code=code)
            if meter.last_error == "server_error":  # not one caused by the caller's events
                self._route_failed(
                    errors.UpstreamError(
                        f"{self._link.route.key} ended the session with an error: {reason}",
                        provider=self._link.route.alias,
                    )
                )
            self._send_frames.close()

    def _finish(self, link: _Link, code: int, reason: str) -> None:
        link.done.set()
        if link is not self._link:
            return  # an old socket, already replaced
        answered = self._conversation.in_turn and self._turn_events > 0
        if self.caller == RealtimeFormat.RESPONSES_WS and not answered:
            # Between turns a lost socket is replaced on the next send (reconnect and resend);
            # a turn sent but never answered is resent at once.
            self.attempts.append(RealtimeAttempt(link.route.key, "lost", f"closed {code}"))
            if self._conversation.in_turn:
                self._nursery.start_soon(self._resend_unanswered)
            return
        already = self._closed is not None
        self._closed = self._closed or self._ended(code, reason)
        if code in _FAILED_CLOSES and not already:
            self._route_failed(
                errors.UpstreamError(self._closed.message, provider=link.route.alias)
            )
        self._send_frames.close()

    def _ended(self, code: int, reason: str) -> RealtimeSessionClosed:
        detail = "too big (max_message_size)" if code == 1009 else reason or "no reason"
        return RealtimeSessionClosed(
            f"{self._link.route.key} closed the session ({code}: {detail})",
            code=code,
            provider=self._link.route.alias,
        )


# --------------------------------------------------------------------------- opening


def _endpoint(route: Route, protocol: RealtimeFormat) -> tuple[str, dict[str, str]]:
    """The provider's https URL for the upgrade (ws scheme applied later) and query.

    Azure: the v1 surface (`/openai/v1/realtime?model={deployment}`), or with an `api_version`
    the deployment form (`/openai/realtime?api-version=...&deployment=...`), as the official
    SDK's Azure client connects. Vertex: `LlmBidiService` of the provider's API version.
    """
    provider = route.provider
    base = provider.base_url
    if isinstance(provider, AzureProvider):
        deployment = provider.deployment(route.model)
        if protocol == RealtimeFormat.RESPONSES_WS:
            return f"{base}/openai/v1/responses", {}
        if provider.api_version is not None:
            query = {"api-version": provider.api_version, "deployment": deployment}
            return f"{base}/openai/realtime", query
        return f"{base}/openai/v1/realtime", {"model": deployment}
    if isinstance(provider, OpenAIProvider):
        if protocol == RealtimeFormat.RESPONSES_WS:
            return f"{base}/responses", {}
        return f"{base}/realtime", {"model": route.model}
    if isinstance(provider, VertexProvider):
        path = f"google.cloud.aiplatform.{provider.api_version}.LlmBidiService/BidiGenerateContent"
        return f"{base}/ws/{path}", {}
    path = "google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent"
    return f"{base}/ws/{path}", {}


def _protocol_of(route: Route, caller: RealtimeFormat) -> RealtimeFormat | None:
    provider = route.provider
    if isinstance(provider, OpenAIProvider | AzureProvider):
        if caller == RealtimeFormat.RESPONSES_WS:
            return RealtimeFormat.RESPONSES_WS
        return RealtimeFormat.OPENAI_REALTIME
    if (
        isinstance(provider, GoogleProvider | VertexProvider)
        and caller != RealtimeFormat.RESPONSES_WS
    ):
        return RealtimeFormat.GEMINI_LIVE
    return None


def _setup_model(route: Route) -> str:
    provider = route.provider
    if isinstance(provider, VertexProvider):
        return (
            f"projects/{provider.project}/locations/{provider.location}/publishers/google/"
            f"models/{route.model}"
        )
    return f"models/{route.model}"


async def _link_for(
    route: Route, protocol: RealtimeFormat, auth: AuthConfig | None, headers: Mapping[str, str]
) -> _Link:
    url, query = _endpoint(route, protocol)
    # Caller headers never carry credentials or hop-by-hop fields to the provider.
    forwarded = {k: v for k, v in headers.items() if k.lower() not in NEVER_FORWARDED}
    request = httpx.Request("GET", url, params=query or None, headers=forwarded)
    if auth is not None:
        await auth.apply(request)  # the same signer as HTTP calls: bearer, api-key, OAuth
    ws_url = str(request.url).replace("https://", "wss://", 1).replace("http://", "ws://", 1)
    skip = {"host", "content-length", "accept", "accept-encoding", "connection", "user-agent"}
    pairs = []
    for name, value in request.headers.items():
        if name.lower() in skip:
            continue
        if value != value.strip() or any(ord(c) < 32 or ord(c) == 127 for c in value):
            raise errors.InvalidRequestError(
                f"header {name!r} has a value no WebSocket handshake can carry "
                "(surrounding spaces or control characters)",
                path=name,
            )
        pairs.append((name.encode("latin-1"), value.encode("latin-1")))
    return _Link(route, protocol, ws_url, pairs)


def _commit_event(protocol: RealtimeFormat, frame: str | bytes) -> str | None:
    """None when `frame` is the protocol's first event, else what it was instead."""
    try:
        message = parse_frame(frame, protocol)
    except RealtimeProtocolError as error:
        return str(error)
    if protocol == RealtimeFormat.GEMINI_LIVE:
        return (
            None
            if ("setupComplete" in message or "setup_complete" in message)
            else (f"expected setupComplete, got {sorted(message)[:3]}")
        )
    if message.get("type") == "session.created":
        return None
    return f"expected session.created, got {str(message)[:200]}"


@dataclass(eq=False)
class _Opened:
    """An attempt that reached the commit point: its link, translator and first frame."""

    link: _Link
    translator: RealtimeTranslator
    first: str | bytes | None
    options: RealtimeOptions

    async def aclose(self) -> None:
        await _abandon(self.link, self.options)


_Spent = Callable[[_Link], tuple[RealtimeUsage | None, float | None]]
"""The usage and cost of what one socket of the session answered (for the request's end)."""


class _Opener:
    """Attempts across routes until one commits; also reconnects Responses-WS sessions.

    The attempts run through the router's resilience engine, like HTTP calls: backoff (and a
    refused upgrade's `retry-after`) between retries of a route, failover to the next, routes
    whose circuit is open skipped, and every outcome fed to the route's breaker and health.
    """

    def __init__(
        self,
        resolver: Resolver,
        auth: Mapping[str, AuthConfig],
        model: str,
        caller: RealtimeFormat,
        options: RealtimeOptions,
        setup: Mapping[str, Any] | None,
        headers: Mapping[str, str],
        executor: Executor,
        connector: Connector,
        caller_key: str | None = None,
    ) -> None:
        self.caller, self.options, self.setup, self.headers = caller, options, setup, headers
        self.caller_key = caller_key  # who is asking, for per-key limits (a gateway key)
        self.auth, self.model, self.executor, self.connector = auth, model, executor, connector
        routes = resolver.resolve(model, _CALLER_FORMAT[caller])
        speaking = [r for r in routes if _protocol_of(r, caller) is not None]
        if not speaking:
            raise errors.NoRouteError(
                f"no configured provider of model {model!r} serves {caller} sessions "
                f"(routes: {', '.join(r.key for r in routes)}); realtime needs an OpenAI, "
                "Azure, Gemini or Vertex provider"
            )
        # A realtime session needs a realtime model; Responses-WS speaks to chat models.
        realtime = caller != RealtimeFormat.RESPONSES_WS
        self.routes = [
            (r, _protocol_of(r, caller) or caller)
            for r in resolver.serving(model, speaking, realtime=realtime)
        ]
        retry = executor.retry
        if options.attempts_per_route is not None:
            retry = replace(retry, max_attempts=options.attempts_per_route)
        self.retry = retry
        # The session's own connect and commit timeouts bound each attempt; the router's
        # overall deadline bounds the opening as a whole.
        self.timeouts = replace(executor.timeouts, first_byte=None, idle=None)
        self.attempts: list[RealtimeAttempt] = []
        self.records: list[AttemptRecord] = []
        self.links: list[_Link] = []  # every socket opened, to let each go at the end
        self._open: list[tuple[_Opened, Finisher]] = []

    async def open(self, nursery: trio.Nursery) -> _Opened:
        protocols = {route.key: protocol for route, protocol in self.routes}

        async def attempt(route: Route) -> _Opened:
            try:
                return await self._attempt(nursery, route, protocols[route.key])
            except _AttemptFailed as failed:
                self.attempts.append(RealtimeAttempt(route.key, "failed", str(failed.error)))
                raise failed.error from None

        try:
            opened, _, records, finish = await self.executor.run_session(
                [route for route, _ in self.routes],
                attempt,
                label=self.model,
                retry=self.retry,
                timeouts=self.timeouts,
                demand=Demand(self.model, self.caller_key),
            )
        except errors.ProviderError as error:
            raise errors.NoRouteError(
                f"every route failed to open a realtime session: {error}",
                [error],
                retry_after=getattr(error, "retry_after", None),
            ) from error
        self.records.extend(records)
        self._open.append((opened, finish))
        return opened

    async def release(self, link: _Link, spent: _Spent) -> None:
        """A socket is gone for good (a Responses-WS session replacing it): release its
        rate-limit slot and end its request now, not when the whole session ends; a
        concurrency limit of one would otherwise make the replacement wait for itself."""
        for entry in [e for e in self._open if e[0].link is link]:
            opened, finish = entry
            self._open.remove(entry)
            await self._end(opened, finish, spent(link), None)

    async def close_all(
        self, failure: BaseException | None, spent: _Spent | None, route_failed: bool = False
    ) -> None:
        """The session is over: release each opened socket's slot and end its request with
        the usage and cost of what it answered (`spent`)."""
        for opened, finish in self._open:
            used = (None, None) if spent is None else spent(opened.link)
            await self._end(opened, finish, used, failure)
        self._open.clear()
        if route_failed:  # the breaker may have opened: a shared state hears of it
            await self.executor._publish_opened([route for route, _ in self.routes])

    async def _end(
        self,
        opened: _Opened,
        finish: Finisher,
        used: tuple[RealtimeUsage | None, float | None],
        failure: BaseException | None,
    ) -> None:
        usage, cost = used
        # Tokens settle a rate limit only when they are known (a partial count would refund
        # what was spent); the hooks get what was counted, the cost says whether it is whole.
        tokens = None if usage is None or usage.partial else usage.total_tokens
        await self.executor.stream_closed(opened, tokens)
        finish(None if usage is None else usage.to_usage(), cost, failure)

    async def _attempt(
        self, nursery: trio.Nursery, route: Route, protocol: RealtimeFormat
    ) -> _Opened:
        link = await _link_for(route, protocol, self.auth.get(route.alias), self.headers)
        self.links.append(link)
        translator = (
            RealtimeTranslator(self.caller, protocol, route.model)
            if (protocol != RealtimeFormat.RESPONSES_WS)
            else RealtimeTranslator(self.caller, self.caller, route.model)
        )
        try:
            with trio.fail_after(self.options.connect_timeout + self.options.close_timeout):
                await nursery.start(link.hold, self.options, self.connector)
            assert link.ws is not None
        except ConnectionRejected as rejected:
            raise _AttemptFailed(_refusal(route, rejected)) from None
        except (HandshakeError, OSError, trio.TooSlowError) as failure:
            error = errors.ConnectError(
                f"cannot open a realtime session on {route.key}: {type(failure).__name__}"
                f" {failure}".rstrip(),
                provider=route.alias,
            )
            raise _AttemptFailed(error) from None
        try:
            return await self._commit(route, protocol, link, translator)
        except BaseException:
            await _abandon(link, self.options)  # failed or cancelled: the socket goes too
            raise

    async def _commit(
        self, route: Route, protocol: RealtimeFormat, link: _Link, translator: RealtimeTranslator
    ) -> _Opened:
        if protocol == RealtimeFormat.RESPONSES_WS:  # committed at the handshake
            self.attempts.append(RealtimeAttempt(route.key, "committed"))
            return _Opened(link, translator, None, self.options)
        ws = link.ws
        assert ws is not None
        try:
            with trio.fail_after(self.options.commit_timeout):
                if protocol == RealtimeFormat.GEMINI_LIVE:
                    await ws.send_message(self._gemini_setup(route, translator))
                first = await ws.get_message()
        except ConnectionClosed as closed:
            code, why = _close_of(closed)
            message = (
                f"{route.key} closed the realtime session before it started ({code}: "
                f"{why or 'no reason'})"
            )
            if code in _RETRYABLE_CLOSES:
                raise _AttemptFailed(errors.ConnectError(message, provider=route.alias)) from None
            # Any other close (policy, bad request, an application code) will not change on
            # this route: the engine's `x-should-retry: false` rule moves on to the next.
            error = errors.UpstreamError(
                message, provider=route.alias, headers={"x-should-retry": "false"}
            )
            raise _AttemptFailed(error) from None
        except trio.TooSlowError:
            slow = errors.TimeoutError(
                f"{route.key} sent no first realtime event within {self.options.commit_timeout} s",
                provider=route.alias,
            )
            raise _AttemptFailed(slow) from None
        problem = _commit_event(protocol, first)
        if problem is not None:
            unexpected = errors.UpstreamError(
                f"{route.key} did not start the realtime session: {problem}", provider=route.alias
            )
            raise _AttemptFailed(unexpected) from None
        self.attempts.append(RealtimeAttempt(route.key, "committed"))
        # A Gemini caller on an OpenAI route always configures the session: text answers.
        crossing = self.caller != RealtimeFormat.OPENAI_REALTIME
        if protocol == RealtimeFormat.OPENAI_REALTIME and (self.setup is not None or crossing):
            await ws.send_message(self._openai_session_update(translator))
        return _Opened(link, translator, first, self.options)

    def _config(self) -> ConfigureSession:
        if self.setup is None:
            return ConfigureSession()
        if self.caller == RealtimeFormat.GEMINI_LIVE:
            (config,) = gemini_live.decode_client({"setup": self.setup})
        else:
            (config,) = openai_realtime.decode_client(
                {"type": "session.update", "session": self.setup}
            )
        assert isinstance(config, ConfigureSession)
        return config

    def _gemini_setup(self, route: Route, translator: RealtimeTranslator) -> str:
        model = _setup_model(route)
        if self.caller == RealtimeFormat.GEMINI_LIVE:  # same protocol: the caller's setup as is
            return orjson.dumps({"setup": {**(self.setup or {}), "model": model}}).decode()
        (setup,) = translator.setup(self._config(), model)
        return setup

    def _openai_session_update(self, translator: RealtimeTranslator) -> str:
        if self.caller == RealtimeFormat.OPENAI_REALTIME:
            return orjson.dumps({"type": "session.update", "session": self.setup}).decode()
        (frame,) = openai_realtime.encode_client(self._config())
        return orjson.dumps(frame).decode()


def _combined(parts: list[RealtimeUsage]) -> RealtimeUsage:
    if len(parts) == 1:
        return parts[0]
    total = RealtimeUsage()
    for part in parts:
        total = total + part
    responses = tuple(r for part in parts for r in part.responses)
    return replace(total, responses=responses)


def _catalog_of(executor: Executor | None) -> Catalog:
    from ..catalog import Catalog

    catalog = None if executor is None else executor.catalog
    return catalog if catalog is not None else Catalog.default()


def _close_of(closed: ConnectionClosed) -> tuple[int, str]:
    reason = closed.reason
    return (1006, "") if reason is None else (reason.code, reason.reason or "")


class _AttemptFailed(Exception):
    def __init__(self, error: errors.LLMRouterError) -> None:
        self.error = error


#: Of a refused upgrade's body, what is kept (the error message is in its first bytes).
_MAX_REFUSAL_BODY = 4096


def _refusal(route: Route, rejected: ConnectionRejected) -> errors.LLMRouterError:
    """The provider's HTTP refusal of the upgrade as the typed error an HTTP call would get:
    its status decides retry or failover, and its `retry-after` headers the wait."""
    body = (rejected.body or b"")[:_MAX_REFUSAL_BODY]
    headers = httpx.Headers([(k, v) for k, v in rejected.headers or ()])
    mapped = route.provider.map_error(rejected.status_code, headers, body, route.alias)
    detail = body[:300].decode("utf-8", "replace")
    message = f"{route.key} refused the realtime upgrade ({rejected.status_code}): {detail}"
    if isinstance(mapped, errors.ProviderError | errors.InvalidRequestError):
        mapped.message = message
        mapped.args = (message,)
    return mapped


async def _abandon(link: _Link, options: RealtimeOptions) -> None:
    if link.ws is not None:
        with trio.move_on_after(options.close_timeout) as waited:
            waited.shield = True
            await link.ws.aclose(1000, "abandoned attempt")
    link.done.set()


@contextlib.asynccontextmanager
async def open_session(
    resolver: Resolver,
    auth: Mapping[str, AuthConfig],
    model: str,
    format: RealtimeFormat | str,
    *,
    session: Mapping[str, Any] | None = None,
    options: RealtimeOptions | None = None,
    headers: Mapping[str, str] | None = None,
    executor: Executor | None = None,
    connector: Connector | None = None,
    caller: str | None = None,
) -> AsyncIterator[RealtimeSession]:
    """The shell behind `Router.realtime` (see the module docstring).

    `executor` is the router's resilience (retry policy, breakers, health); `connector`
    opens the provider sockets (default `dial`); `caller` names who is asking (e.g. a
    gateway key's name) for per-key rate limits, as `Router.handle(caller=)` does."""
    try:
        protocol = RealtimeFormat(format)
    except ValueError:
        choices = ", ".join(f.value for f in RealtimeFormat)
        raise errors.ConfigurationError(
            f"unknown realtime format {format!r}; expected one of {choices}"
        ) from None
    options = options or RealtimeOptions()
    opener = _Opener(
        resolver,
        auth,
        model,
        protocol,
        options,
        session,
        headers or {},
        executor or Executor(),
        connector or dial,
        caller,
    )
    # The session's own deadline only: a TooSlowError of the caller's (a `fail_after` in the
    # block) is the caller's and passes through as it is.
    with trio.move_on_after(options.session_timeout or math.inf) as limit:
        async with _run_session(opener, protocol, options) as live:
            yield live
    if limit.cancelled_caught:
        raise errors.TimeoutError(
            f"the realtime session of {model!r} ran past session_timeout "
            f"({options.session_timeout} s)"
        )


@contextlib.asynccontextmanager
async def _run_session(
    opener: _Opener, caller: RealtimeFormat, options: RealtimeOptions
) -> AsyncIterator[RealtimeSession]:
    from .._concurrency import open_nursery

    code, reason = 1000, ""
    failure: BaseException | None = None
    live: RealtimeSession | None = None
    try:
        async with open_nursery() as nursery:
            opened = await opener.open(nursery)

            async def reconnect(live: RealtimeSession) -> None:
                live._meters[-1][1].finish()
                await opener.release(live._link, live._spent)
                fresh = await opener.open(nursery)
                live._link = fresh.link
                live._meters.append((fresh.link, UsageMeter(fresh.link.protocol)))
                live._closed = None
                opener.attempts.append(RealtimeAttempt(fresh.link.route.key, "reconnected"))
                live.start_reader(None)

            live = RealtimeSession(
                caller,
                opened.link,
                opened.translator,
                options,
                nursery,
                opener.attempts,
                reconnect,
                executor=opener.executor,
                model=opener.model,
            )
            live._records = opener.records
            live.start_reader(opened.first)
            try:
                yield live
            except trio.Cancelled:
                code, reason = 1001, "cancelled"
                raise
            except BaseException as exc:
                code, reason, failure = 1011, "caller error", exc
                raise
            finally:
                await live.close(code, reason)
                for link in opener.links:  # sockets replaced or abandoned, if any is left
                    link.done.set()
                nursery.cancel_scope.cancel()
    finally:
        with trio.CancelScope(shield=True):
            if live is not None:
                live._meters[-1][1].finish()
            route_failed = live is not None and live.failure is not None
            if live is not None and failure is None:
                failure = live.failure
            await opener.close_all(failure, None if live is None else live._spent, route_failed)
