"""Retries, hedging, failover, timeouts, hooks and breakers through the whole Router.

Timing is tested in virtual time: a scripted upstream behind `httpx.MockTransport` sleeps on
Trio's clock and the `autojump_clock` fixture skips the waits, so "the hedge starts at 0.5 s"
is exact. Two tests at the end run over real loopback sockets against the fake provider and
check structure (journal, winner, disconnects), never durations.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import pytest
import trio
from trio.testing import MockClock

from llm_router import OpenAIProvider, ProviderFormat, Router, errors
from llm_router.resilience import (
    AttemptKind,
    AttemptOutcome,
    AttemptRecord,
    BreakerPolicy,
    HedgePolicy,
    Hooks,
    RetryPolicy,
    TimeoutPolicy,
)
from llm_router_testing.fake import FAKE_KEYS, FakeProvider

MODEL = "house-model"
WIRE_MODEL = "gpt-4o-mini"
CANARY = "sk-canary-5f0c1e9b7d"
CHAT = {"model": MODEL, "messages": [{"role": "user", "content": "ping"}]}
STREAM_CHAT = dict(CHAT, stream=True)
WON = AttemptOutcome.WON
LOSER = AttemptOutcome.CANCELLED_HEDGE_LOSER
#: One hedge per request is affordable, so every single call may hedge.
HEDGE = HedgePolicy(delay=0.5, max_extra_load=1.0)


# --------------------------------------------------------------------------- scripted upstream


@dataclass(frozen=True)
class Reply:
    """One scripted answer: wait `delay`, then the status line; streams add `gap` per event.

    `drop_after` cuts a stream after that many events (a lost connection); `connect_error`
    fails the request as an unreachable host would.
    """

    delay: float = 0.0
    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    error: Mapping[str, Any] | None = None
    events: int = 3
    gap: float = 0.0
    drop_after: int | None = None
    connect_error: bool = False


@dataclass
class Seen:
    """One request as the scripted upstream saw it (times on Trio's clock)."""

    host: str
    number: int
    started: float
    authorization: str
    cancelled: bool = False
    closed: bool = False
    events_sent: int = 0


def _chunk(text: str | None, finish: str | None = None) -> bytes:
    delta = {} if text is None else {"content": text}
    choice = {"index": 0, "delta": delta, "finish_reason": finish}
    chunk = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": WIRE_MODEL,
        "choices": [choice],
    }
    return b"data: " + orjson.dumps(chunk) + b"\n\n"


def _answer(host: str) -> bytes:
    message = {"role": "assistant", "content": f"answer from {host}"}
    return orjson.dumps(
        {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 1,
            "model": WIRE_MODEL,
            "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 3, "total_tokens": 4},
        }
    )


class ScriptedEvents(httpx.AsyncByteStream):
    """An SSE body whose events arrive `gap` seconds apart; records cancellation and closing."""

    def __init__(self, reply: Reply, seen: Seen) -> None:
        self._reply = reply
        self._seen = seen

    async def __aiter__(self) -> AsyncIterator[bytes]:
        reply, seen = self._reply, self._seen
        chunks = [_chunk(f"{seen.host}-{i} ") for i in range(reply.events)]
        chunks += [_chunk(None, "stop"), b"data: [DONE]\n\n"]
        for index, chunk in enumerate(chunks):
            if reply.drop_after is not None and index == reply.drop_after:
                raise httpx.ReadError("connection reset by peer")
            if index:
                await _observed_sleep(reply.gap, seen)
            seen.events_sent += 1
            yield chunk

    async def aclose(self) -> None:
        self._seen.closed = True


async def _observed_sleep(seconds: float, seen: Seen) -> None:
    try:
        await trio.sleep(seconds)
    except trio.Cancelled:
        seen.cancelled = True
        raise


