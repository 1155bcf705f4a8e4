"""The sans-IO realtime protocol modules: round trips, translation both ways, typed refusals."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llm_router.realtime import (
    CrossProtocolAudioError,
    RealtimeFormat,
    RealtimeProtocolError,
    RealtimeTranslator,
    gemini_live,
    openai_realtime,
    responses_ws,
)
from llm_router.realtime.events import (
    AddText,
    AddToolResult,
    ConfigureSession,
    RequestResponse,
    ResponseDone,
    TextDelta,
    ToolCall,
)
from llm_router.universal import Tool, Usage

OPENAI = RealtimeFormat.OPENAI_REALTIME
GEMINI = RealtimeFormat.GEMINI_LIVE

texts = st.text(min_size=1, max_size=30)
names = st.from_regex(r"[a-z][a-z_]{0,15}", fullmatch=True)
json_args = st.dictionaries(names, st.integers(-(2**53), 2**53) | st.text(max_size=10), max_size=3)
counts = st.integers(min_value=0, max_value=10_000)

# A provider turn: text chunks, or tool calls, then usage.
turns = st.tuples(
    st.lists(texts, max_size=4),
    st.lists(st.tuples(names, json_args), max_size=2),
    st.tuples(counts, counts),
)


def _loads(frames: list[str | bytes]) -> list[dict[str, Any]]:
    return [orjson.loads(frame) for frame in frames]


# --------------------------------------------------------------------------- client direction


client_events = st.lists(
    st.one_of(
        st.builds(AddText, texts, st.sampled_from(["user", "assistant"])),
        st.builds(AddToolResult, names, texts | json_args.map(lambda a: orjson.dumps(a).decode())),
        st.just(RequestResponse()),
    ),
    max_size=6,
)


@given(client_events)
def test_openai_client_events_round_trip(events: list[Any]) -> None:
    decoded = [
        e
        for event in events
        for f in openai_realtime.encode_client(event)
        for e in openai_realtime.decode_client(orjson.dumps(f))
    ]
    assert decoded == events


@given(client_events)
def test_gemini_client_frames_carry_the_same_conversation(events: list[Any]) -> None:
    encoder = gemini_live.ClientEncoder("gemini-live-2.5-flash")
    decoded = [
        e for event in events for f in encoder.feed(event) for e in gemini_live.decode_client(f)
    ]

    # Texts and tool results arrive in order; each answer request ends a batch of turns.
    def meaning(seq: list[Any]) -> list[Any]:
        kept = [e for e in seq if not isinstance(e, RequestResponse)]
        return [e if not isinstance(e, AddToolResult) else (e.call_id, e.output) for e in kept]

    sent_texts = [e for e in events if isinstance(e, AddText | AddToolResult)]
    pending_tail = []
    for event in reversed(events):  # texts after the last answer request are still held
        if isinstance(event, RequestResponse | AddToolResult):
            break
        pending_tail.append(event)
    expected = sent_texts[: len(sent_texts) - len(pending_tail)]
    assert meaning(decoded) == meaning(expected)


@given(st.text(max_size=40), st.lists(st.tuples(names, texts), max_size=3))
def test_session_configuration_crosses_both_ways(instructions: str, tools: list[Any]) -> None:
    config = ConfigureSession(
        instructions=instructions,
        tools=tuple(
            Tool(name, description, {"type": "object", "properties": {}})
            for name, description in tools
        ),
    )
    (setup,) = gemini_live.ClientEncoder("m").feed(config)
    assert setup["setup"]["model"] == "models/m"
    assert gemini_live.decode_client(setup) == [config]
    (update,) = openai_realtime.encode_client(config)
    assert openai_realtime.decode_client(update) == [config]


def test_genai_sdk_snake_case_client_content_is_read() -> None:
    frame = {
        "client_content": {
            "turns": [{"role": "user", "parts": [{"text": "hi"}]}],
            "turnComplete": True,
        }
    }
    assert gemini_live.decode_client(frame) == [AddText("hi"), RequestResponse()]


def test_gemini_tool_response_then_answer_request_sends_only_the_tool_response() -> None:
    translator = RealtimeTranslator(OPENAI, GEMINI, "gemini-live")
    item = {
        "type": "conversation.item.create",
        "item": {"type": "function_call_output", "call_id": "c1", "output": '{"t": 21}'},
    }
    assert _loads(translator.to_provider(orjson.dumps(item))) == [
        {"toolResponse": {"functionResponses": [{"id": "c1", "response": {"t": 21}}]}}
    ]
    assert translator.to_provider(b'{"type": "response.create"}') == []


def test_session_update_after_gemini_setup_is_refused_by_name() -> None:
    translator = RealtimeTranslator(OPENAI, GEMINI, "gemini-live")
    translator.setup(ConfigureSession())
    with pytest.raises(RealtimeProtocolError, match="configured once") as caught:
        translator.to_provider(
            b'{"type": "session.update", "session": {"type": "realtime", "instructions": "x"}}'
        )
    assert caught.value.path == "session.update"
    # An update Gemini would not need to apply (text output only) is dropped instead.
    update = b'{"type": "session.update", "session": {"output_modalities": ["text"]}}'
    assert translator.to_provider(update) == []


# --------------------------------------------------------------------------- server direction


def _gemini_turn(text: list[str], calls: list[Any], usage: tuple[int, int]) -> list[dict[str, Any]]:
    frames: list[dict[str, Any]] = [
        {"serverContent": {"modelTurn": {"parts": [{"text": chunk}]}}} for chunk in text
    ]
    meta = {
        "promptTokenCount": usage[0],
        "responseTokenCount": usage[1],
        "totalTokenCount": sum(usage),
    }
    if calls:
        frames.append(
            {
                "toolCall": {
                    "functionCalls": [
                        {"id": f"call_{i}", "name": name, "args": args}
                        for i, (name, args) in enumerate(calls)
                    ]
                },
                "usageMetadata": meta,
            }
        )
    else:
        frames.append({"serverContent": {"turnComplete": True}, "usageMetadata": meta})
    return frames


def _openai_meaning(frames: list[dict[str, Any]]) -> tuple[str, list[Any], list[Any]]:
    text = "".join(f["delta"] for f in frames if f["type"] == "response.output_text.delta")
    calls = [
        (f["name"], orjson.loads(f["arguments"]))
        for f in frames
        if f["type"] == "response.function_call_arguments.done"
    ]
    usage = [
        (f["response"]["usage"]["input_tokens"], f["response"]["usage"]["output_tokens"])
        for f in frames
        if f["type"] == "response.done"
    ]
    return text, calls, usage


@given(st.lists(turns, min_size=1, max_size=3))
def test_gemini_provider_to_openai_caller(session: list[Any]) -> None:
    translator = RealtimeTranslator(OPENAI, GEMINI, "gemini-live")
    out = _loads(translator.to_caller(b'{"setupComplete": {}}'))
    assert [f["type"] for f in out] == ["session.created"]
    for text, calls, usage in session:
        frames = [
            f
            for g in _gemini_turn(text, calls, usage)
            for f in _loads(translator.to_caller(orjson.dumps(g)))
        ]
        types = [f["type"] for f in frames]
        assert types[0] == "response.created" and types[-1] == "response.done"
        assert types.count("response.created") == types.count("response.done") == 1
        assert _openai_meaning(frames) == ("".join(text), [(n, a) for n, a in calls], [usage])
        if calls:  # the caller answers the calls before the next turn
            item = {"type": "function_call_output", "call_id": "call_0", "output": "ok"}
            translator.to_provider(orjson.dumps({"type": "conversation.item.create", "item": item}))
        # every output item that was added is done before the response is
        assert types.count("response.output_item.added") == types.count("response.output_item.done")


def _openai_turn(text: list[str], calls: list[Any], usage: tuple[int, int]) -> list[ServerEventT]:
    events: list[Any] = [TextDelta(chunk) for chunk in text]
    events += [
        ToolCall(f"call_{i}", name, orjson.dumps(args).decode())
        for i, (name, args) in enumerate(calls)
    ]
    events.append(ResponseDone(Usage(input_tokens=usage[0], output_tokens=usage[1])))
    return events


ServerEventT = Any


@given(st.lists(turns, min_size=1, max_size=3))
def test_openai_provider_to_gemini_caller(session: list[Any]) -> None:
    translator = RealtimeTranslator(GEMINI, OPENAI, "gpt-realtime")
    source = openai_realtime.ServerEncoder("gpt-realtime")
    out = _loads(
        translator.to_caller(
            orjson.dumps(
                source.feed(
                    openai_realtime.decode_server({"type": "session.created", "session": {}})[0]
                )[0]
            )
        )
    )
    assert out == [{"setupComplete": {}}]
    for text, calls, usage in session:
        frames = [
            f
            for event in _openai_turn(text, calls, usage)
            for raw in source.feed(event)
            for f in _loads(translator.to_caller(orjson.dumps(raw)))
        ]
        got_text = "".join(
            p["text"]
            for f in frames
            for p in f.get("serverContent", {}).get("modelTurn", {}).get("parts", [])
        )
        got_calls = [
            (c["name"], c["args"])
            for f in frames
            for c in f.get("toolCall", {}).get("functionCalls", [])
        ]
        meta = [f["usageMetadata"] for f in frames if "usageMetadata" in f]
        assert got_text == "".join(text)
        assert got_calls == [(n, a) for n, a in calls]
        assert [(m["promptTokenCount"], m["responseTokenCount"]) for m in meta] == [usage]
        completes = [f for f in frames if f.get("serverContent", {}).get("turnComplete")]
        assert len(completes) == (0 if calls else 1)


@given(st.lists(turns, min_size=1, max_size=3))
def test_openai_to_gemini_to_openai_keeps_text_calls_and_usage(session: list[Any]) -> None:
    there = RealtimeTranslator(GEMINI, OPENAI, "gpt-realtime")
    back = RealtimeTranslator(OPENAI, GEMINI, "gpt-realtime")
    source = openai_realtime.ServerEncoder("gpt-realtime")
    for text, calls, usage in session:
        frames = [
            f
            for event in _openai_turn(text, calls, usage)
            for raw in source.feed(event)
            for g in there.to_caller(orjson.dumps(raw))
            for f in _loads(back.to_caller(g))
        ]
        if not text and not calls:
            continue
        assert _openai_meaning(frames) == ("".join(text), [(n, a) for n, a in calls], [usage])


# --------------------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    ("caller", "provider", "frame", "kind"),
    [
        (
            OPENAI,
            GEMINI,
            {"type": "input_audio_buffer.append", "audio": "AAAA"},
            "input_audio_buffer.append",
        ),
        (
            GEMINI,
            OPENAI,
            {"realtimeInput": {"audio": {"data": "AAAA", "mimeType": "audio/pcm"}}},
            "realtimeInput.audio",
        ),
    ],
)
def test_cross_protocol_audio_is_refused_naming_the_event(
    caller: RealtimeFormat, provider: RealtimeFormat, frame: dict[str, Any], kind: str
) -> None:
    translator = RealtimeTranslator(caller, provider, "m")
    with pytest.raises(CrossProtocolAudioError, match=kind.replace(".", r"\.")) as caught:
        translator.to_provider(orjson.dumps(frame))
    assert caught.value.kind == kind


def test_provider_audio_is_refused_across_and_passed_through_on_the_same_protocol() -> None:
    frame = orjson.dumps(
        {
            "type": "response.output_audio.delta",
            "delta": "AAAA",
            "event_id": "e",
            "item_id": "i",
            "output_index": 0,
            "content_index": 0,
            "response_id": "r",
        }
    )
    with pytest.raises(CrossProtocolAudioError, match=r"response\.output_audio\.delta"):
        RealtimeTranslator(GEMINI, OPENAI, "m").to_caller(frame)
    assert RealtimeTranslator(OPENAI, OPENAI, "m").to_caller(frame) == [frame]
    audio = orjson.dumps(
        {
            "serverContent": {
                "modelTurn": {
                    "parts": [{"inlineData": {"mimeType": "audio/pcm;rate=24000", "data": "AAAA"}}]
                }
            }
        }
    )
    with pytest.raises(CrossProtocolAudioError, match="inlineData"):
        RealtimeTranslator(OPENAI, GEMINI, "m").to_caller(audio)


def test_dropped_events_are_counted_by_kind() -> None:
    to_gemini_caller = RealtimeTranslator(GEMINI, OPENAI, "m")
    assert to_gemini_caller.to_caller(b'{"type": "rate_limits.updated", "rate_limits": []}') == []
    assert to_gemini_caller.dropped["rate_limits.updated"] == 1
    to_gemini = RealtimeTranslator(OPENAI, GEMINI, "m")
    assert to_gemini.to_provider(b'{"type": "conversation.item.delete", "item_id": "y"}') == []
    assert to_gemini.dropped["conversation.item.delete"] == 1


def test_openai_error_becomes_a_gemini_close() -> None:
    translator = RealtimeTranslator(GEMINI, OPENAI, "m")
    error = {
        "type": "error",
        "event_id": "e",
        "error": {"type": "server_error", "message": "x" * 300},
    }
    assert translator.to_caller(orjson.dumps(error)) == []
    assert translator.close is not None
    code, reason = translator.close
    assert code == 1011 and len(reason.encode()) <= 123


@settings(max_examples=150)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=5),
        lambda c: (
            st.lists(c, max_size=3)
            | st.dictionaries(
                st.sampled_from(
                    [
                        "type",
                        "session",
                        "item",
                        "setup",
                        "serverContent",
                        "toolCall",
                        "modelTurn",
                        "parts",
                        "text",
                        "usageMetadata",
                        "clientContent",
                        "turns",
                        "response",
                        "usage",
                        "delta",
                        "content",
                    ]
                ),
                c,
                max_size=4,
            )
        ),
        max_leaves=12,
    )
)
def test_decoders_raise_only_typed_errors_on_any_json(value: Any) -> None:
    raw = orjson.dumps(value)
    for decode in (
        openai_realtime.decode_client,
        openai_realtime.decode_server,
        gemini_live.decode_client,
        gemini_live.ServerDecoder().feed,
        responses_ws.decode_client,
    ):
        try:
            decode(raw)
        except RealtimeProtocolError:
            pass


@pytest.mark.parametrize("frame", [b"{", b"[1]", b"\xff"])
def test_malformed_frames_are_typed_errors(frame: bytes) -> None:
    with pytest.raises(RealtimeProtocolError, match="openai-realtime frame"):
        openai_realtime.decode_server(frame)


# --------------------------------------------------------------------------- responses-ws


@given(st.lists(st.tuples(texts, texts), min_size=1, max_size=4))
def test_responses_conversation_resend_carries_every_turn(exchanges: list[Any]) -> None:
    conversation = responses_ws.Conversation()
    previous = None
    for index, (question, answer) in enumerate(exchanges):
        turn: dict[str, Any] = {"type": "response.create", "model": "gpt-4.1", "input": question}
        if previous:
            turn["previous_response_id"] = previous
        conversation.client_turn(responses_ws.decode_client(orjson.dumps(turn)))
        previous = f"resp_{index}"
        output = [
            {
                "type": "message",
                "role": "assistant",
                "content": [{"type": "output_text", "text": answer}],
            }
        ]
        conversation.server_event(
            {"type": "response.completed", "response": {"id": previous, "output": output}}
        )
    resent = conversation.resend(
        {
            "type": "response.create",
            "model": "gpt-4.1",
            "input": "next",
            "previous_response_id": previous,
        }
    )
    assert "previous_response_id" not in resent
    said = [
        item["content"] if isinstance(item["content"], str) else item["content"][0]["text"]
        for item in resent["input"]
    ]
    assert said == [t for pair in exchanges for t in pair] + ["next"]


def test_responses_resend_refuses_an_unknown_previous_response() -> None:
    conversation = responses_ws.Conversation()
    with pytest.raises(RealtimeProtocolError, match="previous_response_id"):
        conversation.resend({"type": "response.create", "previous_response_id": "resp_other"})


def test_responses_ws_refuses_stream_and_other_events() -> None:
    with pytest.raises(RealtimeProtocolError, match="leave out `stream`"):
        responses_ws.decode_client(b'{"type": "response.create", "stream": true}')
    with pytest.raises(RealtimeProtocolError, match=r"response\.create only"):
        responses_ws.decode_client(b'{"type": "session.update"}')


@pytest.mark.parametrize(
    "module",
    ["events", "_fields", "openai_realtime", "gemini_live", "responses_ws", "translate"],
)
def test_protocol_modules_are_sans_io(module: str) -> None:
    import ast
    import importlib
    import pathlib

    source = importlib.import_module(f"llm_router.realtime.{module}").__file__
    assert source is not None
    tree = ast.parse(pathlib.Path(source).read_text(encoding="utf-8"))
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    } | {
        (node.module or "").split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.level == 0
    }
    assert not imported & {"trio", "trio_websocket", "httpx", "anyio"}
