"""Every surface over a real loopback socket: bodies, streams, usage, validation, control."""

from __future__ import annotations

import httpx
import orjson
import pytest
from _fake_http import (
    ANTHROPIC,
    AZURE,
    BEDROCK,
    CHAT,
    GOOGLE,
    MISTRAL,
    OPENAI,
    VERTEX,
    sse_data,
    sse_names,
)
from botocore.eventstream import EventStreamBuffer

from llm_router_testing.fake import FAKE_KEYS, FakeProvider, open_fake_provider


async def test_starts_fast_on_a_free_port() -> None:
    with pytest.raises(AssertionError):  # two servers never share a port
        async with open_fake_provider() as one, open_fake_provider() as two:
            assert one.port == two.port
    async with open_fake_provider(port=0) as fake:
        assert fake.url.startswith("http://127.0.0.1:")


async def test_openai_chat_body_and_usage(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/chat/completions", json=CHAT, headers=OPENAI)
    assert response.status_code == 200
    body = response.json()
    assert body["object"] == "chat.completion"
    assert body["choices"][0]["message"]["content"] == "You said: hello fake world"
    assert body["choices"][0]["finish_reason"] == "stop"
    assert body["usage"]["prompt_tokens"] == 3
    assert body["usage"]["completion_tokens"] == 5
    assert body["usage"]["total_tokens"] == 8


async def test_openai_chat_stream_with_include_usage(client: httpx.AsyncClient) -> None:
    request = {**CHAT, "stream": True, "stream_options": {"include_usage": True}}
    response = await client.post("/v1/chat/completions", json=request, headers=OPENAI)
    assert response.headers["content-type"].startswith("text/event-stream")
    chunks = sse_data(response.text)
    assert chunks[-1] == "[DONE]"
    usage_chunk = chunks[-2]
    assert usage_chunk["choices"] == []
    assert usage_chunk["usage"]["total_tokens"] == 8
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks[:-2])
    assert text == "You said: hello fake world"
    assert sum(1 for c in chunks[:-2] if c["choices"][0]["delta"].get("content")) == 5
    assert chunks[-3]["choices"][0]["finish_reason"] == "stop"


async def test_openai_chat_stream_without_include_usage_has_no_usage_chunk(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        "/v1/chat/completions", json={**CHAT, "stream": True}, headers=OPENAI
    )
    chunks = sse_data(response.text)
    assert all(chunk == "[DONE]" or chunk["choices"] for chunk in chunks)
    assert all(chunk == "[DONE]" or "usage" not in chunk for chunk in chunks)


async def test_tool_call_stream_sends_arguments_in_fragments(client: httpx.AsyncClient) -> None:
    tool = {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {
                "type": "object",
                "properties": {"location": {"type": "string"}},
                "required": ["location"],
            },
        },
    }
    request = {**CHAT, "tools": [tool], "tool_choice": "required", "stream": True}
    response = await client.post("/v1/chat/completions", json=request, headers=OPENAI)
    chunks = sse_data(response.text)[:-1]
    calls = [
        c["choices"][0]["delta"]["tool_calls"][0]
        for c in chunks
        if c["choices"][0]["delta"].get("tool_calls")
    ]
    assert calls[0]["function"]["name"] == "get_weather"
    assert calls[0]["id"].startswith("call_")
    fragments = [call["function"]["arguments"] for call in calls[1:]]
    assert len(fragments) >= 2
    assert orjson.loads("".join(fragments)) == {"location": ""}
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


async def test_max_tokens_truncates_with_length(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/chat/completions", json={**CHAT, "max_completion_tokens": 2}, headers=OPENAI
    )
    body = response.json()
    assert body["choices"][0]["message"]["content"] == "You said: "
    assert body["choices"][0]["finish_reason"] == "length"
    assert body["usage"]["completion_tokens"] == 2


