"""`router.realtime(...)` against the fake server over real loopback WebSockets.

Each test also checks that nothing outlives the session: the number of living Trio tasks is
back to what it was, and the fake saw the socket end. Over real sockets nothing here depends
on how fast the machine is: tests wait on the fake's journal and on frames, retries do not
back off, and time limits are guards against a hang only; everything time-dependent (backoff,
retry-after, breakers, idle and session timeouts) is in `test_session_timing.py`, on a
virtual clock.
"""

from __future__ import annotations

import json
import tracemalloc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import trio

from llm_router import GoogleProvider, OpenAIProvider, RateLimitPolicy, RetryPolicy, Router, errors
from llm_router.realtime import CrossProtocolAudioError, RealtimeProtocolError
from llm_router.realtime.session import RealtimeOptions, RealtimeSessionClosed
from llm_router_testing.fake import FAKE_KEYS, FakeProvider

TOOL = {
    "type": "function",
    "name": "weather",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}


def _user(text: str) -> dict[str, Any]:
    return {
        "type": "conversation.item.create",
        "item": {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": text}],
        },
    }


def _router(fake: FakeProvider, *, openai_key: str = FAKE_KEYS["openai"]) -> Router:
    return (
        Router.builder()
        .add_provider("openai", OpenAIProvider(base_url=fake.url + "/v1"))
        .add_api_key("openai", openai_key)
        .add_provider("backup", OpenAIProvider(base_url=fake.url + "/v1"))
        .add_api_key("backup", FAKE_KEYS["openai"])
        .add_provider("google", GoogleProvider(base_url=fake.url))
        .add_api_key("google", FAKE_KEYS["google"])
        .add_model_route("gpt-realtime", "openai")
        .add_model_route("gpt-realtime", "backup")
        .add_model_route("gpt-4.1-mini", "openai")
        .add_model_route("live", "google", "gemini-live-2.5-flash")
        .add_model_route("live-on-openai", "openai", "gpt-realtime")
        .forward_headers("x-fake-")
        # Retries at once: backoff is checked on a virtual clock in test_session_timing.py.
        .with_retry_policy(RetryPolicy(initial_delay=0.0, max_delay=0.0))
        .build()
    )


#: Time limits here only turn a hang into a failure; no test depends on meeting them.
_HANG_GUARD = 60.0
_PATIENT = RealtimeOptions(connect_timeout=_HANG_GUARD, commit_timeout=_HANG_GUARD)


def _tasks() -> int:
    return trio.lowlevel.current_statistics().tasks_living


async def _settled(fake: FakeProvider, before: int) -> None:
    """Every session's socket ended on the fake and no task is left on either side."""
    await fake.journal.wait_for(lambda _: all(e.done for e in fake.journal))
    with trio.fail_after(_HANG_GUARD):
        while _tasks() > before:  # noqa: ASYNC110 - no event tells when hypercorn is done
            await trio.sleep(0.01)  # the server's connection tasks end after its app


@asynccontextmanager
async def _open(fake: FakeProvider, **kw: Any) -> AsyncIterator[Router]:
    async with _router(fake, **kw) as router:
        yield router


async def _until(session: Any, kind: str) -> list[Any]:
    events = []
    async for event in session:
        events.append(event.json())
        if event.type == kind:
            break
    return events


async def test_openai_session_text_turn_and_clean_close(fake: FakeProvider) -> None:
    async with _open(fake) as router:
        before = _tasks()
        async with router.realtime(
            "gpt-realtime",
            "openai-realtime",
            session={"type": "realtime", "output_modalities": ["text"]},
        ) as s:
            first = await s.receive()
            assert first.type == "session.created"
            await s.send(_user("hello"))
            await s.send({"type": "response.create"})
            events = await _until(s, "response.done")
        await _settled(fake, before)
    text = "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")
    assert text == "You said: hello"
    assert s.attempts[-1].outcome == "committed" and s.route.alias == "openai"
    entry = await fake.journal.wait_for(lambda e: e.method == "WEBSOCKET" and e.done)
    assert entry.closed_by == "client" and entry.model == "gpt-realtime"


