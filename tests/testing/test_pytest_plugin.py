"""The pytest plugin, exercised in inner pytest runs: options, marker, fixtures, failures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

# An inner test module: a scripted upstream recorded through the llm_cassette fixture.
UPSTREAM = """
import httpx
import pytest

calls = []

def upstream(request):
    calls.append(request.url.path)
    return httpx.Response(200, json={"path": request.url.path, "n": len(calls)})

def client(cassette):
    return httpx.Client(transport=cassette.transport(httpx.MockTransport(upstream)))
"""


def cassette_file(pytester: pytest.Pytester, *parts: str) -> Path:
    return pytester.path.joinpath(*parts)


def test_records_with_the_option_then_replays_by_default(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_chat=UPSTREAM
        + """
def test_chat(llm_cassette):
    with client(llm_cassette) as c:
        assert c.post("https://api.test/v1/chat", json={"q": 1}).json()["path"] == "/v1/chat"
    assert llm_cassette.recording == (llm_cassette.mode.value != "none")

@pytest.mark.parametrize("who", ["a b", "c/d"])
def test_param(llm_cassette, who):
    with client(llm_cassette) as c:
        c.get("https://api.test/v1/models", params={"who": who})

class TestGroup:
    def test_method(self, llm_cassette):
        with client(llm_cassette) as c:
            c.get("https://api.test/v1/models")
"""
    )
    pytester.runpytest("--llm-record-mode=new").assert_outcomes(passed=4)
    base = cassette_file(pytester, "cassettes", "test_chat")
    assert sorted(p.name for p in base.iterdir()) == [
        "TestGroup.test_method.json",
        "test_chat.json",
        "test_param[a_b].json",
        "test_param[c_d].json",
    ]
    stored = json.loads((base / "test_chat.json").read_text())
    assert stored["interactions"][0]["request"]["body"] == {"q": 1}

    # default mode is none: everything replays, the upstream is never called
    pytester.makepyfile(
        test_chat=UPSTREAM.replace("calls.append", "raise AssertionError; calls.append")
        + """
def test_chat(llm_cassette):
    with client(llm_cassette) as c:
        assert c.post("https://api.test/v1/chat", json={"q": 1}).json()["n"] == 1
    assert llm_cassette.all_played and llm_cassette.play_count == 1
"""
    )
    pytester.runpytest().assert_outcomes(passed=1)


def test_miss_in_none_mode_fails_the_test_clearly(pytester: pytest.Pytester) -> None:
    recorded = {
        "version": 1,
        "interactions": [
            {
                "request": {
                    "method": "POST",
                    "url": "https://api.test/v1/chat",
                    "headers": {},
                    "body": {"model": "small", "q": "recorded question"},
                },
                "response": {"status": 200, "headers": {}, "body": {"ok": True}},
                "recorded_at": "2025-01-01T00:00:00+00:00",
            }
        ],
    }
    target = cassette_file(pytester, "cassettes", "test_miss", "test_asks_something_else.json")
    target.parent.mkdir(parents=True)
    target.write_text(json.dumps(recorded))
    pytester.makepyfile(
        test_miss=UPSTREAM
        + """
def test_asks_something_else(llm_cassette):
    with client(llm_cassette) as c:
        c.post("https://api.test/v1/chat", json={"model": "small", "q": "another question"})

def test_swallows_the_miss(llm_cassette):
    with client(llm_cassette) as c:
        try:
            c.get("https://api.test/v1/unknown")
        except Exception:
            pass
"""
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=1, passed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*CassetteMissError: no recorded interaction matches POST https://api.test/v1/chat",
            "*closest recorded request: #0 POST https://api.test/v1/chat",
            '*-  "q": "recorded question"',
            '*+  "q": "another question"',
            "*--llm-record-mode=new*",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_swallows_the_miss*",
            "*llm_cassette: 1 request(s) had no recording (the code under test may have"
            " swallowed the error)*",
            "*no recorded interaction matches GET https://api.test/v1/unknown*",
        ]
    )
    # replay-only runs never write cassettes
    assert [p.name for p in cassette_file(pytester, "cassettes").rglob("*.json")] == [target.name]


def test_marker_path_mode_and_options(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_marked=UPSTREAM
        + """
@pytest.mark.llm_cassette("shared/one.json", mode="once", ignore_body_keys=["nonce"])
def test_marked(llm_cassette):
    with client(llm_cassette) as c:
        c.post("https://api.test/v1/chat", json={"q": 1, "nonce": 1})
        c.post("https://api.test/v1/chat", json={"q": 1, "nonce": 2})
    assert len(calls) == (2 if llm_cassette.recording else 0)
"""
    )
    pytester.runpytest().assert_outcomes(passed=1)  # once: records, the file is new
    shared = cassette_file(pytester, "shared", "one.json")
    assert len(json.loads(shared.read_text())["interactions"]) == 2
    pytester.runpytest().assert_outcomes(passed=1)  # once: replays, nonce ignored
    # the command line wins over the marker: re-record everything
    before = shared.read_text()
    pytester.runpytest("--llm-record-mode=all", "-k", "nothing_matches")
    assert shared.read_text() == before
    result = pytester.runpytest("--llm-record-mode=all")
    result.assert_outcomes(passed=1)


def test_options_fixture_and_ini_dir(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nllm_cassette_dir = recorded\n")
    pytester.makeconftest(
        """
import pytest

@pytest.fixture
def llm_cassette_options():
    return {"match_on": ("method", "path"), "mode": "once"}
