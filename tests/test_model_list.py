"""Tests for scripts/build_model_list.py and the committed src/llm_router/model_list.json."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import orjson
import pytest

from llm_router.catalog import Catalog

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "build_model_list.py"
COMMITTED = ROOT / "src" / "llm_router" / "model_list.json"
# Set to a braintrust-format catalog to check that the committed file is up to date.
SOURCE_ENV = "LLM_ROUTER_MODEL_SOURCE"


def _load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_model_list", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # dataclasses resolves annotations through sys.modules, so register before executing.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


build = _load_script()

SOURCE: dict[str, dict[str, Any]] = {
    "claude-sonnet-4-5": {
        "format": "anthropic",
        "flavor": "chat",
        "input_cost_per_mil_tokens": 3,
        "output_cost_per_mil_tokens": 15,
        "input_cache_read_cost_per_mil_tokens": 0.3,
        "input_cache_write_cost_per_mil_tokens": 3.75,
        "input_cache_write_1h_cost_per_mil_tokens": 6,
        "displayName": "Claude Sonnet 4.5",
        "reasoning": True,
        "reasoning_budget": True,
        "multimodal": True,
        "deprecation_date": "2026-09-29",
        "fallback_models": ["anthropic.claude-sonnet-4-5-v1:0", "gone-model", "claude-sonnet-4-5"],
        "max_input_tokens": 200000,
        "max_output_tokens": 64000,
        "available_providers": ["anthropic"],
    },
    "claude-sonnet-4-5-20250929": {
        "format": "anthropic",
        "flavor": "chat",
        "input_cost_per_mil_tokens": 3,
        "available_providers": ["anthropic"],
    },
    "anthropic.claude-sonnet-4-5-v1:0": {
        "format": "anthropic",
        "flavor": "chat",
        "available_providers": ["bedrock"],
    },
    "amazon.nova-pro-v1:0": {
        "format": "converse",
        "flavor": "chat",
        "available_providers": ["bedrock"],
    },
    "openai.gpt-oss-120b": {
        "format": "openai",
        "flavor": "chat",
        "available_providers": ["bedrock"],
    },
    "gpt-4o": {
        "format": "openai",
        "flavor": "chat",
        "multimodal": False,
        "experimental": True,
        "available_providers": ["openai", "azure", "openrouter"],
    },
    "gpt-4o-2024-08-06": {
        "format": "openai",
        "flavor": "chat",
        "parent": "gpt-4o-2024-08-06",
        "available_providers": ["openai"],
    },
    "o3-pro": {"format": "openai", "flavor": "chat", "available_providers": ["openai", "azure"]},
    "o3-pro-2025-06-10": {"format": "openai", "flavor": "chat", "available_providers": ["openai"]},
    "gpt-5-codex": {"format": "openai", "flavor": "chat", "available_providers": ["openai"]},
    "openai/gpt-5-pro": {
        "format": "openai",
        "flavor": "chat",
        "available_providers": ["openrouter"],
    },
    "mistral-large-latest": {
        "format": "openai",
        "flavor": "chat",
        "available_providers": ["mistral"],
    },
    "publishers/mistralai/models/codestral-2501": {
        "format": "openai",
        "flavor": "chat",
        "available_providers": ["vertex"],
    },
    "gemini-2.5-flash": {
        "format": "google",
        "flavor": "chat",
        "available_providers": ["google", "vertex"],
    },
    "grok-4": {"format": "openai", "flavor": "chat", "available_providers": ["xAI", "xai"]},
    "openrouter/auto": {
        "format": "openai",
        "flavor": "chat",
        "input_cost_per_mil_tokens": -1000000,
        "output_cost_per_mil_tokens": -1000000,
        "available_providers": ["openrouter"],
    },
    "text-embedding-3-small": {
        "format": "openai",
        "flavor": "embedding",
        "available_providers": ["openai"],
    },
    "dall-e-3": {"format": "openai", "flavor": "chat", "available_providers": ["openai"]},
    "whisper-1": {"format": "openai", "flavor": "chat", "available_providers": ["openai"]},
    "claude-2": {"format": "anthropic", "flavor": "chat"},
    "text-block": {"format": "js", "flavor": "completion"},
}


@pytest.fixture
def result() -> Any:
    return build.transform(SOURCE)


def test_transform_keeps_only_routable_chat_and_embedding_models(result: Any) -> None:
    for name in ("dall-e-3", "whisper-1", "claude-2", "text-block"):
        assert name not in result.models
    assert sum(result.dropped.values()) == 4
    assert result.dropped["no available provider"] == 1
    assert result.models["text-embedding-3-small"]["flavor"] == "embedding"
    # embedding models the source lacks are added, with their prices
    titan = result.models["amazon.titan-embed-text-v2:0"]
    assert titan["flavor"] == "embedding" and titan["input_cost_per_mil_tokens"] == 0.02


def test_transform_maps_wire_formats(result: Any) -> None:
    formats = {name: entry["format"] for name, entry in result.models.items()}
    assert formats["claude-sonnet-4-5"] == "anthropic"
    assert formats["anthropic.claude-sonnet-4-5-v1:0"] == "anthropic"
    assert formats["amazon.nova-pro-v1:0"] == "converse"
    assert formats["openai.gpt-oss-120b"] == "converse"  # Bedrock-only, non-Anthropic
    assert formats["gpt-4o"] == "openai"
    assert formats["o3-pro"] == "responses"
    assert formats["o3-pro-2025-06-10"] == "responses"
    assert formats["gpt-5-codex"] == "responses"
    assert formats["openai/gpt-5-pro"] == "openai"  # OpenRouter serves it over chat
    assert formats["mistral-large-latest"] == "mistral"
    assert formats["publishers/mistralai/models/codestral-2501"] == "mistral"
    assert formats["gemini-2.5-flash"] == "google"


def test_transform_copies_known_fields_and_omits_the_rest(result: Any) -> None:
    assert result.models["claude-sonnet-4-5"] == {
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
        # dangling and self references dropped
        "fallback_models": ["anthropic.claude-sonnet-4-5-v1:0"],
        # the same model under Bedrock's id (see tests/test_model_linking.py)
        "provider_models": {"bedrock": ["anthropic.claude-sonnet-4-5-v1:0"]},
    }
    assert result.models["gpt-4o"] == {
        "format": "openai",
        "flavor": "chat",
        "available_providers": ["openai", "azure", "openrouter"],
    }


def test_transform_normalises_provider_aliases(result: Any) -> None:
    assert result.models["grok-4"]["available_providers"] == ["xai"]


def test_transform_drops_sentinel_negative_prices(result: Any) -> None:
    entry = result.models["openrouter/auto"]
    assert "input_cost_per_mil_tokens" not in entry
    assert "output_cost_per_mil_tokens" not in entry


def test_transform_derives_parents_of_dated_snapshots(result: Any) -> None:
    assert result.models["claude-sonnet-4-5-20250929"]["parent"] == "claude-sonnet-4-5"
    # a self-referencing source parent is replaced by the derived one
    assert result.models["gpt-4o-2024-08-06"]["parent"] == "gpt-4o"
    assert result.models["o3-pro-2025-06-10"]["parent"] == "o3-pro"
    assert "parent" not in result.models["claude-sonnet-4-5"]


def test_transform_adds_the_realtime_models_as_kept_by_hand(result: Any) -> None:
    realtime = build.load_realtime()
    assert {"gpt-realtime", "gpt-realtime-mini", "gemini-2.0-flash-live-001"} <= set(realtime)
    for name, entry in realtime.items():
        assert result.models[name] == entry
    # A source entry of the same name is replaced, not merged.
    replaced = build.transform({**SOURCE, "gpt-realtime": SOURCE["gpt-4o"]}).models
    assert replaced["gpt-realtime"] == realtime["gpt-realtime"]
    assert build.transform(SOURCE, realtime={}).models.keys().isdisjoint(realtime)


def test_realtime_list_entries_must_say_realtime(tmp_path: Path) -> None:
    listed = tmp_path / "realtime.json"
    listed.write_bytes(orjson.dumps({"gpt-x": {"format": "openai", "flavor": "chat"}}))
    with pytest.raises(ValueError, match="'gpt-x' must have flavor 'realtime'"):
        build.load_realtime(listed)


def test_transform_rejects_unknown_source_formats() -> None:
    with pytest.raises(ValueError, match="model 'm': unknown source format 'grpc'"):
        build.transform({"m": {"format": "grpc", "flavor": "chat", "available_providers": ["x"]}})


def test_output_is_sorted_deterministic_and_loadable(result: Any) -> None:
    rendered = build.render(result.models)
    assert rendered == build.render(build.transform(dict(reversed(SOURCE.items()))).models)
    assert rendered.endswith(b"}\n")
    assert b'\n  "amazon.nova-pro-v1:0": {\n    "available_providers": [' in rendered
    catalog = Catalog.from_bytes(rendered)
    assert catalog.names() == sorted(result.models)


def test_summary_counts_formats_providers_and_drops(result: Any) -> None:
    summary = build.summarize(result)
    embedding = sum(entry["flavor"] == "embedding" for entry in result.models.values())
    realtime = sum(entry["flavor"] == "realtime" for entry in result.models.values())
    assert embedding == 6  # the source's one, and the five it lacks
    assert realtime == len(build.load_realtime())
    assert summary.splitlines()[0] == (
        f"{len(result.models) - embedding - realtime} chat models, {embedding} embedding models, "
        f"{realtime} realtime models"
    )
    assert "responses 3" in summary
    assert "bedrock 7" in summary  # three chat models, four embedding models
    assert "flavor 'completion' 1" in summary


def _run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_script_writes_then_check_detects_staleness(tmp_path: Path) -> None:
    source = tmp_path / "source.json"
    output = tmp_path / "model_list.json"
    source.write_bytes(orjson.dumps(SOURCE))

    written = _run(source, "--output", output)
    assert written.returncode == 0, written.stderr
    assert "per format:" in written.stdout
    assert output.read_bytes() == build.render(build.transform(SOURCE).models)

    assert _run(source, "--output", output, "--check").returncode == 0
    output.write_bytes(output.read_bytes().replace(b'"mistral"', b'"openai"', 1))
    stale = _run(source, "--output", output, "--check")
    assert stale.returncode == 1
    assert "out of date" in stale.stderr


def test_script_reports_unreadable_source(tmp_path: Path) -> None:
    failed = _run(tmp_path / "absent.json", "--output", tmp_path / "out.json")
    assert failed.returncode == 2
    assert "cannot read" in failed.stderr


def test_committed_file_is_in_canonical_form() -> None:
    data = COMMITTED.read_bytes()
    assert build.render(orjson.loads(data)) == data


@pytest.mark.skipif(SOURCE_ENV not in os.environ, reason=f"set {SOURCE_ENV} to the source catalog")
def test_committed_file_is_up_to_date() -> None:
    checked = _run(os.environ[SOURCE_ENV], "--output", COMMITTED, "--check")
    assert checked.returncode == 0, checked.stderr
