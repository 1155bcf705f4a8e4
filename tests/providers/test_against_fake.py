"""Every provider through a real Router against the fake provider server, sync and stream.

The matrix sends each of the six caller formats to each provider setup, so every provider is
exercised both as a passthrough and behind translation, with its real auth scheme (SigV4 is
verified by the fake server over the request as received).
"""

from __future__ import annotations

import functools
import logging
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

import httpx
import orjson
import pytest
import trio

from llm_router import RetryPolicy, errors
from llm_router.auth import AuthConfig, AwsSigV4, AzureEntra, GoogleServiceAccount
from llm_router.builder import RouterBuilder
from llm_router.catalog import Catalog
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
from llm_router.stream_progress import END_SIGNALS
from llm_router.types import ProviderFormat as F
from llm_router_testing.fake import (
    FAKE_AWS_CREDENTIALS,
    FAKE_KEYS,
    FakeProvider,
    FakeProviderThread,
)

from ._support import service_account_info

PROMPT = "Say hello"
BODIES: dict[F, dict[str, Any]] = {
    F.OPENAI: {"messages": [{"role": "user", "content": PROMPT}]},
    F.RESPONSES: {"input": PROMPT},
    F.ANTHROPIC: {"max_tokens": 100, "messages": [{"role": "user", "content": PROMPT}]},
    F.GOOGLE: {"contents": [{"role": "user", "parts": [{"text": PROMPT}]}]},
    F.CONVERSE: {"messages": [{"role": "user", "content": [{"text": PROMPT}]}]},
    F.MISTRAL: {"messages": [{"role": "user", "content": PROMPT}]},
}
#: What ends a stream in each caller format (checked on the last event).
LAST_EVENT: dict[F, Callable[[Any], bool]] = {
    F.OPENAI: lambda e: e.data == b"[DONE]",
    F.MISTRAL: lambda e: e.data == b"[DONE]",
    F.RESPONSES: lambda e: e.event == "response.completed",
    F.ANTHROPIC: lambda e: e.event == "message_stop",
    F.GOOGLE: lambda e: orjson.loads(e.data)["candidates"][0].get("finishReason") == "STOP",
    F.CONVERSE: lambda e: e.event == "metadata",
}
#: A field every whole answer in the caller's format has.
ANSWER_FIELD = {
    F.OPENAI: "choices",
    F.MISTRAL: "choices",
    F.RESPONSES: "output",
    F.ANTHROPIC: "content",
    F.GOOGLE: "candidates",
    F.CONVERSE: "output",
}


def _sigv4() -> AuthConfig:
    return AwsSigV4(**FAKE_AWS_CREDENTIALS, region="us-east-1")


def _service_account() -> AuthConfig:
    """A service account whose token endpoint hands out the fake server's Vertex token."""

    def token_endpoint(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"access_token": FAKE_KEYS["vertex"], "expires_in": 3600})

    return GoogleServiceAccount(
        service_account_info(), transport=httpx.MockTransport(token_endpoint)
    )


@dataclass(frozen=True)
class Setup:
    """One provider configuration: how to build it, its credentials, a model and the wire used."""

    name: str
    alias: str
    make: Callable[[str], Provider]
    model: str
    wire: Callable[[F], F]  # the provider format spoken for a caller format
    upstream: str  # the fake server's name for the surface that must be hit
    key: str | None = None
    auth: Callable[[], AuthConfig] | None = None


