"""Build src/llm_router/model_list.json from a braintrust-format public model catalog.

    python scripts/build_model_list.py SOURCE            # regenerate, print a summary
    python scripts/build_model_list.py SOURCE --check    # exit 1 if the committed file is stale

Keeps chat and embedding models that some provider serves (plus the Bedrock and Mistral
embedding models the source lacks, `_EXTRA_EMBEDDINGS`), maps each to the wire format the router speaks to
it, derives `parent` links for dated snapshots, adds the realtime models the source does not
list (scripts/realtime_models.json, already in the catalog's own form), and writes
deterministic JSON (sorted keys, 2-space indent) so the generated file diffs cleanly.
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
#: Realtime (WebSocket-only) models, kept by hand: the source catalog lists none of them.
REALTIME_MODELS: Final = Path(__file__).resolve().parent / "realtime_models.json"

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

# Embedding models the source has no entry for, at their providers' published prices
# (US dollars per million input tokens).
_EXTRA_EMBEDDINGS: Final[Mapping[str, Mapping[str, Any]]] = {
    "amazon.titan-embed-text-v2:0": {
        "format": "converse",
        "available_providers": ["bedrock"],
        "displayName": "Amazon Titan Text Embeddings V2",
        "input_cost_per_mil_tokens": 0.02,
        "max_input_tokens": 8192,
    },
    "amazon.titan-embed-text-v1": {
        "format": "converse",
        "available_providers": ["bedrock"],
        "displayName": "Amazon Titan Embeddings G1 - Text",
        "input_cost_per_mil_tokens": 0.1,
        "max_input_tokens": 8192,
    },
    "cohere.embed-english-v3": {
        "format": "converse",
        "available_providers": ["bedrock"],
        "displayName": "Cohere Embed English v3",
        "input_cost_per_mil_tokens": 0.1,
        "max_input_tokens": 512,
    },
    "cohere.embed-multilingual-v3": {
        "format": "converse",
        "available_providers": ["bedrock"],
        "displayName": "Cohere Embed Multilingual v3",
        "input_cost_per_mil_tokens": 0.1,
        "max_input_tokens": 512,
    },
    "mistral-embed": {
        "format": "mistral",
        "available_providers": ["mistral"],
        "displayName": "Mistral Embed",
        "input_cost_per_mil_tokens": 0.1,
        "max_input_tokens": 8192,
    },
}
_EMBEDDING_NAME: Final = re.compile(r"embed")

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


def transform(source: Mapping[str, Any], realtime: Mapping[str, Any] | None = None) -> BuildResult:
    """Turn a braintrust-format catalog into ours, plus `realtime` entries (default: the
    committed realtime list) as they are. Pure: same input, same output."""
    dropped: Counter[str] = Counter()
    kept: dict[str, tuple[Mapping[str, Any], tuple[str, ...]]] = {}
    for name, raw in source.items():
        reason = _drop_reason(name, raw)
        if reason is not None:
            dropped[reason] += 1
            continue
        kept[name] = (raw, _providers(raw))

    models = {name: _convert(name, raw, providers, kept) for name, (raw, providers) in kept.items()}
    for name, links in _link_provider_models(source, kept).items():
        models[name]["provider_models"] = links
    for name, extra in _EXTRA_EMBEDDINGS.items():
        models.setdefault(name, {**extra, "flavor": "embedding"})
    for name, entry in (load_realtime() if realtime is None else realtime).items():
        models[name] = dict(entry)  # a realtime entry wins over a chat one of the same name
    return BuildResult(models=dict(sorted(models.items())), dropped=dropped)


def load_realtime(path: Path = REALTIME_MODELS) -> dict[str, Any]:
    """The hand-kept realtime models; each must say `"flavor": "realtime"`."""
    entries: dict[str, Any] = orjson.loads(path.read_bytes())
    for name, entry in entries.items():
        if entry.get("flavor") != "realtime":
            raise ValueError(f"{path.name}: model {name!r} must have flavor 'realtime'")
    return entries


# -- one model, every provider that serves it ------------------------------------------------
#
# The source lists each provider's id for a model as a separate entry (`claude-sonnet-4-5`,
# `anthropic.claude-sonnet-4-5-20250929-v1:0`, `publishers/anthropic/models/claude-sonnet-4-5`,
# `databricks-claude-sonnet-4-5`, `anthropic/claude-sonnet-4.5`). Reducing every id to the
# model's own name (its "link key") groups them, and each entry then lists the ids the other
# providers know the same model by, so the router can fail over between them.

_BEDROCK_PREFIX: Final = re.compile(r"^(?:(?:us|eu|apac|au|jp|ca|global|us-gov)\.)?[a-z0-9-]+\.")
_BEDROCK_VERSION: Final = re.compile(r"-v\d+(?::\d+)?$")
_HOST_PATH: Final = re.compile(r"^(?:publishers/[^/]+/models/|accounts/[^/]+/models/|[^/]+/)")
_LLAMA: Final = re.compile(r"^(?:meta-)?llama-?v?(\d+)(?:[.-]|p)(\d+)")


def _link_id(name: str, providers: tuple[str, ...]) -> tuple[str, str] | None:
    """(provider alias, link key) for an id in a provider's own naming; None for plain names."""
    lowered = name.lower()
    if lowered.startswith("publishers/"):
        return "vertex", _link_key(_HOST_PATH.sub("", lowered).removesuffix("-maas"))
    if providers == ("bedrock",) and _BEDROCK_PREFIX.match(lowered):
        return "bedrock", _link_key(_BEDROCK_VERSION.sub("", _BEDROCK_PREFIX.sub("", lowered)))
    if providers == ("databricks",) and lowered.startswith("databricks-"):
        return "databricks", _link_key(lowered.removeprefix("databricks-"))
    if len(providers) == 1 and "/" in lowered:
        return providers[0], _link_key(_HOST_PATH.sub("", lowered))
    return None


