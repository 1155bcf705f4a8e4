"""Shared helpers of the chaos suite: counting tasks, and the invariants every chaos test checks
once the storm is over."""

from __future__ import annotations

import trio

from llm_router import Router

CHAT = {"model": "house-model", "messages": [{"role": "user", "content": "chaos"}]}
STREAM_CHAT = dict(CHAT, stream=True)


def task_count() -> int:
    """Tasks under the current task (fixtures, such as servers, run in their own)."""

    def count(task: trio.lowlevel.Task) -> int:
        return 1 + sum(
            count(child) for nursery in task.child_nurseries for child in nursery.child_tasks
        )

    return count(trio.lowlevel.current_task())


async def assert_router_is_clean(
    router: Router, tasks: int, *, model: str = "house-model", expect: bytes = b"You said"
) -> None:
    """Nothing in flight, no connection held or half-open, no task left, and the router still
    answers a fresh call promptly."""
    stats = router.statistics()
    pool = stats["pool"]
    assert pool["in_use"] == pool["connecting"] == pool["active"] == pool["waiting"] == 0, pool
    assert stats["calls_in_flight"] == stats["open_streams"] == 0, stats
    assert stats["requests_in_flight"] == stats["attempts_in_flight"] == 0, stats
    assert task_count() == tasks
    with trio.move_on_after(5) as deadline:
        result = await router.complete(dict(CHAT, model=model), "openai")
    assert not deadline.cancelled_caught, "the router no longer answers"
    assert expect in result.body
    assert router.statistics()["pool"]["in_use"] == 0
