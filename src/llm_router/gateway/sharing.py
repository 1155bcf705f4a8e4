"""The `[shared_state]`, `[strategy]` and `[[rate_limits]]` tables of `router.toml`.

```toml
[shared_state]            # share limits and circuits between gateway processes
url_env = "REDIS_URL"     # or url = "redis://127.0.0.1:6379/0" (no password in the file)
prefix = "llm-router"
timeout = 0.1
fallback_share = 0.25     # each of 4 processes enforces a quarter while Redis is down
cluster = false           # true: url names one node of a Redis Cluster

[strategy]
name = "weighted"         # ordered, weighted, least-busy, latency, cost, usage
weights = { openai = 3, anthropic = 1 }

[[rate_limits]]
scope = "route"           # route, model or key (a key: [gateway] named_keys_env)
match = "openai"          # optional: one route, provider alias, model or key name
rpm = 500
tpm = 200000
```
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from llm_router import errors
from llm_router.builder import RouterBuilder
from llm_router.ratelimit import RateLimitPolicy
from llm_router.state import RedisState
from llm_router.strategies import STRATEGIES, latency, weighted

__all__ = ["SHARING_TABLES", "SharingSettings", "apply_sharing", "parse_sharing"]

SHARING_TABLES = frozenset({"shared_state", "strategy", "rate_limits"})
_STATE_KEYS = ("url", "url_env", "prefix", "timeout", "fallback_share", "cluster")
_STRATEGY_KEYS = ("name", "weights", "exploration")
_LIMIT_FIELDS = tuple(f.name for f in dataclasses.fields(RateLimitPolicy))

#: add(table, key, message): how a problem is reported (the config loader's collector).
Report = Callable[[str, str | None, str], None]


@dataclass(frozen=True, slots=True)
class SharingSettings:
    shared_state: Mapping[str, Any] | None = None
    strategy: Mapping[str, Any] | None = None
    rate_limits: tuple[tuple[RateLimitPolicy, str, str | None], ...] = field(default=())


def parse_sharing(data: Mapping[str, Any], add: Report) -> SharingSettings:
    """Validate the three tables (absent ones stay None / empty)."""
    state = _shared_state(data.get("shared_state"), add) if "shared_state" in data else None
    strategy = _strategy(data.get("strategy"), add) if "strategy" in data else None
    limits = _rate_limits(data.get("rate_limits", []), add)
    return SharingSettings(state, strategy, limits)


def _keys_known(table: str, value: Mapping[str, Any], known: tuple[str, ...], add: Report) -> bool:
    ok = True
    for key in value:
        if key not in known:
            add(table, key, f"unknown key; expected one of: {', '.join(known)}")
            ok = False
    return ok


def _shared_state(value: Any, add: Report) -> Mapping[str, Any] | None:
    if not isinstance(value, dict):
        add("shared_state", None, f"must be a table, got {type(value).__name__}")
        return None
    if not _keys_known("shared_state", value, _STATE_KEYS, add):
        return None
    if ("url" in value) == ("url_env" in value):
        add("shared_state", None, "give exactly one of url or url_env")
        return None
    for key in ("url", "url_env", "prefix"):
        if key in value and not (isinstance(value[key], str) and value[key]):
            add("shared_state", key, f"must be a non-empty string, got {value[key]!r}")
            return None
    if "url" in value:
        try:  # validates the scheme and numbers now; the URL is never echoed with a password
            RedisState(value["url"], **_state_options(value))
        except (errors.ConfigurationError, TypeError) as exc:
            add("shared_state", None, str(exc))
            return None
    return dict(value)


def _state_options(value: Mapping[str, Any]) -> dict[str, Any]:
    return {k: value[k] for k in ("prefix", "timeout", "fallback_share", "cluster") if k in value}


def _strategy(value: Any, add: Report) -> Mapping[str, Any] | None:
    if not isinstance(value, dict):
        add("strategy", None, f"must be a table, got {type(value).__name__}")
        return None
    if not _keys_known("strategy", value, _STRATEGY_KEYS, add):
        return None
    name = value.get("name")
    if name not in STRATEGIES:
        add("strategy", "name", f"must be one of: {', '.join(STRATEGIES)}; got {name!r}")
        return None
    weights = value.get("weights")
    if weights is not None and not isinstance(weights, dict):
        add("strategy", "weights", "must be a table of route or provider names to numbers")
        return None
    try:
        if name == "weighted":
            weighted(weights)
        exploration = value.get("exploration", 0.1)
        if not isinstance(exploration, int | float) or isinstance(exploration, bool):
            raise errors.ConfigurationError(f"exploration must be a number, got {exploration!r}")
        latency(exploration)
    except errors.ConfigurationError as exc:
        add("strategy", None, str(exc))
        return None
    return dict(value)


def _rate_limits(value: Any, add: Report) -> tuple[tuple[RateLimitPolicy, str, str | None], ...]:
    if isinstance(value, dict):
        add("rate_limits", None, "must be an array of tables: write [[rate_limits]]")
        return ()
    if not isinstance(value, list):
        add("rate_limits", None, f"must be an array of tables, got {type(value).__name__}")
        return ()
    out = []
    for i, item in enumerate(value):
        table = f"rate_limits[{i}]"
        if not isinstance(item, dict):
            add(table, None, f"must be a table, got {type(item).__name__}")
            continue
        if not _keys_known(table, item, ("scope", "match", *_LIMIT_FIELDS), add):
            continue
        scope = item.get("scope", "route")
        if scope not in ("route", "model", "key"):
            add(table, "scope", f'must be "route", "model" or "key", got {scope!r}')
            continue
        match = item.get("match")
        if match is not None and not (isinstance(match, str) and match):
            add(table, "match", f"must be a non-empty string, got {match!r}")
            continue
        try:
            policy = RateLimitPolicy(**{k: v for k, v in item.items() if k in _LIMIT_FIELDS})
        except errors.ConfigurationError as exc:
            message = str(exc)
            key, _, rest = message.removeprefix("RateLimitPolicy.").partition(" ")
            if message.startswith("RateLimitPolicy.") and key in _LIMIT_FIELDS:
                add(table, key, rest)
            else:
                add(table, None, message)
            continue
        out.append((policy, scope, match))
    return tuple(out)


def apply_sharing(
    settings: SharingSettings, builder: RouterBuilder, env: Mapping[str, str], add: Report
) -> None:
    """Configure `builder`; the Redis URL is read from `env` when the file names a variable."""
    for policy, scope, match in settings.rate_limits:
        builder.with_rate_limits(policy, scope=scope, match=match)
    if settings.strategy is not None:
        s = settings.strategy
        builder.with_strategy(
            s["name"], weights=s.get("weights"), exploration=s.get("exploration", 0.1)
        )
    state = settings.shared_state
    if state is None:
        return
    url = state.get("url")
    if url is None:
        url = env.get(state["url_env"])
        if not url:
            add("shared_state", "url_env", f"environment variable {state['url_env']} is not set")
            return
    try:
        builder.with_shared_state(RedisState(url, **_state_options(state)))
    except errors.ConfigurationError as exc:
        add("shared_state", "url_env" if "url_env" in state else "url", str(exc))
