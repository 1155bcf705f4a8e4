"""The one error a failed call raises, chosen from what its schedule saw.

Pure: built from the call's `Schedule`, its route keys and breakers, and the caller's `now`.
Typed errors are kept where they can be (callers catch `RateLimitError`, `NotFoundError`...);
the other routes' failures are attached as notes so nothing is hidden.
"""

from __future__ import annotations

from collections.abc import Sequence

from llm_router import errors
from llm_router.resilience.breaker import CircuitBreaker
from llm_router.resilience.log import describe_error
from llm_router.resilience.schedule import Schedule

__all__ = ["call_error", "deadline_error", "summarize"]


def call_error(
    schedule: Schedule,
    keys: Sequence[str],
    breakers: Sequence[CircuitBreaker | None],
    now: float,
) -> BaseException:
    """The error for a call that ended without an answer (and before its deadline).

    In order: the error a retry cannot fix, if one ended the call; `NoRouteError` when some
    route was never attempted (open circuit); a `RateLimitError` carrying `retry_after` when
    the last route asked for a longer wait than allowed; else the last attempt's error.
    """
    if schedule.fatal is not None:
        return schedule.fatal
    skipped = [i for i, progress in enumerate(schedule.routes) if progress.attempts == 0]
    last = schedule.last_failed
    if last is None or skipped:
        return _no_route_error(schedule, keys, breakers, skipped, now)
    progress = schedule.routes[last]
    error = progress.error
    assert error is not None  # last_failed names a route that failed
    if progress.refused_wait is not None:
        return _refused_wait_error(keys[last], error, progress.refused_wait, schedule)
    for index, other in enumerate(schedule.routes):
        if other.error is not None and other.error is not error:
            error.add_note(f"route {keys[index]!r} failed too: {summarize(other.error)}")
    return error


def deadline_error(schedule: Schedule, total: float | None) -> errors.TimeoutError:
    """The error for a call whose overall deadline passed, caused by its last failure."""
    attempts = schedule.attempts
    message = (
        f"the request did not complete within its {total:g} s overall deadline "
        f"({attempts} attempt{'' if attempts == 1 else 's'} made"
    )
    last = None if schedule.last_failed is None else schedule.routes[schedule.last_failed].error
    if last is not None:
        message += f"; last error: {summarize(last)}"
    error = errors.TimeoutError(message + ")")
    error.__cause__ = last
    return error


def summarize(error: BaseException) -> str:
    """``ClassName status: message``, safe for logs and messages."""
    status, name, message = describe_error(error)
    return name + ("" if status is None else f" {status}") + f": {message}"


def _refused_wait_error(
    key: str, error: BaseException, wait: float, schedule: Schedule
) -> BaseException:
    cap = schedule.retry.max_retry_after
    limit = f"the {cap:g} s cap" if wait > cap else "the time left before the deadline"
    if isinstance(error, errors.RateLimitError):
        if error.retry_after is None:
            error.retry_after = wait
        error.add_note(f"{key}: the requested wait of {wait:g} s exceeds {limit}; not waited")
        return error
    limited = errors.RateLimitError(
        f"{key}: asked to wait {wait:g} s before retrying, longer than {limit}",
        retry_after=wait,
        status=error.status if isinstance(error, errors.ProviderError) else None,
        provider=key,
    )
    limited.__cause__ = error
    return limited


def _no_route_error(
    schedule: Schedule,
    keys: Sequence[str],
    breakers: Sequence[CircuitBreaker | None],
    skipped: list[int],
    now: float,
) -> errors.NoRouteError:
    parts: list[str] = []
    route_errors: list[BaseException] = []
    waits: list[float] = []
    for index, progress in enumerate(schedule.routes):
        key = keys[index]
        if index in skipped:
            breaker = breakers[index]
            if breaker is not None:
                waits.append(breaker.reopens_in(now))
            reason = _skip_reason(breakers[index], now)
            parts.append(f"{key!r}: {reason}")
            route_errors.append(errors.UpstreamError(f"{key}: {reason}", status=503, provider=key))
        elif progress.error is not None:
            parts.append(f"{key!r}: {summarize(progress.error)}")
            route_errors.append(progress.error)
    verb = "was skipped" if len(skipped) == len(keys) else "failed or was skipped"
    error = errors.NoRouteError(
        f"every route {verb}: " + "; ".join(parts),
        route_errors,
        retry_after=min(waits) if waits else None,
    )
    if schedule.last_failed is not None:
        error.__cause__ = schedule.routes[schedule.last_failed].error
    return error


def _skip_reason(breaker: CircuitBreaker | None, now: float) -> str:
    if breaker is None:
        return "not attempted"
    wait = breaker.reopens_in(now)
    if wait > 0:
        return f"circuit open after repeated failures (next probe in {wait:.1f} s)"
    return f"circuit {breaker.state(now).value} (its probe is busy)"
