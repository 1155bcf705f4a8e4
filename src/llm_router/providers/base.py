"""The provider interface: what the router needs from one upstream service.

A provider knows its own URLs, headers, default credentials and error bodies, and nothing about
other providers or about retries. Bytes in, `httpx.Request` out; status + body in, typed error out.
"""

from __future__ import annotations

import abc
import functools
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import httpx
import orjson

from llm_router import errors
from llm_router._json import dumps
from llm_router.auth import ApiKey, AuthConfig
from llm_router.framing import DEFAULT_MAX_EVENT_BYTES
from llm_router.framing.sse import StreamEventDecoder
from llm_router.resilience.backoff import parse_retry_after
from llm_router.types import ProviderFormat, StreamEvent

if TYPE_CHECKING:
    from llm_router.formats.embeddings import EmbeddingFormat

__all__ = [
    "EventDecoder",
    "Provider",
    "SSEEventDecoder",
    "UpstreamRequest",
    "edit_json_body",
    "error_from_response",
    "openai_style_embedding_request",
    "retry_after_seconds",
]


@dataclass(frozen=True, slots=True)
class UpstreamRequest:
    """One call to send: a body already in `format`, for the provider's model id.

    `embedding` is set for an embedding call: the body is in that embedding wire instead
    (and `format` is unused)."""

    model: str
    format: ProviderFormat
    body: bytes
    stream: bool
    headers: Mapping[str, str]  # caller headers that passed the forwarding allowlist
    embedding: EmbeddingFormat | None = None


class EventDecoder(Protocol):
    """Turns response bytes into the provider-format events they carry.

    SSE events keep their `event:` name and raw `data:` bytes (OpenAI's `[DONE]` included, so a
    passthrough stream ends exactly as the provider ended it); AWS event-stream frames become
    `StreamEvent(event=<eventType>, data=<payload JSON>)`.
    """

    #: The media type of the stream this decoder reads (`text/event-stream`, ...): an answer
    #: declaring another is not a stream (an HTML page, a JSON error with status 200).
    @property
    def media_type(self) -> str: ...

    def feed(self, data: bytes) -> list[StreamEvent]: ...

    def finish(self) -> list[StreamEvent]: ...


@functools.lru_cache(maxsize=1024)
def endpoint(base_url: str, path: str) -> httpx.URL:
    """`base_url + path` as an `httpx.URL`, parsed once: httpx parses a URL given as text
    anew for every request built with it (about 40% of building a request)."""
    return httpx.URL(base_url + path)


