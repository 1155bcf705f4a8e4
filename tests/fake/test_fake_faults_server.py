"""Injected faults over real sockets: error bodies, broken streams, retries, disconnects."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest
import trio
from _fake_http import ANTHROPIC, BEDROCK, CHAT, GOOGLE, MISTRAL, OPENAI, sse_data, sse_names
from botocore.eventstream import ChecksumMismatch, EventStreamBuffer

from llm_router_testing.fake import FakeProvider

AZURE_PATH = "/openai/deployments/d/chat/completions?api-version=2024-10-21"
CLAUDE = {"model": "claude", "max_tokens": 50, "messages": [{"role": "user", "content": "hi you"}]}
GEMINI = {"contents": [{"role": "user", "parts": [{"text": "hi you"}]}]}
CONVERSE = {"messages": [{"role": "user", "content": [{"text": "hi you"}]}]}

SURFACES: dict[str, tuple[str, dict[str, Any], dict[str, str]]] = {
    "openai": ("/v1/chat/completions", CHAT, OPENAI),
    "azure": (AZURE_PATH, CHAT, {"api-key": "azure-fake-key"}),
    "mistral": ("/mistral/v1/chat/completions", CHAT, MISTRAL),
    "anthropic": ("/v1/messages", CLAUDE, ANTHROPIC),
    "google": ("/v1beta/models/g:generateContent", GEMINI, GOOGLE),
    "bedrock": ("/model/m/converse", CONVERSE, BEDROCK),
}


@pytest.mark.parametrize(
    ("surface", "status", "check"),
    [
        ("openai", 429, lambda b, h: b["error"]["code"] == "rate_limit_exceeded"),
        ("azure", 429, lambda b, h: b["error"]["type"] == "requests"),
        ("mistral", 429, lambda b, h: b["object"] == "error" and b["type"] == "rate_limited"),
        (
            "anthropic",
            529,
            lambda b, h: b["type"] == "error" and b["error"]["type"] == "overloaded_error",
        ),
        ("anthropic", 429, lambda b, h: b["error"]["type"] == "rate_limit_error"),
        (
            "google",
            429,
            lambda b, h: b["error"]["status"] == "RESOURCE_EXHAUSTED" and b["error"]["code"] == 429,
        ),
        ("google", 503, lambda b, h: b["error"]["status"] == "UNAVAILABLE"),
        (
            "bedrock",
            429,
            lambda b, h: "message" in b and h["x-amzn-errortype"].startswith("ThrottlingException"),
        ),
        (
            "bedrock",
            503,
            lambda b, h: h["x-amzn-errortype"].startswith("ServiceUnavailableException"),
        ),
        ("openai", 500, lambda b, h: b["error"]["type"] == "server_error"),
    ],
)
async def test_error_status_in_each_providers_format(
    client: httpx.AsyncClient, surface: str, status: int, check: Any
) -> None:
    path, body, headers = SURFACES[surface]
    faults = {
        "x-fake-status": str(status),
        "x-fake-retry-after": "2",
        "x-fake-retry-after-ms": "150",
    }
    response = await client.post(path, json=body, headers={**headers, **faults})
    assert response.status_code == status
    assert response.headers["retry-after"] == "2"
    assert response.headers["retry-after-ms"] == "150"
    assert check(response.json(), response.headers)


async def test_should_retry_header(client: httpx.AsyncClient) -> None:
    headers = {**OPENAI, "x-fake-status": "500", "x-fake-should-retry": "false"}
    response = await client.post("/v1/chat/completions", json=CHAT, headers=headers)
    assert response.headers["x-should-retry"] == "false"


async def test_bad_fault_header_is_a_400_naming_it(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/messages", json=CLAUDE, headers={**ANTHROPIC, "x-fake-latency": "soon"}
    )
    assert response.status_code == 400
    assert "soon" in response.json()["error"]["message"]


async def test_forced_answer(client: httpx.AsyncClient) -> None:
    headers = {**OPENAI, "x-fake-answer": "forty two"}
    response = await client.post("/v1/chat/completions", json=CHAT, headers=headers)
    assert response.json()["choices"][0]["message"]["content"] == "forty two"


async def test_drop_after_events_cuts_the_connection(
    client: httpx.AsyncClient, fake: FakeProvider
) -> None:
    headers = {**OPENAI, "x-fake-drop-after-events": "2"}
    received = b""
    with pytest.raises(httpx.RemoteProtocolError):
        async with client.stream(
            "POST", "/v1/chat/completions", json={**CHAT, "stream": True}, headers=headers
        ) as response:
            async for chunk in response.aiter_bytes():
                received += chunk
    assert len(sse_data(received.decode())) == 2
    with trio.fail_after(5):
        entry = await fake.journal.wait_for(lambda e: e.done)
    assert entry.events_sent == 2


async def test_drop_on_a_plain_answer_sends_headers_only(client: httpx.AsyncClient) -> None:
    headers = {**OPENAI, "x-fake-drop-after-events": "0"}
    with pytest.raises(httpx.RemoteProtocolError):
        await client.post("/v1/chat/completions", json=CHAT, headers=headers)


async def test_malformed_event(client: httpx.AsyncClient) -> None:
    headers = {**ANTHROPIC, "x-fake-malformed-event": "3"}
    response = await client.post("/v1/messages", json={**CLAUDE, "stream": True}, headers=headers)
    datas = [line[6:] for line in response.text.splitlines() if line.startswith("data: ")]
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(datas[3])
    assert all(isinstance(orjson.loads(data), dict) for i, data in enumerate(datas) if i != 3)


@pytest.mark.parametrize(
    ("path", "body", "headers", "check"),
    [
        (
            "/v1/chat/completions",
            {**CHAT, "stream": True},
            OPENAI,
            lambda text: sse_data(text)[-1]["error"]["type"] == "server_error",
        ),
        (
            "/v1/responses",
            {"model": "m", "input": "hi", "stream": True},
            OPENAI,
            lambda text: (
                sse_names(text)[-1] == "error" and sse_data(text)[-1]["sequence_number"] == 2
            ),
        ),
        (
            "/v1/messages",
            {**CLAUDE, "stream": True},
            ANTHROPIC,
            lambda text: (
                sse_names(text)[-1] == "error"
                and sse_data(text)[-1]["error"]["type"] == "overloaded_error"
            ),
        ),
        (
            "/v1beta/models/g:streamGenerateContent?alt=sse",
            GEMINI,
            GOOGLE,
            lambda text: sse_data(text)[-1]["error"]["status"] == "UNAVAILABLE",
        ),
    ],
)
async def test_stream_error_after_n_events(
    client: httpx.AsyncClient, path: str, body: dict[str, Any], headers: dict[str, str], check: Any
) -> None:
    response = await client.post(path, json=body, headers={**headers, "x-fake-stream-error": "2"})
    assert response.status_code == 200
    assert len(sse_data(response.text)) == 3
    assert check(response.text)


async def test_bedrock_stream_error_and_bad_crc(client: httpx.AsyncClient) -> None:
    path = "/model/m/converse-stream"
    errored = await client.post(
        path, json=CONVERSE, headers={**BEDROCK, "x-fake-stream-error": "1"}
    )
    buffer = EventStreamBuffer()
    buffer.add_data(errored.content)
    messages = list(buffer)
    assert [m.headers[":message-type"] for m in messages] == ["event", "exception"]
    assert messages[1].headers[":exception-type"] == "throttlingException"

    corrupt = await client.post(path, json=CONVERSE, headers={**BEDROCK, "x-fake-bad-crc": "2"})
    buffer = EventStreamBuffer()
    buffer.add_data(corrupt.content)
    decoded = []
    with pytest.raises(ChecksumMismatch):
        for message in buffer:
            decoded.append(message)
    assert len(decoded) == 2


async def test_fail_times_then_success_recorded_as_attempts(
    client: httpx.AsyncClient, fake: FakeProvider
) -> None:
    headers = {
        **OPENAI,
        "x-fake-fail-times": "2",
        "x-fake-status": "429",
        "x-fake-request-id": "job-1",
    }
    statuses = [
        (await client.post("/v1/chat/completions", json=CHAT, headers=headers)).status_code
        for _ in range(3)
    ]
    assert statuses == [429, 429, 200]
    assert [(e.attempt, e.status) for e in fake.journal] == [(1, 429), (2, 429), (3, 200)]


async def test_scenario_set_in_process(client: httpx.AsyncClient, fake: FakeProvider) -> None:
    fake.set_scenario({"rules": [{"match": {"provider": "anthropic"}, "status": 529, "times": 1}]})
    first = await client.post("/v1/messages", json=CLAUDE, headers=ANTHROPIC)
    second = await client.post("/v1/messages", json=CLAUDE, headers=ANTHROPIC)
    other = await client.post("/v1/chat/completions", json=CHAT, headers=OPENAI)
    assert (first.status_code, second.status_code, other.status_code) == (529, 200, 200)


async def test_abandoned_stream_is_recorded_as_a_disconnect(
    client: httpx.AsyncClient, fake: FakeProvider
) -> None:
    headers = {**OPENAI, "x-fake-inter-event-delay": "200ms"}
    async with client.stream(
        "POST", "/v1/chat/completions", json={**CHAT, "stream": True}, headers=headers
    ) as response:
        async for _ in response.aiter_bytes():
            break  # leave after the first event
    with trio.fail_after(3):
        entry = await fake.journal.wait_for_disconnect()
    assert entry.events_sent < 5
    assert entry.path == "/v1/chat/completions"
    assert not any(e.disconnected for e in fake.journal if e is not entry)
