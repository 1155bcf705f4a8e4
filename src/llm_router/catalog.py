"""The model catalog: `model_list.json` parsed into `ModelSpec` values, with name resolution
(aliases, dated snapshots, provider prefixes), fallback chains, filtering and cost arithmetic.

Sans-IO apart from reading the file in `Catalog.load` / `Catalog.default`; knows nothing about
providers' wire details. `format` is the model's native wire format at its first-party
provider; OpenAI-compatible hosts listed in `available_providers` (openrouter, together, ...)
speak their own format, which the provider layer decides.
"""

from __future__ import annotations

import datetime
import functools
import math
import os
import re
import types
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

import orjson

from llm_router.errors import ConfigurationError, InvalidUsageError, ModelNotFoundError
from llm_router.types import ProviderFormat

if TYPE_CHECKING:
    from llm_router.universal import Usage

__all__ = ["Catalog", "ModelSpec", "strip_date_suffix"]

_MONTH = r"(?:0[1-9]|1[0-2])"
_DAY = r"(?:0[1-9]|[12]\d|3[01])"
# Snapshot suffixes: -20250929, @20250929, -2024-08-06, and OpenAI's older -0613 style.
# Month and day are range-checked so that Mistral's -2411 or Qwen's -2507 (YYMM releases of
# distinct models) are not mistaken for dates.
_DATE_SUFFIX: Final = re.compile(
    rf"(?:[-@]20\d\d{_MONTH}{_DAY}|-20\d\d-{_MONTH}-{_DAY}|-{_MONTH}{_DAY})$"
)

# Bedrock ids: optional cross-region inference prefix, vendor, model, optional -vN[:M] version.
_BEDROCK_GEOS: Final = frozenset({"us", "eu", "apac", "au", "jp", "ca", "global", "us-gov"})
_BEDROCK_VENDORS: Final = frozenset(
    {
        "ai21",
        "amazon",
        "anthropic",
        "cohere",
        "deepseek",
        "google",
        "meta",
        "minimax",
        "mistral",
        "moonshot",
        "moonshotai",
        "nvidia",
        "openai",
        "qwen",
        "writer",
        "xai",
        "zai",
    }
)
_BEDROCK_VERSION: Final = re.compile(r"-v\d+(?::\d+)?$")
_ISO_DATE: Final = re.compile(r"\d{4}-\d{2}-\d{2}")

_PRICE_FIELDS: Final = (
    ("input_cost_per_mil_tokens", "input_cost_per_mil_tokens"),
    ("output_cost_per_mil_tokens", "output_cost_per_mil_tokens"),
    ("input_cache_read_cost_per_mil_tokens", "cache_read_cost_per_mil_tokens"),
    ("input_cache_write_cost_per_mil_tokens", "cache_write_cost_per_mil_tokens"),
    # Realtime models price audio apart from text (the plain fields are the text prices).
    ("input_audio_cost_per_mil_tokens", "input_audio_cost_per_mil_tokens"),
    ("input_audio_cache_read_cost_per_mil_tokens", "audio_cache_read_cost_per_mil_tokens"),
    ("output_audio_cost_per_mil_tokens", "output_audio_cost_per_mil_tokens"),
)
_KNOWN_FIELDS: Final = frozenset(
    {
        "format",
        "flavor",
        "available_providers",
        "max_input_tokens",
        "max_output_tokens",
        "displayName",
        "parent",
        "fallback_models",
        "reasoning",
        "multimodal",
        "deprecation_date",
        "provider_models",
    }
    | {source for source, _ in _PRICE_FIELDS}
)

_FORMATS: Final = {f.value: f for f in ProviderFormat}
_NO_EXTRA: Final[Mapping[str, Any]] = types.MappingProxyType({})
_NO_LINKS: Final[Mapping[str, tuple[str, ...]]] = types.MappingProxyType({})

_DEFAULT_SOURCE: Final = "model_list.json"