async def test_openai_caller_on_a_gemini_route_text_tool_call_and_usage(fake: FakeProvider) -> None:
    async with (
        _open(fake) as router,
        router.realtime(
            "live", "openai-realtime", session={"type": "realtime", "tools": [TOOL]}
        ) as s,
    ):
        assert (await s.receive()).type == "session.created"
        await s.send(_user("weather in Paris?"))
        await s.send({"type": "response.create"})
        events = await _until(s, "response.done")
        call = next(e for e in events if e["type"] == "response.function_call_arguments.done")
        assert call["name"] == "weather" and json.loads(call["arguments"]) == {"city": ""}
        await s.send(
            {
                "type": "conversation.item.create",
                "item": {
                    "type": "function_call_output",
                    "call_id": call["call_id"],
                    "output": "sunny",
                },
            }
        )
        await s.send({"type": "response.create"})
        events = await _until(s, "response.done")
        text = "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")
        usage = events[-1]["response"]["usage"]
        with pytest.raises(CrossProtocolAudioError, match=r"input_audio_buffer\.append"):
            await s.send({"type": "input_audio_buffer.append", "audio": "AAAA"})
    assert text == 'You said: {"output":"sunny"}'
    assert usage["output_tokens"] == 3 and usage["total_tokens"] == usage["input_tokens"] + 3
    setup = json.loads(fake.journal[0].body)["setup"]
    assert setup["model"] == "models/gemini-live-2.5-flash"
    assert setup["tools"][0]["functionDeclarations"][0]["name"] == "weather"


async def test_gemini_caller_on_an_openai_route(fake: FakeProvider) -> None:
    async with _open(fake) as router, router.realtime("live-on-openai", "gemini-live") as s:
        assert (await s.receive()).json() == {"setupComplete": {}}
        await s.send(
            {
                "clientContent": {
                    "turns": [{"role": "user", "parts": [{"text": "hi"}]}],
                    "turnComplete": True,
                }
            }
        )
        messages = []
        async for event in s:
            messages.append(event.json())
            if messages[-1].get("serverContent", {}).get("turnComplete"):
                break
    text = "".join(
        p["text"]
        for m in messages
        for p in m.get("serverContent", {}).get("modelTurn", {}).get("parts", [])
    )
    assert text == "You said: hi"
    assert messages[-1]["usageMetadata"]["responseTokenCount"] == 3


async def test_gemini_same_protocol_passes_audio_through(fake: FakeProvider) -> None:
    async with (
        _open(fake) as router,
        router.realtime(
            "live", "gemini-live", session={"generationConfig": {"responseModalities": ["AUDIO"]}}
        ) as s,
    ):
        await s.receive()
        await s.send({"realtimeInput": {"text": "hello"}})
        audio = []
        async for event in s:
            message = event.json()
            for part in message.get("serverContent", {}).get("modelTurn", {}).get("parts", []):
                audio.append(part["inlineData"]["data"])
            if message.get("serverContent", {}).get("turnComplete"):
                break
        with pytest.raises(RealtimeProtocolError, match="setup"):
            await s.send({"setup": {}})
    assert audio


async def test_wrong_key_is_refused_before_the_upgrade_and_fails_over(fake: FakeProvider) -> None:
    async with (
        _open(fake, openai_key="sk-wrong") as router,
        router.realtime("gpt-realtime", "openai-realtime") as s,
    ):
        assert (await s.receive()).type == "session.created"
    assert [(a.route, a.outcome) for a in s.attempts] == [
        ("openai/gpt-realtime", "failed"),
        ("backup/gpt-realtime", "committed"),
    ]
    assert "401" in (s.attempts[0].error or "")
    refused = fake.journal[0]
    assert refused.status == 401 and refused.events_sent == 0


