"""A call cancelled at each of its awaits in turn, while the pool is contended, leaves nothing.

For every kind of call (complete, stream read to its end, hedged complete) the sweep cancels
the call after its 1st, 2nd, 3rd ... scheduling step (counted over the call's task and every
task under it, so hedge attempts count too) until a call finishes before the cut. Each cut
must surface as the cancellation and nothing else; once the sweep is over, the invariants of
`_chaos.assert_router_is_clean` hold. Background callers keep the small pool busy throughout,
so cuts also land while the call waits for a connection.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
import trio
from _chaos import CHAT, STREAM_CHAT, assert_router_is_clean, task_count

from llm_router import OpenAIProvider, Router
from llm_router.resilience import HedgePolicy, RetryPolicy
from llm_router_testing.fake import FAKE_KEYS, FakeProvider, open_fake_provider

MAX_CONNECTIONS = 2
CONTENDERS = 3
#: A sweep this long covers every await of the calls below many times over.
MAX_STEPS = 400


class StepCounter(trio.abc.Instrument):
    """Cancels `scope` after the `limit`-th step of `root` or any task under it."""

    def __init__(self, root: trio.lowlevel.Task, scope: trio.CancelScope, limit: int) -> None:
        self.root, self.scope, self.limit, self.steps = root, scope, limit, 0

    def after_task_step(self, task: trio.lowlevel.Task) -> None:
        if self.steps < self.limit and self._under_root(task):
            self.steps += 1
            if self.steps == self.limit:
                self.scope.cancel()

    def _under_root(self, task: trio.lowlevel.Task | None) -> bool:
        while task is not None:
            if task is self.root:
                return True
            nursery = task.parent_nursery
            task = nursery.parent_task if nursery is not None else None
        return False


async def cut_after(limit: int, call: Callable[[], Awaitable[object]]) -> bool:
    """Run `call`, cancelled after `limit` steps; True when it finished first."""
    finished = False

    async def run(task_status: trio.TaskStatus[trio.lowlevel.Task]) -> None:
        nonlocal finished
        scope = trio.CancelScope()
        counter = StepCounter(trio.lowlevel.current_task(), scope, limit)
        trio.lowlevel.add_instrument(counter)
        try:
            task_status.started(trio.lowlevel.current_task())
            with scope:
                await call()
                finished = True
        finally:
            trio.lowlevel.remove_instrument(counter)

    async with trio.open_nursery() as nursery:
        await nursery.start(run)
    return finished


def build(fake: FakeProvider, *, hedge: bool) -> Router:
    builder = (
        Router.builder()
        .forward_headers("x-fake-")
        .with_limits(httpx.Limits(max_connections=MAX_CONNECTIONS))
        .with_retry_policy(RetryPolicy(max_attempts=2, initial_delay=0.001, max_delay=0.002))
    )
    if hedge:
        builder.with_hedge_policy(HedgePolicy(delay=0.002, max_extra_load=1.0))
    for alias in ("primary", "secondary"):
        builder.add_provider(alias, OpenAIProvider(base_url=fake.url + "/v1"))
        builder.add_api_key(alias, FAKE_KEYS["openai"])
        builder.add_model_route("house-model", alias, "gpt-4o-mini")
    return builder.build()


@pytest.fixture
async def fake() -> AsyncIterator[FakeProvider]:
    async with open_fake_provider(latency="0-3ms", seed=5) as server:
        yield server


async def _complete(router: Router) -> None:
    await router.complete(CHAT, "openai")


async def _stream(router: Router) -> None:
    # Events 1 ms apart arrive one by one: every event read is an await of its own.
    slow = {"x-fake-inter-event-delay": "1ms"}
    async with router.stream(STREAM_CHAT, "openai", headers=slow) as events:
        async for _ in events:
            pass


@pytest.mark.parametrize(
    ("kind", "hedge"),
    [("complete", False), ("stream", False), ("hedged-complete", True), ("hedged-stream", True)],
)
async def test_a_cut_at_any_await_leaves_nothing_behind(
    fake: FakeProvider, kind: str, hedge: bool
) -> None:
    call = _stream if "stream" in kind else _complete
    async with build(fake, hedge=hedge) as router:
        tasks = task_count()
        contended = 0

        async def contend() -> None:
            while True:
                with trio.move_on_after(0.01):
                    await router.complete(CHAT, "openai", headers={"x-fake-latency": "0-8ms"})

        with trio.fail_after(60):
            async with trio.open_nursery() as background:
                for _ in range(CONTENDERS):
                    background.start_soon(contend)
                for limit in range(1, MAX_STEPS):
                    contended += router.statistics()["pool"]["waiting"] > 0
                    if await cut_after(limit, lambda: call(router)):
                        break
                else:
                    pytest.fail(f"{kind} never finished within {MAX_STEPS} steps")
                background.cancel_scope.cancel()
        assert limit > 5, "the sweep cut too few awaits to mean anything"
        assert contended > 0, "the pool was never contended"
        await assert_router_is_clean(router, tasks)
