"""`Router.embed`: one embedding call over its routes, with the router's retries and failover.

The caller's body is read into the universal `EmbeddingRequest` (validated, whatever the
route), each route's wire is chosen by its provider, and the request is sent as that wire's
calls: the caller's own bytes when the wire is the caller's (passthrough), else translated
and, for providers that take fewer inputs a call (Titan: one; Cohere: 96; Gemini batch:
100), split into calls sent concurrently and joined in order. The answer comes back in the
caller's format with vectors, usage and cost read from it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson
import trio

from llm_router import errors
from llm_router._concurrency import open_nursery
from llm_router.answer import Pricer
from llm_router.formats.embeddings import (
    EmbeddingFormat,
    EmbeddingRequest,
    EmbeddingResponse,
    estimate_input_tokens,
    max_inputs,
    merge_responses,
    parse_request,
    parse_response,
    plan_requests,
    render_response,
    retarget,
)
from llm_router.limiting import Demand
from llm_router.resilience import AttemptRecord
from llm_router.resilience.log import with_usage
from llm_router.routing import Route, forwardable_headers
from llm_router.types import ProviderFormat
from llm_router.universal import Usage
from llm_router.upstream import open_upstream, read_answer, scrubber_for

if TYPE_CHECKING:
    import httpx

    from llm_router.builder import RouterConfig
    from llm_router.routing import Resolver

__all__ = ["EmbeddingResult", "prepare_embed", "run_embed"]

#: One upstream call's answer: read, and its bytes as sent.
_Answer = tuple[EmbeddingResponse, bytes]

#: Upstream calls of one split request in flight at once (per attempt).
MAX_CONCURRENT_CALLS = 8


class EmbeddingResult:
    """Embeddings, pre-serialised in the caller's format, with what they say.

    `body` is the answer in the caller's `format`; `vectors` the embeddings in input order;
    `usage` the input tokens billed (`usage_estimated` when the provider reported none and
    the count is the local estimate, a token per four bytes of text); `cost` dollars at the
    catalog's input price (None when the model has no price). `provider`, `model` and
    `provider_format` (the embedding wire spoken to it) name the route that answered;
    `attempts` is the attempt log, as for `CompletionResult`.
    """

    __slots__ = (
        "_attempts",
        "_attempts_raw",
        "body",
        "cost",
        "format",
        "latency",
        "model",
        "provider",
        "provider_format",
        "usage",
        "usage_estimated",
        "vectors",
    )

    def __init__(
        self,
        answer: _Embedded,
        *,
        format: EmbeddingFormat,
        provider: str,
        model: str,
        provider_format: EmbeddingFormat,
        latency: float,
        attempts: tuple[AttemptRecord, ...],
    ) -> None:
        self.body = answer.body
        self.vectors = answer.response.vectors
        self.usage = answer.usage
        self.usage_estimated = answer.response.estimated
        self.cost = answer.cost
        self.format = format
        self.provider = provider
        self.model = model
        self.provider_format = provider_format
        self.latency = latency
        self._attempts_raw = attempts
        self._attempts: tuple[AttemptRecord, ...] | None = None

    @property
    def attempts(self) -> tuple[AttemptRecord, ...]:
        if self._attempts is None:
            self._attempts = with_usage(self._attempts_raw, self.usage, self.cost)
        return self._attempts

    def json(self) -> Any:
        return orjson.loads(self.body)

    def __repr__(self) -> str:
        dims = len(self.vectors[0]) if self.vectors else 0
        return (
            f"<EmbeddingResult {self.provider}/{self.model} format={self.format}"
            f" vectors={len(self.vectors)}x{dims} latency={self.latency:.3f}s>"
        )


@dataclass(slots=True)
class _Embedded:
    """One attempt's answer: the caller's bytes and what they say."""

    body: bytes
    response: EmbeddingResponse
    usage: Usage
    cost: float | None


@dataclass(slots=True)
class _EmbedCall:
    raw: bytes
    obj: dict[str, Any]
    format: EmbeddingFormat
    request: EmbeddingRequest
    routes: list[Route]
    wires: dict[str, EmbeddingFormat]
    headers: dict[str, str]
    demand: Demand | None
    _bodies: dict[tuple[EmbeddingFormat, str], list[bytes]] = field(default_factory=dict)

    def passthrough(self, wire: EmbeddingFormat, model: str) -> bool:
        """Whether the caller's own bytes go upstream: same wire, and no more inputs than
        one call of it takes (a Gemini batch of 150 is sent as 100 and 50)."""
        return wire is self.format and len(self.request.inputs) <= max_inputs(wire, model)

    def bodies_for(self, route: Route) -> tuple[EmbeddingFormat, list[bytes]]:
        wire = self.wires[route.key]
        key = (wire, route.model)
        bodies = self._bodies.get(key)
        if bodies is None:
            try:
                if self.passthrough(wire, route.model):
                    bodies = [retarget(self.raw, self.obj, wire, route.model)]
                else:
                    bodies = plan_requests(self.request, wire, route.model)
            except errors.TranslationError as exc:
                raise errors.InvalidRequestError(
                    f"{route.alias}: {exc.message}", path=exc.path
                ) from None
            self._bodies[key] = bodies
        return wire, bodies


def prepare_embed(
    config: RouterConfig,
    resolver: Resolver,
    raw: bytes,
    obj: dict[str, Any],
    fmt: EmbeddingFormat,
    model: str | None,
    headers: Mapping[str, str] | None,
    caller: str | None,
) -> _EmbedCall:
    """Validate the caller's request and find the routes that can embed it."""
    try:
        request = parse_request(obj, fmt, model=model)
    except errors.TranslationError as exc:
        raise errors.InvalidRequestError(exc.message, path=exc.path) from None
    name = request.model
    spec = config.catalog.find(name)
    if spec is not None and spec.flavor != "embedding":
        raise errors.ModelKindError(
            f"model {name!r} is a {spec.flavor} model, not an embedding model: embed with one"
            " such as 'text-embedding-3-small' or 'gemini-embedding-001'",
            model=name,
            kind=spec.flavor,
        )
    routes: list[Route] = []
    wires: dict[str, EmbeddingFormat] = {}
    refused: list[str] = []
    tokens = any(not isinstance(item, str) for item in request.inputs)
    for route in resolver.resolve(name, ProviderFormat.OPENAI):
        wire = route.provider.embedding_format(route.model, fmt)
        if wire is None or (tokens and wire is not EmbeddingFormat.OPENAI):
            refused.append(route.key)
            continue
        routes.append(route)
        wires[route.key] = wire
    if not routes:
        if tokens:
            raise errors.InvalidRequestError(
                f"token-id inputs can only be embedded by OpenAI-format routes; model {name!r}"
                f" has none (routes: {', '.join(refused)})",
                path="input",
            )
        raise errors.NoRouteError(
            f"no configured provider serves embeddings for model {name!r}"
            f" (routes that cannot: {', '.join(refused) or 'none'})"
        )
    demand = None
    executor = config.executor
    if executor.limiter is not None or executor.catalog is not None:
        demand = Demand(name, caller, estimate_input_tokens(request.inputs), 0)
    return _EmbedCall(
        raw=raw,
        obj=obj,
        format=fmt,
        request=request,
        routes=routes,
        wires=wires,
        headers=forwardable_headers(headers, config.forwarded_headers),
        demand=demand,
    )


