"""Model ids the fake refuses as its provider would, injected response headers, stalls."""

from __future__ import annotations

import httpx
import orjson
import pytest
import trio
from _fake_http import ANTHROPIC, BEDROCK, CHAT, GOOGLE, OPENAI

from llm_router_testing.fake import FakeProvider, open_fake_provider
from llm_router_testing.model_ids import BEDROCK_INVALID_MODEL, refusal_reason

CONVERSE = {"messages": [{"role": "user", "content": [{"text": "hi you"}]}]}
GEMINI = {"contents": [{"role": "user", "parts": [{"text": "hi you"}]}]}


@pytest.mark.parametrize(
    ("provider", "model", "lenient", "strict"),
    [
        ("bedrock", "anthropic.claude-3-5-sonnet-20240620-v1:0", True, True),
        ("bedrock", "us.anthropic.claude-haiku-4-5-20251001-v1:0", True, True),
        ("bedrock", "global.anthropic.claude-sonnet-4-5-20250929-v1:0", True, True),
        ("bedrock", "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.x.y", True, True),
        ("bedrock", "m", True, False),  # a bare name: a custom model's, leniently
        ("bedrock", "claude-sonnet-4-5", True, False),
        ("bedrock", "us.claude-sonnet-4-5", False, False),  # a profile of no model id
        ("bedrock", "us.us.anthropic.claude-v2", False, False),
        ("bedrock", "bedrock/anthropic.claude-v2", False, False),
        ("bedrock", "acme.model-v1", True, False),  # no such vendor
        ("openai", "gpt-4o-mini", True, True),
        ("openai", "ft:gpt-4o-mini:org::abc", True, True),
        ("openai", "openai/gpt-4o", False, False),
        ("openai", "llama-3-70b", True, False),
        ("openai", "gpt 4o", False, False),
        ("anthropic", "claude-sonnet-4-5", True, True),
        ("anthropic", "anthropic/claude-sonnet-4-5", False, False),
        ("anthropic", "sonnet", True, False),
        ("google", "gemini-2.5-flash", True, True),
        ("google", "gemini 2.5", False, False),
        ("google", "g", True, False),
        ("azure", "any deployment", False, False),  # whitespace: impossible everywhere
    ],
)
def test_refusal_by_form(provider: str, model: str, lenient: bool, strict: bool) -> None:
    assert (refusal_reason(provider, model, strict=False) is None) is lenient
    assert (refusal_reason(provider, model, strict=True) is None) is strict


def test_ids_in_the_fakes_model_list_always_pass() -> None:
    assert refusal_reason("openai", "my-model", strict=True, known=("my-model",)) is None


async def test_bedrock_refuses_a_profile_of_nothing_as_bedrock_does(
    client: httpx.AsyncClient, fake: FakeProvider
) -> None:
    response = await client.post(
        "/model/us.claude-sonnet-4-5/converse", json=CONVERSE, headers=BEDROCK
    )

    assert response.status_code == 400
    assert response.json() == {"message": BEDROCK_INVALID_MODEL}
    assert response.headers["x-amzn-errortype"].startswith("ValidationException:")
    (entry,) = fake.journal
    assert entry.error is not None and "inference profile (us.)" in entry.error


async def test_each_provider_refuses_in_its_own_shape(client: httpx.AsyncClient) -> None:
    openai = await client.post(
        "/v1/chat/completions", json={**CHAT, "model": "openai/gpt-4o"}, headers=OPENAI
    )
    claude = {"model": "anthropic/claude", "max_tokens": 5, "messages": CHAT["messages"]}
    anthropic = await client.post("/v1/messages", json=claude, headers=ANTHROPIC)
    gemini = await client.post(
        "/v1beta/models/gemini%202.5:generateContent", json=GEMINI, headers=GOOGLE
    )

    assert openai.status_code == 404
    assert openai.json()["error"]["code"] == "model_not_found"
    assert openai.json()["error"]["message"] == (
        "The model `openai/gpt-4o` does not exist or you do not have access to it."
    )
    assert anthropic.status_code == 404
    assert anthropic.json()["error"] == {
        "type": "not_found_error",
        "message": "model: anthropic/claude",
    }
    assert gemini.status_code == 404
    assert gemini.json()["error"]["status"] == "NOT_FOUND"
    assert gemini.json()["error"]["message"].startswith("models/gemini 2.5 is not found")


async def test_strict_models_refuses_what_the_real_provider_would() -> None:
    async with (
        open_fake_provider(strict_models=True) as fake,
        httpx.AsyncClient(base_url=fake.url) as client,
    ):
        bare = await client.post("/model/m/converse", json=CONVERSE, headers=BEDROCK)
        real = await client.post(
            "/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse",
            json=CONVERSE,
            headers=BEDROCK,
        )
        listed = await client.post("/v1/chat/completions", json=CHAT, headers=OPENAI)

    assert bare.status_code == 400
    assert bare.json() == {"message": BEDROCK_INVALID_MODEL}
    assert real.status_code == 200
    assert listed.status_code == 200


async def test_injected_response_headers(client: httpx.AsyncClient, fake: FakeProvider) -> None:
    fake.set_scenario({"rules": [{"response_headers": {"x-ratelimit-remaining-requests": "41"}}]})
    answer = await client.post(
        "/v1/messages", json={**_claude(), "stream": True}, headers=ANTHROPIC
    )
    by_header = await client.post(
        "/v1/chat/completions",
        json=CHAT,
        headers={**OPENAI, "x-fake-response-headers": '{"x-a": "b"}'},
    )
    bad = await client.post(
        "/v1/chat/completions",
        json=CHAT,
        headers={**OPENAI, "x-fake-response-headers": '{"bad name": "b"}'},
    )

    assert answer.headers["x-ratelimit-remaining-requests"] == "41"
    assert answer.headers["request-id"].startswith("req_fake_")  # Anthropic's own name
    assert by_header.headers["x-a"] == "b"
    assert bad.status_code == 400
    assert "'bad name' is not a header name" in bad.json()["error"]["message"]


def _claude() -> dict[str, object]:
    return {"model": "claude-sonnet-4-5", "max_tokens": 50, "messages": CHAT["messages"]}


async def test_a_stream_stalls_after_n_events_until_the_client_leaves(fake: FakeProvider) -> None:
    headers = {**ANTHROPIC, "x-fake-stall-after-events": "2", "x-fake-stall-for": "60s"}
    body = orjson.dumps({**_claude(), "stream": True})
    async with (
        httpx.AsyncClient(base_url=fake.url) as client,
        client.stream("POST", "/v1/messages", content=body, headers=headers) as response,
    ):
        seen = b""
        async for chunk in response.aiter_bytes():
            seen += chunk
            if seen.count(b"\n\n") >= 2:
                break
        (entry,) = fake.journal
        assert entry.events_sent == 2
        assert entry.ended_at is None
    with trio.fail_after(5):
        await fake.journal.wait_for(lambda found: found.ended_at is not None)
    assert entry.disconnected
    assert "stall_after_events" in entry.faults
