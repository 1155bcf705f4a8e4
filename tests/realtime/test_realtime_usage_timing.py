"""Realtime failures after the opening and the route's breaker, in virtual time.

A scripted upstream (`_upstream.py`) over in-memory WebSockets and `MockClock`: an idle
timeout of a committed session opens the circuit of a route whose policy says one failure is
enough; the next session goes to the backup; once the cooldown is over a probe goes back.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import orjson
import pytest
import trio
import trio.testing
from _upstream import SESSION_CREATED, Upgrade, Upstream, open_upstream

from llm_router import OpenAIProvider, Router
from llm_router.realtime.session import RealtimeOptions, RealtimeSessionClosed
from llm_router.resilience import BreakerPolicy, RetryPolicy

_DONE = orjson.dumps(
    {
        "type": "response.done",
        "response": {
            "id": "resp_1",
            "usage": {
                "input_tokens": 12,
                "output_tokens": 30,
                "total_tokens": 42,
                "input_token_details": {"text_tokens": 2, "audio_tokens": 10, "cached_tokens": 0},
                "output_token_details": {"text_tokens": 0, "audio_tokens": 30},
            },
        },
    }
).decode()


def _router() -> Router:
    builder = Router.builder()
    for host in ("primary", "backup"):
        builder.add_provider(host, OpenAIProvider(base_url=f"https://{host}.test/v1"))
        builder.add_api_key(host, f"sk-{host}")
        builder.add_model_route("gpt-realtime", host)
    builder.with_retry_policy(RetryPolicy(initial_delay=0.0, max_delay=0.0))
    builder.with_circuit_breaker(BreakerPolicy(consecutive_failures=1, cooldown=30.0))
    return builder.build()


@pytest.fixture
async def upstream() -> AsyncIterator[Upstream]:
    async with open_upstream() as scripted:
        yield scripted


def _tasks() -> int:
    return trio.lowlevel.current_statistics().tasks_living


async def test_an_idle_timeout_after_the_opening_opens_the_circuit_until_the_cooldown(
    autojump_clock: trio.testing.MockClock, upstream: Upstream
) -> None:
    upstream.script("primary", Upgrade(first=SESSION_CREATED, then=(_DONE,)))
    options = RealtimeOptions(idle_timeout=5.0)
    async with _router() as router:
        before = _tasks()
        async with router.realtime(
            "gpt-realtime", "openai-realtime", options=options, connector=upstream.connect
        ) as s:
            await s.receive()
            assert (await s.receive()).type == "response.done"
            with pytest.raises(RealtimeSessionClosed, match="idle_timeout"):
                await s.receive()
        await trio.testing.wait_all_tasks_blocked()
        assert _tasks() == before and upstream.open_sockets == 0
        assert s.usage.input_audio_tokens == 10 and s.usage.output_audio_tokens == 30
        assert s.cost is not None and s.cost > 0  # the usage before the failure still counts
        assert s.failure is not None and "idle_timeout" in str(s.failure)
        assert router.statistics()["routes"]["primary/gpt-realtime"]["breaker"] == "open"

        async with router.realtime(
            "gpt-realtime", "openai-realtime", connector=upstream.connect
        ) as skipped:
            await skipped.receive()
        assert skipped.route.alias == "backup"

        await trio.sleep(30.0)  # the cooldown: one probe may go to the primary again
        async with router.realtime(
            "gpt-realtime", "openai-realtime", connector=upstream.connect
        ) as probe:
            await probe.receive()
        assert probe.route.alias == "primary"
        await trio.testing.wait_all_tasks_blocked()
        assert _tasks() == before and upstream.open_sockets == 0
        # A session that ends without failing closes the circuit again.
        assert router.statistics()["routes"]["primary/gpt-realtime"]["breaker"] == "closed"
    assert upstream.hosts() == ["primary", "backup", "primary"]


async def test_leaving_during_a_response_leaves_its_cost_unknown(
    autojump_clock: trio.testing.MockClock, upstream: Upstream
) -> None:
    created = '{"type": "response.created", "response": {"id": "resp_cut"}}'
    delta = '{"type": "response.output_text.delta", "delta": "hel"}'
    upstream.script("primary", Upgrade(first=SESSION_CREATED, then=(_DONE, created, delta)))
    async with _router() as router:
        before = _tasks()
        async with router.realtime(
            "gpt-realtime", "openai-realtime", connector=upstream.connect
        ) as s:
            kinds = [(await s.receive()).type for _ in range(4)]
            assert s.cost is not None  # the first response is whole; the second under way
        await trio.testing.wait_all_tasks_blocked()
        assert _tasks() == before and upstream.open_sockets == 0
    assert kinds[-1] == "response.output_text.delta"
    assert s.usage.partial and "resp_cut" in s.usage.problems[0]
    assert s.cost is None and "resp_cut" in (s.cost_unknown_reason or "")
    assert s.failure is None  # the caller left: nothing against the route
