"""RouterBuilder: collects providers, credentials, catalog and policies, then validates them."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from llm_router import errors
from llm_router.auth import AuthConfig
from llm_router.catalog import Catalog
from llm_router.executor import Executor
from llm_router.limiting import Limiter, LimitRule
from llm_router.providers.base import Provider
from llm_router.ratelimit import RateLimitPolicy
from llm_router.resilience import (
    BreakerPolicy,
    BudgetPolicy,
    HedgePolicy,
    Hooks,
    ResilienceState,
    RetryPolicy,
    TimeoutPolicy,
)
from llm_router.router import Router
from llm_router.routing import DEFAULT_FORWARDED_HEADERS
from llm_router.state import LatencyQuery, MemoryState, SharedState
from llm_router.state.latency import SharedLatencyTracker
from llm_router.strategies import Strategy, latency, ordered, strategy_named, weighted
from llm_router.transport import DEFAULT_POOL_TIMEOUT
from llm_router.upstream import DEFAULT_READ_LIMITS, ReadLimits

if TYPE_CHECKING:
    from opentelemetry.trace import TracerProvider

    from llm_router.realtime.session import Connector

__all__ = ["RouterBuilder", "RouterConfig"]


@dataclass(frozen=True)
class RouterConfig:
    """Everything a Router needs, validated by `RouterBuilder.build()`."""

    catalog: Catalog
    providers: Mapping[str, Provider]
    auth: Mapping[str, AuthConfig]
    model_routes: Mapping[str, Sequence[tuple[str, str | None]]]
    executor: Executor
    forwarded_headers: tuple[str, ...] = DEFAULT_FORWARDED_HEADERS
    transport: httpx.AsyncBaseTransport | None = None
    limits: httpx.Limits = field(
        default_factory=lambda: httpx.Limits(max_connections=100, max_keepalive_connections=20)
    )
    pool_timeout: float = DEFAULT_POOL_TIMEOUT
    read_limits: ReadLimits = DEFAULT_READ_LIMITS
    connect_timeout: float | None = 10.0
    idle_timeout: float | None = 120.0
    tracing: Any = None  # llm_router.tracing.RouterTracing when tracing is on
    websocket_connector: Connector | None = None  # realtime sockets; None: dial them


class RouterBuilder:
    """Fluent configuration: `Router.builder().load_models(...).add_provider(...).build()`."""

    def __init__(self) -> None:
        self._catalog: Catalog | None = None
        self._providers: dict[str, Provider] = {}
        self._auth: dict[str, AuthConfig] = {}
        self._keys: dict[str, str] = {}
        self._model_routes: dict[str, list[tuple[str, str | None]]] = {}
        self._retry: RetryPolicy | None = None
        self._hedge: HedgePolicy | None = None
        self._timeouts: TimeoutPolicy | None = None
        self._hooks: Hooks | None = None
        self._tracing: tuple[TracerProvider | None] | None = None  # (provider,) when asked
        self._breaker: BreakerPolicy | None = BreakerPolicy()
        self._budget: BudgetPolicy = BudgetPolicy()
        self._forwarded: list[str] = list(DEFAULT_FORWARDED_HEADERS)
        self._transport: httpx.AsyncBaseTransport | None = None
        self._websocket_connector: Connector | None = None
        self._limits: httpx.Limits | None = None
        self._pool_timeout = DEFAULT_POOL_TIMEOUT
        self._limit_rules: list[LimitRule] = []
        self._shared_state: SharedState | None = None
        self._strategy: Strategy = ordered
        self._read_limits = DEFAULT_READ_LIMITS
        self._problems: list[str] = []

    # -- catalog ----------------------------------------------------------------------------------
    def load_models(self, path: str | os.PathLike[str] | None = None) -> RouterBuilder:
        """Load a model catalog file (`model_list.json`); None loads the bundled catalog."""
        self._catalog = Catalog.default() if path is None else Catalog.load(Path(path))
        return self

    def with_catalog(self, catalog: Catalog) -> RouterBuilder:
        self._catalog = catalog
        return self

    # -- providers and credentials ----------------------------------------------------------------
    def add_provider(
        self, alias: str, provider: Provider, *, auth: AuthConfig | None = None
    ) -> RouterBuilder:
        """Register `provider` under `alias` (the name used in the catalog's `available_providers`)."""
        if not isinstance(alias, str) or not alias:
            self._problems.append(f"provider alias must be a non-empty string, got {alias!r}")
            return self
        if not isinstance(provider, Provider):
            self._problems.append(
                f"provider {alias!r} must be a Provider instance, got {type(provider).__name__}"
            )
            return self
        if alias in self._providers:
            self._problems.append(
                f"duplicate provider alias {alias!r}: each alias is registered once"
            )
            return self
        self._providers[alias] = provider
        if auth is not None:
            self._auth[alias] = auth
        return self

    def add_api_key(self, alias: str, key: str) -> RouterBuilder:
        """Give provider `alias` an API key, sent in that provider's conventional header."""
        if not isinstance(key, str) or not key:
            self._problems.append(f"API key for {alias!r} must be a non-empty string")
            return self
        self._keys[alias] = key
        return self

    def add_keys_from_env(self, environ: Mapping[str, str] | None = None) -> RouterBuilder:
        """Take keys from the environment (`OPENAI_API_KEY`, ...) for providers that lack one.

        Explicit and opt-in: the router never reads the environment unless this is called.
        """
        env = os.environ if environ is None else environ
        for alias, provider in self._providers.items():
            if alias in self._auth or alias in self._keys:
                continue
            auth = provider.auth_from_env(env)
            if auth is not None:
                self._auth[alias] = auth
        return self

    def add_model_route(
        self, model: str, alias: str, provider_model: str | None = None
    ) -> RouterBuilder:
        """Route `model` to provider `alias` first (as `provider_model` if the id differs there)."""
        self._model_routes.setdefault(model, []).append((alias, provider_model))
        return self

    # -- policies ---------------------------------------------------------------------------------
    def with_retry_policy(self, policy: RetryPolicy) -> RouterBuilder:
        """Backoff and retry limits per route (default: `RetryPolicy()`, 3 attempts)."""
        self._retry = policy
        return self

    def with_hedge_policy(self, policy: HedgePolicy | None) -> RouterBuilder:
        """Start a sibling attempt when the first is slow (default: no hedging)."""
        self._hedge = policy
        return self

    def with_timeouts(self, policy: TimeoutPolicy) -> RouterBuilder:
        """Connect, first-byte, idle and overall limits (default: `TimeoutPolicy()`)."""
        self._timeouts = policy
        return self

    def with_circuit_breaker(self, policy: BreakerPolicy | None) -> RouterBuilder:
        """Per-route circuit breaker (default: `BreakerPolicy()`); None turns breakers off."""
        self._breaker = policy
        return self

    def with_retry_budget(self, policy: BudgetPolicy) -> RouterBuilder:
        """The per-route token bucket limiting retries and hedges (gRPC-style)."""
        self._budget = policy
        return self

    def with_rate_limits(
        self, policy: RateLimitPolicy, *, scope: str = "route", match: str | None = None
    ) -> RouterBuilder:
        """Limit requests, tokens and concurrency per route, per model or per caller key
        (`scope="route"|"model"|"key"`); `match` restricts the policy to one route (key or
        provider alias), model or caller key, else each gets its own limits. Repeatable."""
        if not isinstance(policy, RateLimitPolicy):
            self._problems.append(
                f"with_rate_limits: policy must be a RateLimitPolicy, got {type(policy).__name__}"
            )
        elif scope not in ("route", "model", "key"):
            self._problems.append(
                f'with_rate_limits: scope must be "route", "model" or "key", got {scope!r}'
            )
        else:
            self._limit_rules.append(LimitRule(policy, scope, match))  # type: ignore[arg-type]
        return self

    def with_strategy(
        self,
        strategy: str | Strategy,
        *,
        weights: Mapping[str, float] | None = None,
        exploration: float = 0.1,
    ) -> RouterBuilder:
        """How routes are ranked per call: "ordered" (catalog order, the default), "weighted"
        (`weights` per route key or alias, else rate-limit headroom), "least-busy", "latency"
        (with `exploration`), "cost" or "usage"; or a function (see `llm_router.strategies`).
        Failover and hedging follow the same ranking."""
        try:
            if callable(strategy):
                self._strategy = strategy
            elif strategy == "weighted":
                self._strategy = weighted(weights)
            elif strategy == "latency":
                self._strategy = latency(exploration)
            else:
                self._strategy = strategy_named(strategy)
        except errors.ConfigurationError as exc:
            self._problems.append(str(exc))
        return self

    def with_shared_state(self, state: SharedState) -> RouterBuilder:
        """Keep rate limits and opened circuits in `state` (e.g. `RedisState(url)`), shared
        with every router using the same state (default: this process only)."""
        if not isinstance(state, SharedState):
            self._problems.append(
                f"with_shared_state: expected a SharedState such as RedisState(url), got "
                f"{type(state).__name__}"
            )
        else:
            self._shared_state = state
        return self

    def with_hooks(self, hooks: Hooks) -> RouterBuilder:
        """Callbacks on request start, attempt start/end and request end (no secrets reach them)."""
        self._hooks = hooks
        return self

    def with_tracing(self, tracer_provider: TracerProvider | None = None) -> RouterBuilder:
        """OpenTelemetry spans for every call and attempt, after the GenAI semantic
        conventions (`llm_router.tracing.RouterTracing`); needs the `otel` extra.
        `tracer_provider` defaults to OpenTelemetry's global one. Other hooks still run."""
        try:
            import opentelemetry.trace  # noqa: F401
        except ImportError:
            self._problems.append(
                "with_tracing() needs OpenTelemetry: pip install 'llm-router[otel]'"
            )
            return self
        self._tracing = (tracer_provider,)
        return self

    def forward_headers(self, *names: str) -> RouterBuilder:
        """Also forward these caller headers (names, or prefixes ending in '-'). Credentials,
        cookies and hop-by-hop headers are never forwarded."""
        self._forwarded.extend(n.lower() for n in names)
        return self

    def with_transport(self, transport: httpx.AsyncBaseTransport) -> RouterBuilder:
        """Use this httpx transport (tests, proxies, recording)."""
        self._transport = transport
        return self

    def with_websocket_connector(self, connector: Connector) -> RouterBuilder:
        """Open realtime provider sockets with `connector` instead of dialling them (tests,
        recording: `Cassette.websocket_connector()`); a session's own `connector=` wins."""
        if not callable(connector):
            self._problems.append(
                f"with_websocket_connector takes a callable connector, got {connector!r}"
            )
        self._websocket_connector = connector
        return self

    def with_limits(
        self, limits: httpx.Limits, *, pool_timeout: float = DEFAULT_POOL_TIMEOUT
    ) -> RouterBuilder:
        """Connection limits of the router's pool, and how long a request waits for a free
        connection before `PoolTimeoutError` (see `llm_router.transport`). Ignored with
        `with_transport`."""
        if limits.max_connections is not None and limits.max_connections < 1:
            self._problems.append(
                f"max_connections must be at least 1 (or None), got {limits.max_connections}"
            )
        if not (
            isinstance(pool_timeout, int | float)
            and not isinstance(pool_timeout, bool)
            and pool_timeout > 0
            and math.isfinite(pool_timeout)
        ):
            self._problems.append(f"pool_timeout must be a finite number > 0, got {pool_timeout!r}")
        self._limits = limits
        self._pool_timeout = pool_timeout
        return self

    def with_read_limits(
        self,
        *,
        max_error_body: int = DEFAULT_READ_LIMITS.max_error_body,
        max_response_body: int = DEFAULT_READ_LIMITS.max_response_body,
        max_event_bytes: int = DEFAULT_READ_LIMITS.max_event_bytes,
    ) -> RouterBuilder:
        """Bounds on what is read from upstreams (defaults: 1 MiB error bodies, 64 MiB
        answers, 8 MiB per stream event); see `ReadLimits`. An answer or event over its
        limit raises `ResponseTooLargeError` naming the limit."""
        try:
            self._read_limits = ReadLimits(max_error_body, max_response_body, max_event_bytes)
        except errors.ConfigurationError as exc:
            self._problems.append(str(exc))
        return self

    # -- build ------------------------------------------------------------------------------------
    def build(self) -> Router:
        """Validate and build; every problem found is reported at once in a ConfigurationError."""
        problems = list(self._problems)
        if not self._providers:
            problems.append("no providers: add at least one with add_provider(alias, provider)")
        auth = dict(self._auth)
        for alias, key in self._keys.items():
            provider = self._providers.get(alias)
            if provider is None:
                problems.append(
                    f"add_api_key({alias!r}, ...): no provider is registered under {alias!r}"
                )
            elif alias in auth:
                problems.append(f"provider {alias!r} has both auth= and add_api_key(); keep one")
            else:
                auth[alias] = provider.default_auth(key)
        for alias, provider in self._providers.items():
            if provider.requires_auth and alias not in auth:
                problems.append(
                    f"provider {alias!r} has no credentials: pass auth=..., call add_api_key({alias!r}, key) "
                    "or add_keys_from_env()"
                )
        for model, routes in self._model_routes.items():
            for alias, _ in routes:
                if alias not in self._providers:
                    problems.append(
                        f"add_model_route({model!r}, {alias!r}): no provider is registered under {alias!r}"
                    )
        if problems:
            raise errors.ConfigurationError(
                "invalid router configuration:\n  - " + "\n  - ".join(problems)
            )
        catalog = self._catalog if self._catalog is not None else Catalog.default()
        hooks = self._hooks or Hooks()
        tracing = None
        if self._tracing is not None:
            from llm_router.tracing import RouterTracing, chain_hooks

            tracing = RouterTracing(self._tracing[0], providers=self._providers)
            hooks = chain_hooks(hooks, tracing.hooks)
        state = ResilienceState(breaker=self._breaker, budget=self._budget, hooks=hooks)
        limiter = None
        if self._limit_rules or self._shared_state is not None:
            limiter = Limiter(self._limit_rules, self._shared_state or MemoryState())
        if self._shared_state is not None and limiter is not None:
            share_latency(state, limiter, self._shared_state, self._hedge)
        executor = Executor(
            retry=self._retry,
            hedge=self._hedge,
            timeouts=self._timeouts,
            state=state,
            limiter=limiter,
            strategy=self._strategy,
            catalog=catalog,
        )
        config = RouterConfig(
            catalog=catalog,
            providers=dict(self._providers),
            auth=auth,
            model_routes={k: tuple(v) for k, v in self._model_routes.items()},
            executor=executor,
            forwarded_headers=tuple(dict.fromkeys(self._forwarded)),
            transport=self._transport,
            limits=self._limits or httpx.Limits(max_connections=100, max_keepalive_connections=20),
            pool_timeout=self._pool_timeout,
            read_limits=self._read_limits,
            connect_timeout=executor.connect_timeout,
            idle_timeout=executor.idle_timeout,
            tracing=tracing,
            websocket_connector=self._websocket_connector,
        )
        return Router(config)


def share_latency(
    state: ResilienceState, limiter: Limiter, shared: SharedState, hedge: HedgePolicy | None
) -> None:
    """Keep the routes' latency windows in `shared`: what the `latency` strategy, the adaptive
    hedge delay and `statistics()` read is then the same in every process."""
    _, max_age = state.latency_window

    def tracker(key: str, window: int, max_age: float) -> SharedLatencyTracker:
        return SharedLatencyTracker(key, shared, window=window, max_age=max_age)

    state.latency_factory = tracker
    percentiles = {50.0, 95.0, 99.0}
    if hedge is not None:
        percentiles.add(float(hedge.percentile))
    limiter.latency = LatencyQuery((), tuple(sorted(percentiles)), max_age)
