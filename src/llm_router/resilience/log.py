"""The attempt log and the observer hooks: frozen records of what a call did, and who hears of it.

Records hold route keys, statuses, error class names and messages only: never a request
body, a header or a credential. Messages are trimmed, and URL query strings (where some
providers carry API keys) are masked.
"""

from __future__ import annotations

import enum
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from llm_router.universal import Usage

__all__ = [
    "AttemptKind",
    "AttemptOutcome",
    "AttemptRecord",
    "AttemptStarted",
    "Hooks",
    "RequestFinished",
    "RequestOutcome",
    "RequestStarted",
    "describe_error",
    "emit",
    "with_usage",
]

logger = logging.getLogger("llm_router.resilience")

_MAX_MESSAGE = 300
_URL_QUERY = re.compile(r"(https?://[^\s?#]*)\?[^\s#]*")

E = TypeVar("E")


class AttemptKind(enum.StrEnum):
    """Why an attempt was started."""

    FIRST = "first"  # the call's first attempt
    RETRY = "retry"  # a route failed and is tried again
    FAILOVER = "failover"  # a route failed and the next one is tried
    HEDGE = "hedge"  # an attempt was slow to answer and got a sibling


class AttemptOutcome(enum.StrEnum):
    """How an attempt ended, as decided when it ended."""

    WON = "won"  # its answer is the call's answer
    CANCELLED_HEDGE_LOSER = "cancelled_hedge_loser"  # a sibling answered first
    RETRIED = "retried"  # it failed and its route was tried again
    FAILED_OVER = "failed_over"  # it failed and another route was tried
    FAILED = "failed"  # it failed and nothing was started because of it
    CANCELLED = "cancelled"  # the whole call was cancelled or ran out of time


class RequestOutcome(enum.StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMED_OUT = "timed_out"  # the overall deadline passed
    CANCELLED = "cancelled"  # the caller cancelled the call


@dataclass(frozen=True, slots=True)
class RequestStarted:
    request_id: int
    label: str
    routes: tuple[str, ...]
    operation: str = "chat"  # what kind of call: chat, embeddings


@dataclass(frozen=True, slots=True)
class AttemptStarted:
    request_id: int
    route: str
    number: int  # 1-based within the call
    route_attempt: int  # 1-based within the route
    kind: AttemptKind
    offset: float  # seconds since the call started


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    """One attempt, start to end.

    `ttfb` is the time the attempt took to answer (first event of a stream, whole answer of
    a plain request); None when it never answered. `status`, `error` (class name) and
    `message` describe a failure, or the cancellation of a loser. The winning attempt
    carries the answer's `usage` (universal) and `cost` (dollars, None without a price).
    """

    request_id: int
    route: str
    number: int
    route_attempt: int
    kind: AttemptKind
    offset: float
    duration: float
    outcome: AttemptOutcome
    ttfb: float | None = None
    status: int | None = None
    error: str | None = None
    message: str | None = None
    usage: Usage | None = None
    cost: float | None = None


@dataclass(frozen=True, slots=True)
class RequestFinished:
    """A call ended. For a stream that is when the stream ends (or its block is left), so
    `usage` and `cost` are the whole answer's; `elapsed` then covers the whole stream."""

    request_id: int
    label: str
    outcome: RequestOutcome
    route: str | None  # the winning route's key
    attempts: tuple[AttemptRecord, ...]
    elapsed: float
    status: int | None = None
    error: str | None = None
    message: str | None = None
    usage: Usage | None = None
    cost: float | None = None


def with_usage(
    records: tuple[AttemptRecord, ...], usage: Usage | None, cost: float | None
) -> tuple[AttemptRecord, ...]:
    """`records` with the winning attempt's usage and cost filled in (where not yet set)."""
    if usage is None and cost is None:
        return records
    return tuple(
        replace(r, usage=usage, cost=cost)
        if r.outcome is AttemptOutcome.WON and r.usage is None
        else r
        for r in records
    )


@dataclass(frozen=True, slots=True)
class Hooks:
    """Synchronous observers of every call. Exceptions they raise are logged and swallowed.

    They run on the event loop between checkpoints: keep them quick (increment a counter,
    append to a list, hand off to a channel with `send_nowait`).
    """

    on_request_start: Callable[[RequestStarted], None] | None = None
    on_attempt_start: Callable[[AttemptStarted], None] | None = None
    on_attempt_end: Callable[[AttemptRecord], None] | None = None
    on_request_end: Callable[[RequestFinished], None] | None = None


def emit(hook: Callable[[E], None] | None, record: E) -> None:
    """Call `hook` with `record`, if set; a failing hook must never break the call."""
    if hook is None:
        return
    try:
        hook(record)
    except Exception:
        logger.exception("resilience hook %r failed on %s", hook, type(record).__name__)


def describe_error(exc: BaseException) -> tuple[int | None, str, str]:
    """(status, class name, safe message) for a record."""
    status = getattr(exc, "status", None)
    message = _URL_QUERY.sub(r"\1?…", str(exc))
    if len(message) > _MAX_MESSAGE:
        message = message[: _MAX_MESSAGE - 1] + "…"
    return (status if isinstance(status, int) else None), type(exc).__name__, message