SETUPS = [
    Setup("openai", "openai", lambda u: OpenAIProvider(u + "/v1"), "gpt-4o",
          lambda c: c if c in (F.OPENAI, F.RESPONSES) else F.OPENAI, "openai", key=FAKE_KEYS["openai"]),
    Setup("anthropic", "anthropic", lambda u: AnthropicProvider(u), "claude-sonnet-4-5",
          lambda c: F.ANTHROPIC, "anthropic", key=FAKE_KEYS["anthropic"]),
    Setup("google", "google", lambda u: GoogleProvider(u), "gemini-2.5-flash",
          lambda c: F.GOOGLE, "google", key=FAKE_KEYS["google"]),
    Setup("vertex-gemini", "vertex", lambda u: VertexProvider("proj", "us-central1", u), "gemini-2.5-pro",
          lambda c: F.GOOGLE, "vertex-google", key=FAKE_KEYS["vertex"]),
    Setup("vertex-claude", "vertex", lambda u: VertexProvider("proj", "us-central1", u),
          "publishers/anthropic/models/claude-sonnet-4-5", lambda c: F.ANTHROPIC, "vertex-anthropic",
          auth=_service_account),
    Setup("bedrock-claude-sigv4", "bedrock", lambda u: BedrockProvider(base_url=u),
          "anthropic.claude-3-5-sonnet-20240620-v1:0",
          lambda c: F.ANTHROPIC if c is F.ANTHROPIC else F.CONVERSE, "bedrock", auth=_sigv4),
    Setup("bedrock-nova-api-key", "bedrock", lambda u: BedrockProvider(base_url=u), "amazon.nova-micro-v1:0",
          lambda c: F.CONVERSE, "bedrock", key=FAKE_KEYS["bedrock"]),
    Setup("azure-deployments", "azure",
          lambda u: AzureProvider(u, api_version="2024-10-21", deployments={"gpt-4o": "prod-4o"}), "gpt-4o",
          lambda c: c if c in (F.OPENAI, F.RESPONSES) else F.OPENAI, "azure", key=FAKE_KEYS["azure"]),
    Setup("azure-v1-entra", "azure", lambda u: AzureProvider(u), "o3-pro", lambda c: F.RESPONSES, "azure",
          auth=lambda: AzureEntra(token_provider=lambda: "azure-fake-entra-token")),
    Setup("mistral", "mistral", lambda u: MistralProvider(u + "/v1"), "mistral-large-latest",
          lambda c: F.MISTRAL, "mistral", key=FAKE_KEYS["mistral"]),
    Setup("compat", "together", lambda u: OpenAICompatibleProvider(u + "/v1"), "gpt-4o",
          lambda c: F.OPENAI, "openai", key=FAKE_KEYS["openai"]),
]  # fmt: skip


@functools.cache
def _tls() -> ssl.SSLContext:
    return ssl.create_default_context()


def _builder() -> RouterBuilder:
    # A shared TLS context: loading the CA bundle for every router would dominate the run.
    transport = httpx.AsyncHTTPTransport(verify=_tls())
    return Router.builder().with_catalog(_catalog()).with_transport(transport)


def _router(setup: Setup, fake: FakeProvider, *, key: str | None = None) -> Router:
    auth = setup.auth() if setup.auth is not None and key is None else None
    builder = _builder().add_provider(setup.alias, setup.make(fake.url), auth=auth)
    if key is not None or setup.key is not None:
        builder.add_api_key(setup.alias, key or setup.key or "")
    return builder.add_model_route(setup.model, setup.alias).build()


@pytest.fixture(scope="module")
def fake_server() -> Iterator[FakeProvider]:
    # One server in its own thread for the whole module: starting one per test costs more
    # than the calls themselves.
    with FakeProviderThread(seed=7) as server:
        yield server


@pytest.fixture
def fake(fake_server: FakeProvider) -> FakeProvider:
    fake_server.reset()
    return fake_server


@functools.cache
def _catalog() -> Catalog:
    """The bundled catalog's entries for the models used, without fallbacks or provider lists,
    so that each test reaches exactly the route it configures."""
    bundled = Catalog.default()
    models = dict.fromkeys(setup.model for setup in SETUPS)
    return Catalog(
        replace(bundled.get(m), fallback_models=(), available_providers=()) for m in models
    )


