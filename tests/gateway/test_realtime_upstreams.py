"""The gateway's realtime endpoints over Azure OpenAI and Vertex AI upstreams, and translation
both ways: official SDK clients on one side, the fake (checking each provider's credentials
before the upgrade) on the other."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import openai
import pytest
from google import genai
from google.genai import types as genai_types
from trio_websocket import ConnectionRejected, open_websocket_url

from llm_router import AzureProvider, OpenAIProvider, Router, VertexProvider
from llm_router.auth import OAuth
from llm_router.gateway.config import build_router, load_config
from llm_router.gateway.keys import GatewayKeys
from llm_router.serve import open_gateway
from llm_router_testing.fake import FAKE_KEYS, FakeProvider, open_fake_provider

from ._realtime_clients import on_asyncio, openai_turn

KEYS = GatewayKeys(["client-key"])
GOOD = [(b"authorization", b"Bearer client-key")]


@pytest.fixture
async def fake() -> AsyncIterator[FakeProvider]:
    async with open_fake_provider(seed=1) as provider:
        yield provider


def _router(fake: FakeProvider, *, azure_key: str = FAKE_KEYS["azure"]) -> Router:
    """Azure first for gpt-realtime, then the catalog's OpenAI; Vertex for Gemini Live."""
    return (
        Router.builder()
        .add_provider("azure", AzureProvider(fake.url, deployments={"gpt-realtime": "rt-prod"}))
        .add_api_key("azure", azure_key)
        .add_provider(
            "vertex",
            VertexProvider("proj-1", "europe-west4", base_url=fake.url),
            auth=OAuth(FAKE_KEYS["vertex"]),
        )
        .add_provider("openai", OpenAIProvider(base_url=fake.url + "/v1"))
        .add_api_key("openai", FAKE_KEYS["openai"])
        .add_model_route("gpt-realtime", "azure")  # before the catalog's openai
        .add_model_route("live-on-openai", "openai", "gpt-realtime-mini")
        .build()
    )


async def _genai_turn(url: str, model: str) -> str:
    client = genai.Client(api_key="client-key", http_options=genai_types.HttpOptions(base_url=url))
    ws_url = url.replace("http://", "ws://")
    client._api_client._websocket_base_url = lambda http_options=None: ws_url  # type: ignore[method-assign]
    client._api_client._websocket_ssl_ctx = {}
    config = genai_types.LiveConnectConfig(response_modalities=[genai_types.Modality.TEXT])
    async with client.aio.live.connect(model=model, config=config) as session:
        await session.send_client_content(
            turns=genai_types.Content(role="user", parts=[genai_types.Part(text="hi")]),
            turn_complete=True,
        )
        return "".join([m.text or "" async for m in session.receive()])


async def test_openai_sdk_through_the_gateway_to_azure(fake: FakeProvider) -> None:
    async with open_gateway(_router(fake), keys=KEYS) as url:
        text = await on_asyncio(lambda: openai_turn(url, "gpt-realtime"))
        entry = await fake.journal.wait_for(lambda e: e.method == "WEBSOCKET" and e.done)
    assert text == "You said: hello"
    assert (entry.provider, entry.path, entry.query) == (
        "azure",
        "/openai/v1/realtime",
        "model=rt-prod",
    )
    assert "[redacted]" in entry.headers["api-key"] and "authorization" not in entry.headers
    assert entry.closed_by == "client"


async def test_genai_sdk_through_the_gateway_to_vertex(fake: FakeProvider) -> None:
    async with open_gateway(_router(fake), keys=KEYS) as url:
        text = await on_asyncio(lambda: _genai_turn(url, "gemini-2.0-flash-live-001"))
        entry = await fake.journal.wait_for(lambda e: e.method == "WEBSOCKET" and e.done)
    assert text == "You said: hi"
    assert entry.provider == "vertex-google" and "client-key" not in str(entry.headers)
    setup = json.loads(entry.body)["setup"]
    assert setup["model"] == (
        "projects/proj-1/locations/europe-west4/publishers/google/models/gemini-2.0-flash-live-001"
    )


