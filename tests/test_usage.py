"""`Catalog.cost` over every format's native usage object, and the usage readers behind it.

Expected dollars are computed by hand from the bundled catalog's prices (per million tokens),
which each test asserts first so that a price change shows up as such.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llm_router.catalog import Catalog
from llm_router.errors import InvalidUsageError
from llm_router.types import ProviderFormat, StreamEvent
from llm_router.universal import Usage
from llm_router.usage import UsageMeter, parse_usage, usage_in_event


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.default()


def _prices(catalog: Catalog, model: str) -> tuple[Any, ...]:
    spec = catalog.get(model)
    return (
        spec.input_cost_per_mil_tokens,
        spec.output_cost_per_mil_tokens,
        spec.cache_read_cost_per_mil_tokens,
        spec.cache_write_cost_per_mil_tokens,
    )


def test_openai_chat_usage_as_the_api_sends_it(catalog: Catalog) -> None:
    assert _prices(catalog, "gpt-4o") == (2.5, 10, 1.25, None)
    plain = {"prompt_tokens": 1200, "completion_tokens": 300}
    assert catalog.cost("gpt-4o", plain) == pytest.approx((1200 * 2.5 + 300 * 10) / 1e6)
    detailed = {
        "prompt_tokens": 1200,
        "completion_tokens": 300,
        "total_tokens": 1500,
        "prompt_tokens_details": {"cached_tokens": 200, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 100, "audio_tokens": 0},
    }
    # 1000 uncached at 2.50, 200 cached at 1.25, 300 output (reasoning included) at 10.
    expected = (1000 * 2.5 + 200 * 1.25 + 300 * 10) / 1e6
    assert catalog.cost("gpt-4o", detailed) == pytest.approx(expected)
    assert parse_usage(detailed).reasoning_tokens == 100


def test_responses_usage(catalog: Catalog) -> None:
    assert _prices(catalog, "o3-mini") == (1.1, 4.4, 0.55, None)
    usage = {
        "input_tokens": 2000,
        "input_tokens_details": {"cached_tokens": 1000},
        "output_tokens": 500,
        "output_tokens_details": {"reasoning_tokens": 400},
        "total_tokens": 2500,
    }
    expected = (1000 * 1.1 + 1000 * 0.55 + 500 * 4.4) / 1e6
    assert catalog.cost("o3-mini", usage) == pytest.approx(expected)


def test_anthropic_usage_with_both_cache_keys(catalog: Catalog) -> None:
    assert _prices(catalog, "claude-sonnet-4-5") == (3, 15, 0.3, 3.75)
    # Anthropic's input_tokens counts only the uncached part.
    usage = {
        "input_tokens": 100,
        "cache_creation_input_tokens": 2000,
        "cache_read_input_tokens": 10_000,
        "output_tokens": 500,
        "service_tier": "standard",
    }
    expected = (100 * 3 + 2000 * 3.75 + 10_000 * 0.3 + 500 * 15) / 1e6
    assert catalog.cost("claude-sonnet-4-5", usage) == pytest.approx(expected)
    assert parse_usage(usage).input_tokens == 12_100


def test_gemini_usage_metadata(catalog: Catalog) -> None:
    assert _prices(catalog, "gemini-2.5-flash") == (0.3, 2.5, 0.03, None)
    usage = {
        "promptTokenCount": 1000,
        "cachedContentTokenCount": 400,
        "candidatesTokenCount": 200,
        "thoughtsTokenCount": 300,
        "totalTokenCount": 1500,
    }
    # Gemini's prompt count includes the cached part; thoughts are billed as output.
    expected = (600 * 0.3 + 400 * 0.03 + (200 + 300) * 2.5) / 1e6
    assert catalog.cost("gemini-2.5-flash", usage) == pytest.approx(expected)


def test_converse_usage(catalog: Catalog) -> None:
    assert _prices(catalog, "amazon.nova-pro-v1:0") == (0.8, 3.2, None, None)
    plain = {"inputTokens": 1000, "outputTokens": 200, "totalTokens": 1200}
    assert catalog.cost("amazon.nova-pro-v1:0", plain) == pytest.approx((800 + 640) / 1e6)
    cached = {
        "inputTokens": 100,
        "cacheReadInputTokens": 10_000,
        "cacheWriteInputTokens": 2000,
        "outputTokens": 500,
        "totalTokens": 12_600,
    }
    expected = (100 * 3 + 2000 * 3.75 + 10_000 * 0.3 + 500 * 15) / 1e6
    assert catalog.cost("claude-sonnet-4-5", cached) == pytest.approx(expected)


def test_mistral_usage(catalog: Catalog) -> None:
    assert _prices(catalog, "mistral-large-latest") == (0.5, 1.5, None, None)
    usage = {"prompt_tokens": 1000, "completion_tokens": 200, "total_tokens": 1200}
    assert catalog.cost("mistral-large-latest", usage) == pytest.approx((500 + 300) / 1e6)


def test_a_cached_universal_usage_is_not_billed_twice(catalog: Catalog) -> None:
    usage = Usage(
        input_tokens=13_000, output_tokens=500, cache_read_tokens=10_000, cache_write_tokens=2000
    )
    expected = (1000 * 3 + 10_000 * 0.3 + 2000 * 3.75 + 500 * 15) / 1e6
    assert catalog.cost("claude-sonnet-4-5", usage) == pytest.approx(expected)


def test_an_sdk_usage_object_is_read() -> None:
    openai_types = pytest.importorskip("openai.types")
    sdk = openai_types.CompletionUsage(prompt_tokens=10, completion_tokens=5, total_tokens=15)
    assert parse_usage(sdk) == Usage(input_tokens=10, output_tokens=5, total_tokens=15)


@pytest.mark.parametrize(
    ("usage", "named"),
    [
        ({"prompt_tokens": 1200, "completion_token": 300}, "completion_token"),
        ({"input_tokens": 1, "outptu_tokens": 2}, "outptu_tokens"),
        ({"promptTokenCount": 1, "candidateTokenCount": 2}, "candidateTokenCount"),
        ({"tokens": 5}, "tokens"),
    ],
)
def test_unknown_keys_are_named_never_priced_as_zero(
    catalog: Catalog, usage: dict[str, int], named: str
) -> None:
    with pytest.raises(InvalidUsageError, match=named) as caught:
        catalog.cost("gpt-4o", usage)
    assert named in caught.value.keys


def test_input_tokens_below_the_cache_counts_is_refused(catalog: Catalog) -> None:
    with pytest.raises(InvalidUsageError, match="counts all prompt tokens"):
        catalog.cost("gpt-4o", Usage(input_tokens=10, cache_read_tokens=100))


def test_an_object_without_usage_fields_is_refused(catalog: Catalog) -> None:
    with pytest.raises(InvalidUsageError, match="got int"):
        catalog.cost("gpt-4o", 5)


# -- streams ------------------------------------------------------------------------------------

STREAM_USAGE = [
    (
        ProviderFormat.OPENAI,
        [StreamEvent(None, b'{"choices":[],"usage":{"prompt_tokens":9,"completion_tokens":4}}')],
        Usage(input_tokens=9, output_tokens=4),
    ),
    (
        ProviderFormat.ANTHROPIC,
        [
            StreamEvent(
                "message_start",
                b'{"type":"message_start","message":{"usage":{"input_tokens":5,'
                b'"cache_read_input_tokens":10,"output_tokens":1}}}',
            ),
            StreamEvent("ping", b'{"type":"ping"}'),
            StreamEvent("message_delta", b'{"type":"message_delta","usage":{"output_tokens":7}}'),
        ],
        Usage(input_tokens=15, output_tokens=7, cache_read_tokens=10),
    ),
    (
        ProviderFormat.RESPONSES,
        [
            StreamEvent(
                "response.completed",
                b'{"type":"response.completed","response":{"usage":{"input_tokens":3,'
                b'"output_tokens":2,"total_tokens":5}}}',
            )
        ],
        Usage(input_tokens=3, output_tokens=2, total_tokens=5),
    ),
    (
        ProviderFormat.GOOGLE,
        [StreamEvent(None, b'{"usageMetadata":{"promptTokenCount":4,"candidatesTokenCount":6}}')],
        Usage(input_tokens=4, output_tokens=6),
    ),
    (
        ProviderFormat.CONVERSE,
        [StreamEvent("metadata", b'{"usage":{"inputTokens":2,"outputTokens":3}}')],
        Usage(input_tokens=2, output_tokens=3),
    ),
]


@pytest.mark.parametrize(("fmt", "events", "expected"), STREAM_USAGE)
def test_stream_usage_is_read_from_each_format(
    fmt: ProviderFormat, events: list[StreamEvent], expected: Usage
) -> None:
    meter = UsageMeter(fmt)
    for event in events:
        meter.observe(event)
    assert meter.usage == expected


@given(st.binary(max_size=200))
def test_no_event_breaks_the_meter(data: bytes) -> None:
    for fmt in ProviderFormat:
        event = StreamEvent("metadata", b'{"usage":' + data)
        assert usage_in_event(fmt, event) is None or isinstance(usage_in_event(fmt, event), Usage)


_COUNTS = st.integers(0, 10**7)


@given(fresh=_COUNTS, read=_COUNTS, write=_COUNTS, out=_COUNTS)
def test_native_and_universal_usage_cost_the_same(
    fresh: int, read: int, write: int, out: int
) -> None:
    catalog = Catalog.default()
    universal = Usage(
        input_tokens=fresh + read + write,
        output_tokens=out,
        cache_read_tokens=read,
        cache_write_tokens=write,
    )
    anthropic = {
        "input_tokens": fresh,
        "cache_read_input_tokens": read,
        "cache_creation_input_tokens": write,
        "output_tokens": out,
    }
    converse = {
        "inputTokens": fresh,
        "cacheReadInputTokens": read,
        "cacheWriteInputTokens": write,
        "outputTokens": out,
    }
    expected = (fresh * 3 + read * 0.3 + write * 3.75 + out * 15) / 1e6
    for usage in (universal, anthropic, converse):
        assert catalog.cost("claude-sonnet-4-5", usage) == pytest.approx(expected, abs=1e-12)
