"""The Router: a nursery-scoped shell tying catalog, translation, providers and resilience.

`async with router:` opens the router's nursery (background tasks such as token refresh) and
its one `httpx.AsyncClient`. Every call runs in a cancel scope the router knows about, so
leaving the block cancels whatever is still in flight and closes every open stream.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any

import httpx
import orjson
import trio

from llm_router import errors
from llm_router._concurrency import open_nursery, require_trio
from llm_router._log_scrub import install_log_scrubber
from llm_router.providers.base import edit_json_body
from llm_router.routing import Resolver, Route, forwardable_headers
from llm_router.types import ProviderFormat, StreamEvent

# The call path (reading and translating answers and streams: `upstream`, `answer`,
# `translate`, the formats and the universal types) is imported by the calls that use it, not
# with this module: a program that imports or builds a router does not load it until its
# first call. Once loaded, each of those imports is a dictionary lookup per call, not per event.
if TYPE_CHECKING:
    from llm_router.answer import Answer, Pricer
    from llm_router.auth import AuthConfig
    from llm_router.builder import RouterBuilder, RouterConfig
    from llm_router.catalog import Catalog
    from llm_router.counting import TokenCount
    from llm_router.embedding import EmbeddingResult
    from llm_router.formats.embeddings import EmbeddingFormat
    from llm_router.limiting import Demand
    from llm_router.realtime.session import RealtimeSession
    from llm_router.resilience.log import AttemptRecord
    from llm_router.universal import ErrorInfo, Usage
    from llm_router.upstream import UpstreamStream

__all__ = ["CompletionResult", "Router", "RouterClosedError", "RouterStream"]

#: Caller formats that say "stream" in the URL, not in the body.
_STREAM_IN_URL = frozenset({ProviderFormat.GOOGLE, ProviderFormat.CONVERSE})

#: A stream reader is let to run through at most this many events without a checkpoint.
_EVENTS_PER_CHECKPOINT = 16
_checkpoint_if_cancelled = trio.lowlevel.checkpoint_if_cancelled  # once per event served

#: Anthropic requires `max_tokens`; when a caller's format has none, use the model's catalog
#: maximum capped here (large values make non-streaming Anthropic calls refuse to start).
DEFAULT_MAX_TOKENS_CAP = 8192


class RouterClosedError(errors.LLMRouterError):
    """The router was closed (left its `async with`) while this call was in flight."""


class CompletionResult:
    """A whole answer, pre-serialised in the caller's format, with what it says.

    `body` is the answer's bytes in the caller's `format`; `usage` (universal `Usage`, None
    when the provider reported none), `cost` (dollars at the catalog's prices, None when the
    model has no price) and `text` (the answer's text parts, concatenated) are read from the
    provider's answer the first time they are asked for. `attempts` is the attempt log; the
    winning attempt carries the usage and cost.
    """

    __slots__ = (
        "_answer",
        "_attempts",
        "_attempts_raw",
        "format",
        "latency",
        "model",
        "provider",
        "provider_format",
        "status",
    )

    def __init__(
        self,
        answer: Answer,
        *,
        provider: str,
        model: str,
        provider_format: ProviderFormat,
        latency: float,
        attempts: tuple[AttemptRecord, ...] = (),
        status: int = 200,
    ) -> None:
        self._answer = answer
        self._attempts: tuple[AttemptRecord, ...] | None = None
        self.format = answer.format
        self.provider = provider
        self.model = model
        self.provider_format = provider_format
        self.latency = latency
        self.status = status
        self._attempts_raw = attempts

    @property
    def body(self) -> bytes:
        return self._answer.body

    @property
    def usage(self) -> Usage | None:
        return self._answer.usage

    @property
    def cost(self) -> float | None:
        return self._answer.cost

    @property
    def text(self) -> str:
        return self._answer.text

    @property
    def upstream_headers(self) -> Mapping[str, str]:
        """The winning upstream response's headers (rate limits, request id...)."""
        return self._answer.headers

    @property
    def attempts(self) -> tuple[AttemptRecord, ...]:
        if self._attempts is None:
            from llm_router.resilience.log import with_usage

            self._attempts = with_usage(self._attempts_raw, self.usage, self.cost)
        return self._attempts

    def json(self) -> Any:
        return orjson.loads(self._answer.body)

    def __repr__(self) -> str:
        return (
            f"<CompletionResult {self.provider}/{self.model} format={self.format} "
            f"bytes={len(self.body)} latency={self.latency:.3f}s>"
        )


@dataclass(slots=True)
class _Call:
    """A validated caller request."""

    raw: bytes
    format: ProviderFormat
    model: str
    stream: bool
    headers: dict[str, str]
    routes: list[Route]
    default_max_tokens: int | None
    include_usage: bool = True
    demand: Demand | None = None
    _bodies: dict[ProviderFormat, bytes] = field(default_factory=dict)

    def body_for(self, route: Route) -> bytes:
        """The request body in the route's format (the caller's own bytes when formats match)."""
        if route.format is self.format:
            return self.raw
        body = self._bodies.get(route.format)
        if body is None:
            from llm_router.translate import translate_request

            body = translate_request(
                self.raw, self.format, route.format, default_max_tokens=self.default_max_tokens
            )
            if (
                self.stream
                and self.format in _STREAM_IN_URL
                and route.format is ProviderFormat.OPENAI
            ):
                # The caller's body never said "stream" (its URL did): ask for the usage
                # chunk that a streamed Chat answer only sends on request.
                body = edit_json_body(body, {"stream_options": {"include_usage": True}})
            self._bodies[route.format] = body
        return body


class RouterStream:
    """Events of one streamed answer in the caller's format; iterate with `async for`.

    `usage` (universal, as the provider reported it so far: complete once the stream has
    ended) and `cost` (dollars at the catalog's prices) need no parsing; `text_deltas()`
    iterates just the answer's text pieces, for callers who only want the words.

    Not an async generator on purpose: an event already read is served at once (a
    cancellation check, no scope, and every few events a checkpoint so that a fast reader
    of one large read lets other tasks run); only a wait on the network opens a short cancel
    scope (idle timeout, router shutdown), and no event is yielded while holding one.
    """

    def __init__(
        self,
        upstream: UpstreamStream,
        caller_format: ProviderFormat,
        attempts: tuple[AttemptRecord, ...],
        idle_timeout: float | None,
        pricer: Pricer | None = None,
    ) -> None:
        self._upstream = upstream
        self._idle_timeout = idle_timeout
        self._served_in_a_row = 0  # events served since the last checkpoint
        self._scope: trio.CancelScope | None = None
        self._aborted = False
        self._pricer = pricer
        self.failure: BaseException | None = None  # the error that ended the stream, if any
        self.attempts = attempts
        self.provider = upstream.route.alias
        self.model = upstream.route.model
        self.format = caller_format
        self.provider_format = upstream.route.format
        self.upstream_headers: Mapping[str, str] = upstream.headers
        """The upstream stream response's headers (rate limits, request id...)."""
        self.events_delivered = 0

    @property
    def usage(self) -> Usage | None:
        """The usage the provider reported (cumulative; final once the stream has ended)."""
        return self._upstream.meter.usage

    @property
    def cost(self) -> float | None:
        """Dollars for `usage` at the catalog's prices (None without usage or a price)."""
        return None if self._pricer is None else self._pricer.cost(self.usage)

    @property
    def ended(self) -> bool:
        """Whether the upstream stream has ended."""
        return self._upstream.ended

    def text_deltas(self) -> AsyncIterator[str]:
        """The answer's text pieces as they arrive (reasoning and tool calls left out).

        Consumes this stream: iterate one or the other."""
        return TextDeltas(self, self.format)

    def __aiter__(self) -> RouterStream:
        return self

    async def __anext__(self) -> StreamEvent:
        try:
            if self._aborted:
                raise RouterClosedError("the router was closed while this stream was open")
            # Checked before an event is taken: a cancelled caller stops here, the event kept.
            served = self._served_in_a_row + 1
            if served < _EVENTS_PER_CHECKPOINT:
                self._served_in_a_row = served
                await _checkpoint_if_cancelled()
            else:
                self._served_in_a_row = 0
                await trio.lowlevel.checkpoint()
                if self._aborted:
                    raise RouterClosedError("the router was closed while this stream was open")
            upstream = self._upstream
            event = upstream.next_buffered()
            if event is None:
                # Past the last event no read waits on the network: no scope is needed.
                event = await (upstream.next_event() if upstream.over else self._read())
                if event is None:
                    raise StopAsyncIteration
        except errors.LLMRouterError as exc:
            self.failure = exc
            raise
        self.events_delivered += 1
        return event

    def next_ready(self) -> StreamEvent | None:
        """The next event if what was read from the network already holds it, else None; no
        wait and no checkpoint. For writers that join the events one network read brought
        into one write (the gateway does): take an event with `async for` (which waits, and
        is where cancellation is seen), then what `next_ready` gives, then write. Raises the
        stream's typed error as `async for` would; an ended stream gives None."""
        if self._aborted:
            return None
        try:
            event = self._upstream.next_buffered()
        except errors.LLMRouterError as exc:
            self.failure = exc
            raise
        if event is not None:
            self.events_delivered += 1
        return event

    async def _read(self) -> StreamEvent | None:
        """Wait on the network for the next event: one scope for the idle timeout and router
        shutdown, opened only when nothing is buffered."""
        idle = self._idle_timeout
        deadline = math.inf if idle is None else trio.current_time() + idle
        event: StreamEvent | None = None
        with trio.CancelScope(deadline=deadline) as scope:
            self._scope = scope
            try:
                event = await self._upstream.next_event()
            finally:
                self._scope = None
        if self._aborted:
            raise RouterClosedError("the router was closed while this stream was open")
        if not scope.cancelled_caught:
            return event
        raise errors.TimeoutError(
            f"{self.provider}: no stream event for {idle:g}s (idle timeout) "
            f"after {self.events_delivered} events",
            provider=self.provider,
        )

    def error_events(self, error: ErrorInfo) -> list[StreamEvent]:
        """The caller-format event(s) reporting a failure of this stream after it started,
        for gateways that must tell their client in-band."""
        return self._upstream.fail(error)

    def _abort(self) -> None:
        self._aborted = True
        if self._scope is not None:
            self._scope.cancel()

    async def aclose(self) -> None:
        await self._upstream.aclose()


class Router:
    """Routes request bodies in any supported wire format to the configured providers."""

    def __init__(self, config: RouterConfig) -> None:
        self._config = config
        self._resolver = Resolver(config.catalog, config.providers, config.model_routes)
        self._client: httpx.AsyncClient | None = None
        self._nursery: trio.Nursery | None = None
        self._nursery_cm: Any = None
        self._scopes: set[trio.CancelScope] = set()
        self._streams: set[RouterStream] = set()
        self._closing = False

    @staticmethod
    def builder() -> RouterBuilder:
        from llm_router.builder import RouterBuilder

        return RouterBuilder()

    @property
    def catalog(self) -> Catalog:
        return self._config.catalog

    def __repr__(self) -> str:
        state = "open" if self._client is not None else "closed"
        return f"<Router {state} providers={list(self._config.providers)}>"

    # -- lifecycle --------------------------------------------------------------------------------
    async def __aenter__(self) -> Router:
        require_trio("Router")
        if self._client is not None:
            raise errors.ConfigurationError(
                "this router is already open; a router is entered once at a time"
            )
        self._closing = False
        from llm_router.upstream import live_scrubbers

        install_log_scrubber(live_scrubbers)
        # Loaded here, not at import: the pool pulls in httpcore (and h11, h2), which a program
        # pays for only once it opens a router.
        from llm_router._client import RouterClient
        from llm_router.transport import PoolTransport

        client = RouterClient(
            transport=self._config.transport
            or PoolTransport(limits=self._config.limits, pool_timeout=self._config.pool_timeout),
            timeout=httpx.Timeout(None, connect=self._config.connect_timeout),
        )
        nursery_cm = open_nursery()
        try:
            nursery = await nursery_cm.__aenter__()
        except BaseException:
            with trio.CancelScope(shield=True):
                await client.aclose()
            raise
        self._client, self._nursery, self._nursery_cm = client, nursery, nursery_cm
        for auth in self._config.auth.values():
            if auth.needs_refresh_task:
                nursery.start_soon(auth.refresh_forever)
        executor = self._config.executor
        limiter = executor.limiter
        try:
            if executor.hedger is not None:  # every call's hedge timer, and hedge races
                await nursery.start(executor.hedger.run)
            if limiter is not None:  # shared state connects (and reconnects) in the nursery
                await nursery.start(limiter.state.run)
        except BaseException:
            with trio.CancelScope(shield=True):
                await self.__aexit__(None, None, None)
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        self._closing = True
        for scope in list(self._scopes):
            scope.cancel()
        for stream in list(self._streams):
            stream._abort()
        assert self._nursery is not None
        self._nursery.cancel_scope.cancel()
        try:
            # A lone exception leaves as itself (see `open_nursery`), never as a group.
            return bool(await self._nursery_cm.__aexit__(exc_type, exc, tb))
        finally:
            client, self._client, self._nursery = self._client, None, None
            self._nursery_cm = None
            if client is not None:
                with trio.CancelScope(shield=True):
                    await client.aclose()

    def _require_open(self) -> httpx.AsyncClient:
        if self._client is None or self._closing:
            raise RouterClosedError("the router is not open: use `async with router:` around calls")
        return self._client

    # -- calls ------------------------------------------------------------------------------------
    async def complete(
        self,
        body: bytes | Mapping[str, Any],
        format: ProviderFormat | str,
        model: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        caller: str | None = None,
    ) -> CompletionResult:
        """Send a non-streaming request; the answer comes back in the caller's `format`.

        `caller` names who is asking (e.g. a gateway's API key) for per-key rate limits."""
        from llm_router.answer import Answer
        from llm_router.upstream import open_upstream, read_completion

        client = self._require_open()
        call = self._prepare(body, format, model, headers, stream=False, caller=caller)
        started = trio.current_time()

        async def attempt(route: Route) -> Answer:
            response = await open_upstream(
                client,
                route,
                call.body_for(route),
                stream=False,
                headers=call.headers,
                auth=self._auth(route),
                limits=self._config.read_limits,
            )
            self._config.executor.observe(route, response.headers)
            data, parsed = await read_completion(
                response, route, call.format, limits=self._config.read_limits
            )
            pricer = self._pricer(route, call)
            return Answer(data, call.format, parsed, pricer, headers=response.headers)

        with self._call_scope() as scope:
            answer, route, attempts = await self._config.executor.run_complete(
                call.routes, attempt, label=call.model, demand=call.demand, measure=_measure
            )
        self._check_closed(scope)
        return CompletionResult(
            answer,
            provider=route.alias,
            model=route.model,
            provider_format=route.format,
            latency=trio.current_time() - started,
            attempts=attempts,
        )

    async def embed(
        self,
        body: bytes | Mapping[str, Any],
        format: EmbeddingFormat | str = "openai",
        model: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        caller: str | None = None,
    ) -> EmbeddingResult:
        """Embed the body's inputs; the answer comes back in the caller's `format`.

        `format`: `openai` (an OpenAI `/v1/embeddings` body), `google` (Gemini
        `embedContent`) or `google-batch` (`batchEmbedContents`); `model` overrides the
        body's (Gemini callers name it in the URL). Retries, failover, breakers and limits
        are those of `complete`. A model the catalog lists as a chat model raises
        `ModelKindError`; bad inputs raise `InvalidRequestError` naming the field."""
        from llm_router.embedding import prepare_embed, run_embed
        from llm_router.formats.embeddings import EmbeddingFormat

        client = self._require_open()
        try:
            fmt = EmbeddingFormat.parse_caller(format)
        except ValueError as exc:
            raise errors.InvalidRequestError(str(exc), path="format") from None
        raw, obj = _parse_body(body)
        call = prepare_embed(self._config, self._resolver, raw, obj, fmt, model, headers, caller)
        with self._call_scope() as scope:
            result = await run_embed(self._config, client, call)
        self._check_closed(scope)
        return result

    @asynccontextmanager
    async def stream(
        self,
        body: bytes | Mapping[str, Any],
        format: ProviderFormat | str,
        model: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        caller: str | None = None,
    ) -> AsyncIterator[RouterStream]:
        """Open a streamed answer: `async with router.stream(...) as events: async for e in events`.

        Leaving the block (normally, by error or by cancellation) closes the upstream response.
        """
        from llm_router.upstream import UpstreamStream, open_upstream

        client = self._require_open()
        call = self._prepare(body, format, model, headers, stream=True, caller=caller)

        async def attempt(route: Route) -> UpstreamStream:
            response = await open_upstream(
                client,
                route,
                call.body_for(route),
                stream=True,
                headers=call.headers,
                auth=self._auth(route),
                limits=self._config.read_limits,
            )
            self._config.executor.observe(route, response.headers)
            upstream = UpstreamStream(
                response,
                route,
                call.format,
                include_usage=call.include_usage,
                limits=self._config.read_limits,
            )
            try:
                await upstream.wait_first_event()
            except BaseException:
                await upstream.aclose()
                raise
            return upstream

        with self._call_scope() as scope:
            upstream, route, attempts, finish = await self._config.executor.run_stream(
                call.routes, attempt, label=call.model, demand=call.demand
            )
        self._check_closed(scope)  # closed while opening: there is no stream to hand out
        events = RouterStream(
            upstream, call.format, attempts, self._config.idle_timeout, self._pricer(route, call)
        )
        self._streams.add(events)
        try:
            try:
                self._check_closed(scope)
            except RouterClosedError as exc:
                events.failure = exc
                raise
            yield events
        finally:
            self._streams.discard(events)
            await upstream.aclose()
            usage = events.usage
            events.attempts = finish(usage, events.cost, events.failure)
            await self._config.executor.stream_closed(
                upstream, None if usage is None else usage.total
            )

    @asynccontextmanager
    async def handle(
        self,
        body: bytes | Mapping[str, Any],
        format: ProviderFormat | str,
        model: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        caller: str | None = None,
    ) -> AsyncIterator[CompletionResult | RouterStream]:
        """Gateway entry point: streams when the body asks (`"stream": true`), else completes."""
        raw, obj = _parse_body(body)
        if _stream_flag(obj):
            async with self.stream(raw, format, model, headers=headers, caller=caller) as events:
                yield events
        else:
            yield await self.complete(raw, format, model, headers=headers, caller=caller)

    async def count_tokens(
        self,
        body: bytes | Mapping[str, Any],
        format: ProviderFormat | str,
        model: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
    ) -> TokenCount:
        """Count the input tokens of a request (a generate body, Gemini's countTokens body or
        Bedrock's CountTokens body) with the first route whose provider counts (Anthropic,
        Gemini, Vertex, Claude on Bedrock), translated to
        its format; else the local estimate (`TokenCount.estimated`). See `llm_router.counting`."""
        from llm_router.counting import count_with_routes, countable_body

        client = self._require_open()
        fmt = _parse_format(format)
        raw, obj = _parse_body(body)
        unwrapped, fmt = countable_body(obj, fmt)
        if unwrapped != obj:  # a count body's inner generate body is what is counted
            obj, raw = unwrapped, orjson.dumps(unwrapped)
        name = model if model is not None else _body_model(obj, fmt)
        try:
            routes = self._resolver.resolve(name, fmt)
        except (errors.ModelNotFoundError, errors.NoRouteError):
            routes = []
        with self._call_scope() as scope:
            count = await count_with_routes(
                client,
                routes,
                raw,
                fmt,
                headers=forwardable_headers(headers, self._config.forwarded_headers),
                auth=self._auth,
                limits=self._config.read_limits,
                estimate=obj,
                per_route=self._config.executor.timeouts.first_byte,
            )
        self._check_closed(scope)
        return count

    @asynccontextmanager
    async def realtime(
        self, model: str, format: str, **kwargs: Any
    ) -> AsyncIterator[RealtimeSession]:
        """A realtime WebSocket session (`format`: openai-realtime, responses-ws, gemini-live);
        see `llm_router.realtime.session.open_session` for the keyword options. Opening uses
        the router's retry policy, circuit breakers and route health, as HTTP calls do."""
        from llm_router.realtime.session import open_session

        self._require_open()
        kwargs["headers"] = forwardable_headers(
            kwargs.get("headers"), self._config.forwarded_headers
        )
        if kwargs.get("connector") is None:
            kwargs["connector"] = self._config.websocket_connector
        async with open_session(
            self._resolver,
            self._config.auth,
            model,
            format,
            executor=self._config.executor,
            **kwargs,
        ) as session:
            yield session

    def resolve(
        self, model: str, format: ProviderFormat | str = ProviderFormat.OPENAI
    ) -> list[Route]:
        """The ordered routes a request for `model` would try (for inspection and debugging)."""
        return self._resolver.resolve(model, _parse_format(format))

    @property
    def is_open(self) -> bool:
        """Whether calls are accepted (inside `async with router:` and not closing)."""
        return self._client is not None and not self._closing

    @property
    def providers(self) -> tuple[str, ...]:
        """The configured provider aliases."""
        return tuple(self._config.providers)

    @property
    def tracing(self) -> Any:
        """The `llm_router.tracing.RouterTracing` of `RouterBuilder.with_tracing`, or None."""
        return self._config.tracing

    @property
    def model_aliases(self) -> tuple[str, ...]:
        """Model names with explicit routes (`add_model_route`), such as configured aliases."""
        return tuple(self._config.model_routes)

    def statistics(self) -> dict[str, Any]:
        """In-flight calls and streams, per-route counts, latency percentiles, budget levels,
        breaker states, and the connection pool (must run inside Trio)."""
        stats = dict(self._config.executor.statistics())
        stats["open_streams"] = len(self._streams)
        stats["calls_in_flight"] = len(self._scopes)
        from llm_router.transport import pool_statistics

        stats["pool"] = pool_statistics(getattr(self._client, "_transport", None))
        return stats

    # -- helpers ----------------------------------------------------------------------------------
    def _auth(self, route: Route) -> AuthConfig | None:
        return self._config.auth.get(route.alias)

    def _call_scope(self) -> _TrackedScope:
        return _TrackedScope(self._scopes)

    def _pricer(self, route: Route, call: _Call) -> Pricer:
        from llm_router.answer import Pricer

        return Pricer(self._config.catalog, (route.model, call.model))

    def _check_closed(self, scope: trio.CancelScope) -> None:
        if scope.cancelled_caught:
            raise RouterClosedError("the router was closed while this call was in flight")

    def _prepare(
        self,
        body: bytes | Mapping[str, Any],
        format: ProviderFormat | str,
        model: str | None,
        headers: Mapping[str, str] | None,
        *,
        stream: bool,
        caller: str | None = None,
    ) -> _Call:
        fmt = _parse_format(format)
        raw, obj = _parse_body(body)
        _stream_flag(obj)  # validates the type even when the caller chose the method
        name = model if model is not None else _body_model(obj, fmt)
        spec = self._config.catalog.find(name)
        if spec is not None and spec.flavor == "embedding":
            raise errors.ModelKindError(
                f"model {name!r} is an embedding model: send it to router.embed"
                " (POST /v1/embeddings), not to a chat endpoint",
                model=name,
                kind=spec.flavor,
            )
        routes = self._resolver.resolve(name, fmt, realtime=False)
        max_tokens = None
        if spec is not None and spec.max_output_tokens:
            max_tokens = min(spec.max_output_tokens, DEFAULT_MAX_TOKENS_CAP)
        return _Call(
            raw=raw,
            format=fmt,
            model=name,
            stream=stream,
            headers=forwardable_headers(headers, self._config.forwarded_headers),
            routes=routes,
            default_max_tokens=max_tokens,
            include_usage=_wants_stream_usage(obj, fmt),
            demand=self._demand(raw, obj, name, caller, max_tokens),
        )

    def _demand(
        self,
        raw: bytes,
        obj: Mapping[str, Any],
        model: str,
        caller: str | None,
        max_tokens: int | None,
    ) -> Demand | None:
        if self._config.executor.limiter is None and self._config.executor.catalog is None:
            return None
        from llm_router.limiting import Demand  # with its state backends, only when limits apply
        from llm_router.ratelimit import estimate_tokens

        input_tokens, output_tokens = estimate_tokens(raw, obj, default_output=max_tokens or 0)
        return Demand(model, caller, input_tokens, output_tokens)


def _measure(answer: Answer) -> tuple[Usage | None, float | None]:
    return answer.usage, answer.cost


class TextDeltas:
    """`RouterStream.text_deltas()`: the text pieces of a stream's events, in order."""

    def __init__(self, events: RouterStream, fmt: ProviderFormat) -> None:
        from llm_router.formats import get_format
        from llm_router.universal import TextDelta

        self._events = events
        self._format = fmt
        self._parser = get_format(fmt).StreamParser()
        self._text = TextDelta
        self._pending: list[str] = []

    def __aiter__(self) -> TextDeltas:
        return self

    async def __anext__(self) -> str:
        while not self._pending:
            event = await self._events.__anext__()  # StopAsyncIteration ends this one too
            payload = event.json()
            if payload is None:  # the [DONE] sentinel
                continue
            if self._format is ProviderFormat.CONVERSE:
                payload = {event.event: payload}
            try:
                deltas = self._parser.feed(payload)
            except errors.LLMRouterError:
                continue  # not an event the text could be in
            self._pending = [d.text for d in deltas if isinstance(d, self._text) and d.text]
        return self._pending.pop(0)


class _TrackedScope:
    """A cancel scope registered with the router for the duration of one call."""

    def __init__(self, registry: set[trio.CancelScope]) -> None:
        self._registry = registry
        self._scope = trio.CancelScope()

    def __enter__(self) -> trio.CancelScope:
        self._registry.add(self._scope)
        self._scope.__enter__()
        return self._scope

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        self._registry.discard(self._scope)
        return bool(self._scope.__exit__(exc_type, exc, tb))


def _parse_format(value: ProviderFormat | str) -> ProviderFormat:
    try:
        return ProviderFormat.parse(value)
    except ValueError as exc:
        raise errors.InvalidRequestError(str(exc), path="format") from None


def _parse_body(body: bytes | Mapping[str, Any]) -> tuple[bytes, dict[str, Any]]:
    if isinstance(body, Mapping):
        obj = dict(body)
        try:
            return orjson.dumps(obj), obj
        except TypeError as exc:  # not JSON-serialisable, or nested deeper than 254 levels
            raise errors.InvalidRequestError(f"request body cannot be serialised: {exc}") from None
    if not isinstance(body, bytes | bytearray | memoryview):
        raise errors.InvalidRequestError(
            f"request body must be bytes or a mapping, got {type(body).__name__}"
        )
    raw = bytes(body)
    try:
        parsed = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise errors.InvalidRequestError(f"request body is not valid JSON: {exc}") from None
    if not isinstance(parsed, dict):
        raise errors.InvalidRequestError(
            f"request body must be a JSON object, got {_json_type(parsed)}"
        )
    return raw, parsed


def _stream_flag(obj: Mapping[str, Any]) -> bool:
    value = obj.get("stream", False)
    if not isinstance(value, bool):
        raise errors.InvalidRequestError(
            f'"stream" must be true or false, got {_json_type(value)}', path="stream"
        )
    return value


def _body_model(obj: Mapping[str, Any], fmt: ProviderFormat) -> str:
    for key in ("model", "modelId"):
        if key in obj:
            value = obj[key]
            if not isinstance(value, str) or not value.strip():
                raise errors.InvalidRequestError(
                    f'"{key}" must be a non-empty string, got {_json_type(value)}', path=key
                )
            return value
    hint = " (Gemini requests carry the model in the URL)" if fmt is ProviderFormat.GOOGLE else ""
    raise errors.InvalidRequestError(
        f'no model: the body has no "model" field{hint}; pass model=...', path="model"
    )


def _wants_stream_usage(obj: Mapping[str, Any], fmt: ProviderFormat) -> bool:
    """OpenAI Chat callers get a usage chunk only when they asked (`stream_options`), since
    clients that read `choices[0]` of every chunk would trip over the extra one."""
    if fmt is not ProviderFormat.OPENAI:
        return True
    options = obj.get("stream_options")
    return isinstance(options, Mapping) and options.get("include_usage") is True


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number" if math.isfinite(value) else "a non-finite number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__
