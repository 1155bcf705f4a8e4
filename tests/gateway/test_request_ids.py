"""Every answer the gateway gives carries a request id under the caller's own header name --
its own refusals as much as proxied answers -- and the access log line carries the same id.
Over real sockets: the fake provider behind the gateway served by hypercorn."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import orjson
import pytest

from llm_router.builder import RouterBuilder
from llm_router.gateway.access_log import AccessLog
from llm_router.gateway.config import GatewaySettings
from llm_router.gateway.keys import GatewayKeys
from llm_router.providers import AnthropicProvider, GoogleProvider, OpenAIProvider
from llm_router.ratelimit import RateLimitPolicy
from llm_router.resilience import BreakerPolicy, RetryPolicy
from llm_router.serve import open_gateway
from llm_router_testing.fake import FAKE_KEYS, open_fake_provider

KEY = "gw-key-abc123"
OPENAI = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hello"}]}
ANTHROPIC = {
    "model": "gpt-4o-mini",
    "max_tokens": 20,
    "messages": [{"role": "user", "content": "hi"}],
}
GEMINI = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
CONVERSE = {"messages": [{"role": "user", "content": [{"text": "hi"}]}]}
GEMINI_PATH = "/v1beta/models/gpt-4o-mini:generateContent"
CONVERSE_PATH = "/model/gpt-4o-mini/converse"
OK_KEY = {"authorization": f"Bearer {KEY}"}


@asynccontextmanager
async def serving(
    limits: RateLimitPolicy | None = None,
) -> AsyncIterator[tuple[httpx.AsyncClient, list[str]]]:
    """A gateway with a key, a 1000-byte body limit, a breaker that opens after one failure
    and optional rate `limits`; yields a client on the gateway and the access-log lines."""
    lines: list[str] = []
    async with open_fake_provider() as fake:
        builder = (
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
        )
        if limits is not None:
            builder.with_rate_limits(limits, scope="model")
        router = builder.build()
        async with (
            open_gateway(
                router,
                settings=GatewaySettings(max_body_bytes=1000),
                keys=GatewayKeys([KEY]),
                access_log=AccessLog(lines.append),
            ) as url,
            httpx.AsyncClient(base_url=url) as client,
        ):
            yield client, lines


def the_id(response: httpx.Response, name: str, lines: list[str]) -> str:
    """The id answered under `name`, checked against `x-llm-router-request-id` and the log."""
    assert name in response.headers, f"{response.status_code} {response.request.url.path}"
    value = response.headers[name]
    assert value, response.headers
    assert response.headers["x-llm-router-request-id"] == value
    logged = [orjson.loads(line) for line in lines if orjson.loads(line)["request_id"] == value]
    assert len(logged) == 1 and logged[0]["status"] == response.status_code
    return value


@pytest.mark.parametrize(
    ("path", "body", "name"),
    [
        ("/v1/chat/completions", OPENAI, "x-request-id"),
        ("/v1/messages", ANTHROPIC, "request-id"),
        (GEMINI_PATH, GEMINI, "x-request-id"),
        (CONVERSE_PATH, CONVERSE, "x-amzn-requestid"),
    ],
)
async def test_a_bad_gateway_key_and_a_body_too_large_carry_the_callers_request_id(
    path: str, body: dict[str, object], name: str
) -> None:
    async with serving() as (client, lines):
        refused = await client.post(path, json=body, headers={"authorization": "Bearer wrong"})
        too_large = await client.post(path, content=b"{" * 2000, headers=OK_KEY)
    assert (refused.status_code, too_large.status_code) == (401, 413)
    assert the_id(refused, name, lines) != the_id(too_large, name, lines)


async def test_unknown_paths_and_models_carry_a_request_id() -> None:
    async with serving() as (client, lines):
        no_path = await client.post("/v2/nothing-here", json=OPENAI, headers=OK_KEY)
        no_model = await client.get("/v1/models/no-such-model", headers=OK_KEY)
        no_route = await client.post(
            "/v1/messages", json=dict(ANTHROPIC, model="no-such-model"), headers=OK_KEY
        )
    assert (no_path.status_code, no_model.status_code, no_route.status_code) == (404, 404, 404)
    # A path no format serves: the id under every SDK's name.
    assert the_id(no_path, "x-request-id", lines) == no_path.headers["request-id"]
    the_id(no_model, "x-request-id", lines)
    the_id(no_route, "request-id", lines)


async def test_the_routers_own_429_and_503_carry_the_callers_request_id() -> None:
    limits = RateLimitPolicy(rpm=1, on_limit="fail")
    async with serving(limits) as (client, lines):
        await client.post("/v1/messages", json=ANTHROPIC, headers=OK_KEY)
        limited = await client.post("/v1/messages", json=ANTHROPIC, headers=OK_KEY)
    assert limited.status_code == 429 and "rate limit" in limited.text
    the_id(limited, "request-id", lines)  # the log line is written once the gateway is done
    async with serving() as (client, lines):
        failing = await client.post(
            "/v1/chat/completions", json=OPENAI, headers={**OK_KEY, "x-fake-status": "500"}
        )
        open_breaker = await client.post("/v1/chat/completions", json=OPENAI, headers=OK_KEY)
    assert failing.status_code >= 500 and open_breaker.status_code == 503
    assert "circuit open" in open_breaker.text
    the_id(open_breaker, "x-request-id", lines)


async def test_a_proxied_answer_logs_the_id_it_answered() -> None:
    async with serving() as (client, lines):
        answer = await client.post("/v1/messages", json=ANTHROPIC, headers=OK_KEY)
    assert answer.status_code == 200
    the_id(answer, "request-id", lines)
