"""The realtime usage meter and pricing (`llm_router.realtime.usage`), sans-IO: frames in.

Each protocol's usage shape (OpenAI Realtime `response.done`, Responses WebSocket mode
`response.completed`, Gemini Live `usageMetadata`), a property test of the accumulator, and
malformed reports: never a crash, the usage marked partial with the reason, the cost None.
"""

from __future__ import annotations

import math
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from llm_router.catalog import Catalog, ModelSpec
from llm_router.realtime import RealtimeFormat
from llm_router.realtime.usage import RealtimeUsage, UsageMeter, price
from llm_router.types import ProviderFormat

REALTIME = Catalog.default().get("gpt-realtime")  # text 4/16, cached 0.4, audio 32/64 per M
TEXT_ONLY = ModelSpec(
    "text-only",
    ProviderFormat.OPENAI,
    flavor="realtime",
    input_cost_per_mil_tokens=1.0,
    output_cost_per_mil_tokens=2.0,
)


def _openai_done(usage: Any, rid: str = "resp_1") -> bytes:
    return orjson.dumps({"type": "response.done", "response": {"id": rid, "usage": usage}})


def _openai_usage(
    text_in: int, audio_in: int, text_out: int, audio_out: int, cached_text: int = 0
) -> dict[str, Any]:
    return {
        "total_tokens": text_in + audio_in + text_out + audio_out,
        "input_tokens": text_in + audio_in,
        "output_tokens": text_out + audio_out,
        "input_token_details": {
            "text_tokens": text_in,
            "audio_tokens": audio_in,
            "cached_tokens": cached_text,
            "cached_tokens_details": {"text_tokens": cached_text, "audio_tokens": 0},
        },
        "output_token_details": {"text_tokens": text_out, "audio_tokens": audio_out},
    }


def _meter(protocol: RealtimeFormat, *frames: str | bytes) -> UsageMeter:
    meter = UsageMeter(protocol)
    for frame in frames:
        meter.feed(frame)
    return meter


def test_openai_realtime_response_done_text_audio_and_cached() -> None:
    meter = _meter(
        RealtimeFormat.OPENAI_REALTIME,
        '{"type":"session.created","session":{}}',
        '{"type":"response.output_audio.delta","delta":"AAAA"}',
        _openai_done(_openai_usage(100, 40, 10, 200, cached_text=64), "resp_a").decode(),
        _openai_done(_openai_usage(150, 40, 5, 0), "resp_b"),
    )
    usage = meter.usage
    assert [r.response_id for r in usage.responses] == ["resp_a", "resp_b"]
    assert (usage.input_text_tokens, usage.input_audio_tokens) == (250, 80)
    assert (usage.output_text_tokens, usage.output_audio_tokens) == (15, 200)
    assert usage.cached_text_tokens == 64 and not usage.partial
    assert usage.total_tokens == 250 + 80 + 15 + 200
    cost = price(usage, REALTIME, "gpt-realtime")
    expected = ((250 - 64) * 4.0 + 64 * 0.4 + 80 * 32.0 + 15 * 16.0 + 200 * 64.0) / 1e6
    assert cost.reason is None and cost.dollars == pytest.approx(expected)
    assert usage.to_usage().total == usage.total_tokens


def test_responses_ws_completed_with_cached_and_reasoning() -> None:
    done = {
        "type": "response.completed",
        "response": {
            "id": "resp_1",
            "usage": {
                "input_tokens": 30,
                "input_tokens_details": {"cached_tokens": 10},
                "output_tokens": 12,
                "output_tokens_details": {"reasoning_tokens": 4},
                "total_tokens": 42,
            },
        },
    }
    noise = '{"type":"response.output_text.delta","delta":"hi"}'
    usage = _meter(RealtimeFormat.RESPONSES_WS, noise, orjson.dumps(done)).usage
    assert (usage.input_text_tokens, usage.cached_text_tokens) == (30, 10)
    assert (usage.output_text_tokens, usage.reasoning_tokens) == (12, 4)
    spec = Catalog.default().get("gpt-4.1-mini")
    assert price(usage, spec, "gpt-4.1-mini").dollars == pytest.approx(
        (20 * 0.4 + 10 * 0.1 + 12 * 1.6) / 1e6
    )


def test_gemini_live_modalities_and_last_report_of_a_turn() -> None:
    early = {"usageMetadata": {"promptTokenCount": 5, "responseTokenCount": 1}}
    final = {
        "serverContent": {"turnComplete": True},
        "usageMetadata": {
            "promptTokenCount": 90,
            "responseTokenCount": 60,
            "thoughtsTokenCount": 7,
            "totalTokenCount": 157,
            "promptTokensDetails": [
                {"modality": "TEXT", "tokenCount": 10},
                {"modality": "AUDIO", "tokenCount": 80},
            ],
            "responseTokensDetails": [{"modality": "AUDIO", "tokenCount": 60}],
        },
    }
    meter = _meter(
        RealtimeFormat.GEMINI_LIVE,
        b'{"serverContent":{"modelTurn":{"parts":[{"text":"x"}]}}}',
        orjson.dumps(early),
        orjson.dumps(final),
    )
    usage = meter.usage
    assert len(usage.responses) == 1  # the turn's last report replaced the earlier one
    assert (usage.input_text_tokens, usage.input_audio_tokens) == (10, 80)
    assert (usage.output_audio_tokens, usage.output_text_tokens) == (60, 7)
    assert usage.reasoning_tokens == 7
    spec = Catalog.default().get("gemini-2.5-flash-native-audio-preview-09-2025")
    assert price(usage, spec, spec.name).dollars == pytest.approx(
        (10 * 0.5 + 80 * 3.0 + 7 * 2.0 + 60 * 12.0) / 1e6
    )


