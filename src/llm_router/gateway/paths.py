"""Which caller path is which: the provider paths official SDKs call, matched to a format.

Paths mirror the providers' own, so official SDKs can point at the gateway unchanged:
OpenAI `/v1/chat/completions` and `/v1/responses`, Anthropic `/v1/messages`, Gemini
`/v1beta|v1/models/{model}:generateContent|:streamGenerateContent`, Bedrock Converse
`/model/{id}/converse|converse-stream`, and Mistral `/mistral/v1/chat/completions`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import unquote

from llm_router.types import ProviderFormat

__all__ = ["Endpoint", "Extra", "match_endpoint", "match_extra"]


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A caller path: its wire format, and what the URL says about model and streaming."""

    format: ProviderFormat
    model: str | None  # from the URL (Gemini, Bedrock), else from the body
    stream: bool | None  # from the URL; None: from the body's "stream" flag


_ROUTES: list[tuple[re.Pattern[str], Callable[[re.Match[str]], Endpoint]]] = [
    (re.compile(r"^/v1/chat/completions$"), lambda m: Endpoint(ProviderFormat.OPENAI, None, None)),
    (re.compile(r"^/v1/responses$"), lambda m: Endpoint(ProviderFormat.RESPONSES, None, None)),
    (re.compile(r"^/v1/messages$"), lambda m: Endpoint(ProviderFormat.ANTHROPIC, None, None)),
    (
        re.compile(r"^/mistral/v1/chat/completions$"),
        lambda m: Endpoint(ProviderFormat.MISTRAL, None, None),
    ),
    (
        re.compile(
            r"^/v1(?:beta)?/models/(?P<model>[^/:]+):(?P<verb>generateContent|streamGenerateContent)$"
        ),
        lambda m: Endpoint(
            ProviderFormat.GOOGLE, unquote(m["model"]), m["verb"] == "streamGenerateContent"
        ),
    ),
    (
        re.compile(r"^/model/(?P<model>[^/]+)/(?P<verb>converse|converse-stream)$"),
        lambda m: Endpoint(
            ProviderFormat.CONVERSE, unquote(m["model"]), m["verb"] == "converse-stream"
        ),
    ),
]


def match_endpoint(path: str) -> Endpoint | None:
    """The completion endpoint `path` names, or None."""
    for pattern, make in _ROUTES:
        m = pattern.match(path)
        if m:
            return make(m)
    return None


@dataclass(frozen=True, slots=True)
class Extra:
    """A path the gateway answers itself: model listings and token counts."""

    operation: str  # "models", "model" (one model) or "count_tokens"
    format: ProviderFormat
    model: str | None = None


_GEMINI_COUNT = re.compile(r"^/v1(?:beta)?/models/(?P<model>[^/:]+):countTokens$")
_BEDROCK_COUNT = re.compile(r"^/model/(?P<model>[^/]+)/count-tokens$")
_ONE_MODEL = re.compile(r"^/(?P<version>v1|v1beta)/models/(?P<model>[^:]+)$")


def _listing_format(headers: Mapping[str, str]) -> ProviderFormat:
    if "anthropic-version" in headers:
        return ProviderFormat.ANTHROPIC
    if "x-goog-api-key" in headers:
        return ProviderFormat.GOOGLE
    return ProviderFormat.OPENAI


def match_extra(method: str, path: str, headers: Mapping[str, str]) -> Extra | None:
    """Listings: `GET /v1/models` (Anthropic's shape when `anthropic-version` is sent,
    Gemini's with `x-goog-api-key`, else OpenAI's) and `GET /v1beta/models`; one model:
    `GET /v1/models/{id}` (same rule) and `GET /v1beta/models/{name}`. Counts:
    `POST /v1/messages/count_tokens`, Gemini `:countTokens` and Bedrock
    `POST /model/{id}/count-tokens`."""
    if method == "GET":
        if path == "/v1beta/models":
            return Extra("models", ProviderFormat.GOOGLE)
        if path == "/v1/models":
            return Extra("models", _listing_format(headers))
        found = _ONE_MODEL.match(path)
        if found is not None:
            fmt = ProviderFormat.GOOGLE
            if found["version"] == "v1":
                fmt = _listing_format(headers)
            return Extra("model", fmt, unquote(found["model"]).removeprefix("models/"))
        return None
    if method != "POST":
        return None
    if path == "/v1/messages/count_tokens":
        return Extra("count_tokens", ProviderFormat.ANTHROPIC)
    found = _GEMINI_COUNT.match(path)
    if found is not None:
        return Extra("count_tokens", ProviderFormat.GOOGLE, unquote(found["model"]))
    found = _BEDROCK_COUNT.match(path)
    if found is not None:
        return Extra("count_tokens", ProviderFormat.CONVERSE, unquote(found["model"]))
    return None
