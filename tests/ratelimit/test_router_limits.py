"""Rate limits, strategies and shared circuits through the whole Router, in virtual time.

A scripted upstream behind `httpx.MockTransport` answers on Trio's clock and the
`autojump_clock` fixture skips the waits, so "the third call is sent at t=10" is exact.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import httpx
import orjson
import pytest
import trio
from trio.testing import MockClock

from llm_router import OpenAIProvider, Router, errors
from llm_router.catalog import Catalog
from llm_router.ratelimit import RateLimitPolicy
from llm_router.resilience import BreakerPolicy, RetryPolicy, TimeoutPolicy
from llm_router.state import MemoryState, SharedState

MODEL = "house-model"
CHAT = {"model": MODEL, "messages": [{"role": "user", "content": "ping"}]}
KEY = "sk-test-key-0123456789"


@dataclass
class Reply:
    delay: float = 0.0
    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    total_tokens: int = 4


@dataclass
class Upstream:
    scripts: dict[str, list[Reply]]
    seen: list[tuple[str, float]] = field(default_factory=list)  # (host, arrival time)

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host.removesuffix(".test")
        script = self.scripts[host]
        reply = script.pop(0) if len(script) > 1 else script[0]
        self.seen.append((host, trio.current_time()))
        await trio.sleep(reply.delay)
        if reply.status >= 400:
            return httpx.Response(
                reply.status, headers=reply.headers, json={"error": {"message": "no"}}
            )
        body = {
            "id": "c1",
            "object": "chat.completion",
            "created": 1,
            "model": "m",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": host},
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": 1,
                "completion_tokens": 3,
                "total_tokens": reply.total_tokens,
            },
        }
        return httpx.Response(200, headers=reply.headers, content=orjson.dumps(body))

    def hosts(self) -> list[str]:
        return [host for host, _ in self.seen]

    def times(self) -> list[float]:
        return [at for _, at in self.seen]


def build(
    upstream: Upstream,
    *limits: tuple[RateLimitPolicy, str, str | None],
    state: SharedState | None = None,
    strategy: str | None = None,
    timeouts: TimeoutPolicy | None = None,
    breaker: BreakerPolicy | None = None,
    catalog: Catalog | None = None,
    retry: RetryPolicy | None = None,
) -> Router:
    builder = Router.builder().with_transport(httpx.MockTransport(upstream))
    for host in upstream.scripts:
        builder.add_provider(host, OpenAIProvider(base_url=f"http://{host}.test/v1"))
        builder.add_api_key(host, KEY)
        if catalog is None:
            builder.add_model_route(MODEL, host, "gpt-4o-mini")
    if catalog is not None:
        builder.with_catalog(catalog)
    for policy, scope, match in limits:
        builder.with_rate_limits(policy, scope=scope, match=match)
    if state is not None:
        builder.with_shared_state(state)
    if strategy is not None:
        builder.with_strategy(strategy)
    builder.with_retry_policy(retry or RetryPolicy(max_attempts=1))
    builder.with_circuit_breaker(breaker)
    if timeouts is not None:
        builder.with_timeouts(timeouts)
    return builder.build()


def route_limit(match: str | None = None, **kw: object) -> tuple[RateLimitPolicy, str, str | None]:
    return RateLimitPolicy(**kw), "route", match  # type: ignore[arg-type]


async def test_a_route_at_its_limit_is_skipped_then_fail_raises_at_once(
    autojump_clock: MockClock,
) -> None:
    upstream = Upstream({"a": [Reply()], "b": [Reply()]})
    router = build(upstream, route_limit(rpm=1, on_limit="fail"))
    async with router:
        first = await router.complete(CHAT, "openai")
        second = await router.complete(CHAT, "openai")
        assert (first.provider, second.provider) == ("a", "b")
        with pytest.raises(errors.RateLimitError) as caught:
            await router.complete(CHAT, "openai")
    assert isinstance(caught.value, errors.LocalRateLimitError)
    assert caught.value.retry_after == pytest.approx(60.0)
    assert "retry in 60 s" in str(caught.value)
    assert trio.current_time() == 0.0  # refused at once
    assert upstream.hosts() == ["a", "b"]  # the refused call sent nothing


async def test_waiting_calls_go_in_arrival_order_exactly_when_the_window_frees(
    autojump_clock: MockClock,
) -> None:
    upstream = Upstream({"a": [Reply()]})
    router = build(upstream, route_limit(rpm=2, period=10.0))
    finished: list[int] = []

    async def call(number: int) -> None:
        await trio.sleep(number * 0.001)  # arrive in order
        await router.complete(CHAT, "openai")
        finished.append(number)

    async with router, trio.open_nursery() as nursery:
        for number in range(5):
            nursery.start_soon(call, number)
    assert finished == [0, 1, 2, 3, 4]
    assert upstream.times() == pytest.approx([0.0, 0.001, 10.0, 10.001, 20.0])


async def test_a_wait_past_the_deadline_fails_at_once(autojump_clock: MockClock) -> None:
    upstream = Upstream({"a": [Reply()]})
    router = build(upstream, route_limit(rpm=1, period=10.0), timeouts=TimeoutPolicy(total=5.0))
    async with router:
        await router.complete(CHAT, "openai")
        with pytest.raises(errors.RateLimitError, match="deadline") as caught:
            await router.complete(CHAT, "openai")
    assert caught.value.retry_after == pytest.approx(10.0)
    assert trio.current_time() == 0.0


async def test_the_wait_queue_is_bounded(autojump_clock: MockClock) -> None:
    upstream = Upstream({"a": [Reply()]})
    router = build(upstream, route_limit(rpm=1, period=10.0, max_queue=1))
    outcomes: list[str] = []

    async def call() -> None:
        try:
            await router.complete(CHAT, "openai")
            outcomes.append("ok")
        except errors.RateLimitError as exc:
            outcomes.append(f"refused: {exc}")

    async with router, trio.open_nursery() as nursery:
        for _ in range(3):
            nursery.start_soon(call)
            await trio.sleep(0.001)
    assert outcomes[0] == "ok" and outcomes[-1] == "ok"
    assert "queue is full" in outcomes[1]


async def test_429_retry_after_holds_the_route(autojump_clock: MockClock) -> None:
    upstream = Upstream({"a": [Reply(status=429, headers={"retry-after": "30"}), Reply()]})
    router = build(upstream, route_limit(rpm=1000))
    async with router:
        with pytest.raises(errors.RateLimitError):
            await router.complete(CHAT, "openai")
        await router.complete(CHAT, "openai")  # waits out the provider's retry-after
    assert upstream.times() == [0.0, pytest.approx(30.0)]


async def test_remaining_headers_stop_sending_before_the_provider_refuses(
    autojump_clock: MockClock,
) -> None:
    exhausted = {"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "5s"}
    upstream = Upstream({"a": [Reply(headers=exhausted)], "b": [Reply()]})
    router = build(upstream, route_limit(match="a", rpm=1000))
    async with router:
        await router.complete(CHAT, "openai")
        second = await router.complete(CHAT, "openai")
        assert second.provider == "b"  # a said it has nothing left until t=5
        await trio.sleep(5)
        third = await router.complete(CHAT, "openai")
    assert third.provider == "a"


async def test_tokens_are_admitted_on_the_estimate_and_corrected_by_usage(
    autojump_clock: MockClock,
) -> None:
    upstream = Upstream({"a": [Reply(total_tokens=10)]})
    router = build(upstream, route_limit(tpm=400, period=10.0))
    body = dict(CHAT, max_tokens=300)  # estimate: ~20 input + 300 output
    async with router:
        await router.complete(body, "openai")
        await router.complete(body, "openai")  # fits only because the first really used 10
        await router.complete(body, "openai")  # 10 + 10 + ~320 > 400? no: 340 fits
        await router.complete(body, "openai")  # 10 * 3 + 320 = 350 fits
        before = trio.current_time()
    assert before == 0.0
    assert len(upstream.seen) == 4


async def test_concurrency_limit_holds_the_next_call_until_one_ends(
    autojump_clock: MockClock,
) -> None:
    upstream = Upstream({"a": [Reply(delay=3.0), Reply()]})
    router = build(upstream, route_limit(max_concurrency=1))
    async with router, trio.open_nursery() as nursery:
        nursery.start_soon(router.complete, CHAT, "openai")
        await trio.sleep(0.001)
        await router.complete(CHAT, "openai")
    assert upstream.times() == [0.0, pytest.approx(3.0)]


async def test_per_key_limits_are_separate_and_never_store_the_key(
    autojump_clock: MockClock,
) -> None:
    upstream = Upstream({"a": [Reply()]})
    state = MemoryState()
    router = build(upstream, (RateLimitPolicy(rpm=1, on_limit="fail"), "key", None), state=state)
    async with router:
        await router.complete(CHAT, "openai", caller="sk-alice-secret")
        await router.complete(CHAT, "openai", caller="sk-bob-secret")
        with pytest.raises(errors.RateLimitError) as caught:
            await router.complete(CHAT, "openai", caller="sk-alice-secret")
    assert "sk-alice" not in str(caught.value)
    assert not any("secret" in key for key in state._scopes)


async def test_a_circuit_opened_by_one_router_is_open_in_another(
    autojump_clock: MockClock,
) -> None:
    state = MemoryState()
    breaker = BreakerPolicy(consecutive_failures=2, cooldown=30.0)
    one = Upstream({"a": [Reply(status=503)], "b": [Reply()]})
    two = Upstream({"a": [Reply()], "b": [Reply()]})
    router_one = build(one, state=state, breaker=breaker)
    router_two = build(two, state=state, breaker=breaker)
    async with router_one, router_two:
        for _ in range(2):
            assert (await router_one.complete(CHAT, "openai")).provider == "b"
        assert router_one.statistics()["routes"]["a/gpt-4o-mini"]["breaker"] == "open"
        result = await router_two.complete(CHAT, "openai")
        assert result.provider == "b"
        assert two.hosts() == ["b"]  # router two never tried the route router one saw fail
        assert router_two.statistics()["routes"]["a/gpt-4o-mini"]["breaker"] == "open"
        await trio.sleep(30)
        assert (await router_two.complete(CHAT, "openai")).provider == "a"


# -- strategies --------------------------------------------------------------------------------


async def test_latency_strategy_prefers_the_fast_route(autojump_clock: MockClock) -> None:
    upstream = Upstream({"slow": [Reply(delay=2.0)], "fast": [Reply(delay=0.1)]})
    router = build(upstream, strategy="latency")
    router._config.executor._rng.seed(7)
    async with router:
        for _ in range(30):
            await router.complete(CHAT, "openai")
    hosts = upstream.hosts()
    # Both are measured first, then the fast one serves nearly all (exploration ~10%).
    assert set(hosts[:2]) == {"slow", "fast"}
    assert hosts[2:].count("fast") >= 22


async def test_least_busy_strategy_spreads_concurrent_calls(autojump_clock: MockClock) -> None:
    upstream = Upstream({"a": [Reply(delay=1.0)], "b": [Reply(delay=1.0)], "c": [Reply(delay=1.0)]})
    router = build(upstream, strategy="least-busy")
    async with router, trio.open_nursery() as nursery:
        for _ in range(6):
            nursery.start_soon(router.complete, CHAT, "openai")
            await trio.sleep(0.01)
    assert sorted(upstream.hosts()) == ["a", "a", "b", "b", "c", "c"]


async def test_cost_strategy_sends_to_the_cheapest_route(autojump_clock: MockClock) -> None:
    catalog = Catalog.from_mapping(
        {
            "premium": {
                "format": "openai",
                "available_providers": ["dear"],
                "fallback_models": ["budget"],
                "input_cost_per_mil_tokens": 10.0,
                "output_cost_per_mil_tokens": 30.0,
            },
            "budget": {
                "format": "openai",
                "available_providers": ["cheap"],
                "input_cost_per_mil_tokens": 0.1,
                "output_cost_per_mil_tokens": 0.4,
            },
        }
    )
    upstream = Upstream({"dear": [Reply()], "cheap": [Reply(status=503), Reply()]})
    router = build(upstream, strategy="cost", catalog=catalog)
    async with router:
        body = {"model": "premium", "messages": [{"role": "user", "content": "hi"}]}
        first = await router.complete(body, "openai")  # cheap fails: failover to dear
        second = await router.complete(body, "openai")
    assert upstream.hosts() == ["cheap", "dear", "cheap"]
    assert (first.provider, second.provider) == ("dear", "cheap")


async def test_usage_strategy_prefers_headroom(autojump_clock: MockClock) -> None:
    upstream = Upstream({"a": [Reply()], "b": [Reply()]})
    router = build(upstream, route_limit("a", rpm=10), route_limit("b", rpm=4), strategy="usage")
    async with router:
        for _ in range(6):
            await router.complete(CHAT, "openai")
    # Each call goes where the larger fraction of the limit is free.
    assert upstream.hosts().count("a") == 4 and upstream.hosts().count("b") == 2


def test_builder_reports_bad_limits_and_strategies() -> None:
    builder = (
        Router.builder()
        .add_provider("a", OpenAIProvider(base_url="http://a.test/v1"))
        .add_api_key("a", KEY)
        .with_rate_limits(RateLimitPolicy(rpm=1), scope="planet")
        .with_strategy("fastest")
        .with_shared_state("redis://localhost")  # type: ignore[arg-type]
    )
    with pytest.raises(errors.ConfigurationError) as caught:
        builder.build()
    text = str(caught.value)
    assert "scope must be" in text and "unknown routing strategy 'fastest'" in text
    assert "with_shared_state" in text


async def test_a_retry_budget_drained_by_one_router_stops_retries_in_another(
    autojump_clock: MockClock,
) -> None:
    from llm_router.resilience import BudgetPolicy

    state = MemoryState()
    failing = [Reply(status=503)]
    one = Upstream({"a": failing, "b": [Reply()]})
    two = Upstream({"a": [Reply(status=503), Reply()], "b": [Reply()]})
    retry = RetryPolicy(max_attempts=2, initial_delay=0.1)
    budget = BudgetPolicy(max_tokens=4, token_ratio=0.1)

    def make(upstream: Upstream) -> Router:
        builder = Router.builder().with_transport(httpx.MockTransport(upstream))
        for host in upstream.scripts:
            builder.add_provider(host, OpenAIProvider(base_url=f"http://{host}.test/v1"))
            builder.add_api_key(host, KEY)
            builder.add_model_route(MODEL, host, "gpt-4o-mini")
        builder.with_shared_state(state).with_retry_policy(retry).with_retry_budget(budget)
        return builder.with_circuit_breaker(None).build()

    router_one, router_two = make(one), make(two)
    async with router_one, router_two:
        for _ in range(2):  # a fails, is retried, fails (4 -> 2 tokens); then fails once (1)
            await router_one.complete(CHAT, "openai")
        assert router_one.statistics()["routes"]["a/gpt-4o-mini"]["retry_tokens"] == pytest.approx(
            1.0
        )
        result = await router_two.complete(CHAT, "openai")
    # Router two adopted the drained budget: no retry on a, straight to b.
    assert two.hosts() == ["a", "b"]
    assert result.provider == "b"


async def test_a_concurrency_wait_ends_at_the_deadline(autojump_clock: MockClock) -> None:
    from llm_router.limiting import Demand, Limiter, LimitRule
    from llm_router.routing import Route
    from llm_router.types import ProviderFormat

    route = Route(
        "a", OpenAIProvider(base_url="http://a.test/v1"), ProviderFormat.OPENAI, "m", None
    )
    limiter = Limiter([LimitRule(RateLimitPolicy(max_concurrency=1), "route")], MemoryState())
    demand = Demand("m")
    _, held = await limiter.admit_call([route], demand, deadline=100.0)  # never released
    with pytest.raises(errors.RateLimitError, match="no slot freed before the deadline"):
        await limiter.admit_call([route], demand, deadline=5.0)
    assert trio.current_time() == pytest.approx(5.0)
    await limiter.settle(held, tokens=None)
    _, again = await limiter.admit_call([route], demand, deadline=10.0)
    assert again.route == "a/m"
    assert trio.current_time() == pytest.approx(5.0)  # the slot is free at once
