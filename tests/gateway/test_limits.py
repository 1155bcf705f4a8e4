"""Callers and limits over real sockets: gateway keys, body size and read time, disconnects
cancelling the upstream call, and the router's own refusals as 503/429 with retry-after."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import orjson
import pytest
import trio

from llm_router.builder import RouterBuilder
from llm_router.gateway.access_log import AccessLog
from llm_router.gateway.config import GatewaySettings
from llm_router.gateway.keys import GatewayKeys, presented_key
from llm_router.providers import AnthropicProvider, GoogleProvider, OpenAIProvider
from llm_router.resilience import BreakerPolicy, BudgetPolicy, RetryPolicy
from llm_router.router import Router
from llm_router.serve import gateway_router, open_gateway
from llm_router_testing.fake import FAKE_KEYS, FakeProvider, open_fake_provider

GATEWAY_KEY = "gw-key-abc123"
OPENAI = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hello"}]}
ANTHROPIC = {
    "model": "gpt-4o-mini",
    "max_tokens": 20,
    "messages": [{"role": "user", "content": "hi"}],
}
GEMINI = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}


@asynccontextmanager
async def gateway(
    router: Router | None = None, **kwargs: Any
) -> AsyncIterator[tuple[FakeProvider, str, Router]]:
    async with open_fake_provider() as fake:
        router = router or gateway_router(fake.url, FAKE_KEYS, forward=("x-fake-",))
        async with open_gateway(router, **kwargs) as url:
            yield fake, url, router


async def settled(router: Router, counter: str) -> None:
    """Wait (bounded) until the router's `counter` statistic is back to zero."""
    for _ in range(1000):
        if router.statistics()[counter] == 0:
            return
        await trio.sleep(0.01)
    raise AssertionError(f"{counter} still {router.statistics()[counter]}")


# -- gateway keys -----------------------------------------------------------------------------


def test_keys_compare_every_token_and_show_none() -> None:
    keys = GatewayKeys.from_env("K", {"K": " a-key , other-key ,"})
    assert keys is not None and len(keys) == 2
    assert keys.allows("other-key") and keys.allows("a-key")
    assert not keys.allows("a-ke") and not keys.allows(None) and not keys.allows("")
    assert "a-key" not in repr(keys)
    assert GatewayKeys.from_env("K", {}) is None and GatewayKeys.from_env(None, {"K": "x"}) is None


@pytest.mark.parametrize(
    ("headers", "query", "expected"),
    [
        ({"authorization": "Bearer tok"}, {}, "tok"),
        ({"authorization": "bearer  tok "}, {}, "tok"),
        ({"x-api-key": "tok"}, {}, "tok"),
        ({"x-goog-api-key": "tok"}, {}, "tok"),
        ({"api-key": "tok"}, {}, "tok"),
        ({}, {"key": "tok"}, "tok"),
        ({"authorization": "Basic abc"}, {}, None),
        ({}, {}, None),
    ],
)
def test_the_presented_key_is_found_where_each_format_puts_it(
    headers: dict[str, str], query: dict[str, str], expected: str | None
) -> None:
    assert presented_key(headers, query) == expected


async def test_without_a_key_each_format_gets_its_own_401() -> None:
    keys = GatewayKeys([GATEWAY_KEY])
    async with gateway(keys=keys) as (fake, url, _), httpx.AsyncClient() as client:
        openai = await client.post(url + "/v1/chat/completions", json=OPENAI)
        anthropic = await client.post(
            url + "/v1/messages", json=ANTHROPIC, headers={"x-api-key": "wrong"}
        )
        gemini = await client.post(
            url + "/v1beta/models/gemini-2.5-flash:generateContent", json=GEMINI
        )
        converse = await client.post(
            url + "/model/anthropic.claude-3-haiku-20240307-v1:0/converse",
            json={"messages": [{"role": "user", "content": [{"text": "hi"}]}]},
            headers={"authorization": "Bearer wrong"},
        )
    assert openai.status_code == 401 and openai.json()["error"]["type"] == "invalid_request_error"
    assert "gateway key" in openai.json()["error"]["message"]
    assert anthropic.status_code == 401
    assert anthropic.json()["error"]["type"] == "authentication_error"
    assert gemini.status_code == 401 and gemini.json()["error"]["status"] == "UNAUTHENTICATED"
    assert converse.status_code == 401 and "x-amzn-errortype" in converse.headers
    assert len(fake.journal) == 0  # nothing reached a provider


