"""The one rule for exceptions leaving a context manager that runs a nursery, and the Trio check.

A nursery is an implementation detail of the context managers of both packages (the router,
the fake provider, the gateway): a lone exception must leave them as itself (the very
object, so ``except RateLimitError`` and ``pytest.raises`` work), never wrapped in the
`ExceptionGroup` that Trio's strict groups would build. Only failures that genuinely happened
concurrently (the block and a background task, or two background tasks) form a group.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import NoReturn

import trio

from llm_router.errors import NotInTrioError

__all__ = ["open_nursery", "require_trio", "sole_exception"]


def require_trio(what: str) -> None:
    """Raise `NotInTrioError` unless the caller runs inside `trio.run`."""
    try:
        trio.lowlevel.current_task()
    except RuntimeError:
        raise NotInTrioError(
            f"{what} runs on Trio, but no Trio run is active here (asyncio?): start it with "
            "trio.run(main), or from asyncio run trio.run in a worker thread "
            "(await asyncio.to_thread(trio.run, main)) or use trio-asyncio"
        ) from None


@asynccontextmanager
async def open_nursery() -> AsyncIterator[trio.Nursery]:
    """`trio.open_nursery()` whose lone exception leaves as itself.

    The block's exception is held back while the nursery unwinds (its tasks are cancelled,
    as Trio does), then re-raised unchanged. A lone background-task failure is unwrapped the
    same way; the block's failure together with tasks' failures still forms a group (the
    Cancelled a failure causes in its siblings is not counted as another failure).
    """
    error: Exception | None = None
    try:
        async with trio.open_nursery() as nursery:
            try:
                yield nursery
            except Exception as exc:
                # Held back; Cancelled and KeyboardInterrupt go on to the nursery, whose
                # cancel scope must see (and may absorb) a cancellation of its own.
                error = exc
                nursery.cancel_scope.cancel()
    except BaseExceptionGroup as group:
        failures = list(group.exceptions)
        if error is not None:
            failures.insert(0, error)
        real = [f for f in failures if not isinstance(f, trio.Cancelled)]
        if len(real) > 1:
            raise BaseExceptionGroup("concurrent failures", real) from None
        # A failure cancels its siblings: their Cancelled is its echo, not another failure.
        _reraise(real[0] if real else failures[0])
    if error is not None:
        _reraise(error)


def sole_exception(error: BaseException, *, deep: bool = True) -> BaseException:
    """The exception inside a group with one member (nested ones too when `deep`), else `error`."""
    while isinstance(error, BaseExceptionGroup) and len(error.exceptions) == 1:
        error = error.exceptions[0]
        if not deep:
            break
    return error


def _reraise(error: BaseException) -> NoReturn:
    """Raise `error` as it is: no context of ours chained onto it."""
    context, suppress = error.__context__, error.__suppress_context__
    try:
        raise error
    finally:
        error.__context__, error.__suppress_context__ = context, suppress
        del error
