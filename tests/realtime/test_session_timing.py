"""Everything time-dependent about realtime sessions, in virtual time: retries, backoff and
breakers of the opening (the router's resilience), and the session's own timeouts.

A scripted upstream (`_upstream.py`) speaks real WebSocket (trio-websocket on both ends) over
in-memory streams, so nothing waits on the network and `MockClock` (the `autojump_clock`
fixture) makes every wait exact: "the retry starts 7 s later" is checked to the float. Tests
also check that no task outlives their sessions.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator

import httpx
import pytest
import trio
import trio.testing
from _upstream import Upgrade, Upstream, open_upstream

from llm_router import OpenAIProvider, RateLimitPolicy, Router, errors
from llm_router.realtime.session import RealtimeOptions, RealtimeSessionClosed
from llm_router.resilience import AttemptKind, AttemptOutcome, BreakerPolicy, RetryPolicy


def _router(*, hosts: tuple[str, ...] = ("primary", "backup"), **policies: object) -> Router:
    builder = Router.builder()
    for host in hosts:
        builder.add_provider(host, OpenAIProvider(base_url=f"https://{host}.test/v1"))
        builder.add_api_key(host, f"sk-{host}")
        builder.add_model_route("gpt-realtime", host)
        builder.add_model_route("gpt-4.1-mini", host)
    retry = policies.get("retry")
    if isinstance(retry, RetryPolicy):
        builder.with_retry_policy(retry)
    breaker = policies.get("breaker")
    if isinstance(breaker, BreakerPolicy):
        builder.with_circuit_breaker(breaker)
    transport = policies.get("transport")
    if isinstance(transport, httpx.AsyncBaseTransport):
        builder.with_transport(transport)
    return builder.build()


@pytest.fixture
async def upstream() -> AsyncIterator[Upstream]:
    async with open_upstream() as scripted:
        yield scripted


def _tasks() -> int:
    return trio.lowlevel.current_statistics().tasks_living


async def _settled(upstream: Upstream, before: int) -> None:
    """No socket left open and no task left on either side (the upstream's included)."""
    await trio.testing.wait_all_tasks_blocked()
    assert _tasks() == before and upstream.open_sockets == 0


async def test_a_refused_upgrade_is_retried_after_its_retry_after(
    autojump_clock: trio.testing.MockClock,
    upstream: Upstream,
) -> None:
    upstream.script("primary", Upgrade(503, (("retry-after", "7"),)))
    router = _router(hosts=("primary",), retry=RetryPolicy(max_attempts=3, initial_delay=0.5))
    async with router:
        before = _tasks()
        async with router.realtime(
            "gpt-realtime", "openai-realtime", connector=upstream.connect
        ) as s:
            assert (await s.receive()).type == "session.created"
        await _settled(upstream, before)
    (first, _), (second, _) = upstream.seen
    assert second - first == pytest.approx(7.0)  # the provider's wait, not the 0.5 s backoff
    assert [(r.kind, r.outcome, r.status) for r in s.attempt_records] == [
        (AttemptKind.FIRST, AttemptOutcome.RETRIED, 503),
        (AttemptKind.RETRY, AttemptOutcome.WON, None),
    ]


async def test_a_retry_after_over_the_cap_moves_on_to_the_next_route(
    autojump_clock: trio.testing.MockClock,
    upstream: Upstream,
) -> None:
    upstream.script("primary", Upgrade(429, (("retry-after", "3600"),)))
    async with _router(retry=RetryPolicy(max_retry_after=60)) as router:
        start = trio.current_time()
        async with router.realtime(
            "gpt-realtime", "openai-realtime", connector=upstream.connect
        ) as s:
            await s.receive()
    assert upstream.hosts() == ["primary", "backup"] and s.route.alias == "backup"
    assert upstream.seen[1][0] == start  # at once: an hour's wait is not taken


async def test_closes_before_the_first_event_are_retried_with_the_router_backoff(
    autojump_clock: trio.testing.MockClock,
    upstream: Upstream,
) -> None:
    upstream.script("primary", Upgrade(close=1011), Upgrade(close=1013))
    retry = RetryPolicy(max_attempts=3, initial_delay=1.0, multiplier=2.0, max_delay=8.0)
    async with (
        _router(hosts=("primary",), retry=retry) as router,
        router.realtime("gpt-realtime", "openai-realtime", connector=upstream.connect) as s,
    ):
        await s.receive()
    times = [at for at, _ in upstream.seen]
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    # Full jitter: uniform in [0, 1 s] before the first retry, [0, 2 s] before the second.
    assert len(gaps) == 2 and 0 < gaps[0] <= 1.0 and 0 < gaps[1] <= 2.0
    assert [a.outcome for a in s.attempts] == ["failed", "failed", "committed"]


async def test_a_non_retryable_close_fails_over_at_once(
    autojump_clock: trio.testing.MockClock,
    upstream: Upstream,
) -> None:
    upstream.script("primary", Upgrade(close=1008))  # policy violation: not transient
    async with (
        _router() as router,
        router.realtime("gpt-realtime", "openai-realtime", connector=upstream.connect) as s,
    ):
        await s.receive()
    assert upstream.hosts() == ["primary", "backup"]
    assert upstream.seen[0][0] == upstream.seen[1][0]
    assert [r.outcome for r in s.attempt_records] == [
        AttemptOutcome.FAILED_OVER,
        AttemptOutcome.WON,
    ]


async def test_session_failures_open_the_circuit_and_later_sessions_skip_the_route(
    autojump_clock: trio.testing.MockClock,
    upstream: Upstream,
) -> None:
    upstream.script("primary", *[Upgrade(503)] * 10)
    breaker = BreakerPolicy(consecutive_failures=2, cooldown=30.0)
    async with _router(retry=RetryPolicy(max_attempts=1), breaker=breaker) as router:
        before = _tasks()
        for _ in range(3):
            async with router.realtime(
                "gpt-realtime", "openai-realtime", connector=upstream.connect
            ) as s:
                await s.receive()
            assert s.route.alias == "backup"
        # Two failures opened primary's circuit: the third session went straight to backup.
        assert upstream.hosts() == ["primary", "backup", "primary", "backup", "backup"]
        await trio.sleep(30.0)  # the cooldown: one probe is let through, and fails again
        async with router.realtime(
            "gpt-realtime", "openai-realtime", connector=upstream.connect
        ) as s:
            await s.receive()
        assert upstream.hosts()[-2:] == ["primary", "backup"]
        stats = router.statistics()["routes"]["primary/gpt-realtime"]
        assert stats["failures"] == 3 and stats["breaker"] == "open"
        await _settled(upstream, before)


async def test_http_failures_open_the_circuit_for_sessions_of_the_same_route(
    autojump_clock: trio.testing.MockClock,
    upstream: Upstream,
) -> None:
    """A Responses-WS session and an HTTP Responses call to the same route share its health."""

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, json={"error": {"message": "down", "type": "server_error"}})

    breaker = BreakerPolicy(consecutive_failures=2, cooldown=30.0)
    router = _router(
        hosts=("primary",),
        retry=RetryPolicy(max_attempts=2, initial_delay=0.1),
        breaker=breaker,
        transport=httpx.MockTransport(answer),
    )
    body = {"model": "gpt-4.1-mini", "input": "hi"}
    async with router:
        with pytest.raises(errors.ProviderError):
            await router.complete(body, "responses")
        with pytest.raises(errors.NoRouteError, match="circuit open") as caught:
            async with router.realtime("gpt-4.1-mini", "responses-ws", connector=upstream.connect):
                pass  # pragma: no cover
        assert caught.value.retry_after == pytest.approx(30.0)  # opened by the last failure
        assert upstream.seen == []  # skipped: no socket was opened
        await trio.sleep(30.0)
        async with router.realtime(
            "gpt-4.1-mini", "responses-ws", connector=upstream.connect
        ) as s:  # the probe succeeds over the socket and closes the circuit for HTTP too
            assert s.route.alias == "primary"
        stats = router.statistics()["routes"]["primary/gpt-4.1-mini"]
        assert stats["breaker"] == "closed"