async def test_each_format_presents_its_key_its_own_way() -> None:
    keys = GatewayKeys([GATEWAY_KEY, "second-key"])
    async with gateway(keys=keys) as (fake, url, _), httpx.AsyncClient() as client:
        answers = [
            await client.post(
                url + "/v1/chat/completions",
                json=OPENAI,
                headers={"authorization": f"Bearer {GATEWAY_KEY}"},
            ),
            await client.post(
                url + "/v1/messages", json=ANTHROPIC, headers={"x-api-key": "second-key"}
            ),
            await client.post(
                url + "/v1beta/models/gemini-2.5-flash:generateContent",
                json=GEMINI,
                headers={"x-goog-api-key": GATEWAY_KEY},
            ),
            await client.post(
                url + f"/v1beta/models/gemini-2.5-flash:generateContent?key={GATEWAY_KEY}",
                json=GEMINI,
            ),
        ]
    assert [a.status_code for a in answers] == [200, 200, 200, 200]
    # The caller's gateway key is never passed upstream: providers get their own keys.
    for entry in fake.journal:
        assert GATEWAY_KEY not in orjson.dumps(entry.headers).decode() + entry.query


# -- body size and read time ------------------------------------------------------------------


async def _raw_exchange(url: str, request: bytes) -> bytes:
    """Send raw bytes and read the answer until the server closes the connection."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    stream = await trio.open_tcp_stream(host, int(port))
    async with stream:
        await stream.send_all(request)
        answer = b""
        with trio.fail_after(10):  # a safety bound, not a measurement
            while chunk := await stream.receive_some():
                answer += chunk
        return answer


async def test_a_declared_oversized_body_gets_413_without_being_read() -> None:
    settings = GatewaySettings(max_body_bytes=1000)
    async with gateway(settings=settings) as (fake, url, _):
        # 50 MB announced, 100 bytes sent: the answer comes before the rest is written.
        request = (
            b"POST /v1/messages HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
            b"content-length: 50000000\r\n\r\n" + b"{" * 100
        )
        answer = await _raw_exchange(url, request)
    head = answer.split(b"\r\n\r\n", 1)[0].decode().lower()
    assert head.startswith("http/1.1 413")
    assert "connection: close" in head
    assert len(fake.journal) == 0


async def test_a_streamed_oversized_body_is_cut_at_the_limit() -> None:
    settings = GatewaySettings(max_body_bytes=10_000)
    sent = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal sent
        for _ in range(1000):  # 1 MB in 1 kB chunks, no content-length
            sent += 1024
            yield b" " * 1024

    async with gateway(settings=settings) as (_, url, _), httpx.AsyncClient() as client:
        try:
            response = await client.post(url + "/v1/chat/completions", content=body())
        except httpx.HTTPError:
            response = None  # the server may close while the client is still writing
    if response is not None:
        assert response.status_code == 413
        assert response.json()["error"]["message"] == (
            "request body exceeds the gateway's limit of 10000 bytes"
        )
    assert sent < 1_000 * 1024


async def test_a_slow_client_is_cut_by_the_read_timeout() -> None:
    settings = GatewaySettings(read_timeout=0.3)
    async with gateway(settings=settings) as (fake, url, _):
        request = b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-length: 500\r\n\r\n{"
        answer = await _raw_exchange(url, request)
    assert answer.startswith(b"HTTP/1.1 408")
    assert b"did not arrive within 0.3 s" in answer
    assert len(fake.journal) == 0


# -- disconnects ------------------------------------------------------------------------------


async def _hang_up_during(
    url: str,
    path: str,
    body: dict[str, Any],
    headers: dict[str, str],
    *,
    stream: bool,
    fake: FakeProvider,
) -> float:
    """Send a request, hang up once the upstream has it (or its first event), and return how
    long the upstream call outlived the hang-up, from the fake's journal."""
    async with httpx.AsyncClient(timeout=30) as client:
        async with trio.open_nursery() as nursery:

            async def call() -> None:
                async with client.stream("POST", url + path, json=body, headers=headers) as r:
                    async for _ in r.aiter_raw():
                        break
                    await trio.sleep_forever()

            nursery.start_soon(call)
            if stream:
                await fake.journal.wait_for(lambda e: e.events_sent > 0)
            else:
                await fake.journal.wait_for(lambda e: e.path == path or e.model is not None)
            nursery.cancel_scope.cancel()  # closes the client's connection
        hung_up = trio.current_time()
    with trio.fail_after(10):  # a safety bound; the measured delay is returned
        await fake.journal.wait_for_disconnect()
    # The journal wakes its waiters when the disconnect is recorded: an upper bound on the cut.
    return trio.current_time() - hung_up