async def run_embed(
    config: RouterConfig, client: httpx.AsyncClient, call: _EmbedCall
) -> EmbeddingResult:
    """Run `call` through the executor (retries, failover, breakers, limits)."""
    started = trio.current_time()

    async def send_one(
        route: Route, wire: EmbeddingFormat, body: bytes
    ) -> tuple[EmbeddingResponse, bytes]:
        response = await open_upstream(
            client,
            route,
            body,
            stream=False,
            headers=call.headers,
            auth=config.auth.get(route.alias),
            limits=config.read_limits,
            embedding=wire,
        )
        config.executor.observe(route, response.headers)
        scrubber = scrubber_for(response)
        try:
            data = await read_answer(response, route, config.read_limits.max_response_body)
        finally:
            await response.aclose()
        try:
            parsed = parse_response(
                orjson.loads(data), wire, headers=response.headers, expected=_count(body, wire)
            )
        except (errors.TranslationError, orjson.JSONDecodeError) as exc:
            raise scrubber.error(
                errors.UpstreamError(
                    f"{route.alias}: HTTP {response.status_code} answer is not a usable"
                    f" {wire.value} embedding answer: {exc}",
                    status=502,
                    provider=route.alias,
                )
            ) from None
        return parsed, data

    async def attempt(route: Route) -> _Embedded:
        wire, bodies = call.bodies_for(route)
        if len(bodies) == 1:
            answers = [await send_one(route, wire, bodies[0])]
        else:
            answers = await _fan_out(send_one, route, wire, bodies)
        merged = merge_responses([part for part, _ in answers], call.request, route.model)
        if call.passthrough(wire, route.model):
            body = answers[0][1]  # the upstream's own bytes
        else:
            body = render_response(merged, call.request, call.format)
        tokens = merged.input_tokens or 0
        usage = Usage(input_tokens=tokens, output_tokens=0, total_tokens=tokens)
        pricer = Pricer(config.catalog, (route.model, call.request.model))
        return _Embedded(body, merged, usage, pricer.cost(usage))

    answer, route, attempts = await config.executor.run_complete(
        call.routes,
        attempt,
        label=call.request.model,
        demand=call.demand,
        measure=_measure,
        operation="embeddings",
    )
    return EmbeddingResult(
        answer,
        format=call.format,
        provider=route.alias,
        model=route.model,
        provider_format=call.wires[route.key],
        latency=trio.current_time() - started,
        attempts=attempts,
    )


