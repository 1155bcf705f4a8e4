"""The one exception hierarchy of llm-router.

Every error the library raises derives from `LLMRouterError`. Messages say what was wrong and
what to do about it; they never contain a credential (see `llm_router.auth.Secret`).
Provider errors carry the HTTP status and, where known, the upstream body so gateways can
re-render them in the caller's wire format (`translate_error`).
"""

from __future__ import annotations

import builtins

__all__ = [
    "AuthenticationError",
    "ConfigurationError",
    "ConnectError",
    "ContentFilterError",
    "ContextWindowExceededError",
    "FramingError",
    "InvalidRequestError",
    "InvalidUsageError",
    "LLMRouterError",
    "LocalRateLimitError",
    "ModelKindError",
    "ModelNotFoundError",
    "NoRouteError",
    "NotInTrioError",
    "NotRealtimeModelError",
    "NotFoundError",
    "OverloadedError",
    "PermissionError",
    "PoolTimeoutError",
    "ProviderError",
    "RateLimitError",
    "RealtimeOnlyModelError",
    "ResponseTooLargeError",
    "StreamError",
    "StreamTruncatedError",
    "TimeoutError",
    "TranslationError",
    "UpstreamError",
]


class LLMRouterError(Exception):
    """Base class of every error raised by llm-router."""


class ConfigurationError(LLMRouterError):
    """The router, a provider or the catalog was configured inconsistently."""