# --------------------------------------------------------------------------- session timeouts


async def test_idle_timeout_closes_a_silent_session_at_its_deadline(
    autojump_clock: trio.testing.MockClock,
    upstream: Upstream,
) -> None:
    options = RealtimeOptions(idle_timeout=5.0)
    async with _router(hosts=("primary",)) as router:
        before = _tasks()
        async with router.realtime(
            "gpt-realtime", "openai-realtime", options=options, connector=upstream.connect
        ) as s:
            await s.receive()
            started = trio.current_time()
            with pytest.raises(RealtimeSessionClosed, match="idle_timeout") as caught:
                await s.receive()
            assert trio.current_time() - started == pytest.approx(5.0)
        await _settled(upstream, before)
    assert caught.value.code == 1001
    assert upstream.closes == [(pytest.approx(started + 5.0), 1001)]  # the upstream was told


async def test_commit_timeout_bounds_each_attempt_and_abandons_its_socket(
    autojump_clock: trio.testing.MockClock,
    upstream: Upstream,
) -> None:
    upstream.script("primary", Upgrade(first=None), Upgrade(first=None))  # accept, say nothing
    options = RealtimeOptions(commit_timeout=3.0)
    retry = RetryPolicy(max_attempts=2, initial_delay=0.0, max_delay=0.0)
    async with _router(hosts=("primary",), retry=retry) as router:
        before = _tasks()
        start = trio.current_time()
        with pytest.raises(errors.NoRouteError, match=r"no first realtime event within 3\.0 s"):
            async with router.realtime(
                "gpt-realtime", "openai-realtime", options=options, connector=upstream.connect
            ):
                pass  # pragma: no cover
        assert trio.current_time() - start == pytest.approx(6.0)
        await _settled(upstream, before)
    assert [code for _, code in upstream.closes] == [1000, 1000]  # each attempt closed


