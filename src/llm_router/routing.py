"""Model resolution: from a model name to the ordered routes that can serve it.

Order: explicit model routes, then the catalog's `available_providers` that are configured,
then the first configured provider speaking the model's format; `fallback_models` extend the
list. Also owns the caller-header allowlist (credentials and hop-by-hop headers never pass).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from llm_router import errors
from llm_router.catalog import Catalog, ModelSpec, strip_date_suffix
from llm_router.providers.base import Provider
from llm_router.scrub import CREDENTIAL_HEADERS
from llm_router.types import ProviderFormat

__all__ = [
    "DEFAULT_FORWARDED_HEADERS",
    "NEVER_FORWARDED",
    "Route",
    "Resolver",
    "forwardable_headers",
    "pick_provider_model",
]


@dataclass(frozen=True, slots=True)
class Route:
    """One way to serve a request: provider alias, wire format spoken to it, provider model id."""

    alias: str
    provider: Provider
    format: ProviderFormat
    model: str
    catalog_model: str | None

    @property
    def key(self) -> str:
        return f"{self.alias}/{self.model}"

    def __repr__(self) -> str:
        return f"Route({self.key}, {self.format.value})"


#: Caller headers forwarded to providers unless configured otherwise (exact names or prefixes
#: ending in "-").
DEFAULT_FORWARDED_HEADERS: tuple[str, ...] = (
    "anthropic-beta",
    "openai-beta",
    "idempotency-key",
    "traceparent",
    "tracestate",
    "x-request-id",
)
#: Never forwarded, whatever the allowlist says: credentials, cookies and hop-by-hop headers.
NEVER_FORWARDED = CREDENTIAL_HEADERS | frozenset(
    {
        "x-amz-date",
        "x-amz-content-sha256",
        "set-cookie",
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
        "content-type",
        "accept-encoding",
    }
)


# Bedrock cross-region inference profiles by the geography of the provider's region.
_BEDROCK_GEOGRAPHIES: tuple[tuple[str, str], ...] = (
    ("us-gov-", "us-gov"),
    ("us-", "us"),
    ("eu-", "eu"),
    ("ap-northeast-1", "jp"),
    ("ap-northeast-3", "jp"),
    ("ap-southeast-2", "au"),
    ("ap-southeast-4", "au"),
    ("ap-", "apac"),
    ("ca-", "ca"),
)


def pick_provider_model(provider: Provider, provider_models: Sequence[str]) -> str:
    """Which of a provider's ids for one model to send.

    Bedrock lists the base id and its inference profiles: the profile of the provider's own
    geography (`us.` in us-east-1) is preferred, then `global.`, then the base id. Any other
    provider gets its first id.
    """
    region = getattr(provider, "region", None)
    if not isinstance(region, str) or len(provider_models) == 1:
        return provider_models[0]
    geography = next((geo for prefix, geo in _BEDROCK_GEOGRAPHIES if region.startswith(prefix)), "")
    for wanted in [f"{geography}."] * bool(geography) + ["global."]:
        for provider_model in provider_models:
            if provider_model.startswith(wanted):
                return provider_model
    profiles = {geo for _, geo in _BEDROCK_GEOGRAPHIES} | {"global"}
    plain = [m for m in provider_models if m.partition(".")[0] not in profiles]
    return plain[0] if plain else provider_models[0]


def forwardable_headers(headers: Mapping[str, str] | None, allow: Sequence[str]) -> dict[str, str]:
    """The subset of caller `headers` allowed through (`allow`: names, or prefixes ending in '-')."""
    if not headers:
        return {}
    out: dict[str, str] = {}
    for name, value in headers.items():
        low = name.lower()
        if low in NEVER_FORWARDED:
            continue
        if any(low == a or (a.endswith("-") and low.startswith(a)) for a in allow):
            out[low] = value
    return out


class Resolver:
    """Resolves model names to routes over a fixed set of configured providers."""

    def __init__(
        self,
        catalog: Catalog,
        providers: Mapping[str, Provider],
        model_routes: Mapping[str, Sequence[tuple[str, str | None]]],
    ) -> None:
        self._catalog = catalog
        self._providers = dict(providers)
        self._model_routes = {k: list(v) for k, v in model_routes.items()}

    @property
    def catalog(self) -> Catalog:
        return self._catalog

    def resolve(
        self, model: str, caller: ProviderFormat, *, realtime: bool | None = None
    ) -> list[Route]:
        """Ordered routes for `model`, fallbacks included; raises ModelNotFoundError/NoRouteError.

        `realtime` keeps the routes whose model can serve a realtime session (True) or an HTTP
        call (False) by the catalog's flavor (a model the catalog does not know may serve
        either), raising `NotRealtimeModelError` / `RealtimeOnlyModelError` when none can;
        None keeps every route (inspection)."""
        routes = self._resolve(model, caller)
        return routes if realtime is None else self.serving(model, routes, realtime=realtime)

    def serving(self, model: str, routes: Sequence[Route], *, realtime: bool) -> list[Route]:
        """The `routes` of `model` whose model serves realtime sessions (or HTTP calls); see
        `resolve`."""
        kept = [route for route in routes if self._serves(route, realtime)]
        if kept:
            return kept
        if realtime:
            # Realtime models the same providers serve, to name instead.
            kinds = {route.alias for route in routes} | {route.provider.kind for route in routes}
            examples = sorted(
                spec.name
                for spec in self._catalog.filter(flavor="realtime")
                if not spec.parent and kinds & set(spec.available_providers)
            )[:4] or ["gpt-realtime", "gemini-live-2.5-flash-preview"]
            spec = self._catalog.find(model)
            raise errors.NotRealtimeModelError(
                f"model {model!r} is not a realtime model: realtime sessions need a model the "
                f"catalog flags as realtime (flavor 'realtime'), e.g. {', '.join(examples)}",
                model=model,
                kind=spec.flavor if spec is not None else "chat",
            )
        raise errors.RealtimeOnlyModelError(
            f"model {model!r} is served only over realtime WebSocket sessions: open one with "
            f"router.realtime({model!r}, 'openai-realtime') (the gateway's /v1/realtime), or "
            "ask a chat model",
            model=model,
        )

    def _serves(self, route: Route, realtime: bool) -> bool:
        spec = self._catalog.find(route.model)
        if spec is None and route.catalog_model is not None:
            spec = self._catalog.find(route.catalog_model)
        return spec is None or spec.realtime is realtime

    def _resolve(self, model: str, caller: ProviderFormat) -> list[Route]:
        spec = self._catalog.find(model)
        if spec is None and model not in self._model_routes:
            self._catalog.get(model)  # raises ModelNotFoundError with suggestions
        routes = self._routes_for(model, spec, caller)
        if not routes:
            wanted = ", ".join(spec.available_providers) if spec else "none"
            have = ", ".join(self._providers) or "none"
            raise errors.NoRouteError(
                f"no configured provider serves model {model!r} (catalog lists: {wanted}; "
                f"configured: {have}); add one with Router.builder().add_provider(...)"
            )
        if spec is not None:
            seen = {r.key for r in routes}
            # A fallback may be the same model under a provider's own id (Vertex's
            # `publishers/google/models/gemini-2.5-flash` for `gemini-2.5-flash`): a provider
            # already routed for that model gets no second route, which would send the same
            # failing request to the same upstream twice.
            served = {(r.alias, _base_model(r.model)) for r in routes}
            for fallback in spec.fallback_models:
                fb_spec = self._catalog.find(fallback)
                for route in self._routes_for(fallback, fb_spec, caller, fallback=True):
                    same = (route.alias, _base_model(route.model))
                    if route.key not in seen and same not in served:
                        seen.add(route.key)
                        served.add(same)
                        routes.append(route)
        return routes

    def _routes_for(
        self, model: str, spec: ModelSpec | None, caller: ProviderFormat, *, fallback: bool = False
    ) -> list[Route]:
        routes: list[Route] = []
        seen: set[str] = set()

        def add(alias: str, provider_model: str, linked: bool = False) -> None:
            provider = self._providers[alias]
            model_format = spec.format if spec else None
            if linked:  # another provider's id: its own entry's format, else the id decides
                linked_spec = self._catalog.find(provider_model)
                model_format = linked_spec.format if linked_spec else None
            route = Route(
                alias,
                provider,
                provider.format_for(model_format, caller, model=provider_model),
                provider_model,
                spec.name if spec else None,
            )
            if route.key not in seen:
                seen.add(route.key)
                routes.append(route)

        for alias, provider_model in self._model_routes.get(model, ()):
            add(alias, provider_model or model)
        if spec is None:
            return routes
        for alias, provider_model in self._model_routes.get(spec.name, ()):
            add(alias, provider_model or model)
        # A dated id is sent as asked; a lookup that stripped a provider or Bedrock prefix
        # ("openai/gpt-4o") sends the catalog's own name, which is what providers know.
        wire_model = (
            model if model == spec.name or strip_date_suffix(model) == spec.name else spec.name
        )
        for alias in spec.available_providers:
            if alias in self._providers:
                add(alias, wire_model)
        # The same model under other providers' own ids (Bedrock, Vertex, Databricks, ...).
        for alias, provider_models in spec.provider_models.items():
            if alias in self._providers and alias not in spec.available_providers:
                add(alias, pick_provider_model(self._providers[alias], provider_models), True)
        # The "any provider speaking the format" rule serves names the caller asked for; a
        # fallback name (often another provider's id for the model) only uses its own providers.
        if not routes and not fallback:
            for alias in self._default_aliases(spec.format):
                add(alias, wire_model)
                break
        return routes

    def _default_aliases(self, fmt: ProviderFormat) -> Iterable[str]:
        for alias, provider in self._providers.items():
            if fmt in provider.native_formats:
                yield alias


def _base_model(model: str) -> str:
    """The model a provider id names, without publisher path, `@version` or date suffix."""
    name = model.rsplit("/", 1)[-1].partition("@")[0]
    return strip_date_suffix(name) or name
