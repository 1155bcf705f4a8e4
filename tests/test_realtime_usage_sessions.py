"""Realtime sessions report usage and cost, and failures after the opening feed the breaker.

Against the fake server over real loopback WebSockets: the usage a session reports is the
usage in the provider's frames (audio tokens when audio went either way), priced at the
catalog's text and audio prices; hooks see it as for an HTTP call. Every test checks that no
task outlives the session and that the fake saw the socket end.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
import pytest
import trio
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from llm_router import GoogleProvider, OpenAIProvider, RetryPolicy, Router
from llm_router.catalog import Catalog
from llm_router.realtime.session import RealtimeOptions, RealtimeSessionClosed
from llm_router.resilience import BreakerPolicy, Hooks
from llm_router.resilience.log import RequestFinished, RequestOutcome
from llm_router_testing.fake import FAKE_KEYS, FakeProvider, open_fake_provider

_HANG_GUARD = 60.0
_PATIENT = RealtimeOptions(connect_timeout=_HANG_GUARD, commit_timeout=_HANG_GUARD)
# A realtime model with text prices only (its audio cannot be priced).
_TEXT_PRICED = {
    "text-priced-realtime": {
        "format": "openai",
        "flavor": "realtime",
        "available_providers": ["openai"],
        "input_cost_per_mil_tokens": 1.0,
        "output_cost_per_mil_tokens": 2.0,
    }
}


@pytest.fixture
async def fake() -> AsyncIterator[FakeProvider]:
    async with open_fake_provider(seed=1) as provider:
        yield provider


def _tasks() -> int:
    return trio.lowlevel.current_statistics().tasks_living


async def _settled(fake: FakeProvider, before: int) -> None:
    await fake.journal.wait_for(lambda _: all(e.done for e in fake.journal))
    with trio.fail_after(_HANG_GUARD):
        while _tasks() > before:  # noqa: ASYNC110 - no event tells when hypercorn is done
            await trio.sleep(0.01)


def _router(
    fake: FakeProvider,
    *,
    hooks: Hooks | None = None,
    breaker: BreakerPolicy | None = None,
    catalog: Catalog | None = None,
    tracer: TracerProvider | None = None,
) -> Router:
    builder = (
        Router.builder()
        .add_provider("openai", OpenAIProvider(base_url=fake.url + "/v1"))
        .add_api_key("openai", FAKE_KEYS["openai"])
        .add_provider("backup", OpenAIProvider(base_url=fake.url + "/v1"))
        .add_api_key("backup", FAKE_KEYS["openai"])
        .add_provider("google", GoogleProvider(base_url=fake.url))
        .add_api_key("google", FAKE_KEYS["google"])
        .add_model_route("gpt-realtime", "openai")
        .add_model_route("gpt-realtime", "backup")
        .add_model_route("gpt-4.1-mini", "openai")
        .add_model_route("live", "google", "gemini-live-2.5-flash")
        .add_model_route("live-priced", "google", "gemini-2.5-flash-native-audio-preview-09-2025")
        .add_model_route("text-priced-realtime", "openai")
        .forward_headers("x-fake-")
        .with_retry_policy(RetryPolicy(initial_delay=0.0, max_delay=0.0))
    )
    if hooks is not None:
        builder = builder.with_hooks(hooks)
    if breaker is not None:
        builder = builder.with_circuit_breaker(breaker)
    if catalog is not None:
        builder = builder.with_catalog(catalog)
    if tracer is not None:
        builder = builder.with_tracing(tracer)
    return builder.build()


@asynccontextmanager
async def _open(fake: FakeProvider, **kw: Any) -> AsyncIterator[Router]:
    async with _router(fake, **kw) as router:
        yield router


async def _until(session: Any, done: Any) -> list[Any]:
    events = []
    async for event in session:
        events.append(event.json())
        if done(events[-1]):
            break
    return events


def _is(kind: str) -> Any:
    return lambda message: message.get("type") == kind


def _user(text: str) -> dict[str, Any]:
    return {
        "type": "conversation.item.create",
        "item": {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": text}],
        },
    }


# 500 ms of 24 kHz PCM16: five OpenAI audio tokens.
_HALF_SECOND = base64.b64encode(bytes(24_000)).decode()


async def test_openai_text_and_audio_turns_report_usage_and_cost(fake: FakeProvider) -> None:
    finished: list[RequestFinished] = []
    async with _open(fake, hooks=Hooks(on_request_end=finished.append)) as router:
        before = _tasks()
        async with router.realtime(
            "gpt-realtime",
            "openai-realtime",
            session={"type": "realtime", "output_modalities": ["text"]},
            options=_PATIENT,
        ) as s:
            assert s.usage.total_tokens == 0 and s.cost == 0.0  # nothing answered yet
            await s.send(_user("hello there"))
            await s.send({"type": "response.create"})
            first = (await _until(s, _is("response.done")))[-1]["response"]
            await s.send(
                {
                    "type": "session.update",
                    "session": {"type": "realtime", "output_modalities": ["audio"]},
                }
            )
            await s.send({"type": "input_audio_buffer.append", "audio": _HALF_SECOND})
            await s.send({"type": "input_audio_buffer.commit"})
            await s.send({"type": "response.create"})
            events = await _until(s, _is("response.done"))
            second = events[-1]["response"]
        await _settled(fake, before)
    assert any(e["type"] == "response.output_audio.delta" for e in events)
    usage = s.usage
    assert [r.response_id for r in usage.responses] == [first["id"], second["id"]]
    one, two = first["usage"], second["usage"]
    assert usage.responses[0].input_tokens == one["input_tokens"]
    assert usage.responses[0].output_text_tokens == one["output_tokens"] > 0
    assert two["input_token_details"]["audio_tokens"] == 5
    assert usage.input_audio_tokens == 5 and usage.output_audio_tokens == two["output_tokens"] > 0
    assert usage.total_tokens == one["total_tokens"] + two["total_tokens"]
    assert not usage.partial and s.cost_unknown_reason is None
    spec = Catalog.default().get("gpt-realtime")
    text_in = usage.input_text_tokens
    expected = (
        text_in * spec.input_cost_per_mil_tokens  # type: ignore[operator]
        + 5 * spec.input_audio_cost_per_mil_tokens  # type: ignore[operator]
        + usage.output_text_tokens * spec.output_cost_per_mil_tokens  # type: ignore[operator]
        + usage.output_audio_tokens * spec.output_audio_cost_per_mil_tokens  # type: ignore[operator]
    ) / 1e6
    assert s.cost == pytest.approx(expected)
    (record,) = finished
    assert record.outcome is RequestOutcome.SUCCEEDED and record.cost == pytest.approx(expected)
    assert record.usage is not None and record.usage.total == usage.total_tokens


async def test_audio_on_a_model_without_audio_prices_has_no_cost(fake: FakeProvider) -> None:
    catalog = Catalog.from_mapping(_TEXT_PRICED)
    finished: list[RequestFinished] = []
    hooks = Hooks(on_request_end=finished.append)
    async with _open(fake, catalog=catalog, hooks=hooks) as router:
        before = _tasks()
        async with router.realtime(
            "text-priced-realtime",
            "openai-realtime",
            session={"type": "realtime", "output_modalities": ["audio"]},
            options=_PATIENT,
        ) as s:
            await s.send(_user("speak"))
            await s.send({"type": "response.create"})
            await _until(s, _is("response.done"))
        await _settled(fake, before)
    assert s.usage.output_audio_tokens > 0
    assert s.cost is None
    assert "output_audio_cost_per_mil_tokens" in (s.cost_unknown_reason or "")
    assert finished[0].cost is None and finished[0].usage is not None


async def test_gemini_live_audio_turn_usage_and_cost(fake: FakeProvider) -> None:
    async with _open(fake) as router:
        before = _tasks()
        async with router.realtime(
            "live-priced",
            "gemini-live",
            session={"generationConfig": {"responseModalities": ["AUDIO"]}},
            options=_PATIENT,
        ) as s:
            await s.receive()  # setupComplete
            # One second of 16 kHz PCM16: 32 Gemini audio tokens.
            chunk = base64.b64encode(bytes(32_000)).decode()
            audio = {"data": chunk, "mimeType": "audio/pcm;rate=16000"}
            await s.send({"realtimeInput": {"audio": audio}})
            await s.send({"realtimeInput": {"audioStreamEnd": True}})
            messages = await _until(s, lambda m: m.get("serverContent", {}).get("turnComplete"))
        await _settled(fake, before)
    reported = messages[-1]["usageMetadata"]
    usage = s.usage
    assert usage.input_audio_tokens == 32
    assert usage.input_tokens == reported["promptTokenCount"]
    assert usage.output_audio_tokens == reported["responseTokenCount"] > 0
    spec = Catalog.default().get("gemini-2.5-flash-native-audio-preview-09-2025")
    expected = (usage.input_text_tokens * 0.5 + 32 * 3.0 + usage.output_audio_tokens * 12.0) / 1e6
    assert spec.input_audio_cost_per_mil_tokens == 3.0
    assert s.cost == pytest.approx(expected)


async def test_gemini_model_without_prices_reports_usage_and_why_no_cost(
    fake: FakeProvider,
) -> None:
    async with (
        _open(fake) as router,
        router.realtime("live", "gemini-live", session={}, options=_PATIENT) as s,
    ):
        await s.receive()
        await s.send({"realtimeInput": {"text": "hello"}})
        await _until(s, lambda m: m.get("serverContent", {}).get("turnComplete"))
    assert s.usage.total_tokens > 0 and s.cost is None
    assert "gemini-live-2.5-flash" in (s.cost_unknown_reason or "")


async def test_responses_ws_turns_report_usage_across_a_reconnect(fake: FakeProvider) -> None:
    async with _open(fake) as router:
        async with router.realtime("gpt-4.1-mini", "responses-ws", options=_PATIENT) as s:
            await s.send({"type": "response.create", "input": "one"})
            first = await _until(s, _is("response.completed"))
        fake.reset()
        before = _tasks()
        async with router.realtime(
            "gpt-4.1-mini",
            "responses-ws",
            headers={"x-fake-drop-after-events": str(len(first))},
            options=_PATIENT,
        ) as s:
            await s.send({"type": "response.create", "input": "one"})
            one = (await _until(s, _is("response.completed")))[-1]["response"]
            await fake.journal.wait_for(lambda e: e.done)
            await s.send({"type": "response.create", "input": "two"})
            two = (await _until(s, _is("response.completed")))[-1]["response"]
        await _settled(fake, before)
    usage = s.usage
    assert "reconnected" in [a.outcome for a in s.attempts]
    assert [r.response_id for r in usage.responses] == [one["id"], two["id"]]
    assert usage.input_text_tokens == one["usage"]["input_tokens"] + two["usage"]["input_tokens"]
    spec = Catalog.default().get("gpt-4.1-mini")
    expected = (
        usage.input_text_tokens * spec.input_cost_per_mil_tokens  # type: ignore[operator]
        + usage.output_text_tokens * spec.output_cost_per_mil_tokens  # type: ignore[operator]
    ) / 1e6
    assert s.cost == pytest.approx(expected)


async def test_a_server_error_close_after_the_opening_opens_the_breaker(
    fake: FakeProvider,
) -> None:
    finished: list[RequestFinished] = []
    breaker = BreakerPolicy(consecutive_failures=1, cooldown=3600.0)
    async with _open(fake, breaker=breaker, hooks=Hooks(on_request_end=finished.append)) as router:
        before = _tasks()
        async with router.realtime(
            "gpt-realtime",
            "openai-realtime",
            headers={"x-fake-close-code": "1011", "x-fake-drop-after-events": "1"},
            options=_PATIENT,
        ) as s:
            assert (await s.receive()).type == "session.created"
            with pytest.raises(RealtimeSessionClosed) as closed:
                await s.receive()
        await _settled(fake, before)
        assert closed.value.code == 1011 and s.failure is not None
        routes = router.statistics()["routes"]
        assert routes["openai/gpt-realtime"]["breaker"] == "open"
        assert finished[-1].outcome is RequestOutcome.FAILED
        # The next session skips the open circuit and opens on the backup route.
        async with router.realtime("gpt-realtime", "openai-realtime", options=_PATIENT) as again:
            assert (await again.receive()).type == "session.created"
        assert again.route.alias == "backup"
        await _settled(fake, before)


@pytest.mark.parametrize("code", ["1000", "4002"])
async def test_normal_and_application_closes_do_not_count_against_the_route(
    fake: FakeProvider, code: str
) -> None:
    breaker = BreakerPolicy(consecutive_failures=1, cooldown=3600.0)
    async with _open(fake, breaker=breaker) as router:
        before = _tasks()
        async with router.realtime(
            "gpt-realtime",
            "openai-realtime",
            headers={"x-fake-close-code": code, "x-fake-drop-after-events": "1"},
            options=_PATIENT,
        ) as s:
            await s.receive()
            with pytest.raises(RealtimeSessionClosed):
                while True:
                    await s.receive()
        await _settled(fake, before)
        assert s.failure is None
        assert router.statistics()["routes"]["openai/gpt-realtime"]["breaker"] == "closed"


async def test_a_frame_that_breaks_the_protocol_counts_against_the_route(
    fake: FakeProvider,
) -> None:
    """A Gemini caller on an OpenAI route: a provider frame that is not JSON cannot be
    translated, so the session ends (1011) and the route's breaker hears of it."""
    breaker = BreakerPolicy(consecutive_failures=1, cooldown=3600.0)
    async with _open(fake, breaker=breaker) as router:
        before = _tasks()
        async with router.realtime(
            "gpt-realtime",
            "gemini-live",
            session={},
            headers={"x-fake-malformed-event": "2"},
            options=_PATIENT,
        ) as s:
            await s.receive()
            await s.send({"realtimeInput": {"text": "hello"}})
            with pytest.raises(RealtimeSessionClosed) as closed:
                while True:
                    await s.receive()
        await _settled(fake, before)
    assert closed.value.code == 1011 and s.failure is not None
    assert "cannot be delivered" in str(s.failure)


