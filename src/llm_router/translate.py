"""Translation between wire formats: requests, responses, stream events and error bodies.

Hub-and-spoke only: source JSON -> universal types (`formats.<source>.parse_*`) -> target JSON
(`formats.<target>.render_*`); a plain request (text turns and a few settings) goes through the
lighter form of `formats._plain` instead, with the same bytes out. When source and target are
the same format, bytes pass through untouched. Sans-IO: bytes or decoded JSON in, bytes out.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import Any, TypeVar

import orjson
from orjson import JSONDecodeError

from llm_router._json import dumps
from llm_router.errors import InvalidRequestError, LLMRouterError, TranslationError
from llm_router.formats import StreamParser as FormatStreamParser
from llm_router.formats import StreamRenderer as FormatStreamRenderer
from llm_router.formats import _plain, get_format
from llm_router.formats import openai as openai_format
from llm_router.formats._plain import PlainReader, PlainWriter
from llm_router.types import ProviderFormat, StreamEvent
from llm_router.universal import ErrorInfo, Request, Response, StreamErrorDelta

__all__ = [
    "StreamTranslator",
    "parse_response",
    "translate_error",
    "translate_request",
    "translate_response",
    "translate_response_parsed",
]

Body = bytes | bytearray | memoryview | str | Mapping[str, Any]
_T = TypeVar("_T")

# Formats whose stream ends with an explicit `data: [DONE]` sentinel.
_DONE_FORMATS = frozenset({ProviderFormat.OPENAI, ProviderFormat.MISTRAL})
# Formats whose SSE events are named after the payload's `type`.
_TYPED_EVENTS = frozenset({ProviderFormat.ANTHROPIC, ProviderFormat.RESPONSES})
_DONE = b"[DONE]"
_NO_EVENT = StreamEvent(None, b"")  # the end tests read only a Converse event's name
_TEXT = (bytes, str)


def translate_request(
    body: Body,
    source: ProviderFormat | str,
    target: ProviderFormat | str,
    *,
    default_max_tokens: int | None = None,
) -> bytes:
    """Translate a request body; `default_max_tokens` fills a max-tokens field the target requires.

    Raises `InvalidRequestError` (with `path`) when the body is malformed for `source`.
    """
    pair = (_REQUEST_PAIRS.get(source) or _NO_PAIRS).get(target) or _request_pair(source, target)
    parse, render, read_plain, write_plain = pair
    if parse is None or render is None:
        return _passthrough(body)
    try:
        if type(body) is bytes:
            try:
                obj = _loads(body)
            except JSONDecodeError as exc:
                raise _not_json("request", exc) from None
            if type(obj) is not dict:
                raise _not_object("request")
        else:
            obj = _load(body, "request")
            if type(obj) is not dict:
                read_plain = None  # another Mapping: the general path reads it
        if read_plain is not None and write_plain is not None:
            # A plain body (text turns, a few settings) skips the universal objects; anything
            # else, and every malformed body, is declined and read below.
            plain = read_plain(obj)
            if plain is not None:
                # `dumps` inline (a right-sized copy): this path is short enough for a call
                # to count.
                return _join((_orjson_dumps(write_plain(plain, default_max_tokens)), b""))
        out = render(parse(obj), default_max_tokens=default_max_tokens)
        # Inside the guard: orjson writes at most 254 levels (tool arguments may nest deeper).
        return dumps(out)
    except TranslationError as exc:
        raise InvalidRequestError(exc.message, path=exc.path) from exc
    except _SHAPE_ERRORS as exc:
        raise InvalidRequestError(_unexpected(exc)) from exc


def translate_response(
    body: Body, source: ProviderFormat | str, target: ProviderFormat | str
) -> bytes:
    """Translate a complete (non-streaming) response body; raises `TranslationError`."""
    return translate_response_parsed(body, source, target)[0]


def translate_response_parsed(
    body: Body, source: ProviderFormat | str, target: ProviderFormat | str
) -> tuple[bytes, Response | None]:
    """`translate_response`, also returning the universal answer it went through (None when
    the body passed through untouched; `parse_response` reads it then, if needed)."""
    parse, render = _RESPONSE_PAIRS.get((source, target)) or _response_pair(source, target)
    if parse is None or render is None:
        return _passthrough(body), None
    if type(body) is bytes:
        try:
            obj = _loads(body)
        except JSONDecodeError as exc:
            raise _not_json("response", exc) from None
        if type(obj) is not dict:
            raise _not_object("response")
    else:
        obj = _load(body, "response")
    try:
        answer = parse(obj)
        out = render(answer)
        # Inside the guard: orjson writes at most 254 levels (tool arguments may nest deeper).
        return dumps(out), answer
    except _SHAPE_ERRORS as exc:
        raise TranslationError(_unexpected(exc)) from exc


def parse_response(body: Body, format: ProviderFormat | str) -> Response:
    """A complete response body of `format` as the universal `Response`; raises `TranslationError`."""
    obj = _load(body, "response")
    try:
        return get_format(_format(format)).parse_response(obj)
    except _SHAPE_ERRORS as exc:
        raise TranslationError(_unexpected(exc)) from exc


def translate_error(
    status: int, body: bytes | str | Mapping[str, Any] | None, source: ProviderFormat | str,
    target: ProviderFormat | str,
) -> tuple[int, bytes]:  # fmt: skip
    """Re-render an upstream error body in the caller's format; never raises on odd bodies."""
    src = _format(source)
    dst = _format(target)
    if src is dst and isinstance(body, bytes):
        return status, body
    obj: Any
    if isinstance(body, bytes | str):
        try:
            obj = orjson.loads(body)
        except orjson.JSONDecodeError:
            obj = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    else:
        obj = body
    info = get_format(src).parse_error(status, obj)
    new_status, out = get_format(dst).render_error(info)
    return new_status, orjson.dumps(out)