async def test_a_caller_hanging_up_cancels_a_plain_upstream_call_at_once() -> None:
    async with gateway() as (fake, url, router):
        delay = await _hang_up_during(
            url, "/v1/chat/completions", OPENAI, {"x-fake-latency": "60s"}, stream=False, fake=fake
        )
        entry = fake.journal[0]
        assert entry.disconnected and entry.status is None  # never answered: cut while waiting
        assert delay < 60  # long before the scripted answer; typically a few milliseconds
        await settled(router, "calls_in_flight")
        assert router.statistics()["pool"]["in_use"] == 0


async def test_a_caller_hanging_up_cancels_a_streaming_upstream_call_at_once() -> None:
    body = dict(ANTHROPIC, stream=True)
    headers = {"x-fake-inter-event-delay": "2s"}
    async with gateway() as (fake, url, router):
        delay = await _hang_up_during(url, "/v1/messages", body, headers, stream=True, fake=fake)
        entry = fake.journal[0]
        assert entry.disconnected and entry.events_sent < 5
        assert delay < 2  # before the next scripted event
        await settled(router, "open_streams")
        assert router.statistics()["pool"]["in_use"] == 0


# -- refusals by the router's own protection --------------------------------------------------


async def test_an_open_breaker_answers_503_with_retry_after_in_the_callers_format() -> None:
    async with open_fake_provider() as fake:
        router = (
            RouterBuilder()
            .load_models()
            .forward_headers("x-fake-")
            .add_provider("openai", OpenAIProvider(fake.url + "/v1"))
            .add_api_key("openai", FAKE_KEYS["openai"])
            .add_provider("anthropic", AnthropicProvider(fake.url))
            .add_api_key("anthropic", FAKE_KEYS["anthropic"])
            .add_provider("google", GoogleProvider(fake.url))
            .add_api_key("google", FAKE_KEYS["google"])
            .with_retry_policy(RetryPolicy(max_attempts=1))
            .with_circuit_breaker(BreakerPolicy(consecutive_failures=1, cooldown=42))
            .build()
        )
        async with open_gateway(router) as url, httpx.AsyncClient() as client:
            failing = await client.post(
                url + "/v1/messages", json=ANTHROPIC, headers={"x-fake-status": "500"}
            )
            refused = await client.post(url + "/v1/messages", json=ANTHROPIC)
            gemini = await client.post(
                url + "/v1beta/models/gpt-4o-mini:generateContent", json=GEMINI
            )
        assert len(fake.journal) == 1  # the refusals never reached the provider
    assert failing.status_code >= 500
    assert refused.status_code == 503
    assert refused.json()["type"] == "error"
    assert refused.json()["error"]["type"] == "overloaded_error"
    assert "circuit open" in refused.json()["error"]["message"]
    assert 40 <= int(refused.headers["retry-after"]) <= 42
    assert gemini.status_code == 503 and gemini.json()["error"]["status"] == "UNAVAILABLE"
    assert "retry-after" in gemini.headers


