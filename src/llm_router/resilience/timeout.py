"""A Trio helper for the timeouts the router applies itself, such as the idle gap in a stream.

The engine enforces the first-byte and overall deadlines; the gap between two events of a
committed stream is measured by whoever reads it, with this helper.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import trio

from llm_router import errors

__all__ = ["call_with_timeout"]

T = TypeVar("T")


async def call_with_timeout(
    seconds: float | None,
    fn: Callable[[], Awaitable[T]],
    *,
    what: str,
    provider: str | None = None,
) -> T:
    """Await `fn()`, raising `TimeoutError` if it takes longer than `seconds` (None: no limit).

    For the idle timeout between stream events:
    ``await call_with_timeout(timeouts.idle, stream.next_event, what="stream event")``.
    """
    if seconds is None:
        return await fn()
    with trio.move_on_after(seconds):
        return await fn()
    who = f"{provider}: " if provider else ""
    raise errors.TimeoutError(f"{who}no {what} within {seconds:g} s", provider=provider)