async def test_session_timeout_ends_the_whole_session(
    autojump_clock: trio.testing.MockClock,
    upstream: Upstream,
) -> None:
    options = RealtimeOptions(session_timeout=20.0)
    async with _router(hosts=("primary",)) as router:
        before = _tasks()
        start = trio.current_time()
        with pytest.raises(errors.TimeoutError, match=r"session_timeout \(20.0 s\)"):
            async with router.realtime(
                "gpt-realtime", "openai-realtime", options=options, connector=upstream.connect
            ) as s:
                await s.receive()
                await trio.sleep(60.0)
        assert trio.current_time() - start == pytest.approx(20.0)
        await _settled(upstream, before)
    assert upstream.closes == [(pytest.approx(start + 20.0), 1001)]


# --------------------------------------------------------------------------- cancellation


@pytest.mark.parametrize("during", ["backoff", "commit"])
async def test_cancelling_an_opening_session_leaves_nothing_behind(
    autojump_clock: trio.testing.MockClock, upstream: Upstream, during: str
) -> None:
    if during == "backoff":  # refused, then waiting 30 s before the retry
        upstream.script("primary", Upgrade(503, (("retry-after", "30"),)))
    else:  # accepted, then waiting for a first event that never comes
        upstream.script("primary", Upgrade(first=None))
    async with _router(hosts=("primary",)) as router:
        before = _tasks()
        with trio.move_on_after(5.0) as scope:
            async with router.realtime(
                "gpt-realtime", "openai-realtime", connector=upstream.connect
            ):
                pass  # pragma: no cover
        assert scope.cancelled_caught
        await _settled(upstream, before)
        stats = router.statistics()
        assert stats["requests_in_flight"] == 0 and stats["attempts_in_flight"] == 0
    assert len(upstream.seen) == 1  # the retry never started
    if during == "commit":
        assert [code for _, code in upstream.closes] == [1000]  # the socket was closed


async def test_a_session_holds_its_concurrency_slot_until_it_ends(
    autojump_clock: trio.testing.MockClock, upstream: Upstream
) -> None:
    builder = Router.builder().add_provider(
        "primary", OpenAIProvider(base_url="https://primary.test/v1")
    )
    router = (
        builder.add_api_key("primary", "sk-primary")
        .add_model_route("gpt-realtime", "primary")
        .with_rate_limits(RateLimitPolicy(max_concurrency=1))
        .build()
    )
    opened_at: list[float] = []

    async def second() -> None:
        async with router.realtime(
            "gpt-realtime", "openai-realtime", connector=upstream.connect
        ) as s:
            await s.receive()
            opened_at.append(trio.current_time())

    async with router:
        before = _tasks()
        async with (
            trio.open_nursery() as nursery,
            router.realtime("gpt-realtime", "openai-realtime", connector=upstream.connect) as first,
        ):
            await first.receive()
            nursery.start_soon(second)
            await trio.sleep(10.0)
            assert opened_at == [] and len(upstream.seen) == 1  # waiting for the slot
            ended = trio.current_time()
        assert opened_at == [pytest.approx(ended)]  # opened once the first one ended
        await _settled(upstream, before)


async def test_several_frames_over_the_size_limit_end_the_session_with_1009(
    autojump_clock: trio.testing.MockClock, upstream: Upstream
) -> None:
    big = '{"type": "response.output_text.delta", "delta": "' + "x" * 1500 + '"}'
    upstream.script("primary", Upgrade(then=(big, big, big)))
    options = RealtimeOptions(max_message_size=1000)
    async with _router(hosts=("primary",)) as router:
        before = _tasks()
        async with router.realtime(
            "gpt-realtime", "openai-realtime", options=options, connector=upstream.connect
        ) as s:
            await s.receive()
            with pytest.raises(RealtimeSessionClosed, match="max_message_size") as caught:
                await s.receive()
        await _settled(upstream, before)
    assert caught.value.code == 1009
    assert [code for _, code in upstream.closes] == [1009]


async def test_the_callers_own_timeout_in_the_block_is_not_called_a_session_timeout(
    autojump_clock: trio.testing.MockClock, upstream: Upstream
) -> None:
    async with _router(hosts=("primary",)) as router:
        before = _tasks()
        with pytest.raises(trio.TooSlowError):
            async with router.realtime(
                "gpt-realtime", "openai-realtime", connector=upstream.connect
            ) as s:
                await s.receive()
                with trio.fail_after(5):
                    await trio.sleep_forever()  # the caller's deadline, not the session's
        await _settled(upstream, before)
