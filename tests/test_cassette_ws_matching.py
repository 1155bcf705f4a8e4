"""Replayed WebSocket sessions check what the client sends: a message other than the recorded
one is refused with `CassetteMismatchError` (its place and a redacted diff), keys named in
`ignore_message_keys` (and `event_id`, always) are left out of the check.

Sessions are recorded through the fake server over real loopback sockets, then replayed with
nothing listening; every test checks that no task is left behind.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import trio

from llm_router import GoogleProvider, OpenAIProvider, RetryPolicy, Router
from llm_router.realtime.session import RealtimeOptions
from llm_router_testing.cassette import Cassette, CassetteError, CassetteMismatchError
from llm_router_testing.fake import FAKE_KEYS, FakeProvider, open_fake_provider
from llm_router_testing.matching import RequestMatcher

NOWHERE = "http://127.0.0.1:9"
_PATIENT = RealtimeOptions(connect_timeout=60, commit_timeout=60)  # hang guards only
_SESSION = {"type": "realtime", "output_modalities": ["text"], "instructions": "Be brief."}


@pytest.fixture
async def fake() -> AsyncIterator[FakeProvider]:
    async with open_fake_provider(seed=5) as provider:
        yield provider


def _router(base: str, cassette: Cassette, key: str = FAKE_KEYS["openai"]) -> Router:
    return (
        Router.builder()
        .add_provider("openai", OpenAIProvider(base_url=base + "/v1"))
        .add_api_key("openai", key)
        .add_provider("google", GoogleProvider(base_url=base))
        .add_api_key("google", FAKE_KEYS["google"])
        .add_model_route("gpt-realtime", "openai")
        .add_model_route("live", "google", "gemini-live-2.5-flash")
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


def _user(text: str, event_id: str = "evt_1") -> dict[str, Any]:
    return {
        "type": "conversation.item.create",
        "event_id": event_id,
        "item": {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": text}],
        },
    }


async def _turn(
    router: Router,
    text: str = "hello",
    *,
    session: dict[str, Any] | None = None,
    event_id: str = "evt_1",
    extra: dict[str, Any] | None = None,
) -> list[str | None]:
    kinds: list[str | None] = []
    async with router.realtime(
        "gpt-realtime", "openai-realtime", session=session or _SESSION, options=_PATIENT
    ) as live:
        kinds.append((await live.receive()).type)
        await live.send(_user(text, event_id))
        await live.send({"type": "response.create"})
        async for event in live:
            kinds.append(event.type)
            if event.type == "response.done":
                break
        if extra is not None:
            await live.send(extra)
    return kinds


@pytest.fixture
async def recorded(fake: FakeProvider, tmp_path: Path) -> Path:
    path = tmp_path / "session.json"
    with Cassette.open(path, "all") as recording:
        async with _router(fake.url, recording) as router:
            await _turn(router)
    return path


async def test_the_recorded_messages_replay_and_event_ids_may_differ(recorded: Path) -> None:
    replay = Cassette.open(recorded, "none")
    async with _router(NOWHERE, replay) as router:
        before = _tasks()
        kinds = await _turn(router, event_id="evt_other_run")
        await _settled(before)
    assert kinds[0] == "session.created" and kinds[-1] == "response.done"
    assert replay.all_played and not replay.misses


async def test_a_different_message_is_refused_naming_its_place_and_the_diff(
    recorded: Path,
) -> None:
    replay = Cassette.open(recorded, "none")
    async with _router(NOWHERE, replay) as router:
        before = _tasks()
        with pytest.raises(CassetteMismatchError) as caught:
            await _turn(router, "goodbye")
        await _settled(before)
    error = caught.value
    # Client messages: the session.update the router sent, then the user's item.
    assert error.index == 1 and error.frame is not None and error.frame > error.index
    assert "client message 1" in error.message and f"frame {error.frame}" in error.message
    lines = [line.strip() for line in error.diff.splitlines()]
    assert '-        "text": "hello",'.replace(" ", "") in [x.replace(" ", "") for x in lines]
    assert any(line.startswith("+") and '"text": "goodbye"' in line for line in lines)
    assert "/v1/realtime" in error.url and "?" not in error.url
    assert isinstance(error, CassetteError)


async def test_ignore_message_keys_leave_fields_out_of_the_check(recorded: Path) -> None:
    changed = {**_SESSION, "instructions": "Be chatty."}
    replay = Cassette.open(recorded, "none")
    async with _router(NOWHERE, replay) as router:
        with pytest.raises(CassetteMismatchError, match="instructions"):
            await _turn(router, session=changed)
    lenient = Cassette.open(
        recorded, "none", ignore_message_keys=["session.instructions", "item.content"]
    )
    async with _router(NOWHERE, lenient) as router:
        before = _tasks()
        kinds = await _turn(router, "something else", session=changed)
        await _settled(before)
    assert kinds[-1] == "response.done"


async def test_the_diff_never_shows_a_credential(recorded: Path) -> None:
    key = "sk-proj-replay-0123456789abcdef"  # the replaying router's own key
    replay = Cassette.open(recorded, "none")
    async with _router(NOWHERE, replay, key) as router:
        with pytest.raises(CassetteMismatchError) as caught:
            await _turn(router, f"my key is {key}")
    assert key not in caught.value.message and key not in str(caught.value)
    assert "my key is" in caught.value.diff
    replay = Cassette.open(recorded, "none")
    async with _router(NOWHERE, replay) as router:
        with pytest.raises(CassetteMismatchError) as caught:
            await _turn(router, session={**_SESSION, "client_secret": "sk-live-secret-value-123"})
    assert "sk-live-secret-value-123" not in caught.value.message


async def test_a_message_past_the_recorded_ones_is_refused(recorded: Path) -> None:
    replay = Cassette.open(recorded, "none")
    async with _router(NOWHERE, replay) as router:
        before = _tasks()
        with pytest.raises(CassetteMismatchError) as caught:
            await _turn(router, extra={"type": "response.create"})
        await _settled(before)
    assert caught.value.frame is None and caught.value.index == 3
    assert "past the 3 the recording has" in caught.value.message


async def test_gemini_binary_setup_is_checked_too(fake: FakeProvider, tmp_path: Path) -> None:
    path = tmp_path / "live.json"

    async def turn(router: Router, text: str) -> None:
        async with router.realtime("live", "gemini-live", session={}, options=_PATIENT) as s:
            await s.receive()
            await s.send({"realtimeInput": {"text": text}})
            async for event in s:
                if event.json().get("serverContent", {}).get("turnComplete"):
                    break

    with Cassette.open(path, "all") as recording:
        async with _router(fake.url, recording) as router:
            await turn(router, "hi")
    async with _router(NOWHERE, Cassette.open(path, "none")) as router:
        before = _tasks()
        await turn(router, "hi")
        with pytest.raises(CassetteMismatchError, match="client message 1"):
            await turn(router, "ho")
        await _settled(before)


def test_message_difference_compares_json_text_and_binary_alike() -> None:
    matcher = RequestMatcher.build(ignore_message_keys=["a.b"])
    assert matcher.message_difference('{"x": 1, "y": 2}', b'{"y":2,"x":1}') is None
    assert matcher.message_difference('{"a": {"b": 1, "c": 2}}', '{"a": {"b": 9, "c": 2}}') is None
    assert matcher.message_difference('{"event_id": "1"}', '{"event_id": "2"}') is None
    diff = matcher.message_difference("not json", "not json either")
    assert diff is not None and "+not json either" in diff
