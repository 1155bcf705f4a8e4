"""WebSocket cassettes: record realtime sessions through the fake server as a proxy, replay them.

The upstream is a second fake server standing in for the provider, accepting only canary
keys; the recording fake forwards OpenAI Realtime and Gemini Live sessions to it. The replay
is judged by the official SDKs' realtime clients (asyncio, in a worker thread).
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import openai
import orjson
import pytest
import trio
import trio.testing
from google import genai
from google.genai import types as genai_types
from hypothesis import given, settings
from hypothesis import strategies as st
from trio_websocket import ConnectionClosed, ConnectionRejected, open_websocket_url

from llm_router_testing.cassette import Cassette, CassetteFormatError, CassetteMissError, RecordMode
from llm_router_testing.cassette_format import (
    dump_cassette,
    frame_data,
    load_cassette,
    parse_cassette,
)
from llm_router_testing.fake import FAKE_KEYS, FakeProvider, open_fake_provider
from llm_router_testing.fake.app import FakeApp
from llm_router_testing.fake.auth import FakeCredentials
from llm_router_testing.fake.fixtures import Fixtures
from llm_router_testing.fake.state import FakeState
from llm_router_testing.proxy import RecordingProxy
from llm_router_testing.replayer import websocket_steps

OPENAI_CANARY = "sk-canary-realtime-5e1f0a9b7c3d"
GOOGLE_CANARY = "AIzaCanaryLive-0123456789abcdef"
GEMINI_PATH = "/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent"
WEATHER = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}


async def on_asyncio(main: Callable[[], Awaitable[Any]]) -> Any:
    return await trio.to_thread.run_sync(lambda: asyncio.run(main()))


def _openai(url: str, key: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=url + "/v1", api_key=key)


def _genai(url: str, key: str) -> genai.Client:
    client = genai.Client(api_key=key, http_options=genai_types.HttpOptions(base_url=url))
    # The SDK forces `wss://` onto any base URL with an API key; the fake serves plain `ws://`.
    ws_url = url.replace("http://", "ws://")
    client._api_client._websocket_base_url = lambda http_options=None: ws_url  # type: ignore[method-assign]
    client._api_client._websocket_ssl_ctx = {}
    return client


def _forms(secret: str) -> list[bytes]:
    """The secret as written and base64-encoded at every alignment (the core characters)."""
    raw = secret.encode()
    forms = [raw]
    for pad in range(3):
        encoded = base64.b64encode(b"\0" * pad + raw)
        forms.append(encoded[-(-8 * pad // 6) : 8 * (pad + len(raw)) // 6])
    return forms


def _assert_no_secret(data: bytes, *secrets: str) -> None:
    for secret in secrets:
        for form in _forms(secret):
            assert form not in data, f"{form!r} of a secret reached the cassette"


async def openai_text_and_tool_turns(url: str, key: str) -> tuple[str, Any]:
    """One OpenAI Realtime session: a text turn, then a required tool call."""

    async def main() -> tuple[str, Any]:
        async with _openai(url, key).realtime.connect(model="gpt-realtime") as conn:
            first = await conn.recv()
            assert first.type == "session.created"
            await conn.session.update(session={"type": "realtime", "output_modalities": ["text"]})
            await conn.conversation.item.create(
                item={
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": "hello there"}],
                }
            )
            await conn.response.create()
            text = ""
            async for event in conn:
                if event.type == "response.output_text.delta":
                    text += event.delta
                if event.type == "response.done":
                    break
            tool = {"type": "function", "name": "get_weather", "parameters": WEATHER}
            await conn.session.update(
                session={"type": "realtime", "tools": [tool], "tool_choice": "required"}
            )
            await conn.response.create()
            call = None
            async for event in conn:
                if event.type == "response.function_call_arguments.done":
                    call = event
                if event.type == "response.done":
                    break
            return text, call

    result: tuple[str, Any] = await on_asyncio(main)
    return result


async def gemini_text_turn(url: str, key: str) -> tuple[str, int]:
    async def main() -> tuple[str, int]:
        config = genai_types.LiveConnectConfig(response_modalities=[genai_types.Modality.TEXT])
        async with _genai(url, key).aio.live.connect(
            model="gemini-live-2.5-flash", config=config
        ) as s:
            await s.send_client_content(
                turns=genai_types.Content(role="user", parts=[genai_types.Part(text="hi live")]),
                turn_complete=True,
            )
            text, tokens = "", 0
            async for message in s.receive():
                text += message.text or ""
                if message.usage_metadata:
                    tokens = message.usage_metadata.response_token_count or 0
            return text, tokens

    result: tuple[str, int] = await on_asyncio(main)
    return result


def _upstream_credentials() -> FakeCredentials:
    return FakeCredentials(openai=OPENAI_CANARY, google=GOOGLE_CANARY)


async def test_record_openai_and_gemini_sessions_then_replay_with_the_official_sdks(
    tmp_path: Path,
) -> None:
    async with open_fake_provider(credentials=_upstream_credentials()) as upstream:
        proxy = RecordingProxy({"openai": upstream.url, "google": upstream.url}, tmp_path)
        async with open_fake_provider(proxy=proxy) as recorder:
            recorded_openai = await openai_text_and_tool_turns(recorder.url, OPENAI_CANARY)
            recorded_gemini = await gemini_text_turn(recorder.url, GOOGLE_CANARY)
            with trio.fail_after(10):
                await recorder.journal.wait_for_count(2)
            entries = [e for e in recorder.journal if e.method == "WEBSOCKET"]
            assert [(e.rule, e.status, e.closed_by) for e in entries] == [
                ("proxy", 101, "client"),
                ("proxy", 101, "client"),
            ]
        with trio.fail_after(10):
            await upstream.journal.wait_for_count(2)
        upstream_sessions = [e for e in upstream.journal if e.method == "WEBSOCKET"]
        assert [e.closed_by for e in upstream_sessions] == ["client", "client"]

    assert recorded_openai[0] == "You said: hello there"
    assert recorded_openai[1].name == "get_weather"
    assert recorded_gemini == ("You said: hi live", 4)
    for name in ("openai.json", "google.json"):
        data = (tmp_path / name).read_bytes()
        _assert_no_secret(data, OPENAI_CANARY, GOOGLE_CANARY)
    (openai_session,) = load_cassette(tmp_path / "openai.json")
    assert openai_session["request"]["url"].startswith("ws://127.0.0.1:")
    assert openai_session["request"]["headers"]["authorization"] == "Bearer REDACTED"
    frames = openai_session["websocket"]["frames"]
    assert json.loads(frame_data(frames[0]))["type"] == "session.created"
    assert all("text" in f for f in frames)  # OpenAI Realtime speaks in text frames
    assert [t["t"] for t in frames] == sorted(t["t"] for t in frames)
    assert openai_session["websocket"]["close"]["by"] == "client"
    (gemini_session,) = load_cassette(tmp_path / "google.json")
    server = [f for f in gemini_session["websocket"]["frames"] if f["from"] == "server"]
    assert server and all("data_b64" in f for f in server)  # Gemini Live sends binary JSON

    # Replay: no upstream, the SDKs use the fake's own keys, the answers are the recorded ones.
    async with open_fake_provider(fixtures=tmp_path) as replay:
        assert await openai_text_and_tool_turns(replay.url, FAKE_KEYS["openai"]) == (
            recorded_openai[0],
            recorded_openai[1],
        )
        assert await gemini_text_turn(replay.url, FAKE_KEYS["google"]) == recorded_gemini
        with trio.fail_after(10):
            await replay.journal.wait_for_count(2)
        entries = [e for e in replay.journal if e.method == "WEBSOCKET"]
        assert [(e.rule, e.closed_by) for e in entries] == [
            ("recording", "client"),
            ("recording", "client"),
        ]
        assert entries[0].frames_received == sum(1 for f in frames if f["from"] == "client")


async def test_key_in_the_query_and_echoed_in_frames_never_reaches_the_cassette(
    tmp_path: Path,
) -> None:
    """Gemini's `?key=`, and the key in the client's binary and text frames and echoed back in
    the fake's binary answers (base64 in the file)."""
    async with open_fake_provider(credentials=_upstream_credentials()) as upstream:
        proxy = RecordingProxy({"google": upstream.url}, tmp_path)
        async with open_fake_provider(proxy=proxy) as recorder:
            url = recorder.url.replace("http://", "ws://") + GEMINI_PATH + f"?key={GOOGLE_CANARY}"
            async with open_websocket_url(url) as ws:
                setup = {"setup": {"model": "models/gemini-live-2.5-flash"}}
                await ws.send_message(orjson.dumps(setup))
                assert orjson.loads(await ws.get_message()) == {"setupComplete": {}}
                for frame in ("binary", "text"):
                    turn = {"role": "user", "parts": [{"text": f"my key is {GOOGLE_CANARY}"}]}
                    content = {"clientContent": {"turns": [turn], "turnComplete": True}}
                    await ws.send_message(
                        orjson.dumps(content) if frame == "binary" else json.dumps(content)
                    )
                    echoed = b""
                    while b"turnComplete" not in echoed:
                        echoed = await ws.get_message()
                        assert isinstance(echoed, bytes)
    data = (tmp_path / "google.json").read_bytes()
    _assert_no_secret(data, GOOGLE_CANARY)
    (session,) = load_cassette(tmp_path / "google.json")
    assert session["request"]["url"].endswith("?key=REDACTED")
    frames = session["websocket"]["frames"]
    client = [f for f in frames if f["from"] == "client"]
    assert [("text" in f) for f in client] == [False, False, True]  # frame types are kept
    assert "my key is REDACTED" in base64.b64decode(client[1]["data_b64"]).decode()
    assert "my key is REDACTED" in client[2]["text"]
    answers = b"".join(base64.b64decode(f["data_b64"]) for f in frames if f["from"] == "server")
    assert b"REDACTED" in answers