async def test_responses_stream_lifecycle(client: httpx.AsyncClient) -> None:
    request = {"model": "gpt-4o-mini", "input": "hello there", "stream": True}
    response = await client.post("/v1/responses", json=request, headers=OPENAI)
    names = sse_names(response.text)
    events = sse_data(response.text)
    assert names[:4] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ]
    assert names[-4:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [event["type"] for event in events] == names
    assert [event["sequence_number"] for event in events] == list(range(len(events)))
    assert names.count("response.output_text.delta") == 4
    assert all(event.get("response", {}).get("usage") is None for event in events[:-1])
    assert events[-1]["response"]["usage"]["total_tokens"] == 2 + 4


async def test_responses_truncation_is_incomplete(client: httpx.AsyncClient) -> None:
    request = {
        "model": "m",
        "input": [{"role": "user", "content": "a b c"}],
        "max_output_tokens": 1,
    }
    body = (await client.post("/v1/responses", json=request, headers=OPENAI)).json()
    assert body["status"] == "incomplete"
    assert body["incomplete_details"] == {"reason": "max_output_tokens"}
    assert body["output"][0]["content"][0]["text"] == "You "


async def test_anthropic_stream_event_sequence(client: httpx.AsyncClient) -> None:
    request = {
        "model": "claude",
        "max_tokens": 50,
        "stream": True,
        "messages": [{"role": "user", "content": "hi"}],
    }
    response = await client.post("/v1/messages", json=request, headers=ANTHROPIC)
    names = sse_names(response.text)
    assert names[:3] == ["message_start", "ping", "content_block_start"]
    assert names[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    events = sse_data(response.text)
    assert events[0]["message"]["usage"]["input_tokens"] == 1
    assert events[-2]["usage"]["output_tokens"] == 3
    assert events[-2]["delta"]["stop_reason"] == "end_turn"


async def test_anthropic_requires_max_tokens_and_version(client: httpx.AsyncClient) -> None:
    request = {"model": "claude", "messages": [{"role": "user", "content": "hi"}]}
    missing_max = await client.post("/v1/messages", json=request, headers=ANTHROPIC)
    assert missing_max.status_code == 400
    assert missing_max.json()["error"]["type"] == "invalid_request_error"
    no_version = await client.post(
        "/v1/messages",
        json={**request, "max_tokens": 5},
        headers={"x-api-key": FAKE_KEYS["anthropic"]},
    )
    assert no_version.status_code == 400
    assert "anthropic-version" in no_version.json()["error"]["message"]


async def test_count_tokens(client: httpx.AsyncClient) -> None:
    request = {"model": "claude", "messages": [{"role": "user", "content": "one two three"}]}
    anthropic = await client.post("/v1/messages/count_tokens", json=request, headers=ANTHROPIC)
    assert anthropic.json() == {"input_tokens": 3}
    gemini = await client.post(
        "/v1beta/models/gemini-2.5-flash:countTokens",
        json={"contents": [{"parts": [{"text": "one two"}]}]},
        headers=GOOGLE,
    )
    assert gemini.json() == {"totalTokens": 2}


async def test_gemini_stream_puts_usage_on_the_last_chunk(client: httpx.AsyncClient) -> None:
    request = {"contents": [{"role": "user", "parts": [{"text": "hi there"}]}]}
    response = await client.post(
        "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
        json=request,
        headers=GOOGLE,
    )
    chunks = sse_data(response.text)
    assert len(chunks) == 4
    assert all("usageMetadata" not in chunk for chunk in chunks[:-1])
    assert chunks[-1]["usageMetadata"] == {
        "promptTokenCount": 2,
        "candidatesTokenCount": 4,
        "totalTokenCount": 6,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 2}],
    }
    assert chunks[-1]["candidates"][0]["finishReason"] == "STOP"
    without_sse = await client.post(
        "/v1/models/gemini-2.5-flash:streamGenerateContent", json=request, headers=GOOGLE
    )
    assert [c["candidates"][0]["content"]["parts"][0]["text"] for c in without_sse.json()] == [
        "You ",
        "said: ",
        "hi ",
        "there",
    ]


