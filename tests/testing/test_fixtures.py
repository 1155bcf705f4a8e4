"""fixtures/: every provider x scenario cassette loads, replays byte for byte, and parses.

Streams are decoded with llm_router.framing (SSE, AWS event-stream); OpenAI chat and Anthropic
bodies and events are parsed with the official SDKs' types.
"""

from __future__ import annotations

import copy
import importlib.util
import sys
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from anthropic.types import Message, RawMessageStreamEvent
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from pydantic import TypeAdapter

from llm_router.framing.eventstream import EventStreamDecoder
from llm_router.framing.sse import SSEDecoder
from llm_router.types import ProviderFormat
from llm_router_testing.cassette import Cassette
from llm_router_testing.cassette_format import (
    Interaction,
    body_bytes,
    chunk_bytes,
    load_cassette,
)
from llm_router_testing.contract import dialect_for
from llm_router_testing.fake import open_fake_provider
from llm_router_testing.redact import Redaction

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "fixtures"
PROVIDERS = {
    "openai": ProviderFormat.OPENAI,
    "responses": ProviderFormat.RESPONSES,
    "anthropic": ProviderFormat.ANTHROPIC,
    "google": ProviderFormat.GOOGLE,
    "bedrock": ProviderFormat.CONVERSE,
}
SCENARIOS = (
    "simple_text",
    "system_prompt",
    "tools",
    "parallel_tool_calls",
    "structured_output",
    "reasoning",
    "images",
)
ERRORS = (400, 401, 429, 500, 529)
FILES = sorted(FIXTURES.glob("*/*.json"))
ATTRIBUTION = (
    "captured from the lingua project's payload corpus (braintrustdata/lingua, MIT OR Apache-2.0)"
)


def _ids(paths: list[Path]) -> list[str]:
    return [f"{path.parent.name}/{path.stem}" for path in paths]


def _interactions(path: Path) -> list[Interaction]:
    return load_cassette(path)


def test_every_provider_has_every_scenario_streamed_and_every_error() -> None:
    expected = {
        f"{provider}/{name}"
        for provider in PROVIDERS
        for name in (
            *SCENARIOS,
            *(f"{scenario}_stream" for scenario in SCENARIOS),
            *(f"error_{status}" for status in ERRORS),
        )
    }
    assert set(_ids(FILES)) == expected


def test_the_index_lists_every_fixture_and_keeps_the_attribution() -> None:
    index = (FIXTURES / "README.md").read_text()
    assert " ".join(ATTRIBUTION.split()) in " ".join(index.split())
    for path in FILES:
        assert f"({path.parent.name}/{path.name})" in index


def test_the_fixtures_are_what_the_build_script_produces(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = importlib.util.spec_from_file_location(
        "build_fixtures", ROOT / "scripts/build_fixtures.py"
    )
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, script)  # dataclasses look their module up
    spec.loader.exec_module(script)

    assert script.main(["--check"]) == 0


@pytest.mark.parametrize("path", FILES, ids=_ids(FILES))
def test_fixture_is_a_redacted_cassette_with_real_paths(path: Path) -> None:
    interactions = _interactions(path)
    cassette = Cassette.open(path, mode="none")

    assert len(cassette.interactions) == len(interactions) >= 1
    for interaction in interactions:
        request = interaction["request"]
        headers = request["headers"]
        secret = {"authorization", "x-api-key", "x-goog-api-key"}.intersection(headers)
        assert len(secret) == 1, headers
        assert "REDACTED" in headers[secret.pop()]
        url = httpx.URL(request["url"])
        provider = path.parent.name
        if provider == "openai":
            assert url.path == "/v1/chat/completions"
        elif provider == "responses":
            assert url.path == "/v1/responses"
        elif provider == "anthropic":
            assert url.path == "/v1/messages"
        elif provider == "google":
            assert url.path.startswith("/v1beta/models/gemini-")
            verb = ":streamGenerateContent" if "stream" in path.stem else ":generateContent"
            assert url.path.endswith(verb)
        else:
            verb = "/converse-stream" if "stream" in path.stem else "/converse"
            assert url.raw_path.decode().endswith(verb)
            assert "%3A" in url.raw_path.decode()  # the model id's ':' is percent-encoded


@pytest.mark.parametrize("path", FILES, ids=_ids(FILES))
def test_the_recorders_redaction_finds_nothing_left_to_redact(path: Path) -> None:
    for interaction in _interactions(path):
        original = copy.deepcopy(interaction)

        assert Redaction().apply(interaction) == original


@pytest.mark.parametrize("path", FILES, ids=_ids(FILES))
async def test_fixture_replays_the_recorded_bytes(path: Path) -> None:
    cassette = Cassette.open(path, mode="none")
    async with httpx.AsyncClient(transport=cassette.async_transport()) as client:
        for interaction in _interactions(path):
            request, recorded = interaction["request"], interaction["response"]
            async with client.stream(
                request["method"],
                request["url"],
                headers=request["headers"],
                content=body_bytes(request),
            ) as response:
                assert response.status_code == recorded["status"]
                if "stream" in recorded:
                    # Chunk boundaries are part of the recording.
                    chunks = [chunk async for chunk in response.aiter_raw()]
                    assert chunks == [chunk_bytes(e) for e in recorded["stream"]["events"]]
                else:
                    assert orjson.loads(await response.aread()) == recorded["body"]
    assert cassette.all_played


