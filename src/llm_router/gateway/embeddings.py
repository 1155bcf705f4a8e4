"""The gateway's embedding paths: OpenAI `POST /v1/embeddings` and Gemini
`/v1beta|v1/models/{model}:embedContent|:batchEmbedContents`, served by `Router.embed`.

Same rules as the completion paths: the caller's key is checked, the body read within its
limits, a caller who hangs up cancels the upstream calls, errors leave in the caller's
format, and the exchange records tokens and cost for the access log and the metrics.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import unquote

from llm_router import errors
from llm_router.formats.embeddings import EmbeddingFormat
from llm_router.gateway.asgi import Receive, Scope, Send, respond, serve_watching_disconnect
from llm_router.gateway.errors import render_error
from llm_router.types import ProviderFormat
from llm_router.universal import ErrorType

if TYPE_CHECKING:
    from llm_router.gateway.access_log import Exchange
    from llm_router.gateway.app import Gateway

__all__ = ["EmbeddingEndpoint", "match_embedding", "serve_embedding"]

logger = logging.getLogger("llm_router.gateway")


@dataclass(frozen=True, slots=True)
class EmbeddingEndpoint:
    """An embedding path: the caller's embedding format, its error format, the URL's model."""

    format: EmbeddingFormat
    errors: ProviderFormat
    model: str | None


_GEMINI_EMBED = re.compile(
    r"^/v1(?:beta)?/models/(?P<model>[^/:]+):(?P<verb>embedContent|batchEmbedContents)$"
)


def match_embedding(method: str, path: str) -> EmbeddingEndpoint | None:
    """The embedding endpoint `path` names (POST only), or None."""
    if method != "POST":
        return None
    if path == "/v1/embeddings":
        return EmbeddingEndpoint(EmbeddingFormat.OPENAI, ProviderFormat.OPENAI, None)
    found = _GEMINI_EMBED.match(path)
    if found is None:
        return None
    fmt = (
        EmbeddingFormat.GOOGLE if found["verb"] == "embedContent" else EmbeddingFormat.GOOGLE_BATCH
    )
    return EmbeddingEndpoint(fmt, ProviderFormat.GOOGLE, unquote(found["model"]))


async def serve_embedding(
    gateway: Gateway,
    endpoint: EmbeddingEndpoint,
    scope: Scope,
    receive: Receive,
    send: Send,
    headers: dict[str, str],
    exchange: Exchange,
) -> None:
    """Answer one embedding request through `gateway.router.embed`."""
    exchange.operation, exchange.format = "embed", endpoint.format.value
    exchange.model = endpoint.model
    from llm_router.gateway.app import _KEY_MESSAGE, _note_request

    if not gateway._admitted(scope, headers):
        await gateway._refuse(send, endpoint.errors, ErrorType.AUTHENTICATION, 401, _KEY_MESSAGE)
        return
    body = await gateway._read_limited(receive, headers, send, endpoint.errors, exchange)
    if body is None:
        return
    _note_request(exchange, body)

    async def serve() -> None:
        try:
            result = await gateway.router.embed(
                body, endpoint.format, endpoint.model, headers=headers
            )
        except errors.LLMRouterError as exc:
            exchange.error = type(exc).__name__
            status, payload, extra = render_error(exc, endpoint.errors)
            await respond(send, status, payload, extra)
        except Exception as exc:  # a bug of ours: one log line, a 500 in the caller's format
            logger.exception("gateway: unexpected error serving %s", exchange.path)
            exchange.error = type(exc).__name__
            if exchange.status is None:
                await gateway._refuse(
                    send, endpoint.errors, ErrorType.SERVER, 500, "internal gateway error"
                )
        else:
            exchange.provider, exchange.route_model = result.provider, result.model
            exchange.attempts = len(result.attempts)
            exchange.input_tokens, exchange.output_tokens = result.usage.input_tokens, 0
            exchange.cost = result.cost
            await respond(
                send,
                200,
                result.body,
                {"content-type": "application/json", "x-llm-router-provider": result.provider},
            )

    await serve_watching_disconnect(receive, exchange, serve)