class Upstream:
    """Per-host scripts of `Reply`s (the last one repeats), served through MockTransport."""

    def __init__(self, **scripts: Sequence[Reply]) -> None:
        self.scripts = {host: list(replies) for host, replies in scripts.items()}
        self.seen: list[Seen] = []

    def hosts(self) -> list[str]:
        return [s.host for s in self.seen]

    def by_host(self, host: str) -> list[Seen]:
        return [s for s in self.seen if s.host == host]

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host.removesuffix(".test")
        script = self.scripts[host]
        reply = script.pop(0) if len(script) > 1 else script[0]
        seen = Seen(
            host,
            len(self.seen) + 1,
            trio.current_time(),
            request.headers.get("authorization", ""),
        )
        self.seen.append(seen)
        await _observed_sleep(reply.delay, seen)
        if reply.connect_error:
            raise httpx.ConnectError("connection refused")
        if reply.status >= 400:
            error = reply.error or {"message": f"scripted {reply.status}", "type": "server_error"}
            return httpx.Response(reply.status, headers=reply.headers, json={"error": error})
        if orjson.loads(request.content).get("stream"):
            headers = {"content-type": "text/event-stream"}
            return httpx.Response(200, headers=headers, stream=ScriptedEvents(reply, seen))
        return httpx.Response(
            200, content=_answer(host), headers={"content-type": "application/json"}
        )


def build(
    upstream: Upstream,
    *,
    retry: RetryPolicy | None = None,
    hedge: HedgePolicy | None = None,
    timeouts: TimeoutPolicy | None = None,
    breaker: BreakerPolicy | None = None,
    hooks: Hooks | None = None,
) -> Router:
    """A router with one OpenAI-style provider alias per scripted host, tried in that order."""
    builder = Router.builder().with_transport(httpx.MockTransport(upstream))
    for host in upstream.scripts:
        builder.add_provider(host, OpenAIProvider(base_url=f"http://{host}.test/v1"))
        builder.add_api_key(host, CANARY)
        builder.add_model_route(MODEL, host, WIRE_MODEL)
    builder.with_retry_policy(retry or RetryPolicy(max_attempts=3, initial_delay=0.1))
    builder.with_hedge_policy(hedge)
    builder.with_circuit_breaker(breaker)
    if timeouts is not None:
        builder.with_timeouts(timeouts)
    if hooks is not None:
        builder.with_hooks(hooks)
    return builder.build()


def summary(attempts: Sequence[AttemptRecord]) -> list[tuple[str, AttemptKind, AttemptOutcome]]:
    return [(a.route.split("/")[0], a.kind, a.outcome) for a in attempts]


def content(body: bytes) -> str:
    text: str = orjson.loads(body)["choices"][0]["message"]["content"]
    return text


# ------------------------------------------------------------------------------------ retries


async def test_429_is_retried_after_the_requested_wait(autojump_clock: MockClock) -> None:
    upstream = Upstream(a=[Reply(status=429, headers={"retry-after": "2"}), Reply()])
    async with build(upstream) as router:
        result = await router.complete(CHAT, "openai")
    assert content(result.body) == "answer from a"
    assert summary(result.attempts) == [
        ("a", AttemptKind.FIRST, AttemptOutcome.RETRIED),
        ("a", AttemptKind.RETRY, WON),
    ]
    assert result.attempts[0].status == 429
    # The retry-after header (2 s) replaced the 0.1 s backoff, to the virtual microsecond.
    assert result.attempts[1].offset == pytest.approx(2.0)
    assert result.latency == pytest.approx(2.0)
    assert [s.started for s in upstream.seen] == pytest.approx([0.0, 2.0], abs=1e-9)


async def test_retry_after_beyond_the_cap_fails_fast_with_the_wait(
    autojump_clock: MockClock,
) -> None:
    upstream = Upstream(a=[Reply(status=429, headers={"retry-after": "120"})])
    started = trio.current_time()
    async with build(upstream, retry=RetryPolicy(max_retry_after=30)) as router:
        with pytest.raises(errors.RateLimitError) as info:
            await router.complete(CHAT, "openai")
    assert info.value.retry_after == 120
    assert len(upstream.seen) == 1
    assert trio.current_time() - started == pytest.approx(0.0)