_CHUNK = TypeAdapter(ChatCompletionChunk)
_ANTHROPIC_EVENT: TypeAdapter[Any] = TypeAdapter(RawMessageStreamEvent)
STREAMS = [path for path in FILES if path.stem.endswith("_stream")]


def _decode(provider: str, data: bytes) -> list[Any]:
    """The stream's events: SDK objects for OpenAI chat and Anthropic, else decoded JSON.

    The Responses and Gemini SDK models are stricter than their SDKs' own parsing (a field
    added to the API since the SDK was released fails validation), so those are checked by
    shape.
    """
    if provider == "bedrock":
        decoder = EventStreamDecoder()
        events = decoder.feed(data)
        decoder.finish()
        return events
    sse = SSEDecoder()
    messages = [*sse.feed(data), *sse.finish()]
    if provider == "openai":
        assert messages[-1].is_done
        return [_CHUNK.validate_json(m.data) for m in messages[:-1]]
    if provider == "anthropic":
        parsed = [_ANTHROPIC_EVENT.validate_json(m.data) for m in messages]
        assert [m.event for m in messages] == [event.type for event in parsed]
        return parsed
    decoded = [orjson.loads(m.data) for m in messages]
    if provider == "responses":
        assert [m.event for m in messages] == [event["type"] for event in decoded]
    return decoded


@pytest.mark.parametrize("path", STREAMS, ids=_ids(STREAMS))
def test_streamed_fixture_decodes_and_parses(path: Path) -> None:
    provider = path.parent.name
    for interaction in _interactions(path):
        stream = interaction["response"]["stream"]
        events = _decode(provider, b"".join(chunk_bytes(event) for event in stream["events"]))
        assert events, path
        if provider == "openai":
            assert all(chunk.object == "chat.completion.chunk" for chunk in events)
        elif provider == "anthropic":
            assert (events[0].type, events[-1].type) == ("message_start", "message_stop")
        elif provider == "responses":
            numbers = [event["sequence_number"] for event in events]
            assert numbers == sorted(set(numbers))
            assert events[-1]["type"] in ("response.completed", "response.incomplete")
        elif provider == "google":
            assert all(event["candidates"][0]["content"]["role"] == "model" for event in events)
            assert events[-1]["candidates"][0]["finishReason"] in ("STOP", "MAX_TOKENS")
        else:
            assert list(events[0]) == ["messageStart"]
            assert "messageStop" in {key for event in events for key in event}


SYNC = [path for path in FILES if not path.stem.endswith("_stream") and "error" not in path.stem]


@pytest.mark.parametrize("path", SYNC, ids=_ids(SYNC))
def test_answer_fixture_parses(path: Path) -> None:
    provider = path.parent.name
    for interaction in _interactions(path):
        body = interaction["response"]["body"]
        if provider == "openai":
            assert ChatCompletion.model_validate(body).choices[0].message.role == "assistant"
        elif provider == "anthropic":
            assert Message.model_validate(body).role == "assistant"
        elif provider == "responses":
            assert body["object"] == "response"
            assert body["status"] in ("completed", "incomplete")
            kinds = {item["type"] for item in body["output"]}
            assert kinds and kinds <= {"message", "function_call", "reasoning"}
        elif provider == "google":
            assert body["candidates"][0]["content"]["role"] == "model"
        else:
            assert body["output"]["message"]["role"] == "assistant"
            assert body["stopReason"] in ("end_turn", "tool_use")


ERROR_FILES = [path for path in FILES if path.stem.startswith("error_")]
_KINDS = {
    ("anthropic", 529): "overloaded_error",
    ("google", 429): "RESOURCE_EXHAUSTED",
    ("bedrock", 429): "ThrottlingException",
    ("openai", 429): "rate_limit_exceeded",
}


@pytest.mark.parametrize("path", ERROR_FILES, ids=_ids(ERROR_FILES))
def test_error_fixture_is_the_providers_error_shape(path: Path) -> None:
    provider, status = path.parent.name, int(path.stem.removeprefix("error_"))
    (interaction,) = _interactions(path)
    response = interaction["response"]

    seen = dialect_for(PROVIDERS[provider]).read_error(response["body"], response["headers"])

    assert response["status"] == status
    assert seen.message
    if (provider, status) in _KINDS:
        assert seen.kind == _KINDS[provider, status]
    if status == 429:
        assert float(response["headers"]["retry-after"]) > 0


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_the_fake_server_serves_every_fixture_as_recorded(provider: str) -> None:
    async with (
        open_fake_provider(fixtures=FIXTURES / provider, require_auth=False) as fake,
        httpx.AsyncClient(base_url=fake.url) as client,
    ):
        for path in sorted((FIXTURES / provider).glob("*.json")):
            for interaction in _interactions(path):
                request, recorded = interaction["request"], interaction["response"]
                url = httpx.URL(request["url"])
                response = await client.post(
                    url.raw_path.decode(), headers=request["headers"], content=body_bytes(request)
                )
                if "stream" in recorded:
                    expected = b"".join(chunk_bytes(e) for e in recorded["stream"]["events"])
                else:
                    expected = body_bytes(recorded)
                assert (response.status_code, response.content) == (recorded["status"], expected), (
                    path
                )
