"""Build src/llm_router/model_list.json from a braintrust-format public model catalog.

    python scripts/build_model_list.py SOURCE            # regenerate, print a summary
    python scripts/build_model_list.py SOURCE --check    # exit 1 if the committed file is stale

Keeps chat models that some provider serves, maps each to the wire format the router speaks to
it, derives `parent` links for dated snapshots, and writes deterministic JSON (sorted keys,
2-space indent) so the generated file diffs cleanly.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import orjson

from llm_router.catalog import Catalog, strip_date_suffix
from llm_router.types import ProviderFormat

DEFAULT_OUTPUT: Final = Path(__file__).resolve().parent.parent / "src/llm_router/model_list.json"

_SOURCE_FORMATS: Final = {
    "openai": ProviderFormat.OPENAI,
    "anthropic": ProviderFormat.ANTHROPIC,
    "google": ProviderFormat.GOOGLE,
    "converse": ProviderFormat.CONVERSE,
}

# Entries the source files as "chat" that are served by other endpoints (images, audio,
# moderation, embeddings, legacy completions) and cannot answer a chat request.
_NON_CHAT: Final = re.compile(
    r"dall-e|gpt-image|chatgpt-image|(?:^|/)sora-|whisper|moderation|transcribe|embed|rerank"
    r"|lyria|(?:^|-)tts(?:-|$)|^(?:ft:)?(?:babbage|davinci)-002$|^openai/container$"
)

# OpenAI models served only by the Responses API (not Chat Completions): the -pro reasoning
# models, Codex, deep research and computer use.
_RESPONSES_ONLY: Final = re.compile(
    r"^(?:o\d+(?:-mini)?|gpt-5(?:\.\d+)?)-pro(?:-\d{4}-\d{2}-\d{2})?$"
    r"|codex|deep-research|^computer-use"
)
_OPENAI_FIRST_PARTY: Final = frozenset({"openai", "azure"})

_PRICE_KEYS: Final = (
    "input_cost_per_mil_tokens",
    "output_cost_per_mil_tokens",
    "input_cache_read_cost_per_mil_tokens",
    "input_cache_write_cost_per_mil_tokens",
)
_TOKEN_KEYS: Final = ("max_input_tokens", "max_output_tokens")
_ISO_DATE: Final = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass
class BuildResult:
    """The generated catalog, plus what was left out and why (for the summary)."""

    models: dict[str, dict[str, Any]]
    dropped: Counter[str] = field(default_factory=Counter)


def transform(source: Mapping[str, Any]) -> BuildResult:
    """Turn a braintrust-format catalog into ours. Pure: same input, same output."""
    dropped: Counter[str] = Counter()
    kept: dict[str, tuple[Mapping[str, Any], tuple[str, ...]]] = {}
    for name, raw in source.items():
        reason = _drop_reason(name, raw)
        if reason is not None:
            dropped[reason] += 1
            continue
        kept[name] = (raw, _providers(raw))

    models = {name: _convert(name, raw, providers, kept) for name, (raw, providers) in kept.items()}
    return BuildResult(models=dict(sorted(models.items())), dropped=dropped)


def _drop_reason(name: str, raw: Mapping[str, Any]) -> str | None:
    flavor = raw.get("flavor", "chat")
    if flavor != "chat":
        return f"flavor {flavor!r}"
    if raw.get("format") not in _SOURCE_FORMATS:
        if raw.get("format") == "js":
            return "format 'js'"
        raise ValueError(f"model {name!r}: unknown source format {raw.get('format')!r}")
    if _NON_CHAT.search(name):
        return "not a chat endpoint (image, audio, moderation, embedding)"
    if not _providers(raw):
        return "no available provider"
    return None


def _providers(raw: Mapping[str, Any]) -> tuple[str, ...]:
    aliases = (str(p).lower() for p in raw.get("available_providers") or ())
    return tuple(dict.fromkeys(aliases))


def _wire_format(name: str, source_format: str, providers: tuple[str, ...]) -> ProviderFormat:
    fmt = _SOURCE_FORMATS[source_format]
    if fmt is ProviderFormat.OPENAI:
        # Mistral's API (and Vertex's Mistral publisher) speaks Mistral's chat dialect.
        if "mistral" in providers or name.startswith("publishers/mistralai/"):
            return ProviderFormat.MISTRAL
        if _OPENAI_FIRST_PARTY & set(providers) and _RESPONSES_ONLY.search(name):
            return ProviderFormat.RESPONSES
    if providers == ("bedrock",) and fmt is not ProviderFormat.ANTHROPIC:
        # Non-Anthropic models on Bedrock go through Converse (Anthropic ones use InvokeModel).
        return ProviderFormat.CONVERSE
    return fmt


def _convert(
    name: str,
    raw: Mapping[str, Any],
    providers: tuple[str, ...],
    kept: Mapping[str, object],
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "format": _wire_format(name, raw["format"], providers).value,
        "flavor": "chat",
        "available_providers": list(providers),
    }
    for key in _PRICE_KEYS:
        price = raw.get(key)
        # Negative prices are the source's sentinel for "varies per request" (routers).
        if isinstance(price, int | float) and not isinstance(price, bool) and price >= 0:
            entry[key] = price
    for key in _TOKEN_KEYS:
        count = raw.get(key)
        if isinstance(count, int) and not isinstance(count, bool) and count > 0:
            entry[key] = count
    display_name = raw.get("displayName")
    if isinstance(display_name, str) and display_name:
        entry["displayName"] = display_name
    parent = _parent(name, raw.get("parent"), kept)
    if parent is not None:
        entry["parent"] = parent
    fallbacks = [
        f for f in dict.fromkeys(raw.get("fallback_models") or ()) if f in kept and f != name
    ]
    if fallbacks:
        entry["fallback_models"] = fallbacks
    for flag in ("reasoning", "multimodal"):
        if raw.get(flag) is True:
            entry[flag] = True
    deprecation = raw.get("deprecation_date")
    if isinstance(deprecation, str) and _ISO_DATE.fullmatch(deprecation):
        entry["deprecation_date"] = deprecation
    return entry


def _parent(name: str, declared: object, kept: Mapping[str, object]) -> str | None:
    """The source's parent when it names another kept model, else the undated alias if kept."""
    if isinstance(declared, str) and declared != name and declared in kept:
        return declared
    undated = strip_date_suffix(name)
    return undated if undated is not None and undated in kept else None


