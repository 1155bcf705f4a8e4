"""The gateway's metrics count realtime sessions' tokens and dollars as they do calls'.

A client speaks OpenAI Realtime to the gateway over a real loopback WebSocket; the gateway's
session runs against the fake server. Once the relay has ended, `/metrics` carries the
session's tokens (per model and direction, and per modality) and its cost.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import orjson
import pytest
import trio
from trio_websocket import open_websocket_url

from llm_router import GoogleProvider, OpenAIProvider, Router
from llm_router.catalog import Catalog
from llm_router.gateway.keys import GatewayKeys
from llm_router.serve import open_gateway
from llm_router_testing.fake import FAKE_KEYS, FakeProvider, open_fake_provider

KEYS = GatewayKeys(["client-key"])


@pytest.fixture
async def fake() -> AsyncIterator[FakeProvider]:
    async with open_fake_provider(seed=1) as provider:
        yield provider


def _router(fake: FakeProvider) -> Router:
    return (
        Router.builder()
        .add_provider("openai", OpenAIProvider(base_url=fake.url + "/v1"))
        .add_api_key("openai", FAKE_KEYS["openai"])
        .add_provider("google", GoogleProvider(base_url=fake.url))
        .add_api_key("google", FAKE_KEYS["google"])
        .add_model_route("gpt-realtime", "openai")
        .add_model_route("live", "google", "gemini-live-2.5-flash")
        .build()
    )


async def _metrics(url: str, mark: str) -> str:
    async with httpx.AsyncClient() as client:
        with trio.fail_after(60):  # a guard against a hang, not a measure of speed
            while True:  # the gateway counts the session once its relay has ended
                text = (await client.get(url + "/metrics")).text
                if mark in text:
                    return text
                await trio.sleep(0.01)


def _value(metrics: str, sample: str) -> float:
    (line,) = [line for line in metrics.splitlines() if line.startswith(sample + " ")]
    return float(line.rsplit(" ", 1)[1])


async def test_a_realtime_session_counts_its_tokens_and_dollars(fake: FakeProvider) -> None:
    async with open_gateway(_router(fake), keys=KEYS) as url:
        ws_url = url.replace("http://", "ws://") + "/v1/realtime?model=gpt-realtime"
        auth = [(b"authorization", b"Bearer client-key")]
        async with open_websocket_url(ws_url, extra_headers=auth) as ws:
            assert b"session.created" in (await ws.get_message()).encode()
            update = {"type": "session.update", "session": {"type": "realtime"}}
            await ws.send_message(orjson.dumps(update).decode())
            item = {
                "type": "conversation.item.create",
                "item": {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": "hello"}],
                },
            }
            await ws.send_message(orjson.dumps(item).decode())
            await ws.send_message('{"type": "response.create"}')
            while True:
                event = orjson.loads(await ws.get_message())
                if event["type"] == "response.done":
                    usage = event["response"]["usage"]
                    break
        metrics = await _metrics(url, "llm_router_gateway_realtime_sessions_total{")
    spec = Catalog.default().get("gpt-realtime")
    assert spec.output_audio_cost_per_mil_tokens is not None
    out_audio = usage["output_token_details"]["audio_tokens"]
    assert out_audio > 0  # the session answers in audio by default
    model = 'model="gpt-realtime"'
    assert (
        _value(metrics, f'llm_router_gateway_tokens_total{{direction="input",{model}}}')
        == (usage["input_tokens"])
    )
    audio = (
        f'llm_router_gateway_realtime_tokens_total{{direction="output",modality="audio",{model}}}'
    )
    assert _value(metrics, audio) == out_audio
    expected = (
        usage["input_tokens"] * spec.input_cost_per_mil_tokens  # type: ignore[operator]
        + out_audio * spec.output_audio_cost_per_mil_tokens
    ) / 1e6
    dollars = _value(metrics, f"llm_router_gateway_cost_dollars_total{{{model}}}")
    assert dollars == pytest.approx(expected)