def strip_date_suffix(name: str) -> str | None:
    """Return `name` without its snapshot-date suffix, or None when it has none.

    >>> strip_date_suffix("claude-sonnet-4-5-20250929")
    'claude-sonnet-4-5'
    >>> strip_date_suffix("gpt-4o-2024-08-06"), strip_date_suffix("mistral-large-2411")
    ('gpt-4o', None)
    """
    match = _DATE_SUFFIX.search(name)
    if match is None or match.start() == 0:
        return None
    return name[: match.start()]


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """One catalog entry. Prices are US dollars per million tokens; None means unknown.

    `flavor` is "chat" for models answering HTTP requests and "realtime" for models served
    only over realtime WebSocket sessions (`router.realtime`); a realtime model's plain prices
    are its text prices and the `*audio*` prices its audio ones.
    """

    name: str
    format: ProviderFormat
    flavor: str = "chat"
    available_providers: tuple[str, ...] = ()
    input_cost_per_mil_tokens: float | None = None
    output_cost_per_mil_tokens: float | None = None
    cache_read_cost_per_mil_tokens: float | None = None
    cache_write_cost_per_mil_tokens: float | None = None
    input_audio_cost_per_mil_tokens: float | None = None
    audio_cache_read_cost_per_mil_tokens: float | None = None
    output_audio_cost_per_mil_tokens: float | None = None
    max_input_tokens: int | None = None
    max_output_tokens: int | None = None
    display_name: str | None = None
    parent: str | None = None
    fallback_models: tuple[str, ...] = ()
    reasoning: bool = False
    multimodal: bool = False
    deprecation_date: datetime.date | None = None
    # The same model under other providers' own ids: alias -> ids (e.g. "bedrock" -> the
    # `anthropic.…-v1:0` id and its `us.`/`global.` inference profiles). Routing uses them.
    provider_models: Mapping[str, tuple[str, ...]] = field(
        default_factory=dict, compare=False, hash=False
    )
    # Fields this version does not interpret (e.g. regions), kept for callers that do.
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def realtime(self) -> bool:
        """Whether the model is served only over realtime sessions (flavor "realtime")."""
        return self.flavor == "realtime"


