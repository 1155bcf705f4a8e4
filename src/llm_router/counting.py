"""Input-token counts: asked of a provider that counts (Anthropic `count_tokens`, Gemini and
Vertex `:countTokens`, Claude on Vertex, Bedrock CountTokens for Claude models), translated from the caller's format to the route's,
else the documented local estimate (`estimate_tokens`).

Routes are tried in order; a provider that cannot count is skipped, one that fails (down,
refusing our credential, not knowing the model) is logged and the next is tried. A request
the provider calls malformed (400, 422) is the caller's error and is raised.
"""

from __future__ import annotations

import base64
import binascii
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx
import orjson
import trio

from llm_router import errors
from llm_router.providers.base import UpstreamRequest, edit_json_body
from llm_router.routing import Route
from llm_router.translate import translate_request
from llm_router.types import ProviderFormat
from llm_router.upstream import ReadLimits, open_upstream, read_answer, scrubber_for

if TYPE_CHECKING:
    from llm_router.auth import AuthConfig

__all__ = ["TokenCount", "count_with_routes", "countable_body", "estimate_tokens"]

logger = logging.getLogger("llm_router.counting")

_CHARS_PER_TOKEN = 4
_PER_MESSAGE = 3


@dataclass(frozen=True, slots=True)
class TokenCount:
    """How many input tokens a request holds.

    `provider` and `model` name the route that counted; both are None for the local
    estimate (`estimated` True)."""

    input_tokens: int
    provider: str | None = None
    model: str | None = None

    @property
    def estimated(self) -> bool:
        return self.provider is None


def estimate_tokens(body: Any) -> int:
    """The local estimate for a parsed request body (any format): one token per four
    characters (rounded up) of every string except the model name, plus three tokens per
    message or content entry (and for a system prompt). Deterministic, not a tokenizer."""
    chars = 0
    entries = 0
    stack: list[Any] = [body]
    while stack:  # iterative: arbitrarily deep bodies cannot exhaust the stack
        value = stack.pop()
        if isinstance(value, str):
            chars += len(value)
        elif isinstance(value, dict):
            for key, item in value.items():
                if key != "model":
                    stack.append(item)
        elif isinstance(value, list):
            stack.extend(value)
    if isinstance(body, dict):
        for key in ("messages", "contents"):
            if isinstance(body.get(key), list):
                entries += len(body[key])
        if body.get("system") or body.get("systemInstruction"):
            entries += 1
    return math.ceil(chars / _CHARS_PER_TOKEN) + _PER_MESSAGE * entries


def countable_body(
    obj: Mapping[str, Any], fmt: ProviderFormat
) -> tuple[dict[str, Any], ProviderFormat]:
    """A count request's body as a generate body, and that body's format: Gemini's
    `generateContentRequest` is unwrapped (a bare `contents` is one already), and so is a
    Bedrock CountTokens body (`input.converse`, a Converse body; `input.invokeModel.body`, an
    InvokeModel body base64-encoded, which for the Claude models Bedrock counts is Anthropic's)."""
    if fmt is ProviderFormat.GOOGLE and isinstance(obj.get("generateContentRequest"), dict):
        inner = dict(obj["generateContentRequest"])
        inner.pop("model", None)
        return inner, fmt
    wrapped = obj.get("input") if fmt is ProviderFormat.CONVERSE else None
    if isinstance(wrapped, dict):
        if isinstance(wrapped.get("converse"), dict):
            return dict(wrapped["converse"]), fmt
        invoke = wrapped.get("invokeModel")
        if not isinstance(invoke, dict) or not isinstance(invoke.get("body"), str):
            raise errors.InvalidRequestError(
                "input: a CountTokens body holds `converse` (a Converse body) or "
                "`invokeModel` with `body` (the InvokeModel body, base64-encoded)"
            )
        try:
            decoded: object = orjson.loads(base64.b64decode(invoke["body"], validate=True))
        except (ValueError, binascii.Error):
            decoded = None
        if not isinstance(decoded, dict):
            raise errors.InvalidRequestError(
                "input.invokeModel.body: not a base64-encoded JSON object"
            )
        return decoded, ProviderFormat.ANTHROPIC
    return dict(obj), fmt


async def count_with_routes(
    client: httpx.AsyncClient,
    routes: Sequence[Route],
    raw: bytes,
    fmt: ProviderFormat,
    *,
    headers: Mapping[str, str],
    auth: Callable[[Route], AuthConfig | None],
    limits: ReadLimits,
    estimate: Any,
    per_route: float | None = None,
) -> TokenCount:
    """The first count a route's provider gives for `raw` (a generate body in `fmt`) within
    `per_route` seconds each, else `estimate_tokens(estimate)`."""
    bodies: dict[ProviderFormat, bytes] = {}
    for route in routes:
        if route.format not in bodies:
            bodies[route.format] = (
                raw
                if route.format is fmt
                else translate_request(raw, fmt, route.format, default_max_tokens=1024)
            )
        body = bodies[route.format]
        if route.format is ProviderFormat.ANTHROPIC:
            body = edit_json_body(body, {"model": route.model})
        upstream = UpstreamRequest(route.model, route.format, body, False, headers)
        request = route.provider.count_tokens_request(upstream)
        if request is None:
            continue
        with trio.move_on_after(math.inf if per_route is None else per_route):
            try:
                return await _ask(client, route, request, auth(route), limits)
            except errors.InvalidRequestError:
                raise
            except errors.LLMRouterError as exc:
                logger.warning("token count on %s failed, trying the next: %s", route.key, exc)
                continue
        logger.warning("token count on %s: no answer within %g s", route.key, per_route)
    return TokenCount(estimate_tokens(estimate))


async def _ask(
    client: httpx.AsyncClient,
    route: Route,
    request: httpx.Request,
    auth: AuthConfig | None,
    limits: ReadLimits,
) -> TokenCount:
    response = await open_upstream(
        client, route, b"", stream=False, headers={}, auth=auth, limits=limits, request=request
    )
    scrubber = scrubber_for(response)
    try:
        data = await read_answer(response, route, limits.max_response_body)
    finally:
        await response.aclose()
    if route.provider.kind == "bedrock":
        key = "inputTokens"  # CountTokens answers so for Converse and InvokeModel bodies alike
    elif route.format is ProviderFormat.ANTHROPIC:
        key = "input_tokens"
    else:
        key = "totalTokens"
    try:
        count = orjson.loads(data).get(key)
    except (orjson.JSONDecodeError, AttributeError):
        count = None
    if not isinstance(count, int) or isinstance(count, bool) or count < 0:
        raise scrubber.error(
            errors.UpstreamError(
                f"{route.alias}: the token count answer has no {key!r} count",
                status=502,
                provider=route.alias,
            )
        )
    return TokenCount(count, route.alias, route.model)
