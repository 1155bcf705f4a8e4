"""`router.toml`: the gateway's configuration file, validated on load, turned into a Router.

Every problem is reported at once, each naming the file, the table and the key
(``router.toml: [providers.openai] kind: must be one of ...``). The file names environment
variables, never secrets: keys are read from the environment when the router is built, and a
provider whose variable is unset is left out with one warning line.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llm_router import errors
from llm_router.auth import ApiKey, AuthConfig, AwsSigV4, AzureEntra, GoogleServiceAccount, OAuth
from llm_router.builder import RouterBuilder
from llm_router.gateway.sharing import (
    SHARING_TABLES,
    SharingSettings,
    apply_sharing,
    parse_sharing,
)
from llm_router.providers import (
    AnthropicProvider,
    AzureProvider,
    BedrockProvider,
    GoogleProvider,
    MistralProvider,
    OpenAICompatibleProvider,
    OpenAIProvider,
    VertexProvider,
)
from llm_router.providers.base import Provider
from llm_router.resilience import (
    BreakerPolicy,
    BudgetPolicy,
    HedgePolicy,
    RetryPolicy,
    TimeoutPolicy,
)
from llm_router.router import Router

__all__ = [
    "ConfigFileError",
    "GatewayConfig",
    "GatewaySettings",
    "ProviderSettings",
    "build_router",
    "load_config",
    "parse_config",
]

PROVIDER_KINDS = (
    "openai",
    "anthropic",
    "google",
    "vertex",
    "bedrock",
    "azure",
    "mistral",
    "compatible",
)
_COMMON_KEYS = frozenset({"kind", "base_url", "api_key_env", "headers"})
_KIND_KEYS: Mapping[str, frozenset[str]] = {
    "openai": frozenset({"organization", "project"}),
    "anthropic": frozenset({"version"}),
    "google": frozenset({"api_version"}),
    "vertex": frozenset(
        {"project", "location", "api_version", "credentials_file", "access_token_env"}
    ),
    "bedrock": frozenset({"region", "profile"}),
    "azure": frozenset({"endpoint", "api_version", "deployments", "ad_token_env"}),
    "mistral": frozenset(),
    "compatible": frozenset({"preset", "name", "workspace", "requires_auth"}),
}
_POLICIES: Mapping[str, type[Any]] = {
    "retry": RetryPolicy,
    "hedge": HedgePolicy,
    "timeouts": TimeoutPolicy,
    "breaker": BreakerPolicy,
    "budget": BudgetPolicy,
}
_TOP_LEVEL = frozenset({"gateway", "providers", "models", "telemetry", *_POLICIES, *SHARING_TABLES})
_EXPORTERS = ("global", "otlp", "console")


class ConfigFileError(errors.ConfigurationError):
    """The configuration file is unreadable or invalid; the message lists every problem."""


@dataclass(frozen=True, slots=True)
class GatewaySettings:
    """The `[gateway]` table: how the service listens and whom it lets in.

    `api_keys_env` names a variable holding comma-separated tokens callers must present;
    `named_keys_env` maps key names to variables holding one token each (a named key is its
    caller's identity for `scope = "key"` rate limits, matched by name);
    `read_timeout` bounds the arrival of a request's whole body; `shutdown_grace` is how long
    in-flight calls may run after SIGTERM before they are cancelled.
    """

    host: str = "127.0.0.1"
    port: int = 8080
    api_keys_env: str | None = None
    named_keys_env: Mapping[str, str] = field(default_factory=dict)
    max_body_bytes: int = 10_000_000
    forward_headers: tuple[str, ...] = ()
    backlog: int = 4096
    read_timeout: float = 30.0
    shutdown_grace: float = 30.0
    access_log: bool = True
    models_file: str | None = None


@dataclass(frozen=True, slots=True)
class TelemetrySettings:
    """The `[telemetry]` table: OpenTelemetry spans for each request and attempt.

    `exporter`: ``"global"`` uses the tracer provider already installed (by
    `opentelemetry-instrument` or the embedding program), ``"otlp"`` sends over OTLP/HTTP
    (`OTEL_EXPORTER_OTLP_*` variables; needs opentelemetry-exporter-otlp-proto-http),
    ``"console"`` prints spans as JSON on stdout.
    """

    otel: bool = False
    exporter: str = "global"
    service_name: str = "llm-router"


@dataclass(frozen=True, slots=True)
class ProviderSettings:
    """One `[providers.ALIAS]` table, validated but not yet built (keys come at build time)."""

    alias: str
    kind: str
    options: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    """A whole validated configuration file."""

    source: str
    gateway: GatewaySettings = field(default_factory=GatewaySettings)
    providers: tuple[ProviderSettings, ...] = ()
    models: Mapping[str, tuple[tuple[str, str | None], ...]] = field(default_factory=dict)
    policies: Mapping[str, Any] = field(default_factory=dict)  # table -> policy or None (off)
    sharing: SharingSettings = field(default_factory=SharingSettings)
    telemetry: TelemetrySettings = field(default_factory=TelemetrySettings)


class _Problems:
    def __init__(self, source: str) -> None:
        self.source = source
        self.items: list[str] = []

    def add(self, table: str, key: str | None, message: str) -> None:
        where = f"[{table}]" if key is None else f"[{table}] {key}"
        self.items.append(f"{where}: {message}")

    def raise_if_any(self) -> None:
        if self.items:
            if len(self.items) == 1:
                raise ConfigFileError(f"{self.source}: {self.items[0]}")
            raise ConfigFileError(
                f"{self.source}: {len(self.items)} problems:\n  - " + "\n  - ".join(self.items)
            )


def load_config(path: str | os.PathLike[str]) -> GatewayConfig:
    """Read and validate a `router.toml` file."""
    source = os.fspath(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigFileError(f"{source}: cannot read the file: {exc.strerror}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigFileError(f"{source}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigFileError(f"{source}: not valid TOML: {exc}") from None
    return parse_config(data, source)


def parse_config(data: Mapping[str, Any], source: str = "<config>") -> GatewayConfig:
    """Validate an already-parsed TOML document; `source` names it in error messages."""
    problems = _Problems(source)
    for key in data:
        if key not in _TOP_LEVEL:
            problems.items.append(
                f"[{key}]: unknown table; expected one of: {', '.join(sorted(_TOP_LEVEL))}"
            )
    gateway = _gateway(_table(data, "gateway", problems), problems)
    providers = _providers(_table(data, "providers", problems), problems)
    models = _models(_table(data, "models", problems), {p.alias for p in providers}, problems)
    policies: dict[str, Any] = {}
    for name, cls in _POLICIES.items():
        if name in data:
            policies[name] = _policy(name, cls, _table(data, name, problems), problems)
    sharing = parse_sharing(data, problems.add)
    telemetry = _telemetry(_table(data, "telemetry", problems), problems)
    _check_key_limits(gateway, sharing, problems)
    problems.raise_if_any()
    return GatewayConfig(source, gateway, tuple(providers), models, policies, sharing, telemetry)


def _telemetry(table: Mapping[str, Any], problems: _Problems) -> TelemetrySettings:
    values: dict[str, Any] = {}
    for key, value in table.items():
        if key == "otel":
            if not isinstance(value, bool):
                problems.add("telemetry", key, f"must be true or false, got {value!r}")
                continue
        elif key == "exporter":
            if value not in _EXPORTERS:
                problems.add(
                    "telemetry", key, f"must be one of {', '.join(_EXPORTERS)}, got {value!r}"
                )
                continue
        elif key == "service_name":
            if not isinstance(value, str) or not value:
                problems.add("telemetry", key, f"must be a non-empty string, got {value!r}")
                continue
        else:
            problems.add(
                "telemetry", key, "unknown key; expected one of: otel, exporter, service_name"
            )
            continue
        values[key] = value
    return TelemetrySettings(**values)


def _table(data: Mapping[str, Any], name: str, problems: _Problems) -> Mapping[str, Any]:
    value = data.get(name, {})
    if not isinstance(value, dict):
        problems.add(name, None, f"must be a table, got {type(value).__name__}")
        return {}
    return value


_GATEWAY_TYPES: Mapping[str, tuple[type[Any], ...]] = {
    "host": (str,),
    "port": (int,),
    "api_keys_env": (str,),
    "named_keys_env": (dict,),
    "max_body_bytes": (int,),
    "forward_headers": (list,),
    "backlog": (int,),
    "read_timeout": (int, float),
    "shutdown_grace": (int, float),
    "access_log": (bool,),
    "models_file": (str,),
}


def _gateway(table: Mapping[str, Any], problems: _Problems) -> GatewaySettings:
    values: dict[str, Any] = {}
    for key, value in table.items():
        types = _GATEWAY_TYPES.get(key)
        if types is None:
            problems.add(
                "gateway", key, f"unknown key; expected one of: {', '.join(_GATEWAY_TYPES)}"
            )
            continue
        if (isinstance(value, bool) and bool not in types) or not isinstance(value, types):
            expected = " or ".join(t.__name__ for t in types)
            problems.add("gateway", key, f"must be {expected}, got {value!r}")
            continue
        values[key] = value
    if "port" in values and not 0 <= values["port"] <= 65535:
        problems.add("gateway", "port", f"must be from 0 to 65535, got {values.pop('port')}")
    for key in ("max_body_bytes", "backlog"):
        if key in values and values[key] < 1:
            problems.add("gateway", key, f"must be at least 1, got {values.pop(key)}")
    for key in ("read_timeout", "shutdown_grace"):
        if key in values and not values[key] > 0:
            problems.add("gateway", key, f"must be a number of seconds > 0, got {values.pop(key)}")
    if "forward_headers" in values:
        names = values["forward_headers"]
        if not all(isinstance(n, str) and n for n in names):
            problems.add("gateway", "forward_headers", "must be a list of header names")
            del values["forward_headers"]
        else:
            values["forward_headers"] = tuple(n.lower() for n in names)
    if values.get("api_keys_env") == "":
        problems.add("gateway", "api_keys_env", "must name an environment variable")
        del values["api_keys_env"]
    named = values.get("named_keys_env")
    if named is not None and not all(
        isinstance(name, str) and name and isinstance(var, str) and var
        for name, var in named.items()
    ):
        problems.add(
            "gateway",
            "named_keys_env",
            "must be a table of key names to environment variable names, e.g. "
            '{ team-a = "TEAM_A_KEY" }',
        )
        del values["named_keys_env"]
    return GatewaySettings(**values)


def _check_key_limits(
    gateway: GatewaySettings, sharing: SharingSettings, problems: _Problems
) -> None:
    """`scope = "key"` limits need gateway keys, and a `match` must name a named key."""
    for i, (_, scope, match) in enumerate(sharing.rate_limits):
        if scope != "key":
            continue
        if gateway.api_keys_env is None and not gateway.named_keys_env:
            problems.add(
                f"rate_limits[{i}]",
                "scope",
                "limits per key need gateway keys: set [gateway] api_keys_env or named_keys_env",
            )
        elif match is not None and match not in gateway.named_keys_env:
            names = ", ".join(sorted(gateway.named_keys_env)) or "none"
            problems.add(
                f"rate_limits[{i}]",
                "match",
                f"no key named {match!r} in [gateway] named_keys_env (names: {names})",
            )


def _providers(table: Mapping[str, Any], problems: _Problems) -> list[ProviderSettings]:
    out: list[ProviderSettings] = []
    for alias, options in table.items():
        name = f"providers.{alias}"
        if not isinstance(options, dict):
            problems.add(name, None, "must be a table")
            continue
        kind = options.get("kind")
        if kind not in PROVIDER_KINDS:
            problems.add(name, "kind", f"must be one of {', '.join(PROVIDER_KINDS)}; got {kind!r}")
            continue
        allowed = _COMMON_KEYS | _KIND_KEYS[kind]
        ok = True
        for key, value in options.items():
            if key not in allowed:
                problems.add(
                    name,
                    key,
                    f"unknown key for kind {kind!r}; expected one of: {', '.join(sorted(allowed))}",
                )
                ok = False
            elif key in ("headers", "deployments"):
                if not isinstance(value, dict) or not all(
                    isinstance(v, str) for v in value.values()
                ):
                    problems.add(name, key, "must be a table of strings")
                    ok = False
            elif key == "requires_auth":
                if not isinstance(value, bool):
                    problems.add(name, key, f"must be true or false, got {value!r}")
                    ok = False
            elif not isinstance(value, str) or not value:
                problems.add(name, key, f"must be a non-empty string, got {value!r}")
                ok = False
        if kind == "vertex" and "project" not in options:
            problems.add(name, "project", "is required for kind 'vertex' (the GCP project id)")
            ok = False
        if kind == "azure" and not (options.get("endpoint") or options.get("base_url")):
            problems.add(
                name, "endpoint", "is required for kind 'azure' (https://NAME.openai.azure.com)"
            )
            ok = False
        if kind == "compatible" and not (options.get("base_url") or options.get("preset")):
            problems.add(name, "base_url", "is required for kind 'compatible' (or set preset)")
            ok = False
        if ok:
            out.append(ProviderSettings(alias, kind, dict(options)))
    return out


def _models(
    table: Mapping[str, Any], aliases: set[str], problems: _Problems
) -> dict[str, tuple[tuple[str, str | None], ...]]:
    out: dict[str, tuple[tuple[str, str | None], ...]] = {}
    for model, options in table.items():
        name = f"models.{model}"
        if not isinstance(options, dict):
            problems.add(name, None, "must be a table with a routes list")
            continue
        for key in options:
            if key != "routes":
                problems.add(name, key, "unknown key; expected: routes")
        routes = options.get("routes")
        if not isinstance(routes, list) or not routes:
            problems.add(name, "routes", "must be a non-empty list of {provider, model} tables")
            continue
        parsed: list[tuple[str, str | None]] = []
        for i, route in enumerate(routes):
            if not isinstance(route, dict) or set(route) - {"provider", "model"}:
                problems.add(name, f"routes[{i}]", "must be a table with provider and model")
                continue
            provider, target = route.get("provider"), route.get("model")
            if not isinstance(provider, str) or provider not in aliases:
                problems.add(
                    name,
                    f"routes[{i}].provider",
                    f"{provider!r} is not a [providers.*] table; configured: "
                    + (", ".join(sorted(aliases)) or "none"),
                )
                continue
            if target is not None and (not isinstance(target, str) or not target):
                problems.add(name, f"routes[{i}].model", f"must be a model id, got {target!r}")
                continue
            parsed.append((provider, target))
        out[model] = tuple(parsed)
    return out


def _policy(name: str, cls: type[Any], table: Mapping[str, Any], problems: _Problems) -> Any:
    fields = [f.name for f in dataclasses.fields(cls)]
    values = dict(table)
    enabled = values.pop("enabled", True)
    if not isinstance(enabled, bool):
        problems.add(name, "enabled", f"must be true or false, got {enabled!r}")
    unknown = [k for k in values if k not in fields]
    for key in unknown:
        problems.add(name, key, f"unknown key; expected one of: enabled, {', '.join(fields)}")
    if unknown or enabled is False:
        return None
    try:
        return cls(**values)
    except errors.ConfigurationError as exc:
        message = str(exc)
        prefix = cls.__name__ + "."
        if message.startswith(prefix):
            key, _, rest = message[len(prefix) :].partition(" ")
            problems.add(name, key, rest)
        else:
            problems.add(name, None, message)
    except TypeError as exc:
        problems.add(name, None, str(exc))
    return None


# -- building the router ----------------------------------------------------------------------


def build_router(
    config: GatewayConfig,
    environ: Mapping[str, str] | None = None,
    *,
    warn: Callable[[str], None] | None = None,
) -> Router:
    """The Router a configuration describes, with keys read from `environ` (default: the
    process environment). A provider without credentials is left out with one `warn` line;
    routes to it are dropped. Raises ConfigFileError when no provider is left."""
    env = os.environ if environ is None else environ
    say = warn or (lambda line: None)
    settings = config.gateway
    builder = RouterBuilder().load_models(settings.models_file)
    builder.forward_headers(*settings.forward_headers)
    problems = _Problems(config.source)
    kept: set[str] = set()
    for item in config.providers:
        table = f"providers.{item.alias}"
        try:
            provider = _make_provider(item)
            auth = _credentials(item, provider, env, table)
        except _LeftOut as reason:
            say(f"llm-router: provider {item.alias!r} left out: {reason}")
            continue
        except errors.ConfigurationError as exc:
            problems.add(table, None, str(exc))
            continue
        builder.add_provider(item.alias, provider, auth=auth)
        kept.add(item.alias)
    problems.raise_if_any()
    if not kept:
        raise ConfigFileError(
            f"{config.source}: no provider is usable (none configured, or none has credentials)"
        )
    for model, routes in config.models.items():
        usable = [(alias, target) for alias, target in routes if alias in kept]
        if not usable:
            say(f"llm-router: model {model!r} has no usable route (its providers were left out)")
        for alias, target in usable:
            builder.add_model_route(model, alias, target)
    for name, setter in (
        ("retry", builder.with_retry_policy),
        ("hedge", builder.with_hedge_policy),
        ("timeouts", builder.with_timeouts),
        ("breaker", builder.with_circuit_breaker),
        ("budget", builder.with_retry_budget),
    ):
        if name in config.policies:
            policy = config.policies[name]
            if policy is not None or name in ("hedge", "breaker"):
                setter(policy)
    apply_sharing(config.sharing, builder, env, problems.add)
    telemetry = config.telemetry
    if telemetry.otel:
        try:
            from llm_router.tracing import tracer_provider_for
        except ImportError:
            problems.add("telemetry", "otel", "needs OpenTelemetry: pip install 'llm-router[otel]'")
        else:
            try:
                tracer_provider = tracer_provider_for(telemetry.exporter, telemetry.service_name)
            except errors.ConfigurationError as exc:
                problems.add("telemetry", "exporter", str(exc))
            else:
                builder.with_tracing(tracer_provider)
    problems.raise_if_any()
    return builder.build()


class _LeftOut(Exception):
    """A provider is skipped (missing credentials); the message names the variable, never a key."""


def _make_provider(item: ProviderSettings) -> Provider:
    o = item.options
    base_url = o.get("base_url")
    headers = o.get("headers")
    kind = item.kind
    if kind == "openai":
        return OpenAIProvider(
            base_url, organization=o.get("organization"), project=o.get("project"), headers=headers
        )
    if kind == "anthropic":
        if "version" in o:
            return AnthropicProvider(base_url, version=o["version"], headers=headers)
        return AnthropicProvider(base_url, headers=headers)
    if kind == "google":
        return GoogleProvider(base_url, api_version=o.get("api_version", "v1beta"), headers=headers)
    if kind == "vertex":
        return VertexProvider(
            o["project"],
            o.get("location", "us-central1"),
            base_url,
            api_version=o.get("api_version", "v1"),
            headers=headers,
        )
    if kind == "bedrock":
        return BedrockProvider(_bedrock_region(item), base_url, headers=headers)
    if kind == "azure":
        return AzureProvider(
            o.get("endpoint") or base_url,
            o.get("api_version"),
            o.get("deployments"),
            headers=headers,
        )
    if kind == "mistral":
        return MistralProvider(base_url, headers=headers)
    if "preset" in o:
        return OpenAICompatibleProvider.preset(
            o["preset"], base_url=base_url, workspace=o.get("workspace"), headers=headers
        )
    return OpenAICompatibleProvider(
        base_url or "",
        name=o.get("name", item.alias),
        requires_auth=o.get("requires_auth", "api_key_env" in o),
        headers=headers,
    )


def _bedrock_region(item: ProviderSettings) -> str:
    region = item.options.get("region")
    if region:
        return str(region)
    session = _botocore_session(item)
    found = session.get_config_variable("region")
    return str(found) if found else "us-east-1"


def _botocore_session(item: ProviderSettings) -> Any:
    import botocore.exceptions
    import botocore.session

    profile = item.options.get("profile")
    session = botocore.session.Session(profile=profile)
    try:
        session.get_scoped_config()
    except botocore.exceptions.ProfileNotFound:
        raise errors.ConfigurationError(
            f"profile: AWS profile {profile!r} is not in the AWS config files"
        ) from None
    return session


def _env_value(env: Mapping[str, str], variable: str) -> str:
    value = env.get(variable, "").strip()
    if not value:
        raise _LeftOut(f"{variable} is not set")
    return value


def _credentials(
    item: ProviderSettings, provider: Provider, env: Mapping[str, str], table: str
) -> AuthConfig | None:
    o = item.options
    variable = o.get("api_key_env")
    if item.kind == "vertex":
        return _vertex_credentials(item, env)
    if variable is not None:
        return provider.default_auth(_env_value(env, variable))
    if item.kind == "azure" and "ad_token_env" in o:
        return AzureEntra(_env_value(env, o["ad_token_env"]))
    if item.kind == "bedrock":
        return _bedrock_credentials(item, provider, env)
    if not provider.requires_auth:
        return None
    auth = provider.auth_from_env(env)
    if auth is None:
        names = provider.env_keys or getattr(provider, "key_env_vars", ())
        hint = " or ".join(names) if names else "api_key_env"
        raise _LeftOut(f"no credentials ({hint} is not set; or set api_key_env in [{table}])")
    return auth


def _vertex_credentials(item: ProviderSettings, env: Mapping[str, str]) -> AuthConfig:
    o = item.options
    if "credentials_file" in o:
        try:
            return GoogleServiceAccount(o["credentials_file"])
        except errors.ConfigurationError as exc:
            raise errors.ConfigurationError(f"credentials_file: {exc}") from None
    variable = o.get("access_token_env") or o.get("api_key_env")
    if variable:
        return OAuth(_env_value(env, variable))
    path = env.get("GOOGLE_APPLICATION_CREDENTIALS")
    if path:
        try:
            return GoogleServiceAccount(path)
        except errors.ConfigurationError as exc:
            raise errors.ConfigurationError(f"GOOGLE_APPLICATION_CREDENTIALS: {exc}") from None
    token = env.get("GOOGLE_OAUTH_ACCESS_TOKEN")
    if token:
        return OAuth(token)
    raise _LeftOut(
        "no credentials (set credentials_file, or GOOGLE_APPLICATION_CREDENTIALS to a "
        "service-account file)"
    )


def _bedrock_credentials(
    item: ProviderSettings, provider: Provider, env: Mapping[str, str]
) -> AuthConfig:
    token = env.get("AWS_BEARER_TOKEN_BEDROCK")
    if token:
        return ApiKey(token)
    assert isinstance(provider, BedrockProvider)
    found = _botocore_session(item).get_credentials()
    if found is None:
        raise _LeftOut(
            "no AWS credentials (environment, shared credentials file, profile or instance role)"
        )
    frozen = found.get_frozen_credentials()
    return AwsSigV4(frozen.access_key, frozen.secret_key, frozen.token, region=provider.region)
