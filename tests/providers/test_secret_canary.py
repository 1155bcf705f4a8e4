"""No credential leaks: a unique key reaches the wire but no repr, error, log line or cassette."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from llm_router import errors
from llm_router.auth import AuthConfig, AwsSigV4, AzureEntra, OAuth
from llm_router.providers import (
    AnthropicProvider,
    AzureProvider,
    BedrockProvider,
    GoogleProvider,
    MistralProvider,
    OpenAICompatibleProvider,
    OpenAIProvider,
    Provider,
    VertexProvider,
)
from llm_router.router import Router
from llm_router.types import ProviderFormat
from llm_router_testing.cassette import Cassette

CANARY = "canary-0b5e2d71-never-print-me"
BODY = {"messages": [{"role": "user", "content": "hi"}]}


def _providers() -> list[tuple[str, Provider, Callable[[Provider], AuthConfig]]]:
    default: Callable[[Provider], AuthConfig] = lambda p: p.default_auth(CANARY)  # noqa: E731
    return [
        ("openai", OpenAIProvider(), default),
        ("anthropic", AnthropicProvider(), default),
        ("anthropic-oauth", AnthropicProvider(), lambda p: OAuth(token_provider=lambda: CANARY)),
        ("google", GoogleProvider(), default),
        ("vertex", VertexProvider("proj", "us-east5"), default),
        ("bedrock-key", BedrockProvider(), default),
        (
            "bedrock-sigv4",
            BedrockProvider(),
            lambda p: AwsSigV4("AKID", CANARY, CANARY, region="us-east-1"),
        ),
        ("azure", AzureProvider("https://r.openai.azure.com", "2024-10-21"), default),
        ("azure-entra", AzureProvider("https://r.openai.azure.com"), lambda p: AzureEntra(CANARY)),
        ("mistral", MistralProvider(), default),
        ("groq", OpenAICompatibleProvider.preset("groq"), default),
    ]


@pytest.mark.parametrize(
    ("name", "provider", "make_auth"), _providers(), ids=[p[0] for p in _providers()]
)
async def test_key_never_leaks_from_a_failing_call(
    name: str,
    provider: Provider,
    make_auth: Callable[[Provider], AuthConfig],
    caplog: pytest.LogCaptureFixture,
) -> None:
    sent: list[httpx.Request] = []

    def reject(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(
            401, json={"error": {"message": "invalid credentials", "type": "authentication_error"}}
        )

    auth = make_auth(provider)
    router = (
        Router.builder()
        .add_provider(name, provider, auth=auth)
        .add_model_route("some-model", name)
        .with_transport(httpx.MockTransport(reject))
        .build()
    )
    for shown in (repr(provider), repr(auth), str(auth), repr(router)):
        assert CANARY not in shown
    with caplog.at_level(logging.DEBUG):
        async with router:
            with pytest.raises(errors.AuthenticationError) as caught:
                await router.complete(BODY, ProviderFormat.OPENAI, model="some-model")
    wire = "\n".join(f"{k}: {v}" for k, v in sent[0].headers.items())
    assert CANARY in wire  # the key did go out: the checks below are not vacuous
    seen: BaseException | None = caught.value
    while seen is not None:
        assert CANARY not in str(seen) and CANARY not in repr(seen)
        assert CANARY.encode() not in (getattr(seen, "body", None) or b"")
        seen = seen.__cause__ or seen.__context__
    assert CANARY not in caplog.text


@pytest.mark.parametrize(
    ("name", "provider", "make_auth"), _providers(), ids=[p[0] for p in _providers()]
)
async def test_key_never_reaches_a_cassette_or_an_echoed_error(
    name: str,
    provider: Provider,
    make_auth: Callable[[Provider], AuthConfig],
    tmp_path: Path,
) -> None:
    """An upstream that echoes every credential header back, recorded by a cassette."""

    def echo(request: httpx.Request) -> httpx.Response:
        echoed = {k: v for k, v in request.headers.items() if k not in ("content-length", "host")}
        return httpx.Response(401, json={"error": {"message": f"bad credentials: {echoed}"}})

    path = tmp_path / "failing.json"
    cassette = Cassette.open(path, mode="all")
    router = (
        Router.builder()
        .add_provider(name, provider, auth=make_auth(provider))
        .add_model_route("some-model", name)
        .with_transport(cassette.async_transport(httpx.MockTransport(echo)))
        .build()
    )
    async with router:
        with pytest.raises(errors.AuthenticationError) as caught:
            await router.complete(BODY, ProviderFormat.OPENAI, model="some-model")
    cassette.save()
    assert CANARY not in str(caught.value)
    assert CANARY.encode() not in (caught.value.body or b"")
    recorded = path.read_bytes()
    assert b"bad credentials" in recorded  # the echo was recorded: the check is not vacuous
    assert CANARY.encode() not in recorded