async def test_every_route_refused_is_a_no_route_error(fake: FakeProvider) -> None:
    fake.set_scenario({"rules": [{"match": {"path": "/v1/realtime$"}, "status": 401}]})
    async with _open(fake) as router:
        before = _tasks()
        with pytest.raises(errors.NoRouteError, match="refused the realtime upgrade"):
            async with router.realtime("gpt-realtime", "openai-realtime"):
                pass  # pragma: no cover
        await _settled(fake, before)


async def test_close_before_session_created_is_retried(fake: FakeProvider) -> None:
    fake.set_scenario(
        {
            "rules": [
                {
                    "match": {"path": "/v1/realtime$"},
                    "close_code": 1011,
                    "drop_after_events": 0,
                    "times": 1,
                }
            ]
        }
    )
    async with _open(fake) as router, router.realtime("gpt-realtime", "openai-realtime") as s:
        assert (await s.receive()).type == "session.created"
    assert [a.outcome for a in s.attempts] == ["failed", "committed"]
    assert s.attempts[1].route == "openai/gpt-realtime"  # retried on the same route


async def test_provider_close_after_commit_reaches_the_caller_with_its_code(
    fake: FakeProvider,
) -> None:
    async with _open(fake) as router:
        before = _tasks()
        async with router.realtime(
            "gpt-realtime",
            "openai-realtime",
            headers={"x-fake-close-code": "4002", "x-fake-drop-after-events": "1"},
        ) as s:
            assert (await s.receive()).type == "session.created"
            with pytest.raises(RealtimeSessionClosed) as caught:
                await s.receive()
            with pytest.raises(RealtimeSessionClosed):
                await s.send({"type": "response.create"})
        await _settled(fake, before)
    assert caught.value.code == 4002 and "4002" in caught.value.message


async def test_cancelling_the_session_closes_the_provider_socket(fake: FakeProvider) -> None:
    async with _open(fake) as router:
        before = _tasks()
        with trio.CancelScope() as scope:
            async with router.realtime("gpt-realtime", "openai-realtime") as s:
                await s.receive()
                scope.cancel()
                await s.receive()  # cancelled here
        assert scope.cancelled_caught
        await _settled(fake, before)
        entry = await fake.journal.wait_for(lambda e: e.method == "WEBSOCKET" and e.done)
        assert entry.closed_by == "client"


async def test_frames_at_and_over_the_size_limit(fake: FakeProvider) -> None:
    limit = 2_000
    options = RealtimeOptions(max_message_size=limit)
    async with (
        _open(fake) as router,
        router.realtime("gpt-realtime", "openai-realtime", options=options) as s,
    ):
        await s.receive()
        frame = json.dumps(_user(""))
        at_limit = json.dumps(_user("x" * (limit - len(frame))))
        assert len(at_limit) == limit
        await s.send(at_limit)
        entry = await fake.journal.wait_for(lambda e: e.frames_received == 1)
        assert len(entry.body) == limit
        with pytest.raises(RealtimeProtocolError, match="max_message_size"):
            await s.send(json.dumps(_user("x" * (limit + 1 - len(frame)))))
    # A provider frame over the limit ends the session with 1009, naming the limit.
    async with (
        _open(fake) as router,
        router.realtime(
            "gpt-realtime",
            "openai-realtime",
            options=options,
            headers={"x-fake-answer": ("word " * 600).strip()},
        ) as s,
    ):
        await s.receive()
        await s.send({"type": "response.create"})
        with pytest.raises(RealtimeSessionClosed, match="max_message_size") as caught:
            async for _ in s:
                pass
    assert caught.value.code == 1009


