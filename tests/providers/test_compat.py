"""OpenAICompatibleProvider: generic hosts, presets, key variables, local servers."""

from __future__ import annotations

import pytest

from llm_router import errors
from llm_router.auth import ApiKey
from llm_router.providers import PRESETS, OpenAICompatibleProvider
from llm_router.types import ProviderFormat

from ._support import json_body, upstream

BODY = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}


@pytest.mark.parametrize(
    ("name", "url", "env"),
    [
        ("together", "https://api.together.xyz/v1/chat/completions", "TOGETHER_API_KEY"),
        ("groq", "https://api.groq.com/openai/v1/chat/completions", "GROQ_API_KEY"),
        (
            "fireworks",
            "https://api.fireworks.ai/inference/v1/chat/completions",
            "FIREWORKS_API_KEY",
        ),
        ("perplexity", "https://api.perplexity.ai/chat/completions", "PERPLEXITY_API_KEY"),
        ("xai", "https://api.x.ai/v1/chat/completions", "XAI_API_KEY"),
        ("cerebras", "https://api.cerebras.ai/v1/chat/completions", "CEREBRAS_API_KEY"),
        ("deepseek", "https://api.deepseek.com/v1/chat/completions", "DEEPSEEK_API_KEY"),
        ("openrouter", "https://openrouter.ai/api/v1/chat/completions", "OPENROUTER_API_KEY"),
    ],
)
async def test_presets(name: str, url: str, env: str) -> None:
    provider = OpenAICompatibleProvider.preset(name)
    request = provider.build_request(upstream("some/model", ProviderFormat.OPENAI, BODY))
    assert str(request.url) == url
    assert json_body(request)["model"] == "some/model"
    auth = provider.auth_from_env({env: "key-from-env"})
    assert isinstance(auth, ApiKey)
    await auth.apply(request)
    assert request.headers["authorization"] == "Bearer key-from-env"
    assert provider.requires_auth
    assert name in repr(provider)


def test_perplexity_accepts_pplx_api_key() -> None:
    auth = OpenAICompatibleProvider.preset("perplexity").auth_from_env({"PPLX_API_KEY": "pplx"})
    assert isinstance(auth, ApiKey) and auth.key.reveal() == "pplx"


def test_databricks_needs_a_workspace() -> None:
    with pytest.raises(errors.ConfigurationError, match="workspace"):
        OpenAICompatibleProvider.preset("databricks")
    provider = OpenAICompatibleProvider.preset(
        "databricks", workspace="https://adb-1.2.azuredatabricks.net/"
    )
    assert provider.base_url == "https://adb-1.2.azuredatabricks.net/serving-endpoints"
    assert provider.auth_from_env({"DATABRICKS_TOKEN": "dapi"}) is not None


def test_ollama_needs_no_key() -> None:
    provider = OpenAICompatibleProvider.preset("ollama")
    assert provider.base_url == "http://127.0.0.1:11434/v1"
    assert not provider.requires_auth
    assert provider.auth_from_env({"OPENAI_API_KEY": "x"}) is None


def test_preset_base_url_override_and_unknown_name() -> None:
    provider = OpenAICompatibleProvider.preset("groq", base_url="http://127.0.0.1:9999/v1")
    assert provider.base_url == "http://127.0.0.1:9999/v1"
    with pytest.raises(errors.ConfigurationError, match="together"):
        OpenAICompatibleProvider.preset("nonesuch")


def test_generic_host() -> None:
    provider = OpenAICompatibleProvider(
        "http://127.0.0.1:8000/v1/", env_keys=("MY_KEY",), headers={"X-Extra": "1"}
    )
    request = provider.build_request(upstream("m", ProviderFormat.OPENAI, BODY, stream=True))
    assert str(request.url) == "http://127.0.0.1:8000/v1/chat/completions"
    assert request.headers["x-extra"] == "1"
    assert json_body(request)["stream"] is True
    assert provider.auth_from_env({"MY_KEY": "k"}) is not None
    assert provider.format_for(None, ProviderFormat.ANTHROPIC) is ProviderFormat.OPENAI
    with pytest.raises(errors.ConfigurationError):
        OpenAICompatibleProvider("")


def test_every_preset_has_a_valid_url() -> None:
    for name, preset in PRESETS.items():
        provider = OpenAICompatibleProvider.preset(name, workspace="host.example")
        assert provider.base_url.startswith(("https://", "http://127.0.0.1"))
        assert provider.key_env_vars == preset.env_keys
