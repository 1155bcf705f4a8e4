"""What results carry besides bytes: usage, cost and text, for calls and streams, and hooks.

Dollars are hand-computed from the bundled catalog's prices (gpt-4o-mini: $0.15 in, $0.075
cached, $0.60 out; claude-sonnet-4-5: $3 in, $0.30 cache read, $3.75 cache write, $15 out).
"""

from __future__ import annotations

import httpx
import pytest

from llm_router import (
    AnthropicProvider,
    Hooks,
    OpenAIProvider,
    ProviderFormat,
    Router,
    StreamError,
    StreamEvent,
)
from llm_router.resilience import AttemptOutcome, RequestFinished
from llm_router.universal import Usage
from llm_router_testing.fake import FAKE_KEYS, FakeProvider

CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "ping pong"}]}
MINI = (0.15, 0.075, 0.60)


def _router(fake: FakeProvider, hooks: Hooks | None = None) -> Router:
    builder = (
        Router.builder()
        .load_models()
        .add_provider("openai", OpenAIProvider(base_url=fake.url + "/v1"))
        .add_api_key("openai", FAKE_KEYS["openai"])
        .add_provider("anthropic", AnthropicProvider(base_url=fake.url))
        .add_api_key("anthropic", FAKE_KEYS["anthropic"])
        .forward_headers("x-fake-")
    )
    if hooks is not None:
        builder.with_hooks(hooks)
    return builder.build()


def _mini_cost(usage: Usage) -> float:
    assert usage.input_tokens is not None and usage.output_tokens is not None
    cached = usage.cache_read_tokens or 0
    price_in, price_cached, price_out = MINI
    return (
        (usage.input_tokens - cached) * price_in
        + cached * price_cached
        + usage.output_tokens * price_out
    ) / 1e6


async def test_a_passthrough_result_has_usage_cost_and_text(fake: FakeProvider) -> None:
    async with _router(fake) as router:
        result = await router.complete(CHAT, ProviderFormat.OPENAI)
    wire = result.json()["usage"]
    assert result.usage is not None
    assert result.usage.input_tokens == wire["prompt_tokens"] > 0
    assert result.usage.output_tokens == wire["completion_tokens"] > 0
    assert result.cost == pytest.approx(_mini_cost(result.usage))
    assert result.text == "You said: ping pong" == result.json()["choices"][0]["message"]["content"]


async def test_a_translated_result_takes_usage_from_the_providers_answer(
    fake: FakeProvider,
) -> None:
    body = dict(CHAT, max_tokens=50)
    async with _router(fake) as router:
        result = await router.complete(body, ProviderFormat.ANTHROPIC)
    assert result.provider_format is ProviderFormat.OPENAI
    assert result.json()["type"] == "message"
    assert result.usage is not None and result.usage.input_tokens
    assert result.cost == pytest.approx(_mini_cost(result.usage))
    assert result.text == "You said: ping pong"


async def test_cached_anthropic_usage_is_priced_once_per_token() -> None:
    answer = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5",
        "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}],
        "stop_reason": "end_turn",
        "usage": {
            "input_tokens": 100,
            "cache_creation_input_tokens": 2000,
            "cache_read_input_tokens": 10_000,
            "output_tokens": 500,
        },
    }
    router = (
        Router.builder()
        .load_models()
        .add_provider("anthropic", AnthropicProvider(base_url="http://upstream.test"))
        .add_api_key("anthropic", "sk-ant-unit")
        .with_transport(httpx.MockTransport(lambda _: httpx.Response(200, json=answer)))
        .build()
    )
    body = {
        "model": "claude-sonnet-4-5",
        "max_tokens": 9,
        "messages": [{"role": "user", "content": "x"}],
    }
    async with router:
        native = await router.complete(body, ProviderFormat.ANTHROPIC)
        translated = await router.complete(body, ProviderFormat.OPENAI)
    expected = (100 * 3 + 2000 * 3.75 + 10_000 * 0.3 + 500 * 15) / 1e6
    for result in (native, translated):
        assert result.usage == Usage(
            input_tokens=12_100,
            output_tokens=500,
            cache_read_tokens=10_000,
            cache_write_tokens=2000,
        )
        assert result.cost == pytest.approx(expected)
        assert result.text == "ab"


async def test_no_usage_and_no_price_are_none_not_zero() -> None:
    answer = {
        "id": "c",
        "object": "chat.completion",
        "created": 1,
        "model": "house-model",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "x"}}],
    }
    router = (
        Router.builder()
        .add_provider("openai", OpenAIProvider(base_url="http://upstream.test/v1"))
        .add_api_key("openai", "sk-unit")
        .add_model_route("house-model", "openai", "house-model")
        .with_transport(httpx.MockTransport(lambda _: httpx.Response(200, json=answer)))
        .build()
    )
    body = {"model": "house-model", "messages": [{"role": "user", "content": "x"}]}
    async with router:
        without_usage = await router.complete(body, ProviderFormat.OPENAI)
        answer["usage"] = {"prompt_tokens": 1, "completion_tokens": 1}
        unpriced = await router.complete(body, ProviderFormat.OPENAI)
    assert without_usage.usage is None and without_usage.cost is None
    assert unpriced.usage == Usage(input_tokens=1, output_tokens=1)
    assert unpriced.cost is None  # the catalog has no price for it