async def test_responses_ws_reconnects_and_resends_between_turns(fake: FakeProvider) -> None:
    async with _open(fake) as router:
        async with router.realtime("gpt-4.1-mini", "responses-ws") as s:
            await s.send({"type": "response.create", "input": "one"})
            first = await _until(s, "response.completed")
        turn_events = len(first)
        fake.reset()
        async with router.realtime(
            "gpt-4.1-mini",
            "responses-ws",
            headers={"x-fake-drop-after-events": str(turn_events)},
        ) as s:
            await s.send({"type": "response.create", "input": "one"})
            done = (await _until(s, "response.completed"))[-1]
            await fake.journal.wait_for(lambda e: e.done)  # the socket is gone between turns
            await s.send(
                {
                    "type": "response.create",
                    "input": "two",
                    "previous_response_id": done["response"]["id"],
                }
            )
            second = await _until(s, "response.completed")
    text = "".join(e["delta"] for e in second if e["type"] == "response.output_text.delta")
    assert text == "You said: two"
    # (the new socket has the same fault: it may be lost too once the second turn is over)
    outcomes = [a.outcome for a in s.attempts]
    assert outcomes[:4] == ["committed", "lost", "committed", "reconnected"]
    assert set(outcomes[4:]) <= {"lost"}
    resent = json.loads(fake.journal[1].body)
    assert "previous_response_id" not in resent and len(resent["input"]) == 3


async def test_unknown_format_and_non_realtime_routes_are_typed_errors(fake: FakeProvider) -> None:
    async with _open(fake) as router:
        with pytest.raises(errors.ConfigurationError, match="unknown realtime format"):
            async with router.realtime("gpt-realtime", "websocket"):
                pass  # pragma: no cover
        with pytest.raises(errors.NoRouteError, match="serves responses-ws"):
            async with router.realtime("live", "responses-ws"):
                pass  # pragma: no cover


async def test_two_hundred_concurrent_sessions_with_bounded_memory(fake: FakeProvider) -> None:
    count = 200
    async with _open(fake) as router:
        before = _tasks()
        opened = trio.Event()
        ready = 0
        tracemalloc.start()
        try:

            async def one() -> None:
                nonlocal ready
                async with router.realtime(
                    "gpt-realtime", "openai-realtime", options=_PATIENT
                ) as s:
                    await s.receive()
                    ready += 1
                    if ready == count:
                        opened.set()
                    await opened.wait()

            async with trio.open_nursery() as nursery:
                for _ in range(count):
                    nursery.start_soon(one)
                await opened.wait()
                current, _ = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        await _settled(fake, before)
    # Client and fake server together: well under 200 KB per open session.
    assert current / count < 200_000
    assert sum(e.method == "WEBSOCKET" for e in fake.journal) == count


async def test_a_responses_ws_reconnect_gives_up_the_lost_sockets_slot_first(
    fake: FakeProvider,
) -> None:
    # With one concurrent call allowed, the replacement socket needs the slot the lost one
    # held: released when the socket is replaced, not when the session ends (it waited on
    # itself until the session's deadline before).
    router = (
        Router.builder()
        .add_provider("openai", OpenAIProvider(base_url=fake.url + "/v1"))
        .add_api_key("openai", FAKE_KEYS["openai"])
        .add_model_route("gpt-4.1-mini", "openai")
        .forward_headers("x-fake-")
        .with_rate_limits(RateLimitPolicy(max_concurrency=1))
        .build()
    )
    async with router:
        before = _tasks()
        async with router.realtime("gpt-4.1-mini", "responses-ws") as s:
            await s.send({"type": "response.create", "input": "one"})
            turn_events = len(await _until(s, "response.completed"))
        fake.reset()
        async with router.realtime(
            "gpt-4.1-mini",
            "responses-ws",
            headers={"x-fake-drop-after-events": str(turn_events)},
        ) as s:
            await s.send({"type": "response.create", "input": "one"})
            await _until(s, "response.completed")
            await fake.journal.wait_for(lambda e: e.done)  # the socket is gone between turns
            with trio.fail_after(_HANG_GUARD):
                await s.send({"type": "response.create", "input": "two"})
                second = await _until(s, "response.completed")
        await _settled(fake, before)
    text = "".join(e["delta"] for e in second if e["type"] == "response.output_text.delta")
    assert text == "You said: two"
    assert [a.outcome for a in s.attempts][:4] == ["committed", "lost", "committed", "reconnected"]