async def test_gemini_structured_output_and_forced_function(client: httpx.AsyncClient) -> None:
    schema = {"type": "OBJECT", "properties": {"n": {"type": "INTEGER"}}, "required": ["n"]}
    request = {
        "contents": [{"role": "user", "parts": [{"text": "x"}]}],
        "generationConfig": {"responseMimeType": "application/json", "responseSchema": schema},
    }
    body = (
        await client.post("/v1beta/models/g:generateContent", json=request, headers=GOOGLE)
    ).json()
    assert orjson.loads(body["candidates"][0]["content"]["parts"][0]["text"]) == {"n": 0}
    forced = {
        "contents": [{"role": "user", "parts": [{"text": "x"}]}],
        "tools": [{"functionDeclarations": [{"name": "a"}, {"name": "b", "parameters": schema}]}],
        "toolConfig": {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["b"]}},
    }
    body = (
        await client.post("/v1beta/models/g:generateContent", json=forced, headers=GOOGLE)
    ).json()
    assert body["candidates"][0]["content"]["parts"][0]["functionCall"]["name"] == "b"
    assert body["candidates"][0]["content"]["parts"][0]["functionCall"]["args"] == {"n": 0}


async def test_vertex_surfaces(client: httpx.AsyncClient) -> None:
    base = "/v1/projects/p/locations/us-east5/publishers"
    gemini = await client.post(
        f"{base}/google/models/gemini-2.5-flash:generateContent",
        json={"contents": [{"role": "user", "parts": [{"text": "hi"}]}]},
        headers=VERTEX,
    )
    assert gemini.json()["modelVersion"] == "gemini-2.5-flash"
    request = {
        "anthropic_version": "vertex-2023-10-16",
        "max_tokens": 9,
        "messages": [{"role": "user", "content": "hi"}],
    }
    claude = await client.post(
        f"{base}/anthropic/models/claude-x:streamRawPredict", json=request, headers=VERTEX
    )
    assert sse_names(claude.text)[-1] == "message_stop"
    wrong_version = await client.post(
        f"{base}/anthropic/models/claude-x:rawPredict",
        json={**request, "anthropic_version": "2023-06-01"},
        headers=VERTEX,
    )
    assert wrong_version.status_code == 400


async def test_bedrock_converse_stream_frames(client: httpx.AsyncClient) -> None:
    request = {
        "messages": [{"role": "user", "content": [{"text": "hello"}]}],
        "inferenceConfig": {"maxTokens": 2},
    }
    response = await client.post(
        "/model/us.anthropic.claude-v1%3A0/converse-stream", json=request, headers=BEDROCK
    )
    assert response.headers["content-type"] == "application/vnd.amazon.eventstream"
    buffer = EventStreamBuffer()
    buffer.add_data(response.content)
    frames = [(m.headers[":event-type"], orjson.loads(m.payload)) for m in buffer]
    assert [name for name, _ in frames] == [
        "messageStart",
        "contentBlockDelta",
        "contentBlockDelta",
        "contentBlockStop",
        "messageStop",
        "metadata",
    ]
    assert frames[-2][1] == {"stopReason": "max_tokens"}
    assert frames[-1][1]["usage"] == {"inputTokens": 1, "outputTokens": 2, "totalTokens": 3}
    assert client is not None


async def test_bedrock_invoke_checks_the_anthropic_body(
    client: httpx.AsyncClient, fake: FakeProvider
) -> None:
    request = {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 5,
        "messages": [{"role": "user", "content": "hi"}],
    }
    ok = await client.post("/model/anthropic.claude-v2%3A1/invoke", json=request, headers=BEDROCK)
    assert ok.json()["id"].startswith("msg_bdrk_")
    assert fake.journal[-1].model == "anthropic.claude-v2:1"
    with_model = await client.post(
        "/model/anthropic.claude-v2%3A1/invoke", json={**request, "model": "x"}, headers=BEDROCK
    )
    assert with_model.status_code == 400
    assert with_model.headers["x-amzn-errortype"].startswith("ValidationException")
    assert "extraneous key [model]" in with_model.json()["message"]