class StreamTranslator:
    """Translate one response stream, event by event.

    `feed` takes one decoded stream event: the JSON of an SSE `data:` line (bytes or a mapping;
    ``[DONE]`` is accepted and swallowed) or, for Converse, ``{"<eventType>": payload}``. It
    returns the events to send in the target format; `finish` returns the closing ones.
    `fail` renders an error event in the target format (for a stream that broke mid-way).

    `include_usage` matters for an OpenAI Chat target only: whether to send the final
    usage-only chunk (``choices: []``). Set it from the caller's
    ``stream_options.include_usage``, since naive clients index ``choices[0]`` of every chunk.

    `complete` tells whether the source stream's own end-of-answer event was fed (Anthropic
    `message_stop`, a finish reason or `[DONE]`, `response.completed`, Converse
    `messageStop`...): a source cut short gives a target stream without its ending, so when
    the source ends, call `finish()` if it is True and `fail(...)` if not (`track_end=False`
    skips the check, for callers that watch the source themselves).
    """

    __slots__ = (
        "_complete",
        "_done_sent",
        "_ends",
        "_finished",
        "_include_usage",
        "_parser",
        "_passthrough",
        "_renderer",
        "_source",
        "_target",
    )

    def __init__(
        self,
        source: ProviderFormat | str,
        target: ProviderFormat | str,
        *,
        include_usage: bool = True,
        track_end: bool = True,
    ) -> None:
        self._source = _format(source)
        self._target = _format(target)
        self._passthrough = self._source is self._target
        self._include_usage = include_usage
        self._parser: FormatStreamParser | None = None
        self._renderer: FormatStreamRenderer | None = None
        if not self._passthrough:
            self._parser = get_format(self._source).StreamParser()
            self._renderer = self._new_renderer()
        self._done_sent = False
        self._finished = False
        self._complete = False
        self._ends = _end_test(self._source) if track_end else None

    @property
    def complete(self) -> bool:
        """Whether the source stream's end-of-answer event was fed (always False with
        `track_end=False`)."""
        return self._complete

    @property
    def source(self) -> ProviderFormat:
        return self._source

    @property
    def target(self) -> ProviderFormat:
        return self._target

    def feed(self, event: bytes | str | Mapping[str, Any]) -> list[StreamEvent]:
        if isinstance(event, _TEXT):
            raw = event.encode() if isinstance(event, str) else event
            # An object is not the sentinel: no need to copy every event to strip it.
            if raw[:1] != b"{" and raw.strip() == _DONE:
                if self._ends is not None and self._source in _DONE_FORMATS:
                    self._complete = True
                if self._passthrough and self._target in _DONE_FORMATS and not self._done_sent:
                    self._done_sent = True
                    return [StreamEvent(None, _DONE)]
                return []
            if (
                self._passthrough
                and self._target not in _TYPED_EVENTS
                and self._target is not ProviderFormat.CONVERSE
            ):
                if self._ends is not None and not self._complete:
                    self._complete = self._ends_raw(raw)
                return [StreamEvent(None, raw)]
            obj = _load(raw, "stream event")
        else:
            obj = event
        if self._ends is not None and not self._complete:
            self._complete = self._ends(obj)
        parser, renderer = self._parser, self._renderer
        if parser is None or renderer is None:
            return [self._forward(obj, event)]
        try:
            deltas = parser.feed(obj)
            if len(deltas) == 1:  # the common case: one event in, one delta
                return renderer.feed(deltas[0])
            out: list[StreamEvent] = []
            for delta in deltas:
                out += renderer.feed(delta)
        except _SHAPE_ERRORS as exc:
            raise TranslationError(_unexpected(exc)) from exc
        return out

    def finish(self) -> list[StreamEvent]:
        """End of the upstream stream: flush and close in the target format (idempotent)."""
        if self._finished:
            return []
        self._finished = True
        if self._parser is None or self._renderer is None:
            if self._target in _DONE_FORMATS and not self._done_sent:
                self._done_sent = True
                return [StreamEvent(None, _DONE)]
            return []
        out: list[StreamEvent] = []
        for delta in _guard(self._parser.finish):
            out.extend(_guard(self._renderer.feed, delta))
        out.extend(_guard(self._renderer.finish))
        return out

    def _ends_raw(self, raw: bytes) -> bool:
        """The end test on an event forwarded as it came (not JSON: not an end)."""
        assert self._ends is not None
        try:
            return self._ends(orjson.loads(raw))
        except JSONDecodeError:
            return False

    def fail(self, error: ErrorInfo) -> list[StreamEvent]:
        """The target format's error event for a stream that failed after it started."""
        self._finished = True
        if self._renderer is None:
            # Passthrough: the source's events went out as they came, so a renderer that
            # saw none of them would open the stream again; only its error event is due.
            return _guard(self._new_renderer().feed, StreamErrorDelta(error))[-1:]
        return _guard(self._renderer.feed, StreamErrorDelta(error))

    def _new_renderer(self) -> FormatStreamRenderer:
        if self._target is ProviderFormat.OPENAI:
            return openai_format.StreamRenderer(include_usage=self._include_usage)
        return get_format(self._target).StreamRenderer()

    def _forward(
        self, obj: Mapping[str, Any], original: bytes | str | Mapping[str, Any]
    ) -> StreamEvent:
        if self._target is ProviderFormat.CONVERSE:
            if len(obj) != 1:
                raise TranslationError(
                    "stream event: expected one {eventType: payload} pair", path=""
                )
            ((name, payload),) = obj.items()
            return StreamEvent(str(name), dumps(payload))
        data = original if isinstance(original, bytes) else dumps(obj)
        kind = obj.get("type")
        return StreamEvent(kind if isinstance(kind, str) else None, data)


