"""The official SDKs parse every answer of the fake server, plain and streamed, and retry on it.

The SDK clients are synchronous: they run in worker threads against the server in the test's
own Trio run.
"""

from __future__ import annotations

import json
from typing import Any

import anthropic
import botocore.session
import openai
import pytest
import trio
from botocore.exceptions import ClientError, EventStreamError
from google import genai
from google.genai import errors as genai_errors
from google.genai import types as genai_types

from llm_router_testing.fake import FAKE_BOTOCORE_CREDENTIALS, FAKE_KEYS, FakeProvider

WEATHER = {
    "type": "object",
    "properties": {"location": {"type": "string"}, "days": {"type": "integer", "minimum": 1}},
    "required": ["location", "days"],
}
CLAUDE_ID = "us.anthropic.claude-haiku-4-5-20251001-v1:0"


async def in_thread(function: Any, *args: Any, **kwargs: Any) -> Any:
    return await trio.to_thread.run_sync(lambda: function(*args, **kwargs))


def _openai(fake: FakeProvider, **options: Any) -> openai.OpenAI:
    return openai.OpenAI(base_url=fake.url + "/v1", api_key=FAKE_KEYS["openai"], **options)


async def test_openai_chat_plain_and_streamed(fake: FakeProvider) -> None:
    client = _openai(fake)
    messages: Any = [{"role": "user", "content": "tell me more"}]
    completion = await in_thread(
        client.chat.completions.create, model="gpt-4o-mini", messages=messages
    )
    assert completion.choices[0].message.content == "You said: tell me more"
    assert (
        completion.usage.total_tokens
        == completion.usage.prompt_tokens + completion.usage.completion_tokens
    )

    def stream() -> list[Any]:
        chunks = client.chat.completions.create(
            model="gpt-4o-mini",
            messages=messages,
            stream=True,
            stream_options={"include_usage": True},
        )
        return list(chunks)

    chunks = await in_thread(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "You said: tell me more"
    assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens == 3 + 5


async def test_openai_chat_stream_tool_call(fake: FakeProvider) -> None:
    client = _openai(fake)
    tools: Any = [{"type": "function", "function": {"name": "get_weather", "parameters": WEATHER}}]

    def run() -> Any:
        with client.chat.completions.stream(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "weather?"}],
            tools=tools,
            tool_choice={"type": "function", "function": {"name": "get_weather"}},
        ) as stream:
            return stream.get_final_completion()

    completion = await in_thread(run)
    call = completion.choices[0].message.tool_calls[0]
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"location": "", "days": 1}
    assert completion.choices[0].finish_reason == "tool_calls"


async def test_openai_responses_plain_and_streamed(fake: FakeProvider) -> None:
    client = _openai(fake)
    response = await in_thread(client.responses.create, model="gpt-4o-mini", input="hi there")
    assert response.output_text == "You said: hi there"
    assert response.usage.total_tokens == 2 + 4
    tools: Any = [{"type": "function", "name": "get_weather", "parameters": WEATHER}]

    def run() -> tuple[list[str], Any]:
        with client.responses.stream(
            model="gpt-4o-mini", input="weather?", tools=tools, tool_choice="required"
        ) as stream:
            names = [event.type for event in stream]
            return names, stream.get_final_response()

    names, final = await in_thread(run)
    assert names.count("response.function_call_arguments.delta") >= 2
    assert final.output[0].name == "get_weather"
    assert json.loads(final.output[0].arguments) == {"location": "", "days": 1}
    assert final.usage.output_tokens > 0


async def test_openai_retries_429_until_success(fake: FakeProvider) -> None:
    client = _openai(
        fake,
        max_retries=2,
        default_headers={
            "x-fake-fail-times": "2",
            "x-fake-status": "429",
            "x-fake-retry-after-ms": "5",
        },
    )
    messages: Any = [{"role": "user", "content": "again"}]
    completion = await in_thread(
        client.chat.completions.create, model="gpt-4o-mini", messages=messages
    )
    assert completion.choices[0].message.content == "You said: again"
    assert [(e.attempt, e.status) for e in fake.journal] == [(1, 429), (2, 429), (3, 200)]
    with pytest.raises(openai.RateLimitError):
        refusing = _openai(
            fake,
            max_retries=1,
            default_headers={"x-fake-status": "429", "x-fake-retry-after-ms": "5"},
        )
        await in_thread(refusing.chat.completions.create, model="gpt-4o-mini", messages=messages)


def _anthropic(fake: FakeProvider, **options: Any) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=fake.url, api_key=FAKE_KEYS["anthropic"], **options)


