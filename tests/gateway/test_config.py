"""router.toml: validation names file, table and key; providers without keys are left out with
one warning; credentials come from the environment, botocore or a service-account file."""

from __future__ import annotations

from pathlib import Path

import httpx
import orjson
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from llm_router.auth import AwsSigV4, GoogleServiceAccount, OAuth
from llm_router.gateway.config import (
    ConfigFileError,
    GatewaySettings,
    build_router,
    load_config,
    parse_config,
)
from llm_router.resilience import HedgePolicy, RetryPolicy
from llm_router.serve import open_gateway
from llm_router_testing.fake import FAKE_KEYS, open_fake_provider

SECRET = "sk-this-must-never-be-printed"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "router.toml"
    path.write_text(text)
    return path


def problem(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigFileError) as caught:
        load_config(write(tmp_path, text))
    return str(caught.value)


def test_the_issue_example_loads(tmp_path: Path) -> None:
    config = load_config(
        write(
            tmp_path,
            """
[gateway]
host = "127.0.0.1"
port = 8080
api_keys_env = "LLM_ROUTER_GATEWAY_KEYS"
max_body_bytes = 10_000_000
forward_headers = ["x-fake-"]

[providers.openai]
kind = "openai"
base_url = "http://127.0.0.1:9000/v1"
api_key_env = "OPENAI_API_KEY"

[providers.anthropic]
kind = "anthropic"
api_key_env = "ANTHROPIC_API_KEY"

[models.house-fast]
routes = [{ provider = "openai", model = "gpt-4o-mini" },
          { provider = "anthropic", model = "claude-haiku-4-5" }]

[retry]
max_attempts = 3

[hedge]
delay = 0.5

[breaker]
enabled = false
""",
        )
    )
    assert config.gateway == GatewaySettings(
        api_keys_env="LLM_ROUTER_GATEWAY_KEYS", forward_headers=("x-fake-",)
    )
    assert [p.alias for p in config.providers] == ["openai", "anthropic"]
    assert config.models["house-fast"] == (
        ("openai", "gpt-4o-mini"),
        ("anthropic", "claude-haiku-4-5"),
    )
    assert config.policies == {
        "retry": RetryPolicy(max_attempts=3),
        "hedge": HedgePolicy(delay=0.5),
        "breaker": None,
    }


def test_a_toml_syntax_error_names_the_file(tmp_path: Path) -> None:
    message = problem(tmp_path, "[gateway\nport = 1")
    assert message.startswith(f"{tmp_path / 'router.toml'}: not valid TOML")


def test_a_missing_file_is_named() -> None:
    with pytest.raises(ConfigFileError, match=r"^nope\.toml: cannot read the file"):
        load_config("nope.toml")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[gateway]\nport = 'x'", "[gateway] port: must be int, got 'x'"),
        ("[gateway]\nport = 70000", "[gateway] port: must be from 0 to 65535"),
        ("[gateway]\nmax_body_bytes = 0", "[gateway] max_body_bytes: must be at least 1"),
        ("[gateway]\nprot = 1", "[gateway] prot: unknown key"),
        ("[gatway]\n", "[gatway]: unknown table"),
        ("[providers.x]\nkind = 'opneai'", "[providers.x] kind: must be one of openai"),
        (
            "[providers.x]\nkind = 'openai'\nregion = 'eu'",
            "[providers.x] region: unknown key for kind 'openai'",
        ),
        ("[providers.v]\nkind = 'vertex'", "[providers.v] project: is required"),
        ("[providers.a]\nkind = 'azure'", "[providers.a] endpoint: is required"),
        (
            "[providers.o]\nkind = 'openai'\napi_key_env = 1",
            "[providers.o] api_key_env: must be a non-empty string",
        ),
        (
            "[models.m]\nroutes = [{ provider = 'nobody' }]",
            "[models.m] routes[0].provider: 'nobody' is not a [providers.*] table",
        ),
        ("[models.m]\nroutes = []", "[models.m] routes: must be a non-empty list"),
        ("[retry]\nmax_attempts = 0", "[retry] max_attempts: must be an int >= 1, got 0"),
        ("[retry]\nmax_attempt = 2", "[retry] max_attempt: unknown key"),
        ("[hedge]\nmax_attempts = 9", "[hedge] max_attempts: must be an int from 2 to 5"),
        ("[breaker]\nenabled = 'no'", "[breaker] enabled: must be true or false"),
    ],
)
def test_each_problem_names_file_table_and_key(tmp_path: Path, text: str, expected: str) -> None:
    message = problem(tmp_path, text)
    assert message.startswith(str(tmp_path / "router.toml") + ": ")
    assert expected in message


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    message = problem(tmp_path, "[gateway]\nport = -1\nbacklog = 0\n[retry]\nmax_delay = -1")
    assert "3 problems" in message
    assert "[gateway] port" in message and "[gateway] backlog" in message
    assert "[retry] max_delay" in message


