"""AnthropicProvider: URL, headers, auth styles, body handling, errors, stream decoding."""

from __future__ import annotations

import httpx
import orjson
import pytest

from llm_router import errors
from llm_router.auth import ApiKey, OAuth
from llm_router.providers import AnthropicProvider
from llm_router.types import ProviderFormat

from ._support import corpus, json_body, send, upstream

BODY = {
    "model": "claude-sonnet-4-5",
    "max_tokens": 64,
    "messages": [{"role": "user", "content": "hi"}],
}


def test_url_and_version_header() -> None:
    request = AnthropicProvider().build_request(
        upstream("claude-sonnet-4-5", ProviderFormat.ANTHROPIC, BODY)
    )
    assert str(request.url) == "https://api.anthropic.com/v1/messages"
    assert request.headers["anthropic-version"] == "2023-06-01"
    assert request.headers["content-type"] == "application/json"


def test_custom_base_url_and_version() -> None:
    provider = AnthropicProvider("http://127.0.0.1:9000/", version="2024-01-01")
    request = provider.build_request(upstream("m", ProviderFormat.ANTHROPIC, BODY))
    assert str(request.url) == "http://127.0.0.1:9000/v1/messages"
    assert request.headers["anthropic-version"] == "2024-01-01"


def test_passthrough_keeps_bytes_and_forwarded_beta_header() -> None:
    raw = orjson.dumps(BODY)
    up = upstream(
        "claude-sonnet-4-5", ProviderFormat.ANTHROPIC, raw, headers={"anthropic-beta": "tools-2024"}
    )
    request = AnthropicProvider().build_request(up)
    assert request.content == raw
    assert request.headers["anthropic-beta"] == "tools-2024"


def test_stream_flag_and_model_id_are_set() -> None:
    request = AnthropicProvider().build_request(
        upstream("claude-opus-4-1", ProviderFormat.ANTHROPIC, BODY, stream=True)
    )
    body = json_body(request)
    assert body["model"] == "claude-opus-4-1"
    assert body["stream"] is True
    assert request.headers["accept"] == "text/event-stream"


async def test_default_auth_is_x_api_key() -> None:
    auth = AnthropicProvider().default_auth("sk-ant-test")
    assert isinstance(auth, ApiKey)
    request = AnthropicProvider().build_request(upstream("m", ProviderFormat.ANTHROPIC, BODY))
    await auth.apply(request)
    assert request.headers["x-api-key"] == "sk-ant-test"
    assert "authorization" not in request.headers


async def test_oauth_bearer() -> None:
    request = AnthropicProvider().build_request(upstream("m", ProviderFormat.ANTHROPIC, BODY))
    await OAuth("oauth-token").apply(request)
    assert request.headers["authorization"] == "Bearer oauth-token"


def test_env_key() -> None:
    provider = AnthropicProvider()
    auth = provider.auth_from_env({"ANTHROPIC_API_KEY": "from-env"})
    assert (
        isinstance(auth, ApiKey) and auth.header == "x-api-key" and auth.key.reveal() == "from-env"
    )
    assert provider.auth_from_env({}) is None


@pytest.mark.parametrize(
    ("status", "error_type", "message", "expected"),
    [
        (529, "overloaded_error", "Overloaded", errors.OverloadedError),
        (401, "authentication_error", "invalid x-api-key", errors.AuthenticationError),
        (403, "permission_error", "no access", errors.PermissionError),
        (404, "not_found_error", "model: nope", errors.NotFoundError),
        (
            400,
            "invalid_request_error",
            "prompt is too long: 210000 tokens > 200000 maximum",
            errors.ContextWindowExceededError,
        ),
        (400, "invalid_request_error", "max_tokens: field required", errors.InvalidRequestError),
        (500, "api_error", "Internal server error", errors.UpstreamError),
    ],
)
async def test_error_mapping(
    status: int, error_type: str, message: str, expected: type[Exception]
) -> None:
    body = orjson.dumps({"type": "error", "error": {"type": error_type, "message": message}})
    with pytest.raises(expected) as caught:
        await send(
            AnthropicProvider(),
            None,
            upstream("m", ProviderFormat.ANTHROPIC, BODY),
            lambda _: httpx.Response(status, content=body),
        )
    assert message in str(caught.value)
    assert getattr(caught.value, "status", None) == status


async def test_rate_limit_carries_retry_after() -> None:
    body = orjson.dumps(
        {"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}}
    )
    with pytest.raises(errors.RateLimitError) as caught:
        await send(
            AnthropicProvider(),
            None,
            upstream("m", ProviderFormat.ANTHROPIC, BODY),
            lambda _: httpx.Response(429, headers={"retry-after": "7"}, content=body),
        )
    assert caught.value.retry_after == 7.0


def test_stream_decoder_yields_named_events() -> None:
    events = corpus("toolCallRequest", "anthropic", "response-streaming.json")
    wire = b"".join(
        b"event: " + e["type"].encode() + b"\r\ndata: " + orjson.dumps(e) + b"\r\n\r\n"
        for e in events
    )
    decoder = AnthropicProvider().event_decoder(ProviderFormat.ANTHROPIC)
    decoded = [ev for i in range(0, len(wire), 37) for ev in decoder.feed(wire[i : i + 37])]
    decoded += decoder.finish()
    assert [ev.event for ev in decoded] == [e["type"] for e in events]
    assert [orjson.loads(ev.data) for ev in decoded] == events
