"""Sending one attempt to one route, and reading its answer (whole, or as a stream).

This is the I/O half of a call: the provider builds the request, auth signs it, httpx sends
it; errors come back typed. `UpstreamStream` owns one open response and turns its bytes into
events in the caller's format. It is closed by whoever holds it (the router's stream context
for a winner, the resilience engine for a hedge loser).
"""

from __future__ import annotations

import collections
from collections.abc import Mapping
from typing import TYPE_CHECKING

import httpx
import orjson
import trio

from llm_router import errors
from llm_router.providers.base import EventDecoder, UpstreamRequest
from llm_router.translate import StreamTranslator, translate_response_parsed
from llm_router.types import ProviderFormat, StreamEvent
from llm_router.universal import ErrorInfo, Response
from llm_router.usage import UsageMeter

if TYPE_CHECKING:
    from llm_router.auth import AuthConfig
    from llm_router.routing import Route

__all__ = ["UpstreamStream", "open_upstream", "read_completion"]


async def open_upstream(
    client: httpx.AsyncClient,
    route: Route,
    body: bytes,
    *,
    stream: bool,
    headers: Mapping[str, str],
    auth: AuthConfig | None,
) -> httpx.Response:
    """Send the request and return the response with headers read and body unread.

    Error statuses are read, closed and raised as typed errors. Transport failures become
    `ConnectError`/`TimeoutError` without chaining httpx's exception (it may echo the URL).
    """
    upstream = UpstreamRequest(route.model, route.format, body, stream, headers)
    request = route.provider.build_request(upstream)
    if auth is not None:
        await auth.apply(request)
    failure: errors.LLMRouterError | None = None
    try:
        response = await client.send(request, stream=True)
    except httpx.TimeoutException as exc:
        failure = errors.TimeoutError(
            f"{route.alias}: {type(exc).__name__} talking to {request.url.host}",
            provider=route.alias,
        )
    except httpx.TransportError as exc:
        failure = errors.ConnectError(
            f"{route.alias}: {type(exc).__name__} talking to {request.url.host}",
            provider=route.alias,
        )
    if failure is not None:
        raise failure
    if response.status_code >= 400:
        try:
            data = await response.aread()
        except httpx.HTTPError:
            data = b""
        finally:
            await response.aclose()
        data = _scrub_credentials(data, request)
        raise route.provider.map_error(response.status_code, response.headers, data, route.alias)
    return response


_CREDENTIAL_HEADERS = (
    "authorization",
    "api-key",
    "x-api-key",
    "x-goog-api-key",
    "x-amz-security-token",
)


def _scrub_credentials(data: bytes, request: httpx.Request) -> bytes:
    """Remove our own credentials from an upstream error body (some providers echo the key)."""
    for name in _CREDENTIAL_HEADERS:
        value = request.headers.get(name)
        if not value:
            continue
        token = value.split(" ", 1)[1] if value.lower().startswith(("bearer ", "token ")) else value
        if len(token) >= 8 and token.encode() in data:
            data = data.replace(token.encode(), b"[redacted]")
    return data


async def read_completion(
    response: httpx.Response, route: Route, caller: ProviderFormat
) -> tuple[bytes, Response | None]:
    """Read a whole answer and translate it to the caller's format (untouched when it matches).

    Also returns the universal answer the translation went through (None for passthrough)."""
    try:
        data = await response.aread()
    except httpx.TransportError as exc:
        raise errors.ConnectError(
            f"{route.alias}: connection lost reading the answer ({type(exc).__name__})",
            provider=route.alias,
        ) from None
    finally:
        await response.aclose()
    return translate_response_parsed(data, route.format, caller)


class UpstreamStream:
    """An open upstream stream, decoded and translated event by event into the caller's format."""

    def __init__(
        self,
        response: httpx.Response,
        route: Route,
        caller: ProviderFormat,
        *,
        include_usage: bool = True,
    ) -> None:
        self.route = route
        self._response = response
        self._chunks = response.aiter_raw()
        self._decoder: EventDecoder = route.provider.event_decoder(route.format)
        self._translator = (
            None
            if route.format is caller
            else StreamTranslator(route.format, caller, include_usage=include_usage)
        )
        self._caller = caller
        self._pending: collections.deque[StreamEvent] = collections.deque()
        self._upstream_done = False
        self._closed = False
        self._committed = False  # an event went to the caller: no retry may happen any more
        self.events_received = 0
        self.meter = UsageMeter(route.format)  # the provider's own usage reports
        self.ended = False  # the upstream stream ended (cleanly or not)

    async def next_event(self) -> StreamEvent | None:
        """The next event in the caller's format, or None at the end of the stream."""
        while not self._pending:
            if self._upstream_done:
                return None
            await self._pump()
        self._committed = True
        return self._pending.popleft()

    async def wait_first_event(self) -> None:
        """Read until at least one caller-format event is buffered (the attempt has answered)."""
        while not self._pending and not self._upstream_done:
            await self._pump()

    async def _pump(self) -> None:
        try:
            chunk = await self._chunks.__anext__()
        except StopAsyncIteration:
            self._upstream_done = True
            self._emit(self._decoder.finish(), final=True)
            return
        except httpx.TransportError as exc:
            if not self._committed:  # nothing reached the caller: the attempt may be retried
                raise errors.ConnectError(
                    f"{self.route.alias}: connection lost before the first stream event ({type(exc).__name__})",
                    provider=self.route.alias,
                ) from None
            raise errors.StreamError(
                f"{self.route.alias}: stream interrupted after {self.events_received} events ({type(exc).__name__})",
                provider=self.route.alias,
            ) from None
        try:
            events = self._decoder.feed(chunk)
        except errors.ProviderError as exc:  # in-band exception frames (Bedrock) name no route
            if exc.provider is None:
                exc.provider = self.route.alias
            raise
        self._emit(events, final=False)

    def _emit(self, events: list[StreamEvent], *, final: bool) -> None:
        self.events_received += len(events)
        self.ended = final
        for event in events:
            self.meter.observe(event)
        translator = self._translator
        if translator is None:
            self._pending.extend(events)
        else:
            for event in events:
                if event.data == b"[DONE]":
                    continue
                payload: object = event.data
                if self.route.format is ProviderFormat.CONVERSE:
                    payload = {event.event: orjson.loads(event.data)}
                self._pending.extend(translator.feed(payload))  # type: ignore[arg-type]
            if final:
                self._pending.extend(translator.finish())

    def fail(self, error: ErrorInfo) -> list[StreamEvent]:
        """The caller-format event reporting `error` after this stream's events so far.

        A translated stream asks its own renderer (which knows the stream's state, e.g. the
        Responses sequence number). A passthrough stream has none: a fresh renderer's last
        event is the error itself (what comes before it would restart the stream)."""
        if self._translator is not None:
            return self._translator.fail(error)
        return StreamTranslator(self._caller, self._caller).fail(error)[-1:]

    async def aclose(self) -> None:
        """Close the upstream response (idempotent; safe to call from a cancelled scope)."""
        if self._closed:
            return
        self._closed = True
        with trio.CancelScope(shield=True):
            await self._response.aclose()
