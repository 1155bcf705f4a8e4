"""The official openai, anthropic and google-genai SDKs as clients of a gateway started from a
config file over real sockets: plain and streamed calls, model listings, token counts, with
and without gateway keys; /healthz, /readyz and /metrics scraped and parsed."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import anthropic
import httpx
import openai
import orjson
import pytest
import trio
from google import genai
from google.genai import errors as genai_errors
from google.genai import types as genai_types
from prometheus_client.parser import text_string_to_metric_families

from llm_router.gateway.config import build_router, load_config
from llm_router.gateway.keys import GatewayKeys
from llm_router.serve import open_gateway
from llm_router_testing.fake import FAKE_KEYS, open_fake_provider

GATEWAY_KEY = "gw-sdk-key-0123456789"
T = TypeVar("T")


async def in_thread(fn: Callable[[], T]) -> T:
    return await trio.to_thread.run_sync(fn)


@asynccontextmanager
async def gateway(tmp_path: Path, *, with_keys: bool) -> AsyncIterator[str]:
    async with open_fake_provider() as fake:
        path = tmp_path / "router.toml"
        path.write_text(
            f"""
[gateway]
api_keys_env = "GW_SDK_KEYS"

[providers.openai]
kind = "openai"
base_url = "{fake.url}/v1"
api_key_env = "GW_SDK_OPENAI"

[providers.anthropic]
kind = "anthropic"
base_url = "{fake.url}"
api_key_env = "GW_SDK_ANTHROPIC"

[providers.google]
kind = "google"
base_url = "{fake.url}"
api_key_env = "GW_SDK_GOOGLE"