async def test_genai_sdk_through_the_gateway_to_an_openai_route(fake: FakeProvider) -> None:
    """Gemini Live from the client, OpenAI Realtime to the provider (the other direction,
    OpenAI to Gemini, is `test_realtime.py::test_openai_sdk_through_the_gateway[live]`)."""
    async with open_gateway(_router(fake), keys=KEYS) as url:
        text = await on_asyncio(lambda: _genai_turn(url, "live-on-openai"))
        entry = await fake.journal.wait_for(lambda e: e.method == "WEBSOCKET" and e.done)
    assert text == "You said: hi"
    assert (entry.provider, entry.format, entry.model) == (
        "openai",
        "openai-realtime",
        "gpt-realtime-mini",
    )


async def test_a_wrong_upstream_key_fails_over_to_the_next_upstream(fake: FakeProvider) -> None:
    async with open_gateway(_router(fake, azure_key="azure-wrong-key"), keys=KEYS) as url:
        text = await on_asyncio(lambda: openai_turn(url, "gpt-realtime"))
        await fake.journal.wait_for(lambda _: all(e.done for e in fake.journal))
    assert text == "You said: hello"
    assert [(e.provider, e.status, e.events_sent > 0) for e in fake.journal] == [
        ("azure", 401, False),  # refused before the upgrade: no socket, no frame
        ("openai", 101, True),
    ]


async def test_a_wrong_upstream_key_is_refused_before_either_upgrade(fake: FakeProvider) -> None:
    azure_only = (
        Router.builder()
        .add_provider("azure", AzureProvider(fake.url))
        .add_api_key("azure", "azure-wrong-key")
        .build()
    )
    async with open_gateway(azure_only, keys=KEYS) as url:
        ws_url = url.replace("http://", "ws://") + "/v1/realtime?model=gpt-realtime"
        with pytest.raises(ConnectionRejected) as caught:
            async with open_websocket_url(ws_url, extra_headers=GOOD):
                pass  # pragma: no cover
    refused = caught.value
    body = (refused.body or b"").decode()
    # The client's key was fine: the gateway's upstream refused, so "unavailable", not 401.
    assert refused.status_code == 503 and "refused the realtime upgrade (401)" in body
    assert "azure-wrong-key" not in body and "azure-wrong-key" not in str(refused.headers)
    assert [(e.status, e.events_sent) for e in fake.journal] == [(401, 0)]


async def test_a_chat_model_is_refused_before_the_upgrade_naming_it(fake: FakeProvider) -> None:
    async with open_gateway(_router(fake), keys=KEYS) as url:
        ws_url = url.replace("http://", "ws://") + "/v1/realtime?model=gpt-4o"
        with pytest.raises(ConnectionRejected) as caught:
            async with open_websocket_url(ws_url, extra_headers=GOOD):
                pass  # pragma: no cover
    assert caught.value.status_code == 400
    assert "model 'gpt-4o' is not a realtime model" in (caught.value.body or b"").decode()
    assert not list(fake.journal)


async def test_azure_openai_sdk_dials_the_gateway_as_it_dials_azure(fake: FakeProvider) -> None:
    async def main(url: str) -> str:
        client = openai.AsyncAzureOpenAI(
            azure_endpoint=url,
            api_key="client-key",  # sent as `api-key`
            api_version="2025-04-01-preview",
            websocket_base_url=url.replace("http://", "ws://") + "/openai",
        )
        async with client.realtime.connect(model="gpt-realtime") as conn:
            await conn.session.update(session={"type": "realtime", "output_modalities": ["text"]})
            await conn.response.create()
            async for event in conn:
                if event.type == "response.done":
                    return event.type
        return ""  # pragma: no cover

    async with open_gateway(_router(fake), keys=KEYS) as url:
        assert await on_asyncio(lambda: main(url)) == "response.done"
        entry = await fake.journal.wait_for(lambda e: e.method == "WEBSOCKET" and e.done)
    assert entry.provider == "azure" and entry.query == "model=rt-prod"


