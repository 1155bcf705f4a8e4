"""Sending one attempt to one route, and reading its answer (whole, or as a stream).

This is the I/O half of a call: the provider builds the request, auth signs it, httpx sends
it; errors come back typed. Everything read is bounded (`ReadLimits`), every error is
scrubbed of the credentials the request carried (`llm_router.scrub`), and an answer that is
not what was asked for (a redirect, an HTML page, a stream that is not one, malformed JSON)
is an `UpstreamError`, retryable, never a success or a fault of the caller.

`UpstreamStream` owns one open response and turns its bytes into events in the caller's
format. It is closed by whoever holds it (the router's stream context for a winner, the
resilience engine for a hedge loser).
"""

from __future__ import annotations

import collections
import weakref
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx
import orjson
import trio

from llm_router import errors
from llm_router._content import decoded_chunks
from llm_router.formats import get_format
from llm_router.framing import DEFAULT_MAX_EVENT_BYTES
from llm_router.providers.base import EventDecoder, UpstreamRequest
from llm_router.scrub import Scrubber, request_secrets
from llm_router.stream_progress import StreamProgress
from llm_router.translate import StreamTranslator, translate_response_parsed
from llm_router.types import ProviderFormat, StreamEvent
from llm_router.universal import ErrorInfo, ErrorType, Response, StreamErrorDelta
from llm_router.usage import UsageMeter

if TYPE_CHECKING:
    from llm_router.auth import AuthConfig
    from llm_router.formats.embeddings import EmbeddingFormat
    from llm_router.routing import Route

__all__ = ["ReadLimits", "UpstreamStream", "open_upstream", "read_answer", "read_completion"]