def test_a_provider_without_its_key_is_left_out_with_one_warning() -> None:
    config = parse_config(
        {
            "providers": {
                "openai": {"kind": "openai", "api_key_env": "MY_OPENAI_KEY"},
                "anthropic": {"kind": "anthropic", "api_key_env": "MY_ANTHROPIC_KEY"},
            },
            "models": {
                "fast": {"routes": [{"provider": "anthropic", "model": "claude-haiku-4-5"}]}
            },
        },
        "router.toml",
    )
    warnings: list[str] = []
    router = build_router(config, {"MY_OPENAI_KEY": SECRET}, warn=warnings.append)
    assert repr(router) == "<Router closed providers=['openai']>"
    assert warnings == [
        "llm-router: provider 'anthropic' left out: MY_ANTHROPIC_KEY is not set",
        "llm-router: model 'fast' has no usable route (its providers were left out)",
    ]
    assert SECRET not in repr(router)


def test_no_usable_provider_is_an_error_naming_the_file() -> None:
    config = parse_config(
        {"providers": {"o": {"kind": "openai", "api_key_env": "UNSET_X"}}}, "r.toml"
    )
    with pytest.raises(ConfigFileError, match=r"^r.toml: no provider is usable"):
        build_router(config, {})


def test_default_key_variables_are_used_when_none_is_named() -> None:
    config = parse_config({"providers": {"openai": {"kind": "openai"}}}, "r.toml")
    warnings: list[str] = []
    with pytest.raises(ConfigFileError):
        build_router(config, {}, warn=warnings.append)
    assert warnings == [
        "llm-router: provider 'openai' left out: no credentials (OPENAI_API_KEY is not set; "
        "or set api_key_env in [providers.openai])"
    ]
    build_router(config, {"OPENAI_API_KEY": SECRET})


def test_bedrock_takes_aws_credentials_through_botocore(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_SESSION_TOKEN", "session-token")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-3")
    monkeypatch.delenv("AWS_BEARER_TOKEN_BEDROCK", raising=False)
    config = parse_config({"providers": {"bedrock": {"kind": "bedrock"}}}, "r.toml")
    router = build_router(config, {})
    auth = router._config.auth["bedrock"]
    assert isinstance(auth, AwsSigV4)
    assert auth.region == "eu-west-3" and auth.secret_key.reveal() == SECRET
    assert SECRET not in repr(auth)


def test_bedrock_profile_that_does_not_exist_names_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/config")
    config = parse_config(
        {"providers": {"b": {"kind": "bedrock", "profile": "nope", "region": "us-east-1"}}},
        "r.toml",
    )
    with pytest.raises(ConfigFileError, match=r"\[providers.b\]: profile: AWS profile 'nope'"):
        build_router(config, {})


def _service_account(path: Path) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    info = {
        "type": "service_account",
        "client_email": "router@project.iam.gserviceaccount.com",
        "private_key_id": "k1",
        "private_key": pem,
        "token_uri": "https://oauth2.example.test/token",
    }
    path.write_bytes(orjson.dumps(info))


def test_vertex_takes_a_service_account_file(tmp_path: Path) -> None:
    key_file = tmp_path / "sa.json"
    _service_account(key_file)
    config = parse_config(
        {
            "providers": {
                "vertex": {"kind": "vertex", "project": "p1", "credentials_file": str(key_file)},
                "vertex-token": {"kind": "vertex", "project": "p1", "access_token_env": "TOK"},
            }
        },
        "r.toml",
    )
    router = build_router(config, {"TOK": SECRET})
    assert isinstance(router._config.auth["vertex"], GoogleServiceAccount)
    assert isinstance(router._config.auth["vertex-token"], OAuth)


def test_vertex_with_an_unreadable_service_account_file_names_the_key(tmp_path: Path) -> None:
    config = parse_config(
        {"providers": {"v": {"kind": "vertex", "project": "p", "credentials_file": "/no/sa.json"}}},
        "r.toml",
    )
    with pytest.raises(ConfigFileError, match=r"\[providers.v\]: credentials_file: cannot read"):
        build_router(config, {})


async def test_a_config_file_router_serves_aliases_through_the_gateway(tmp_path: Path) -> None:
    async with open_fake_provider() as fake:
        config = load_config(
            write(
                tmp_path,
                f"""
[gateway]
forward_headers = ["x-fake-"]

[providers.main]
kind = "openai"
base_url = "{fake.url}/v1"
api_key_env = "GW_TEST_OPENAI"

[providers.claude]
kind = "anthropic"
base_url = "{fake.url}"
api_key_env = "GW_TEST_ANTHROPIC"

[models.house-fast]
routes = [{{ provider = "claude", model = "claude-haiku-4-5" }},
          {{ provider = "main", model = "gpt-4o-mini" }}]

[retry]
max_attempts = 1
""",
            )
        )
        router = build_router(
            config,
            {"GW_TEST_OPENAI": FAKE_KEYS["openai"], "GW_TEST_ANTHROPIC": FAKE_KEYS["anthropic"]},
        )
        body = {"model": "house-fast", "messages": [{"role": "user", "content": "hi"}]}
        async with open_gateway(router) as url, httpx.AsyncClient() as client:
            first = await client.post(url + "/v1/chat/completions", json=body)
    assert first.status_code == 200 and first.headers["x-llm-router-provider"] == "claude"
    assert first.json()["choices"][0]["message"]["content"] == "You said: hi"
    assert [(e.path, e.model) for e in fake.journal] == [("/v1/messages", "claude-haiku-4-5")]
