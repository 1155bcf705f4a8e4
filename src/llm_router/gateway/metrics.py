"""Prometheus metrics of the gateway, through prometheus-client, in a registry of its own.

Per request (from the `Exchange`): requests by operation, format and status, latency and time
to first byte per route, tokens in/out and dollars per model, requests in flight; per realtime
session (`observe_realtime`) the same tokens and dollars, tokens by modality too, and the
sessions whose cost could not be known. Read from
the router at each scrape (a collector over `Router.statistics()`): attempts by outcome,
retries, failovers, hedges, breaker state per route, open streams, calls in flight and the
connection pool.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

from llm_router.gateway.access_log import Exchange
from llm_router.router import Router

if TYPE_CHECKING:
    from llm_router.realtime.session import RealtimeSession

__all__ = ["CONTENT_TYPE_LATEST", "GatewayMetrics"]

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
_BREAKER_STATES = ("closed", "open", "half_open")


class GatewayMetrics:
    """The gateway's metrics for one router; `render()` gives the exposition text."""

    def __init__(self, router: Router) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "llm_router_gateway_requests",
            "Requests answered by the gateway",
            ["operation", "format", "status"],
            registry=r,
        )
        self.in_flight = Gauge(
            "llm_router_gateway_requests_in_flight", "Requests being handled", registry=r
        )
        self.latency = Histogram(
            "llm_router_gateway_request_duration_seconds",
            "Time from request to the end of the answer, per route",
            ["route"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.ttfb = Histogram(
            "llm_router_gateway_time_to_first_byte_seconds",
            "Time from request to the first body byte sent, per route",
            ["route"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.tokens = Counter(
            "llm_router_gateway_tokens",
            "Tokens reported by providers, per model and direction",
            ["model", "direction"],
            registry=r,
        )
        self.cost = Counter(
            "llm_router_gateway_cost_dollars",
            "Dollars at catalog prices, per model",
            ["model"],
            registry=r,
        )
        self.disconnects = Counter(
            "llm_router_gateway_client_disconnects",
            "Requests whose caller hung up before the answer was complete",
            registry=r,
        )
        self.realtime_sessions = Counter(
            "llm_router_gateway_realtime_sessions",
            "Realtime WebSocket sessions, per caller protocol and how they ended",
            ["format", "outcome"],
            registry=r,
        )
        self.realtime_open = Gauge(
            "llm_router_gateway_realtime_sessions_open", "Realtime sessions open", registry=r
        )
        self.realtime_frames = Counter(
            "llm_router_gateway_realtime_frames",
            "Realtime frames relayed, per direction (upstream: client to provider)",
            ["direction"],
            registry=r,
        )
        self.realtime_tokens = Counter(
            "llm_router_gateway_realtime_tokens",
            "Tokens of realtime sessions, per model, direction and modality (text, audio, other)",
            ["model", "direction", "modality"],
            registry=r,
        )
        self.realtime_cost_unknown = Counter(
            "llm_router_gateway_realtime_cost_unknown",
            "Realtime sessions whose cost could not be known (no price, partial usage)",
            ["model"],
            registry=r,
        )
        r.register(_RouterCollector(router))

    def observe_realtime(self, session: RealtimeSession) -> None:
        """Count one finished realtime session's tokens and dollars (as `observe` does a
        call's), with its tokens by modality."""
        model = session.route.model
        usage = session.usage
        if usage.input_tokens:
            self.tokens.labels(model, "input").inc(usage.input_tokens)
        if usage.output_tokens:
            self.tokens.labels(model, "output").inc(usage.output_tokens)
        for direction, modality, count in (
            ("input", "text", usage.input_text_tokens),
            ("input", "audio", usage.input_audio_tokens),
            ("input", "other", usage.input_other_tokens),
            ("output", "text", usage.output_text_tokens),
            ("output", "audio", usage.output_audio_tokens),
            ("output", "other", usage.output_other_tokens),
        ):
            if count:
                self.realtime_tokens.labels(model, direction, modality).inc(count)
        cost = session.cost
        if cost is None:
            self.realtime_cost_unknown.labels(model).inc()
        elif cost:
            self.cost.labels(model).inc(cost)

    def observe(self, exchange: Exchange) -> None:
        """Count one finished request."""
        status = "499" if exchange.disconnected and exchange.status is None else exchange.status
        self.requests.labels(exchange.operation, exchange.format or "", str(status)).inc()
        if exchange.disconnected:
            self.disconnects.inc()
        if exchange.operation not in ("generate", "embed"):
            return
        route = (
            "none" if exchange.provider is None else f"{exchange.provider}/{exchange.route_model}"
        )
        if exchange.latency is not None:
            self.latency.labels(route).observe(exchange.latency)
        if exchange.ttfb is not None:
            self.ttfb.labels(route).observe(exchange.ttfb)
        model = exchange.route_model or exchange.model or ""
        if exchange.input_tokens:
            self.tokens.labels(model, "input").inc(exchange.input_tokens)
        if exchange.output_tokens:
            self.tokens.labels(model, "output").inc(exchange.output_tokens)
        if exchange.cost:
            self.cost.labels(model).inc(exchange.cost)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _RouterCollector(Collector):
    """Reads the router's own counters at scrape time, so nothing is counted twice."""

    def __init__(self, router: Router) -> None:
        self._router = router

    def collect(self) -> Iterator[Metric]:
        stats = self._router.statistics()
        attempts = CounterMetricFamily(
            "llm_router_attempts",
            "Upstream attempts by route and outcome",
            labels=["route", "outcome"],
        )
        kinds = {
            name: CounterMetricFamily(f"llm_router_{name}", help_, labels=["route"])
            for name, help_ in (
                ("retries", "Attempts that retried a failed route"),
                ("failovers", "Attempts that moved on to the next route"),
                ("hedges", "Hedge attempts started because an attempt was slow"),
                ("hedges_won", "Hedge attempts whose answer won"),
                ("breaker_opened", "Times the route's circuit opened"),
            )
        }
        breaker = GaugeMetricFamily(
            "llm_router_breaker_state",
            "1 for the route's current circuit state",
            labels=["route", "state"],
        )
        for key, route in stats["routes"].items():
            attempts.add_metric([key, "success"], route["successes"])
            attempts.add_metric([key, "failure"], route["failures"])
            attempts.add_metric([key, "cancelled"], route["cancelled"])
            for name, family in kinds.items():
                family.add_metric([key], route[name])
            if route["breaker"] is not None:
                for state in _BREAKER_STATES:
                    breaker.add_metric([key, state], 1.0 if route["breaker"] == state else 0.0)
        yield attempts
        yield from kinds.values()
        yield breaker
        yield GaugeMetricFamily(
            "llm_router_open_streams", "Streams open to callers", value=stats["open_streams"]
        )
        yield GaugeMetricFamily(
            "llm_router_calls_in_flight", "Router calls in flight", value=stats["calls_in_flight"]
        )
        pool = GaugeMetricFamily(
            "llm_router_pool_connections", "Upstream connections by state", labels=["state"]
        )
        for state in ("active", "idle", "connecting", "waiting", "in_use"):
            if state in stats["pool"]:
                pool.add_metric([state], stats["pool"][state])
        yield pool
