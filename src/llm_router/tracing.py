"""OpenTelemetry spans for router calls, after the GenAI semantic conventions (extra `otel`).

`RouterTracing` turns the router's observer hooks into spans: one per call (`chat {model}`)
with one child per attempt (`chat {provider model}`, kind CLIENT), so a retry, a hedge and a
failover each show as a sibling under their call. A call's span is the child of whatever
span is current when the call starts (the gateway's server span, or the caller's own). A
stream's spans end when the stream ends, carrying the whole answer's usage; the winning
attempt's span ends with its call. Only names, models, routes, statuses, token counts and
costs are recorded: never a body, a header or a credential.

This module imports `opentelemetry`; nothing else in the package does until tracing is asked
for, so the library costs nothing without the extra.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, TracerProvider

from llm_router import errors
from llm_router.resilience.log import (
    AttemptOutcome,
    AttemptRecord,
    AttemptStarted,
    Hooks,
    RequestFinished,
    RequestOutcome,
    RequestStarted,
    emit,
)
from llm_router.universal import Usage

if TYPE_CHECKING:
    from llm_router.providers.base import Provider

__all__ = [
    "GENAI_PROVIDER_NAMES",
    "RouterTracing",
    "chain_hooks",
    "end_server_span",
    "http_route",
    "tracer_provider_for",
]

_SCOPE = "llm_router"

#: `gen_ai.provider.name` (and the older `gen_ai.system`) for each provider kind.
GENAI_PROVIDER_NAMES: Mapping[str, str] = {
    "openai": "openai",
    "anthropic": "anthropic",
    "google": "gcp.gemini",
    "vertex": "gcp.vertex_ai",
    "bedrock": "aws.bedrock",
    "azure": "azure.ai.openai",
    "mistral": "mistral_ai",
    "openai-compatible": "openai",
}


@dataclass(slots=True)
class _Call:
    span: Span
    operation: str
    attempts: dict[int, Span] = field(default_factory=dict)  # attempt number -> open span
    winner: int | None = None


@dataclass(frozen=True, slots=True)
class _Upstream:
    provider_name: str
    address: str | None
    port: int | None


class RouterTracing:
    """Spans for every call of a router: pass to `RouterBuilder.with_tracing` (or use its
    `hooks` with `with_hooks`). `tracer_provider` defaults to the global one."""

    def __init__(
        self,
        tracer_provider: TracerProvider | None = None,
        *,
        providers: Mapping[str, Provider] | None = None,
        operation: str = "chat",
    ) -> None:
        self.tracer = trace.get_tracer(_SCOPE, tracer_provider=tracer_provider)
        self.operation = operation
        self._upstreams: dict[str, _Upstream] = {}
        self._calls: dict[int, _Call] = {}
        for alias, provider in (providers or {}).items():
            self.add_provider(alias, provider)

    def add_provider(self, alias: str, provider: Provider) -> None:
        """Name `alias`'s provider and host on its attempts' spans."""
        import httpx

        url = httpx.URL(provider.base_url)
        self._upstreams[alias] = _Upstream(
            GENAI_PROVIDER_NAMES.get(provider.kind, provider.kind), url.host or None, url.port
        )

    @property
    def hooks(self) -> Hooks:
        return Hooks(
            on_request_start=self.on_request_start,
            on_attempt_start=self.on_attempt_start,
            on_attempt_end=self.on_attempt_end,
            on_request_end=self.on_request_end,
        )

    @property
    def open_spans(self) -> int:
        """Spans started and not yet ended (0 once every call is over)."""
        return sum(1 + len(call.attempts) for call in self._calls.values())

    def server_span(self, method: str, path: str, headers: Mapping[str, str]) -> Span:
        """A gateway request's span (kind SERVER), child of the caller's `traceparent` when
        it sends one; make it current around the call so the call's span nests under it."""
        from opentelemetry import propagate

        route = http_route(path)
        return self.tracer.start_span(
            f"{method} {route}",
            context=propagate.extract(dict(headers)),
            kind=SpanKind.SERVER,
            attributes={"http.request.method": method, "http.route": route, "url.path": path},
        )

    # -- hooks ------------------------------------------------------------------------------
    def on_request_start(self, record: RequestStarted) -> None:
        # The router's own kind of call wins over the default (an embedding call says so).
        operation = record.operation if record.operation != "chat" else self.operation
        span = self.tracer.start_span(
            f"{operation} {record.label}",
            kind=SpanKind.INTERNAL,
            attributes={
                "gen_ai.operation.name": operation,
                "gen_ai.request.model": record.label,
                "llm_router.routes": list(record.routes),
            },
        )
        self._calls[record.request_id] = _Call(span, operation)

    def on_attempt_start(self, record: AttemptStarted) -> None:
        call = self._calls.get(record.request_id)
        if call is None:
            return
        alias, _, model = record.route.partition("/")
        upstream = self._upstreams.get(alias, _Upstream(alias, None, None))
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": call.operation,
            "gen_ai.provider.name": upstream.provider_name,
            "gen_ai.system": upstream.provider_name,
            "gen_ai.request.model": model,
            "llm_router.route": record.route,
            "llm_router.attempt.number": record.number,
            "llm_router.attempt.kind": record.kind.value,
        }
        if upstream.address is not None:
            attributes["server.address"] = upstream.address
        if upstream.port is not None:
            attributes["server.port"] = upstream.port
        call.attempts[record.number] = self.tracer.start_span(
            f"{call.operation} {model}",
            context=trace.set_span_in_context(call.span),
            kind=SpanKind.CLIENT,
            attributes=attributes,
        )

    def on_attempt_end(self, record: AttemptRecord) -> None:
        call = self._calls.get(record.request_id)
        span = None if call is None else call.attempts.get(record.number)
        if call is None or span is None:
            return
        span.set_attribute("llm_router.attempt.outcome", record.outcome.value)
        if record.status is not None:
            span.set_attribute("http.response.status_code", record.status)
        if record.outcome is AttemptOutcome.WON:
            # Its answer may still be streaming: the span ends with the call, with its usage.
            call.winner = record.number
            return
        if record.error is not None and record.outcome is not AttemptOutcome.CANCELLED:
            span.set_attribute("error.type", record.error)
            span.set_status(Status(StatusCode.ERROR, record.message))
        elif record.outcome is not AttemptOutcome.CANCELLED_HEDGE_LOSER:
            span.set_attribute("error.type", "cancelled")
        del call.attempts[record.number]
        span.end()

    def on_request_end(self, record: RequestFinished) -> None:
        call = self._calls.pop(record.request_id, None)
        if call is None:
            return
        for number, span in call.attempts.items():
            if number == call.winner:
                _answered(span, record.route, record.usage)
                if record.outcome is not RequestOutcome.SUCCEEDED and record.error is not None:
                    span.set_attribute("error.type", record.error)  # the stream broke
                    span.set_status(Status(StatusCode.ERROR, record.message))
            else:  # never reported its end (the call was torn down)
                span.set_attribute("error.type", "cancelled")
            span.end()
        span = call.span
        span.set_attribute("llm_router.attempts", len(record.attempts))
        span.set_attribute("llm_router.outcome", record.outcome.value)
        if record.route is not None:
            alias = record.route.partition("/")[0]
            upstream = self._upstreams.get(alias)
            if upstream is not None:
                span.set_attribute("gen_ai.provider.name", upstream.provider_name)
                span.set_attribute("gen_ai.system", upstream.provider_name)
        _answered(span, record.route, record.usage)
        if record.cost is not None:
            span.set_attribute("llm_router.cost_usd", record.cost)
        if record.outcome is not RequestOutcome.SUCCEEDED:
            error = record.error or record.outcome.value
            span.set_attribute("error.type", error)
            span.set_status(Status(StatusCode.ERROR, record.message))
        span.end()