_MiB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class ReadLimits:
    """Bounds on what is read from an upstream (set with `RouterBuilder.with_read_limits`).

    - `max_error_body`: an error answer's body is read up to this many bytes and the rest
      dropped (the error keeps its meaning: a 429 is still a `RateLimitError`).
    - `max_response_body`: a whole (non-streamed) answer larger than this, after decoding
      any content-encoding, raises `ResponseTooLargeError`.
    - `max_event_bytes`: one SSE event, one unterminated SSE line or one event-stream frame
      larger than this raises `ResponseTooLargeError`.
    """

    max_error_body: int = 1 * _MiB
    max_response_body: int = 64 * _MiB
    max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES

    def __post_init__(self) -> None:
        for name in ("max_error_body", "max_response_body", "max_event_bytes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1024:
                raise errors.ConfigurationError(
                    f"ReadLimits.{name} must be an integer of at least 1024 bytes, got {value!r}"
                )


DEFAULT_READ_LIMITS = ReadLimits()

# The credentials each in-flight request carried, for whoever reads its response later.
_SCRUBBERS: weakref.WeakKeyDictionary[httpx.Request, Scrubber] = weakref.WeakKeyDictionary()
_NO_SECRETS = Scrubber(())


def live_scrubbers() -> list[Scrubber]:
    """The scrubbers of every request in flight (for the log filter, `llm_router._log_scrub`)."""
    return list(_SCRUBBERS.values())


def scrubber_for(response: httpx.Response) -> Scrubber:
    """The scrubber of the request `response` answers (one that knows no secret if none)."""
    try:
        request = response.request
    except RuntimeError:  # a response built by hand (tests, custom transports) has none
        return _NO_SECRETS
    return _SCRUBBERS.get(request, _NO_SECRETS)


async def open_upstream(
    client: httpx.AsyncClient,
    route: Route,
    body: bytes,
    *,
    stream: bool,
    headers: Mapping[str, str],
    auth: AuthConfig | None,
    limits: ReadLimits = DEFAULT_READ_LIMITS,
    embedding: EmbeddingFormat | None = None,
    request: httpx.Request | None = None,
) -> httpx.Response:
    """Send the request and return a 2xx response with headers read and body unread.

    `embedding` names the embedding wire of an embedding call's `body` (None: a completion).

    Error statuses are read (up to `limits.max_error_body`), closed and raised as typed
    errors, scrubbed of our credentials; so are redirects and other non-2xx answers
    (`UpstreamError`, status 502). Transport failures become `ConnectError`/`TimeoutError`
    without chaining httpx's exception (it may echo the URL). `request`, when given, is sent
    instead of the route's completion request (e.g. a token count).
    """
    if request is None:  # else a request the provider built for another operation
        upstream = UpstreamRequest(route.model, route.format, body, stream, headers, embedding)
        if embedding is None:
            request = route.provider.build_request(upstream)
        else:
            request = route.provider.build_embedding_request(upstream)
    before = dict(request.headers.items())  # one pass (a dict of the headers looks each up)
    if auth is not None:
        await auth.apply(request)
    scrubber = Scrubber(request_secrets(request, before))
    _SCRUBBERS[request] = scrubber
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
    status = response.status_code
    if 200 <= status < 300:
        return response
    data, truncated = await _read_error_body(response, limits.max_error_body)
    data = scrubber.bytes(data)
    response_headers = httpx.Headers(scrubber.headers(response.headers))
    if status >= 400:
        error = route.provider.map_error(status, response_headers, data, route.alias)
        if isinstance(error, errors.ProviderError | errors.InvalidRequestError):
            _cut_message(error, limits.max_error_body if truncated else None)
    else:
        error = _not_an_answer(route, status, response_headers, data)
    raise scrubber.error(error)


#: How much of an upstream's error message an exception quotes: enough for any real one, far
#: less than an error body the size of `max_error_body` (which would then be carried by every
#: log line and traceback the exception reaches).
MAX_ERROR_MESSAGE = 8192


def _cut_message(
    error: errors.ProviderError | errors.InvalidRequestError, cut_at: int | None
) -> None:
    message = error.message
    if len(message) > MAX_ERROR_MESSAGE:
        message = (
            f"{message[:MAX_ERROR_MESSAGE]}... ({len(message) - MAX_ERROR_MESSAGE} more characters)"
        )
    if cut_at is not None:
        message = f"{message} (error body cut at {cut_at} bytes)"
    if message is not error.message:
        error.message = message
        error.args = (message,)


def _not_an_answer(
    route: Route, status: int, headers: httpx.Headers, data: bytes
) -> errors.UpstreamError:
    """A 1xx/3xx answer: redirects are not followed (they would carry our credentials to
    wherever they point), so it is a misbehaving upstream, worth another attempt."""
    where = ""
    location = headers.get("location")
    if location:
        try:
            where = f" to {httpx.URL(location).host or 'a relative location'}"
        except httpx.InvalidURL:
            where = " to an invalid location"
    kind = "a redirect" if 300 <= status < 400 else "an unexpected status"
    return errors.UpstreamError(
        f"{route.alias}: HTTP {status}{where}: {kind} where an answer was expected"
        " (redirects are not followed)",
        status=502,
        body=data,
        provider=route.alias,
        headers=dict(headers),
    )


async def _read_error_body(response: httpx.Response, limit: int) -> tuple[bytes, bool]:
    """Up to `limit` bytes of an error body (decoded), and whether more was dropped."""
    chunks: list[bytes] = []
    size = 0
    truncated = False
    try:
        async for chunk in decoded_chunks(response):
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                truncated = True
                break
    except httpx.HTTPError:  # lost mid-body, or undecodable: keep what arrived
        pass
    finally:
        await response.aclose()
    return b"".join(chunks)[:limit], truncated


async def read_completion(
    response: httpx.Response,
    route: Route,
    caller: ProviderFormat,
    *,
    limits: ReadLimits = DEFAULT_READ_LIMITS,
) -> tuple[bytes, Response | None]:
    """Read a whole answer (at most `limits.max_response_body`) and translate it to the
    caller's format (untouched when it matches, once checked to be a JSON object).

    Also returns the universal answer the translation went through (None for passthrough)."""
    scrubber = scrubber_for(response)
    try:
        data = await read_answer(response, route, limits.max_response_body)
    finally:
        await response.aclose()
    try:
        answer = _check_answer(data, route.format)
        if route.format is caller:
            return data, None
        return translate_response_parsed(answer, route.format, caller)
    except (errors.TranslationError, errors.InvalidRequestError) as exc:
        raise scrubber.error(
            errors.UpstreamError(
                f"{route.alias}: HTTP {response.status_code} answer is not a usable"
                f" {route.format.value} response: {exc}",
                status=502,
                provider=route.alias,
            )
        ) from None


async def read_answer(response: httpx.Response, route: Route, limit: int) -> bytes:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(route, f"declares {int(declared)} bytes", limit)
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in decoded_chunks(response):
            size += len(chunk)
            if size > limit:
                raise _too_large(route, "is larger", limit)
            chunks.append(chunk)
    except httpx.DecodingError:
        raise errors.UpstreamError(
            f"{route.alias}: the answer's content-encoding"
            f" ({response.headers.get('content-encoding', 'none')}) could not be decoded",
            status=502,
            provider=route.alias,
        ) from None
    except httpx.TransportError as exc:
        raise errors.ConnectError(
            f"{route.alias}: connection lost reading the answer ({type(exc).__name__})",
            provider=route.alias,
        ) from None
    return b"".join(chunks)


def _too_large(route: Route, what: str, limit: int) -> errors.ResponseTooLargeError:
    return errors.ResponseTooLargeError(
        f"{route.alias}: the answer {what} than max_response_body ({limit} bytes)"
        if what == "is larger"
        else f"{route.alias}: the answer {what}, more than max_response_body ({limit} bytes)",
        limit="max_response_body",
        limit_bytes=limit,
        provider=route.alias,
    )


#: Top-level fields of which a whole answer in each format has at least one: a JSON object
#: without them (an error page's JSON, a proxy's status document) is not an answer.
_ANSWER_FIELDS: dict[ProviderFormat, tuple[str, ...]] = {
    ProviderFormat.OPENAI: ("choices",),
    ProviderFormat.MISTRAL: ("choices",),
    ProviderFormat.RESPONSES: ("output",),
    ProviderFormat.ANTHROPIC: ("content",),
    ProviderFormat.GOOGLE: ("candidates", "promptFeedback"),
    ProviderFormat.CONVERSE: ("output",),
}


def _check_answer(data: bytes, fmt: ProviderFormat) -> dict[str, Any]:
    """`data` parsed, once checked to be a JSON object shaped like an answer in `fmt`."""
    try:
        parsed = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise errors.TranslationError(f"not valid JSON: {exc}") from None
    if not isinstance(parsed, dict):
        raise errors.TranslationError("not a JSON object")
    fields = _ANSWER_FIELDS.get(fmt, ())
    if fields and not any(name in parsed for name in fields):
        raise errors.TranslationError(f"a JSON object without {' or '.join(map(repr, fields))}")
    return parsed


# -- streams ------------------------------------------------------------------------------------

#: What a format parser raises on a shape it did not expect (see `llm_router.translate`).
_SHAPE_ERRORS = (KeyError, IndexError, TypeError, ValueError, AttributeError)
#: Names of the events that report an error in some format (others may, in their data).
_ERROR_EVENT_NAMES = frozenset({"error", "response.failed"})
#: Bytes that any event passing that test holds: the name `error` (or the key `"error"`) or
#: the name `response.failed`, in an SSE `event:` line, an event-stream header or the data.
_ERROR_TOKENS = (b"error", b"response.failed")
_LONGEST_TOKEN = max(map(len, _ERROR_TOKENS))


_ERROR_CLASSES: dict[ErrorType, type[errors.ProviderError]] = {
    ErrorType.RATE_LIMIT: errors.RateLimitError,
    ErrorType.OVERLOADED: errors.OverloadedError,
    ErrorType.AUTHENTICATION: errors.AuthenticationError,
    ErrorType.PERMISSION: errors.PermissionError,
    ErrorType.NOT_FOUND: errors.NotFoundError,
    ErrorType.TIMEOUT: errors.TimeoutError,
    ErrorType.CONTEXT_WINDOW: errors.ContextWindowExceededError,
    ErrorType.CONTENT_FILTER: errors.ContentFilterError,
}


def _body_pieces(response: httpx.Response) -> AsyncIterator[bytes]:
    """A streamed body's pieces as the network gave them when there is nothing to decode (no
    content-encoding, not read already): the transport's own iterator, without the layers of
    `Response.aiter_raw` and `decoded_chunks` around each piece. Else `decoded_chunks`."""
    stream = response.stream
    if (
        not response.is_stream_consumed  # a body built from bytes was read already
        and isinstance(stream, httpx.AsyncByteStream)
        and "content-encoding" not in response.headers
    ):
        return stream.__aiter__()
    return decoded_chunks(response)


class UpstreamStream:
    """An open upstream stream, decoded and translated event by event into the caller's format.

    The commit rule: the attempt answers (`wait_first_event` returns) at the first content
    event (`llm_router.stream_progress`); preamble events before it are held, not handed out.
    Until then every failure (an error event in any provider's format, an exception frame, a
    dropped connection, a corrupt or oversized event, an answer that is not a stream at all,
    a stream that ends empty or before its end-of-answer event) raises a typed error the
    resilience engine may retry; events decoded but not yet handed out are dropped with it.
    Once an event went to the caller, every failure raises `StreamError` (with
    `upstream_error` set to the typed error behind it, when there is one) after the events
    before it were handed out: an upstream's own error event is never passed on as an
    ordinary event, and a stream cut short cleanly raises `StreamTruncatedError` behind a
    `StreamError` instead of ending. A failure ends the stream: asked again, it raises again.

    A network read is decoded into provider events at once (framing limits apply to the whole
    read), but each event is translated only when the caller asks for the next one: the first
    event of a read that holds the whole answer goes out without waiting for the others'
    translation. Usage reports in events read but never asked for are still counted when the
    stream is closed.
    """

    def __init__(
        self,
        response: httpx.Response,
        route: Route,
        caller: ProviderFormat,
        *,
        include_usage: bool = True,
        limits: ReadLimits = DEFAULT_READ_LIMITS,
    ) -> None:
        self.route = route
        self._response = response
        self.headers: Mapping[str, str] = response.headers
        self._limits = limits
        self._scrubber = scrubber_for(response)
        self._chunks = _body_pieces(response)
        self._decoder: EventDecoder = route.provider.event_decoder(
            route.format, max_event_bytes=limits.max_event_bytes
        )
        self._translator = (
            None
            if route.format is caller
            else StreamTranslator(
                route.format, caller, include_usage=include_usage, track_end=False
            )
        )
        self._caller = caller
        self._converse = route.format is ProviderFormat.CONVERSE
        self._pending: collections.deque[StreamEvent] = collections.deque()
        self._decoded: list[StreamEvent] = []  # provider events of the last read
        self._next_decoded = 0  # the first of them not translated yet
        self._progress = StreamProgress(route.format)
        # Whether a read so far held the bytes of an error event; until then no event needs
        # the test for one (`_scan_for_errors`).
        self._may_report_error = False
        self._tail = b""  # the end of the last read, for a token split across two
        self._held_bytes = 0  # preamble held before the first content event
        self._end_error: errors.LLMRouterError | None = None  # raised once pending drains
        self._started = False  # the response was checked to be a stream
        self._body_done = False  # read to the end: `_decoded` holds the decoder's last events
        self._over = False  # no event will be added to `_pending` any more
        self._closed = False
        self._committed = False  # an event went to the caller: no retry may happen any more
        self.events_received = 0
        self.meter = UsageMeter(route.format)  # the provider's own usage reports
        self.ended = False  # the upstream stream ended (cleanly or not)

    @property
    def over(self) -> bool:
        """Whether every event was decoded: once `next_buffered` returns None, `next_event`
        will not read from the network (it returns None or raises the stream's error)."""
        return self._over

    async def next_event(self) -> StreamEvent | None:
        """The next event in the caller's format (read from the network when none of what was
        read is left), or None at the end of the stream."""
        while True:
            event = self.next_buffered()
            if event is not None:
                return event
            if self._over:
                if self._end_error is not None:
                    raise self._end_error
                return None
            await self._pump()

    def next_buffered(self) -> StreamEvent | None:
        """The next event if what was read so far holds one (translated now), else None (then
        `next_event` reads on)."""
        pending = self._pending
        if not pending and (self._over or not self._advance(pending)):
            return None
        self._committed = True
        return pending.popleft()

    async def wait_first_event(self) -> None:
        """Read until the first content event is decoded (the attempt has answered: the
        preamble before it and the caller-format events it gave are buffered) or the stream
        ended complete. Raises the typed error of an attempt that failed instead."""
        while not self._advance(None):
            if self._over:
                return
            await self._pump()
        # The events after it in the same read are translated when asked for, but an error
        # event among them is found now, while the attempt may still be retried: nothing
        # reached the caller yet. (Only events passing this test can report an error.)
        if not self._may_report_error:
            return
        decoded = self._decoded
        for last in range(len(decoded) - 1, self._next_decoded - 1, -1):
            event = decoded[last]
            if event.event in _ERROR_EVENT_NAMES or event.data.find(b'"error"') >= 0:
                self._advance(None, through=last)
                return

    def _advance(
        self, pending: collections.deque[StreamEvent] | None, *, through: int = -1
    ) -> bool:
        """Translate what was read until `pending` holds an event (None: until the first
        content event was seen, and on through the event at index `through` of the read);
        False once everything read is translated. Past the last event of the body, ends the
        stream (`_end`)."""
        decoded = self._decoded
        progress = self._progress
        try:
            while (
                not (progress.has_content if pending is None else pending)
                or self._next_decoded <= through
            ):
                at = self._next_decoded
                if at < len(decoded):
                    self._next_decoded = at + 1
                    self._take(decoded[at])
                elif self._body_done and not self._over:
                    self._over = True
                    self._end()
                else:
                    return False
        except errors.StreamError:
            raise
        except (
            errors.ProviderError,
            errors.InvalidRequestError,
            errors.FramingError,
            errors.TranslationError,
            *_SHAPE_ERRORS,
        ) as exc:
            raise self._malformed(exc) from None
        return True

    async def _pump(self) -> None:
        """Read and decode the next piece of the body (everything decoded was translated)."""
        if not self._started:
            await self._check_is_stream()
        last = False
        try:
            chunk = await self._chunks.__anext__()
            # The router's transport tells when a body was read to its end: its end is then
            # taken with its last piece, without another turn through the read path.
            last = getattr(self._chunks, "complete", False) is True
        except StopAsyncIteration:
            self._body_done = self.ended = True
            chunk = None
            await self._response.aclose()  # read to its end: the connection goes back now
        except httpx.TransportError as exc:
            raise self._failure(
                errors.ConnectError(
                    f"{self.route.alias}: connection lost before the first stream event"
                    f" ({type(exc).__name__})",
                    provider=self.route.alias,
                ),
                f"connection lost ({type(exc).__name__})",
            ) from None
        except httpx.DecodingError:
            raise self._failure(
                errors.UpstreamError(
                    f"{self.route.alias}: the stream's content-encoding"
                    f" ({self._response.headers.get('content-encoding', 'none')})"
                    " could not be decoded",
                    provider=self.route.alias,
                ),
                "undecodable content-encoding",
            ) from None
        if chunk is not None and not self._may_report_error:
            self._scan_for_errors(chunk)
        try:
            if chunk is None:
                decoded = self._decoder.finish()
            else:
                decoded = self._decoder.feed(chunk)
                if last:
                    decoded += self._decoder.finish()
        except (errors.ProviderError, errors.InvalidRequestError, errors.FramingError) as exc:
            raise self._malformed(exc) from None
        self._decoded = decoded
        self._next_decoded = 0
        if last:
            self._body_done = self.ended = True
            await self._response.aclose()

    def _scan_for_errors(self, chunk: bytes) -> None:
        """Whether the body so far holds the bytes an error event needs (see `_ERROR_TOKENS`):
        one search of each read instead of one per event, while the answer is clean."""
        joined = self._tail + chunk[: _LONGEST_TOKEN - 1]  # a token split across two reads
        for token in _ERROR_TOKENS:
            if chunk.find(token) >= 0 or joined.find(token) >= 0:
                self._may_report_error = True
                return
        keep = _LONGEST_TOKEN - 1
        self._tail = chunk[-keep:] if len(chunk) >= keep else (self._tail + chunk)[-keep:]

    def _malformed(self, exc: Exception) -> errors.LLMRouterError:
        """The error to raise for what decoding or translating an event raised."""
        if isinstance(exc, errors.ProviderError | errors.InvalidRequestError):
            # Exception frames, error events, read limits: typed already.
            if exc.provider is None:
                exc.provider = self.route.alias
            return self._failure(exc, str(exc))
        return self._failure(
            errors.UpstreamError(
                f"{self.route.alias}: malformed stream: {exc}", provider=self.route.alias
            ),
            f"malformed stream: {exc}",
        )

    async def _check_is_stream(self) -> None:
        self._started = True
        response = self._response
        declared = response.headers.get("content-type")
        media_type = declared.split(";", 1)[0].strip().lower() if declared else None
        expected = self._decoder.media_type
        if response.status_code != 204 and media_type in (None, expected):
            return  # an absent content type is taken on trust (some compatible servers)
        data, _ = await _read_error_body(response, self._limits.max_error_body)
        what = "no content" if response.status_code == 204 else f"content-type {declared}"
        raise self._scrubber.error(
            errors.UpstreamError(
                f"{self.route.alias}: HTTP {response.status_code} with {what} where a stream"
                f" ({expected}) was asked for",
                status=502,
                body=self._scrubber.bytes(data),
                provider=self.route.alias,
            )
        )

    def _take(self, event: StreamEvent) -> None:
        """Queue one provider event in the caller's format; raise if it reports an error."""
        data = event.data
        if data.find(b"usage") >= 0:  # the meter's own first test, without the call
            self.meter.observe(event)
        progress = self._progress
        translator = self._translator
        if data == b"[DONE]":
            progress.observe(event, None)
            if translator is None:
                self._pending.append(event)
            return
        payload: Any = None
        if self._may_report_error and (
            event.event in _ERROR_EVENT_NAMES or data.find(b'"error"') >= 0
        ):
            # Only events that may report an error are parsed twice. (`find`, not `in`: a
            # bytes `in` first tries its operand as an integer and swallows the TypeError,
            # which costs twice the search.)
            payload = self._payload(event)
            self._raise_error_event(event, payload)
        elif not self._converse:
            # Parsed whatever the route: passed on untouched, but never as garbage.
            try:
                payload = orjson.loads(data)
            except orjson.JSONDecodeError as exc:
                raise errors.FramingError(f"a stream event is not JSON: {exc}") from None
        elif translator is not None or not progress.has_content:
            # Bedrock frames are decoded already: theirs is read only until the commit point.
            payload = self._payload(event)
        if progress.has_content:
            if not progress.complete:
                progress.complete = progress.ends(event, payload)
        else:
            progress.observe(event, payload)
            if not progress.has_content:
                self._held_bytes += len(data)
                if self._held_bytes > self._limits.max_event_bytes:
                    progress.content_by_size()  # hold no more: commit at this event
        if translator is None:
            self._pending.append(event)
        else:
            self._pending.extend(translator.feed(payload if payload is not None else data))
        self.events_received += 1

    def _payload(self, event: StreamEvent) -> Any:
        try:
            obj = orjson.loads(event.data)
        except orjson.JSONDecodeError as exc:
            raise errors.FramingError(f"a stream event is not JSON: {exc}") from None
        if self._converse:
            return {event.event: obj}
        return obj

    def _raise_error_event(self, event: StreamEvent, payload: Any) -> None:
        """Raise the typed error `event` stands for, if it reports one.

        A fresh parser of the provider's format reads the one event: it knows every format's
        error shapes; its complaints about state it lacks mean "not an error"."""
        if not isinstance(payload, dict):
            raise errors.FramingError("a stream event is not a JSON object")
        try:
            deltas = get_format(self.route.format).StreamParser().feed(payload)
        except (errors.LLMRouterError, *_SHAPE_ERRORS):
            return
        for delta in deltas:
            if isinstance(delta, StreamErrorDelta):
                raise self._error_event(delta.error, event.data)

    def _error_event(self, info: ErrorInfo, data: bytes) -> errors.ProviderError:
        status = info.http_status
        cls = _ERROR_CLASSES.get(info.type, errors.UpstreamError)
        kind = info.provider_type or info.code
        text = f"{self.route.alias}: error event in the stream" + (f" ({kind})" if kind else "")
        return cls(
            f"{text}: {info.message}" if info.message else text,
            status=status,
            body=self._scrubber.bytes(data),
            provider=self.route.alias,
        )

    def _end(self) -> None:
        if self.events_received == 0:
            raise errors.UpstreamError(
                f"{self.route.alias}: the stream ended without a single event",
                provider=self.route.alias,
            )
        progress = self._progress
        if not progress.complete:
            missing = progress.missing
            truncated = errors.StreamTruncatedError(
                f"{self.route.alias}: the stream ended after {self.events_received} events"
                f" without {missing}: the upstream cut the answer short",
                provider=self.route.alias,
                missing=missing,
            )
            if not self._committed:
                raise truncated  # retryable: nothing reached the caller
            # Raised once the events decoded before the end were handed out.
            self._failure(truncated, f"the stream ended without {missing}")
            return
        if self._translator is not None:
            self._pending.extend(self._translator.finish())

    def _failure(
        self, before_commit: errors.ProviderError | errors.InvalidRequestError, what: str
    ) -> errors.LLMRouterError:
        """The error to raise for a failure: retryable as is before commit, else StreamError.
        The stream is over: what was read and not handed out is dropped, and every later
        ask raises the same error."""
        self._over = True
        self._decoded = []
        if not self._committed:
            self._pending.clear()
            error = self._scrubber.error(before_commit)
        else:
            error = self._scrubber.error(
                errors.StreamError(
                    f"{self.route.alias}: stream interrupted after {self.events_received}"
                    f" events: {what}",
                    status=before_commit.status,
                    provider=self.route.alias,
                    upstream_error=before_commit,
                )
            )
        self._end_error = error
        return error

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
        if not self._over:  # count the usage of events read but never asked for
            for event in self._decoded[self._next_decoded :]:
                self.meter.observe(event)
        if not self._response.is_closed:  # else read to its end and given back already
            with trio.CancelScope(shield=True):
                await self._response.aclose()
