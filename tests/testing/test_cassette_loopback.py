"""Recording real traffic from loopback servers (hypercorn on Trio, and a threaded stdlib
server for the sync transport), then replaying it without the server."""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
from hypercorn.config import Config
from hypercorn.trio import serve

from llm_router_testing.cassette import Cassette
from llm_router_testing.fake import open_fake_provider

CHUNK_GAP = 0.05


async def sse_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """A minimal ASGI app: JSON echo on /echo, a slow SSE stream on /stream."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    if scope["path"] == "/stream":
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/event-stream")],
            }
        )
        for index in range(3):
            await trio.sleep(CHUNK_GAP)
            chunk = f'data: {{"index": {index}}}\n\n'.encode()
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
        return
    payload = json.dumps({"path": scope["path"], "received": json.loads(body or b"null")}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 201,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": payload})


@pytest.fixture
async def server_url() -> AsyncIterator[str]:
    config = Config()
    config.bind = ["127.0.0.1:0"]
    config.accesslog = None
    config.errorlog = None
    async with trio.open_nursery() as nursery:
        bound = await nursery.start(serve, sse_app, config)
        yield bound[0]
        nursery.cancel_scope.cancel()


async def test_record_real_stream_from_loopback_then_replay_offline(
    server_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "loopback.json"
    with Cassette.open(path, "once") as recording:
        async with httpx.AsyncClient(transport=recording.async_transport()) as client:
            echoed = await client.post(f"{server_url}/echo", json={"hello": "world"})
            async with client.stream("POST", f"{server_url}/stream", json={"stream": True}) as r:
                live = [chunk async for chunk in r.aiter_bytes()]
    assert echoed.status_code == 201
    assert b"".join(live).count(b"data:") == 3

    stored = json.loads(path.read_text())["interactions"]
    assert stored[0]["response"]["body"] == {"path": "/echo", "received": {"hello": "world"}}
    assert stored[0]["response"]["headers"]["content-type"] == "application/json"
    events = stored[1]["response"]["stream"]["events"]
    assert b"".join(e["data"].encode() for e in events) == b"".join(live)
    times = [e["t"] for e in events]
    assert times == sorted(times)
    assert times[-1] >= 2 * CHUNK_GAP  # the server's pauses are in the recording

    replay = Cassette.open(path, "once")  # the file exists now: replay only
    assert not replay.recording
    async with httpx.AsyncClient(transport=replay.async_transport()) as client:
        again = await client.post("http://127.0.0.1:9/echo", json={"hello": "world"})
        async with client.stream("POST", "http://127.0.0.1:9/stream", json={"stream": True}) as r:
            replayed = [chunk async for chunk in r.aiter_bytes()]
    assert again.status_code == 201 and again.json() == echoed.json()
    assert b"".join(replayed) == b"".join(live)
    assert replay.all_played


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        length = int(self.headers["content-length"])
        received = json.loads(self.rfile.read(length))
        payload = json.dumps({"received": received, "auth": self.headers["authorization"]})
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload.encode())

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def threaded_server_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_sync_recording_from_loopback(threaded_server_url: str, tmp_path: Path) -> None:
    path = tmp_path / "sync.json"
    key = "sk-loopback-canary-0123456789"
    with (
        Cassette.open(path, "new") as recording,
        httpx.Client(transport=recording.transport()) as client,
    ):
        live = client.post(
            f"{threaded_server_url}/v1/chat/completions",
            json={"model": "m"},
            headers={"authorization": f"Bearer {key}"},
        )
    assert live.json()["auth"] == f"Bearer {key}"
    assert key.encode() not in path.read_bytes()  # echoed by the server, scrubbed anyway

    replay = Cassette.open(path, "none")
    with httpx.Client(transport=replay.transport()) as client:
        again = client.post("http://127.0.0.1:9/v1/chat/completions", json={"model": "m"})
    assert again.json() == {"received": {"model": "m"}, "auth": "Bearer REDACTED"}


OPENAI_KEY = "sk-fake"
CHAT = {
    "model": "gpt-4o-mini",
    "messages": [{"role": "user", "content": "hello there"}],
    "stream": True,
}


async def test_record_fake_provider_stream_with_its_timing(tmp_path: Path) -> None:
    path = tmp_path / "fake.json"
    headers = {
        "authorization": f"Bearer {OPENAI_KEY}",
        "x-fake-latency": "30ms",
        "x-fake-inter-event-delay": "20ms",
    }
    async with open_fake_provider() as fake:
        with Cassette.open(path, "all") as recording:
            async with httpx.AsyncClient(transport=recording.async_transport()) as client:
                url = f"{fake.url}/v1/chat/completions"
                async with client.stream("POST", url, json=CHAT, headers=headers) as r:
                    live = [chunk async for chunk in r.aiter_raw()]
        assert len(fake.journal) == 1
    (interaction,) = json.loads(path.read_text())["interactions"]
    response = interaction["response"]
    assert response["elapsed"] >= 0.03
    assert response["headers"]["content-type"].startswith("text/event-stream")
    stream = response["stream"]
    assert stream["kind"] == "sse"
    assert "".join(e["data"] for e in stream["events"]).endswith("data: [DONE]\n\n")
    times = [e["t"] for e in stream["events"]]
    assert times[-1] - times[0] >= 0.02 * (len(times) - 2)  # the pauses between events
    assert interaction["request"]["headers"]["authorization"] == "Bearer REDACTED"

    replay = Cassette.open(path, "none")
    async with httpx.AsyncClient(transport=replay.async_transport()) as client:
        url = "http://127.0.0.1:9/v1/chat/completions"
        async with client.stream("POST", url, json=CHAT, headers=headers) as r:
            assert b"".join([chunk async for chunk in r.aiter_raw()]) == b"".join(live)


async def test_record_fake_provider_faults_and_binary_event_stream(tmp_path: Path) -> None:
    path = tmp_path / "faults.json"
    converse_url = "/model/anthropic.claude-3-haiku/converse-stream"
    converse = {"messages": [{"role": "user", "content": [{"text": "hi"}]}]}
    async with open_fake_provider() as fake:
        with Cassette.open(path, "all") as recording:
            transport = recording.async_transport()
            async with httpx.AsyncClient(transport=transport, base_url=fake.url) as client:
                dropped = {"authorization": f"Bearer {OPENAI_KEY}", "x-fake-drop-after-events": "2"}
                with pytest.raises(httpx.RemoteProtocolError):
                    await client.post("/v1/chat/completions", json=CHAT, headers=dropped)
                limited = await client.post(
                    "/v1/chat/completions",
                    json={**CHAT, "stream": False},
                    headers={"authorization": f"Bearer {OPENAI_KEY}", "x-fake-status": "429"},
                )
                bedrock = await client.post(
                    converse_url,
                    json=converse,
                    headers={"authorization": "Bearer bedrock-fake-api-key"},
                )
    assert limited.status_code == 429 and bedrock.status_code == 200
    dropped_record, limited_record, bedrock_record = json.loads(path.read_text())["interactions"]
    assert dropped_record["response"]["stream"]["error"]["type"] == "RemoteProtocolError"
    assert len(dropped_record["response"]["stream"]["events"]) >= 1
    assert limited_record["response"]["status"] == 429
    assert "error" in limited_record["response"]["body"]
    events = bedrock_record["response"]["stream"]["events"]
    assert bedrock_record["response"]["stream"]["kind"] == "bytes"
    assert all("data_b64" in e for e in events)

    replay = Cassette.open(path, "none")
    async with httpx.AsyncClient(transport=replay.async_transport(), base_url="http://x") as client:
        with pytest.raises(httpx.RemoteProtocolError):
            await client.post("/v1/chat/completions", json=CHAT)
        again = await client.post("/v1/chat/completions", json={**CHAT, "stream": False})
        assert again.status_code == 429 and again.json() == limited.json()
        assert (await client.post(converse_url, json=converse)).content == bedrock.content
    assert replay.all_played