async def test_a_vertex_live_client_dials_the_gateway_as_it_dials_vertex(
    fake: FakeProvider,
) -> None:
    path = "/ws/google.cloud.aiplatform.v1beta1.LlmBidiService/BidiGenerateContent"
    model = "projects/p/locations/us-central1/publishers/google/models/gemini-2.0-flash-live-001"
    async with open_gateway(_router(fake), keys=KEYS) as url:
        async with open_websocket_url(
            url.replace("http://", "ws://") + path, extra_headers=GOOD
        ) as ws:
            await ws.send_message(json.dumps({"setup": {"model": model}}))
            assert json.loads(await ws.get_message()) == {"setupComplete": {}}
        entry = await fake.journal.wait_for(lambda e: e.method == "WEBSOCKET" and e.done)
    # The gateway's own Vertex route, with its own project and location and token.
    assert entry.provider == "vertex-google" and "client-key" not in str(entry.headers)
    assert json.loads(entry.body)["setup"]["model"].startswith(
        "projects/proj-1/locations/europe-west4/"
    )


async def test_azure_and_vertex_realtime_upstreams_from_a_config_file(tmp_path: Path) -> None:
    """`llm-router serve --config`: the realtime upstreams as router.toml declares them."""
    async with open_fake_provider(seed=1) as fake:
        path = tmp_path / "router.toml"
        path.write_text(
            f"""
[gateway]
api_keys_env = "GW_KEYS"

[providers.azure]
kind = "azure"
endpoint = "{fake.url}"
api_version = "2025-04-01-preview"
ad_token_env = "GW_AZURE_TOKEN"
deployments = {{ gpt-realtime = "rt-prod" }}

[providers.vertex]
kind = "vertex"
project = "proj-9"
location = "us-central1"
base_url = "{fake.url}"
access_token_env = "GW_VERTEX_TOKEN"
"""
        )
        env = {
            "GW_KEYS": "client-key",
            "GW_AZURE_TOKEN": "azure-fake-entra-token",
            "GW_VERTEX_TOKEN": FAKE_KEYS["vertex"],
        }
        config = load_config(path)
        keys = GatewayKeys.from_env(config.gateway.api_keys_env, env)
        router = build_router(config, env)
        async with open_gateway(router, settings=config.gateway, keys=keys) as url:
            ws_root = url.replace("http://", "ws://")
            async with open_websocket_url(
                ws_root + "/v1/realtime?model=gpt-realtime", extra_headers=GOOD
            ) as ws:
                assert json.loads(await ws.get_message())["type"] == "session.created"
            live = "/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent"
            async with open_websocket_url(ws_root + live, extra_headers=GOOD) as ws:
                setup = {"setup": {"model": "models/gemini-2.0-flash-live-001"}}
                await ws.send_message(json.dumps(setup))
                assert json.loads(await ws.get_message()) == {"setupComplete": {}}
            await fake.journal.wait_for(lambda _: len(fake.journal) == 2 and fake.journal[1].done)
    azure, vertex = fake.journal
    assert (azure.provider, azure.path, azure.status) == ("azure", "/openai/realtime", 101)
    assert sorted(azure.query.split("&")) == [
        "api-version=2025-04-01-preview",
        "deployment=rt-prod",
    ]
    assert azure.headers["authorization"].startswith("Bearer ")  # the Entra token
    assert (vertex.provider, vertex.status) == ("vertex-google", 101)
    assert json.loads(vertex.body)["setup"]["model"].startswith(
        "projects/proj-9/locations/us-central1/"
    )
