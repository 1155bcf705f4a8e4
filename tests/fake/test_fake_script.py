"""Scripted conversations: rule matching on what a request says, answers, strict mode."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest
import trio
import trio.testing
from _fake_http import ANTHROPIC, GOOGLE, MISTRAL, OPENAI, sse_data
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llm_router.formats import get_format
from llm_router.types import ProviderFormat
from llm_router.universal import ReasoningPart, RefusalPart, TextPart, ToolCallPart
from llm_router_testing.fake import FakeProvider, FaultSpecError, Scenario
from llm_router_testing.fake.actions import Action
from llm_router_testing.fake.app import FakeApp
from llm_router_testing.fake.state import FakeState
from llm_router_testing.script import Script

ISSUE_SCENARIO = {
    "rules": [
        {
            "match": {"user_text": "weather", "tool_result_for": None},
            "respond": {"tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]},
        },
        {"match": {"tool_result_for": "get_weather"}, "respond": {"text": "It is sunny in Paris."}},
    ]
}


def chat(*messages: Any, **extra: Any) -> dict[str, Any]:
    return {"model": "gpt-4o-mini", "messages": list(messages), **extra}


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": text}


async def post_chat(client: httpx.AsyncClient, body: dict[str, Any]) -> httpx.Response:
    return await client.post("/v1/chat/completions", json=body, headers=OPENAI)


async def test_issue_scenario_over_http_control_endpoint(
    fake: FakeProvider, client: httpx.AsyncClient
) -> None:
    installed = await client.post("/_fake/scenario", content=orjson.dumps(ISSUE_SCENARIO))
    assert installed.json() == {"rules": 2}
    first = (await post_chat(client, chat(user("what is the weather?")))).json()
    call = first["choices"][0]["message"]["tool_calls"][0]
    assert call["function"] == {"name": "get_weather", "arguments": '{"city":"Paris"}'}
    followup = chat(
        user("what is the weather?"),
        first["choices"][0]["message"],
        {"role": "tool", "tool_call_id": call["id"], "content": "sunny"},
    )
    second = (await post_chat(client, followup)).json()
    assert second["choices"][0]["message"]["content"] == "It is sunny in Paris."
    # No rule for small talk: the canonical echo answers (the scenario is not strict).
    other = (await post_chat(client, chat(user("hi")))).json()
    assert other["choices"][0]["message"]["content"] == "You said: hi"
    assert [entry.rule for entry in fake.journal] == ["rule #0", "rule #1", None]


async def test_match_keys(fake: FakeProvider, client: httpx.AsyncClient) -> None:
    script = fake.script()
    script.when(user_is="exact").reply("exact")
    script.when(turn=2).reply("second turn")
    script.when(system="^You are terse").reply("terse")
    script.when(tools=["search"]).reply("search offered")
    script.when(metadata={"tenant": "blue"}).reply("blue")
    script.when(tool_call_id="call_7").reply("call 7 answered")
    script.when(model="^gpt-4o$").reply("big model")
    script.always().reply("fallback")

    async def text(body: dict[str, Any]) -> str:
        answer = (await post_chat(client, body)).json()
        return str(answer["choices"][0]["message"]["content"])

    assert await text(chat(user("exact"))) == "exact"
    assert await text(chat(user("exact!"))) == "fallback"
    assert await text(chat(user("a"), {"role": "assistant", "content": "b"}, user("c"))) == (
        "second turn"
    )
    assert await text(chat({"role": "system", "content": "You are terse."}, user("x"))) == "terse"
    tool = {"type": "function", "function": {"name": "search", "parameters": {"type": "object"}}}
    assert await text(chat(user("x"), tools=[tool])) == "search offered"
    assert await text(chat(user("x"), metadata={"tenant": "blue"}, store=True)) == "blue"
    called = {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "call_7", "type": "function", "function": {"name": "f", "arguments": "{}"}}
        ],
    }
    result = {"role": "tool", "tool_call_id": "call_7", "content": "done"}
    assert await text(chat(user("x"), called, result)) == "call 7 answered"
    assert await text({**chat(user("x")), "model": "gpt-4o"}) == "big model"


async def test_sequence_is_consumed_in_order_then_falls_through(
    fake: FakeProvider, client: httpx.AsyncClient
) -> None:
    script = fake.script(strict=True)
    script.when(user_contains="go").named("steps").reply("one").then().reply("two")
    answers = [(await post_chat(client, chat(user("go")))) for _ in range(3)]
    assert [a.json()["choices"][0]["message"]["content"] for a in answers[:2]] == ["one", "two"]
    assert answers[2].status_code == 404
    assert "steps: all 2 scripted answers were used" in answers[2].json()["error"]["message"]


async def test_strict_mode_names_the_closest_rule(
    fake: FakeProvider, client: httpx.AsyncClient
) -> None:
    script = fake.script(strict=True)
    script.when(user_contains="weather", model="^gpt").named("weather").reply("sun")
    script.when(user_contains="stocks", tool_result_for="quote", turn=3).named("stocks").reply("up")
    reply = await post_chat(client, chat(user("what about the weathr?")))
    assert reply.status_code == 404
    message = reply.json()["error"]["message"]
    assert message.startswith("No scripted rule matches this request (closest is weather: ")
    assert "'what about the weathr?' does not contain 'weather'" in message
    assert fake.journal[-1].error == message
    # The same refusal in Anthropic's own error shape.
    body = {"model": "claude-sonnet-4-5", "max_tokens": 10, "messages": [user("hi")]}
    refused = await client.post("/v1/messages", json=body, headers=ANTHROPIC)
    assert refused.status_code == 404
    assert refused.json()["type"] == "error"
    assert refused.json()["error"]["type"] == "not_found_error"


async def test_answers_structured_refusal_error_finish_usage(
    fake: FakeProvider, client: httpx.AsyncClient
) -> None:
    script = fake.script()
    script.when(user_is="json").reply_json({"temperature": 21}).usage(
        input_tokens=7, output_tokens=3
    )
    script.when(user_is="refuse").refuse("I can't help with that.").finish("refusal")
    script.when(user_is="cut").reply("partial").finish("length")
    script.when(user_is="fail").fail(429, "Slow down", retry_after="2")
    answer = (await post_chat(client, chat(user("json")))).json()
    assert orjson.loads(answer["choices"][0]["message"]["content"]) == {"temperature": 21}
    assert answer["usage"]["prompt_tokens"] == 7 and answer["usage"]["completion_tokens"] == 3
    assert answer["usage"]["total_tokens"] == 10
    refusal = (await post_chat(client, chat(user("refuse")))).json()["choices"][0]
    assert refusal["message"]["refusal"] == "I can't help with that."
    cut = (await post_chat(client, chat(user("cut")))).json()["choices"][0]
    assert cut["finish_reason"] == "length"
    failed = await post_chat(client, chat(user("fail")))
    assert failed.status_code == 429 and failed.headers["retry-after"] == "2"
    assert failed.json()["error"]["message"] == "Slow down"


async def test_same_rule_streams_in_mistral_and_gemini(
    fake: FakeProvider, client: httpx.AsyncClient
) -> None:
    fake.script().always().call_tool("a", {"x": 1}).call_tool("b", {"y": 2})
    mistral = await client.post(
        "/mistral/v1/chat/completions", json=chat(user("go"), stream=True), headers=MISTRAL
    )
    names = [
        call["function"].get("name")
        for payload in sse_data(mistral.text)
        if isinstance(payload, dict) and payload["choices"]
        for call in payload["choices"][0]["delta"].get("tool_calls") or ()
    ]
    assert [name for name in names if name] == ["a", "b"]
    gemini = await client.post(
        "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
        json={"contents": [{"role": "user", "parts": [{"text": "go"}]}]},
        headers=GOOGLE,
    )
    calls = [
        part["functionCall"]
        for payload in sse_data(gemini.text)
        for part in payload["candidates"][0]["content"]["parts"]
        if "functionCall" in part
    ]
    assert [(c["name"], c["args"]) for c in calls] == [("a", {"x": 1}), ("b", {"y": 2})]


def test_per_token_timing_in_virtual_time() -> None:
    state = FakeState(require_auth=False)
    script = Script(None).when().reply("one two three").stream(ttfb=1, delays=[0.5, 2])
    state.set_scenario(script.script.to_scenario())
    app = FakeApp(state)
    sent: list[tuple[float, bytes]] = []
    delivered = False

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if not delivered:
            delivered = True
            body = orjson.dumps(chat(user("x"), stream=True))
            return {"type": "http.request", "body": body, "more_body": False}
        await trio.sleep_forever()
        raise AssertionError

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body" and message.get("body"):
            sent.append((trio.current_time(), message["body"]))

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/v1/chat/completions",
        "raw_path": b"/v1/chat/completions",
        "query_string": b"",
        "headers": [],
    }

    async def main() -> None:
        await app(scope, receive, send)

    clock = trio.testing.MockClock(autojump_threshold=0)
    trio.run(main, clock=clock)
    texts = [
        (time, payload["choices"][0]["delta"].get("content"))
        for time, body in sent
        for payload in sse_data(body.decode())
        if isinstance(payload, dict) and payload["choices"]
    ]
    by_text = {text: time for time, text in texts if text}
    assert by_text == {"one ": 1.5, "two ": 3.5, "three": 3.5}
    assert state.journal[0].rule == "rule #0"


def test_bad_rules_are_refused_with_their_place() -> None:
    with pytest.raises(FaultSpecError, match=r"match\.user_text: bad regular expression"):
        Scenario.from_mapping({"rules": [{"match": {"user_text": "(a"}}]})
    with pytest.raises(FaultSpecError, match=r"respond\[1\]: unknown keys \['txt'\]"):
        Scenario.from_mapping({"rules": [{"respond": [{"text": "a"}, {"txt": "b"}]}]})
    with pytest.raises(FaultSpecError, match="finish reason 'done'"):
        Scenario.from_mapping({"rules": [{"respond": {"finish_reason": "done"}}]})
    with pytest.raises(FaultSpecError, match=r"match\.turn"):
        Scenario.from_mapping({"rules": [{"match": {"turn": "2"}, "respond": {"text": "a"}}]})
    with pytest.raises(ValueError, match="then"):
        Script(None).when().then()


def test_builder_writes_the_documented_json() -> None:
    script = Script(None, strict=True)
    script.when(user_contains="weather", tool_result_for=None).call_tool(
        "get_weather", {"city": "Paris"}
    ).then().reply("It is sunny")
    assert script.to_json() == {
        "strict": True,
        "rules": [
            {
                "match": {"user_text_contains": "weather", "tool_result_for": None},
                "respond": [
                    {"tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]},
                    {"text": "It is sunny"},
                ],
            }
        ],
    }
    assert Scenario.load(script.dumps().decode()).rules[0].sequence


_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=30)
_ACTIONS = st.builds(
    lambda text, calls, reasoning: Action.from_mapping(
        {"text": text, "tool_calls": calls, "reasoning": reasoning}
    ),
    st.none() | _TEXT.filter(bool),
    st.lists(
        st.fixed_dictionaries(
            {
                "name": st.from_regex(r"[a-z_]{1,12}", fullmatch=True),
                "arguments": st.dictionaries(
                    st.from_regex(r"[a-z]{1,5}", fullmatch=True),
                    st.integers(-(2**53), 2**53) | _TEXT,
                    max_size=3,
                ),
            }
        ),
        max_size=3,
    ),
    st.none() | _TEXT.filter(bool),
)


@settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(action=_ACTIONS, fmt=st.sampled_from(list(ProviderFormat)))
def test_rendered_answers_parse_back_to_the_script(action: Action, fmt: ProviderFormat) -> None:
    """Property: every format's body, and its stream, carry the scripted content."""
    module = get_format(fmt)
    parsed = module.parse_response(orjson.loads(action.render_body(fmt, model="m", input_words=1)))
    texts = "".join(p.text for p in parsed.content if isinstance(p, TextPart))
    calls = [
        (p.name, orjson.loads(p.arguments)) for p in parsed.content if isinstance(p, ToolCallPart)
    ]
    assert texts == (action.text or "")
    assert calls == [(c.name, orjson.loads(c.arguments)) for c in action.tool_calls]
    if action.reasoning and fmt not in (ProviderFormat.CONVERSE,):
        assert any(isinstance(p, ReasoningPart) for p in parsed.content)
    assert not any(isinstance(p, RefusalPart) for p in parsed.content)
    parser = module.StreamParser()
    streamed_text = ""
    streamed_args: dict[int, str] = {}
    for event in action.render_stream(fmt, model="m", input_words=1).events:
        if event.data == b"[DONE]":
            continue
        payload = orjson.loads(event.data)
        if fmt is ProviderFormat.CONVERSE:
            payload = {event.event: payload}
        for delta in parser.feed(payload):
            streamed_text += (
                getattr(delta, "text", "") if type(delta).__name__ == "TextDelta" else ""
            )
            if type(delta).__name__ == "ToolCallDelta":
                streamed_args[delta.index] = streamed_args.get(delta.index, "") + delta.arguments  # type: ignore[union-attr]
    assert streamed_text == (action.text or "")
    assert [orjson.loads(a) for _, a in sorted(streamed_args.items())] == [
        orjson.loads(c.arguments) for c in action.tool_calls
    ]
