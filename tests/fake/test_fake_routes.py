"""URL routing: every provider surface and the paths that are refused."""

from __future__ import annotations

import pytest

from llm_router.types import ProviderFormat
from llm_router_testing.fake.routes import Route, resolve

P = ProviderFormat


@pytest.mark.parametrize(
    ("path", "query", "expected"),
    [
        ("/v1/chat/completions", {}, Route("openai", P.OPENAI)),
        ("/mistral/v1/chat/completions", {}, Route("mistral", P.MISTRAL)),
        ("/v1/responses", {}, Route("openai", P.RESPONSES)),
        ("/v1/messages", {}, Route("anthropic", P.ANTHROPIC)),
        (
            "/v1/messages/count_tokens",
            {},
            Route("anthropic", P.ANTHROPIC, operation="count_tokens", stream=False),
        ),
        (
            "/openai/deployments/dep/chat/completions",
            {"api-version": "2024-10-21"},
            Route("azure", P.OPENAI, model="dep"),
        ),
        (
            "/openai/deployments/dep/responses",
            {"api-version": "2025-04-01-preview"},
            Route("azure", P.RESPONSES, model="dep"),
        ),
        ("/openai/responses", {"api-version": "2025-04-01-preview"}, Route("azure", P.RESPONSES)),
        (
            "/openai/deployments/dep/chat/completions",
            {},
            Route("azure", P.OPENAI, model="dep", rejection=(404, "Resource not found")),
        ),
        (
            "/openai/deployments/dep/chat/completions",
            {"api-version": "latest"},
            Route(
                "azure", P.OPENAI, model="dep", rejection=(400, "API version not supported: latest")
            ),
        ),
        ("/openai/v1/chat/completions", {}, Route("azure", P.OPENAI)),
        ("/openai/v1/responses", {}, Route("azure", P.RESPONSES)),
        (
            "/v1beta/models/gemini-2.5-flash:generateContent",
            {},
            Route("google", P.GOOGLE, model="gemini-2.5-flash", stream=False, sse=False),
        ),
        (
            "/v1/models/gemini-2.5-flash:streamGenerateContent",
            {"alt": "sse"},
            Route("google", P.GOOGLE, model="gemini-2.5-flash", stream=True),
        ),
        (
            "/v1beta/models/g:countTokens",
            {},
            Route("google", P.GOOGLE, operation="count_tokens", model="g", stream=False),
        ),
        (
            "/v1/projects/p/locations/us-east5/publishers/google/models/g:streamGenerateContent",
            {"alt": "sse"},
            Route("vertex-google", P.GOOGLE, model="g", stream=True),
        ),
        (
            "/v1/projects/p/locations/global/publishers/anthropic/models/claude:rawPredict",
            {},
            Route("vertex-anthropic", P.ANTHROPIC, model="claude", stream=False),
        ),
        (
            "/v1/projects/p/locations/global/publishers/anthropic/models/claude:streamRawPredict",
            {},
            Route("vertex-anthropic", P.ANTHROPIC, model="claude", stream=True),
        ),
        (
            "/model/us.anthropic.claude-v1:0/converse",
            {},
            Route("bedrock", P.CONVERSE, model="us.anthropic.claude-v1:0", stream=False),
        ),
        (
            "/model/arn:aws:bedrock:us-east-1:1:inference-profile/x/converse-stream",
            {},
            Route(
                "bedrock",
                P.CONVERSE,
                model="arn:aws:bedrock:us-east-1:1:inference-profile/x",
                stream=True,
            ),
        ),
        (
            "/model/m/invoke-with-response-stream",
            {},
            Route("bedrock", P.ANTHROPIC, model="m", stream=True, invoke=True),
        ),
    ],
)
def test_post_routes(path: str, query: dict[str, str], expected: Route) -> None:
    assert resolve("POST", path, query, {}) == expected


def test_mistral_is_recognised_on_the_openai_path_by_key_or_fields() -> None:
    by_key = resolve(
        "POST", "/v1/chat/completions", {}, {"authorization": "Bearer mk"}, mistral_key="mk"
    )
    by_field = resolve("POST", "/v1/chat/completions", {}, {}, body=b'{"random_seed": 1}')
    plain = resolve(
        "POST", "/v1/chat/completions", {}, {"authorization": "Bearer sk"}, mistral_key="mk"
    )
    assert by_key is not None and by_key.provider == "mistral"
    assert by_field is not None and by_field.format is P.MISTRAL
    assert plain is not None and plain.provider == "openai"


def test_model_listing_follows_the_caller() -> None:
    openai = resolve("GET", "/v1/models", {}, {})
    anthropic = resolve("GET", "/v1/models", {}, {"anthropic-version": "2023-06-01"})
    assert openai is not None and (openai.provider, openai.operation) == ("openai", "models")
    assert anthropic is not None and anthropic.provider == "anthropic"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v2/chat/completions"),
        ("GET", "/v1/chat/completions"),
        ("POST", "/model/x/unknown"),
        ("POST", "/v1/projects/p/locations/l/publishers/anthropic/models/c:generateContent"),
        ("PUT", "/v1/messages"),
        ("POST", "/openai/deployments/d/images/generations"),
    ],
)
def test_unknown_paths(method: str, path: str) -> None:
    assert resolve(method, path, {}, {}) is None


@pytest.mark.parametrize(
    ("path", "provider", "wire", "model"),
    [
        ("/v1/embeddings", "openai", "openai", None),
        ("/mistral/v1/embeddings", "mistral", "mistral", None),
        ("/openai/v1/embeddings", "azure", "openai", None),
        ("/openai/deployments/emb/embeddings", "azure", "openai", "emb"),
        ("/v1beta/models/gemini-embedding-001:embedContent", "google", "google", None),
        ("/v1/models/gemini-embedding-001:batchEmbedContents", "google", "google-batch", None),
        (
            "/v1/projects/p/locations/l/publishers/google/models/text-embedding-005:predict",
            "vertex-google",
            "vertex",
            "text-embedding-005",
        ),
        ("/model/amazon.titan-embed-text-v2:0/invoke", "bedrock", "titan", None),
        ("/model/cohere.embed-english-v3/invoke", "bedrock", "cohere", None),
    ],
)
def test_embedding_paths(path: str, provider: str, wire: str, model: str | None) -> None:
    route = resolve("POST", path, {"api-version": "2024-10-21"}, {})
    assert route is not None
    assert (route.provider, route.operation, route.embedding) == (provider, "embed", wire)
    if model is not None:
        assert route.model == model