@pytest.mark.parametrize("caller", list(F), ids=[f.value for f in F])
@pytest.mark.parametrize("setup", SETUPS, ids=[s.name for s in SETUPS])
async def test_complete(fake: FakeProvider, setup: Setup, caller: F) -> None:
    async with _router(setup, fake) as router:
        result = await router.complete(BODIES[caller], caller, model=setup.model)
    answer = result.json()
    assert ANSWER_FIELD[caller] in answer
    assert PROMPT.encode() in result.body  # the fake echoes the prompt
    assert result.provider_format is setup.wire(caller)
    _check_journal(fake, setup, caller, stream=False)


@pytest.mark.parametrize("caller", list(F), ids=[f.value for f in F])
@pytest.mark.parametrize("setup", SETUPS, ids=[s.name for s in SETUPS])
async def test_stream(fake: FakeProvider, setup: Setup, caller: F) -> None:
    async with (
        _router(setup, fake) as router,
        router.stream(BODIES[caller], caller, model=setup.model) as events,
    ):
        received = [event async for event in events]
        assert events.provider_format is setup.wire(caller)
    assert len(received) >= 3
    assert LAST_EVENT[caller](received[-1]), received[-1]
    for event in received:
        if event.data != b"[DONE]":
            orjson.loads(event.data)
    _check_journal(fake, setup, caller, stream=True)


def _check_journal(fake: FakeProvider, setup: Setup, caller: F, *, stream: bool) -> None:
    (entry,) = [e for e in fake.journal if e.method == "POST"]
    assert entry.error is None and entry.status == 200
    assert entry.provider == setup.upstream
    assert entry.format == setup.wire(caller).value
    assert entry.stream is stream
    assert "authorization" not in entry.headers or entry.headers["authorization"] != ""


@pytest.mark.parametrize("setup", SETUPS, ids=[s.name for s in SETUPS])
async def test_wrong_key_is_typed_and_never_echoed(
    fake: FakeProvider, setup: Setup, caplog: pytest.LogCaptureFixture
) -> None:
    caller = F.OPENAI
    canary = "canary-4d1b-wrong-key-9e07"
    router = _router(setup, fake, key=canary)
    assert canary not in repr(router) and canary not in repr(setup.make(fake.url))
    with caplog.at_level(logging.DEBUG):
        async with router:
            with pytest.raises((errors.AuthenticationError, errors.PermissionError)) as caught:
                await router.complete(BODIES[caller], caller, model=setup.model)
    seen: BaseException | None = caught.value
    while seen is not None:
        assert canary not in str(seen) and canary not in repr(seen)
        seen = seen.__cause__ or seen.__context__
    assert canary not in caplog.text


async def test_bedrock_bad_signature_is_an_authentication_error(fake: FakeProvider) -> None:
    setup = SETUPS[5]
    auth = AwsSigV4(FAKE_AWS_CREDENTIALS["access_key"], "wrong-secret", region="us-east-1")
    router = (
        _builder()
        .add_provider("bedrock", setup.make(fake.url), auth=auth)
        .add_model_route(setup.model, "bedrock")
        .build()
    )
    async with router:
        with pytest.raises(errors.AuthenticationError, match="InvalidSignatureException"):
            await router.complete(BODIES[F.CONVERSE], F.CONVERSE, model=setup.model)


async def test_service_account_refresh_task_runs_in_the_router(fake: FakeProvider) -> None:
    fetches: list[float] = []
    fetched = trio.Event()

    def token_endpoint(request: httpx.Request) -> httpx.Response:
        fetches.append(trio.current_time())
        fetched.set()
        return httpx.Response(200, json={"access_token": FAKE_KEYS["vertex"], "expires_in": 3600})

    auth = GoogleServiceAccount(
        service_account_info(), transport=httpx.MockTransport(token_endpoint)
    )
    model = "publishers/anthropic/models/claude-sonnet-4-5"
    provider = VertexProvider("p", "us-central1", fake.url)
    router = (
        _builder()
        .add_provider("vertex", provider, auth=auth)
        .add_model_route(model, "vertex")
        .build()
    )
    async with router:
        with trio.fail_after(5):
            await fetched.wait()  # the router's nursery fetches the first token on entry
            await router.complete(BODIES[F.ANTHROPIC], F.ANTHROPIC, model=model)
            await router.complete(BODIES[F.OPENAI], F.OPENAI, model=model)
    assert len(fetches) == 1  # both calls used the token fetched in the background
    assert [e.provider for e in fake.journal if e.method == "POST"] == ["vertex-anthropic"] * 2