def _link_key(name: str) -> str:
    """A model name reduced to compare across providers: `@date` and dots become dashes,
    Llama versions are spelt one way (`llama-v3p3`, `llama3-3`, `meta-llama-3.3` -> `llama-3-3`)."""
    key = name.lower().replace("@", "-").replace(".", "-").replace("_", "-")
    return _LLAMA.sub(r"llama-\1-\2", key)


def _link_provider_models(
    source: Mapping[str, Any], kept: Mapping[str, tuple[Mapping[str, Any], tuple[str, ...]]]
) -> dict[str, dict[str, list[str]]]:
    """For each kept model, the ids other providers serve the same model under."""
    groups: dict[str, list[tuple[str, str, str | None]]] = {}  # key -> (alias, id, catalog name)
    for name, raw in source.items():
        providers = kept[name][1] if name in kept else _providers(raw)
        linked = _link_id(name, providers)
        if linked is not None:
            alias, key = linked
            if name in kept or alias == "vertex":  # a Vertex id is served by Vertex by shape
                groups.setdefault(key, []).append((alias, name, name if name in kept else None))
        elif name in kept:  # a plain name; `vendor/model` served by several hosts keys as `model`
            key = _link_key(_HOST_PATH.sub("", name.lower()) if "/" in name else name)
            groups.setdefault(key, []).extend((alias, name, name) for alias in providers)
    home = {name: key for key, members in groups.items() for _, _, name in members if name}
    # An undated name also reaches the providers that only list its latest dated snapshot.
    for key in sorted(groups, reverse=True):
        undated = strip_date_suffix(key)
        if undated is not None and undated in groups:
            have = {alias for alias, _, _ in groups[undated]}
            groups[undated] += [m for m in groups[key] if m[0] not in have and m[2] != key]
    links: dict[str, dict[str, list[str]]] = {}
    for name, key in home.items():
        own = set(kept[name][1])
        entry: dict[str, list[str]] = {}
        for alias, provider_id, _ in groups[key]:
            if alias not in own and provider_id != name:
                entry.setdefault(alias, []).append(provider_id)
        if entry:
            links[name] = {alias: sorted(set(ids)) for alias, ids in sorted(entry.items())}
    return links


def _flavor(name: str, raw: Mapping[str, Any]) -> str:
    """`embedding` for the source's embedding models and those it files as chat by mistake."""
    flavor = str(raw.get("flavor", "chat"))
    if flavor == "chat" and _EMBEDDING_NAME.search(name):
        return "embedding"
    return flavor


def _drop_reason(name: str, raw: Mapping[str, Any]) -> str | None:
    flavor = _flavor(name, raw)
    if flavor not in ("chat", "embedding"):
        return f"flavor {flavor!r}"
    if raw.get("format") not in _SOURCE_FORMATS:
        if raw.get("format") == "js":
            return "format 'js'"
        raise ValueError(f"model {name!r}: unknown source format {raw.get('format')!r}")
    if flavor == "chat" and _NON_CHAT.search(name):
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
        "flavor": _flavor(name, raw),
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
    embedding = sum(entry["flavor"] == "embedding" for entry in result.models.values())
    realtime = sum(entry["flavor"] == "realtime" for entry in result.models.values())
    chat = len(result.models) - embedding - realtime
    lines = [f"{chat} chat models, {embedding} embedding models, {realtime} realtime models"]
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
