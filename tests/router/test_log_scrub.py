"""httpx and httpcore log what they send and receive (httpcore's DEBUG traces print response
headers as received; httpx logs URLs at INFO): with those loggers at DEBUG, a credential the
upstream echoes back in its headers or body never reaches the log."""

from __future__ import annotations

import logging
from collections.abc import Callable

import orjson
import pytest

from llm_router import OpenAIProvider, ProviderFormat, RetryPolicy, Router, errors
from llm_router._log_scrub import SCRUBBED_LOGGERS

from ._raw_upstream import Reply, Seen, open_raw_upstream

CANARY = "sk-canary-7f3a9d2e41b84c6a"
CHAT = {"model": "house-model", "messages": [{"role": "user", "content": "ping"}]}


def echo(status: int) -> Callable[[Seen], Reply]:
    """An upstream echoing every header it received, in its headers and in its body."""

    def handle(seen: Seen) -> Reply:
        echoed = [(f"x-echo-{name}", value) for name, value in seen.headers]
        auth = dict(seen.headers).get("authorization", "")
        headers = [
            ("content-type", "application/json"),
            ("www-authenticate", f'Bearer realm="api", error="invalid_token" token="{auth}"'),
            *echoed,
        ]
        if status == 200:
            body = {
                "id": "c1",
                "object": "chat.completion",
                "created": 1,
                "model": "m",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": f"you sent {auth}"},
                        "finish_reason": "stop",
                    }
                ],
            }
        else:
            body = {"error": {"message": f"bad key {auth}", "type": "invalid_request_error"}}
        return Reply(status, headers, [orjson.dumps(body)])

    return handle


def router_for(url: str) -> Router:
    return (
        Router.builder()
        .add_provider("up", OpenAIProvider(base_url=url + "/v1"))
        .add_api_key("up", CANARY)
        .add_model_route("house-model", "up", "m")
        .with_retry_policy(RetryPolicy(max_attempts=1))
        .build()
    )


@pytest.mark.parametrize("status", [401, 200])
async def test_debug_logs_of_the_http_stack_carry_no_credential(
    status: int, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        async with (
            open_raw_upstream(echo(status)) as upstream,
            router_for(upstream.url) as router,
        ):
            if status == 200:
                await router.complete(CHAT, ProviderFormat.OPENAI)
            else:
                with pytest.raises(errors.AuthenticationError):
                    await router.complete(CHAT, ProviderFormat.OPENAI)
    assert upstream.seen[0].headers and CANARY in dict(upstream.seen[0].headers)["authorization"]
    traces = [r for r in caplog.records if r.name.startswith(("httpcore", "httpx"))]
    # The traces were written (headers included), only without the key.
    assert any("receive_response_headers" in r.getMessage() for r in traces)
    assert any("x-echo-authorization" in r.getMessage() for r in traces)
    assert CANARY not in caplog.text
    assert all(CANARY not in r.getMessage() for r in caplog.records)


async def test_the_filter_is_installed_once_however_many_routers_open() -> None:
    for _ in range(3):
        async with router_for("http://127.0.0.1:9") as _router:
            pass
    for name in SCRUBBED_LOGGERS:
        filters = [f for f in logging.getLogger(name).filters if f.name == "llm_router.credentials"]
        assert len(filters) == 1
