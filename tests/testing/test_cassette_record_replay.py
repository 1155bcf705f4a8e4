"""Recorder + replayer round trips through httpx.MockTransport: modes, streams, timing, misses."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from functools import partial
from pathlib import Path

import httpx
import pytest
import trio
import trio.testing

from llm_router.errors import ConfigurationError
from llm_router_testing.cassette import (
    Cassette,
    CassetteError,
    CassetteMissError,
    RecordMode,
    ReplayTransport,
)

CHAT_URL = "https://api.example.test/v1/chat/completions"


def chat_body(content: str = "hi", **extra: object) -> dict[str, object]:
    return {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": content}], **extra}


class Upstream:
    """A scripted upstream that counts calls and answers with a JSON echo or an SSE stream."""

    def __init__(self) -> None:
        self.calls = 0

    async def handle(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        body = json.loads(request.content) if request.content else {}
        if body.get("stream"):
            await trio.sleep(0.25)  # time to first byte

            async def events() -> AsyncIterator[bytes]:
                for index in range(3):
                    await trio.sleep(0.5)
                    yield f'data: {{"n": {index}}}\n\n'.encode()
                yield b"data: [DONE]\n\n"

            return httpx.Response(
                200, headers={"content-type": "text/event-stream"}, content=events()
            )
        return httpx.Response(200, json={"echo": body, "call": self.calls})

    def sync_handle(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        return httpx.Response(200, json={"echo": json.loads(request.content), "call": self.calls})

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)


async def post(cassette: Cassette, upstream: Upstream | None, body: object) -> httpx.Response:
    inner = upstream.transport() if upstream else None
    async with httpx.AsyncClient(transport=cassette.async_transport(inner)) as client:
        return await client.post(CHAT_URL, json=body)


async def record_one(path: Path, body: object) -> None:
    with Cassette.open(path, "all") as cassette:
        await post(cassette, Upstream(), body)


async def test_record_then_replay_json(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    upstream = Upstream()
    with Cassette.open(path, "all") as recording:
        live = await post(recording, upstream, chat_body())
    stored = json.loads(path.read_text())
    assert stored["version"] == 1
    (interaction,) = stored["interactions"]
    assert interaction["request"]["body"] == chat_body()  # stored as a JSON value
    assert interaction["response"]["body"] == {"echo": chat_body(), "call": 1}
    assert interaction["request"]["headers"]["accept-encoding"] != "identity"

    replay = Cassette.open(path, "none")
    replayed = await post(replay, None, chat_body())
    assert replayed.status_code == 200
    assert replayed.json() == live.json()
    assert int(replayed.headers["content-length"]) == len(replayed.content)
    assert replay.play_count == 1 and replay.all_played


async def test_body_matching_ignores_key_order_and_listed_keys(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    await record_one(path, chat_body(stream_options={"include_usage": True}))
    replay = Cassette.open(path, "none", ignore_body_keys=["stream_options"])
    reordered = dict(reversed(list(chat_body(stream_options={"x": 1}).items())))
    assert (await post(replay, None, reordered)).json()["call"] == 1


async def test_miss_names_the_closest_request_and_the_difference(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    upstream = Upstream()
    with Cassette.open(path, "all") as recording:
        async with httpx.AsyncClient(
            transport=recording.async_transport(upstream.transport())
        ) as c:
            await c.get("https://api.example.test/v1/models")
            await c.post(CHAT_URL, json=chat_body("hello there"))
    replay = Cassette.open(path, "none")
    with pytest.raises(CassetteMissError) as caught:
        await post(replay, None, chat_body("hello world"))
    message = str(caught.value)
    assert f"no recorded interaction matches POST {CHAT_URL}" in message
    assert f"closest recorded request: #1 POST {CHAT_URL}" in message
    assert "body differs" in message
    assert '-      "content": "hello there",' in message
    assert '+      "content": "hello world",' in message
    assert "--llm-record-mode=new" in message
    assert replay.misses == [caught.value]
    assert not replay.all_played


async def test_miss_on_missing_file_says_so(tmp_path: Path) -> None:
    cassette = Cassette.open(tmp_path / "absent.json", "none")
    with pytest.raises(CassetteMissError, match="the cassette file does not exist"):
        await post(cassette, None, chat_body())
    assert cassette.save() is False
    assert not (tmp_path / "absent.json").exists()


async def test_repeats_replay_in_order_then_reuse_the_last(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    upstream = Upstream()
    with Cassette.open(path, "all") as recording:
        for _ in range(2):
            await post(recording, upstream, chat_body())
    replay = Cassette.open(path, "none")
    calls = [(await post(replay, None, chat_body())).json()["call"] for _ in range(3)]
    assert calls == [1, 2, 2]
    assert replay.play_count == 3

    strict = Cassette.open(path, "none", allow_playback_repeats=False)
    assert [(await post(strict, None, chat_body())).json()["call"] for _ in range(2)] == [1, 2]
    with pytest.raises(CassetteMissError, match="already replayed"):
        await post(strict, None, chat_body())


async def test_mode_once_records_only_when_the_file_is_new(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    upstream = Upstream()
    with Cassette.open(path, "once") as first:
        assert first.recording
        await post(first, upstream, chat_body("a"))
    assert upstream.calls == 1
    second = Cassette.open(path, RecordMode.ONCE)
    assert not second.recording
    await post(second, upstream, chat_body("a"))
    with pytest.raises(CassetteMissError):
        await post(second, upstream, chat_body("b"))
    assert upstream.calls == 1


async def test_mode_new_replays_known_and_records_new(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    await record_one(path, chat_body("a"))
    upstream = Upstream()
    with Cassette.open(path, "new") as cassette:
        await post(cassette, upstream, chat_body("a"))
        await post(cassette, upstream, chat_body("b"))
    assert upstream.calls == 1
    assert cassette.play_count == 1
    stored = json.loads(path.read_text())["interactions"]
    assert [i["request"]["body"]["messages"][0]["content"] for i in stored] == ["a", "b"]


async def test_mode_all_overwrites(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    await record_one(path, chat_body("old"))
    upstream = Upstream()
    with Cassette.open(path, "all") as cassette:
        assert cassette.interactions == []
        await post(cassette, upstream, chat_body("old"))
    assert upstream.calls == 1
    stored = json.loads(path.read_text())["interactions"]
    assert len(stored) == 1 and stored[0]["response"]["body"]["call"] == 1


def test_record_mode_parse_rejects_unknown() -> None:
    assert RecordMode.parse("NEW") is RecordMode.NEW
    with pytest.raises(ValueError, match="expected one of: none, once, new, all"):
        RecordMode.parse("sometimes")


async def test_stream_recorded_with_timing_and_replayed_in_virtual_time(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    path = tmp_path / "c.json"
    upstream = Upstream()
    with Cassette.open(path, "all") as recording:
        async with (
            httpx.AsyncClient(transport=recording.async_transport(upstream.transport())) as c,
            c.stream("POST", CHAT_URL, json=chat_body(stream=True)) as response,
        ):
            live_chunks = [chunk async for chunk in response.aiter_raw()]
    stream = json.loads(path.read_text())["interactions"][0]["response"]["stream"]
    assert stream["kind"] == "sse"
    assert [e["t"] for e in stream["events"]] == [0.5, 1.0, 1.5, 1.5]
    assert stream["events"][0]["data"] == 'data: {"n": 0}\n\n'
    assert json.loads(path.read_text())["interactions"][0]["response"]["elapsed"] == 0.25

    replay = Cassette.open(path, "none", realtime=True)
    async with httpx.AsyncClient(transport=replay.async_transport()) as client:
        start = trio.current_time()
        async with client.stream("POST", CHAT_URL, json=chat_body(stream=True)) as response:
            assert trio.current_time() - start == pytest.approx(0.25)
            arrivals = []
            chunks = []
            async for chunk in response.aiter_raw():
                arrivals.append(trio.current_time() - start)
                chunks.append(chunk)
    assert chunks == live_chunks  # chunk boundaries preserved
    assert arrivals == pytest.approx([0.75, 1.25, 1.75, 1.75])

    instant = Cassette.open(path, "none")
    async with httpx.AsyncClient(transport=instant.async_transport()) as client:
        start = trio.current_time()
        response = await client.post(CHAT_URL, json=chat_body(stream=True))
    assert trio.current_time() == start
    assert response.text.endswith("data: [DONE]\n\n")


async def test_partially_read_stream_is_flagged_truncated(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    path = tmp_path / "c.json"
    with Cassette.open(path, "all") as recording:
        transport = recording.async_transport(Upstream().transport())
        async with (
            httpx.AsyncClient(transport=transport) as client,
            client.stream("POST", CHAT_URL, json=chat_body(stream=True)) as response,
        ):
            async for _ in response.aiter_raw():
                break
    stream = json.loads(path.read_text())["interactions"][0]["response"]["stream"]
    assert stream["truncated"] is True
    assert len(stream["events"]) == 1

    replay = Cassette.open(path, "none")
    async with httpx.AsyncClient(transport=replay.async_transport()) as client:
        async with client.stream("POST", CHAT_URL, json=chat_body(stream=True)) as response:
            async for chunk in response.aiter_raw():
                assert chunk == b'data: {"n": 0}\n\n'
                break  # reading only what was recorded is fine
        with pytest.raises(CassetteError, match="truncated"):
            await client.post(CHAT_URL, json=chat_body(stream=True))


async def test_transport_errors_are_recorded_and_replayed(tmp_path: Path) -> None:
    path = tmp_path / "c.json"

    async def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with Cassette.open(path, "all") as recording, pytest.raises(httpx.ConnectError):
        async with httpx.AsyncClient(
            transport=recording.async_transport(httpx.MockTransport(refuse))
        ) as client:
            await client.post(CHAT_URL, json=chat_body())
    stored = json.loads(path.read_text())["interactions"][0]
    assert stored["error"] == {"type": "ConnectError", "message": "connection refused"}
    replay = Cassette.open(path, "none")
    with pytest.raises(httpx.ConnectError, match="connection refused"):
        await post(replay, None, chat_body())


async def test_mid_stream_disconnect_is_replayed(tmp_path: Path) -> None:
    path = tmp_path / "c.json"

    async def broken(request: httpx.Request) -> httpx.Response:
        async def events() -> AsyncIterator[bytes]:
            yield b"data: {}\n\n"
            raise httpx.RemoteProtocolError("peer closed connection", request=request)

        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=events())

    with Cassette.open(path, "all") as recording:
        transport = recording.async_transport(httpx.MockTransport(broken))
        async with httpx.AsyncClient(transport=transport) as client:
            with pytest.raises(httpx.RemoteProtocolError):
                await client.post(CHAT_URL, json=chat_body())
    stream = json.loads(path.read_text())["interactions"][0]["response"]["stream"]
    assert stream["error"]["type"] == "RemoteProtocolError"
    assert "truncated" not in stream
    replay = Cassette.open(path, "none")
    async with (
        httpx.AsyncClient(transport=replay.async_transport()) as client,
        client.stream("POST", CHAT_URL, json=chat_body()) as response,
    ):
        received = []
        with pytest.raises(httpx.RemoteProtocolError, match="peer closed"):
            async for chunk in response.aiter_raw():
                received.append(chunk)
    assert received == [b"data: {}\n\n"]


async def test_binary_bodies_and_chunks_are_base64(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    frames = [b"\x00\x00\x00\x1f\xff\xfe\x80", b"\x01\x02\xc3"]

    async def eventstream(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/blob"):
            return httpx.Response(
                200, headers={"content-type": "application/octet-stream"}, content=b"\x89PNG\x00"
            )

        async def chunks() -> AsyncIterator[bytes]:
            for frame in frames:
                yield frame

        return httpx.Response(
            200, headers={"content-type": "application/vnd.amazon.eventstream"}, content=chunks()
        )

    url = "https://bedrock.example.test/model/m/converse-stream"
    with Cassette.open(path, "all") as recording:
        transport = recording.async_transport(httpx.MockTransport(eventstream))
        async with httpx.AsyncClient(transport=transport) as client:
            await client.post(url, content=b"\xff\x00binary request")
            await client.get("https://bedrock.example.test/blob")
    first, second = json.loads(path.read_text())["interactions"]
    assert first["request"]["body_b64"] == base64.b64encode(b"\xff\x00binary request").decode()
    assert first["response"]["stream"]["kind"] == "bytes"
    assert [e["data_b64"] for e in first["response"]["stream"]["events"]] == [
        base64.b64encode(f).decode() for f in frames
    ]
    assert second["response"]["body_b64"] == base64.b64encode(b"\x89PNG\x00").decode()

    replay = Cassette.open(path, "none")
    async with httpx.AsyncClient(transport=replay.async_transport()) as client:
        async with client.stream("POST", url, content=b"\xff\x00binary request") as response:
            assert [c async for c in response.aiter_raw()] == frames
        assert (await client.get("https://bedrock.example.test/blob")).content == b"\x89PNG\x00"


def test_sync_transports_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    upstream = Upstream()
    with Cassette.open(path, "all") as recording:
        inner = httpx.MockTransport(upstream.sync_handle)
        with httpx.Client(transport=recording.transport(inner)) as client:
            live = client.post(CHAT_URL, json=chat_body("sync")).json()
    replay = Cassette.open(path, "none")
    with httpx.Client(transport=replay.transport()) as client:
        assert client.post(CHAT_URL, json=chat_body("sync")).json() == live
        with pytest.raises(CassetteMissError, match="closest recorded request: #0"):
            client.post(CHAT_URL, json=chat_body("other"))
    assert upstream.calls == 1


def test_sync_transport_refuses_realtime(tmp_path: Path) -> None:
    cassette = Cassette.open(tmp_path / "c.json", "none", realtime=True)
    with pytest.raises(ConfigurationError, match="realtime replay needs Trio"):
        cassette.transport()


async def test_match_on_host_and_query_and_custom_matchers(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    upstream = Upstream()
    with Cassette.open(path, "all") as recording:
        async with httpx.AsyncClient(
            transport=recording.async_transport(upstream.transport())
        ) as c:
            await c.get("https://a.example.test/v1/models?page=1&limit=2")
    base = Cassette.open(path, "none")
    async with httpx.AsyncClient(transport=base.async_transport()) as client:
        # default criteria ignore the host and the query
        assert (await client.get("https://b.example.test/v1/models?page=9")).status_code == 200

    strict = Cassette.open(path, "none", match_on=("method", "host", "path", "query"))
    async with httpx.AsyncClient(transport=strict.async_transport()) as client:
        assert (await client.get("https://a.example.test/v1/models?limit=2&page=1")).is_success
        with pytest.raises(CassetteMissError, match=r"query: recorded \[\('limit', '2'\)"):
            await client.get("https://a.example.test/v1/models?page=2&limit=2")
        with pytest.raises(CassetteMissError, match=r"host: recorded 'a\.example\.test:443'"):
            await client.get("https://b.example.test/v1/models?limit=2&page=1")

    def never(recorded: object, incoming: object) -> bool:
        return False

    transport = ReplayTransport(Cassette.open(path, "none"), match_on=("method", never))
    async with httpx.AsyncClient(transport=transport) as client:
        with pytest.raises(CassetteMissError, match="matcher never rejected it"):
            await client.get("https://a.example.test/v1/models?page=1&limit=2")


def test_unknown_match_criterion_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown match criterion 'verb'"):
        Cassette.open(tmp_path / "c.json", match_on=("verb",))


async def test_interactions_keep_request_order_under_concurrency(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    async def slow_first(request: httpx.Request) -> httpx.Response:
        delay = float(json.loads(request.content)["delay"])
        await trio.sleep(delay)
        return httpx.Response(200, json={"delay": delay})

    path = tmp_path / "c.json"
    with Cassette.open(path, "all") as recording:
        transport = recording.async_transport(httpx.MockTransport(slow_first))
        async with httpx.AsyncClient(transport=transport) as client, trio.open_nursery() as nursery:
            for delay in (3, 1, 2):
                nursery.start_soon(partial(client.post, CHAT_URL, json={"delay": delay}))
                await trio.sleep(0.01)
    assert [i["request"]["body"]["delay"] for i in recording.interactions] == [3, 1, 2]