async def test_refused_upgrade_is_recorded_and_refused_again_on_replay(tmp_path: Path) -> None:
    async with open_fake_provider(credentials=_upstream_credentials()) as upstream:
        proxy = RecordingProxy({"openai": upstream.url}, tmp_path)
        async with open_fake_provider(proxy=proxy) as recorder:
            url = recorder.url.replace("http://", "ws://") + "/v1/realtime?model=gpt-realtime"
            wrong = [(b"authorization", b"Bearer sk-wrong-key-0123456789")]
            with pytest.raises(ConnectionRejected) as refused:
                async with open_websocket_url(url, extra_headers=wrong):
                    pass
    assert refused.value.status_code == 401
    (interaction,) = load_cassette(tmp_path / "openai.json")
    assert interaction["response"]["status"] == 401
    assert b"sk-wrong-key-0123456789" not in (tmp_path / "openai.json").read_bytes()
    async with open_fake_provider(fixtures=tmp_path) as replay:
        url = replay.url.replace("http://", "ws://") + "/v1/realtime?model=gpt-realtime"
        right = [(b"authorization", f"Bearer {FAKE_KEYS['openai']}".encode())]
        with pytest.raises(ConnectionRejected) as again:
            async with open_websocket_url(url, extra_headers=right):
                pass
    assert again.value.status_code == 401
    assert orjson.loads(again.value.body or b"") == interaction["response"]["body"]


