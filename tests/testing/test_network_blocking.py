"""Network blocking: loopback and the fake server stay reachable, other hosts are refused."""

from __future__ import annotations

import socket

import httpx
import pytest
import trio

from llm_router_testing.fake import open_fake_provider
from llm_router_testing.network import NetworkBlockedError, block_network

pytest_plugins = ["pytester"]


def test_block_refuses_names_and_addresses_and_restores_sockets() -> None:
    original = socket.getaddrinfo, socket.socket.connect
    with block_network(allow=["allowed.test"]) as attempts:
        with pytest.raises(NetworkBlockedError, match=r"api\.openai\.com:443 is blocked"):
            socket.getaddrinfo("api.openai.com", 443)
        with pytest.raises(NetworkBlockedError, match=r"203\.0\.113\.9:80"):
            socket.create_connection(("203.0.113.9", 80), timeout=1)
        with pytest.raises(NetworkBlockedError, match=r"api\.anthropic\.com"):
            httpx.get("https://api.anthropic.com/v1/models")
        # Allowed names pass the guard (the lookup itself may then fail offline).
        with pytest.raises(OSError):
            socket.getaddrinfo("allowed.test", 80)
        socket.getaddrinfo("localhost", 80)
        socket.getaddrinfo("127.0.0.1", 80)
    assert [(error.host, error.port) for error in attempts] == [
        ("api.openai.com", 443),
        ("203.0.113.9", 80),
        ("api.anthropic.com", 443),
    ]
    assert (socket.getaddrinfo, socket.socket.connect) == original


async def test_trio_code_reaches_the_fake_but_not_the_internet() -> None:
    with block_network():
        async with open_fake_provider() as fake, httpx.AsyncClient() as client:
            health = await client.get(fake.url + "/_fake/health")
            assert health.json() == {"status": "ok"}
            with pytest.raises(NetworkBlockedError, match=r"generativelanguage\.googleapis\.com"):
                await client.get("https://generativelanguage.googleapis.com/v1beta/models")
            with pytest.raises(NetworkBlockedError, match=r"bedrock-runtime\."):
                await trio.open_tcp_stream("bedrock-runtime.us-east-1.amazonaws.com", 443)


def test_plugin_marker_option_and_swallowed_errors(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_inner="""
import httpx
import pytest

@pytest.mark.llm_block_network
def test_marked():
    httpx.get("https://api.openai.com/v1/models")

@pytest.mark.llm_block_network
def test_swallowed():
    try:
        httpx.get("https://api.mistral.ai/v1/models")
    except Exception:
        pass

@pytest.mark.llm_block_network(allow=["localhost"])
def test_fake_is_reachable(fake_provider_url):
    assert httpx.get(fake_provider_url + "/_fake/health").status_code == 200

def test_unmarked():
    import llm_router_testing.network as network
    import socket
    assert socket.getaddrinfo.__module__ != network.__name__

@pytest.mark.llm_block_network(False)
def test_exempt():
    import socket
    assert socket.getaddrinfo.__module__ == "socket"
"""
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=3, failed=2)
    result.stdout.fnmatch_lines(
        [
            "*NetworkBlockedError: network access to api.openai.com:443 is blocked*",
            "*NetworkBlockedError: network access to api.mistral.ai:443 is blocked*",
        ]
    )
    everywhere = pytester.runpytest_inprocess(
        "-p", "no:cacheprovider", "--llm-block-network", "-k", "unmarked"
    )
    everywhere.assert_outcomes(failed=1)


def test_llm_script_fixture(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_inner="""
import openai
from llm_router_testing.fake import FAKE_KEYS

def test_agent(llm_script):
    llm_script.when(user_contains="weather").call_tool("get_weather", {"city": "Paris"})
    client = openai.OpenAI(base_url=llm_script.fake.url + "/v1", api_key=FAKE_KEYS["openai"])
    answer = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "weather?"}])
    assert answer.choices[0].message.tool_calls[0].function.name == "get_weather"
    assert llm_script.fake.journal.called(model="gpt-4o-mini", user_contains="weather")
    assert not llm_script.fake.journal.called(tool_result_for="get_weather")

def test_next_test_starts_clean(llm_script):
    assert len(llm_script.fake.journal) == 0
    assert llm_script.fake.state.scenario.rules == ()
"""
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
