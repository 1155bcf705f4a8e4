"""OpenTelemetry spans of router calls (GenAI semantic conventions), read back from the SDK's
in-memory exporter: plain and streamed calls against the fake server, a failed attempt that
is retried, and the gateway's server span with the call and its attempts nested under it."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from llm_router import errors
from llm_router.builder import RouterBuilder
from llm_router.gateway.config import build_router, parse_config
from llm_router.providers import AnthropicProvider, OpenAIProvider
from llm_router.resilience import Hooks, RetryPolicy
from llm_router.resilience.log import RequestFinished
from llm_router.router import Router
from llm_router.serve import open_gateway
from llm_router_testing.fake import FAKE_KEYS, open_fake_provider

OPENAI = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hello there"}]}


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    spans = InMemorySpanExporter()
    yield spans
    spans.clear()


def traced_router(url: str, exporter: InMemorySpanExporter, **kwargs: Any) -> Router:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    builder = (
        RouterBuilder()
        .load_models()
        .forward_headers("x-fake-")
        .add_provider("openai", OpenAIProvider(url + "/v1"))
        .add_api_key("openai", FAKE_KEYS["openai"])
        .add_provider("anthropic", AnthropicProvider(url))
        .add_api_key("anthropic", FAKE_KEYS["anthropic"])
        .with_retry_policy(RetryPolicy(max_attempts=3, initial_delay=0.01, max_delay=0.01))
        .with_tracing(provider)
    )
    for name, value in kwargs.items():
        getattr(builder, name)(value)
    return builder.build()


def by_name(spans: tuple[ReadableSpan, ...], name: str) -> list[ReadableSpan]:
    return [s for s in spans if s.name == name]


def attrs(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


async def test_a_call_has_one_span_and_a_child_per_attempt(
    exporter: InMemorySpanExporter,
) -> None:
    async with open_fake_provider() as fake:
        router = traced_router(fake.url, exporter)
        async with router:
            result = await router.complete(orjson.dumps(OPENAI), "openai")
            assert router.tracing.open_spans == 0
    spans = exporter.get_finished_spans()
    call = next(s for s in spans if s.kind is SpanKind.INTERNAL)
    attempt = next(s for s in spans if s.kind is SpanKind.CLIENT)
    assert call.kind is SpanKind.INTERNAL and len(spans) == 2
    assert attempt.parent is not None and attempt.parent.span_id == call.context.span_id
    assert attrs(call) == {
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.response.model": "gpt-4o-mini",
        "gen_ai.provider.name": "openai",
        "gen_ai.system": "openai",
        "gen_ai.usage.input_tokens": result.usage.input_tokens if result.usage else None,
        "gen_ai.usage.output_tokens": result.usage.output_tokens if result.usage else None,
        "llm_router.routes": ("openai/gpt-4o-mini",),
        "llm_router.attempts": 1,
        "llm_router.outcome": "succeeded",
        "llm_router.cost_usd": result.cost,
    }
    a = attrs(attempt)
    assert a["gen_ai.provider.name"] == "openai" and a["gen_ai.request.model"] == "gpt-4o-mini"
    assert a["server.address"] == "127.0.0.1" and a["server.port"] == int(fake.url.split(":")[-1])
    assert a["llm_router.attempt.outcome"] == "won" and a["gen_ai.usage.output_tokens"] > 0
    assert "error.type" not in a
    for span in spans:  # nothing from the conversation or the credentials
        text = str(attrs(span))
        assert "hello there" not in text and FAKE_KEYS["openai"] not in text


async def test_a_failed_attempt_is_an_error_span_beside_its_retry_in_a_stream(
    exporter: InMemorySpanExporter,
) -> None:
    body = dict(OPENAI, model="claude-haiku-4-5", stream=True)
    failing = {"x-fake-fail-times": "1", "x-fake-status": "529", "x-fake-request-id": "t1"}
    async with open_fake_provider() as fake:
        router = traced_router(fake.url, exporter)
        async with router:
            async with router.stream(orjson.dumps(body), "openai", headers=failing) as events:
                first = await events.__anext__()
                assert first.data
                assert router.tracing.open_spans == 2  # the call and the streaming attempt
                assert not by_name(exporter.get_finished_spans(), "chat claude-haiku-4-5")[1:]
                async for _ in events:
                    pass
                usage = events.usage
            assert router.tracing.open_spans == 0
    spans = exporter.get_finished_spans()
    attempts = sorted(
        (s for s in spans if s.kind is SpanKind.CLIENT),
        key=lambda s: attrs(s)["llm_router.attempt.number"],
    )
    call = next(s for s in spans if s.kind is SpanKind.INTERNAL)
    assert len(spans) == 3 and all(
        s.parent and s.parent.span_id == call.context.span_id for s in attempts
    )
    failed, won = (attrs(s) for s in attempts)
    assert failed["error.type"] == "OverloadedError" and failed["http.response.status_code"] == 529
    assert failed["llm_router.attempt.outcome"] == "retried"
    assert attempts[0].status.status_code is StatusCode.ERROR
    assert won["llm_router.attempt.kind"] == "retry" and won["gen_ai.provider.name"] == "anthropic"
    assert usage is not None and won["gen_ai.usage.output_tokens"] == usage.output_tokens
    c = attrs(call)
    assert c["llm_router.attempts"] == 2 and c["gen_ai.usage.input_tokens"] == usage.input_tokens
    assert call.end_time is not None and attempts[1].end_time is not None
    assert call.end_time >= attempts[1].end_time  # ended when the stream ended


async def test_a_failed_call_is_an_error_span_and_other_hooks_still_run(
    exporter: InMemorySpanExporter,
) -> None:
    finished: list[RequestFinished] = []
    async with open_fake_provider() as fake:
        router = traced_router(
            fake.url,
            exporter,
            with_hooks=Hooks(on_request_end=finished.append),
            with_retry_policy=RetryPolicy(max_attempts=1),
        )
        async with router:
            with pytest.raises(errors.InvalidRequestError):
                await router.complete(
                    orjson.dumps(OPENAI), "openai", headers={"x-fake-status": "400"}
                )
    call = next(s for s in exporter.get_finished_spans() if s.kind is SpanKind.INTERNAL)
    assert attrs(call)["error.type"] == "InvalidRequestError"
    assert call.status.status_code is StatusCode.ERROR
    assert len(finished) == 1


async def test_the_gateway_span_holds_the_call_from_a_config_file(
    exporter: InMemorySpanExporter, monkeypatch: pytest.MonkeyPatch
) -> None:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr("llm_router.tracing.tracer_provider_for", lambda *_: provider)
    async with open_fake_provider() as fake:
        config = parse_config(
            {
                "providers": {
                    "openai": {"kind": "openai", "base_url": fake.url + "/v1", "api_key_env": "K"}
                },
                "telemetry": {"otel": True},
            }
        )
        router = build_router(config, {"K": FAKE_KEYS["openai"]})
        parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
        async with open_gateway(router) as url, httpx.AsyncClient() as client:
            answer = await client.post(
                url + "/v1/chat/completions",
                json=dict(OPENAI, stream=True, stream_options={"include_usage": True}),
                headers={"traceparent": parent},
            )
            models = await client.get(url + "/v1/models")
    assert answer.status_code == 200 and models.status_code == 200
    spans = exporter.get_finished_spans()
    server = next(s for s in spans if s.name == "POST /v1/chat/completions")
    call = next(s for s in spans if s.kind is SpanKind.INTERNAL)
    attempt = next(s for s in spans if s.kind is SpanKind.CLIENT)
    assert server.kind is SpanKind.SERVER
    assert server.context.trace_id == int("0af7651916cd43dd8448eb211c80319c", 16)
    assert call.parent is not None and call.parent.span_id == server.context.span_id
    assert attempt.parent is not None and attempt.parent.span_id == call.context.span_id
    s = attrs(server)
    assert s["http.response.status_code"] == 200 and s["llm_router.stream"] is True
    assert s["gen_ai.request.model"] == "gpt-4o-mini" and s["gen_ai.usage.output_tokens"] > 0
    assert any(x.name == "GET /v1/models" for x in spans)


def test_server_span_names_leave_the_model_out() -> None:
    from llm_router.tracing import http_route

    assert http_route("/v1beta/models/gemini-2.5-flash:generateContent") == (
        "/v1beta/models/{model}:generateContent"
    )
    assert http_route("/v1/models/gpt-4o") == "/v1/models/{model}"
    assert http_route("/model/us.anthropic.claude-x:0/converse-stream") == (
        "/model/{modelId}/converse-stream"
    )
    assert http_route("/v1/chat/completions") == "/v1/chat/completions"


def test_telemetry_table_errors_name_the_key() -> None:
    with pytest.raises(errors.ConfigurationError) as caught:
        parse_config({"telemetry": {"otel": "yes", "exporter": "jaeger", "colour": 1}}, "r.toml")
    message = str(caught.value)
    assert "[telemetry] otel: must be true or false" in message
    assert "[telemetry] exporter: must be one of global, otlp, console" in message
    assert "[telemetry] colour: unknown key" in message


def test_without_tracing_opentelemetry_is_never_imported() -> None:
    code = (
        "import sys, json; from llm_router import Router, OpenAIProvider; "
        "import llm_router.gateway, llm_router.serve; "
        "Router.builder().add_provider('o', OpenAIProvider()).add_api_key('o', 'k').build(); "
        "print(json.dumps(sorted(sys.modules)))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = orjson.loads(done.stdout)
    assert not [name for name in loaded if name.startswith(("opentelemetry", "llm_router.tracing"))]


def test_with_tracing_without_the_extra_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry.trace", None)
    builder = RouterBuilder().add_provider("o", OpenAIProvider()).add_api_key("o", "k")
    with pytest.raises(errors.ConfigurationError, match=r"llm-router\[otel\]"):
        builder.with_tracing().build()


async def test_an_embedding_call_is_an_embeddings_operation(
    exporter: InMemorySpanExporter,
) -> None:
    async with open_fake_provider() as fake:
        router = traced_router(fake.url, exporter)
        async with router:
            body = {"model": "text-embedding-3-small", "input": ["a", "b"]}
            result = await router.embed(body, "openai")
            assert router.tracing.open_spans == 0
    spans = exporter.get_finished_spans()
    call = next(s for s in spans if s.kind is SpanKind.INTERNAL)
    (attempt,) = [s for s in spans if s.kind is SpanKind.CLIENT]
    assert call.name == "embeddings text-embedding-3-small"
    assert attempt.name == "embeddings text-embedding-3-small"
    assert attrs(call)["gen_ai.operation.name"] == "embeddings"
    assert attrs(attempt)["gen_ai.operation.name"] == "embeddings"
    assert attrs(call)["gen_ai.usage.input_tokens"] == result.usage.input_tokens == 2


async def test_a_realtime_session_is_a_realtime_span_ending_with_the_session(
    exporter: InMemorySpanExporter,
) -> None:
    async with open_fake_provider() as fake, traced_router(fake.url, exporter) as router:
        async with router.realtime("gpt-realtime", "openai-realtime") as session:
            assert (await session.receive()).type == "session.created"
            assert not by_name(exporter.get_finished_spans(), "realtime gpt-realtime")
        assert router.tracing.open_spans == 0
    spans = exporter.get_finished_spans()
    named = by_name(spans, "realtime gpt-realtime")
    (call,) = [s for s in named if s.kind is SpanKind.INTERNAL]
    (attempt,) = [s for s in named if s.kind is SpanKind.CLIENT]
    assert attempt.parent is not None and attempt.parent.span_id == call.context.span_id
    assert attrs(call)["gen_ai.operation.name"] == "realtime"
    assert attrs(call)["llm_router.outcome"] == "succeeded"
    assert attrs(attempt)["gen_ai.provider.name"] == "openai"
    assert attrs(attempt)["llm_router.attempt.outcome"] == "won"
    assert call.end_time is not None and attempt.end_time is not None
