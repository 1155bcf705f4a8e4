"""The fake server's WebSocket endpoints, judged by the official SDKs' realtime clients.

The SDK clients run on asyncio (`websockets`) in a worker thread against the fake server in
the test's own Trio run; faults are driven with trio-websocket directly.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Awaitable, Callable
from typing import Any

import openai
import pytest
import trio
from google import genai
from google.genai import types as genai_types
from trio_websocket import ConnectionClosed, ConnectionRejected, open_websocket_url

from llm_router_testing.fake import FAKE_KEYS, FakeProvider

WEATHER = {
    "type": "object",
    "properties": {"city": {"type": "string"}},
    "required": ["city"],
}
GEMINI_PATH = "/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent"


async def on_asyncio(main: Callable[[], Awaitable[Any]]) -> Any:
    return await trio.to_thread.run_sync(lambda: asyncio.run(main()))


def _openai(fake: FakeProvider) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=fake.url + "/v1", api_key=FAKE_KEYS["openai"])


def _genai(fake: FakeProvider) -> genai.Client:
    client = genai.Client(
        api_key=FAKE_KEYS["google"], http_options=genai_types.HttpOptions(base_url=fake.url)
    )
    # The SDK forces `wss://` onto any base URL with an API key; the fake serves plain `ws://`.
    ws_url = fake.url.replace("http://", "ws://")
    client._api_client._websocket_base_url = lambda http_options=None: ws_url  # type: ignore[method-assign]
    client._api_client._websocket_ssl_ctx = {}
    return client


async def test_openai_sdk_text_turn(fake: FakeProvider) -> None:
    async def main() -> list[Any]:
        async with _openai(fake).realtime.connect(model="gpt-realtime") as conn:
            events = [await conn.recv()]
            await conn.session.update(session={"type": "realtime", "output_modalities": ["text"]})
            await conn.conversation.item.create(
                item={
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": "hello there"}],
                }
            )
            await conn.response.create()
            async for event in conn:
                events.append(event)
                if event.type == "response.done":
                    break
            return events

    events = await on_asyncio(main)
    assert events[0].type == "session.created" and events[0].session.model == "gpt-realtime"
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text == "You said: hello there"
    done = events[-1]
    assert done.response.status == "completed"
    assert done.response.usage.output_tokens == 4
    assert done.response.usage.total_tokens == done.response.usage.input_tokens + 4
    entry = await fake.journal.wait_for(lambda e: e.method == "WEBSOCKET" and e.done)
    assert (entry.provider, entry.format, entry.model) == (
        "openai",
        "openai-realtime",
        "gpt-realtime",
    )
    # hypercorn reports every close the client starts as 1006: its code does not reach the app
    assert entry.status == 101 and entry.closed_by == "client" and entry.disconnected
    assert entry.frames_received == 3 and entry.events_sent == len(events)
    assert entry.headers["authorization"] == "Bearer [redacted]"


async def test_openai_sdk_tool_call_then_text(fake: FakeProvider) -> None:
    async def main() -> tuple[Any, str]:
        async with _openai(fake).realtime.connect(model="gpt-realtime") as conn:
            tool = {"type": "function", "name": "weather", "parameters": WEATHER}
            await conn.session.update(
                session={
                    "type": "realtime",
                    "output_modalities": ["text"],
                    "tools": [tool],
                    "tool_choice": "required",
                }
            )
            await conn.response.create()
            call = None
            async for event in conn:
                if event.type == "response.function_call_arguments.done":
                    call = event
                if event.type == "response.done":
                    break
            assert call is not None
            await conn.conversation.item.create(
                item={"type": "function_call_output", "call_id": call.call_id, "output": "sunny"}
            )
            await conn.response.create()
            text = ""
            async for event in conn:
                if event.type == "response.output_text.delta":
                    text += event.delta
                if event.type == "response.done":
                    break
            return call, text

    call, text = await on_asyncio(main)
    assert call.name == "weather" and json.loads(call.arguments) == {"city": ""}
    assert text == "You said: sunny"


async def test_openai_sdk_audio_deltas_are_silence(fake: FakeProvider) -> None:
    async def main() -> list[Any]:
        async with _openai(fake).realtime.connect(model="gpt-realtime") as conn:
            await conn.input_audio_buffer.append(audio=base64.b64encode(bytes(480)).decode())
            await conn.input_audio_buffer.commit()
            await conn.response.create()
            events = []
            async for event in conn:
                events.append(event)
                if event.type == "response.done":
                    return events
        return []

    events = await on_asyncio(main)
    audio = [e for e in events if e.type == "response.output_audio.delta"]
    assert audio and all(set(base64.b64decode(e.delta)) == {0} for e in audio)
    transcript = "".join(
        e.delta for e in events if e.type == "response.output_audio_transcript.delta"
    )
    assert transcript == "Hello from the fake provider."


async def test_genai_sdk_text_turn(fake: FakeProvider) -> None:
    async def main() -> tuple[str, Any, Any, str]:
        config = genai_types.LiveConnectConfig(response_modalities=[genai_types.Modality.TEXT])
        async with _genai(fake).aio.live.connect(model="gemini-live-2.5-flash", config=config) as s:
            await s.send_client_content(
                turns=genai_types.Content(role="user", parts=[genai_types.Part(text="hi")]),
                turn_complete=True,
            )
            text, usage = "", None
            async for message in s.receive():
                text += message.text or ""
                usage = message.usage_metadata or usage
            return text, usage, None, ""

    text, usage, _, _ = await on_asyncio(main)
    assert text == "You said: hi"
    assert (
        usage.response_token_count == 3 and usage.total_token_count == usage.prompt_token_count + 3
    )
    entry = await fake.journal.wait_for(lambda e: e.method == "WEBSOCKET" and e.done)
    assert (entry.provider, entry.format, entry.model) == (
        "google",
        "gemini-live",
        "gemini-live-2.5-flash",
    )
    assert "[redacted]" in entry.headers["x-goog-api-key"]


async def test_genai_sdk_required_tool_call_and_tool_response(fake: FakeProvider) -> None:
    async def main() -> tuple[Any, str]:
        weather = genai_types.FunctionDeclaration(name="weather", parameters_json_schema=WEATHER)
        config = genai_types.LiveConnectConfig(
            response_modalities=[genai_types.Modality.TEXT],
            tools=[genai_types.Tool(function_declarations=[weather])],
        )
        async with _genai(fake).aio.live.connect(model="gemini-live-2.5-flash", config=config) as s:
            await s.send_client_content(
                turns=genai_types.Content(role="user", parts=[genai_types.Part(text="weather?")]),
                turn_complete=True,
            )
            call = None
            async for message in s.receive():
                if message.tool_call:
                    call = message.tool_call.function_calls[0]
                    break
            assert call is not None
            await s.send_tool_response(
                function_responses=[
                    genai_types.FunctionResponse(id=call.id, name=call.name, response={"t": "21C"})
                ]
            )
            text = ""
            async for message in s.receive():
                text += message.text or ""
            return call, text

    call, text = await on_asyncio(main)
    assert call.name == "weather" and call.args == {"city": ""}
    assert text == 'You said: {"t":"21C"}'


async def test_genai_sdk_audio_answer_is_silence(fake: FakeProvider) -> None:
    async def main() -> list[bytes]:
        config = genai_types.LiveConnectConfig(response_modalities=[genai_types.Modality.AUDIO])
        async with _genai(fake).aio.live.connect(model="gemini-live-2.5-flash", config=config) as s:
            await s.send_realtime_input(text="hello")
            return [m.data async for m in s.receive() if m.data]

    chunks = await on_asyncio(main)
    assert chunks and all(set(chunk) == {0} for chunk in chunks)


async def test_openai_sdk_responses_websocket_turns(fake: FakeProvider) -> None:
    async def main() -> list[str]:
        texts = []
        async with _openai(fake).responses.connect() as conn:
            previous = None
            for question in ("one", "two"):
                await conn.response.create(
                    model="gpt-4.1-mini", input=question, previous_response_id=previous
                )
                text = ""
                async for event in conn:
                    if event.type == "response.output_text.delta":
                        text += event.delta
                    if event.type == "response.completed":
                        previous = event.response.id
                        break
                texts.append(text)
        return texts

    assert await on_asyncio(main) == ["You said: one", "You said: two"]


async def test_responses_websocket_forgets_previous_responses_of_other_sockets(
    fake: FakeProvider,
) -> None:
    url = fake.url.replace("http", "ws") + "/v1/responses"
    headers = [("authorization", f"Bearer {FAKE_KEYS['openai']}")]
    async with open_websocket_url(url, extra_headers=headers) as ws:
        await ws.send_message(
            json.dumps(
                {
                    "type": "response.create",
                    "model": "m",
                    "input": "x",
                    "previous_response_id": "resp_elsewhere",
                }
            )
        )
        error = json.loads(await ws.get_message())
    assert error["type"] == "error" and error["error"]["code"] == "previous_response_not_found"


@pytest.mark.parametrize(
    ("path", "headers", "status"),
    [
        ("/v1/realtime?model=gpt-realtime", [("authorization", "Bearer sk-wrong")], 401),
        ("/v1/realtime?model=gpt-realtime", [], 401),
        ("/openai/v1/realtime?model=dep", [("api-key", "wrong")], 401),
        (GEMINI_PATH + "?key=wrong", [], 400),
        (GEMINI_PATH, [], 403),
        (
            "/v1/realtime?model=gpt-realtime",
            [("authorization", f"Bearer {FAKE_KEYS['openai']}"), ("x-fake-status", "503")],
            503,
        ),
        ("/v1/nowhere", [("authorization", f"Bearer {FAKE_KEYS['openai']}")], 404),
    ],
)
async def test_refused_before_the_upgrade(
    fake: FakeProvider, path: str, headers: list[tuple[str, str]], status: int
) -> None:
    url = fake.url.replace("http", "ws") + path
    with pytest.raises(ConnectionRejected) as caught:
        async with open_websocket_url(url, extra_headers=headers):
            pass  # pragma: no cover
    assert caught.value.status_code == status
    assert b"error" in (caught.value.body or b"")
    entry = await fake.journal.wait_for(lambda e: e.done)
    assert entry.status == status and entry.events_sent == 0 and entry.frames_received == 0


async def _frames(
    fake: FakeProvider, fault: dict[str, str], *, gemini: bool = False
) -> tuple[list[Any], int | None, str | None]:
    path = GEMINI_PATH if gemini else "/v1/realtime?model=gpt-realtime"
    url = fake.url.replace("http", "ws") + path
    headers = [(f"x-fake-{k}", v) for k, v in fault.items()]
    headers.append(
        ("x-goog-api-key", FAKE_KEYS["google"])
        if gemini
        else ("authorization", f"Bearer {FAKE_KEYS['openai']}")
    )
    frames: list[Any] = []
    async with open_websocket_url(url, extra_headers=headers) as ws:
        if gemini:
            await ws.send_message(json.dumps({"setup": {"model": "models/gemini-live"}}))
            await ws.send_message(json.dumps({"realtimeInput": {"text": "hi"}}))
        else:
            await ws.send_message(json.dumps({"type": "response.create"}))
        try:
            while True:
                frames.append(await ws.get_message())
        except ConnectionClosed as closed:
            return frames, closed.reason.code, closed.reason.reason
    return frames, None, None  # pragma: no cover


async def test_fault_close_with_code(fake: FakeProvider) -> None:
    frames, code, reason = await _frames(fake, {"close-code": "4001", "drop-after-events": "2"})
    assert len(frames) == 2 and code == 4001 and "fake" in (reason or "")
    entry = await fake.journal.wait_for(lambda e: e.done)
    assert entry.closed_by == "server" and entry.close_code == 4001


async def test_fault_drop_after_events(fake: FakeProvider) -> None:
    frames, code, _ = await _frames(fake, {"drop-after-events": "1"})
    assert [json.loads(f)["type"] for f in frames] == ["session.created"]
    assert code == 1011


async def test_fault_error_event_then_close(fake: FakeProvider) -> None:
    frames, code, _ = await _frames(fake, {"stream-error": "0"})
    assert [json.loads(f)["type"] for f in frames] == ["error"] and code == 1011


async def test_fault_malformed_frame(fake: FakeProvider) -> None:
    frames, _, _ = await _frames(fake, {"malformed-event": "1", "drop-after-events": "3"})
    json.loads(frames[0])
    with pytest.raises(json.JSONDecodeError):
        json.loads(frames[1])


async def test_fault_gemini_go_away_and_binary_frames(fake: FakeProvider) -> None:
    frames, _, _ = await _frames(fake, {"go-away": "1", "drop-after-events": "3"}, gemini=True)
    assert all(isinstance(f, bytes) for f in frames)
    decoded = [json.loads(f) for f in frames]
    assert decoded[0] == {"setupComplete": {}}
    assert decoded[1] == {"goAway": {"timeLeft": "10s"}}


async def test_fault_slow_events_in_virtual_time(fake: FakeProvider) -> None:
    start = trio.current_time()
    frames, _, _ = await _frames(fake, {"inter-event-delay": "1ms", "drop-after-events": "4"})
    assert len(frames) == 4 and trio.current_time() - start >= 0.003


async def test_gemini_first_message_must_be_setup(fake: FakeProvider) -> None:
    url = fake.url.replace("http", "ws") + GEMINI_PATH
    async with open_websocket_url(
        url, extra_headers=[("x-goog-api-key", FAKE_KEYS["google"])]
    ) as ws:
        await ws.send_message(json.dumps({"clientContent": {"turnComplete": True}}))
        with pytest.raises(ConnectionClosed) as caught:
            await ws.get_message()
    assert caught.value.reason.code == 1007


async def test_scenario_rule_refuses_realtime_upgrades(fake: FakeProvider) -> None:
    fake.set_scenario({"rules": [{"match": {"path": "/v1/realtime$"}, "status": 429, "times": 1}]})
    url = fake.url.replace("http", "ws") + "/v1/realtime?model=gpt-realtime"
    headers = [("authorization", f"Bearer {FAKE_KEYS['openai']}")]
    with pytest.raises(ConnectionRejected) as caught:
        async with open_websocket_url(url, extra_headers=headers):
            pass  # pragma: no cover
    assert caught.value.status_code == 429
    async with open_websocket_url(url, extra_headers=headers) as ws:
        assert json.loads(await ws.get_message())["type"] == "session.created"