[models.house-fast]
routes = [{{ provider = "anthropic", model = "claude-haiku-4-5" }}]
"""
        )
        env = {
            "GW_SDK_OPENAI": FAKE_KEYS["openai"],
            "GW_SDK_ANTHROPIC": FAKE_KEYS["anthropic"],
            "GW_SDK_GOOGLE": FAKE_KEYS["google"],
        }
        if with_keys:
            env["GW_SDK_KEYS"] = f"other-key,{GATEWAY_KEY}"
        config = load_config(path)
        keys = GatewayKeys.from_env(config.gateway.api_keys_env, env)
        async with open_gateway(build_router(config, env), keys=keys) as url:
            yield url


@pytest.mark.parametrize("with_keys", [True, False])
async def test_the_openai_sdk(tmp_path: Path, with_keys: bool) -> None:
    async with gateway(tmp_path, with_keys=with_keys) as url:
        client = openai.OpenAI(base_url=url + "/v1", api_key=GATEWAY_KEY, max_retries=0)
        messages: Any = [{"role": "user", "content": "hello there"}]

        def calls() -> tuple[Any, str, list[str]]:
            answer = client.chat.completions.create(model="house-fast", messages=messages)
            stream = client.chat.completions.create(
                model="gpt-4o-mini", messages=messages, stream=True
            )
            text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
            return answer, text, [m.id for m in client.models.list()]

        answer, streamed, models = await in_thread(calls)
        assert answer.choices[0].message.content == "You said: hello there"
        assert streamed == "You said: hello there"
        assert (
            models[0] == "house-fast" and "gpt-4o-mini" in models and "gemini-2.5-flash" in models
        )
        if with_keys:
            wrong = openai.OpenAI(base_url=url + "/v1", api_key="wrong", max_retries=0)
            with pytest.raises(openai.AuthenticationError):
                await in_thread(lambda: wrong.models.list())


@pytest.mark.parametrize("with_keys", [True, False])
async def test_the_anthropic_sdk(tmp_path: Path, with_keys: bool) -> None:
    async with gateway(tmp_path, with_keys=with_keys) as url:
        client = anthropic.Anthropic(base_url=url, api_key=GATEWAY_KEY, max_retries=0)
        messages: Any = [{"role": "user", "content": "hello there"}]

        def calls() -> tuple[Any, str, list[str], int]:
            answer = client.messages.create(model="gpt-4o-mini", max_tokens=50, messages=messages)
            with client.messages.stream(
                model="gemini-2.5-flash", max_tokens=50, messages=messages
            ) as stream:
                text = "".join(stream.text_stream)
            models = [m.id for m in client.models.list()]
            counted = client.messages.count_tokens(model="house-fast", messages=messages)
            return answer, text, models, counted.input_tokens

        answer, streamed, models, counted = await in_thread(calls)
        assert answer.content[0].text == "You said: hello there"
        assert streamed == "You said: hello there"
        assert "house-fast" in models and "claude-haiku-4-5" in models
        assert counted == 2  # passed to Anthropic (the fake counts one token per word)
        if with_keys:
            wrong = anthropic.Anthropic(base_url=url, api_key="wrong", max_retries=0)
            with pytest.raises(anthropic.AuthenticationError):
                await in_thread(lambda: wrong.models.list())


@pytest.mark.parametrize("with_keys", [True, False])
async def test_the_google_genai_sdk(tmp_path: Path, with_keys: bool) -> None:
    async with gateway(tmp_path, with_keys=with_keys) as url:
        options = genai_types.HttpOptions(base_url=url, api_version="v1beta")
        client = genai.Client(api_key=GATEWAY_KEY, http_options=options)

        def calls() -> tuple[Any, str, list[str], int | None]:
            answer = client.models.generate_content(
                model="claude-haiku-4-5", contents="hello there"
            )
            text = "".join(
                c.text or ""
                for c in client.models.generate_content_stream(
                    model="gpt-4o-mini", contents="hello there"
                )
            )
            models = [m.name or "" for m in client.models.list()]
            counted = client.models.count_tokens(model="gemini-2.5-flash", contents="hello there")
            return answer, text, models, counted.total_tokens

        answer, streamed, models, counted = await in_thread(calls)
        assert answer.text == "You said: hello there"
        assert streamed == "You said: hello there"
        assert "models/house-fast" in models and "models/gemini-2.5-flash" in models
        assert counted == 2  # passed to Gemini (the fake counts one token per word)
        if with_keys:
            wrong = genai.Client(api_key="wrong", http_options=options)
            with pytest.raises(genai_errors.ClientError) as caught:
                await in_thread(lambda: wrong.models.generate_content(model="x", contents="hi"))
            assert caught.value.code == 401


async def test_health_readiness_and_metrics(tmp_path: Path) -> None:
    async with gateway(tmp_path, with_keys=False) as url, httpx.AsyncClient() as client:
        healthz = await client.get(url + "/healthz")
        readyz = await client.get(url + "/readyz")
        body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "count me"}]}
        await client.post(url + "/v1/chat/completions", json=body)
        await client.post(url + "/v1/chat/completions", json=dict(body, stream=True))
        scraped = await client.get(url + "/metrics")
    assert healthz.json() == {"status": "ok"} and readyz.json() == {"status": "ready"}
    assert scraped.headers["content-type"].startswith("text/plain")
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(scraped.text)
        for s in family.samples
    }
    route = ("route", "openai/gpt-4o-mini")
    ok = (("format", "openai"), ("operation", "generate"), ("status", "200"))
    assert samples[("llm_router_gateway_requests_total", ok)] == 2
    assert samples[("llm_router_gateway_request_duration_seconds_count", (route,))] == 2
    assert samples[("llm_router_gateway_time_to_first_byte_seconds_count", (route,))] == 2
    assert samples[("llm_router_attempts_total", (("outcome", "success"), route))] == 2
    assert samples[("llm_router_breaker_state", (route, ("state", "closed")))] == 1
    model = ("model", "gpt-4o-mini")
    assert samples[("llm_router_gateway_tokens_total", (("direction", "output"), model))] > 0
    assert samples[("llm_router_gateway_cost_dollars_total", (model,))] > 0
    assert samples[("llm_router_open_streams", ())] == 0
    assert samples[("llm_router_gateway_requests_in_flight", ())] == 1  # the scrape itself


async def test_one_model_is_retrieved_by_every_sdk_or_a_404_in_its_format(tmp_path: Path) -> None:
    async with gateway(tmp_path, with_keys=True) as url:
        oa = openai.OpenAI(base_url=url + "/v1", api_key=GATEWAY_KEY, max_retries=0)
        an = anthropic.Anthropic(base_url=url, api_key=GATEWAY_KEY, max_retries=0)
        options = genai_types.HttpOptions(base_url=url, api_version="v1beta")
        gm = genai.Client(api_key=GATEWAY_KEY, http_options=options)

        def calls() -> tuple[Any, Any, Any]:
            return (
                oa.models.retrieve("house-fast"),
                an.models.retrieve("claude-haiku-4-5"),
                gm.models.get(model="gemini-2.5-flash"),
            )

        openai_model, anthropic_model, gemini_model = await in_thread(calls)
        assert openai_model.id == "house-fast" and openai_model.owned_by == "llm-router"
        assert anthropic_model.id == "claude-haiku-4-5" and anthropic_model.type == "model"
        assert gemini_model.name == "models/gemini-2.5-flash"
        assert gemini_model.input_token_limit and gemini_model.input_token_limit > 0

        with pytest.raises(openai.NotFoundError) as oa_missing:
            await in_thread(lambda: oa.models.retrieve("no-such-model"))
        assert "no-such-model" in str(oa_missing.value)
        with pytest.raises(anthropic.NotFoundError) as an_missing:
            await in_thread(lambda: an.models.retrieve("no-such-model"))
        assert an_missing.value.body["error"]["type"] == "not_found_error"  # type: ignore[index]
        with pytest.raises(genai_errors.ClientError) as gm_missing:
            await in_thread(lambda: gm.models.get(model="no-such-model"))
        assert gm_missing.value.code == 404 and gm_missing.value.status == "NOT_FOUND"

        wrong = openai.OpenAI(base_url=url + "/v1", api_key="wrong", max_retries=0)
        with pytest.raises(openai.AuthenticationError):
            await in_thread(lambda: wrong.models.retrieve("house-fast"))


async def test_token_counts_pass_to_a_provider_that_counts_translated_else_estimated(
    tmp_path: Path,
) -> None:
    async with gateway(tmp_path, with_keys=True) as url:
        an = anthropic.Anthropic(base_url=url, api_key=GATEWAY_KEY, max_retries=0)
        options = genai_types.HttpOptions(base_url=url, api_version="v1beta")
        gm = genai.Client(api_key=GATEWAY_KEY, http_options=options)
        messages: Any = [{"role": "user", "content": "count these four words"}]
        contents = "count these four words"

        def calls() -> list[Any]:
            return [
                # Anthropic caller, Gemini model: translated to :countTokens (with the system
                # prompt, as a generateContentRequest).
                an.messages.count_tokens(
                    model="gemini-2.5-flash", system="be brief", messages=messages
                ).input_tokens,
                # Gemini caller, Claude model: translated to Anthropic's count_tokens.
                gm.models.count_tokens(model="claude-haiku-4-5", contents=contents).total_tokens,
                # No provider of gpt-4o-mini counts: the local estimate.
                an.messages.count_tokens(model="gpt-4o-mini", messages=messages).input_tokens,
                gm.models.count_tokens(model="gpt-4o-mini", contents=contents).total_tokens,
            ]

        gemini_counted, claude_counted, estimated, gemini_estimated = await in_thread(calls)
        async with httpx.AsyncClient() as client:
            raw = await client.post(
                url + "/v1/messages/count_tokens",
                json={"model": "claude-haiku-4-5", "messages": messages},
                headers={"x-api-key": GATEWAY_KEY},
            )
            local = await client.post(
                url + "/v1beta/models/gpt-4o-mini:countTokens",
                json={"contents": [{"role": "user", "parts": [{"text": contents}]}]},
                headers={"x-goog-api-key": GATEWAY_KEY},
            )
            broken = await client.post(
                url + "/v1/messages/count_tokens",
                content=b"{not json",
                headers={"x-api-key": GATEWAY_KEY},
            )
    assert gemini_counted == 2 + 4  # "be brief" and the four words
    assert claude_counted == 4
    assert estimated == 7 + 3  # "user" and the words: 26 characters, 7 tokens; one message
    assert gemini_estimated == 7 + 3
    assert raw.json() == {"input_tokens": 4}
    assert raw.headers["x-llm-router-token-count"] == "provider"
    assert raw.headers["x-llm-router-provider"] == "anthropic"
    assert local.headers["x-llm-router-token-count"] == "estimate"
    assert broken.status_code == 400 and broken.json()["type"] == "error"


async def test_bedrock_count_tokens_bodies_are_counted_in_bedrocks_shape(tmp_path: Path) -> None:
    messages = [{"role": "user", "content": [{"text": "count these four words"}]}]
    invoke_body = orjson.dumps(
        {
            "anthropic_version": "bedrock-2023-05-31",
            "max_tokens": 10,
            "messages": [{"role": "user", "content": "count these four words"}],
        }
    )
    headers = {"authorization": f"Bearer {GATEWAY_KEY}"}
    async with gateway(tmp_path, with_keys=True) as url, httpx.AsyncClient() as client:
        count_url = url + "/model/claude-haiku-4-5/count-tokens"
        converse = await client.post(
            count_url, json={"input": {"converse": {"messages": messages}}}, headers=headers
        )
        invoke = await client.post(
            count_url,
            json={"input": {"invokeModel": {"body": base64.b64encode(invoke_body).decode()}}},
            headers=headers,
        )
        broken = await client.post(
            count_url, json={"input": {"invokeModel": {"body": "%%%"}}}, headers=headers
        )
    # Both translated to Anthropic's count_tokens (the only route of the model counts).
    assert converse.json() == invoke.json() == {"inputTokens": 4}
    assert converse.headers["x-llm-router-provider"] == "anthropic"
    assert broken.status_code == 400
    assert "input.invokeModel.body" in broken.json()["message"]  # Bedrock's error shape
    assert broken.headers["x-amzn-errortype"].startswith("ValidationException")