async def test_cancelled_session_leaves_no_task_and_keeps_its_usage(fake: FakeProvider) -> None:
    async with _open(fake) as router:
        before = _tasks()
        with trio.CancelScope() as scope:
            async with router.realtime(
                "gpt-realtime",
                "openai-realtime",
                session={"type": "realtime", "output_modalities": ["text"]},
                options=_PATIENT,
            ) as s:
                await s.send(_user("hello"))
                await s.send({"type": "response.create"})
                await _until(s, _is("response.done"))
                scope.cancel()
                await s.receive()
        assert scope.cancelled_caught
        await _settled(fake, before)
    assert len(s.usage.responses) == 1 and s.cost is not None and s.cost > 0
    assert s.failure is None
    assert orjson.dumps(s.usage.responses[0].response_id)


async def test_a_server_error_event_that_ends_the_session_counts_against_the_route(
    fake: FakeProvider,
) -> None:
    """A Gemini caller on an OpenAI route: the provider's `server_error` event ends the
    session for the caller (Gemini reports errors by closing) and the breaker hears of it."""
    breaker = BreakerPolicy(consecutive_failures=1, cooldown=3600.0)
    async with _open(fake, breaker=breaker) as router:
        before = _tasks()
        async with router.realtime(
            "gpt-realtime",
            "gemini-live",
            session={},
            headers={"x-fake-stream-error": "1"},
            options=_PATIENT,
        ) as s:
            await s.receive()  # setupComplete
            with pytest.raises(RealtimeSessionClosed) as closed:
                while True:
                    await s.receive()
        await _settled(fake, before)
        assert closed.value.code == 1011 and s.failure is not None
        assert router.statistics()["routes"]["openai/gpt-realtime"]["breaker"] == "open"


async def test_a_realtime_session_span_carries_its_usage_and_cost(fake: FakeProvider) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    async with (
        _open(fake, tracer=provider) as router,
        router.realtime(
            "gpt-realtime",
            "openai-realtime",
            session={"type": "realtime", "output_modalities": ["text"]},
            options=_PATIENT,
        ) as s,
    ):
        await s.send(_user("hello"))
        await s.send({"type": "response.create"})
        await _until(s, _is("response.done"))
    (call,) = [span for span in exporter.get_finished_spans() if span.parent is None]
    attributes = dict(call.attributes or {})
    assert attributes["gen_ai.operation.name"] == "realtime"
    assert attributes["gen_ai.usage.input_tokens"] == s.usage.input_tokens
    assert attributes["gen_ai.usage.output_tokens"] == s.usage.output_tokens
    assert attributes["llm_router.cost_usd"] == pytest.approx(s.cost)