class Catalog:
    """An immutable set of `ModelSpec`s keyed by name.

    Lookups (`get`, `find`, `in`) try, in order: the exact name; the name without a snapshot
    date (`claude-sonnet-4-5-20991231` -> `claude-sonnet-4-5`); the name without a provider
    prefix (`openai/gpt-4o` -> `gpt-4o`); and Bedrock ids reduced to the vendor's model id
    (`us.anthropic.claude-x-v1:0` -> `anthropic.claude-x-v1:0` -> `claude-x`); fine-tuned
    ids `ft:BASE:org::id` resolve to `ft:BASE`. The spec
    returned is the catalog entry whose metadata applies: compare `spec.name` with the
    requested name to tell an exact hit from a resolved one.
    """

    __slots__ = ("_models", "_providers")

    def __init__(self, models: Iterable[ModelSpec]) -> None:
        self._models: dict[str, ModelSpec] = {}
        for spec in models:
            if spec.name in self._models:
                raise ConfigurationError(f"catalog: model {spec.name!r} is defined twice")
            self._models[spec.name] = spec
        self._providers = frozenset(p for s in self._models.values() for p in s.available_providers)

    # -- construction -----------------------------------------------------------------------

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Catalog:
        """Read and validate a catalog file; errors name the file, the model and the field."""
        source = os.fspath(path)
        try:
            with open(source, "rb") as file:
                data = file.read()
        except OSError as exc:
            raise ConfigurationError(f"{source}: cannot read model catalog: {exc}") from exc
        return cls.from_bytes(data, source=source)

    @classmethod
    def from_bytes(cls, data: bytes, *, source: str = _DEFAULT_SOURCE) -> Catalog:
        """Parse catalog JSON; `source` labels error messages."""
        try:
            mapping = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise ConfigurationError(f"{source}: invalid JSON: {exc}") from exc
        return cls.from_mapping(mapping, source=source)

    @classmethod
    def from_mapping(cls, mapping: object, *, source: str = _DEFAULT_SOURCE) -> Catalog:
        """Validate a decoded catalog: an object mapping model names to spec objects."""
        if not isinstance(mapping, Mapping):
            raise ConfigurationError(
                f"{source}: top level must be an object mapping model names to specs, "
                f"got {type(mapping).__name__}"
            )
        return cls(_parse_spec(source, name, raw) for name, raw in mapping.items())

    @classmethod
    def default(cls) -> Catalog:
        """The catalog bundled with the package (loaded once, then shared)."""
        return _default_catalog()

    # -- lookup -----------------------------------------------------------------------------

    def find(self, name: str) -> ModelSpec | None:
        """The spec that applies to `name` (see the class docstring), or None."""
        for candidate in self._candidates(name):
            spec = self._models.get(candidate)
            if spec is not None:
                return spec
        return None

    def get(self, name: str) -> ModelSpec:
        """Like `find`, but raise `ModelNotFoundError` with up to three close names."""
        spec = self.find(name)
        if spec is None:
            import difflib  # only for the error message, so loaded only then

            suggestions = difflib.get_close_matches(name, self._models, n=3, cutoff=0.6)
            raise ModelNotFoundError(name, suggestions)
        return spec

    def resolve_chain(self, name: str) -> list[ModelSpec]:
        """The model, then its fallback models that exist in the catalog, without repeats."""
        spec = self.get(name)
        chain = [spec]
        seen = {spec.name}
        for fallback in spec.fallback_models:
            fallback_spec = self.find(fallback)
            if fallback_spec is not None and fallback_spec.name not in seen:
                seen.add(fallback_spec.name)
                chain.append(fallback_spec)
        return chain

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.find(name) is not None

    def __iter__(self) -> Iterator[ModelSpec]:
        return iter(self._models.values())

    def __len__(self) -> int:
        return len(self._models)

    def __repr__(self) -> str:
        return f"<Catalog: {len(self._models)} models>"

    def names(self) -> list[str]:
        """Every model name, in catalog order."""
        return list(self._models)

    def providers(self) -> frozenset[str]:
        """Every provider alias that some model lists."""
        return self._providers

    def filter(
        self,
        *,
        provider: str | None = None,
        format: ProviderFormat | str | None = None,
        reasoning: bool | None = None,
        multimodal: bool | None = None,
        flavor: str | None = None,
    ) -> list[ModelSpec]:
        """The specs matching every criterion given (None means "any"), in catalog order."""
        wanted_format = None if format is None else ProviderFormat.parse(format)
        return [
            spec
            for spec in self._models.values()
            if (provider is None or provider in spec.available_providers)
            and (wanted_format is None or spec.format is wanted_format)
            and (reasoning is None or spec.reasoning is reasoning)
            and (multimodal is None or spec.multimodal is multimodal)
            and (flavor is None or spec.flavor == flavor)
        ]

    # -- cost -------------------------------------------------------------------------------

    def cost(self, model: str | ModelSpec, usage: Usage | Mapping[str, Any] | object) -> float:
        """Dollar cost of one call's `usage` at the catalog's prices for `model`.

        `usage` is a universal `Usage` (or a mapping/object with its field names), or any
        format's native usage object as the provider sent it: OpenAI Chat and Mistral
        ``usage`` (``prompt_tokens_details.cached_tokens``), OpenAI Responses ``usage``,
        Anthropic ``usage`` (both cache keys), Gemini ``usageMetadata``, Bedrock Converse
        ``usage`` (see `llm_router.usage.parse_usage`).

        One convention, the universal `Usage`'s: `input_tokens` counts *all* prompt tokens,
        cache reads and cache writes included. Cache reads and writes are billed at their own
        prices (at the input price when the catalog has none) and the rest of the input at the
        input price. `output_tokens` includes reasoning tokens, billed at the output price (the
        catalog has no separate reasoning price). Unknown usage keys raise
        `InvalidUsageError` naming them; a price the usage needs but the catalog lacks raises
        `ConfigurationError`. A cost is never silently zero.
        """
        # Usage parsing knows every format's usage shape: loaded when a cost is first asked for.
        from llm_router.usage import parse_usage

        spec = model if isinstance(model, ModelSpec) else self.get(model)
        counted = parse_usage(usage)
        read = counted.cache_read_tokens or 0
        write = counted.cache_write_tokens or 0
        prompt = counted.input_tokens if counted.input_tokens is not None else read + write
        if prompt < read + write:
            raise InvalidUsageError(
                f"usage input_tokens ({prompt}) counts all prompt tokens and cannot be less than "
                f"cache reads + writes ({read} + {write})",
                keys=["input_tokens"],
            )
        output = counted.output_tokens or 0
        read_price = spec.cache_read_cost_per_mil_tokens
        write_price = spec.cache_write_cost_per_mil_tokens
        billed_as_input = (
            prompt
            - read
            - write
            + (read if read_price is None else 0)
            + (write if write_price is None else 0)
        )
        total = (
            billed_as_input * _price(spec, "input_cost_per_mil_tokens", billed_as_input)
            + output * _price(spec, "output_cost_per_mil_tokens", output)
            + (0.0 if read_price is None else read * read_price)
            + (0.0 if write_price is None else write * write_price)
        )
        return total / 1_000_000

    # -- internals --------------------------------------------------------------------------

    def _candidates(self, name: str) -> Iterator[str]:
        yield name
        undated = strip_date_suffix(name)
        if undated is not None:
            yield undated
        prefix, slash, rest = name.partition("/")
        if slash and rest and prefix.lower() in self._providers:
            yield rest
            undated = strip_date_suffix(rest)
            if undated is not None:
                yield undated
        if name.startswith("ft:"):
            # A fine-tuned id (ft:BASE:org::job) is priced like the catalog's ft:BASE entry.
            yield "ft:" + name[3:].partition(":")[0]
        yield from _bedrock_candidates(name)