async def test_400_is_neither_retried_nor_failed_over(autojump_clock: MockClock) -> None:
    bad = {"message": "messages: field required", "type": "invalid_request_error"}
    upstream = Upstream(a=[Reply(status=400, error=bad)], b=[Reply()])
    async with build(upstream) as router:
        with pytest.raises(errors.InvalidRequestError) as info:
            await router.complete(CHAT, "openai")
    assert info.value.status == 400
    assert "messages: field required" in str(info.value)
    assert upstream.hosts() == ["a"]


async def test_503s_fail_over_to_the_second_provider(autojump_clock: MockClock) -> None:
    upstream = Upstream(a=[Reply(status=503)], b=[Reply()])
    async with build(upstream, retry=RetryPolicy(max_attempts=2, initial_delay=0.1)) as router:
        result = await router.complete(CHAT, "openai")
    assert (result.provider, content(result.body)) == ("b", "answer from b")
    assert summary(result.attempts) == [
        ("a", AttemptKind.FIRST, AttemptOutcome.RETRIED),
        ("a", AttemptKind.RETRY, AttemptOutcome.FAILED_OVER),
        ("b", AttemptKind.FAILOVER, WON),
    ]
    assert [a.status for a in result.attempts] == [503, 503, None]
    assert upstream.hosts() == ["a", "a", "b"]
    assert result.latency <= 0.1  # one full-jitter backoff of at most 0.1 s, then no wait


async def test_model_not_found_fails_over_without_retrying(autojump_clock: MockClock) -> None:
    missing = {
        "message": "The model `gpt-4o-mini` does not exist",
        "type": "invalid_request_error",
        "code": "model_not_found",
    }
    upstream = Upstream(a=[Reply(status=404, error=missing)], b=[Reply()])
    async with build(upstream) as router:
        result = await router.complete(CHAT, "openai")
    assert result.provider == "b"
    assert summary(result.attempts) == [
        ("a", AttemptKind.FIRST, AttemptOutcome.FAILED_OVER),
        ("b", AttemptKind.FAILOVER, WON),
    ]
    assert result.latency == 0.0  # failover does not back off


# ------------------------------------------------------------------------------------ hedging


async def test_a_slow_attempt_is_hedged_and_the_loser_cancelled(autojump_clock: MockClock) -> None:
    upstream = Upstream(a=[Reply(delay=5.0)], b=[Reply(delay=0.2)])
    async with build(upstream, hedge=HEDGE) as router:
        result = await router.complete(CHAT, "openai")
        stats = router.statistics()
    assert (result.provider, content(result.body)) == ("b", "answer from b")
    assert result.latency == pytest.approx(0.7)
    assert summary(result.attempts) == [
        ("a", AttemptKind.FIRST, LOSER),
        ("b", AttemptKind.HEDGE, WON),
    ]
    assert result.attempts[1].offset == pytest.approx(0.5)
    loser, winner = upstream.seen
    assert loser.cancelled and not winner.cancelled
    assert stats["routes"][f"b/{WIRE_MODEL}"]["hedges_won"] == 1
    assert stats["calls_in_flight"] == 0


async def test_the_first_attempt_can_win_after_the_hedge_started(
    autojump_clock: MockClock,
) -> None:
    upstream = Upstream(a=[Reply(delay=0.8)], b=[Reply(delay=5.0)])
    async with build(upstream, hedge=HEDGE) as router:
        result = await router.complete(CHAT, "openai")
        hedger = router._config.executor.hedger
        assert hedger is not None
        hedging = hedger.statistics()
    assert (result.provider, result.latency) == ("a", pytest.approx(0.8))
    assert summary(result.attempts) == [
        ("a", AttemptKind.FIRST, WON),
        ("b", AttemptKind.HEDGE, LOSER),
    ]
    winner, loser = upstream.seen
    assert loser.cancelled and not winner.cancelled
    # One race started in the router's hedger, and it ended with the call.
    assert hedging == {"armed": 0, "racing": 0, "races": 1}