async def test_a_spent_retry_budget_answers_503_with_retry_after_in_the_callers_format() -> None:
    async with open_fake_provider() as fake:
        router = (
            RouterBuilder()
            .load_models()
            .forward_headers("x-fake-")
            .add_provider("openai", OpenAIProvider(fake.url + "/v1"))
            .add_api_key("openai", FAKE_KEYS["openai"])
            .with_retry_policy(RetryPolicy(max_attempts=5, initial_delay=0.01, max_delay=0.01))
            .with_retry_budget(BudgetPolicy(max_tokens=2))
            .with_circuit_breaker(None)
            .build()
        )
        failing = {"x-fake-status": "500"}
        async with open_gateway(router) as url, httpx.AsyncClient() as client:
            refused = await client.post(url + "/v1/messages", json=ANTHROPIC, headers=failing)
            gemini = await client.post(
                url + "/v1beta/models/gpt-4o-mini:generateContent", json=GEMINI, headers=failing
            )
            healthy = await client.post(url + "/v1/chat/completions", json=OPENAI)
        # 2 tokens: the first failure leaves 1 (= half), so no call is ever retried.
        assert len(fake.journal) == 3
    assert refused.status_code == 503
    assert refused.json()["error"]["type"] == "overloaded_error"
    assert "retry budget" in refused.json()["error"]["message"]
    assert refused.headers["retry-after"] == "1"
    assert gemini.status_code == 503 and gemini.json()["error"]["status"] == "UNAVAILABLE"
    assert gemini.headers["retry-after"] == "1"
    assert healthy.status_code == 200


async def test_a_refused_long_retry_after_is_a_429_with_that_retry_after() -> None:
    headers = {"x-fake-status": "429", "x-fake-retry-after": "120"}
    async with gateway() as (_, url, _), httpx.AsyncClient() as client:
        response = await client.post(url + "/v1/chat/completions", json=OPENAI, headers=headers)
    assert response.status_code == 429
    assert response.headers["retry-after"] == "120"
    assert response.json()["error"]["type"] == "rate_limit_error" or response.json()["error"]


async def test_the_access_log_has_one_line_per_request_and_no_secret() -> None:
    lines: list[str] = []
    keys = GatewayKeys([GATEWAY_KEY])
    async with (
        gateway(keys=keys, access_log=AccessLog(lines.append)) as (_, url, _),
        httpx.AsyncClient() as client,
    ):
        await client.post(
            url + "/v1/chat/completions",
            json=OPENAI,
            headers={"authorization": f"Bearer {GATEWAY_KEY}"},
        )
        await client.post(
            url + f"/v1beta/models/gemini-2.5-flash:generateContent?key={GATEWAY_KEY}", json=GEMINI
        )
        await client.post(url + "/v1/messages", json=ANTHROPIC, headers={"x-api-key": "nope-123"})
    assert len(lines) == 3
    for line in lines:
        for secret in (GATEWAY_KEY, "nope-123", *FAKE_KEYS.values()):
            assert secret not in line
    first, second, third = (orjson.loads(line) for line in lines)
    assert first["status"] == 200 and first["route"] == "openai/gpt-4o-mini"
    assert first["format"] == "openai" and first["model"] == "gpt-4o-mini"
    assert first["input_tokens"] and first["output_tokens"] and first["attempts"] == 1
    assert first["cost_usd"] > 0 and first["latency_ms"] > 0 and first["ttfb_ms"] > 0
    assert second["path"] == "/v1beta/models/gemini-2.5-flash:generateContent"
    assert third["status"] == 401 and third["error"] is None
