"""The contract suite's own readers: stream framing rules, error shapes, the result table."""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llm_router.framing.eventstream import encode_event
from llm_router.types import ProviderFormat
from llm_router_testing.contract import (
    CheckResult,
    ContractReport,
    ContractViolation,
    Verdict,
    dialect_for,
    render_table,
)
from llm_router_testing.contract.streams import stream_reader

WORDS = ["You ", "said: ", "hi ", "there"]
TEXT = "".join(WORDS)


def _sse(data: object, event: str | None = None) -> bytes:
    head = f"event: {event}\n".encode() if event else b""
    return head + b"data: " + orjson.dumps(data) + b"\n\n"


def _chat() -> bytes:
    chunks = [
        _sse(
            {"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": w}}]}
        )
        for w in WORDS
    ]
    return b"".join(chunks) + b"data: [DONE]\n\n"


def _anthropic(*, stop: bool = True) -> bytes:
    events: list[tuple[str, dict[str, object]]] = [
        ("message_start", {"type": "message_start", "message": {}})
    ]
    events += [
        (
            "content_block_delta",
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": w}},
        )
        for w in WORDS
    ]
    events.append(("ping", {"type": "ping"}))
    if stop:
        events.append(("message_stop", {"type": "message_stop"}))
    return b"".join(_sse(data, name) for name, data in events)


def _responses(sequence: list[int] | None = None) -> bytes:
    types = ["response.created"] + ["response.output_text.delta"] * len(WORDS)
    types.append("response.completed")
    numbers = sequence or list(range(len(types)))
    deltas = iter(WORDS)
    events = []
    for kind, number in zip(types, numbers, strict=True):
        data: dict[str, object] = {"type": kind, "sequence_number": number}
        if kind == "response.output_text.delta":
            data["delta"] = next(deltas)
        events.append(_sse(data, kind))
    return b"".join(events)


def _google(*, finish: bool = True) -> bytes:
    chunks = []
    for index, word in enumerate(WORDS):
        candidate: dict[str, object] = {"content": {"role": "model", "parts": [{"text": word}]}}
        if finish and index == len(WORDS) - 1:
            candidate["finishReason"] = "STOP"
        chunks.append(b"data: " + orjson.dumps({"candidates": [candidate]}) + b"\r\n\r\n")
    return b"".join(chunks)


def _converse() -> bytes:
    frames = [encode_event("messageStart", b'{"role":"assistant"}')]
    frames += [
        encode_event(
            "contentBlockDelta", orjson.dumps({"contentBlockIndex": 0, "delta": {"text": w}})
        )
        for w in WORDS
    ]
    frames.append(encode_event("messageStop", b'{"stopReason":"end_turn"}'))
    return b"".join(frames)


VALID = {
    ProviderFormat.OPENAI: _chat(),
    ProviderFormat.MISTRAL: _chat(),
    ProviderFormat.ANTHROPIC: _anthropic(),
    ProviderFormat.RESPONSES: _responses(),
    ProviderFormat.GOOGLE: _google(),
    ProviderFormat.CONVERSE: _converse(),
}


def _read(fmt: ProviderFormat, data: bytes, cuts: Sequence[int] = ()) -> tuple[str, int]:
    reader = stream_reader(fmt)
    edges = [0, *sorted(cuts), len(data)]
    for start, end in itertools.pairwise(edges):
        reader.feed(data[start:end])
    return reader.finish(), reader.events


@settings(max_examples=60, deadline=None)
@given(
    fmt=st.sampled_from(list(VALID)),
    cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=8),
)
def test_valid_streams_read_the_same_however_they_are_cut(
    fmt: ProviderFormat, cuts: list[int]
) -> None:
    data = VALID[fmt]

    text, events = _read(fmt, data, [cut % (len(data) + 1) for cut in cuts])

    assert (text, events) == _read(fmt, data)
    assert text == TEXT


def test_keepalives_are_ignored_wherever_they_come() -> None:
    ping = _sse({"type": "ping"}, "ping")
    text, events = _read(ProviderFormat.ANTHROPIC, ping + _anthropic() + b": keep-alive\n\n")
    assert text == TEXT
    assert events == len(WORDS) + 2  # message_start, the deltas, message_stop