async def test_anthropic_plain_and_streamed(fake: FakeProvider) -> None:
    client = _anthropic(fake)
    messages: Any = [{"role": "user", "content": "good morning"}]
    message = await in_thread(
        client.messages.create, model="claude-fake-1", max_tokens=64, messages=messages
    )
    assert message.content[0].text == "You said: good morning"
    assert (message.usage.input_tokens, message.usage.output_tokens) == (2, 4)

    def stream() -> tuple[list[str], Any]:
        with client.messages.stream(
            model="claude-fake-1",
            max_tokens=64,
            messages=messages,
            tools=[{"name": "get_weather", "input_schema": WEATHER}],
            tool_choice={"type": "any"},
        ) as events:
            names = [event.type for event in events]
            return names, events.get_final_message()

    names, final = await in_thread(stream)
    assert names[0] == "message_start" and "input_json" in names
    assert final.content[0].input == {"location": "", "days": 1}
    assert final.stop_reason == "tool_use"


async def test_anthropic_retries_overloaded_and_surfaces_stream_errors(fake: FakeProvider) -> None:
    headers = {"x-fake-fail-times": "1", "x-fake-status": "529", "x-fake-retry-after-ms": "5"}
    client = _anthropic(fake, max_retries=1, default_headers=headers)
    messages: Any = [{"role": "user", "content": "hi"}]
    message = await in_thread(
        client.messages.create, model="claude", max_tokens=8, messages=messages
    )
    assert message.stop_reason == "max_tokens" or message.stop_reason == "end_turn"
    assert [e.status for e in fake.journal] == [529, 200]

    broken = _anthropic(fake, default_headers={"x-fake-stream-error": "3"})

    def stream() -> None:
        with broken.messages.stream(model="claude", max_tokens=8, messages=messages) as events:
            for _ in events:
                pass

    with pytest.raises(anthropic.APIStatusError, match="interrupted"):
        await in_thread(stream)


def _genai(fake: FakeProvider, **options: Any) -> genai.Client:
    http_options = genai_types.HttpOptions(base_url=fake.url, **options)
    return genai.Client(api_key=FAKE_KEYS["google"], http_options=http_options)


async def test_google_genai_plain_and_streamed(fake: FakeProvider) -> None:
    client = _genai(fake)
    answer = await in_thread(
        client.models.generate_content, model="gemini-2.5-flash", contents="hello gemini"
    )
    assert answer.text == "You said: hello gemini"
    assert answer.usage_metadata.total_token_count == 2 + 4
    chunks = await in_thread(
        lambda: list(
            client.models.generate_content_stream(model="gemini-2.5-flash", contents="hello gemini")
        )
    )
    assert [chunk.text for chunk in chunks] == ["You ", "said: ", "hello ", "gemini"]
    assert chunks[-1].usage_metadata.candidates_token_count == 4
    assert fake.journal[-1].query == "alt=sse"
    assert fake.journal[-1].path in (
        "/v1beta/models/gemini-2.5-flash:streamGenerateContent",
        "/v1/models/gemini-2.5-flash:streamGenerateContent",
    )
    legacy = _genai(fake, api_version="v1beta")
    assert (
        await in_thread(legacy.models.generate_content, model="g", contents="x")
    ).text == "You said: x"
    assert fake.journal[-1].path == "/v1beta/models/g:generateContent"


async def test_google_genai_function_call_and_errors(fake: FakeProvider) -> None:
    client = _genai(fake)
    config = genai_types.GenerateContentConfig(
        tools=[
            genai_types.Tool(
                function_declarations=[
                    genai_types.FunctionDeclaration(
                        name="get_weather", parameters_json_schema=WEATHER
                    )
                ]
            )
        ],
        tool_config=genai_types.ToolConfig(
            function_calling_config=genai_types.FunctionCallingConfig(mode="ANY")
        ),
    )
    answer = await in_thread(
        client.models.generate_content, model="g", contents="weather?", config=config
    )
    assert answer.function_calls[0].name == "get_weather"
    assert answer.function_calls[0].args == {"location": "", "days": 1}
    failing = _genai(fake, headers={"x-fake-status": "429"})
    with pytest.raises(genai_errors.ClientError) as caught:
        await in_thread(failing.models.generate_content, model="g", contents="x")
    assert caught.value.code == 429


def _bedrock(fake: FakeProvider) -> Any:
    session = botocore.session.get_session()
    return session.create_client(
        "bedrock-runtime",
        region_name="us-east-1",
        endpoint_url=fake.url,
        **FAKE_BOTOCORE_CREDENTIALS,
    )