async def test_upstream_close_code_reaches_the_client_and_is_replayed(tmp_path: Path) -> None:
    faults = [(b"x-fake-close-code", b"4000"), (b"x-fake-drop-after-events", b"1")]
    auth = [(b"authorization", f"Bearer {FAKE_KEYS['openai']}".encode())]

    async def session(fake: FakeProvider) -> tuple[int | None, str | None, int]:
        url = fake.url.replace("http://", "ws://") + "/v1/realtime?model=gpt-realtime"
        count = 0
        async with open_websocket_url(url, extra_headers=[*auth, *faults]) as ws:
            try:
                while True:
                    await ws.get_message()
                    count += 1
            except ConnectionClosed as closed:
                assert closed.reason is not None
                return closed.reason.code, closed.reason.reason, count
        raise AssertionError("unreachable")

    async with open_fake_provider() as upstream:
        proxy = RecordingProxy({"openai": upstream.url}, tmp_path)
        async with open_fake_provider(proxy=proxy) as recorder:
            assert await session(recorder) == (4000, "injected by the fake provider", 1)
    (interaction,) = load_cassette(tmp_path / "openai.json")
    assert interaction["websocket"]["close"] == {
        "code": 4000,
        "reason": "injected by the fake provider",
        "by": "server",
    }
    async with open_fake_provider(fixtures=tmp_path) as replay:
        # The faults' headers are recorded as sent, and the recording alone closes with 4000.
        assert await session(replay) == (4000, "injected by the fake provider", 1)


def _session_document(frames: list[dict[str, Any]], **extra: Any) -> bytes:
    interaction = {
        "request": {"method": "GET", "url": "wss://api.openai.com/v1/realtime", "headers": {}},
        "websocket": {"frames": frames, **extra},
    }
    return orjson.dumps({"version": 1, "interactions": [interaction]})