class Provider(abc.ABC):
    """Base class of every provider module."""

    kind: ClassVar[str]
    #: Formats this provider accepts natively; the first is its default.
    native_formats: ClassVar[tuple[ProviderFormat, ...]]
    default_base_url: ClassVar[str]
    #: Environment variables consulted, in order, by `RouterBuilder.add_keys_from_env`.
    env_keys: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self, base_url: str | None = None, *, headers: Mapping[str, str] | None = None
    ) -> None:
        url = base_url or self.default_base_url
        if not url.startswith(("http://", "https://")):
            raise errors.ConfigurationError(
                f"{type(self).__name__}: base_url must start with http:// or https://, got {url!r}"
            )
        self.base_url = url.rstrip("/")
        self.extra_headers = {k.lower(): v for k, v in (headers or {}).items()}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r})"

    # -- choosing the wire format -------------------------------------------------------------
    def format_for(
        self,
        model_format: ProviderFormat | None,
        caller: ProviderFormat,
        *,
        model: str | None = None,
    ) -> ProviderFormat:
        """Which format to speak for a model: the caller's when native (passthrough), else the
        model's own when native, else this provider's default.

        `model` is the provider's model id; providers hosting several model families (Vertex,
        Bedrock) use it to decide when the catalog does not know the model (`model_format` None).
        """
        if caller in self.native_formats:
            return caller
        if model_format is not None and model_format in self.native_formats:
            return model_format
        return self.native_formats[0]

    # -- credentials ----------------------------------------------------------------------------
    def default_auth(self, key: str) -> AuthConfig:
        """The provider's conventional way of sending an API key (Bearer unless overridden)."""
        return ApiKey(key)

    def auth_from_env(self, environ: Mapping[str, str]) -> AuthConfig | None:
        for name in self.env_keys:
            if environ.get(name):
                return self.default_auth(environ[name])
        return None

    @property
    def requires_auth(self) -> bool:
        return True

    # -- requests -------------------------------------------------------------------------------
    def prepare_body(self, request: UpstreamRequest) -> bytes:
        """Make the body carry the provider's model id and stream flag (untouched if it does)."""
        updates: dict[str, Any] = {"model": request.model}
        if request.stream:
            updates["stream"] = True
        remove = () if request.stream else ("stream",)
        return edit_json_body(request.body, updates, remove, keep_false=True)

    @abc.abstractmethod
    def build_request(self, request: UpstreamRequest) -> httpx.Request:
        """The HTTP request to send, without credentials (auth is applied afterwards)."""

    # -- embeddings -----------------------------------------------------------------------------
    def embedding_format(self, model: str, caller: EmbeddingFormat) -> EmbeddingFormat | None:
        """The embedding wire this provider speaks for `model` (`caller` when it can take the
        caller's own bodies), or None when it serves no embeddings for it."""
        return None

    def build_embedding_request(self, request: UpstreamRequest) -> httpx.Request:
        """The HTTP request of one embedding call (`request.embedding` names its wire)."""
        raise errors.ConfigurationError(f"{type(self).__name__} does not serve embeddings")

    def count_tokens_request(self, request: UpstreamRequest) -> httpx.Request | None:
        """The request that counts the input tokens of `request` (a generate body in
        `request.format`), without credentials; None when this provider cannot count."""
        return None

    def base_headers(self, request: UpstreamRequest) -> dict[str, str]:
        headers = dict(request.headers)
        headers.update(self.extra_headers)
        headers["content-type"] = "application/json"
        headers["accept"] = "text/event-stream" if request.stream else "application/json"
        return headers

    # -- responses ------------------------------------------------------------------------------
    def event_decoder(
        self, fmt: ProviderFormat, *, max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES
    ) -> EventDecoder:
        """A decoder for this provider's stream bytes (SSE unless overridden), holding at most
        `max_event_bytes` for one event."""
        return SSEEventDecoder(max_event_bytes=max_event_bytes)

    def map_error(
        self, status: int, headers: httpx.Headers, body: bytes, alias: str
    ) -> errors.LLMRouterError:
        """Map an error answer to a typed error."""
        return error_from_response(status, headers, body, alias)


def openai_style_embedding_request(provider: Provider, request: UpstreamRequest) -> httpx.Request:
    """`POST {base_url}/embeddings` with the body as built: the embedding call of the hosts
    that follow OpenAI's layout (OpenAI itself, the compatible servers, Mistral)."""
    return httpx.Request(
        "POST",
        provider.base_url + "/embeddings",
        headers=provider.base_headers(request),
        content=request.body,
    )


class SSEEventDecoder(StreamEventDecoder):
    """SSE bytes -> `StreamEvent`s carrying each event's name and raw data (comments and
    events without data dropped)."""

    __slots__ = ()
    media_type: ClassVar[str] = "text/event-stream"


_MISSING = object()


def edit_json_body(
    body: bytes,
    updates: Mapping[str, Any] | None = None,
    remove: Sequence[str] = (),
    *,
    keep_false: bool = False,
) -> bytes:
    """Set and remove top-level fields of a JSON object body; the caller's exact bytes come
    back when nothing changes (passthrough calls stay byte-for-byte).

    `keep_false` keeps a field listed in `remove` when its value is `false` (a caller's
    explicit `"stream": false` means what removing it would); wires whose body must not carry
    a field at all (Gemini, Vertex, Bedrock InvokeModel) remove it whatever its value.
    """
    obj = orjson.loads(body)
    if not isinstance(obj, dict):
        raise errors.InvalidRequestError("request body must be a JSON object")
    changed = False
    for key in remove:
        if key in obj and not (keep_false and obj[key] is False):
            del obj[key]
            changed = True
    for key, value in (updates or {}).items():
        if obj.get(key, _MISSING) != value:
            obj[key] = value
            changed = True
    if not changed:
        return body
    try:
        return dumps(obj)
    except TypeError as exc:  # orjson writes at most 254 levels of nesting
        raise errors.InvalidRequestError(
            f"request body cannot be re-serialised: {exc} (nested deeper than 254 levels?)"
        ) from None


