"""Router errors as the caller's provider would send them: status, JSON body, headers."""

from __future__ import annotations

import math
from dataclasses import replace

import orjson

from llm_router import errors
from llm_router.formats import converse, get_format
from llm_router.providers.base import retry_after_seconds
from llm_router.types import ProviderFormat
from llm_router.universal import ErrorInfo, ErrorType

__all__ = ["error_info", "render_error", "render_info"]

_LONGEST_WAIT = 86_400.0  # seconds: a longer "wait" is no real request, never handed on

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
    # A stream that failed after commit reports the upstream's own kind (overloaded, ...).
    source = getattr(exc, "upstream_error", None) or exc
    kind = next((k for cls, k in _ERROR_TYPES if isinstance(source, cls)), ErrorType.SERVER)
    status = getattr(exc, "status", None)
    if not isinstance(status, int) or status < 400:
        status = None
    return ErrorInfo(type=kind, message=str(exc), status=status)


def render_error(
    exc: errors.LLMRouterError, fmt: ProviderFormat
) -> tuple[int, bytes, dict[str, str]]:
    """Status, body and headers for `exc` as a provider speaking `fmt` would send it.

    A call refused by the router's own protection (every route's circuit open, a spent
    retry budget, a full connection pool, or a long `retry-after` it would not wait for)
    answers 503, or 429 where the upstream said 429, with `retry-after` in seconds so that
    the caller's SDK backs off."""
    info = error_info(exc)
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is None and not isinstance(exc, errors.NoRouteError):
        # A 503 (or any error) asking for a wait: the caller's SDK waits too.
        retry_after = _upstream_retry_after(exc)
    if isinstance(exc, errors.ProviderError) and exc.refused_by is not None:
        message = f"{info.message} (not retried: the router's {exc.refused_by} is spent)"
        if isinstance(exc, errors.RateLimitError):
            info = replace(info, type=ErrorType.RATE_LIMIT, status=429, message=message)
        else:
            info = replace(info, type=ErrorType.OVERLOADED, status=503, message=message)
        if retry_after is None:
            retry_after = 1.0
    elif isinstance(exc, errors.PoolTimeoutError) and retry_after is None:
        retry_after = 1.0
    if isinstance(exc, errors.NoRouteError):
        limited = [e for e in exc.errors if isinstance(e, errors.RateLimitError)]
        if limited and len(limited) == len(exc.errors):
            info = replace(info, type=ErrorType.RATE_LIMIT, status=429)
        else:
            info = replace(info, type=ErrorType.OVERLOADED, status=503)
        if retry_after is None:
            waits = [e.retry_after for e in limited if e.retry_after is not None]
            retry_after = min(waits) if waits else 1.0
    return render_info(info, fmt, retry_after=retry_after)


def _upstream_retry_after(exc: BaseException) -> float | None:
    """The wait the upstream's own error answer asked for (`retry-after(-ms)`), if any."""
    headers = getattr(exc, "headers", None)
    if isinstance(headers, dict) and headers:
        wait = retry_after_seconds(headers)
        return wait if wait is not None and 0 <= wait <= _LONGEST_WAIT else None
    for inner in reversed(getattr(exc, "errors", None) or []):
        wait = _upstream_retry_after(inner)
        if wait is not None:
            return wait
    return None


def render_info(
    info: ErrorInfo, fmt: ProviderFormat, *, retry_after: float | None = None
) -> tuple[int, bytes, dict[str, str]]:
    """Status, body and headers of a universal error in `fmt`."""
    out_status, body = get_format(fmt).render_error(info)
    headers = {"content-type": "application/json"}
    if retry_after is not None:
        headers["retry-after"] = f"{max(1, math.ceil(retry_after))}"
        headers["retry-after-ms"] = f"{max(0, round(retry_after * 1000))}"
    if fmt is ProviderFormat.CONVERSE:
        headers["x-amzn-errortype"] = converse.error_type_header(info)
    return out_status, orjson.dumps(body), headers
