"""Tests for llm_router.catalog: loading, validation, name resolution, filtering and cost."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llm_router.catalog import Catalog, ModelSpec, strip_date_suffix
from llm_router.errors import ConfigurationError, InvalidUsageError, ModelNotFoundError
from llm_router.types import ProviderFormat

SAMPLE: dict[str, dict[str, Any]] = {
    "claude-sonnet-4-5": {
        "format": "anthropic",
        "flavor": "chat",
        "available_providers": ["anthropic"],
        "input_cost_per_mil_tokens": 3,
        "output_cost_per_mil_tokens": 15,
        "input_cache_read_cost_per_mil_tokens": 0.3,
        "input_cache_write_cost_per_mil_tokens": 3.75,
        "max_input_tokens": 200000,
        "max_output_tokens": 64000,
        "displayName": "Claude Sonnet 4.5",
        "reasoning": True,
        "multimodal": True,
        "deprecation_date": "2026-09-29",
        "fallback_models": [
            "anthropic.claude-sonnet-4-5-20250929-v1:0",
            "missing-model",
            "anthropic.claude-sonnet-4-5-20250929-v1:0",
            "claude-sonnet-4-5",
        ],
    },
    "claude-sonnet-4-5-20250929": {
        "format": "anthropic",
        "available_providers": ["anthropic"],
        "input_cost_per_mil_tokens": 3,
        "output_cost_per_mil_tokens": 15,
        "parent": "claude-sonnet-4-5",
    },
    "anthropic.claude-sonnet-4-5-20250929-v1:0": {
        "format": "anthropic",
        "available_providers": ["bedrock"],
        "input_cost_per_mil_tokens": 3.3,
        "output_cost_per_mil_tokens": 16.5,
    },
    "gpt-4o": {
        "format": "openai",
        "available_providers": ["openai", "azure"],
        "input_cost_per_mil_tokens": 2.5,
        "output_cost_per_mil_tokens": 10,
        "input_cache_read_cost_per_mil_tokens": 1.25,
        "multimodal": True,
        "region_hint": "us",
    },
    "o3-pro": {
        "format": "responses",
        "available_providers": ["openai"],
        "input_cost_per_mil_tokens": 20,
        "output_cost_per_mil_tokens": 80,
        "reasoning": True,
    },
    "gemini-2.5-flash": {
        "format": "google",
        "available_providers": ["google", "vertex"],
        "input_cost_per_mil_tokens": 0.3,
        "output_cost_per_mil_tokens": 2.5,
        "reasoning": True,
        "multimodal": True,
    },
    "amazon.nova-pro-v1:0": {
        "format": "converse",
        "available_providers": ["bedrock"],
        "input_cost_per_mil_tokens": 0.8,
        "output_cost_per_mil_tokens": 3.2,
    },
    "mistral-large-latest": {
        "format": "mistral",
        "available_providers": ["mistral"],
        "input_cost_per_mil_tokens": 0.5,
        "output_cost_per_mil_tokens": 1.5,
    },
    "ft:gpt-4o-2024-08-06": {
        "format": "openai",
        "available_providers": ["openai"],
        "input_cost_per_mil_tokens": 3.75,
        "output_cost_per_mil_tokens": 15,
    },
    "mystery-model": {"format": "openai", "available_providers": ["together"]},
}


@pytest.fixture
def catalog() -> Catalog:
    return Catalog.from_mapping(SAMPLE)


# -- the bundled catalog ------------------------------------------------------------------------

FIRST_PARTY_AND_HOSTS = {
    "openai",
    "azure",
    "anthropic",
    "google",
    "vertex",
    "bedrock",
    "mistral",
    "together",
    "groq",
    "fireworks",
    "perplexity",
    "xai",
    "cerebras",
    "openrouter",
    "databricks",
}


def test_default_catalog_is_large_and_covers_every_format_and_provider() -> None:
    catalog = Catalog.default()
    assert len(catalog) >= 300
    assert {spec.format for spec in catalog} == set(ProviderFormat)
    assert catalog.providers() >= FIRST_PARTY_AND_HOSTS
    assert all(
        spec.flavor in ("chat", "embedding", "realtime") and spec.available_providers
        for spec in catalog
    )
    assert len(catalog.filter(flavor="embedding")) >= 10


def test_default_catalog_flags_realtime_models_with_their_audio_prices() -> None:
    catalog = Catalog.default()
    realtime = {spec.name for spec in catalog.filter(flavor="realtime")}
    assert {
        "gpt-realtime",
        "gpt-realtime-mini",
        "gpt-4o-realtime-preview",
        "gpt-4o-mini-realtime-preview",
        "gemini-2.0-flash-live-001",
        "gemini-live-2.5-flash-preview",
        "gemini-2.5-flash-native-audio-preview-09-2025",
    } <= realtime
    spec = catalog.get("gpt-realtime-2025-08-28")  # a dated snapshot, with its parent
    assert spec.realtime and spec.parent == "gpt-realtime"
    assert (spec.input_cost_per_mil_tokens, spec.output_cost_per_mil_tokens) == (4.0, 16.0)
    assert spec.input_audio_cost_per_mil_tokens == 32.0
    assert spec.output_audio_cost_per_mil_tokens == 64.0
    assert spec.audio_cache_read_cost_per_mil_tokens == 0.4
    native = catalog.get("gemini-2.5-flash-native-audio-preview-09-2025")
    assert native.provider_models["vertex"] == (
        "gemini-live-2.5-flash-preview-native-audio-09-2025",
    )
    assert not catalog.get("gpt-4o").realtime


def test_default_catalog_is_loaded_once() -> None:
    assert Catalog.default() is Catalog.default()


def test_default_catalog_references_are_consistent() -> None:
    catalog = Catalog.default()
    names = set(catalog.names())
    for spec in catalog:
        assert spec.parent is None or spec.parent in names, spec.name
        assert set(spec.fallback_models) <= names, spec.name
        assert spec.name not in spec.fallback_models


@pytest.mark.parametrize(
    ("name", "fmt", "provider"),
    [
        ("claude-sonnet-4-5", ProviderFormat.ANTHROPIC, "anthropic"),
        ("gpt-4o", ProviderFormat.OPENAI, "openai"),
        ("gpt-5-pro", ProviderFormat.RESPONSES, "openai"),
        ("gemini-2.5-flash", ProviderFormat.GOOGLE, "google"),
        ("amazon.nova-pro-v1:0", ProviderFormat.CONVERSE, "bedrock"),
        ("meta.llama3-3-70b-instruct-v1:0", ProviderFormat.CONVERSE, "bedrock"),
        ("anthropic.claude-sonnet-4-5-20250929-v1:0", ProviderFormat.ANTHROPIC, "bedrock"),
        ("mistral-large-latest", ProviderFormat.MISTRAL, "mistral"),
        ("grok-4", ProviderFormat.OPENAI, "xai"),
    ],
)
def test_default_catalog_formats(name: str, fmt: ProviderFormat, provider: str) -> None:
    spec = Catalog.default().get(name)
    assert spec.format is fmt
    assert provider in spec.available_providers


def test_default_catalog_dated_snapshot_has_parent() -> None:
    spec = Catalog.default().get("claude-sonnet-4-5-20250929")
    assert spec.name == "claude-sonnet-4-5-20250929"
    assert spec.parent == "claude-sonnet-4-5"


def test_default_catalog_excludes_models_of_other_endpoints() -> None:
    catalog = Catalog.default()
    for name in ("dall-e-3", "whisper-1", "tts-1", "gpt-image-1"):
        assert catalog.find(name) is None
    assert catalog.get("text-embedding-3-small").flavor == "embedding"


# -- spec parsing -------------------------------------------------------------------------------


def test_spec_fields_are_parsed(catalog: Catalog) -> None:
    spec = catalog.get("claude-sonnet-4-5")
    assert spec == ModelSpec(
        name="claude-sonnet-4-5",
        format=ProviderFormat.ANTHROPIC,
        flavor="chat",
        available_providers=("anthropic",),
        input_cost_per_mil_tokens=3.0,
        output_cost_per_mil_tokens=15.0,
        cache_read_cost_per_mil_tokens=0.3,
        cache_write_cost_per_mil_tokens=3.75,
        max_input_tokens=200000,
        max_output_tokens=64000,
        display_name="Claude Sonnet 4.5",
        parent=None,
        fallback_models=tuple(SAMPLE["claude-sonnet-4-5"]["fallback_models"]),
        reasoning=True,
        multimodal=True,
        deprecation_date=datetime.date(2026, 9, 29),
    )


def test_missing_optional_fields_take_defaults(catalog: Catalog) -> None:
    spec = catalog.get("mystery-model")
    assert spec.flavor == "chat"
    assert spec.input_cost_per_mil_tokens is None
    assert spec.max_output_tokens is None
    assert (spec.reasoning, spec.multimodal) == (False, False)
    assert spec.fallback_models == ()
    assert spec.extra == {}


def test_unknown_fields_are_kept_in_extra(catalog: Catalog) -> None:
    assert catalog.get("gpt-4o").extra == {"region_hint": "us"}


def test_spec_is_frozen_and_hashable(catalog: Catalog) -> None:
    spec = catalog.get("gpt-4o")
    with pytest.raises(AttributeError):
        spec.name = "other"  # type: ignore[misc]
    assert {spec, catalog.get("gpt-4o")} == {spec}


# -- lookup -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("requested", "resolved"),
    [
        ("gpt-4o", "gpt-4o"),
        # exact dated entries win over their parent
        ("claude-sonnet-4-5-20250929", "claude-sonnet-4-5-20250929"),
        # unknown snapshots fall back to the undated alias
        ("claude-sonnet-4-5-20991231", "claude-sonnet-4-5"),
        ("gpt-4o-2099-01-01", "gpt-4o"),
        ("gpt-4o-0613", "gpt-4o"),
        ("claude-sonnet-4-5@20250929", "claude-sonnet-4-5"),
        # provider prefixes
        ("openai/gpt-4o", "gpt-4o"),
        ("anthropic/claude-sonnet-4-5-20991231", "claude-sonnet-4-5"),
        # Bedrock ids: geo prefix, vendor prefix, version suffix
        (
            "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
            "anthropic.claude-sonnet-4-5-20250929-v1:0",
        ),
        ("us.amazon.nova-pro-v1:0", "amazon.nova-pro-v1:0"),
        ("anthropic.claude-sonnet-4-5-20991231-v1:0", "claude-sonnet-4-5"),
        # fine-tuned ids price like their ft: base entry
        ("ft:gpt-4o-2024-08-06:acme::abc123", "ft:gpt-4o-2024-08-06"),
    ],
)
def test_get_resolves_aliases(catalog: Catalog, requested: str, resolved: str) -> None:
    assert catalog.get(requested).name == resolved
    assert requested in catalog


@pytest.mark.parametrize(
    "name",
    [
        "gpt-4o-mini",  # not a date suffix: a different model
        "unknown/gpt-4o",  # prefix that is no provider alias
        "mistral-large-2411",  # YYMM release, not a date
        "us.unknownvendor.nova-pro-v1:0",
        "",
    ],
)
def test_find_returns_none_for_unknown_models(catalog: Catalog, name: str) -> None:
    assert catalog.find(name) is None
    assert name not in catalog


def test_contains_rejects_non_strings(catalog: Catalog) -> None:
    assert 42 not in catalog


def test_unknown_model_error_suggests_close_names(catalog: Catalog) -> None:
    with pytest.raises(ModelNotFoundError) as info:
        catalog.get("claude-sonet-4-5")
    assert info.value.model == "claude-sonet-4-5"
    assert info.value.suggestions[0] == "claude-sonnet-4-5"
    assert 1 <= len(info.value.suggestions) <= 3
    assert "did you mean 'claude-sonnet-4-5'" in str(info.value)


def test_unknown_model_without_close_names(catalog: Catalog) -> None:
    with pytest.raises(ModelNotFoundError) as info:
        catalog.get("zzzzzzzz")
    assert info.value.suggestions == []
    assert str(info.value) == "unknown model 'zzzzzzzz'"


def test_default_catalog_suggestions_are_capped_at_three() -> None:
    with pytest.raises(ModelNotFoundError) as info:
        Catalog.default().get("gpt-4x")
    assert 1 <= len(info.value.suggestions) <= 3


def test_resolve_chain_keeps_existing_fallbacks_once(catalog: Catalog) -> None:
    chain = catalog.resolve_chain("claude-sonnet-4-5")
    assert [spec.name for spec in chain] == [
        "claude-sonnet-4-5",
        "anthropic.claude-sonnet-4-5-20250929-v1:0",
    ]


def test_resolve_chain_of_dated_alias_uses_parent_chain(catalog: Catalog) -> None:
    chain = catalog.resolve_chain("claude-sonnet-4-5-20991231")
    assert [spec.name for spec in chain] == [
        "claude-sonnet-4-5",
        "anthropic.claude-sonnet-4-5-20250929-v1:0",
    ]


def test_resolve_chain_of_unknown_model_raises(catalog: Catalog) -> None:
    with pytest.raises(ModelNotFoundError):
        catalog.resolve_chain("nope")


def test_iteration_len_and_names(catalog: Catalog) -> None:
    assert len(catalog) == len(SAMPLE)
    assert catalog.names() == list(SAMPLE)
    assert [spec.name for spec in catalog] == list(SAMPLE)
    assert "bedrock" in catalog.providers()


def test_duplicate_models_are_rejected() -> None:
    spec = ModelSpec(name="a", format=ProviderFormat.OPENAI)
    with pytest.raises(ConfigurationError, match="'a' is defined twice"):
        Catalog([spec, spec])


# -- filter -------------------------------------------------------------------------------------


def _names(specs: list[ModelSpec]) -> list[str]:
    return [spec.name for spec in specs]


def test_filter_by_each_criterion(catalog: Catalog) -> None:
    assert _names(catalog.filter(provider="bedrock")) == [
        "anthropic.claude-sonnet-4-5-20250929-v1:0",
        "amazon.nova-pro-v1:0",
    ]
    assert _names(catalog.filter(format="responses")) == ["o3-pro"]
    assert _names(catalog.filter(format=ProviderFormat.MISTRAL)) == ["mistral-large-latest"]
    assert _names(catalog.filter(reasoning=True)) == [
        "claude-sonnet-4-5",
        "o3-pro",
        "gemini-2.5-flash",
    ]
    assert _names(catalog.filter(multimodal=True, provider="openai")) == ["gpt-4o"]
    assert len(catalog.filter(multimodal=False)) == len(SAMPLE) - 3
    assert catalog.filter(flavor="completion") == []
    assert len(catalog.filter()) == len(SAMPLE)


def test_filter_rejects_unknown_format(catalog: Catalog) -> None:
    with pytest.raises(ValueError, match="unknown format 'js'"):
        catalog.filter(format="js")


def test_filter_on_default_catalog() -> None:
    specs = Catalog.default().filter(provider="anthropic", format=ProviderFormat.ANTHROPIC)
    assert specs
    assert all(s.format is ProviderFormat.ANTHROPIC for s in specs)


# -- cost ---------------------------------------------------------------------------------------


@dataclass
class _Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0


def test_cost_input_and_output(catalog: Catalog) -> None:
    usage = {"input_tokens": 1_000_000, "output_tokens": 200_000}
    # 1M * $3 + 0.2M * $15
    assert catalog.cost("claude-sonnet-4-5", usage) == pytest.approx(6.0, rel=1e-12)


def test_cost_with_cache_prices(catalog: Catalog) -> None:
    # input_tokens counts every prompt token: 1000 uncached + 10000 read + 2000 written.
    usage = _Usage(
        input_tokens=13_000, output_tokens=500, cache_read_tokens=10_000, cache_write_tokens=2000
    )
    # (1000*3 + 500*15 + 10000*0.3 + 2000*3.75) / 1e6
    expected = (3000 + 7500 + 3000 + 7500) / 1_000_000
    assert catalog.cost("claude-sonnet-4-5", usage) == pytest.approx(expected, rel=1e-12)
    assert expected == pytest.approx(0.021)


def test_cost_falls_back_to_input_price_for_unknown_cache_prices(catalog: Catalog) -> None:
    # gpt-4o has a cache-read price but no cache-write price.
    usage = {"input_tokens": 1500, "cache_read_tokens": 1000, "cache_write_tokens": 400}
    expected = (100 * 2.5 + 1000 * 1.25 + 400 * 2.5) / 1_000_000
    assert catalog.cost("gpt-4o", usage) == pytest.approx(expected, rel=1e-12)
    assert catalog.cost("gpt-4o", {"cache_read_tokens": 1000}) == pytest.approx(0.00125)


def test_cost_accepts_a_spec_and_resolves_names(catalog: Catalog) -> None:
    usage = {"input_tokens": 2000, "output_tokens": 1000}
    by_spec = catalog.cost(catalog.get("gpt-4o"), usage)
    assert by_spec == pytest.approx(0.015, rel=1e-12)
    assert catalog.cost("openai/gpt-4o-2099-01-01", usage) == by_spec


def test_cost_of_empty_usage_is_zero_even_without_prices(catalog: Catalog) -> None:
    assert catalog.cost("mystery-model", {}) == 0.0


def test_cost_with_unknown_price_raises(catalog: Catalog) -> None:
    with pytest.raises(
        ConfigurationError, match="'mystery-model' has no input_cost_per_mil_tokens"
    ):
        catalog.cost("mystery-model", {"input_tokens": 1})


@pytest.mark.parametrize("bad", [-1, 1.5, "10", True])
def test_cost_rejects_bad_token_counts(catalog: Catalog, bad: object) -> None:
    with pytest.raises(
        InvalidUsageError, match="usage field 'output_tokens' must be a non-negative integer"
    ):
        catalog.cost("gpt-4o", {"output_tokens": bad})


@settings(max_examples=100)
@given(
    st.integers(0, 10**7),
    st.integers(0, 10**7),
    st.integers(0, 10**7),
    st.integers(0, 10**7),
)
def test_cost_is_linear_in_each_count(inp: int, out: int, read: int, write: int) -> None:
    catalog = Catalog.from_mapping(SAMPLE)
    usage = _Usage(inp + read + write, out, read, write)
    expected = (inp * 3 + out * 15 + read * 0.3 + write * 3.75) / 1_000_000
    assert catalog.cost("claude-sonnet-4-5", usage) == pytest.approx(expected, rel=1e-9, abs=1e-12)


# -- date suffixes ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "undated"),
    [
        ("claude-sonnet-4-5-20250929", "claude-sonnet-4-5"),
        ("gpt-4o-2024-08-06", "gpt-4o"),
        ("gpt-4-0613", "gpt-4"),
        ("claude-opus-4@20250514", "claude-opus-4"),
        (
            "publishers/anthropic/models/claude-opus-4-5@20251101",
            "publishers/anthropic/models/claude-opus-4-5",
        ),
        ("mistral-large-2411", None),
        ("qwen3-235b-a22b-2507", None),
        ("gpt-4o", None),
        ("20250929", None),
        ("model-1399", None),
    ],
)
def test_strip_date_suffix(name: str, undated: str | None) -> None:
    assert strip_date_suffix(name) == undated


@settings(max_examples=100)
@given(
    st.from_regex(r"[a-z][a-z0-9.-]{0,20}[a-z]", fullmatch=True),
    st.dates(datetime.date(2000, 1, 1), datetime.date(2099, 12, 31)),
    st.sampled_from(["-%Y%m%d", "-%Y-%m-%d", "@%Y%m%d", "-%m%d"]),
)
def test_strip_date_suffix_inverts_dating(base: str, day: datetime.date, style: str) -> None:
    assert strip_date_suffix(base + day.strftime(style)) == base


# -- validation ---------------------------------------------------------------------------------


def _with(**fields: object) -> dict[str, object]:
    spec: dict[str, object] = {"format": "openai", "available_providers": ["openai"]}
    spec.update(fields)
    return spec


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("input_cost_per_mil_tokens", "abc", "must be a number, got 'abc'"),
        ("output_cost_per_mil_tokens", True, "must be a number, got True"),
        ("input_cache_read_cost_per_mil_tokens", -0.5, "must be a non-negative number, got -0.5"),
        ("input_cache_write_cost_per_mil_tokens", float("inf"), "must be a non-negative number"),
        ("max_input_tokens", 0, "must be a positive integer, got 0"),
        ("max_output_tokens", 1.5, "must be a positive integer, got 1.5"),
        (
            "format",
            "js",
            "must be one of openai, responses, anthropic, google, converse, mistral; got 'js'",
        ),
        ("format", 3, "must be one of"),
        ("available_providers", "openai", "must be a list of non-empty strings, got 'openai'"),
        ("available_providers", ["openai", ""], "must be a list of non-empty strings"),
        ("fallback_models", [1], "must be a list of non-empty strings, got [1]"),
        ("displayName", 7, "must be a non-empty string, got 7"),
        ("parent", "", "must be a non-empty string, got ''"),
        ("flavor", ["chat"], "must be a non-empty string"),
        ("reasoning", "yes", "must be true or false, got 'yes'"),
        ("multimodal", 1, "must be true or false, got 1"),
        ("deprecation_date", "next year", "must be a date as YYYY-MM-DD, got 'next year'"),
        ("deprecation_date", "2026-02-30", "must be a date as YYYY-MM-DD"),
        ("deprecation_date", "20260101", "must be a date as YYYY-MM-DD"),
    ],
)
def test_invalid_field_names_model_and_field(field: str, value: object, problem: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        Catalog.from_mapping({"ok": _with(), "gpt-4o": _with(**{field: value})})
    message = str(info.value)
    assert message.startswith(f"model_list.json: model 'gpt-4o': field {field!r} ")
    assert problem in message


def test_missing_format_is_an_error() -> None:
    with pytest.raises(ConfigurationError, match="model 'm': field 'format' is required"):
        Catalog.from_mapping({"m": {"available_providers": ["openai"]}})


def test_null_fields_count_as_missing() -> None:
    spec = Catalog.from_mapping({"m": _with(input_cost_per_mil_tokens=None, parent=None)}).get("m")
    assert spec.input_cost_per_mil_tokens is None
    assert spec.parent is None


@pytest.mark.parametrize("top", [[1, 2], "models", 3, None])
def test_top_level_must_be_an_object(top: object) -> None:
    with pytest.raises(ConfigurationError, match="top level must be an object"):
        Catalog.from_mapping(top)


def test_spec_must_be_an_object() -> None:
    with pytest.raises(ConfigurationError, match="model 'm': spec must be an object, got list"):
        Catalog.from_mapping({"m": ["openai"]})


def test_from_bytes_reports_invalid_json() -> None:
    with pytest.raises(ConfigurationError, match=r"mine\.json: invalid JSON"):
        Catalog.from_bytes(b"{not json", source="mine.json")


def test_load_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "models.json"
    path.write_bytes(orjson.dumps({"m": _with(max_input_tokens="big")}))
    with pytest.raises(ConfigurationError) as info:
        Catalog.load(path)
    assert str(info.value) == (
        f"{path}: model 'm': field 'max_input_tokens' must be a positive integer, got 'big'"
    )


def test_load_reads_a_valid_file(tmp_path: Path) -> None:
    path = tmp_path / "models.json"
    path.write_bytes(orjson.dumps(SAMPLE))
    assert Catalog.load(path).names() == list(SAMPLE)
    assert Catalog.load(str(path)).get("o3-pro").format is ProviderFormat.RESPONSES


def test_load_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot read model catalog"):
        Catalog.load(tmp_path / "absent.json")