@pytest.mark.parametrize(
    ("frames", "extra", "message"),
    [
        ([{"t": "0", "from": "server", "text": "{}"}], {}, r"frames\[0\]\.t must be a number"),
        ([{"t": 0, "from": "proxy", "text": "{}"}], {}, r"frames\[0\]\.from must be 'client'"),
        ([{"t": 0, "from": "server", "text": 5}], {}, r"frames\[0\]\.text must be a string"),
        ([{"t": 0, "from": "server"}], {}, r"frames\[0\] needs exactly one of 'text'"),
        (
            [{"t": 0, "from": "server", "text": "a", "data_b64": "YQ=="}],
            {},
            "needs exactly one of",
        ),
        ([{"t": 0, "from": "client", "data_b64": "%%"}], {}, "is not valid base64"),
        (
            [{"t": 2, "from": "server", "text": "a"}, {"t": 1, "from": "client", "text": "b"}],
            {},
            r"frames\[1\]\.t must not be earlier than the frame before it",
        ),
        ([{"t": 1e9, "from": "server", "text": "a"}], {}, "between 0 and 86400 seconds"),
        ([], {"close": {"code": 99, "reason": "", "by": "server"}}, r"close\.code must be a"),
        ([], {"close": {"code": 1000, "reason": None, "by": "server"}}, r"close\.reason must be"),
        ([], {"close": {"code": 1000, "reason": "", "by": "x"}}, r"close\.by must be 'client'"),
        ([], {"subprotocol": 3}, r"subprotocol must be a string or null"),
        ("no", {}, r"websocket\.frames must be a list, got str 'no'"),
    ],
)
def test_wrongly_typed_websocket_fields_are_named(
    frames: Any, extra: dict[str, Any], message: str
) -> None:
    with pytest.raises(CassetteFormatError, match=message):
        parse_cassette(_session_document(frames, **extra), "rt.json")


def test_a_websocket_session_needs_a_websocket_url_and_no_response() -> None:
    document = orjson.loads(_session_document([]))
    document["interactions"][0]["request"]["url"] = "https://api.openai.com/v1/realtime"
    with pytest.raises(CassetteFormatError, match=r"request\.url must be a ws:// or wss:// URL"):
        parse_cassette(orjson.dumps(document), "rt.json")
    document = orjson.loads(_session_document([]))
    document["interactions"][0]["response"] = {"status": 200, "headers": {}}
    with pytest.raises(CassetteFormatError, match="has both a 'websocket' session and a"):
        parse_cassette(orjson.dumps(document), "rt.json")


frame_strategy = st.tuples(
    st.sampled_from(["client", "server"]),
    st.one_of(st.text(max_size=40), st.binary(max_size=40)),
    st.floats(min_value=0, max_value=5, allow_nan=False),
)


@settings(max_examples=60, deadline=None)
@given(frames=st.lists(frame_strategy, max_size=12), code=st.integers(1000, 4999))
def test_frames_round_trip_through_the_file_exactly(
    frames: list[tuple[str, str | bytes, float]], code: int
) -> None:
    cassette = Cassette(None, mode=RecordMode.ALL)
    capture = cassette.record_websocket("wss://api.example.com/v1/realtime?model=m")
    capture.accepted()
    for sender, data, _ in frames:
        capture.frame(sender, data)  # type: ignore[arg-type]
    capture.closed(code, "bye", "server")
    capture.store()
    (loaded,) = parse_cassette(dump_cassette(cassette.new_interactions), "mem")
    recorded = loaded["websocket"]["frames"]
    assert [(f["from"], frame_data(f)) for f in recorded] == [(s, d) for s, d, _ in frames]
    assert all(
        type(frame_data(f)) is type(d) for f, (_, d, _) in zip(recorded, frames, strict=True)
    )
    steps = websocket_steps(loaded["websocket"])
    assert [s.data for s in steps if s.kind == "send"] == [d for s, d, _ in frames if s == "server"]
    assert sum(s.kind == "receive" for s in steps) == sum(s == "client" for s, _, _ in frames)
    assert (steps[-1].kind, steps[-1].code, steps[-1].reason) == ("close", code, "bye")


SECRET = "sk-property-secret-0123456789"


