"""Which failures are worth another attempt, on this route or the next, and which end the call.

The matrix follows what the official OpenAI and Anthropic SDKs retry, plus failover:

==========================================  ===========  ============================
failure                                     disposition  why
==========================================  ===========  ============================
connection error, timeout                   RETRY        transient, nothing was answered
408, 409, 429, 5xx (Anthropic 529 too)      RETRY        transient or overloaded
401, 402, 403 (or a wrong key by its type)  FAILOVER     this route's credential or account
404 (model not found on this provider)      FAILOVER     another provider may serve it
answer over a read limit                    FAILOVER     not transient; another route may do
not what was asked (3xx, HTML, bad JSON)    RETRY        a misbehaving upstream (as 502)
400, 422 and other 4xx                      FATAL        the request itself is wrong
anything once a stream is committed         FATAL        the caller has seen output
not an llm-router error (a bug)             FATAL        never hide it behind retries
==========================================  ===========  ============================

``x-should-retry: true`` makes any provider error retryable and ``false`` turns a retry into
a failover, as the SDKs honour it. Pure: the wall clock for HTTP-date headers is an argument.
"""

from __future__ import annotations

import builtins
import enum
from dataclasses import dataclass

from llm_router import errors
from llm_router.resilience.backoff import parse_retry_after, parse_should_retry

__all__ = ["Disposition", "Verdict", "classify"]

_RETRYABLE_STATUSES = frozenset({408, 409, 429})
_ROUTE_STATUSES = frozenset({401, 402, 403, 404})
#: This route's credential, account or model, whatever status a provider module gave them.
_ROUTE_TYPES = (errors.AuthenticationError, errors.PermissionError, errors.NotFoundError)
#: Retryable whatever status a provider module gave them.
_TRANSIENT_TYPES = (errors.ConnectError, errors.TimeoutError, errors.RateLimitError)


class Disposition(enum.StrEnum):
    RETRY = "retry"  # transient: try this route again (budget permitting), then the next
    FAILOVER = "failover"  # this route cannot serve the request: go to the next one
    FATAL = "fatal"  # the request is wrong or already committed: stop


@dataclass(frozen=True, slots=True)
class Verdict:
    """What a failure means for the call: its disposition and the wait the provider asked for.

    `route_fault` says whether the failure counts against the route's health (circuit breaker
    and retry budget): a provider being down does, a malformed request does not.
    """

    disposition: Disposition
    retry_after: float | None = None
    route_fault: bool = True


_FATAL = Verdict(Disposition.FATAL, route_fault=False)


def classify(exc: BaseException, *, wall_now: float, committed: bool = False) -> Verdict:
    """The verdict on one failed attempt. `wall_now` is seconds since the epoch."""
    if committed or isinstance(exc, errors.StreamError):
        return _FATAL
    if isinstance(exc, errors.LocalRateLimitError):
        # Our own limit refused before sending: retry later or elsewhere, the route is healthy.
        return Verdict(Disposition.RETRY, exc.retry_after, route_fault=False)
    if isinstance(exc, errors.ProviderError):
        return _classify_provider_error(exc, wall_now)
    if isinstance(exc, builtins.TimeoutError | ConnectionError):
        return Verdict(Disposition.RETRY)
    return _FATAL


def _classify_provider_error(exc: errors.ProviderError, wall_now: float) -> Verdict:
    status = exc.status
    transient = isinstance(exc, _TRANSIENT_TYPES)
    if isinstance(exc, errors.ResponseTooLargeError):
        disposition = Disposition.FAILOVER
    elif transient or status in _RETRYABLE_STATUSES or status >= 500:
        disposition = Disposition.RETRY
    elif status in _ROUTE_STATUSES or isinstance(exc, _ROUTE_TYPES):
        # By type too: Gemini answers a wrong API key 400 INVALID_ARGUMENT (API_KEY_INVALID),
        # which its provider maps to `AuthenticationError`; another route's key may work.
        disposition = Disposition.FAILOVER
    else:
        disposition = Disposition.FATAL

    should_retry = parse_should_retry(exc.headers)
    if should_retry is True:
        disposition = Disposition.RETRY
    elif should_retry is False and disposition is Disposition.RETRY:
        disposition = Disposition.FAILOVER

    retry_after = parse_retry_after(exc.headers, wall_now=wall_now)
    if retry_after is None and isinstance(exc, errors.RateLimitError):
        retry_after = exc.retry_after
    return Verdict(disposition, retry_after, route_fault=disposition is not Disposition.FATAL)