async def _fan_out(
    send_one: Callable[[Route, EmbeddingFormat, bytes], Awaitable[_Answer]],
    route: Route,
    wire: EmbeddingFormat,
    bodies: list[bytes],
) -> list[_Answer]:
    """Send `bodies` concurrently (at most `MAX_CONCURRENT_CALLS` at once); the first
    failure cancels the others and is raised alone, so the resilience engine sees one
    typed error, as for a single call."""
    results: list[_Answer | None] = [None] * len(bodies)
    failure: list[errors.LLMRouterError] = []
    limiter = trio.CapacityLimiter(MAX_CONCURRENT_CALLS)

    async with open_nursery() as nursery:

        async def one(index: int) -> None:
            async with limiter:
                try:
                    results[index] = await send_one(route, wire, bodies[index])
                except errors.LLMRouterError as exc:
                    if not failure:
                        failure.append(exc)
                    nursery.cancel_scope.cancel()

        for index in range(len(bodies)):
            nursery.start_soon(one, index)
    if failure:
        raise failure[0]
    return [result for result in results if result is not None]


def _count(body: bytes, wire: EmbeddingFormat) -> int | None:
    """How many vectors an upstream body asks for (None: not checked)."""
    obj = orjson.loads(body)
    if wire is EmbeddingFormat.TITAN or wire is EmbeddingFormat.GOOGLE:
        return 1
    if wire is EmbeddingFormat.COHERE:
        return len(obj.get("texts") or ())
    if wire is EmbeddingFormat.GOOGLE_BATCH:
        return len(obj.get("requests") or ())
    if wire is EmbeddingFormat.VERTEX:
        return len(obj.get("instances") or ())
    value = obj.get("input")
    if isinstance(value, str) or (value and all(isinstance(v, int) for v in value)):
        return 1
    return len(value) if isinstance(value, list) else None


def _measure(answer: _Embedded) -> tuple[Usage | None, float | None]:
    return answer.usage, answer.cost
