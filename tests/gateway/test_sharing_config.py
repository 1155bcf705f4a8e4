"""router.toml's [shared_state], [strategy] and [[rate_limits]] tables."""

from __future__ import annotations

from pathlib import Path

import pytest

from llm_router.gateway.config import ConfigFileError, build_router, load_config
from llm_router.state import RedisState
from llm_router.strategies import ordered

BASE = """
[providers.openai]
kind = "openai"
base_url = "http://127.0.0.1:9/v1"
api_key_env = "OPENAI_API_KEY"
"""
ENV = {"OPENAI_API_KEY": "sk-config-test", "REDIS_URL": "redis://:hunter2pw@127.0.0.1:6390/0"}


def load(tmp_path: Path, text: str) -> object:
    path = tmp_path / "router.toml"
    path.write_text(BASE + text)
    return load_config(path)


def problem(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigFileError) as caught:
        load(tmp_path, text)
    return str(caught.value)


def test_the_documented_tables_build_a_sharing_router(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        """
[gateway]
api_keys_env = "GATEWAY_KEYS"
named_keys_env = { team-a = "TEAM_A_KEY" }

[shared_state]
url_env = "REDIS_URL"
prefix = "gw"
timeout = 0.2
fallback_share = 0.25
cluster = true

[strategy]
name = "weighted"
weights = { openai = 3 }

[[rate_limits]]
scope = "route"
match = "openai"
rpm = 500
tpm = 200000

[[rate_limits]]
scope = "key"
rpm = 60
on_limit = "fail"

[[rate_limits]]
scope = "key"
match = "team-a"
rpm = 600
""",
    )
    router = build_router(config, ENV)  # type: ignore[arg-type]
    executor = router._config.executor
    assert executor.limiter is not None
    state = executor.limiter.state
    assert isinstance(state, RedisState)
    assert (state.prefix, state.timeout, state.fallback_share) == ("gw", 0.2, 0.25)
    assert state.cluster
    assert "hunter2pw" not in repr(state) and "hunter2pw" not in state.safe_url
    assert [(r.scope, r.match, r.policy.rpm) for r in executor.limiter.rules] == [
        ("route", "openai", 500),
        ("key", None, 60),
        ("key", "team-a", 600),
    ]
    assert executor.strategy is not ordered


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[shared_state]\nurl = "http://x"', "[shared_state]: shared state URL must start"),
        ('[shared_state]\nurl = "redis://x"\nurl_env = "R"', "exactly one of url or url_env"),
        ('[shared_state]\nurl_env = "R"\nport = 1', "[shared_state] port: unknown key"),
        ('[shared_state]\nurl = "redis://x"\nfallback_share = 2', "fallback_share must be in"),
        ('[shared_state]\nurl = "redis://x"\ncluster = "yes"', "cluster must be true or false"),
        ('[strategy]\nname = "fastest"', "[strategy] name: must be one of: ordered"),
        ('[strategy]\nname = "latency"\nexploration = 3', "exploration must be between"),
        ("[rate_limits]\nrpm = 1", "write [[rate_limits]]"),
        ('[[rate_limits]]\nscope = "planet"\nrpm = 1', '[rate_limits[0]] scope: must be "route"'),
        ("[[rate_limits]]\nrpm = 0", "[rate_limits[0]] rpm: must be a positive integer"),
        ("[[rate_limits]]\nrpn = 5", "[rate_limits[0]] rpn: unknown key"),
        ("[[rate_limits]]\nscope = 'route'", "at least one of rpm, tpm or max_concurrency"),
        ("[[rate_limits]]\nscope = 'key'\nrpm = 1", "[rate_limits[0]] scope: limits per key need"),
        (
            '[gateway]\nnamed_keys_env = { a = "A_KEY" }\n[[rate_limits]]\nscope = "key"\n'
            'match = "b"\nrpm = 1',
            "[rate_limits[0]] match: no key named 'b' in [gateway] named_keys_env (names: a)",
        ),
        ("[gateway]\nnamed_keys_env = { a = 1 }", "[gateway] named_keys_env: must be a table"),
    ],
)
def test_problems_name_the_table_and_key(tmp_path: Path, text: str, expected: str) -> None:
    assert expected in problem(tmp_path, text)


def test_a_missing_url_variable_is_reported_at_build(tmp_path: Path) -> None:
    config = load(tmp_path, '[shared_state]\nurl_env = "NOT_SET_ANYWHERE"')
    with pytest.raises(ConfigFileError, match="NOT_SET_ANYWHERE is not set"):
        build_router(config, {"OPENAI_API_KEY": "sk-x"})  # type: ignore[arg-type]