@settings(max_examples=60, deadline=None)
@given(
    before=st.text(alphabet='abc {}":,', max_size=10),
    after=st.text(alphabet='abc {}":,', max_size=10),
    cut=st.integers(1, len(SECRET) - 1),
    binary=st.booleans(),
    sender=st.sampled_from(["client", "server"]),
)
def test_a_secret_split_across_two_frames_is_removed_from_both(
    before: str, after: str, cut: int, binary: bool, sender: str
) -> None:
    cassette = Cassette(None, mode=RecordMode.ALL)
    capture = cassette.record_websocket(
        "wss://api.example.com/v1/realtime", [("authorization", f"Bearer {SECRET}")]
    )
    capture.accepted()
    first, second = before + SECRET[:cut], SECRET[cut:] + after
    capture.frame(sender, first.encode() if binary else first)  # type: ignore[arg-type]
    capture.frame("server" if sender == "client" else "client", "unrelated")  # type: ignore[arg-type]
    capture.frame(sender, second.encode() if binary else second)  # type: ignore[arg-type]
    capture.store()
    data = dump_cassette(cassette.new_interactions)
    _assert_no_secret(data, SECRET)
    (loaded,) = parse_cassette(data, "mem")
    ours = [f for f in loaded["websocket"]["frames"] if f["from"] == sender]
    texts = [frame_data(f) for f in ours]
    assert all(isinstance(t, bytes) is binary for t in texts)
    joined = b"".join(t.encode() if isinstance(t, str) else t for t in texts)
    assert joined == (before + "REDACTED" + after).encode()


