"""A router with every embedding provider configured against one fake server."""

from __future__ import annotations

from llm_router import (
    AwsSigV4,
    AzureProvider,
    BedrockProvider,
    GoogleProvider,
    MistralProvider,
    OpenAICompatibleProvider,
    OpenAIProvider,
    Router,
    VertexProvider,
)
from llm_router.builder import RouterBuilder
from llm_router_testing.fake import FAKE_AWS_CREDENTIALS, FAKE_KEYS, FakeProvider


def embedding_builder(fake: FakeProvider) -> RouterBuilder:
    """Providers of every embedding wire, each with the fake's credentials."""
    aws = AwsSigV4(
        FAKE_AWS_CREDENTIALS["access_key"], FAKE_AWS_CREDENTIALS["secret_key"], region="us-east-1"
    )
    return (
        Router.builder()
        .add_provider("openai", OpenAIProvider(base_url=fake.url + "/v1"))
        .add_api_key("openai", FAKE_KEYS["openai"])
        .add_provider("azure", AzureProvider(fake.url, api_version="2024-10-21"))
        .add_api_key("azure", FAKE_KEYS["azure"])
        .add_provider("google", GoogleProvider(base_url=fake.url))
        .add_api_key("google", FAKE_KEYS["google"])
        .add_provider("vertex", VertexProvider("proj", "us-central1", fake.url))
        .add_api_key("vertex", FAKE_KEYS["vertex"])
        .add_provider("bedrock", BedrockProvider("us-east-1", fake.url), auth=aws)
        .add_provider("mistral", MistralProvider(base_url=fake.url + "/mistral/v1"))
        .add_api_key("mistral", FAKE_KEYS["mistral"])
        .add_provider("compat", OpenAICompatibleProvider(fake.url + "/v1"))
        .add_api_key("compat", FAKE_KEYS["openai"])
        .forward_headers("x-fake-")
    )


def embedding_router(fake: FakeProvider) -> Router:
    return embedding_builder(fake).build()
