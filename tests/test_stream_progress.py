"""`StreamProgress`, sans-IO: where each format's answer begins (the commit point) and whether
a stream ended with its format's end-of-answer signal."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llm_router.stream_progress import END_SIGNALS, StreamProgress
from llm_router.translate import StreamTranslator
from llm_router.types import ProviderFormat as F
from llm_router.types import StreamEvent

HEAD = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m"}


def _chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {**HEAD, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


def _chat(words: list[str], *, tool: bool = False) -> list[dict[str, Any]]:
    chunks = [_chunk({"role": "assistant", "content": ""})]
    chunks += [_chunk({"content": word}) for word in words]
    if tool:
        call = {"index": 0, "id": "t1", "type": "function", "function": {"name": "f"}}
        chunks.append(
            _chunk({"tool_calls": [{**call, "function": {"name": "f", "arguments": "{}"}}]})
        )
    chunks.append(_chunk({}, "tool_calls" if tool else "stop"))
    usage = {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}
    chunks.append({**HEAD, "choices": [], "usage": usage})
    return chunks


def _stream(fmt: F, chunks: list[dict[str, Any]]) -> list[StreamEvent]:
    """The stream `fmt` would send for these Chat chunks (OpenAI's own: as sent, + [DONE])."""
    if fmt is F.OPENAI:
        return [StreamEvent(None, orjson.dumps(c)) for c in chunks] + [StreamEvent(None, b"[DONE]")]
    translator = StreamTranslator(F.OPENAI, fmt)
    return [e for c in chunks for e in translator.feed(c)] + translator.finish()


def _payload(fmt: F, event: StreamEvent) -> Any:
    if event.data == b"[DONE]":
        return None
    obj = orjson.loads(event.data)
    return {event.event: obj} if fmt is F.CONVERSE else obj


def _watch(fmt: F, events: list[StreamEvent]) -> list[tuple[bool, bool]]:
    """(has_content, complete) after each event."""
    progress = StreamProgress(fmt)
    states = []
    for event in events:
        progress.observe(event, _payload(fmt, event))
        states.append((progress.has_content, progress.complete))
    return states


#: How many events of `_stream(fmt, _chat(["po", "ng"]))` come before the first content one.
PREAMBLE = {F.OPENAI: 1, F.MISTRAL: 1, F.ANTHROPIC: 2, F.RESPONSES: 4, F.GOOGLE: 0, F.CONVERSE: 1}


@pytest.mark.parametrize("fmt", list(F), ids=lambda f: f.value)
def test_the_first_content_event_is_the_commit_point(fmt: F) -> None:
    states = _watch(fmt, _stream(fmt, _chat(["po", "ng"])))
    content = [has for has, _ in states]
    assert content.index(True) == PREAMBLE[fmt]
    assert all(content[PREAMBLE[fmt] :])


@pytest.mark.parametrize("fmt", list(F), ids=lambda f: f.value)
def test_a_tool_call_is_content(fmt: F) -> None:
    states = _watch(fmt, _stream(fmt, _chat([], tool=True)))
    assert any(has for has, _ in states)


@pytest.mark.parametrize("fmt", list(F), ids=lambda f: f.value)
def test_a_preamble_alone_is_neither_content_nor_complete(fmt: F) -> None:
    events = _stream(fmt, _chat(["po"]))[: PREAMBLE[fmt]]
    progress = StreamProgress(fmt)
    for event in events:
        progress.observe(event, _payload(fmt, event))
    assert not progress.has_content and not progress.complete
    assert progress.missing == END_SIGNALS[fmt]


@settings(max_examples=60, deadline=None)
@given(
    fmt=st.sampled_from(list(F)),
    words=st.lists(st.text(min_size=1, max_size=5), max_size=4),
    tool=st.booleans(),
    data=st.data(),
)
def test_only_the_end_signal_makes_a_stream_complete(
    fmt: F, words: list[str], tool: bool, data: st.DataObject
) -> None:
    events = _stream(fmt, _chat(words, tool=tool))
    states = _watch(fmt, events)
    assert states[-1][1], "a whole stream is complete"
    first_complete = [done for _, done in states].index(True)
    # Whatever precedes the end signal leaves the stream incomplete; a stream cut anywhere
    # before it is incomplete, cut after it (trailers only lost) still complete.
    cut = data.draw(st.integers(min_value=0, max_value=len(events)))
    progress = StreamProgress(fmt)
    for event in events[:cut]:
        progress.observe(event, _payload(fmt, event))
    assert progress.complete is (cut > first_complete)


@pytest.mark.parametrize(
    ("fmt", "events"),
    [
        # Compatible hosts that end with a finish_reason and no [DONE].
        (F.OPENAI, [StreamEvent(None, orjson.dumps(_chunk({"content": "x"}, "stop")))]),
        (F.MISTRAL, [StreamEvent(None, orjson.dumps(_chunk({"content": "x"}, "length")))]),
        # Bedrock without the metadata trailer after messageStop.
        (
            F.CONVERSE,
            [
                StreamEvent("contentBlockDelta", b'{"delta":{"text":"x"},"contentBlockIndex":0}'),
                StreamEvent("messageStop", b'{"stopReason":"end_turn"}'),
            ],
        ),
        # A prompt Gemini blocked: no candidate, a block reason.
        (F.GOOGLE, [StreamEvent(None, b'{"promptFeedback":{"blockReason":"SAFETY"}}')]),
        # Responses ending at max_output_tokens.
        (F.RESPONSES, [StreamEvent("response.incomplete", b'{"type":"response.incomplete"}')]),
    ],
    ids=[
        "openai-no-done",
        "mistral-no-done",
        "converse-no-metadata",
        "gemini-blocked",
        "incomplete",
    ],
)
def test_legitimate_ends_without_trailers_are_complete(fmt: F, events: list[StreamEvent]) -> None:
    assert _watch(fmt, events)[-1][1]


def test_an_event_its_parser_cannot_read_commits_rather_than_being_held() -> None:
    progress = StreamProgress(F.ANTHROPIC)
    progress.observe(StreamEvent("content_block_delta", b"{}"), {"type": "content_block_start"})
    assert progress.has_content and not progress.complete


@settings(max_examples=60, deadline=None)
@given(
    source=st.sampled_from(list(F)),
    target=st.sampled_from(list(F)),
    words=st.lists(st.text(min_size=1, max_size=5), max_size=4),
    tool=st.booleans(),
    cut=st.integers(min_value=0, max_value=40),
)
def test_a_stream_translator_is_complete_once_its_source_ended_as_progress_judges(
    source: F, target: F, words: list[str], tool: bool, cut: int
) -> None:
    """`StreamTranslator.complete` agrees with `StreamProgress` on every whole stream and
    every stream cut after any event, for every pair of formats (passthrough included)."""
    events = _stream(source, _chat(words, tool=tool))
    events = events[: min(cut, len(events))]
    translator = StreamTranslator(source, target)
    for event in events:
        translator.feed(_payload(source, event) if source is F.CONVERSE else event.data)
    translator.finish()
    expected = bool(events) and _watch(source, events)[-1][1]
    assert translator.complete is expected
    assert not StreamTranslator(source, target, track_end=False).complete


@pytest.mark.parametrize("fmt", list(F), ids=lambda f: f.value)
def test_fail_in_passthrough_gives_only_the_error_event(fmt: F) -> None:
    from llm_router.universal import ErrorInfo, ErrorType

    translator = StreamTranslator(fmt, fmt)
    events = _stream(fmt, _chat(["po", "ng"]))
    ended = [complete for _, complete in _watch(fmt, events)].index(True)
    for event in events[:ended]:  # cut just before its end-of-answer event
        translator.feed(_payload(fmt, event) if fmt is F.CONVERSE else event.data)
    assert not translator.complete
    (error,) = translator.fail(ErrorInfo(ErrorType.SERVER, "stream interrupted"))
    assert b"stream interrupted" in error.data
