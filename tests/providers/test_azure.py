"""AzureProvider: deployment and v1 URLs, deployment names, api-key and Entra auth, errors."""

from __future__ import annotations

import httpx
import orjson
import pytest

from llm_router import errors
from llm_router.auth import ApiKey, AzureEntra
from llm_router.providers import AzureProvider
from llm_router.types import ProviderFormat

from ._support import json_body, send, upstream

ENDPOINT = "https://my-resource.openai.azure.com"
CHAT = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
RESPONSES = {"model": "gpt-4o", "input": "hi"}


def test_deployment_url_with_api_version() -> None:
    provider = AzureProvider(ENDPOINT, api_version="2024-10-21", deployments={"gpt-4o": "prod-4o"})
    request = provider.build_request(upstream("gpt-4o", ProviderFormat.OPENAI, CHAT))
    assert request.url.path == "/openai/deployments/prod-4o/chat/completions"
    assert request.url.params["api-version"] == "2024-10-21"
    assert json_body(request)["model"] == "prod-4o"


def test_responses_url_with_api_version() -> None:
    provider = AzureProvider(
        ENDPOINT, api_version="2025-04-01-preview", deployments={"gpt-4o": "prod-4o"}
    )
    request = provider.build_request(
        upstream("gpt-4o", ProviderFormat.RESPONSES, RESPONSES, stream=True)
    )
    assert str(request.url) == f"{ENDPOINT}/openai/responses?api-version=2025-04-01-preview"
    body = json_body(request)
    assert body["model"] == "prod-4o" and body["stream"] is True


@pytest.mark.parametrize(
    ("fmt", "body", "path"),
    [
        (ProviderFormat.OPENAI, CHAT, "/openai/v1/chat/completions"),
        (ProviderFormat.RESPONSES, RESPONSES, "/openai/v1/responses"),
    ],
)
def test_v1_surface_without_api_version(
    fmt: ProviderFormat, body: dict[str, object], path: str
) -> None:
    request = AzureProvider(ENDPOINT).build_request(upstream("gpt-4o", fmt, body))
    assert str(request.url) == ENDPOINT + path
    assert json_body(request)["model"] == "gpt-4o"


@pytest.mark.parametrize("pasted", [ENDPOINT + "/", ENDPOINT + "/openai", ENDPOINT + "/openai/v1/"])
def test_endpoint_forms_users_paste(pasted: str) -> None:
    assert AzureProvider(pasted).base_url == ENDPOINT
    assert AzureProvider(base_url=pasted).base_url == ENDPOINT


def test_endpoint_is_required() -> None:
    with pytest.raises(errors.ConfigurationError, match="endpoint"):
        AzureProvider()


def test_responses_only_models_go_to_responses() -> None:
    provider = AzureProvider(ENDPOINT)
    assert (
        provider.format_for(ProviderFormat.RESPONSES, ProviderFormat.OPENAI)
        is ProviderFormat.RESPONSES
    )
    assert (
        provider.format_for(ProviderFormat.OPENAI, ProviderFormat.RESPONSES)
        is ProviderFormat.RESPONSES
    )
    assert (
        provider.format_for(ProviderFormat.OPENAI, ProviderFormat.ANTHROPIC)
        is ProviderFormat.OPENAI
    )


async def test_api_key_header_and_entra_bearer() -> None:
    provider = AzureProvider(ENDPOINT)
    request = provider.build_request(upstream("gpt-4o", ProviderFormat.OPENAI, CHAT))
    await provider.default_auth("azure-key").apply(request)
    assert request.headers["api-key"] == "azure-key"
    assert "authorization" not in request.headers
    request = provider.build_request(upstream("gpt-4o", ProviderFormat.OPENAI, CHAT))
    await AzureEntra(token_provider=lambda: "entra-token").apply(request)
    assert request.headers["authorization"] == "Bearer entra-token"


def test_env_api_key_then_ad_token() -> None:
    provider = AzureProvider(ENDPOINT)
    auth = provider.auth_from_env({"AZURE_OPENAI_API_KEY": "k", "AZURE_OPENAI_AD_TOKEN": "t"})
    assert isinstance(auth, ApiKey) and auth.header == "api-key"
    assert isinstance(provider.auth_from_env({"AZURE_OPENAI_AD_TOKEN": "t"}), AzureEntra)
    assert provider.auth_from_env({}) is None


async def test_content_filter_error() -> None:
    body = orjson.dumps(
        {
            "error": {
                "code": "content_filter",
                "message": "The response was filtered due to the prompt triggering Azure OpenAI's content management policy.",
                "status": 400,
                "innererror": {"code": "ResponsibleAIPolicyViolation"},
            }
        }
    )
    with pytest.raises(errors.ContentFilterError):
        await send(
            AzureProvider(ENDPOINT),
            None,
            upstream("gpt-4o", ProviderFormat.OPENAI, CHAT),
            lambda _: httpx.Response(400, content=body),
        )


async def test_rate_limit_retry_after_ms() -> None:
    body = orjson.dumps(
        {"error": {"code": "429", "message": "Rate limit is exceeded. Try again in 2 seconds."}}
    )
    with pytest.raises(errors.RateLimitError) as caught:
        await send(
            AzureProvider(ENDPOINT),
            None,
            upstream("gpt-4o", ProviderFormat.OPENAI, CHAT),
            lambda _: httpx.Response(
                429, headers={"x-ms-retry-after-ms": "1500", "retry-after": "2"}, content=body
            ),
        )
    assert caught.value.retry_after == 1.5
