"""Contract checks on response headers: rate-limit state and the request id.

(Retry hints are judged by `error_429` and `error_503`, see `retry_hints`.) What a gateway
must do, per row (`AdvisoryViolation` marks advisory shortfalls, reported as warnings that
never fail a run):

- `ratelimit_headers`: the upstream's `x-ratelimit-*` (OpenAI style) and
  `anthropic-ratelimit-*` headers reach the client unchanged, plain and streamed: advisory,
  since a gateway may put its own limits there.
- `request_id`: answers, errors included, carry a request id under the name the format's SDK
  reads: required for OpenAI Chat and Responses (`x-request-id`, the SDK's `_request_id`),
  Anthropic (`request-id`) and Converse (`x-amzn-requestid`, botocore's
  `ResponseMetadata.RequestId`); advisory for Gemini and Mistral (`x-request-id`), whose SDKs
  do not read one.
"""

from __future__ import annotations

from collections.abc import Mapping

import httpx
import orjson

from llm_router.types import ProviderFormat

from .checks import AdvisoryViolation, CheckContext, _json_body, _read_stream
from .dialects import ContractViolation, preview
from .retry_hints import similar

__all__ = ["check_ratelimit_headers", "check_request_id"]

RATE_LIMITS = {
    "x-ratelimit-limit-requests": "10000",
    "x-ratelimit-remaining-requests": "9998",
    "x-ratelimit-reset-requests": "6ms",
    "anthropic-ratelimit-requests-limit": "10000",
    "anthropic-ratelimit-requests-remaining": "9998",
    "anthropic-ratelimit-requests-reset": "2030-01-01T00:00:00Z",
}
REQUEST_ID_HEADER = {
    ProviderFormat.OPENAI: "x-request-id",
    ProviderFormat.RESPONSES: "x-request-id",
    ProviderFormat.ANTHROPIC: "request-id",
    ProviderFormat.CONVERSE: "x-amzn-requestid",
    ProviderFormat.GOOGLE: "x-request-id",
    ProviderFormat.MISTRAL: "x-request-id",
}
REQUEST_ID_REQUIRED = frozenset(
    {
        ProviderFormat.OPENAI,
        ProviderFormat.RESPONSES,
        ProviderFormat.ANTHROPIC,
        ProviderFormat.CONVERSE,
    }
)


def _missing_limits(ctx: CheckContext, headers: httpx.Headers) -> list[str]:
    family = "anthropic-" if ctx.dialect.format is ProviderFormat.ANTHROPIC else "x-"
    wanted = {k: v for k, v in RATE_LIMITS.items() if k.startswith(family)}
    return [f"{k}: {v}" for k, v in wanted.items() if headers.get(k) != v]


async def check_ratelimit_headers(ctx: CheckContext) -> str:
    marker, prompt = ctx.tagged("rate limits")
    injected = {"x-fake-response-headers": orjson.dumps(RATE_LIMITS).decode()}
    headers = await ctx.inject(marker, injected)
    response = await ctx.post(ctx.dialect.request(ctx.model, prompt), headers)
    _json_body(response)
    plain = _missing_limits(ctx, response.headers)
    marker, prompt = ctx.tagged("rate limits stream")
    headers = await ctx.inject(marker, injected)
    request = ctx.dialect.request(ctx.model, prompt, stream=True)
    seen: dict[str, httpx.Headers] = {}
    await _read_stream(ctx, request, headers, seen_headers=seen)
    streamed = _missing_limits(ctx, seen["headers"])
    if plain or streamed:
        where = []
        if plain:
            where.append(f"the answer lacks {plain}{similar(response.headers, 'ratelimit')}")
        if streamed:
            where.append(f"the stream lacks {streamed}")
        raise AdvisoryViolation("; ".join(where) + " (the upstream sent them)")
    return "upstream rate-limit headers passed through, plain and streamed"


async def check_request_id(ctx: CheckContext) -> str:
    fmt = ctx.dialect.format
    name = REQUEST_ID_HEADER[fmt]
    marker, prompt = ctx.tagged("request id")
    answer = await ctx.post(ctx.dialect.request(ctx.model, prompt))
    _json_body(answer)
    marker, prompt = ctx.tagged("request id error")
    headers = await ctx.inject(marker, {"x-fake-status": "400"})
    error = await ctx.post(ctx.dialect.request(ctx.model, prompt), headers)
    if 200 <= error.status_code < 300:
        raise ContractViolation(
            f"answered {error.status_code}, so the upstream 400 never happened: {ctx.hint}"
        )
    missing = [
        f"the {kind} ({response.status_code}) has no {name}{similar(response.headers, 'request')}"
        for kind, response in (("answer", answer), ("error", error))
        if not response.headers.get(name)
    ]
    if missing:
        text = "; ".join(missing)
        if fmt in REQUEST_ID_REQUIRED:
            raise ContractViolation(text)
        raise AdvisoryViolation(text)
    ids = _ids(answer.headers, error.headers, name)
    return f"{name}: {preview(ids)}"


def _ids(first: Mapping[str, str], second: Mapping[str, str], name: str) -> str:
    return f"{first[name]}, error {second[name]}"
