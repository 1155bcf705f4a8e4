"""An agent loop written with each official SDK runs a scripted two-step tool conversation.

One script (call `get_weather`, then answer from its result) serves every wire format; each
SDK parses the answers with its own types, plain and streamed.
"""

from __future__ import annotations

import json
from typing import Any

import anthropic
import botocore.session
import openai
import trio
from google import genai
from google.genai import types as genai_types

from llm_router_testing.fake import FAKE_BOTOCORE_CREDENTIALS, FAKE_KEYS, FakeProvider

WEATHER_SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}}
ANSWER = "It is sunny in Paris."


def weather(city: str) -> str:
    return f"sunny in {city}"


def _script(fake: FakeProvider) -> None:
    script = fake.script(strict=True)
    script.when(user_contains="weather", tool_result_for=None).named("ask").call_tool(
        "get_weather", {"city": "Paris"}
    )
    script.when(tool_result_for="get_weather").named("answer").think("The tool said.").reply(
        ANSWER
    ).usage(input_tokens=12, output_tokens=5)


async def in_thread(function: Any) -> Any:
    return await trio.to_thread.run_sync(function)


def _assert_journal(fake: FakeProvider, model: str) -> None:
    assert [entry.rule for entry in fake.journal] == ["ask", "answer"] * 2
    assert fake.journal.called(model=model, tool_result_for="get_weather", rule="answer")
    assert not fake.journal.called(tool_result_for="get_time")


async def test_openai_chat_agent_loop(fake: FakeProvider) -> None:
    _script(fake)
    client = openai.OpenAI(base_url=fake.url + "/v1", api_key=FAKE_KEYS["openai"])
    tools: Any = [
        {"type": "function", "function": {"name": "get_weather", "parameters": WEATHER_SCHEMA}}
    ]

    def loop(stream: bool) -> str:
        messages: list[Any] = [{"role": "user", "content": "What's the weather in Paris?"}]
        while True:
            if stream:
                with client.chat.completions.stream(
                    model="gpt-4o-mini", messages=messages, tools=tools
                ) as events:
                    completion = events.get_final_completion()
            else:
                completion = client.chat.completions.create(
                    model="gpt-4o-mini", messages=messages, tools=tools
                )
            message = completion.choices[0].message
            if not message.tool_calls:
                assert completion.choices[0].finish_reason == "stop"
                return message.content or ""
            assert completion.choices[0].finish_reason == "tool_calls"
            messages.append(message.model_dump(exclude_none=True))
            for call in message.tool_calls:
                result = weather(**json.loads(call.function.arguments))
                messages.append({"role": "tool", "tool_call_id": call.id, "content": result})

    assert await in_thread(lambda: loop(False)) == ANSWER
    assert await in_thread(lambda: loop(True)) == ANSWER
    _assert_journal(fake, "gpt-4o-mini")


async def test_openai_responses_agent_loop(fake: FakeProvider) -> None:
    _script(fake)
    client = openai.OpenAI(base_url=fake.url + "/v1", api_key=FAKE_KEYS["openai"])
    tools: Any = [{"type": "function", "name": "get_weather", "parameters": WEATHER_SCHEMA}]

    def loop(stream: bool) -> str:
        items: list[Any] = [{"role": "user", "content": "What's the weather in Paris?"}]
        while True:
            if stream:
                with client.responses.stream(
                    model="gpt-4o-mini", input=items, tools=tools
                ) as events:
                    response = events.get_final_response()
            else:
                response = client.responses.create(model="gpt-4o-mini", input=items, tools=tools)
            calls = [item for item in response.output if item.type == "function_call"]
            if not calls:
                return response.output_text
            for call in calls:
                items.append(call.model_dump(exclude_none=True))
                result = weather(**json.loads(call.arguments))
                items.append(
                    {"type": "function_call_output", "call_id": call.call_id, "output": result}
                )

    assert await in_thread(lambda: loop(False)) == ANSWER
    assert await in_thread(lambda: loop(True)) == ANSWER
    _assert_journal(fake, "gpt-4o-mini")


async def test_anthropic_agent_loop(fake: FakeProvider) -> None:
    _script(fake)
    client = anthropic.Anthropic(base_url=fake.url, api_key=FAKE_KEYS["anthropic"])
    tools: Any = [{"name": "get_weather", "input_schema": WEATHER_SCHEMA}]

    def loop(stream: bool) -> tuple[str, list[str]]:
        messages: list[Any] = [{"role": "user", "content": "What's the weather in Paris?"}]
        while True:
            options: Any = {"model": "claude-sonnet-4-5", "max_tokens": 100, "tools": tools}
            if stream:
                with client.messages.stream(messages=messages, **options) as events:
                    message = events.get_final_message()
            else:
                message = client.messages.create(messages=messages, **options)
            if message.stop_reason != "tool_use":
                kinds = [block.type for block in message.content]
                assert message.usage.input_tokens == 12 and message.usage.output_tokens == 5
                return "".join(b.text for b in message.content if b.type == "text"), kinds
            messages.append({"role": "assistant", "content": message.content})
            results = [
                {
                    "type": "tool_result",
                    "tool_use_id": block.id,
                    "content": weather(**block.input),
                }
                for block in message.content
                if block.type == "tool_use"
            ]
            messages.append({"role": "user", "content": results})

    for stream in (False, True):
        text, kinds = await in_thread(lambda stream=stream: loop(stream))
        assert text == ANSWER and kinds == ["thinking", "text"]
    _assert_journal(fake, "claude-sonnet-4-5")