"""
    )
    pytester.makepyfile(
        test_opts=UPSTREAM
        + """
def test_opts(llm_cassette):
    with client(llm_cassette) as c:
        c.post("https://api.test/v1/chat", json={"q": 1})
        if not llm_cassette.recording:
            # bodies are not compared with these options
            c.post("https://api.test/v1/chat", json={"q": "different"})
"""
    )
    pytester.runpytest().assert_outcomes(passed=1)  # mode "once" from the options fixture
    assert cassette_file(pytester, "recorded", "test_opts", "test_opts.json").exists()
    pytester.runpytest().assert_outcomes(passed=1)


def test_trio_test_with_async_transport(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\ntrio_mode = true\n")
    pytester.makepyfile(
        test_async="""
import httpx
import trio

async def upstream(request):
    await trio.sleep(1)
    return httpx.Response(200, json={"ok": True})

async def test_async(llm_cassette, autojump_clock):
    transport = llm_cassette.async_transport(httpx.MockTransport(upstream))
    async with httpx.AsyncClient(transport=transport) as c:
        assert (await c.get("https://api.test/v1/models")).json() == {"ok": True}
"""
    )
    pytester.runpytest("--llm-record-mode=once").assert_outcomes(passed=1)
    stored = json.loads(
        cassette_file(pytester, "cassettes", "test_async", "test_async.json").read_text()
    )
    assert stored["interactions"][0]["response"]["elapsed"] == 1.0
    pytester.runpytest().assert_outcomes(passed=1)


def test_unknown_record_mode_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_nothing(): pass")
    result = pytester.runpytest("--llm-record-mode=sometimes")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*invalid choice: 'sometimes'*"])


def test_help_documents_the_option_and_marker(pytester: pytest.Pytester) -> None:
    pytester.runpytest("--help").stdout.fnmatch_lines(["*--llm-record-mode*", "*llm_cassette_dir*"])
    pytester.runpytest("--markers").stdout.fnmatch_lines(["*llm_cassette(path=None, mode=None*"])


def test_fake_provider_fixture_in_sync_and_trio_tests(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\ntrio_mode = true\n")
    pytester.makepyfile(
        test_fake="""
import httpx

CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
AUTH = {"authorization": "Bearer sk-fake"}
seen_urls = []

def test_sync(fake_provider, fake_provider_url):
    seen_urls.append(fake_provider_url)
    fake_provider.set_scenario({"rules": [{"status": 503}]})
    response = httpx.post(fake_provider_url + "/v1/chat/completions", json=CHAT, headers=AUTH)
    assert response.status_code == 503
    assert len(fake_provider.journal) == 1

async def test_trio(fake_provider, fake_provider_url):
    seen_urls.append(fake_provider_url)
    assert len(fake_provider.journal) == 0  # reset between tests, scenario cleared
    async with httpx.AsyncClient(base_url=fake_provider_url) as client:
        response = await client.post("/v1/chat/completions", json=CHAT, headers=AUTH)
    assert response.status_code == 200
    assert response.json()["object"] == "chat.completion"

def test_one_server_per_session():
    assert len(set(seen_urls)) == 1
"""
    )
    pytester.runpytest().assert_outcomes(passed=3)


def test_recording_from_the_fake_provider_through_the_fixture(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_rec="""
import httpx

def test_rec(llm_cassette, fake_provider_url):
    with httpx.Client(transport=llm_cassette.transport()) as client:
        response = client.post(
            fake_provider_url + "/v1/messages",
            json={"model": "claude-3-5-haiku", "max_tokens": 5,
                  "messages": [{"role": "user", "content": "hi"}]},
            headers={"x-api-key": "sk-ant-fake", "anthropic-version": "2023-06-01"},
        )
    assert response.json()["type"] == "message"
"""
    )
    pytester.runpytest("--llm-record-mode=once").assert_outcomes(passed=1)
    raw = cassette_file(pytester, "cassettes", "test_rec", "test_rec.json").read_bytes()
    assert b"sk-ant-fake" not in raw
    assert json.loads(raw)["interactions"][0]["response"]["body"]["type"] == "message"


def test_realtime_sessions_record_and_replay_through_the_fixture(pytester: pytest.Pytester) -> None:
    # The router's realtime sockets go through `llm_cassette.websocket_connector()`: recorded
    # against the session fake, then replayed without a socket reaching it.
    pytester.makeini("[pytest]\ntrio_mode = true\n")
    pytester.makepyfile(
        test_live="""
from llm_router import OpenAIProvider, Router
from llm_router_testing.fake import FAKE_KEYS

async def test_live(llm_cassette, fake_provider, llm_record_mode):
    router = (
        Router.builder()
        .add_provider("openai", OpenAIProvider(base_url=fake_provider.url + "/v1"))
        .add_api_key("openai", FAKE_KEYS["openai"])
        .add_model_route("gpt-realtime", "openai")
        .with_websocket_connector(llm_cassette.websocket_connector())
        .build()
    )
    async with router, router.realtime("gpt-realtime", "openai-realtime") as session:
        assert (await session.receive()).type == "session.created"
    dialled = [e for e in fake_provider.journal if e.method == "WEBSOCKET"]
    assert len(dialled) == (0 if llm_record_mode == "none" else 1)
"""
    )
    pytester.runpytest("--llm-record-mode=once").assert_outcomes(passed=1)
    stored = json.loads(
        cassette_file(pytester, "cassettes", "test_live", "test_live.json").read_text()
    )
    assert "websocket" in stored["interactions"][0]
    pytester.runpytest().assert_outcomes(passed=1)
