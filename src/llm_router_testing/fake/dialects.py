"""Which renderer serves a route: prompt reading, bodies, streams and error bodies per surface."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import orjson

from llm_router.types import ProviderFormat, StreamEvent

from . import anthropic, bedrock, gemini, mistral, openai_chat, responses
from .routes import Route
from .wire import Answer, ErrorReply, Prompt, RejectedRequest, RenderContext

__all__ = ["Dialect", "count_tokens_body", "dialect_for", "error_reply", "models_body"]


@dataclass(frozen=True, slots=True)
class Dialect:
    read_prompt: Callable[[Mapping[str, Any], Route], Prompt]
    render_body: Callable[[Answer, RenderContext], bytes]
    render_events: Callable[[Answer, RenderContext], list[StreamEvent]]
    stream_error: Callable[[str, int], StreamEvent]


def _anthropic_prompt(body: Mapping[str, Any], route: Route) -> Prompt:
    version = None
    if route.invoke:
        version = "bedrock-2023-05-31"
    elif route.provider == "vertex-anthropic":
        version = "vertex-2023-10-16"
    counting = route.operation == "count_tokens"
    return anthropic.read_prompt(body, model=route.model, version=version, counting=counting)


def _converse_prompt(body: Mapping[str, Any], route: Route) -> Prompt:
    if route.operation == "count_tokens":
        return _bedrock_count_prompt(body, route)
    return bedrock.read_prompt(body, model=route.model or "")


def _bedrock_count_prompt(body: Mapping[str, Any], route: Route) -> Prompt:
    """Bedrock CountTokens: `input` holds one of `converse` (messages, system, toolConfig) or
    `invokeModel` (`body`, the InvokeModel body base64-encoded); Claude models only, as on
    Bedrock, which refuses the others with a ValidationException."""
    model = route.model or ""
    if "anthropic." not in model and "claude" not in model:
        raise RejectedRequest("The provided model doesn't support counting tokens.")
    wrapped = body.get("input")
    if not isinstance(wrapped, dict) or len(wrapped) != 1:
        raise RejectedRequest("input: exactly one of converse or invokeModel is required")
    if isinstance(wrapped.get("converse"), dict):
        return bedrock.read_prompt(wrapped["converse"], model=model)
    invoke = wrapped.get("invokeModel")
    try:
        inner = orjson.loads(base64.b64decode(invoke["body"], validate=True))  # type: ignore[index]
    except (TypeError, KeyError, ValueError, binascii.Error) as error:
        raise RejectedRequest(f"input.invokeModel.body: not a base64 JSON body ({error})") from None
    if not isinstance(inner, dict):
        raise RejectedRequest("input.invokeModel.body: must be a JSON object")
    # The whole InvokeModel body, max_tokens and all: read as InvokeModel reads it.
    invoked = replace(route, format=ProviderFormat.ANTHROPIC, operation="generate", invoke=True)
    return _anthropic_prompt(inner, invoked)


_DIALECTS = {
    ProviderFormat.OPENAI: Dialect(
        lambda body, route: openai_chat.read_prompt(body, model=route.model),
        openai_chat.render_body,
        openai_chat.render_events,
        openai_chat.stream_error,
    ),
    ProviderFormat.MISTRAL: Dialect(
        lambda body, route: mistral.read_prompt(body),
        mistral.render_body,
        mistral.render_events,
        mistral.stream_error,
    ),
    ProviderFormat.RESPONSES: Dialect(
        lambda body, route: responses.read_prompt(body, model=route.model),
        responses.render_body,
        responses.render_events,
        responses.stream_error,
    ),
    ProviderFormat.ANTHROPIC: Dialect(
        _anthropic_prompt, anthropic.render_body, anthropic.render_events, anthropic.stream_error
    ),
    ProviderFormat.GOOGLE: Dialect(
        lambda body, route: gemini.read_prompt(
            gemini.count_request(body) if route.operation == "count_tokens" else body,
            model=route.model or "",
        ),
        gemini.render_body,
        gemini.render_events,
        gemini.stream_error,
    ),
    ProviderFormat.CONVERSE: Dialect(
        _converse_prompt,
        bedrock.render_body,
        bedrock.render_events,
        anthropic.stream_error,  # unused: Bedrock streams fail with exception frames
    ),
}


def dialect_for(route: Route) -> Dialect:
    return _DIALECTS[route.format]


def error_reply(
    provider: str | None,
    status: int,
    message: str,
    *,
    reason: str | None = None,
    error_type: str | None = None,
) -> ErrorReply:
    """An error answer in the style of `provider` (None: a path no provider serves)."""
    if provider in ("anthropic", "vertex-anthropic"):
        return anthropic.error_reply(status, message)
    if provider in ("google", "vertex-google"):
        return gemini.error_reply(status, message, reason=reason)
    if provider == "bedrock":
        return bedrock.error_reply(status, message, error_type=error_type)
    if provider == "mistral":
        return mistral.error_reply(status, message)
    if provider == "azure" and status in (401, 404):
        return ErrorReply(
            status, orjson.dumps({"error": {"code": str(status), "message": message}})
        )
    return openai_chat.error_reply(status, message)


def count_tokens_body(route: Route, prompt: Prompt) -> bytes:
    if route.format is ProviderFormat.GOOGLE:
        return gemini.count_tokens_body(prompt)
    if route.provider == "bedrock":
        return orjson.dumps({"inputTokens": max(1, prompt.input_words)})
    return orjson.dumps({"input_tokens": max(1, prompt.input_words)})


def _gemini_model(model: str) -> dict[str, Any]:
    return {
        "name": f"models/{model}",
        "version": "001",
        "displayName": model,
        "inputTokenLimit": 1048576,
        "outputTokenLimit": 65536,
        "supportedGenerationMethods": ["generateContent", "countTokens"],
    }


def models_body(route: Route, models: Sequence[str], created: int) -> bytes:
    if route.provider == "google":
        if route.model is not None:
            return orjson.dumps(_gemini_model(route.model))
        return orjson.dumps({"models": [_gemini_model(m) for m in models]})
    if route.provider == "bedrock":
        summaries = [
            {
                "modelArn": f"arn:aws:bedrock:us-east-1::foundation-model/{model}",
                "modelId": model,
                "modelName": model,
                "providerName": model.split(".", 1)[0] if "." in model else "fake",
                "inputModalities": ["TEXT"],
                "outputModalities": ["TEXT"],
                "responseStreamingSupported": True,
                "inferenceTypesSupported": ["ON_DEMAND"],
                "modelLifecycle": {"status": "ACTIVE"},
            }
            for model in models
        ]
        return orjson.dumps({"modelSummaries": summaries})
    if route.provider == "anthropic":
        data = [
            {
                "type": "model",
                "id": model,
                "display_name": model,
                "created_at": "2025-01-01T00:00:00Z",
            }
            for model in models
        ]
        first, last = (models[0], models[-1]) if models else (None, None)
        return orjson.dumps({"data": data, "has_more": False, "first_id": first, "last_id": last})
    listed: list[dict[str, Any]] = [
        {"id": model, "object": "model", "created": created, "owned_by": "fake-provider"}
        for model in models
    ]
    return orjson.dumps({"object": "list", "data": listed})
