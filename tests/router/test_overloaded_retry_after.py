"""An overloaded upstream's requested wait (503, Anthropic's 529, Bedrock's
ServiceUnavailableException and ThrottlingException) is honoured exactly like a 429's.

Over real loopback sockets against the fake provider, in virtual time: the fake's scenario
sends the status with `retry-after` / `retry-after-ms`, and `autojump_clock` skips the waits,
so "the retry is sent 7 s later" is exact.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
import trio
from trio.testing import MockClock

from llm_router import (
    AnthropicProvider,
    BedrockProvider,
    OpenAIProvider,
    RetryPolicy,
    Router,
    errors,
)
from llm_router.providers.base import Provider
from llm_router.ratelimit import RateLimitPolicy
from llm_router_testing.fake import FAKE_KEYS, FakeProvider, open_fake_provider

MODEL = "house-model"
CHAT = {"model": MODEL, "messages": [{"role": "user", "content": "ping"}], "max_tokens": 16}


def _provider(name: str, fake: FakeProvider) -> tuple[Provider, str, str]:
    if name == "openai":
        return OpenAIProvider(base_url=fake.url + "/v1"), FAKE_KEYS["openai"], "gpt-4o-mini"
    if name == "anthropic":
        return AnthropicProvider(base_url=fake.url), FAKE_KEYS["anthropic"], "claude-3-5-haiku"
    return (
        BedrockProvider(base_url=fake.url),
        FAKE_KEYS["bedrock"],
        "anthropic.claude-3-5-haiku-20241022-v1:0",
    )


def _router(
    fake: FakeProvider, name: str, retry: RetryPolicy, limits: RateLimitPolicy | None = None
) -> Router:
    provider, key, wire_model = _provider(name, fake)
    builder = (
        Router.builder()
        .add_provider(name, provider)
        .add_api_key(name, key)
        .add_model_route(MODEL, name, wire_model)
        .with_retry_policy(retry)
        .with_circuit_breaker(None)
    )
    if limits is not None:
        builder.with_rate_limits(limits, scope="route")
    return builder.build()


def _refuse_once(fake: FakeProvider, status: int, wait: Mapping[str, Any]) -> None:
    fake.set_scenario({"rules": [{"match": {}, "status": status, "times": 1, **wait}]})


#: (provider, status, wait fault): Bedrock's fake names 503 ServiceUnavailableException and
#: 429 ThrottlingException in `x-amzn-ErrorType`, as Bedrock does.
CASES = [
    ("openai", 429, {"retry_after": "7"}),
    ("openai", 503, {"retry_after": "7"}),
    ("openai", 503, {"retry_after_ms": 7000}),
    ("anthropic", 529, {"retry_after": "7"}),
    ("anthropic", 503, {"retry_after_ms": 7000}),
    ("bedrock", 503, {"retry_after": "7"}),
    ("bedrock", 429, {"retry_after": "7"}),
]
IDS = [f"{name}-{status}-{next(iter(wait))}" for name, status, wait in CASES]


@pytest.mark.parametrize(("name", "status", "wait"), CASES, ids=IDS)
async def test_the_retry_waits_exactly_the_requested_time(
    autojump_clock: MockClock, name: str, status: int, wait: Mapping[str, Any]
) -> None:
    async with open_fake_provider() as fake:
        _refuse_once(fake, status, wait)
        async with _router(fake, name, RetryPolicy(max_attempts=3, initial_delay=0.1)) as router:
            result = await router.complete(CHAT, "openai")
    assert [a.status for a in result.attempts] == [status, None]
    # The requested 7 s replaced the 0.1 s backoff, to the virtual microsecond.
    assert result.attempts[1].offset == pytest.approx(7.0)
    assert len(fake.journal) == 2


@pytest.mark.parametrize(("name", "status", "wait"), CASES, ids=IDS)
async def test_the_requested_wait_holds_the_route_for_the_next_call(
    autojump_clock: MockClock, name: str, status: int, wait: Mapping[str, Any]
) -> None:
    limits = RateLimitPolicy(rpm=1000)
    async with open_fake_provider() as fake:
        _refuse_once(fake, status, wait)
        async with _router(fake, name, RetryPolicy(max_attempts=1), limits) as router:
            with pytest.raises(errors.ProviderError) as caught:
                await router.complete(CHAT, "openai")
            assert caught.value.status == status
            refused_at = trio.current_time()
            await router.complete(CHAT, "openai")  # sent only once the wait has passed
            sent_after = trio.current_time() - refused_at
    assert sent_after == pytest.approx(7.0, abs=0.01)
    assert len(fake.journal) == 2


@pytest.mark.parametrize("status", [429, 503, 529])
async def test_a_wait_beyond_the_cap_is_refused_at_once_with_the_wait(
    autojump_clock: MockClock, status: int
) -> None:
    async with open_fake_provider() as fake:
        _refuse_once(fake, status, {"retry_after": "120"})
        retry = RetryPolicy(max_attempts=3, max_retry_after=30)
        async with _router(fake, "anthropic", retry) as router:
            started = trio.current_time()
            with pytest.raises(errors.RateLimitError) as caught:
                await router.complete(CHAT, "openai")
            assert trio.current_time() - started == pytest.approx(0.0, abs=0.01)
    assert caught.value.retry_after == 120
    told = " ".join([str(caught.value), *getattr(caught.value, "__notes__", [])])
    assert "wait of 120 s" in told or "wait 120 s" in told
    assert len(fake.journal) == 1