def render(models: Mapping[str, Any]) -> bytes:
    """Deterministic JSON bytes: sorted keys, 2-space indent, trailing newline."""
    return orjson.dumps(models, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"


def summarize(result: BuildResult) -> str:
    """Model counts per provider and per format, and what was dropped."""
    providers: Counter[str] = Counter()
    formats: Counter[str] = Counter()
    for entry in result.models.values():
        providers.update(entry["available_providers"])
        formats[entry["format"]] += 1
    lines = [f"{len(result.models)} chat models"]
    lines.append("per format:   " + _counts(formats))
    lines.append("per provider: " + _counts(providers))
    if result.dropped:
        lines.append("dropped:      " + _counts(result.dropped))
    return "\n".join(lines)


def _counts(counter: Counter[str]) -> str:
    return ", ".join(f"{key} {count}" for key, count in sorted(counter.items(), key=_by_count))


def _by_count(item: tuple[str, int]) -> tuple[int, str]:
    return -item[1], item[0]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "source",
        type=Path,
        help="a braintrust-format public model catalog (JSON object of model name -> spec)",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=DEFAULT_OUTPUT,
        help="where to write the catalog (default: src/llm_router/model_list.json)",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="do not write; exit 1 if OUTPUT differs from what would be generated",
    )
    args = parser.parse_args(argv)

    try:
        source = orjson.loads(args.source.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        parser.error(f"cannot read {args.source}: {exc}")
    if not isinstance(source, dict):
        parser.error(f"{args.source}: expected a JSON object of model specs")

    result = transform(source)
    rendered = render(result.models)
    # Generated output must load cleanly with the library's own validation.
    Catalog.from_bytes(rendered, source=str(args.output))

    if args.check:
        current = args.output.read_bytes() if args.output.exists() else b""
        if current != rendered:
            print(f"{args.output} is out of date; re-run without --check", file=sys.stderr)
            return 1
        print(f"{args.output} is up to date ({len(result.models)} models)")
        return 0

    args.output.write_bytes(rendered)
    print(f"wrote {args.output}")
    print(summarize(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