USER = [{"role": "user", "content": [{"text": "ping pong"}]}]
STREAMS = {
    "passthrough": (
        ProviderFormat.OPENAI,
        dict(CHAT, stream=True, stream_options={"include_usage": True}),
    ),
    "anthropic-caller": (ProviderFormat.ANTHROPIC, dict(CHAT, stream=True, max_tokens=50)),
    "anthropic-provider": (
        ProviderFormat.OPENAI,
        dict(CHAT, model="claude-sonnet-4-5", stream=True),
    ),
    "responses-caller": (
        ProviderFormat.RESPONSES,
        {"model": "gpt-4o-mini", "input": "ping pong", "stream": True},
    ),
    "mistral-caller": (ProviderFormat.MISTRAL, dict(CHAT, stream=True)),
    # Gemini and Converse callers say "stream" in the URL, not the body.
    "google-caller": (
        ProviderFormat.GOOGLE,
        {"contents": [{"role": "user", "parts": [{"text": "ping pong"}]}]},
    ),
    "converse-caller": (ProviderFormat.CONVERSE, {"messages": USER}),
}


@pytest.mark.parametrize("case", list(STREAMS))
async def test_a_stream_has_usage_cost_and_text_deltas_once_ended(
    fake: FakeProvider, case: str
) -> None:
    fmt, body = STREAMS[case]
    model = body.get("model", "gpt-4o-mini")
    async with _router(fake) as router, router.stream(body, fmt, model=model) as events:
        pieces = [piece async for piece in events.text_deltas()]
        assert events.ended
        usage, cost = events.usage, events.cost
    assert "".join(pieces) == "You said: ping pong" and len(pieces) > 1
    assert usage is not None and usage.input_tokens and usage.output_tokens
    spec = router.catalog.get(model)
    assert spec.input_cost_per_mil_tokens is not None
    assert spec.output_cost_per_mil_tokens is not None
    expected = (
        usage.input_tokens * spec.input_cost_per_mil_tokens
        + usage.output_tokens * spec.output_cost_per_mil_tokens
    ) / 1e6
    assert cost == pytest.approx(expected)
    assert fake.journal[-1].disconnected is False


def test_stream_event_json_reads_payloads_and_the_done_sentinel() -> None:
    assert StreamEvent(None, b"[DONE]").json() is None
    assert StreamEvent(None, b'{"a": 1}').json() == {"a": 1}
    assert StreamEvent("message_stop", b'{"type":"message_stop"}').json()["type"] == "message_stop"


async def test_every_event_of_a_passthrough_stream_decodes(fake: FakeProvider) -> None:
    body = dict(CHAT, stream=True)
    async with _router(fake) as router, router.stream(body, ProviderFormat.OPENAI) as events:
        payloads = [event.json() async for event in events]
    assert payloads[-1] is None  # [DONE]
    assert all(isinstance(p, dict) for p in payloads[:-1])


async def test_hooks_and_the_attempt_log_receive_usage_and_cost(fake: FakeProvider) -> None:
    ended: list[RequestFinished] = []
    stream_body = dict(CHAT, stream=True, max_tokens=50)
    async with _router(fake, Hooks(on_request_end=ended.append)) as router:
        result = await router.complete(CHAT, ProviderFormat.OPENAI)
        async with router.stream(stream_body, ProviderFormat.ANTHROPIC) as events:
            assert len(ended) == 1  # a stream's request ends when the stream does
            async for _ in events:
                pass
        assert len(ended) == 2
    call, stream = ended
    assert call.usage == result.usage and call.cost == result.cost is not None
    assert stream.usage == events.usage and stream.cost == events.cost is not None
    for finished, attempts in ((call, result.attempts), (stream, events.attempts)):
        (won,) = [a for a in attempts if a.outcome is AttemptOutcome.WON]
        assert (won.usage, won.cost) == (finished.usage, finished.cost)
        assert finished.attempts == attempts


async def test_the_attempt_log_has_usage_without_hooks(fake: FakeProvider) -> None:
    async with _router(fake) as router:
        result = await router.complete(CHAT, ProviderFormat.OPENAI)
    (won,) = result.attempts
    assert won.usage == result.usage is not None and won.cost == result.cost


async def test_a_stream_failing_mid_way_ends_its_request_as_failed(fake: FakeProvider) -> None:
    ended: list[RequestFinished] = []
    body = dict(CHAT, stream=True)
    async with _router(fake, Hooks(on_request_end=ended.append)) as router:
        with pytest.raises(StreamError, match="interrupted"):
            cut = {"x-fake-drop-after-events": "2"}
            async with router.stream(body, ProviderFormat.OPENAI, headers=cut) as events:
                async for _ in events:
                    pass
    assert [e.outcome.value for e in ended] == ["failed"]
    assert ended[0].error == "StreamError"
