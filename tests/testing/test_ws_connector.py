"""`Cassette.websocket_connector()`: realtime sessions of the router recorded into a cassette
through the fake server over real loopback sockets, then replayed with nothing listening.

Each test also checks that nothing outlives the session (the living Trio task count is back
where it was) and, when recording, that the fake saw the socket end.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import trio

from llm_router import GoogleProvider, OpenAIProvider, RetryPolicy, Router, errors
from llm_router.realtime.session import RealtimeOptions, RealtimeSessionClosed
from llm_router_testing.cassette import Cassette, CassetteMissError
from llm_router_testing.cassette_format import load_cassette
from llm_router_testing.fake import FAKE_KEYS, FakeProvider, open_fake_provider

#: Nothing listens here: a replayed session that dialled out would fail to connect.
NOWHERE = "http://127.0.0.1:9"
_PATIENT = RealtimeOptions(connect_timeout=60, commit_timeout=60)  # hang guards only
USER = {
    "type": "conversation.item.create",
    "item": {
        "type": "message",
        "role": "user",
        "content": [{"type": "input_text", "text": "hello"}],
    },
}


@pytest.fixture
async def fake() -> AsyncIterator[FakeProvider]:
    async with open_fake_provider(seed=3) as provider:
        yield provider


def _router(base: str, cassette: Cassette) -> Router:
    return (
        Router.builder()
        .add_provider("openai", OpenAIProvider(base_url=base + "/v1"))
        .add_api_key("openai", FAKE_KEYS["openai"])
        .add_provider("google", GoogleProvider(base_url=base))
        .add_api_key("google", FAKE_KEYS["google"])
        .add_model_route("gpt-realtime", "openai")
        .add_model_route("live", "google", "gemini-live-2.5-flash")
        .forward_headers("x-fake-")
        .with_retry_policy(RetryPolicy(max_attempts=1))
        .with_websocket_connector(cassette.websocket_connector())
        .build()
    )


def _tasks() -> int:
    return trio.lowlevel.current_statistics().tasks_living


async def _settled(before: int) -> None:
    with trio.fail_after(60):  # a guard against a hang, not a measure of speed
        while _tasks() > before:  # noqa: ASYNC110 - no event tells when hypercorn is done
            await trio.sleep(0.01)


async def _turn(router: Router, model: str = "gpt-realtime") -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    async with router.realtime(
        model,
        "openai-realtime",
        session={"type": "realtime", "output_modalities": ["text"]},
        options=_PATIENT,
    ) as session:
        events.append((await session.receive()).json())
        await session.send(USER)
        await session.send({"type": "response.create"})
        async for event in session:
            events.append(event.json())
            if event.type == "response.done":
                break
    return events


def _text(events: list[dict[str, Any]]) -> str:
    return "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")


async def test_a_session_recorded_through_the_fake_replays_with_nothing_listening(
    fake: FakeProvider, tmp_path: Path
) -> None:
    path = tmp_path / "realtime.json"
    with Cassette.open(path, "once") as recording:
        async with _router(fake.url, recording) as router:
            before = _tasks()
            recorded = await _turn(router)
            await _settled(before)
    entry = await fake.journal.wait_for(lambda e: e.method == "WEBSOCKET" and e.done)
    assert entry.closed_by == "client" and _text(recorded) == "You said: hello"

    (interaction,) = load_cassette(path)
    session = interaction["websocket"]  # type: ignore[typeddict-item]
    senders = {frame["from"] for frame in session["frames"]}
    assert senders == {"client", "server"} and session["close"]["by"] == "client"
    assert FAKE_KEYS["openai"] not in path.read_text()  # the key never reaches the file

    replay = Cassette.open(path, "none")
    async with _router(NOWHERE, replay) as router:
        before = _tasks()
        replayed = await _turn(router)
        await _settled(before)
    assert [e["type"] for e in replayed] == [e["type"] for e in recorded]
    assert _text(replayed) == "You said: hello"
    assert replay.play_count == 1 and replay.all_played and not replay.misses


async def test_a_session_without_a_recording_is_a_miss_naming_it(tmp_path: Path) -> None:
    cassette = Cassette.open(tmp_path / "empty.json", "none")
    async with _router(NOWHERE, cassette) as router:
        before = _tasks()
        with pytest.raises(CassetteMissError, match="realtime"):
            await _turn(router)
        await _settled(before)
    assert len(cassette.misses) == 1  # the fixture fails the test even if it was swallowed


async def test_a_provider_close_and_a_refused_upgrade_replay_as_recorded(
    fake: FakeProvider, tmp_path: Path
) -> None:
    path = tmp_path / "ends.json"

    async def both(router: Router) -> tuple[int | None, type[BaseException]]:
        headers = {"x-fake-close-code": "4003"}
        async with router.realtime("gpt-realtime", "openai-realtime", headers=headers) as s:
            with pytest.raises(RealtimeSessionClosed) as closed:
                while True:
                    await s.receive()
        with pytest.raises(errors.LLMRouterError) as refused:
            async with router.realtime(
                "live", "gemini-live", headers={"x-fake-status": "503"}, options=_PATIENT
            ):
                pass  # pragma: no cover
        return closed.value.code, type(refused.value)

    with Cassette.open(path, "all") as recording:
        async with _router(fake.url, recording) as router:
            recorded = await both(router)
    replay = Cassette.open(path, "none")
    async with _router(NOWHERE, replay) as router:
        before = _tasks()
        replayed = await both(router)
        await _settled(before)
    assert recorded == replayed and recorded[0] == 4003
    assert replay.play_count == 2 and not replay.misses


async def test_cancelling_a_replayed_session_leaves_nothing_behind(
    fake: FakeProvider, tmp_path: Path
) -> None:
    path = tmp_path / "cancel.json"
    with Cassette.open(path, "all") as recording:
        async with _router(fake.url, recording) as router:
            await _turn(router)
    async with _router(NOWHERE, Cassette.open(path, "none")) as router:
        before = _tasks()
        with trio.move_on_after(60) as guard:
            async with router.realtime("gpt-realtime", "openai-realtime") as session:
                await session.receive()
                guard.cancel()  # mid-session, as a caller's timeout would
                await trio.sleep_forever()
        await _settled(before)
    assert guard.cancelled_caught


def test_a_connector_that_cannot_be_called_is_refused_at_build() -> None:
    builder = Router.builder().with_websocket_connector("ws://not-a-connector")  # type: ignore[arg-type]
    with pytest.raises(errors.ConfigurationError, match="with_websocket_connector"):
        builder.build()
