"""Scripted attempt functions for engine tests: per-route steps of (virtual delay, outcome)."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

import trio

from llm_router import errors
from llm_router.resilience import AttemptContext, AttemptKind


@dataclass(frozen=True)
class Route:
    key: str


@dataclass(frozen=True)
class Raise:
    """A step outcome that raises a fresh exception (notes and causes never leak between tests)."""

    make: Callable[[], BaseException]


def fail(
    status: int = 503, cls: type[errors.ProviderError] = errors.UpstreamError, **kw: object
) -> Raise:
    return Raise(lambda: cls(f"upstream said {status}", status=status, **kw))  # type: ignore[arg-type]


@dataclass(frozen=True)
class Call:
    route: str
    number: int
    kind: AttemptKind
    started: float


@dataclass
class Script:
    """Each route plays its steps in order; its last step repeats forever.

    Records every call, which attempts saw `trio.Cancelled`, and which ran their cleanup.
    """

    steps: dict[str, list[tuple[float, object]]]
    calls: list[Call] = field(default_factory=list)
    cancelled: list[int] = field(default_factory=list)
    cleaned: list[int] = field(default_factory=list)

    async def __call__(self, route: Route, ctx: AttemptContext) -> object:
        queue = self.steps[route.key]
        delay, outcome = queue.pop(0) if len(queue) > 1 else queue[0]
        self.calls.append(Call(route.key, ctx.number, ctx.kind, trio.current_time()))
        try:
            await trio.sleep(delay)
        except trio.Cancelled:
            self.cancelled.append(ctx.number)
            raise
        finally:
            self.cleaned.append(ctx.number)
        if isinstance(outcome, Raise):
            raise outcome.make()
        return outcome


class MaxJitter(random.Random):
    """Always draws the top of the jitter interval, making backoff waits exact."""

    def uniform(self, a: float, b: float) -> float:
        return b


def task_count() -> int:
    """Tasks alive under the root task (a leak shows up as a larger number)."""

    def count(task: trio.lowlevel.Task) -> int:
        return 1 + sum(count(child) for n in task.child_nurseries for child in n.child_tasks)

    root = trio.lowlevel.current_root_task()
    assert root is not None
    return count(root)