async def test_adaptive_hedge_delay_follows_the_routes_latency(autojump_clock: MockClock) -> None:
    hedge = HedgePolicy(percentile=95, min_samples=20, initial_delay=2.0, max_extra_load=1.0)
    warm_up = [Reply(delay=0.1)] * 24
    upstream = Upstream(a=[Reply(delay=9.0), *warm_up, Reply(delay=9.0)], b=[Reply(delay=0.05)])
    async with build(upstream, hedge=hedge) as router:
        cold = await router.complete(CHAT, "openai")
        for _ in warm_up:
            assert (await router.complete(CHAT, "openai")).provider == "a"
        warm = await router.complete(CHAT, "openai")
    # Too few samples: the initial delay. Then the route's p95 (0.1 s) of 25 samples.
    assert cold.provider == warm.provider == "b"
    assert cold.attempts[1].kind is AttemptKind.HEDGE
    assert cold.attempts[1].offset == pytest.approx(2.0)
    assert warm.attempts[1].offset == pytest.approx(0.1)
    assert warm.latency == pytest.approx(0.15)


async def test_a_hedged_stream_keeps_the_first_stream_to_send_an_event(
    autojump_clock: MockClock,
) -> None:
    upstream = Upstream(a=[Reply(delay=5.0)], b=[Reply(delay=0.1)])
    async with (
        build(upstream, hedge=HEDGE) as router,
        router.stream(STREAM_CHAT, "openai") as events,
    ):
        received = [e async for e in events]
        assert events.provider == "b"
        assert summary(events.attempts) == [
            ("a", AttemptKind.FIRST, LOSER),
            ("b", AttemptKind.HEDGE, WON),
        ]
    assert received[0].data.startswith(b'{"id"') and b"b-0" in received[0].data
    assert received[-1].data == b"[DONE]"
    assert upstream.seen[0].cancelled and upstream.seen[1].closed


# ----------------------------------------------------------------------------------- timeouts


async def test_the_overall_deadline_raises_timeout_error(autojump_clock: MockClock) -> None:
    upstream = Upstream(a=[Reply(delay=60.0)])
    started = trio.current_time()
    async with build(upstream, timeouts=TimeoutPolicy(total=3.0)) as router:
        with pytest.raises(errors.TimeoutError) as info:
            await router.complete(CHAT, "openai")
    assert trio.current_time() - started == pytest.approx(3.0)
    assert "3 s overall deadline" in str(info.value)
    assert upstream.seen[0].cancelled


async def test_the_first_byte_timeout_retries_a_silent_attempt(autojump_clock: MockClock) -> None:
    upstream = Upstream(a=[Reply(delay=60.0), Reply(delay=0.5)])
    retry = RetryPolicy(max_attempts=2, initial_delay=0.0, max_delay=0.0)
    timeouts = TimeoutPolicy(first_byte=2.0)
    async with build(upstream, retry=retry, timeouts=timeouts) as router:
        result = await router.complete(CHAT, "openai")
    assert result.latency == pytest.approx(2.5)
    assert [a.error for a in result.attempts] == ["TimeoutError", None]
    assert upstream.seen[0].cancelled


async def test_the_idle_timeout_between_stream_events(autojump_clock: MockClock) -> None:
    upstream = Upstream(a=[Reply(gap=30.0)])
    async with build(upstream, timeouts=TimeoutPolicy(idle=1.0)) as router:
        async with router.stream(STREAM_CHAT, "openai") as events:
            await events.__anext__()
            waited_from = trio.current_time()
            with pytest.raises(errors.TimeoutError) as info:
                await events.__anext__()
            assert trio.current_time() - waited_from == pytest.approx(1.0)
        assert router.statistics()["open_streams"] == 0
    assert "idle timeout" in str(info.value) and "after 1 events" in str(info.value)
    assert upstream.seen[0].cancelled and upstream.seen[0].closed


# ------------------------------------------------------------------------------------ streams


async def test_a_committed_stream_failure_is_typed_and_never_retried(
    autojump_clock: MockClock,
) -> None:
    upstream = Upstream(a=[Reply(drop_after=2, gap=0.1)], b=[Reply()])
    received: list[bytes] = []
    async with build(upstream, hedge=HEDGE) as router:
        with pytest.raises(errors.StreamError) as info:
            async with router.stream(STREAM_CHAT, "openai") as events:
                async for event in events:
                    received.append(event.data)
    assert len(received) == upstream.seen[0].events_sent == 2
    assert isinstance(info.value, errors.ProviderError) and info.value.provider == "a"
    assert "after 2 events" in str(info.value)
    assert upstream.hosts() == ["a"]  # neither retried nor failed over once committed


