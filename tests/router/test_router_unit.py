"""Router unit tests over httpx.MockTransport: validation, passthrough bytes, aliasing, config."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest

from llm_router import (
    ConfigurationError,
    InvalidRequestError,
    ModelNotFoundError,
    NoRouteError,
    OpenAIProvider,
    ProviderFormat,
    Router,
)
from llm_router.auth import ApiKey

CHAT_ANSWER = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1,
    "model": "gpt-4o-mini",
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}
    ],
    "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
}


class Recorder:
    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(200, json=CHAT_ANSWER)


def build(recorder: Recorder, **routes: Any) -> Router:
    builder = (
        Router.builder()
        .add_provider("openai", OpenAIProvider(base_url="http://upstream.test/v1"))
        .add_api_key("openai", "sk-unit-test")
        .with_transport(httpx.MockTransport(recorder))
    )
    for model, (alias, provider_model) in routes.items():
        builder.add_model_route(model, alias, provider_model)
    return builder.build()


async def test_same_format_forwards_caller_bytes_untouched() -> None:
    recorder = Recorder()
    # Odd spacing and key order: any re-serialisation would change these bytes.
    body = (
        b'{"messages":[{"role":"user","content":"hi"}],   "model":"gpt-4o-mini", "temperature":0.5}'
    )
    async with build(recorder) as router:
        result = await router.complete(body, ProviderFormat.OPENAI)
    assert recorder.requests[0].content == body
    assert recorder.requests[0].url == "http://upstream.test/v1/chat/completions"
    assert recorder.requests[0].headers["authorization"] == "Bearer sk-unit-test"
    assert result.body == orjson.dumps(CHAT_ANSWER)
    assert (result.provider, result.model, result.provider_format) == (
        "openai",
        "gpt-4o-mini",
        ProviderFormat.OPENAI,
    )


async def test_model_alias_rewrites_only_the_model() -> None:
    recorder = Recorder()
    body = {"model": "house-model", "messages": [{"role": "user", "content": "hi"}], "seed": 7}
    async with build(recorder, **{"house-model": ("openai", "gpt-4o-mini")}) as router:
        result = await router.complete(body, "openai")
    sent = orjson.loads(recorder.requests[0].content)
    assert sent == dict(body, model="gpt-4o-mini")
    assert result.model == "gpt-4o-mini"


async def test_forwarded_headers_follow_the_allowlist() -> None:
    recorder = Recorder()
    headers = {
        "Authorization": "Bearer caller-secret",
        "Cookie": "a=b",
        "traceparent": "00-abc",
        "x-other": "no",
    }
    async with build(recorder) as router:
        await router.complete({"model": "gpt-4o-mini", "messages": []}, "openai", headers=headers)
    sent = recorder.requests[0].headers
    assert sent["authorization"] == "Bearer sk-unit-test"
    assert sent["traceparent"] == "00-abc"
    assert "cookie" not in sent and "x-other" not in sent


@pytest.mark.parametrize(
    ("body", "fragment", "path"),
    [
        (b"{not json", "not valid JSON", None),
        (b"[1, 2]", "must be a JSON object, got an array", None),
        (b'"text"', "must be a JSON object, got a string", None),
        (b'{"messages": []}', 'no model: the body has no "model" field', "model"),
        (
            b'{"model": 5, "messages": []}',
            '"model" must be a non-empty string, got a number',
            "model",
        ),
        (
            b'{"model": "gpt-4o-mini", "stream": "yes"}',
            '"stream" must be true or false, got a string',
            "stream",
        ),
    ],
)
async def test_bad_input_raises_a_typed_error_naming_the_problem(
    body: bytes, fragment: str, path: str | None
) -> None:
    async with build(Recorder()) as router:
        with pytest.raises(InvalidRequestError) as info:
            await router.complete(body, ProviderFormat.OPENAI)
    assert fragment in str(info.value)
    assert info.value.path == path


async def test_unknown_model_suggests_close_names() -> None:
    async with build(Recorder()) as router:
        with pytest.raises(ModelNotFoundError) as info:
            await router.complete({"model": "gpt-4o-minii", "messages": []}, "openai")
    assert "gpt-4o-mini" in str(info.value)


async def test_unknown_format_is_rejected() -> None:
    async with build(Recorder()) as router:
        with pytest.raises(InvalidRequestError, match="unknown format 'klingon'"):
            await router.complete({"model": "gpt-4o-mini"}, "klingon")


async def test_model_without_a_configured_provider() -> None:
    async with build(Recorder()) as router:
        with pytest.raises(NoRouteError, match="no configured provider serves model 'claude"):
            await router.complete({"model": "claude-sonnet-4-5", "messages": []}, "anthropic")


async def test_calls_outside_async_with_are_refused() -> None:
    router = build(Recorder())
    with pytest.raises(Exception, match="use `async with router:`"):
        await router.complete({"model": "gpt-4o-mini"}, "openai")


def test_build_reports_every_problem_at_once() -> None:
    builder = (
        Router.builder()
        .add_provider("openai", OpenAIProvider())
        .add_provider("openai", OpenAIProvider())
        .add_provider("other", OpenAIProvider(base_url="http://x.test/v1"))
        .add_api_key("nobody", "k")
        .add_model_route("m", "missing")
    )
    with pytest.raises(ConfigurationError) as info:
        builder.build()
    message = str(info.value)
    assert "duplicate provider alias 'openai'" in message
    assert "add_api_key('nobody', ...): no provider is registered" in message
    assert "provider 'openai' has no credentials" in message
    assert "add_model_route('m', 'missing')" in message


def test_keys_from_env_only_when_asked() -> None:
    env = {"OPENAI_API_KEY": "sk-from-env"}
    with pytest.raises(ConfigurationError, match="no credentials"):
        Router.builder().add_provider("openai", OpenAIProvider()).build()
    router = (
        Router.builder().add_provider("openai", OpenAIProvider()).add_keys_from_env(env).build()
    )
    assert "sk-from-env" not in repr(router)


def test_bad_base_url_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="base_url must start with http"):
        OpenAIProvider(base_url="api.openai.com")


def test_api_key_repr_hides_the_key() -> None:
    auth = ApiKey("sk-canary-1234")
    assert "sk-canary-1234" not in repr(auth)
    assert "sk-canary-1234" not in str(auth.key)
