"""Per-key rate limits in the gateway: the caller's gateway key is who is calling.

A real gateway (hypercorn on loopback) with two gateway keys, per-key limits shared through
a real redis-server, and the fake provider upstream. One key at its limit gets 429 with
`retry-after` in the caller's format while the other still passes; neither token is ever
written to Redis.
"""

from __future__ import annotations

from pathlib import Path

import coredis
import httpx
import pytest

from llm_router.gateway.config import build_router, load_config
from llm_router.gateway.keys import GatewayKeys
from llm_router.serve import open_gateway
from llm_router_testing.fake import FAKE_KEYS, open_fake_provider
from llm_router_testing.redis_server import RedisServer, RedisUnavailable, running_redis

TEAM_TOKEN = "sk-gw-team-a-0f3c9d1e2b7a"
OTHER_TOKEN = "sk-gw-other-77aa55bb33cc"
CONFIG = """
[gateway]
api_keys_env = "GATEWAY_KEYS"
named_keys_env = {{ team-a = "TEAM_A_KEY" }}

[providers.anthropic]
kind = "anthropic"
base_url = "{fake}"
api_key_env = "ANTHROPIC_API_KEY"

[models.house]
routes = [{{ provider = "anthropic", model = "claude-3-5-haiku-20241022" }}]

[shared_state]
url_env = "REDIS_URL"
prefix = "gwkeys"
timeout = 2.0

[[rate_limits]]               # the named key: one request a minute
scope = "key"
match = "team-a"
rpm = 1
on_limit = "fail"

[[rate_limits]]               # every key: three a minute each
scope = "key"
rpm = 3
on_limit = "fail"
"""
BODY = {"model": "house", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture
def redis() -> RedisServer:
    try:
        context = running_redis()
        server = context.__enter__()
    except RedisUnavailable as exc:
        pytest.skip(str(exc))
    yield server  # type: ignore[misc]
    context.__exit__(None, None, None)


async def everything_in(url: str) -> bytes:
    """Every key and every value in the Redis, as one blob of bytes."""
    blob = b""
    async with coredis.Redis.from_url(url) as client:
        async for key in client.scan_iter():
            blob += key + b"\n" + (await client.dump(key) or b"") + b"\n"
    return blob


async def test_one_key_at_its_limit_is_refused_while_the_other_passes(
    tmp_path: Path, redis: RedisServer
) -> None:
    async with open_fake_provider() as fake:
        path = tmp_path / "router.toml"
        path.write_text(CONFIG.format(fake=fake.url))
        env = {
            "GATEWAY_KEYS": OTHER_TOKEN,
            "TEAM_A_KEY": TEAM_TOKEN,
            "ANTHROPIC_API_KEY": FAKE_KEYS["anthropic"],
            "REDIS_URL": redis.url,
        }
        config = load_config(path)
        router = build_router(config, env)
        keys = GatewayKeys.from_env("GATEWAY_KEYS", env, config.gateway.named_keys_env)
        async with open_gateway(router, keys=keys) as url, httpx.AsyncClient() as client:

            async def send(token: str) -> httpx.Response:
                return await client.post(
                    url + "/v1/messages",
                    json=BODY,
                    headers={"x-api-key": token, "anthropic-version": "2023-06-01"},
                )

            assert (await send(TEAM_TOKEN)).status_code == 200
            refused = await send(TEAM_TOKEN)
            for _ in range(3):
                assert (await send(OTHER_TOKEN)).status_code == 200
            other_refused = await send(OTHER_TOKEN)
            stranger = await send("sk-not-a-gateway-key")
            await router._config.executor.limiter.state.flush()  # type: ignore[union-attr]
            stored = await everything_in(redis.url)
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    error = refused.json()
    assert error["type"] == "error" and error["error"]["type"] == "rate_limit_error"
    assert TEAM_TOKEN not in refused.text and "team-a" not in refused.text
    assert other_refused.status_code == 429  # its own limit, not the named key's
    assert stranger.status_code == 401
    # Only the first request of each key reached the provider, no more than the limits let.
    sent = [e for e in fake.journal if e.path.endswith("/v1/messages")]
    assert len(sent) == 1 + 3
    assert stored, "nothing was shared through Redis"
    for secret in (TEAM_TOKEN, OTHER_TOKEN, FAKE_KEYS["anthropic"]):
        assert secret.encode() not in stored
