"""No credential leaks: a unique key reaches the wire but no repr, error, log line or cassette."""

from __future__ import annotations

import logging
import traceback
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import orjson
import pytest

from llm_router import errors
from llm_router.auth import AuthConfig, AwsSigV4, AzureEntra, OAuth
from llm_router.framing.eventstream import encode_event
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
from llm_router.resilience import Hooks, RetryPolicy
from llm_router.router import Router
from llm_router.translate import translate_error
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


@pytest.mark.parametrize(
    ("name", "provider", "make_auth"), _providers(), ids=[p[0] for p in _providers()]
)
async def test_key_never_appears_in_anything_the_router_emits(
    name: str,
    provider: Provider,
    make_auth: Callable[[Provider], AuthConfig],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Answers, stream events, errors (and their re-rendering in every caller format), attempt
    logs, hook records, statistics and log lines of calls that succeed, fail before an
    answer, and fail mid-stream, against an upstream that echoes the credential headers."""
    sent: list[httpx.Request] = []
    delta = {"role": "assistant", "content": "partial"}
    first_event = (
        encode_event("contentBlockDelta", b'{"contentBlockIndex": 0, "delta": {"text": "partial"}}')
        if isinstance(provider, BedrockProvider)
        else b"data: " + orjson.dumps({"choices": [{"index": 0, "delta": delta}]}) + b"\n\n"
    )

    def upstream(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        echoed = str({k: v for k, v in request.headers.items() if k not in ("host",)})
        if request.headers.get("x-case") == "fail":
            return httpx.Response(429, json={"error": {"message": f"slow down {echoed}"}})
        if request.headers.get("x-case") == "mid-stream":
            return httpx.Response(200, stream=_CutStream(first_event, echoed))
        return httpx.Response(500, json={"error": {"message": f"broken: {echoed}"}})

    records: list[object] = []
    auth = make_auth(provider)
    router = (
        Router.builder()
        .add_provider(name, provider, auth=auth)
        .add_model_route("some-model", name)
        .forward_headers("x-case")
        .with_transport(httpx.MockTransport(upstream))
        .with_retry_policy(RetryPolicy(max_attempts=2, initial_delay=0.001, max_delay=0.001))
        .with_circuit_breaker(None)
        .with_hooks(
            Hooks(
                on_request_start=records.append,
                on_attempt_start=records.append,
                on_attempt_end=records.append,
                on_request_end=records.append,
            )
        )
        .build()
    )
    emitted: list[str] = []
    with caplog.at_level(logging.DEBUG):
        async with router:
            for case, stream in [
                ("fail", False), ("fail", True), ("broken", False), ("broken", True),
                ("mid-stream", True),
            ]:  # fmt: skip
                if True:
                    body = dict(BODY, stream=True) if stream else BODY
                    headers = {"x-case": case}
                    with pytest.raises(errors.LLMRouterError) as caught:
                        if stream:
                            async with router.stream(
                                body, "openai", model="some-model", headers=headers
                            ) as events:
                                emitted.extend([repr(e) async for e in events])
                        else:
                            await router.complete(
                                body, "openai", model="some-model", headers=headers
                            )
                    emitted.append(_everything_about(caught.value))
                    for target in ProviderFormat:
                        emitted.append(repr(translate_error(
                            getattr(caught.value, "status", 502),
                            getattr(caught.value, "body", None), "openai", target,
                        )))  # fmt: skip
            emitted.append(repr(router.statistics()))
    assert any(CANARY in "\n".join(f"{k}: {v}" for k, v in r.headers.items()) for r in sent)
    emitted.extend(repr(r) for r in records)
    emitted.append(caplog.text)
    assert records and emitted
    for text in emitted:
        assert CANARY not in text, text[max(0, text.find(CANARY) - 200) : text.find(CANARY)]


class _CutStream(httpx.AsyncByteStream):
    """An SSE answer whose connection drops after one event, the error echoing the headers."""

    def __init__(self, first_event: bytes, echoed: str) -> None:
        self._first_event = first_event
        self._echoed = echoed

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self._first_event
        raise httpx.RemoteProtocolError(f"connection lost while sending {self._echoed}")


def _everything_about(exc: BaseException) -> str:
    """Every representation of an exception and its chain a caller could print or send."""
    parts: list[str] = []
    seen: BaseException | None = exc
    while seen is not None:
        parts += [str(seen), repr(seen), "".join(traceback.format_exception(seen))]
        for attribute in ("body", "headers", "message", "errors"):
            parts.append(repr(getattr(seen, attribute, None)))
        # The chain as Python shows it: `raise ... from None` hides the context it replaces.
        hidden = seen.__suppress_context__
        seen = seen.__cause__ or (None if hidden else seen.__context__)
    return "\n".join(parts)