def _bedrock_candidates(name: str) -> Iterator[str]:
    parts = name.split(".", 2)
    if len(parts) >= 3 and parts[0] in _BEDROCK_GEOS and parts[1] in _BEDROCK_VENDORS:
        name = f"{parts[1]}.{parts[2]}"
        yield name
    vendor, dot, model = name.partition(".")
    if not (dot and vendor in _BEDROCK_VENDORS and model):
        return
    unversioned = _BEDROCK_VERSION.sub("", model)
    yield unversioned
    undated = strip_date_suffix(unversioned)
    if undated is not None:
        yield undated


@functools.cache
def _default_catalog() -> Catalog:
    import importlib.resources

    data = importlib.resources.files("llm_router").joinpath("model_list.json").read_bytes()
    return Catalog.from_bytes(data, source=_DEFAULT_SOURCE)


def _price(spec: ModelSpec, field_name: str, tokens: int) -> float:
    price: float | None = getattr(spec, field_name)
    if price is None:
        if tokens:
            raise ConfigurationError(
                f"model {spec.name!r} has no {field_name} in the catalog; cannot price its usage"
            )
        return 0.0
    return price


# -- validation -------------------------------------------------------------------------------


class _SpecError(Exception):
    """Internal: one field of one spec is invalid; turned into ConfigurationError with context."""

    def __init__(self, field_name: str, problem: str) -> None:
        super().__init__(problem)
        self.field_name = field_name
        self.problem = problem


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _parse_spec(source: str, name: object, raw: object) -> ModelSpec:
    if not isinstance(name, str) or not name:
        raise ConfigurationError(
            f"{source}: model names must be non-empty strings, got {_show(name)}"
        )
    if not isinstance(raw, Mapping):
        raise ConfigurationError(
            f"{source}: model {name!r}: spec must be an object, got {type(raw).__name__}"
        )
    try:
        return _build_spec(name, raw)
    except _SpecError as exc:
        raise ConfigurationError(
            f"{source}: model {name!r}: field {exc.field_name!r} {exc.problem}"
        ) from None