_MODEL_IN_PATH = (
    (re.compile(r"^/(v1|v1beta)/models/[^/:]+(:[A-Za-z]+)?$"), r"/\1/models/{model}\2"),
    (re.compile(r"^/model/[^/]+/([a-z-]+)$"), r"/model/{modelId}/\1"),
)


def http_route(path: str) -> str:
    """`path` with the model it names replaced by a placeholder (`/v1beta/models/{model}:
    generateContent`), so that span names stay few."""
    for pattern, template in _MODEL_IN_PATH:
        if pattern.match(path):
            return pattern.sub(template, path)
    return path


def tracer_provider_for(exporter: str, service_name: str) -> TracerProvider | None:
    """The tracer provider for a `[telemetry] exporter` setting (None: the global one).

    ``"otlp"`` and ``"console"`` build an SDK provider exporting in batches, named
    `service_name` (the SDK flushes it when the process exits)."""
    if exporter == "global":
        return None
    try:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter
    except ImportError:
        raise errors.ConfigurationError(
            f"exporter {exporter!r} needs the OpenTelemetry SDK: pip install 'llm-router[otel]'"
        ) from None
    span_exporter: Any
    if exporter == "console":
        span_exporter = ConsoleSpanExporter()
    elif exporter == "otlp":
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # type: ignore[import-not-found,unused-ignore]
                OTLPSpanExporter,
            )
        except ImportError:
            raise errors.ConfigurationError(
                "exporter 'otlp' needs pip install opentelemetry-exporter-otlp-proto-http"
            ) from None
        span_exporter = OTLPSpanExporter()
    else:
        raise errors.ConfigurationError(
            f"unknown exporter {exporter!r}: expected global, otlp or console"
        )
    provider = SdkTracerProvider(resource=Resource.create({"service.name": service_name}))
    provider.add_span_processor(BatchSpanProcessor(span_exporter))
    return provider