_FORMATS: dict[str, ProviderFormat] = {f.value: f for f in ProviderFormat}


def _format(value: ProviderFormat | str) -> ProviderFormat:
    # A dict hit (members hash as their values) is much cheaper than the enum's own lookup.
    return _FORMATS.get(value) or ProviderFormat.parse(value)


_RequestParse = Callable[[Mapping[str, Any]], Request]
_RequestRender = Callable[..., dict[str, Any]]
_ResponseParse = Callable[[Mapping[str, Any]], Response]
_ResponseRender = Callable[[Response], dict[str, Any]]

# (source, target) -> the two format functions a translation calls, or (None, None) for a
# passthrough. A member and its string value are equal keys, so a pair is resolved (the
# formats checked, the modules imported, the functions looked up) once, not on every call.
_RequestPair = tuple[
    _RequestParse | None, _RequestRender | None, PlainReader | None, PlainWriter | None
]
# source -> target -> pair: two lookups of a string are cheaper than one of a new tuple.
_REQUEST_PAIRS: dict[str, dict[str, _RequestPair]] = {}
_NO_PAIRS: dict[str, _RequestPair] = {}
_RESPONSE_PAIRS: dict[tuple[str, str], tuple[_ResponseParse | None, _ResponseRender | None]] = {}


def _request_pair(source: ProviderFormat | str, target: ProviderFormat | str) -> _RequestPair:
    src, dst = _format(source), _format(target)
    pair: _RequestPair = (None, None, None, None)
    if src is not dst:
        read_plain, write_plain = _plain.reader(src), _plain.writer(dst)
        if read_plain is None or write_plain is None:
            read_plain = write_plain = None
        pair = (
            get_format(src).parse_request,
            get_format(dst).render_request,
            read_plain,
            write_plain,
        )
    _REQUEST_PAIRS.setdefault(src, {})[dst] = pair
    return pair