async def test_a_stream_lost_before_its_first_event_is_retried(autojump_clock: MockClock) -> None:
    upstream = Upstream(a=[Reply(drop_after=0), Reply()])
    async with build(upstream) as router, router.stream(STREAM_CHAT, "openai") as events:
        received = [e async for e in events]
    assert received[-1].data == b"[DONE]"
    assert upstream.hosts() == ["a", "a"]


# ------------------------------------------------------------------------------ hooks, breaker


async def test_hooks_see_every_attempt_and_never_the_key(autojump_clock: MockClock) -> None:
    records: list[object] = []
    hooks = Hooks(
        on_request_start=records.append,
        on_attempt_start=records.append,
        on_attempt_end=records.append,
        on_request_end=records.append,
    )
    denied = {"message": "Incorrect API key provided: sk-can***9b7d", "type": "invalid_api_key"}
    upstream = Upstream(
        a=[Reply(status=429, headers={"retry-after": "1"}), Reply(connect_error=True)],
        b=[Reply(status=401, error=denied)],
        c=[Reply(delay=5.0), Reply(delay=0.1)],
    )
    retry = RetryPolicy(max_attempts=2, initial_delay=0.1)
    async with build(upstream, retry=retry, hedge=HEDGE, hooks=hooks) as router:
        await router.complete(CHAT, "openai")
        async with router.stream(STREAM_CHAT, "openai") as events:
            _ = [e async for e in events]
    assert all(s.authorization == f"Bearer {CANARY}" for s in upstream.seen)  # the key was sent
    kinds = {type(r).__name__ for r in records}
    assert kinds == {"RequestStarted", "AttemptStarted", "AttemptRecord", "RequestFinished"}
    ends = [r for r in records if isinstance(r, AttemptRecord)]
    assert {r.status for r in ends} >= {429, 401}
    assert {r.error for r in ends} >= {"RateLimitError", "ConnectError", "AuthenticationError"}
    for record in records:
        assert CANARY not in repr(record)
        assert CANARY[3:] not in repr(record)


async def test_an_open_circuit_skips_the_route(autojump_clock: MockClock) -> None:
    upstream = Upstream(a=[Reply(status=503)], b=[Reply()])
    breaker = BreakerPolicy(consecutive_failures=2, cooldown=30.0)
    async with build(upstream, retry=RetryPolicy(max_attempts=1), breaker=breaker) as router:
        for _ in range(2):
            assert (await router.complete(CHAT, "openai")).provider == "b"
        assert router.statistics()["routes"][f"a/{WIRE_MODEL}"]["breaker"] == "open"
        skipped = await router.complete(CHAT, "openai")
        await trio.sleep(30.0)
        probed = await router.complete(CHAT, "openai")
    assert upstream.hosts() == ["a", "b", "a", "b", "b", "a", "b"]
    assert summary(skipped.attempts) == [("b", AttemptKind.FIRST, WON)]
    assert [a.route.split("/")[0] for a in probed.attempts] == ["a", "b"]


async def test_every_route_skipped_is_a_no_route_error(autojump_clock: MockClock) -> None:
    upstream = Upstream(a=[Reply(status=503)])
    breaker = BreakerPolicy(consecutive_failures=1, cooldown=30.0)
    async with build(upstream, retry=RetryPolicy(max_attempts=1), breaker=breaker) as router:
        with pytest.raises(errors.OverloadedError):
            await router.complete(CHAT, "openai")
        with pytest.raises(errors.NoRouteError) as info:
            await router.complete(CHAT, "openai")
    assert "circuit open" in str(info.value)
    assert len(upstream.seen) == 1


# ------------------------------------------------------------------- real sockets, fake server


