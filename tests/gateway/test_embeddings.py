"""Embeddings through a gateway started from a config file, over real sockets: the official
openai and google-genai SDKs as clients (float and base64, with and without gateway keys),
Bedrock Titan behind the gateway, errors in each caller's format, body limits, and tokens
and cost in the access log and the metrics."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import openai
import orjson
import pytest
import trio
from google import genai
from google.genai import errors as genai_errors
from google.genai import types as genai_types
from prometheus_client.parser import text_string_to_metric_families

from llm_router.gateway.access_log import AccessLog
from llm_router.gateway.config import build_router, load_config
from llm_router.gateway.keys import GatewayKeys
from llm_router.serve import open_gateway
from llm_router_testing.fake import FAKE_KEYS, FakeProvider, open_fake_provider
from llm_router_testing.fake.embeddings import fake_vector

GATEWAY_KEY = "gw-embed-key-0123456789"
SMALL = "text-embedding-3-small"
GEMINI = "gemini-embedding-001"


@asynccontextmanager
async def gateway(
    tmp_path: Path, *, with_keys: bool, log: list[str] | None = None
) -> AsyncIterator[tuple[str, FakeProvider]]:
    async with open_fake_provider() as fake:
        path = tmp_path / "router.toml"
        path.write_text(
            f"""
[gateway]
api_keys_env = "GW_EMBED_KEYS"
max_body_bytes = 20000
forward_headers = ["x-fake-"]

[providers.openai]
kind = "openai"
base_url = "{fake.url}/v1"
api_key_env = "GW_EMBED_OPENAI"

[providers.google]
kind = "google"
base_url = "{fake.url}"
api_key_env = "GW_EMBED_GOOGLE"

[providers.bedrock]
kind = "bedrock"
region = "us-east-1"
base_url = "{fake.url}"