def test_gemini_snake_case_and_unreported_modality_is_not_priced() -> None:
    frame = {"server_content": {"turn_complete": True}, "usage_metadata": {"prompt_token_count": 9}}
    usage = _meter(RealtimeFormat.GEMINI_LIVE, orjson.dumps(frame)).usage
    assert usage.input_other_tokens == 9 and not usage.partial
    cost = price(usage, REALTIME, "gpt-realtime")
    assert cost.dollars is None and cost.reason is not None and "did not report" in cost.reason


def test_audio_on_a_model_without_an_audio_price_is_unknown_not_text_priced() -> None:
    usage = _meter(RealtimeFormat.OPENAI_REALTIME, _openai_done(_openai_usage(10, 5, 3, 0))).usage
    cost = price(usage, TEXT_ONLY, "text-only")
    assert cost.dollars is None
    assert cost.reason is not None and "input_audio_cost_per_mil_tokens" in cost.reason
    text = _meter(RealtimeFormat.OPENAI_REALTIME, _openai_done(_openai_usage(10, 0, 3, 0))).usage
    assert price(text, TEXT_ONLY, "text-only").dollars == pytest.approx((10 + 6) / 1e6)


def test_unknown_model_and_no_usage_at_all() -> None:
    usage = _meter(RealtimeFormat.OPENAI_REALTIME, _openai_done(_openai_usage(1, 0, 1, 0))).usage
    assert (
        price(usage, None, "mystery").reason
        == "model 'mystery' is not in the catalog: no price is known"
    )
    turns = _meter(RealtimeFormat.GEMINI_LIVE, b'{"serverContent":{"turnComplete":true}}').usage
    assert turns.partial and "without any usageMetadata" in turns.problems[0]
    assert price(turns, REALTIME, "gpt-realtime").dollars is None


MALFORMED: list[Any] = [
    {"input_tokens": -3, "output_tokens": 1},
    {"input_tokens": "12", "output_tokens": 1},
    {"input_tokens": True, "output_tokens": 1},
    {"input_tokens": 1.5, "output_tokens": 1},
    {"output_tokens": 1},
    {"input_tokens": 1, "output_tokens": 1, "input_token_details": []},
    {"input_tokens": 1, "output_tokens": 1, "input_token_details": {"text_tokens": 5}},
    {"input_tokens": 4, "output_tokens": 1, "input_token_details": {"text_tokens": 2,
                                                                     "audio_tokens": 2,
                                                                     "cached_tokens": 2}},
    {"input_tokens": 1, "output_tokens": {"a": 1}},
    "usage",
    [1, 2],
    None,
]  # fmt: skip


@pytest.mark.parametrize("bad", MALFORMED, ids=range(len(MALFORMED)))
def test_malformed_openai_usage_is_partial_with_a_reason_and_no_cost(bad: Any) -> None:
    good = _openai_done(_openai_usage(10, 0, 2, 0), "resp_good")
    usage = _meter(RealtimeFormat.OPENAI_REALTIME, good, _openai_done(bad, "resp_bad")).usage
    assert usage.partial and "resp_bad" in usage.problems[0]
    assert usage.input_text_tokens == 10  # the good report still counts
    cost = price(usage, REALTIME, "gpt-realtime")
    assert cost.dollars is None and cost.reason is not None and "partial" in cost.reason