def _write(path: Path, *interactions: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(orjson.dumps({"version": 1, "interactions": list(interactions)}))


def _session(url: str, frames: list[dict[str, Any]], **close: Any) -> dict[str, Any]:
    session: dict[str, Any] = {"frames": frames}
    if close:
        session["close"] = close
    return {"request": {"method": "GET", "url": url, "headers": {}}, "websocket": session}


async def test_replay_paces_the_server_frames_in_virtual_time(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    """The pause before a server frame is its recorded gap since the frame before it (a
    client frame's gap counts from its arrival): replay never waits longer than recorded."""
    frames = [
        {"t": 0.0, "from": "server", "text": '{"type": "session.created"}'},
        {"t": 5.0, "from": "client", "text": '{"type": "response.create"}'},
        {"t": 35.0, "from": "server", "text": '{"type": "response.created"}'},
        {"t": 95.0, "from": "server", "data_b64": base64.b64encode(b"\x00\x01").decode()},
    ]
    url = "wss://api.openai.com/v1/realtime?model=gpt-realtime"
    _write(tmp_path / "rt.json", _session(url, frames, code=4001, reason="done", by="server"))
    app = FakeApp(FakeState(fixtures=Fixtures.load(tmp_path)))
    sent: list[tuple[float, dict[str, Any]]] = []
    inbox = [
        {"type": "websocket.connect"},
        {"type": "websocket.receive", "text": '{"type":"response.create"}'},
    ]

    async def receive() -> dict[str, Any]:
        if inbox:
            return inbox.pop(0)
        await trio.sleep_forever()
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        sent.append((trio.current_time(), message))

    scope = {
        "type": "websocket",
        "path": "/v1/realtime",
        "raw_path": b"/v1/realtime",
        "query_string": b"model=gpt-realtime",
        "headers": [(b"authorization", f"Bearer {FAKE_KEYS['openai']}".encode())],
        "extensions": {"websocket.http.response": {}},
    }
    start = trio.current_time()
    await app(scope, receive, send)

    timeline = [(round(t - start, 6), m["type"], m.get("text", m.get("bytes"))) for t, m in sent]
    assert timeline == [
        (0.0, "websocket.accept", None),
        (0.0, "websocket.send", '{"type": "session.created"}'),
        (30.0, "websocket.send", '{"type": "response.created"}'),
        (90.0, "websocket.send", b"\x00\x01"),
        (90.0, "websocket.close", None),
    ]
    assert sent[-1][1] == {"type": "websocket.close", "code": 4001, "reason": "done"}
    (entry,) = app.state.journal
    assert entry.rule == "recording" and entry.error is None  # the client frame matched


async def test_sessions_the_client_opens_are_chosen_by_its_first_message(tmp_path: Path) -> None:
    """Two Gemini recordings on one path: each setup gets its own; an unrecorded setup gets
    the scripted session; a client frame unlike the recording is noted in the journal."""
    url = "wss://generativelanguage.googleapis.com" + GEMINI_PATH + "?key=REDACTED"

    def recording(model: str, answer: str) -> dict[str, Any]:
        setup = json.dumps({"setup": {"model": f"models/{model}"}})
        return _session(
            url,
            [
                {"t": 0.0, "from": "client", "text": setup},
                {"t": 0.01, "from": "server", "text": '{"setupComplete": {}}'},
                {"t": 0.02, "from": "client", "text": '{"clientContent": {"turnComplete": true}}'},
                {"t": 0.03, "from": "server", "text": json.dumps({"answer": answer})},
            ],
            code=1000,
            reason="",
            by="client",
        )

    _write(tmp_path / "a.json", recording("one", "first"))
    _write(tmp_path / "b" / "b.json", recording("two", "second"))

    async def session(fake: FakeProvider, model: str, content: dict[str, Any]) -> list[Any]:
        ws_url = fake.url.replace("http://", "ws://") + GEMINI_PATH + f"?key={FAKE_KEYS['google']}"
        async with open_websocket_url(ws_url) as ws:
            await ws.send_message(json.dumps({"setup": {"model": f"models/{model}"}}))
            replies = [orjson.loads(await ws.get_message())]
            await ws.send_message(json.dumps(content))
            replies.append(orjson.loads(await ws.get_message()))
        return replies

    done = {"clientContent": {"turnComplete": True}}
    async with open_fake_provider(fixtures=tmp_path) as fake:
        assert (await session(fake, "two", done))[1] == {"answer": "second"}
        assert (await session(fake, "one", done))[1] == {"answer": "first"}
        other = {"clientContent": {"turns": [{"role": "user", "parts": [{"text": "x"}]}]}}
        assert (await session(fake, "one", other))[1] == {"answer": "first"}
        scripted = await session(fake, "three", {**other, "clientContent": {
            **other["clientContent"], "turnComplete": True}})  # fmt: skip
        assert scripted[0] == {"setupComplete": {}} and "serverContent" in scripted[1]
        with trio.fail_after(10):
            await fake.journal.wait_for_count(4)
        entries = [e for e in fake.journal if e.method == "WEBSOCKET"]
    assert [e.rule for e in entries] == ["recording", "recording", "recording", None]
    assert [e.model for e in entries] == ["two", "one", "one", "three"]
    assert entries[0].error is None
    assert entries[2].error is not None
    assert entries[2].error.startswith("client message 2 differs from the recording: sent ")


async def test_responses_websocket_session_recorded_and_replayed_with_the_sdk(
    tmp_path: Path,
) -> None:
    async def turns(url: str, key: str) -> list[str]:
        async def main() -> list[str]:
            texts = []
            async with _openai(url, key).responses.connect() as conn:
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

        result: list[str] = await on_asyncio(main)
        return result

    async with open_fake_provider(credentials=_upstream_credentials()) as upstream:
        proxy = RecordingProxy({"openai": upstream.url}, tmp_path)
        async with open_fake_provider(proxy=proxy) as recorder:
            recorded = await turns(recorder.url, OPENAI_CANARY)
    assert recorded == ["You said: one", "You said: two"]
    _assert_no_secret((tmp_path / "openai.json").read_bytes(), OPENAI_CANARY)
    async with open_fake_provider(fixtures=tmp_path) as replay:
        assert await turns(replay.url, FAKE_KEYS["openai"]) == recorded
        with trio.fail_after(10):
            await replay.journal.wait_for_count(1)
        (entry,) = [e for e in replay.journal if e.method == "WEBSOCKET"]
    assert (entry.rule, entry.error, entry.frames_received) == ("recording", None, 2)


async def test_take_websocket_finds_sessions_and_http_replay_never_serves_them(
    tmp_path: Path,
) -> None:
    path = tmp_path / "live.json"
    url = "wss://generativelanguage.googleapis.com" + GEMINI_PATH
    with Cassette.open(path, mode="all") as recording:
        capture = recording.record_websocket(f"{url}?key={GOOGLE_CANARY}")
        capture.accepted()
        capture.frame("server", b'{"setupComplete": {}}')
        capture.closed(1000, "", "client")
        capture.store()
    _assert_no_secret(path.read_bytes(), GOOGLE_CANARY)

    cassette = Cassette.open(path, mode="none", match_on=("method", "path", "query"))
    found = cassette.take_websocket(f"{url}?key=another-key-0123456789")
    assert found is not None and found["websocket"]["close"]["by"] == "client"
    assert cassette.take_websocket(url.replace("v1beta", "v1alpha")) is None
    async with httpx.AsyncClient(transport=cassette.async_transport()) as client:
        with pytest.raises(CassetteMissError, match="no recorded interaction matches GET"):
            await client.get(url.replace("wss://", "https://") + "?key=REDACTED")
    with pytest.raises(ValueError, match="needs a ws:// or wss:// URL"):
        cassette.record_websocket("https://api.openai.com/v1/realtime")