[models.house-embed]
routes = [{{ provider = "bedrock", model = "amazon.titan-embed-text-v2:0" }}]
"""
        )
        env = {
            "GW_EMBED_OPENAI": FAKE_KEYS["openai"],
            "GW_EMBED_GOOGLE": FAKE_KEYS["google"],
            "AWS_BEARER_TOKEN_BEDROCK": FAKE_KEYS["bedrock"],
        }
        if with_keys:
            env["GW_EMBED_KEYS"] = GATEWAY_KEY
        config = load_config(path)
        keys = GatewayKeys.from_env(config.gateway.api_keys_env, env)
        access_log = AccessLog(log.append) if log is not None else None
        async with open_gateway(
            build_router(config, env), settings=config.gateway, keys=keys, access_log=access_log
        ) as url:
            yield url, fake


async def in_thread(function: Any) -> Any:
    return await trio.to_thread.run_sync(function)


@pytest.mark.parametrize("with_keys", [True, False])
async def test_the_openai_sdk_embeds_through_the_gateway(tmp_path: Path, with_keys: bool) -> None:
    async with gateway(tmp_path, with_keys=with_keys) as (url, _):
        client = openai.OpenAI(base_url=url + "/v1", api_key=GATEWAY_KEY, max_retries=0)

        def calls() -> tuple[Any, Any, Any]:
            default = client.embeddings.create(model=SMALL, input=["one", "two"])
            floats = client.embeddings.create(
                model=GEMINI, input="three", encoding_format="float", dimensions=8
            )
            titan = client.embeddings.create(model="house-embed", input=["four", "five"])
            return default, floats, titan

        default, floats, titan = await in_thread(calls)
        assert [d.embedding for d in default.data] == [
            fake_vector("one", 1536, SMALL),
            fake_vector("two", 1536, SMALL),
        ]
        assert floats.data[0].embedding == fake_vector("three", 8, GEMINI)
        assert floats.usage.prompt_tokens == 2  # estimated: the Gemini API reports none
        titan_model = "amazon.titan-embed-text-v2:0"
        assert [d.embedding for d in titan.data] == [
            fake_vector(t, 1024, titan_model) for t in ("four", "five")
        ]
        with pytest.raises(openai.BadRequestError) as caught:
            await in_thread(lambda: client.embeddings.create(model="gpt-4o", input="x"))
        assert "chat model" in caught.value.message
        with pytest.raises(openai.BadRequestError, match="input"):
            await in_thread(lambda: client.embeddings.create(model=SMALL, input=[]))
        if with_keys:
            wrong = openai.OpenAI(base_url=url + "/v1", api_key="wrong", max_retries=0)
            with pytest.raises(openai.AuthenticationError):
                await in_thread(lambda: wrong.embeddings.create(model=SMALL, input="x"))


@pytest.mark.parametrize("with_keys", [True, False])
async def test_the_google_genai_sdk_embeds_through_the_gateway(
    tmp_path: Path, with_keys: bool
) -> None:
    async with gateway(tmp_path, with_keys=with_keys) as (url, _):
        options = genai_types.HttpOptions(base_url=url, api_version="v1beta")
        client = genai.Client(api_key=GATEWAY_KEY, http_options=options)
        config = genai_types.EmbedContentConfig(output_dimensionality=16)

        def calls() -> tuple[Any, Any]:
            gemini = client.models.embed_content(model=GEMINI, contents=["a", "b"], config=config)
            openai_model = client.models.embed_content(model=SMALL, contents="c", config=config)
            return gemini, openai_model

        gemini, openai_model = await in_thread(calls)
        assert gemini.embeddings is not None and openai_model.embeddings is not None
        assert [e.values for e in gemini.embeddings] == [
            fake_vector("a", 16, GEMINI),
            fake_vector("b", 16, GEMINI),
        ]
        assert [e.values for e in openai_model.embeddings] == [fake_vector("c", 16, SMALL)]
        with pytest.raises(genai_errors.ClientError) as caught:
            await in_thread(lambda: client.models.embed_content(model="gpt-4o", contents="x"))
        assert caught.value.code == 400 and "chat model" in (caught.value.message or "")
        if with_keys:
            wrong = genai.Client(api_key="wrong", http_options=options)
            with pytest.raises(genai_errors.ClientError) as refused:
                await in_thread(lambda: wrong.models.embed_content(model=GEMINI, contents="x"))
            assert refused.value.code == 401


async def test_embed_content_tokens_cost_limits_and_metrics(tmp_path: Path) -> None:
    log: list[str] = []
    async with (
        gateway(tmp_path, with_keys=False, log=log) as (url, _),
        httpx.AsyncClient() as http,
    ):
        one = await http.post(
            url + f"/v1beta/models/{GEMINI}:embedContent",
            json={"content": {"parts": [{"text": "hello there"}]}},
        )
        small = await http.post(
            url + "/v1/embeddings", json={"model": SMALL, "input": "count these words"}
        )
        too_big = await http.post(
            url + "/v1/embeddings", json={"model": SMALL, "input": "x" * 30_000}
        )
        bad_type = await http.post(url + "/v1/embeddings", json={"model": SMALL, "input": 5})
        scraped = await http.get(url + "/metrics")
    assert one.json() == {"embedding": {"values": fake_vector("hello there", 3072, GEMINI)}}
    assert small.json()["usage"] == {"prompt_tokens": 5, "total_tokens": 5}
    assert too_big.status_code == 413 and "error" in too_big.json()
    assert bad_type.status_code == 400
    assert bad_type.json()["error"]["message"].startswith("input: expected a string")
    lines = [orjson.loads(line) for line in log]
    embeds = [line for line in lines if line["operation"] == "embed"]
    assert [(e["status"], e["format"]) for e in embeds] == [
        (200, "google"),
        (200, "openai"),
        (413, "openai"),
        (400, "openai"),
    ]
    assert embeds[1]["route"] == f"openai/{SMALL}" and embeds[1]["input_tokens"] == 5
    assert embeds[1]["cost_usd"] == pytest.approx(5 * 0.02 / 1e6)
    assert not any(FAKE_KEYS["openai"] in line for line in log)
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(scraped.text)
        for s in family.samples
    }
    ok = (("format", "openai"), ("operation", "embed"), ("status", "200"))
    assert samples[("llm_router_gateway_requests_total", ok)] == 1
    small_model = ("model", SMALL)
    assert samples[("llm_router_gateway_tokens_total", (("direction", "input"), small_model))] == 5
    assert samples[("llm_router_gateway_cost_dollars_total", (small_model,))] > 0


async def test_a_caller_hanging_up_cancels_every_upstream_embedding_call(tmp_path: Path) -> None:
    body = {"model": "house-embed", "input": ["a", "b", "c"]}  # Titan: three upstream calls
    log: list[str] = []
    async with (
        gateway(tmp_path, with_keys=False, log=log) as (url, fake),
        httpx.AsyncClient() as http,
    ):
        async with trio.open_nursery() as nursery:

            async def call() -> None:
                await http.post(url + "/v1/embeddings", json=body, headers={"x-fake-ttfb": "30s"})

            nursery.start_soon(call)
            with trio.fail_after(10):
                while sum(e.first_byte_at is not None for e in fake.journal) < 3:  # noqa: ASYNC110
                    await trio.sleep(0.005)
            nursery.cancel_scope.cancel()
        with trio.fail_after(10):
            while sum(e.disconnected for e in fake.journal) < 3:  # noqa: ASYNC110
                await trio.sleep(0.005)
            while not log:  # noqa: ASYNC110 (the gateway writes the line as the call unwinds)
                await trio.sleep(0.005)
    (line,) = [orjson.loads(entry) for entry in log]
    assert line["operation"] == "embed" and line["disconnected"] is True