def retry_after_seconds(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """The wait a provider asks for (`retry-after-ms`, `x-ms-retry-after-ms`, `retry-after`)."""
    return parse_retry_after(headers, wall_now=time.time() if now is None else now)


_CONTEXT_MARKERS = (
    "context_length_exceeded",
    "context length",
    "context window",
    "maximum context",
    "prompt is too long",
    "input is too long",
    "too many tokens",
    "exceeds the maximum number of tokens",
)
_CONTENT_FILTER_MARKERS = (
    "content_filter",
    "content management policy",
    "content_policy",
    "safety",
)


#: Error bodies up to this size are parsed as JSON for their message and kind. Real ones are
#: a few hundred bytes; parsing costs some twelve times a body's size in working memory, so a
#: larger one (an error-body bomb, an HTML page) is quoted by its first bytes instead.
MAX_PARSED_ERROR_BODY = 64 * 1024


def parse_error_body(body: bytes) -> Any:
    """The JSON value of an error body; None when empty, not JSON or too big to parse."""
    if not body or len(body) > MAX_PARSED_ERROR_BODY:
        return None
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return None


def _error_fields(body: bytes) -> tuple[str, str]:
    """(message, type-or-code) from any provider's error body; best effort, never raises."""
    try:
        if len(body) > MAX_PARSED_ERROR_BODY:
            raise orjson.JSONDecodeError("too big to parse", "", 0)
        obj = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        text = body[:500].decode("utf-8", "replace").strip()
        return text, ""
    if (
        isinstance(obj, list) and obj and isinstance(obj[0], dict)
    ):  # Gemini sometimes wraps in a list
        obj = obj[0]
    if not isinstance(obj, dict):
        return "", ""
    err = obj.get("error", obj)
    if isinstance(err, str):
        return err, str(obj.get("type", ""))
    if not isinstance(err, dict):
        return "", ""
    message = err.get("message") or obj.get("message") or obj.get("detail") or ""
    if not isinstance(message, str):
        try:
            message = orjson.dumps(message).decode()
        except TypeError:  # nested deeper than orjson writes
            message = "(an error message too deeply nested to show)"
    kind = err.get("type") or err.get("code") or err.get("status") or obj.get("type") or ""
    return message, str(kind)


def error_from_response(
    status: int, headers: Mapping[str, str], body: bytes, alias: str, *, kind_override: str = ""
) -> errors.LLMRouterError:
    """Map an HTTP error answer to the library's typed errors (shared by every provider)."""
    message, kind = _error_fields(body)
    kind = kind_override or kind
    text = (
        f"{alias}: HTTP {status}"
        + (f" {kind}" if kind else "")
        + (f": {message}" if message else "")
    )
    hdrs = {k.lower(): v for k, v in headers.items()}
    kw: dict[str, Any] = {"status": status, "body": body, "provider": alias, "headers": hdrs}
    lowered = f"{kind} {message}".lower()
    if status == 429 or "throttl" in lowered or kind in ("rate_limit_error", "RESOURCE_EXHAUSTED"):
        return errors.RateLimitError(text, retry_after=retry_after_seconds(hdrs), **kw)
    if status == 529 or kind == "overloaded_error" or status == 503:
        return errors.OverloadedError(text, **kw)
    if status == 401:
        return errors.AuthenticationError(text, **kw)
    if status == 403:
        return errors.PermissionError(text, **kw)
    if status == 404:
        return errors.NotFoundError(text, **kw)
    if status in (408, 504):
        return errors.TimeoutError(text, **kw)
    if status in (400, 413, 422):
        if any(m in lowered for m in _CONTEXT_MARKERS):
            return errors.ContextWindowExceededError(text, **kw)
        if any(m in lowered for m in _CONTENT_FILTER_MARKERS):
            return errors.ContentFilterError(text, **kw)
        return errors.InvalidRequestError(
            text, status=status, body=body, provider=alias, headers=hdrs
        )
    return errors.UpstreamError(text, **kw)