def _response_pair(
    source: ProviderFormat | str, target: ProviderFormat | str
) -> tuple[_ResponseParse | None, _ResponseRender | None]:
    src, dst = _format(source), _format(target)
    pair: tuple[_ResponseParse | None, _ResponseRender | None] = (None, None)
    if src is not dst:
        pair = (get_format(src).parse_response, get_format(dst).render_response)
    _RESPONSE_PAIRS[src, dst] = pair
    return pair


def _passthrough(body: Body) -> bytes:
    if isinstance(body, bytes):
        return body
    if isinstance(body, bytearray | memoryview):
        return bytes(body)
    if isinstance(body, str):
        return body.encode()
    return orjson.dumps(body if isinstance(body, dict) else dict(body))


_RAW = (bytes, bytearray, memoryview, str)
_loads = orjson.loads
_orjson_dumps = orjson.dumps
_join = b"".join


def _load(body: Body, what: str) -> Mapping[str, Any]:
    # Raw bodies are the common case: test for them first (a Mapping check is an ABC lookup).
    if not isinstance(body, _RAW) and isinstance(body, Mapping):
        return body
    try:
        obj = _loads(body)
    except JSONDecodeError as exc:
        raise _not_json(what, exc) from None
    if not isinstance(obj, dict):
        raise _not_object(what)
    return obj


def _not_json(what: str, exc: JSONDecodeError) -> TranslationError:
    return TranslationError(f"{what} body is not valid JSON: {exc}", path="")


def _not_object(what: str) -> TranslationError:
    return TranslationError(f"{what} body must be a JSON object", path="")


# Format modules validate as they read, but a shape nobody anticipated must still surface as
# the documented error type rather than a bare KeyError: these become `TranslationError`s.
_SHAPE_ERRORS = (KeyError, IndexError, TypeError, ValueError, AttributeError)


def _unexpected(exc: Exception) -> str:
    return f"unexpected shape: {type(exc).__name__}: {exc}"


def _guard(fn: Callable[..., _T], *args: Any) -> _T:
    """Run a format function; any non-library exception becomes a `TranslationError`."""
    try:
        return fn(*args)
    except LLMRouterError:
        raise
    except _SHAPE_ERRORS as exc:
        raise TranslationError(_unexpected(exc)) from exc


def _end_test(source: ProviderFormat) -> Callable[[Any], bool]:
    """Whether one decoded source event (a Converse one as ``{eventType: payload}``) ends a
    complete answer, as `llm_router.stream_progress` judges it."""
    from llm_router.stream_progress import ends_answer

    if source is ProviderFormat.CONVERSE:
        return lambda obj: isinstance(obj, Mapping) and "messageStop" in obj
    return partial(ends_answer(source), _NO_EVENT)
