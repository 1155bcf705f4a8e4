"""The fake server survives its own fault vocabulary: bad values, deep bodies, keys, regexes."""

from __future__ import annotations

import time

import httpx
import orjson
import pytest
from _fake_http import CHAT, GOOGLE, OPENAI

from llm_router_testing.fake import FAKE_KEYS, FakeProvider, Fault, FaultSpecError

GEMINI = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("x-fake-status", "101"),
        ("x-fake-status", "100"),
        ("x-fake-status", "199"),
        ("x-fake-status", "204"),
        ("x-fake-status", "304"),
        ("x-fake-status", "99999999999999999999"),
        ("x-fake-retry-after", "\x7f"),
        ("x-fake-tokens-per-second", "nan"),
        ("x-fake-tokens-per-second", "inf"),
        ("x-fake-fail-times", "-3"),
    ],
)
async def test_bad_fault_values_are_a_400_naming_the_header_and_the_server_lives_on(
    client: httpx.AsyncClient, header: str, value: str
) -> None:
    response = await client.post(
        "/v1/chat/completions", json=CHAT, headers={**OPENAI, header: value}
    )
    assert response.status_code == 400
    assert header in response.json()["error"]["message"]
    after = await client.post("/v1/chat/completions", json=CHAT, headers=OPENAI)
    assert after.status_code == 200


def test_scenario_fault_errors_name_the_key() -> None:
    with pytest.raises(FaultSpecError, match=r"^status: expected an HTTP status"):
        Fault.from_mapping({"status": 101})
    with pytest.raises(FaultSpecError, match=r"^retry-after: expected up to 200 printable"):
        Fault.from_mapping({"retry-after": "1\r\nx-injected: 1"})


async def test_a_deeply_nested_request_keeps_the_journal_readable(
    fake: FakeProvider, client: httpx.AsyncClient
) -> None:
    body = orjson.dumps(CHAT)[:-1] + b',"metadata":' + b"[" * 300 + b'"leaf"' + b"]" * 300 + b"}"
    await client.post("/v1/chat/completions", content=body, headers=OPENAI)
    journal = await client.get("/_fake/journal")
    assert journal.status_code == 200
    (entry,) = journal.json()
    assert isinstance(entry["body"], str)
    assert entry["body"].startswith('{"model":"gpt-4o-mini"')


async def test_query_keys_are_redacted_in_the_journal(
    fake: FakeProvider, client: httpx.AsyncClient
) -> None:
    key = FAKE_KEYS["google"]
    response = await client.post(
        f"/v1beta/models/gemini-2.5-flash:generateContent?key={key}&alt=json", json=GEMINI
    )
    assert response.status_code == 200
    assert fake.journal[0].query == "key=%5Bredacted%5D&alt=json"
    text = (await client.get("/_fake/journal")).text
    assert key not in text


async def test_a_backtracking_scenario_pattern_fails_its_request_without_stalling(
    fake: FakeProvider, client: httpx.AsyncClient
) -> None:
    fake.set_scenario({"rules": [{"match": {"model": "^(a|aa)+$"}, "status": 503}]})
    started = time.monotonic()
    response = await client.post(
        "/v1/chat/completions", json={**CHAT, "model": "a" * 40 + "!"}, headers=OPENAI
    )
    elapsed = time.monotonic() - started
    assert response.status_code == 500
    assert "match.model" in response.json()["error"]["message"]
    assert "backtracks" in fake.journal[0].error
    assert elapsed < 2.0  # a plain `re` search of this pattern runs for many minutes
    other = await client.post("/v1beta/models/g:generateContent", json=GEMINI, headers=GOOGLE)
    assert other.status_code == 200