async def test_bedrock_converse_plain_and_streamed_with_sigv4(fake: FakeProvider) -> None:
    client = _bedrock(fake)
    messages = [{"role": "user", "content": [{"text": "hello bedrock"}]}]
    answer = await in_thread(client.converse, modelId=CLAUDE_ID, messages=messages)
    assert answer["output"]["message"]["content"] == [{"text": "You said: hello bedrock"}]
    assert answer["usage"] == {"inputTokens": 2, "outputTokens": 4, "totalTokens": 6}
    assert fake.journal[-1].path == f"/model/{CLAUDE_ID}/converse"
    assert fake.journal[-1].headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=")

    tool_config = {
        "tools": [{"toolSpec": {"name": "get_weather", "inputSchema": {"json": WEATHER}}}],
        "toolChoice": {"any": {}},
    }

    def stream() -> list[dict[str, Any]]:
        result = client.converse_stream(
            modelId=CLAUDE_ID, messages=messages, toolConfig=tool_config
        )
        return list(result["stream"])

    events = await in_thread(stream)
    names = [next(iter(event)) for event in events]
    assert names[0] == "messageStart" and names[-2:] == ["messageStop", "metadata"]
    fragments = [
        e["contentBlockDelta"]["delta"]["toolUse"]["input"]
        for e in events
        if "contentBlockDelta" in e
    ]
    assert len(fragments) >= 2 and json.loads("".join(fragments)) == {"location": "", "days": 1}
    assert events[-1]["metadata"]["usage"]["totalTokens"] > 0


async def test_bedrock_invoke_model_streams_anthropic_chunks(fake: FakeProvider) -> None:
    client = _bedrock(fake)
    body = json.dumps(
        {
            "anthropic_version": "bedrock-2023-05-31",
            "max_tokens": 20,
            "messages": [{"role": "user", "content": "hi"}],
        }
    )
    # The body is read in the worker thread too: reading it here would block the server's run.
    plain = await in_thread(
        lambda: json.loads(client.invoke_model(modelId=CLAUDE_ID, body=body)["body"].read())
    )
    assert plain["content"][0]["text"] == "You said: hi"

    def stream() -> list[dict[str, Any]]:
        result = client.invoke_model_with_response_stream(modelId=CLAUDE_ID, body=body)
        return [json.loads(event["chunk"]["bytes"]) for event in result["body"]]

    events = await in_thread(stream)
    assert [e["type"] for e in events][:2] == ["message_start", "ping"]
    assert events[-1]["amazon-bedrock-invocationMetrics"]["outputTokenCount"] == 3


async def test_bedrock_retries_throttling_and_raises_stream_exceptions(fake: FakeProvider) -> None:
    client = _bedrock(fake)
    fake.set_scenario({"rules": [{"match": {"path": "/converse$"}, "status": 429, "times": 2}]})
    messages = [{"role": "user", "content": [{"text": "retry me"}]}]
    answer = await in_thread(client.converse, modelId=CLAUDE_ID, messages=messages)
    assert answer["output"]["message"]["content"][0]["text"] == "You said: retry me"
    assert [e.status for e in fake.journal] == [429, 429, 200]

    fake.set_scenario({"rules": [{"match": {"path": "converse-stream$"}, "stream_error": 2}]})

    def stream() -> None:
        for _ in client.converse_stream(modelId=CLAUDE_ID, messages=messages)["stream"]:
            pass

    with pytest.raises(EventStreamError, match="throttlingException"):
        await in_thread(stream)


async def test_bedrock_count_tokens_for_converse_and_invoke_model_bodies(
    fake: FakeProvider,
) -> None:
    client = _bedrock(fake)
    messages = [{"role": "user", "content": [{"text": "count these four words"}]}]
    converse = await in_thread(
        client.count_tokens,
        modelId=CLAUDE_ID,
        input={"converse": {"messages": messages, "system": [{"text": "be brief"}]}},
    )
    body = json.dumps(
        {
            "anthropic_version": "bedrock-2023-05-31",
            "max_tokens": 20,
            "messages": [{"role": "user", "content": "count these four words"}],
        }
    )
    invoke = await in_thread(
        client.count_tokens, modelId=CLAUDE_ID, input={"invokeModel": {"body": body}}
    )
    assert (converse["inputTokens"], invoke["inputTokens"]) == (6, 4)
    assert fake.journal[-1].path == f"/model/{CLAUDE_ID}/count-tokens"
    # As on Bedrock: counting is offered for Claude models only.
    with pytest.raises(ClientError) as caught:
        await in_thread(
            client.count_tokens,
            modelId="meta.llama3-8b-instruct-v1:0",
            input={"converse": {"messages": messages}},
        )
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert "doesn't support counting tokens" in caught.value.response["Error"]["Message"]