async def test_google_genai_agent_loop(fake: FakeProvider) -> None:
    _script(fake)
    client = genai.Client(
        api_key=FAKE_KEYS["google"], http_options=genai_types.HttpOptions(base_url=fake.url)
    )
    declaration = genai_types.FunctionDeclaration(
        name="get_weather", parameters_json_schema=WEATHER_SCHEMA
    )
    config = genai_types.GenerateContentConfig(
        tools=[genai_types.Tool(function_declarations=[declaration])],
        automatic_function_calling=genai_types.AutomaticFunctionCallingConfig(disable=True),
    )

    def loop(stream: bool) -> str:
        contents: list[Any] = [
            genai_types.Content(
                role="user", parts=[genai_types.Part(text="What is the weather in Paris?")]
            )
        ]
        while True:
            if stream:
                chunks = list(
                    client.models.generate_content_stream(
                        model="gemini-2.5-flash", contents=contents, config=config
                    )
                )
                parts = [part for chunk in chunks for part in chunk.candidates[0].content.parts]
            else:
                answer = client.models.generate_content(
                    model="gemini-2.5-flash", contents=contents, config=config
                )
                parts = list(answer.candidates[0].content.parts)
            calls = [part.function_call for part in parts if part.function_call]
            if not calls:
                return "".join(part.text or "" for part in parts if not part.thought)
            contents.append(genai_types.Content(role="model", parts=parts))
            contents.append(
                genai_types.Content(
                    role="user",
                    parts=[
                        genai_types.Part.from_function_response(
                            name=call.name, response={"result": weather(**call.args)}
                        )
                        for call in calls
                    ],
                )
            )

    assert await in_thread(lambda: loop(False)) == ANSWER
    assert await in_thread(lambda: loop(True)) == ANSWER
    _assert_journal(fake, "gemini-2.5-flash")


async def test_bedrock_converse_agent_loop(fake: FakeProvider) -> None:
    _script(fake)
    client = botocore.session.get_session().create_client(
        "bedrock-runtime",
        region_name="us-east-1",
        endpoint_url=fake.url,
        **FAKE_BOTOCORE_CREDENTIALS,
    )
    model = "us.anthropic.claude-haiku-4-5-20251001-v1:0"
    tool_config = {
        "tools": [{"toolSpec": {"name": "get_weather", "inputSchema": {"json": WEATHER_SCHEMA}}}]
    }

    def loop(stream: bool) -> str:
        messages: list[Any] = [
            {"role": "user", "content": [{"text": "What is the weather in Paris?"}]}
        ]
        while True:
            if stream:
                reply = client.converse_stream(
                    modelId=model, messages=messages, toolConfig=tool_config
                )
                content, stop = _collect_converse(reply["stream"])
            else:
                reply = client.converse(modelId=model, messages=messages, toolConfig=tool_config)
                content, stop = reply["output"]["message"]["content"], reply["stopReason"]
            if stop != "tool_use":
                return "".join(block.get("text", "") for block in content)
            messages.append({"role": "assistant", "content": content})
            messages.append(
                {
                    "role": "user",
                    "content": [
                        {
                            "toolResult": {
                                "toolUseId": block["toolUse"]["toolUseId"],
                                "content": [{"text": weather(**block["toolUse"]["input"])}],
                            }
                        }
                        for block in content
                        if "toolUse" in block
                    ],
                }
            )

    assert await in_thread(lambda: loop(False)) == ANSWER
    assert await in_thread(lambda: loop(True)) == ANSWER
    _assert_journal(fake, model)


def _collect_converse(events: Any) -> tuple[list[dict[str, Any]], str]:
    blocks: dict[int, dict[str, Any]] = {}
    stop = ""
    for event in events:
        if "contentBlockStart" in event:
            start = event["contentBlockStart"]
            use = start["start"]["toolUse"]
            blocks[start["contentBlockIndex"]] = {"toolUse": {**use, "input": ""}}
        elif "contentBlockDelta" in event:
            delta = event["contentBlockDelta"]
            block = blocks.setdefault(delta["contentBlockIndex"], {})
            if "text" in delta["delta"]:
                block["text"] = block.get("text", "") + delta["delta"]["text"]
            elif "toolUse" in delta["delta"]:
                block["toolUse"]["input"] += delta["delta"]["toolUse"]["input"]
        elif "messageStop" in event:
            stop = event["messageStop"]["stopReason"]
    for block in blocks.values():
        if "toolUse" in block:
            block["toolUse"]["input"] = json.loads(block["toolUse"]["input"] or "{}")
    return [block for _, block in sorted(blocks.items()) if block], stop