def test_matrix_covers_every_provider_class() -> None:
    classes = {type(setup.make("http://127.0.0.1:1")) for setup in SETUPS}
    assert classes == {
        OpenAIProvider, AnthropicProvider, GoogleProvider, VertexProvider, BedrockProvider,
        AzureProvider, MistralProvider, OpenAICompatibleProvider,
    }  # fmt: skip


# ------------------------------------------------- the stream commit point, for every provider

_FAST_RETRY = RetryPolicy(max_attempts=3, initial_delay=0.001, max_delay=0.001)


def _faulty_router(setup: Setup, fake: FakeProvider) -> Router:
    auth = setup.auth() if setup.auth is not None else None
    builder = _builder().add_provider(setup.alias, setup.make(fake.url), auth=auth)
    if setup.key is not None:
        builder.add_api_key(setup.alias, setup.key)
    builder.forward_headers("x-fake-").with_retry_policy(_FAST_RETRY)
    return builder.add_model_route(setup.model, setup.alias).build()


async def _stream_with(
    setup: Setup, fake: FakeProvider, headers: dict[str, str]
) -> tuple[list[Any], BaseException | None]:
    caller = setup.wire(F.OPENAI)  # the provider's own format: passed through
    received: list[Any] = []
    failure: BaseException | None = None
    async with _faulty_router(setup, fake) as router:
        try:
            async with router.stream(
                BODIES[caller], caller, model=setup.model, headers=headers
            ) as events:
                async for event in events:
                    received.append(event)
        except errors.LLMRouterError as exc:
            failure = exc
        assert router.statistics()["pool"]["in_use"] == 0
    return received, failure


_PREAMBLE_FIRST = [s for s in SETUPS if s.wire(F.OPENAI) is not F.GOOGLE]  # Gemini starts with text


@pytest.mark.parametrize("setup", _PREAMBLE_FIRST, ids=[s.name for s in _PREAMBLE_FIRST])
async def test_an_error_after_the_first_preamble_event_is_retried(
    fake: FakeProvider, setup: Setup
) -> None:
    # The first attempt sends its preamble event, then (a moment later) the provider's own
    # in-stream error; the retry answers in full.
    headers = {
        "x-fake-stream-error": "1",
        "x-fake-inter-event-delay": "5ms",
        "x-fake-fail-times": "1",
    }
    received, failure = await _stream_with(setup, fake, headers)
    assert failure is None
    caller = setup.wire(F.OPENAI)
    assert LAST_EVENT[caller](received[-1]), received[-1]
    assert len([e for e in fake.journal if e.method == "POST"]) == 2


@pytest.mark.parametrize("setup", SETUPS, ids=[s.name for s in SETUPS])
async def test_a_stream_ended_cleanly_but_early_is_a_typed_error(
    fake: FakeProvider, setup: Setup
) -> None:
    headers = {"x-fake-end-after-events": "3", "x-fake-answer": "one two three four five six"}
    received, failure = await _stream_with(setup, fake, headers)
    attempts = len([e for e in fake.journal if e.method == "POST"])
    truncated = getattr(failure, "upstream_error", failure)
    assert isinstance(truncated, errors.StreamTruncatedError), failure
    assert truncated.missing == END_SIGNALS[setup.wire(F.OPENAI)]
    if received:  # committed: the events before the cut, then StreamError; never retried
        assert isinstance(failure, errors.StreamError) and attempts == 1
    else:  # three events of preamble (Responses): retried, then the truncation itself
        assert not isinstance(failure, errors.StreamError) and attempts == 3