@pytest.mark.parametrize(
    "bad",
    [
        {"promptTokenCount": -1},
        {"promptTokenCount": "3"},
        {"promptTokensDetails": {"modality": "TEXT"}},
        {"promptTokenCount": 2, "promptTokensDetails": [{"modality": 3, "tokenCount": 1}]},
        {"promptTokenCount": 2, "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 9}]},
        {"responseTokenCount": 1, "responseTokensDetails": [{"modality": "TEXT"}]},
        "nope",
    ],
)
def test_malformed_gemini_usage_is_partial(bad: Any) -> None:
    frame = orjson.dumps({"serverContent": {"turnComplete": True}, "usageMetadata": bad})
    usage = _meter(RealtimeFormat.GEMINI_LIVE, frame).usage
    assert usage.partial and "malformed usageMetadata" in usage.problems[0]
    assert price(usage, REALTIME, "gpt-realtime").dollars is None


@pytest.mark.parametrize(
    "frame",
    [b"not json", b'"response.done"', b'[{"type":"response.done"}]', b"\xff\xfe", '{"type": 1}'],
)
def test_frames_that_are_not_usage_are_ignored(frame: str | bytes) -> None:
    for protocol in RealtimeFormat:
        usage = _meter(protocol, frame).usage
        assert usage == RealtimeUsage()


def test_a_response_done_without_usage_is_partial() -> None:
    frame = orjson.dumps({"type": "response.done", "response": {"id": "r9", "usage": None}})
    usage = _meter(RealtimeFormat.OPENAI_REALTIME, frame).usage
    assert usage.problems == ("r9 reported no usage",)


_counts = st.integers(min_value=0, max_value=10**7)
_report = st.tuples(_counts, _counts, _counts, _counts, _counts).map(
    lambda t: (t[0], t[1], t[2], t[3], min(t[4], t[0]))
)


@given(
    reports=st.lists(st.one_of(_report, st.just(None)), max_size=12),
    noise=st.lists(st.sampled_from(["{}", '{"type":"response.created"}', "x"]), max_size=3),
)
def test_accumulator_sums_every_response_and_prices_additively(
    reports: list[tuple[int, int, int, int, int] | None], noise: list[str]
) -> None:
    meter = UsageMeter(RealtimeFormat.OPENAI_REALTIME)
    for index, report in enumerate(reports):
        for frame in noise:
            meter.feed(frame)
        body: Any = {"input_tokens": -1} if report is None else _openai_usage(*report)
        meter.feed(_openai_done(body, f"resp_{index}"))
    usage = meter.usage
    good = [r for r in reports if r is not None]
    assert len(usage.responses) == len(reports)
    assert usage.input_text_tokens == sum(r[0] for r in good)
    assert usage.input_audio_tokens == sum(r[1] for r in good)
    assert usage.output_text_tokens == sum(r[2] for r in good)
    assert usage.output_audio_tokens == sum(r[3] for r in good)
    assert usage.cached_text_tokens == sum(r[4] for r in good)
    assert usage.partial == (len(good) != len(reports))
    assert len(usage.problems) == len(reports) - len(good)
    cost = price(usage, REALTIME, "gpt-realtime")
    if usage.partial:
        assert cost.dollars is None and cost.reason
        return
    each = [price(r, REALTIME, "gpt-realtime").dollars for r in usage.responses]
    assert cost.dollars is not None and all(d is not None for d in each)
    assert math.isclose(
        cost.dollars, sum(d for d in each if d is not None), rel_tol=1e-9, abs_tol=1e-12
    )
    assert cost.dollars >= 0 and (cost.dollars > 0) == (usage.total_tokens > 0)


@given(
    turns=st.lists(
        st.lists(st.tuples(_counts, _counts, _counts), min_size=0, max_size=3), max_size=6
    )
)
def test_gemini_accumulator_counts_each_turns_last_report(
    turns: list[list[tuple[int, int, int]]],
) -> None:
    meter = UsageMeter(RealtimeFormat.GEMINI_LIVE)
    for reports in turns:
        for text, audio, out in reports:
            details = [
                {"modality": "TEXT", "tokenCount": text},
                {"modality": "AUDIO", "tokenCount": audio},
            ]
            meta = {
                "promptTokenCount": text + audio,
                "responseTokenCount": out,
                "promptTokensDetails": details,
                "responseTokensDetails": [{"modality": "TEXT", "tokenCount": out}],
            }
            meter.feed(orjson.dumps({"usageMetadata": meta}))
        meter.feed(b'{"serverContent":{"turnComplete":true}}')
    usage = meter.usage
    last = [reports[-1] for reports in turns if reports]
    assert len(usage.responses) == len(last)
    assert usage.input_text_tokens == sum(t for t, _, _ in last)
    assert usage.input_audio_tokens == sum(a for _, a, _ in last)
    assert usage.output_text_tokens == sum(o for _, _, o in last)
    assert usage.partial == (bool(turns) and not last)


def test_a_response_cut_short_by_the_end_of_the_socket_makes_the_usage_partial() -> None:
    created = b'{"type":"response.created","response":{"id":"resp_cut"}}'
    meter = _meter(RealtimeFormat.OPENAI_REALTIME, _openai_done(_openai_usage(4, 0, 2, 0)), created)
    assert not meter.usage.partial  # under way: not a problem yet
    meter.finish()
    usage = meter.usage
    assert usage.problems == ("response(s) resp_cut ended without reporting usage",)
    assert usage.input_text_tokens == 4 and price(usage, REALTIME, "gpt-realtime").dollars is None
    turn = _meter(RealtimeFormat.GEMINI_LIVE, b'{"serverContent":{"modelTurn":{"parts":[]}}}')
    turn.finish()
    assert turn.usage.problems == ("turn 1 ended without usageMetadata",)
    done = _meter(
        RealtimeFormat.OPENAI_REALTIME, created, _openai_done(_openai_usage(1, 0, 1, 0), "resp_cut")
    )
    done.finish()
    assert not done.usage.partial
