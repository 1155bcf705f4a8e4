"""One model, every provider that serves it: catalog links between providers' own ids, and
routes built from them (one per configured provider, each with its provider's model id)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from llm_router import (
    AnthropicProvider,
    BedrockProvider,
    GoogleProvider,
    OpenAIProvider,
    ProviderFormat,
    RetryPolicy,
    Router,
    VertexProvider,
)
from llm_router.catalog import Catalog
from llm_router.routing import pick_provider_model
from llm_router_testing import FAKE_KEYS, open_fake_provider
from test_model_list import build

SONNET_BEDROCK = "anthropic.claude-sonnet-4-5-20250929-v1:0"


def chat(providers: list[str] | None, fmt: str = "anthropic", **extra: Any) -> dict[str, Any]:
    return {"format": fmt, "flavor": "chat", "available_providers": providers, **extra}


SOURCE = {
    "claude-sonnet-4-5": chat(["anthropic"]),
    "claude-sonnet-4-5-20250929": chat(["anthropic"], parent="claude-sonnet-4-5"),
    SONNET_BEDROCK: chat(["bedrock"]),
    "us." + SONNET_BEDROCK: chat(["bedrock"], parent=SONNET_BEDROCK),
    "global." + SONNET_BEDROCK: chat(["bedrock"], parent=SONNET_BEDROCK),
    "publishers/anthropic/models/claude-sonnet-4-5": chat(["vertex"]),
    "publishers/anthropic/models/claude-sonnet-4-5@20250929": chat(None),  # Vertex by its shape
    "databricks-claude-sonnet-4-5": chat(["databricks"], "openai"),
    "anthropic/claude-sonnet-4.5": chat(["openrouter"], "openai"),
    "meta-llama/llama-3.3-70b-instruct": chat(["openrouter"], "openai"),
    "accounts/fireworks/models/llama-v3p3-70b-instruct": chat(["fireworks"], "openai"),
    "us.meta.llama3-3-70b-instruct-v1:0": chat(["bedrock"], "openai"),
    "gpt-4o": chat(["openai", "azure"], "openai"),
}


def test_the_build_links_every_provider_id_of_a_model() -> None:
    models = build.transform(SOURCE).models
    assert models["claude-sonnet-4-5"]["provider_models"] == {
        "bedrock": [SONNET_BEDROCK, "global." + SONNET_BEDROCK, "us." + SONNET_BEDROCK],
        "databricks": ["databricks-claude-sonnet-4-5"],
        "openrouter": ["anthropic/claude-sonnet-4.5"],
        "vertex": ["publishers/anthropic/models/claude-sonnet-4-5"],
    }
    # A dated name links to dated ids; a provider's own id links back to the others.
    assert models["claude-sonnet-4-5-20250929"]["provider_models"]["vertex"] == [
        "publishers/anthropic/models/claude-sonnet-4-5@20250929"
    ]
    assert models["us." + SONNET_BEDROCK]["provider_models"]["anthropic"] == [
        "claude-sonnet-4-5-20250929"
    ]
    llama = models["meta-llama/llama-3.3-70b-instruct"]["provider_models"]
    assert llama == {
        "bedrock": ["us.meta.llama3-3-70b-instruct-v1:0"],
        "fireworks": ["accounts/fireworks/models/llama-v3p3-70b-instruct"],
    }
    assert "provider_models" not in models["gpt-4o"]  # served under one name everywhere
    Catalog.from_bytes(build.render(models))  # the library loads what the build writes


def test_the_bundled_catalog_links_claude_to_bedrock_and_vertex() -> None:
    links = Catalog.default().get("claude-sonnet-4-5").provider_models
    assert {"us." + SONNET_BEDROCK, "global." + SONNET_BEDROCK} <= set(links["bedrock"])
    assert links["vertex"] == ("publishers/anthropic/models/claude-sonnet-4-5",)


@pytest.mark.parametrize(
    ("region", "chosen"),
    [
        ("us-east-1", "us." + SONNET_BEDROCK),
        ("eu-west-1", "global." + SONNET_BEDROCK),  # no eu. profile listed: the global one
    ],
)
def test_bedrock_prefers_its_geography_then_global(region: str, chosen: str) -> None:
    ids = (SONNET_BEDROCK, "global." + SONNET_BEDROCK, "us." + SONNET_BEDROCK)
    assert pick_provider_model(BedrockProvider(region=region), ids) == chosen
    assert pick_provider_model(BedrockProvider(region=region), ids[:1]) == SONNET_BEDROCK
    assert pick_provider_model(OpenAIProvider(), ("b", "a")) == "b"


def test_resolve_lists_every_configured_provider_with_its_own_model_id() -> None:
    builder = Router.builder()
    for alias, provider in [
        ("anthropic", AnthropicProvider()),
        ("bedrock", BedrockProvider(region="us-east-1")),
        ("vertex", VertexProvider("proj", "us-east5")),
        ("openai", OpenAIProvider()),
    ]:
        builder.add_provider(alias, provider).add_api_key(alias, FAKE_KEYS[alias])
    router = builder.build()
    routes = router.resolve("claude-sonnet-4-5", ProviderFormat.OPENAI)
    assert [(r.alias, r.model) for r in routes] == [
        ("anthropic", "claude-sonnet-4-5"),
        ("bedrock", "us." + SONNET_BEDROCK),
        ("vertex", "publishers/anthropic/models/claude-sonnet-4-5"),
    ]
    # Each route speaks what its provider speaks for a Claude model (Converse or Messages).
    assert all(r.format in r.provider.native_formats for r in routes)
    assert routes[2].format is ProviderFormat.ANTHROPIC


def test_a_fallback_naming_the_same_model_adds_no_second_route_on_a_routed_provider() -> None:
    # The catalog lists Vertex for `gemini-2.5-flash` and also falls back to Vertex's own id
    # for it: one Vertex route, or a failing request reaches the same upstream twice.
    builder = Router.builder()
    for alias, provider in [
        ("google", GoogleProvider()),
        ("vertex", VertexProvider("proj", "us-central1")),
    ]:
        builder.add_provider(alias, provider).add_api_key(alias, FAKE_KEYS[alias])
    spec = Catalog.default().get("gemini-2.5-flash")
    assert "vertex" in spec.available_providers
    assert "publishers/google/models/gemini-2.5-flash" in spec.fallback_models
    routes = builder.build().resolve("gemini-2.5-flash", ProviderFormat.GOOGLE)
    assert [(r.alias, r.model) for r in routes] == [
        ("google", "gemini-2.5-flash"),
        ("vertex", "gemini-2.5-flash"),
    ]


async def test_a_claude_call_fails_over_from_bedrock_to_vertex() -> None:
    async with open_fake_provider() as fake:
        fake.set_scenario({"rules": [{"match": {"provider": "bedrock"}, "status": 503}]})
        router = (
            Router.builder()
            .add_provider("bedrock", BedrockProvider(base_url=fake.url))
            .add_api_key("bedrock", FAKE_KEYS["bedrock"])
            .add_provider("vertex", VertexProvider("proj", "us-east5", fake.url))
            .add_api_key("vertex", FAKE_KEYS["vertex"])
            .with_retry_policy(RetryPolicy(max_attempts=1))
            .build()
        )
        body = {"model": "claude-sonnet-4-5", "max_tokens": 20}
        body["messages"] = [{"role": "user", "content": "hello"}]
        async with router:
            result = await router.complete(orjson.dumps(body), ProviderFormat.ANTHROPIC)
        assert result.provider == "vertex"
        assert "hello" in result.text
        paths = [entry.path for entry in fake.journal]
        assert paths[0] == f"/model/us.{SONNET_BEDROCK}/invoke"
        assert paths[1].endswith("/publishers/anthropic/models/claude-sonnet-4-5:rawPredict")


def test_show_prints_the_links() -> None:
    import io

    from llm_router.cli import main

    out = io.StringIO()
    assert main(["show", "claude-sonnet-4-5"], out=out) == 0
    links = orjson.loads(out.getvalue())["provider_models"]
    assert "us." + SONNET_BEDROCK in links["bedrock"]