@pytest.mark.parametrize(
    ("fmt", "data", "message"),
    [
        (ProviderFormat.OPENAI, _chat()[: -len(b"data: [DONE]\n\n")], "without data: [DONE]"),
        (ProviderFormat.OPENAI, _chat() + _chat(), "an event followed data: [DONE]"),
        (ProviderFormat.OPENAI, _sse({"error": {"message": "boom"}}), "carried an error"),
        (ProviderFormat.MISTRAL, _sse({"object": "chat.completion"}), "chat.completion.chunk"),
        (
            ProviderFormat.ANTHROPIC,
            _anthropic(stop=False),
            "ended with 'content_block_delta', not message_stop",
        ),
        (
            ProviderFormat.ANTHROPIC,
            _anthropic()[len(_sse({"type": "message_start", "message": {}}, "message_start")) :],
            "not message_start",
        ),
        (
            ProviderFormat.ANTHROPIC,
            _sse({"type": "message_start"}, "ping"),
            "differs from its type",
        ),
        (
            ProviderFormat.RESPONSES,
            _responses([0, 1, 2, 2, 3, 4]),
            "sequence_number went from 2 to 2",
        ),
        (ProviderFormat.RESPONSES, _responses()[:-60], "not a final event"),
        (ProviderFormat.RESPONSES, b'data: {"type":\n\n', "stream event 1 is not JSON"),
        (ProviderFormat.GOOGLE, _google(finish=False), "no chunk carried a finishReason"),
        (ProviderFormat.GOOGLE, b"", "the stream carried no events"),
        (ProviderFormat.CONVERSE, _converse()[:-3], "ended inside a frame"),
        (
            ProviderFormat.CONVERSE,
            _converse()[: -len(encode_event("messageStop", b'{"stopReason":"end_turn"}'))],
            "no messageStop",
        ),
    ],
)
def test_broken_streams_are_reported(fmt: ProviderFormat, data: bytes, message: str) -> None:
    with pytest.raises(ContractViolation, match=re.escape(message)):
        _read(fmt, data)


def test_converse_exception_and_corrupt_frames_are_reported() -> None:
    throttled = encode_event(
        "throttlingException", b'{"message":"slow down"}', message_type="exception"
    )
    with pytest.raises(ContractViolation, match="carried throttlingException"):
        _read(ProviderFormat.CONVERSE, encode_event("messageStart", b"{}") + throttled)

    corrupt = bytearray(_converse())
    corrupt[20] ^= 0xFF
    with pytest.raises(ContractViolation, match="corrupt event-stream frame"):
        _read(ProviderFormat.CONVERSE, bytes(corrupt))


@pytest.mark.parametrize(
    ("fmt", "body", "headers", "kind"),
    [
        (ProviderFormat.OPENAI, {"error": {"message": "m", "type": "t", "code": "c"}}, {}, "c"),
        (ProviderFormat.RESPONSES, {"error": {"message": "m", "type": "t"}}, {}, "t"),
        (
            ProviderFormat.ANTHROPIC,
            {"type": "error", "error": {"type": "rate_limit_error", "message": "m"}},
            {},
            "rate_limit_error",
        ),
        (
            ProviderFormat.GOOGLE,
            {"error": {"code": 429, "message": "m", "status": "RESOURCE_EXHAUSTED"}},
            {},
            "RESOURCE_EXHAUSTED",
        ),
        (
            ProviderFormat.CONVERSE,
            {"message": "m"},
            {"x-amzn-errortype": "ThrottlingException:http://internal.amazon.com/"},
            "ThrottlingException",
        ),
        (
            ProviderFormat.CONVERSE,
            {"message": "m", "__type": "com.amazon#ValidationException"},
            {},
            "ValidationException",
        ),
        (
            ProviderFormat.MISTRAL,
            {"object": "error", "message": "m", "type": "rate_limited"},
            {},
            "rate_limited",
        ),
        (ProviderFormat.MISTRAL, {"detail": [{"msg": "bad"}]}, {}, "validation_error"),
    ],
)
def test_error_bodies_in_each_format_are_read(
    fmt: ProviderFormat, body: object, headers: dict[str, str], kind: str
) -> None:
    assert dialect_for(fmt).read_error(body, headers).kind == kind


@pytest.mark.parametrize(
    ("fmt", "body", "message"),
    [
        (ProviderFormat.ANTHROPIC, {"error": {"message": "m"}}, "expected Anthropic's"),
        (ProviderFormat.GOOGLE, {"error": {"message": "m"}}, "expected Google's"),
        (ProviderFormat.CONVERSE, {"message": "m"}, "without an x-amzn-ErrorType header"),
        (ProviderFormat.MISTRAL, {"error": {"message": "m"}}, "expected Mistral's"),
        (ProviderFormat.OPENAI, {"type": "error"}, "error body .error is missing"),
    ],
)
def test_error_bodies_in_another_format_are_violations(
    fmt: ProviderFormat, body: object, message: str
) -> None:
    with pytest.raises(ContractViolation, match=message):
        dialect_for(fmt).read_error(body, {})


def test_table_has_one_row_per_result_and_lists_failures_in_full() -> None:
    long_detail = "expected the fake's echo " + "x" * 200
    report = ContractReport(
        (
            CheckResult(ProviderFormat.OPENAI, "sync_text", Verdict.PASS, "200, 'ok'", 0.012),
            CheckResult(ProviderFormat.GOOGLE, "sync_text", Verdict.FAIL, long_detail, 1.5),
            CheckResult(ProviderFormat.GOOGLE, "disconnect", Verdict.SKIP, "needs --fake-url", 0.0),
        )
    )

    lines = render_table(report).splitlines()

    assert lines[0].split() == ["name", "result", "detail", "time"]
    assert lines[2].split() == ["openai/sync_text", "PASS", "200,", "'ok'", "0.01s"]
    assert lines[3].startswith("google/sync_text   FAIL    expected the fake's echo xxx")
    assert lines[3].endswith("...  1.50s")
    assert f"  google/sync_text: {long_detail}" in lines
    assert lines[-1] == "1 passed, 1 failed, 1 skipped: FAILED"
