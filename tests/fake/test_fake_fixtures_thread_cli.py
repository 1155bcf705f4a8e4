"""Cassette fixtures, the threaded server and the `llm-router-fake` command."""

from __future__ import annotations

import base64
import subprocess
import sys
from pathlib import Path

import httpx
import orjson
import pytest
from _fake_http import CHAT, OPENAI, sse_names

from llm_router_testing.cli import main
from llm_router_testing.fake import (
    FixtureError,
    Fixtures,
    open_fake_provider,
    run_fake_provider_in_thread,
)
from llm_router_testing.fake.eventstream import event_frame

CLAUDE = {
    "model": "claude",
    "max_tokens": 9,
    "stream": True,
    "messages": [{"role": "user", "content": "hi"}],
}
ANTHROPIC = {"x-api-key": "sk-ant-fake", "anthropic-version": "2023-06-01"}


def _cassette(directory: Path) -> Path:
    def interaction(url: str, body: object, response: dict[str, object]) -> dict[str, object]:
        request = {"method": "POST", "url": url, "headers": {}, "body": body}
        return {"request": request, "response": response, "recorded_at": "2026-01-01T00:00:00Z"}

    json_headers = {"content-type": "application/json"}
    frame = base64.b64encode(event_frame("messageStart", b"{}")).decode()
    interactions = [
        interaction(
            "https://api.openai.com/v1/chat/completions",
            CHAT,
            {"status": 200, "headers": json_headers, "body": {"recorded": 1}},
        ),
        interaction(
            "https://api.openai.com/v1/chat/completions",
            CHAT,
            {"status": 200, "headers": json_headers, "body_text": '{"recorded": 2}'},
        ),
        interaction(
            "https://api.anthropic.com/v1/messages",
            CLAUDE,
            {
                "status": 200,
                "headers": {"content-type": "text/event-stream", "content-length": "999"},
                "stream": {
                    "kind": "sse",
                    "events": [
                        {
                            "t": 0.0,
                            "data": 'event: message_start\ndata: {"type": "message_start"}\n\n',
                        },
                        {
                            "t": 0.01,
                            "data": 'event: message_stop\ndata: {"type": "message_stop"}\n\n',
                        },
                    ],
                },
            },
        ),
        interaction(
            "https://bedrock/model/m/converse-stream",
            {"messages": []},
            {
                "status": 200,
                "headers": {},
                "stream": {"kind": "bytes", "events": [{"t": 0.0, "data_b64": frame}]},
            },
        ),
    ]
    path = directory / "nested" / "openai.json"
    path.parent.mkdir()
    path.write_bytes(orjson.dumps({"version": 1, "interactions": interactions}))
    return directory


async def test_fixtures_are_served_in_turn_and_faults_still_apply(tmp_path: Path) -> None:
    async with (
        open_fake_provider(fixtures=_cassette(tmp_path)) as fake,
        httpx.AsyncClient(base_url=fake.url) as http,
    ):
        reordered = orjson.dumps({"messages": CHAT["messages"], "model": CHAT["model"]})
        bodies = [
            (await http.post("/v1/chat/completions", content=reordered, headers=OPENAI)).json()
            for _ in range(3)
        ]
        assert bodies == [{"recorded": 1}, {"recorded": 2}, {"recorded": 2}]
        stream = await http.post("/v1/messages", json=CLAUDE, headers=ANTHROPIC)
        assert sse_names(stream.text) == ["message_start", "message_stop"]
        assert fake.journal[-1].events_sent == 2
        raw = await http.post(
            "/model/m/converse-stream",
            json={"messages": []},
            headers={"authorization": "Bearer bedrock-fake-api-key"},
        )
        assert raw.content == event_frame("messageStart", b"{}")
        other = await http.post(
            "/v1/chat/completions", json={**CHAT, "model": "other"}, headers=OPENAI
        )
        assert other.json()["choices"][0]["message"]["content"] == "You said: hello fake world"
        failing = await http.post(
            "/v1/chat/completions", json=CHAT, headers={**OPENAI, "x-fake-status": "503"}
        )
        assert failing.status_code == 503
        fake.reset()
        assert (await http.post("/v1/chat/completions", json=CHAT, headers=OPENAI)).json() == {
            "recorded": 1
        }


def test_bad_cassettes_name_the_file(tmp_path: Path) -> None:
    (tmp_path / "broken.json").write_text('{"version": 1, "interactions": [{"request": {}}]}')
    with pytest.raises(FixtureError, match=r"broken\.json: interactions\[0\]"):
        Fixtures.load(tmp_path)
    with pytest.raises(FixtureError, match="not found"):
        Fixtures.load(tmp_path / "missing")


def test_threaded_server_for_sync_code() -> None:
    with run_fake_provider_in_thread(scenario={"rules": [{"status": 503, "times": 1}]}) as fake:
        with httpx.Client(base_url=fake.url) as http:
            assert http.post("/v1/chat/completions", json=CHAT, headers=OPENAI).status_code == 503
            assert http.post("/v1/chat/completions", json=CHAT, headers=OPENAI).status_code == 200
            headers = {**OPENAI, "x-fake-inter-event-delay": "100ms"}
            with http.stream(
                "POST", "/v1/chat/completions", json={**CHAT, "stream": True}, headers=headers
            ) as response:
                next(response.iter_bytes())
        assert fake.journal.wait_for_disconnect_blocking(timeout=5).stream
        fake.reset()
        assert len(fake.journal) == 0


def test_cli_rejects_bad_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--latency", "soon"]) == 2
    assert "duration" in capsys.readouterr().err
    assert main(["serve", "--scenario", str(tmp_path / "none.json")]) == 2
    with pytest.raises(SystemExit):
        main(["bogus"])


def test_cli_serves_until_stopped(tmp_path: Path) -> None:
    scenario = tmp_path / "scenario.json"
    scenario.write_text('{"rules": [{"match": {"path": "/v1/messages$"}, "status": 529}]}')
    command = [
        sys.executable,
        "-m",
        "llm_router_testing.cli",
        "serve",
        "--port",
        "0",
        "--seed",
        "1",
        "--scenario",
        str(scenario),
        "--latency",
        "1ms",
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("llm-router-fake listening on http://127.0.0.1:")
        url = line.rsplit(" ", 1)[1].strip()
        with httpx.Client(base_url=url, timeout=10) as http:
            assert http.get("/_fake/health").json() == {"status": "ok"}
            assert http.post("/v1/messages", json=CLAUDE, headers=ANTHROPIC).status_code == 529
    finally:
        process.terminate()
        process.wait(timeout=10)