class InvalidRequestError(LLMRouterError):
    """The caller's request is malformed: bad JSON, missing model, wrong field types.

    `path` names the offending field (e.g. ``messages[2].content``) when one is known.
    Also used for upstream 400/422 answers (then `status` and `body` are set).
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        status: int = 400,
        body: bytes | None = None,
        provider: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.path = path
        self.status = status
        self.body = body
        self.provider = provider
        self.headers = headers or {}  # an upstream 400/422's response headers


class TranslationError(LLMRouterError):
    """A body could not be translated between wire formats; `path` names the field."""

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.path = path


class InvalidUsageError(LLMRouterError, ValueError):
    """A usage object handed to `Catalog.cost` is not one the library can read.

    `keys` lists the keys it did not recognise (a misspelling, or another format's name).
    """

    def __init__(self, message: str, *, keys: list[str] | None = None) -> None:
        super().__init__(message)
        self.keys = keys or []


class NotInTrioError(LLMRouterError, RuntimeError):
    """A Trio-only object (the router, the fake provider, the gateway) was entered outside
    Trio, e.g. under `asyncio.run`."""


class FramingError(LLMRouterError):
    """A byte stream (SSE or AWS event-stream) is corrupt or truncated."""


class ModelKindError(InvalidRequestError):
    """A model was asked for what it does not do: a chat model to embed, an embedding model
    to chat. `model` names it, `kind` is what the catalog says it is (`chat`, `embedding`)."""

    def __init__(self, message: str, *, model: str, kind: str, path: str | None = "model") -> None:
        super().__init__(message, path=path)
        self.model = model
        self.kind = kind


class NotRealtimeModelError(ModelKindError):
    """A realtime session was asked of a model the catalog does not flag as realtime
    (`gpt-4o` for an OpenAI Realtime session); `kind` is what it is (`chat`, `embedding`)."""


class RealtimeOnlyModelError(ModelKindError):
    """An HTTP call (or a Responses WebSocket session) was asked of a model served only over
    realtime sessions (`gpt-realtime`); `kind` is `realtime`."""

    def __init__(self, message: str, *, model: str) -> None:
        super().__init__(message, model=model, kind="realtime")


class ModelNotFoundError(LLMRouterError):
    """The model is not in the catalog and no provider route was configured for it."""

    def __init__(self, model: str, suggestions: list[str] | None = None) -> None:
        hint = f"; did you mean {', '.join(repr(s) for s in suggestions)}?" if suggestions else ""
        super().__init__(f"unknown model {model!r}{hint}")
        self.model = model
        self.suggestions = suggestions or []


class NoRouteError(LLMRouterError):
    """Every route of a model was skipped or exhausted; `errors` holds each route's last error.

    `retry_after` (seconds) is set when routes were skipped because their circuit is open:
    the time until the first of them lets a probe through."""

    def __init__(
        self,
        message: str,
        errors: list[BaseException] | None = None,
        *,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.errors = errors or []
        self.retry_after = retry_after


class ProviderError(LLMRouterError):
    """An upstream provider answered with an error (or could not be reached).

    `status` is the HTTP status the error maps to (for gateways), `body` the upstream body as
    received (never containing our credentials), `provider` the route alias.

    `refused_by` names the router's own protection when it, not the provider alone, ended
    the call: ``"retry budget"`` when the route's retry budget refused the retry this error
    would have had. Gateways answer such a refusal 503 (429 for a rate limit) with
    `retry-after`, as they answer an open circuit.
    """

    default_status = 502
    refused_by: str | None = None

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        body: bytes | None = None,
        provider: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = self.default_status if status is None else status
        self.body = body
        self.provider = provider
        self.headers = headers or {}


_MAX_RETRY_AFTER = 86_400.0


class RateLimitError(ProviderError):
    """429 / throttling; `retry_after` is the provider's requested wait in seconds, if any."""

    default_status = 429

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        # A wait that is negative, not finite or longer than a day is no real request
        # (`retry-after: 1e308`): it is dropped, never allowed to overflow a sleep or a header.
        readable = retry_after is not None and 0 <= retry_after <= _MAX_RETRY_AFTER
        self.retry_after = retry_after if readable else None


class LocalRateLimitError(RateLimitError):
    """The router's own rate limit (`RateLimitPolicy`) refused the call; nothing was sent."""


class OverloadedError(ProviderError):
    """The provider is overloaded (Anthropic 529, 503 service unavailable)."""

    default_status = 529


class AuthenticationError(ProviderError):
    """401: the credential is missing, wrong or expired."""

    default_status = 401


class PermissionError(ProviderError):
    """403: the credential is valid but not allowed to do this."""

    default_status = 403


class NotFoundError(ProviderError):
    """404: the provider does not know this model or path."""

    default_status = 404


class ContextWindowExceededError(ProviderError):
    """The prompt is longer than the model's context window."""

    default_status = 400


class ContentFilterError(ProviderError):
    """The provider refused the request or answer on content-policy grounds."""

    default_status = 400


class TimeoutError(ProviderError, builtins.TimeoutError):
    """A connect, first-byte, idle or overall deadline passed (or the provider timed out)."""

    default_status = 504


class PoolTimeoutError(TimeoutError):
    """Every connection of the router's pool stayed busy for the whole pool timeout.

    `limit` is the pool's `max_connections`, `timeout` the wait in seconds. The router itself
    is the bottleneck here, not the provider: raise the limit or lower the load.
    """

    default_status = 503

    def __init__(self, message: str, *, limit: int | None, timeout: float, **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.limit = limit
        self.timeout = timeout


class ConnectError(ProviderError):
    """The provider could not be reached (DNS, refused, reset before an answer)."""

    default_status = 502


class UpstreamError(ProviderError):
    """Any other upstream failure (5xx, unexpected status); `status` and `body` as received."""


class ResponseTooLargeError(UpstreamError):
    """An upstream answer, SSE event or event-stream frame was larger than a read limit.

    `limit` names the limit (``max_response_body``, ``max_event_bytes``; see
    `llm_router.ReadLimits`) and `limit_bytes` its value. Not retried on the same route (an
    answer that large is not transient), but the next route is tried.
    """

    def __init__(self, message: str, *, limit: str, limit_bytes: int, **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.limit = limit
        self.limit_bytes = limit_bytes


class StreamTruncatedError(UpstreamError):
    """An upstream stream ended cleanly but early: the body closed before the format's
    end-of-answer event (Anthropic `message_stop`, an OpenAI `finish_reason` or `[DONE]`,
    Responses `response.completed`, a Gemini `finishReason`, Bedrock `messageStop`).

    `missing` names the event that never came. Retried like any upstream error before the
    stream is committed; after commit it is the `upstream_error` of the `StreamError` raised.
    """

    def __init__(self, message: str, *, missing: str, **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.missing = missing


class StreamError(ProviderError):
    """A committed stream failed after its first event was handed to the caller.

    Raised from the stream's iterator, after every event before the failure was yielded,
    whatever the failure: a dropped connection, an error event sent by the upstream, a corrupt
    or oversized event. `upstream_error` is the typed error behind it when there is one (the
    upstream's own error event as `OverloadedError`, ...); `status` follows it.
    """

    def __init__(
        self, message: str, *, upstream_error: LLMRouterError | None = None, **kw: object
    ) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.upstream_error = upstream_error
