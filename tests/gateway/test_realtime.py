"""Realtime sessions through the gateway: official SDK clients on one side, the fake on the other."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import orjson
import pytest
import trio
from google import genai
from google.genai import types as genai_types
from trio_websocket import ConnectionClosed, ConnectionRejected, open_websocket_url

from llm_router import GoogleProvider, OpenAIProvider, RateLimitPolicy, Router
from llm_router.gateway.keys import GatewayKeys
from llm_router.serve import open_gateway
from llm_router_testing.fake import FAKE_KEYS, FakeProvider, open_fake_provider

from ._realtime_clients import on_asyncio, openai_turn

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
        .add_model_route("gemini-live-2.5-flash", "google")
        .add_model_route("live", "google", "gemini-live-2.5-flash")
        .forward_headers("x-fake-")
        .build()
    )


@pytest.mark.parametrize("model", ["gpt-realtime", "live"])
async def test_openai_sdk_through_the_gateway(fake: FakeProvider, model: str) -> None:
    async with open_gateway(_router(fake), keys=KEYS) as url:
        text = await on_asyncio(lambda: openai_turn(url, model))
        entry = await fake.journal.wait_for(lambda e: e.method == "WEBSOCKET" and e.done)
        async with httpx.AsyncClient() as client:
            with trio.fail_after(60):  # a guard against a hang, not a measure of speed
                while True:  # the gateway counts the session once its relay has ended
                    metrics = (await client.get(url + "/metrics")).text
                    if "llm_router_gateway_realtime_sessions_total{" in metrics:
                        break
                    await trio.sleep(0.01)
    assert text == "You said: hello"
    assert (
        'llm_router_gateway_realtime_sessions_total{format="openai-realtime",outcome="closed"} 1.0'
        in metrics
    )
    assert 'llm_router_gateway_realtime_frames_total{direction="upstream"} 3.0' in metrics
    assert "llm_router_gateway_realtime_sessions_open 0.0" in metrics
    assert entry.closed_by == "client"  # the SDK's close reached the provider
    assert "client-key" not in str(entry.headers)


async def test_genai_sdk_through_the_gateway(fake: FakeProvider) -> None:
    async def main(url: str) -> str:
        client = genai.Client(
            api_key="client-key", http_options=genai_types.HttpOptions(base_url=url)
        )
        ws_url = url.replace("http://", "ws://")
        client._api_client._websocket_base_url = lambda http_options=None: ws_url  # type: ignore[method-assign]
        client._api_client._websocket_ssl_ctx = {}
        config = genai_types.LiveConnectConfig(response_modalities=[genai_types.Modality.TEXT])
        async with client.aio.live.connect(model="gemini-live-2.5-flash", config=config) as s:
            await s.send_client_content(
                turns=genai_types.Content(role="user", parts=[genai_types.Part(text="hi")]),
                turn_complete=True,
            )
            return "".join([m.text or "" async for m in s.receive()])

    async with open_gateway(_router(fake), keys=KEYS) as url:
        text = await on_asyncio(lambda: main(url))
    assert text == "You said: hi"
    setup = fake.journal[0]
    assert setup.provider == "google" and "[redacted]" in setup.headers["x-goog-api-key"]


async def test_upstream_close_reaches_the_client_with_its_code(fake: FakeProvider) -> None:
    async with open_gateway(_router(fake), keys=KEYS) as url:
        ws_url = url.replace("http://", "ws://") + "/v1/realtime?model=gpt-realtime"
        headers = [
            ("authorization", "Bearer client-key"),
            ("x-fake-close-code", "4003"),
            ("x-fake-drop-after-events", "1"),
        ]
        raw = [(k.encode(), v.encode()) for k, v in headers]
        async with open_websocket_url(ws_url, extra_headers=raw) as ws:
            assert b"session.created" in (await ws.get_message()).encode()
            with pytest.raises(ConnectionClosed) as caught:
                await ws.get_message()
    assert caught.value.reason.code == 4003


async def test_unknown_model_is_refused_before_the_upgrade(fake: FakeProvider) -> None:
    async with open_gateway(_router(fake), keys=KEYS) as url:
        ws_url = url.replace("http://", "ws://") + "/v1/realtime?model=nope"
        good = [(b"authorization", b"Bearer client-key")]
        with pytest.raises(ConnectionRejected) as caught:
            async with open_websocket_url(ws_url, extra_headers=good):
                pass  # pragma: no cover
    assert caught.value.status_code == 404
    error = orjson.loads(caught.value.body or b"{}")["error"]
    assert "unknown model 'nope'" in error["message"]
    assert error["type"] == "invalid_request_error" and error["code"] == "model_not_found"


@pytest.mark.parametrize("key", [None, "wrong-key"])
async def test_gateway_keys_are_checked_before_the_upgrade(
    fake: FakeProvider, key: str | None
) -> None:
    headers = [] if key is None else [(b"authorization", f"Bearer {key}".encode())]
    async with open_gateway(_router(fake), keys=KEYS) as url:
        ws_url = url.replace("http://", "ws://") + "/v1/realtime?model=gpt-realtime"
        with pytest.raises(ConnectionRejected) as caught:
            async with open_websocket_url(ws_url, extra_headers=headers):
                pass  # pragma: no cover
    assert caught.value.status_code == 401
    assert not [e for e in fake.journal if e.method == "WEBSOCKET"]  # no upstream session


async def test_realtime_contract_checks_pass_through_the_gateway(fake: FakeProvider) -> None:
    from llm_router_testing.contract.realtime import run_realtime_checks

    async with open_gateway(_router(fake), keys=KEYS) as url:
        results = await run_realtime_checks(
            url, api_key="client-key", fake_url=fake.url, bad_key="wrong-key"
        )
    assert {r.name: r.status for r in results} == {
        "session_round_trip": "pass",
        "tool_call": "pass",
        "client_close": "pass",
        "upstream_close": "pass",
        "keys_refused": "pass",
    }, results


async def test_realtime_contract_checks_catch_a_gateway_that_lets_wrong_keys_in(
    fake: FakeProvider,
) -> None:
    from llm_router_testing.contract.realtime import run_realtime_checks

    async with open_gateway(_router(fake)) as url:  # no gateway keys configured
        results = await run_realtime_checks(url, fake_url=fake.url, bad_key="wrong-key")
    statuses = {r.name: r.status for r in results}
    assert statuses["keys_refused"] == "fail" and statuses["session_round_trip"] == "pass"


GEMINI_LIVE_PATH = (
    "/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent?key=client-key"
)


@pytest.mark.parametrize(
    ("model", "named"),
    [("models/nope", "'nope'"), ("models/gpt-4o-mini", "gpt-4o-mini")],  # unknown; not live
)
async def test_a_live_setup_no_route_serves_is_closed_1008_naming_the_model(
    fake: FakeProvider, model: str, named: str
) -> None:
    # What Gemini Live itself does with a model it does not serve live: a 1008 close whose
    # reason names the model, not an internal-error close.
    router = _router(fake)
    async with open_gateway(router, keys=KEYS) as url:
        ws_url = url.replace("http://", "ws://") + GEMINI_LIVE_PATH
        async with open_websocket_url(ws_url) as ws:
            await ws.send_message(orjson.dumps({"setup": {"model": model}}).decode())
            with trio.fail_after(30), pytest.raises(ConnectionClosed) as caught:
                await ws.get_message()
    assert caught.value.reason.code == 1008
    assert named in (caught.value.reason.reason or "")
    assert not [e for e in fake.journal if e.method == "WEBSOCKET"]  # nothing dialled upstream


async def test_a_close_reason_is_cut_to_what_a_close_frame_carries(fake: FakeProvider) -> None:
    model = "models/" + "ü" * 200  # 400 bytes of UTF-8 in the error message alone
    async with open_gateway(_router(fake), keys=KEYS) as url:
        ws_url = url.replace("http://", "ws://") + GEMINI_LIVE_PATH
        async with open_websocket_url(ws_url) as ws:
            await ws.send_message(orjson.dumps({"setup": {"model": model}}).decode())
            with trio.fail_after(30), pytest.raises(ConnectionClosed) as caught:
                await ws.get_message()
    reason = caught.value.reason.reason or ""
    assert caught.value.reason.code == 1008
    assert "üü" in reason and len(reason.encode()) <= 123


async def test_a_refused_response_create_gets_an_error_event_and_the_socket_stays_open(
    fake: FakeProvider,
) -> None:
    router = (
        Router.builder()
        .add_provider("openai", OpenAIProvider(base_url=fake.url + "/v1"))
        .add_api_key("openai", FAKE_KEYS["openai"])
        .add_model_route("gpt-4o-mini", "openai")
        .build()
    )
    async with open_gateway(router, keys=KEYS) as url:
        ws_url = url.replace("http://", "ws://") + "/v1/responses"
        good = [(b"authorization", b"Bearer client-key")]
        async with open_websocket_url(ws_url, extra_headers=good) as ws:
            create = {"type": "response.create", "model": "nope", "input": "hi"}
            await ws.send_message(orjson.dumps(create).decode())
            with trio.fail_after(30):
                error = orjson.loads(await ws.get_message())
            assert error["type"] == "error" and error["status"] == 404
            assert error["error"]["code"] == "model_not_found"
            assert "'nope'" in error["error"]["message"]
            # The same socket takes the next, valid, response.create.
            await ws.send_message(orjson.dumps({**create, "model": "gpt-4o-mini"}).decode())
            kinds = []
            with trio.fail_after(30):
                while not kinds or kinds[-1] != "response.completed":
                    kinds.append(orjson.loads(await ws.get_message())["type"])
        entry = await fake.journal.wait_for(lambda e: e.method == "WEBSOCKET" and e.done)
    assert kinds[0] == "response.created" and "response.output_text.delta" in kinds
    assert entry.closed_by == "client"  # closing the client socket closed the upstream one
    assert len([e for e in fake.journal if e.method == "WEBSOCKET"]) == 1


async def test_realtime_sessions_count_against_the_callers_own_key_limit(
    fake: FakeProvider,
) -> None:
    # One session a minute per gateway key: the second session of key A is refused before the
    # upgrade (429 with retry-after), key B still opens one; as HTTP calls are limited per key.
    router = (
        Router.builder()
        .add_provider("openai", OpenAIProvider(base_url=fake.url + "/v1"))
        .add_api_key("openai", FAKE_KEYS["openai"])
        .add_model_route("gpt-realtime", "openai")
        .with_rate_limits(RateLimitPolicy(rpm=1, on_limit="fail"), scope="key")
        .build()
    )
    keys = GatewayKeys(["key-a-0123456789", "key-b-0123456789"])

    async def session(url: str, key: str) -> None:
        ws_url = url.replace("http://", "ws://") + "/v1/realtime?model=gpt-realtime"
        headers = [(b"authorization", f"Bearer {key}".encode())]
        async with open_websocket_url(ws_url, extra_headers=headers) as ws:
            assert b"session.created" in (await ws.get_message()).encode()

    async with open_gateway(router, keys=keys) as url:
        await session(url, "key-a-0123456789")
        with pytest.raises(ConnectionRejected) as refused:
            await session(url, "key-a-0123456789")
        await session(url, "key-b-0123456789")
    assert refused.value.status_code == 429
    assert dict(refused.value.headers or [])[b"retry-after"]
    opened = [e for e in fake.journal if e.method == "WEBSOCKET"]
    assert len(opened) == 2  # the refused session never reached the provider