async def test_azure_needs_an_api_version_on_deployment_paths(client: httpx.AsyncClient) -> None:
    path = "/openai/deployments/my-gpt/chat/completions"
    missing = await client.post(path, json=CHAT, headers=AZURE)
    assert missing.status_code == 404
    ok = await client.post(
        f"{path}?api-version=2024-10-21", json={"messages": CHAT["messages"]}, headers=AZURE
    )
    assert ok.status_code == 200
    assert ok.json()["model"] == "my-gpt"
    v1 = await client.post(
        "/openai/v1/responses", json={"model": "gpt", "input": "hi"}, headers=AZURE
    )
    assert v1.json()["output"][0]["content"][0]["text"] == "You said: hi"


async def test_mistral_dialect(client: httpx.AsyncClient) -> None:
    request = {
        **CHAT,
        "stream": True,
        "tools": [{"type": "function", "function": {"name": "f"}}],
        "tool_choice": "any",
    }
    response = await client.post("/v1/chat/completions", json=request, headers=MISTRAL)
    chunks = sse_data(response.text)
    assert chunks[-1] == "[DONE]"
    assert (
        chunks[-2]["usage"]["total_tokens"]
        == chunks[-2]["usage"]["prompt_tokens"] + chunks[-2]["usage"]["completion_tokens"]
    )
    assert len(chunks[0]["choices"][0]["delta"]["tool_calls"][0]["id"]) == 9
    rejected = await client.post(
        "/mistral/v1/chat/completions", json={**CHAT, "max_completion_tokens": 3}, headers=MISTRAL
    )
    assert rejected.status_code == 422
    assert "detail" in rejected.json()


async def test_models_listing(client: httpx.AsyncClient) -> None:
    openai = (await client.get("/v1/models", headers=OPENAI)).json()
    assert openai["object"] == "list"
    assert "gpt-4o-mini" in [model["id"] for model in openai["data"]]
    anthropic = (await client.get("/v1/models", headers=ANTHROPIC)).json()
    assert anthropic["data"][0]["type"] == "model"


async def test_invalid_json_and_unknown_paths(
    client: httpx.AsyncClient, fake: FakeProvider
) -> None:
    bad = await client.post("/v1/chat/completions", content=b"{nope", headers=OPENAI)
    assert bad.status_code == 400
    assert bad.json()["error"]["type"] == "invalid_request_error"
    unknown = await client.post("/v9/nothing", json={})
    assert unknown.status_code == 404
    assert fake.journal[-1].provider is None


async def test_control_endpoints(client: httpx.AsyncClient, fake: FakeProvider) -> None:
    await client.post("/v1/chat/completions", json=CHAT, headers=OPENAI)
    journal = (await client.get("/_fake/journal")).json()
    assert journal[-1]["path"] == "/v1/chat/completions"
    assert journal[-1]["headers"]["authorization"] == "Bearer [redacted]"
    assert journal[-1]["body"] == CHAT
    assert (await client.get("/_fake/health")).json() == {"status": "ok"}
    bad = await client.post("/_fake/scenario", content=b'{"rules": [{"match": {"path": "("}}]}')
    assert bad.status_code == 400
    ok = await client.post("/_fake/scenario", json={"rules": [{"status": 503}]})
    assert ok.json() == {"rules": 1}
    assert (await client.post("/v1/chat/completions", json=CHAT, headers=OPENAI)).status_code == 503
    await client.post("/_fake/reset")
    assert len(fake.journal) == 0
    await client.post("/_fake/scenario", json={})
    await client.post("/v1/chat/completions", json=CHAT, headers=OPENAI)
    assert (await client.delete("/_fake/journal")).status_code == 200
    assert len(fake.journal) == 0
    assert (await client.get("/_fake/nothing")).status_code == 404