def _build_spec(name: str, raw: Mapping[str, Any]) -> ModelSpec:
    if "format" not in raw:
        raise _SpecError("format", "is required")
    fmt = raw["format"]
    provider_format = _FORMATS.get(fmt) if isinstance(fmt, str) else None
    if provider_format is None:
        known = ", ".join(f.value for f in ProviderFormat)
        raise _SpecError("format", f"must be one of {known}; got {_show(fmt)}")
    prices = {target: _opt_price(raw, source) for source, target in _PRICE_FIELDS}
    return ModelSpec(
        name=name,
        format=provider_format,
        flavor=_opt_str(raw, "flavor") or "chat",
        available_providers=_str_tuple(raw, "available_providers"),
        input_cost_per_mil_tokens=prices["input_cost_per_mil_tokens"],
        output_cost_per_mil_tokens=prices["output_cost_per_mil_tokens"],
        cache_read_cost_per_mil_tokens=prices["cache_read_cost_per_mil_tokens"],
        cache_write_cost_per_mil_tokens=prices["cache_write_cost_per_mil_tokens"],
        input_audio_cost_per_mil_tokens=prices["input_audio_cost_per_mil_tokens"],
        audio_cache_read_cost_per_mil_tokens=prices["audio_cache_read_cost_per_mil_tokens"],
        output_audio_cost_per_mil_tokens=prices["output_audio_cost_per_mil_tokens"],
        max_input_tokens=_opt_count(raw, "max_input_tokens"),
        max_output_tokens=_opt_count(raw, "max_output_tokens"),
        display_name=_opt_str(raw, "displayName"),
        parent=_opt_str(raw, "parent"),
        fallback_models=_str_tuple(raw, "fallback_models"),
        reasoning=_opt_bool(raw, "reasoning"),
        multimodal=_opt_bool(raw, "multimodal"),
        deprecation_date=_opt_date(raw, "deprecation_date"),
        provider_models=_provider_models(raw),
        extra=_NO_EXTRA
        if raw.keys() <= _KNOWN_FIELDS
        else {k: v for k, v in raw.items() if k not in _KNOWN_FIELDS},
    )


def _opt_price(raw: Mapping[str, Any], key: str) -> float | None:
    value = raw.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _SpecError(key, f"must be a number, got {_show(value)}")
    if not math.isfinite(value) or value < 0:
        raise _SpecError(key, f"must be a non-negative number, got {_show(value)}")
    return float(value)


def _opt_count(raw: Mapping[str, Any], key: str) -> int | None:
    value = raw.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise _SpecError(key, f"must be a positive integer, got {_show(value)}")
    return value


def _opt_str(raw: Mapping[str, Any], key: str) -> str | None:
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise _SpecError(key, f"must be a non-empty string, got {_show(value)}")
    return value


def _opt_bool(raw: Mapping[str, Any], key: str) -> bool:
    value = raw.get(key)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise _SpecError(key, f"must be true or false, got {_show(value)}")
    return value


def _str_tuple(raw: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = raw.get(key)
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise _SpecError(key, f"must be a list of non-empty strings, got {_show(value)}")
    return tuple(value)


def _opt_date(raw: Mapping[str, Any], key: str) -> datetime.date | None:
    value = raw.get(key)
    if value is None:
        return None
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):
        try:
            return datetime.date.fromisoformat(value)
        except ValueError:
            pass
    raise _SpecError(key, f"must be a date as YYYY-MM-DD, got {_show(value)}")


def _provider_models(raw: Mapping[str, Any]) -> Mapping[str, tuple[str, ...]]:
    value = raw.get("provider_models")
    if value is None:
        return _NO_LINKS
    if not isinstance(value, Mapping) or not all(
        isinstance(alias, str)
        and isinstance(ids, list)
        and ids
        and all(isinstance(i, str) and i for i in ids)
        for alias, ids in value.items()
    ):
        raise _SpecError(
            "provider_models",
            f"must map provider aliases to lists of model ids; got {_show(value)}",
        )
    return types.MappingProxyType({alias: tuple(ids) for alias, ids in value.items()})