def fake_router(fake: FakeProvider, *, aliases: Sequence[str], hedge: HedgePolicy | None) -> Router:
    builder = Router.builder().forward_headers("x-fake-")
    for alias in aliases:
        builder.add_provider(alias, OpenAIProvider(base_url=fake.url + "/v1"))
        builder.add_api_key(alias, FAKE_KEYS["openai"])
        builder.add_model_route(MODEL, alias, WIRE_MODEL)
    builder.with_retry_policy(RetryPolicy(max_attempts=3, initial_delay=0.01, max_delay=0.01))
    return builder.with_hedge_policy(hedge).build()


async def test_fail_times_is_retried_until_the_third_attempt(fake: FakeProvider) -> None:
    faults = {"x-fake-fail-times": "2", "x-fake-request-id": "call-1"}
    async with fake_router(fake, aliases=["openai"], hedge=None) as router:
        result = await router.complete(CHAT, ProviderFormat.OPENAI, headers=faults)
    assert content(result.body) == "You said: ping"
    assert [a.outcome for a in result.attempts] == [
        AttemptOutcome.RETRIED,
        AttemptOutcome.RETRIED,
        WON,
    ]
    assert [a.status for a in result.attempts] == [500, 500, None]
    assert [(e.attempt, e.status) for e in fake.journal] == [(1, 500), (2, 500), (3, 200)]
    assert {e.headers["x-fake-request-id"] for e in fake.journal} == {"call-1"}


async def test_a_fake_stream_cut_mid_way_is_a_stream_error(fake: FakeProvider) -> None:
    received: list[bytes] = []
    async with fake_router(fake, aliases=["primary", "secondary"], hedge=None) as router:
        with pytest.raises(errors.StreamError) as info:
            cut = {"x-fake-drop-after-events": "2"}
            async with router.stream(STREAM_CHAT, "openai", headers=cut) as events:
                async for event in events:
                    received.append(event.data)
    assert len(received) == 2 and info.value.provider == "primary"
    assert [(e.events_sent, e.disconnected) for e in fake.journal] == [(2, False)]


async def test_a_hedged_stream_over_two_aliases_disconnects_the_loser(fake: FakeProvider) -> None:
    fake.set_scenario({"rules": [{"match": {}, "ttfb": "5s", "times": 1}]})
    hedge = HedgePolicy(delay=0.1, max_extra_load=1.0)
    async with fake_router(fake, aliases=["primary", "secondary"], hedge=hedge) as router:
        with trio.fail_after(5):
            async with router.stream(STREAM_CHAT, "openai") as events:
                received = [e async for e in events]
                assert events.provider == "secondary"
                assert summary(events.attempts) == [
                    ("primary", AttemptKind.FIRST, LOSER),
                    ("secondary", AttemptKind.HEDGE, WON),
                ]
            loser = await fake.journal.wait_for_disconnect()
            winner = await fake.journal.wait_for(lambda entry: entry is not loser and entry.done)
        assert router.statistics()["pool"]["in_use"] == 0
    assert loser is fake.journal[0] and loser.events_sent == 0
    assert not winner.disconnected and winner.events_sent == len(received)
    assert received[-1].data == b"[DONE]"


async def test_a_fresh_router_hedges_its_first_call_with_one_attempt_per_route(
    fake: FakeProvider,
) -> None:
    # As the README configures it: default extra-load budget, no retries, one route.
    fake.set_scenario({"rules": [{"match": {}, "ttfb": "5s", "times": 1}]})
    router = (
        Router.builder()
        .add_provider("openai", OpenAIProvider(base_url=fake.url + "/v1"))
        .add_api_key("openai", FAKE_KEYS["openai"])
        .add_model_route(MODEL, "openai", WIRE_MODEL)
        .with_retry_policy(RetryPolicy(max_attempts=1))
        .with_hedge_policy(HedgePolicy(delay=0.1))
        .build()
    )
    async with router:
        with trio.fail_after(5):
            result = await router.complete(CHAT, ProviderFormat.OPENAI)
            loser = await fake.journal.wait_for_disconnect()
        assert router.statistics()["pool"]["in_use"] == 0
    assert content(result.body) == "You said: ping"
    assert summary(result.attempts) == [
        ("openai", AttemptKind.FIRST, LOSER),
        ("openai", AttemptKind.HEDGE, WON),
    ]
    assert loser is fake.journal[0]