def end_server_span(span: Span, exchange: Any) -> None:
    """End a gateway request's span with what the request did (an access-log `Exchange`)."""
    status = 499 if exchange.disconnected and exchange.status is None else exchange.status
    attributes: dict[str, Any] = {"llm_router.operation": exchange.operation}
    if exchange.operation == "generate":
        attributes["gen_ai.operation.name"] = "chat"
    elif exchange.operation == "embed":
        attributes["gen_ai.operation.name"] = "embeddings"
    for key, value in (
        ("http.response.status_code", status),
        ("llm_router.format", exchange.format),
        ("gen_ai.request.model", exchange.model),
        ("gen_ai.response.model", exchange.route_model),
        ("gen_ai.usage.input_tokens", exchange.input_tokens),
        ("gen_ai.usage.output_tokens", exchange.output_tokens),
        ("llm_router.cost_usd", exchange.cost),
        ("llm_router.provider", exchange.provider),
    ):
        if value is not None:
            attributes[key] = value
    if exchange.attempts:
        attributes["llm_router.attempts"] = exchange.attempts
    if exchange.stream:
        attributes["llm_router.stream"] = True
    span.set_attributes(attributes)
    if exchange.error is not None or (status is not None and status >= 500):
        span.set_attribute("error.type", exchange.error or str(status))
        span.set_status(Status(StatusCode.ERROR))
    span.end()


def _answered(span: Span, route: str | None, usage: Usage | None) -> None:
    if route is not None:
        span.set_attribute("gen_ai.response.model", route.partition("/")[2])
    if usage is not None:
        if usage.input_tokens is not None:
            span.set_attribute("gen_ai.usage.input_tokens", usage.input_tokens)
        if usage.output_tokens is not None:
            span.set_attribute("gen_ai.usage.output_tokens", usage.output_tokens)


def chain_hooks(first: Hooks, second: Hooks) -> Hooks:
    """Hooks calling `first`'s then `second`'s observer for each record."""

    def both(a: Any, b: Any) -> Any:
        if a is None or b is None:
            return a or b

        def call_both(record: Any) -> None:
            emit(a, record)
            emit(b, record)

        return call_both

    return replace(
        first,
        on_request_start=both(first.on_request_start, second.on_request_start),
        on_attempt_start=both(first.on_attempt_start, second.on_attempt_start),
        on_attempt_end=both(first.on_attempt_end, second.on_attempt_end),
        on_request_end=both(first.on_request_end, second.on_request_end),
    )
