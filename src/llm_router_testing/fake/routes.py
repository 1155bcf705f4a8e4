"""URL routing of the fake server: which provider surface and wire format a request is for.

Every provider's real paths are served under one root. OpenAI and Mistral share
`/v1/chat/completions`: a request there is Mistral's when its Bearer key is the configured
Mistral key or its body uses Mistral-only fields (`random_seed`, `safe_prompt`);
`/mistral/v1/chat/completions` is always Mistral. Azure deployment paths need `api-version`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace

from llm_router.types import ProviderFormat

__all__ = ["Route", "resolve"]

_API_VERSION = re.compile(r"^\d{4}-\d{2}-\d{2}(-preview)?$")


@dataclass(frozen=True, slots=True)
class Route:
    """What a request path means.

    `provider` picks the credential check and error style (openai, azure, mistral, anthropic,
    vertex-anthropic, google, vertex-google, bedrock); `format` the body's wire format;
    `operation` is generate, count_tokens, models (a listing; with `model`, Gemini's
    get-model) or embed (then `embedding` names the embedding wire: openai, mistral, google,
    google-batch, vertex, titan, cohere). `model` and `stream` are set when the path
    decides them; `invoke` marks Bedrock InvokeModel (Anthropic bodies); `sse` is False for a
    Gemini stream asked without `alt=sse` (answered as one JSON array).
    """

    provider: str
    format: ProviderFormat
    operation: str = "generate"
    model: str | None = None
    stream: bool | None = None
    invoke: bool = False
    sse: bool = True
    rejection: tuple[int, str] | None = None
    embedding: str | None = None


_GEMINI = re.compile(
    r"^/(?:v1|v1beta|v1alpha)/models/(?P<model>[^/:]+)"
    r":(?P<op>generateContent|streamGenerateContent|countTokens|embedContent|batchEmbedContents)$"
)
_VERTEX = re.compile(
    r"^/(?:v1|v1beta1)/projects/[^/]+/locations/[^/]+/publishers/(?P<publisher>google|anthropic)"
    r"/models/(?P<model>[^/:]+)"
    r":(?P<op>generateContent|streamGenerateContent|countTokens|rawPredict|streamRawPredict"
    r"|predict|embedContent|batchEmbedContents)$"
)
_BEDROCK = re.compile(
    r"^/model/(?P<model>.+)/(?P<op>converse|converse-stream|invoke|invoke-with-response-stream"
    r"|count-tokens)$"
)
_AZURE_DEPLOYMENT = re.compile(
    r"^/openai/deployments/(?P<deployment>[^/]+)/(?P<op>chat/completions|responses|embeddings)$"
)
#: Bedrock model ids answered as embedding models by InvokeModel.
_BEDROCK_EMBEDDINGS = (("titan-embed", "titan"), ("cohere.embed", "cohere"))


def resolve(
    method: str,
    path: str,
    query: Mapping[str, str],
    headers: Mapping[str, str],
    *,
    mistral_key: str | None = None,
    body: bytes = b"",
) -> Route | None:
    """The route of a request, or None for a path no provider serves."""
    if method == "GET":
        return _listing(path, query, headers)
    if method != "POST":
        return None
    if path == "/v1/chat/completions":
        if _is_mistral(headers, body, mistral_key):
            return Route("mistral", ProviderFormat.MISTRAL)
        return Route("openai", ProviderFormat.OPENAI)
    if path == "/mistral/v1/chat/completions":
        return Route("mistral", ProviderFormat.MISTRAL)
    if path == "/v1/embeddings":
        if mistral_key and headers.get("authorization") == f"Bearer {mistral_key}":
            return _embed("mistral", ProviderFormat.MISTRAL, "mistral")
        return _embed("openai", ProviderFormat.OPENAI, "openai")
    if path == "/mistral/v1/embeddings":
        return _embed("mistral", ProviderFormat.MISTRAL, "mistral")
    if path == "/v1/responses":
        return Route("openai", ProviderFormat.RESPONSES)
    if path == "/v1/messages":
        return Route("anthropic", ProviderFormat.ANTHROPIC)
    if path == "/v1/messages/count_tokens":
        return Route("anthropic", ProviderFormat.ANTHROPIC, operation="count_tokens", stream=False)
    if path.startswith("/openai/"):
        return _azure(path, query)
    if path.startswith("/model/"):
        found = _BEDROCK.match(path)
        if found is None:
            return None
        op = found["op"]
        if op == "count-tokens":  # CountTokens: a Converse or an InvokeModel body, wrapped
            return Route(
                "bedrock",
                ProviderFormat.CONVERSE,
                operation="count_tokens",
                model=found["model"],
                stream=False,
            )
        if op == "invoke":
            lowered = found["model"].lower()
            for marker, wire in _BEDROCK_EMBEDDINGS:
                if marker in lowered:
                    return _embed("bedrock", ProviderFormat.CONVERSE, wire, found["model"])
        invoke = op.startswith("invoke")
        return Route(
            "bedrock",
            ProviderFormat.ANTHROPIC if invoke else ProviderFormat.CONVERSE,
            model=found["model"],
            stream=op.endswith("stream"),
            invoke=invoke,
        )
    found = _GEMINI.match(path)
    if found is not None:
        return _google("google", found["model"], found["op"], query)
    found = _VERTEX.match(path)
    if found is not None:
        if found["publisher"] == "google":
            op = found["op"]
            if op == "predict":
                return _embed("vertex-google", ProviderFormat.GOOGLE, "vertex", found["model"])
            if op in ("embedContent", "batchEmbedContents"):  # google-genai's Gemini models
                wire = "vertex-embed" if op == "embedContent" else "vertex-batch"
                return _embed("vertex-google", ProviderFormat.GOOGLE, wire, found["model"])
            return _google("vertex-google", found["model"], found["op"], query)
        if found["op"] not in ("rawPredict", "streamRawPredict"):
            return None
        if found["model"] == "count-tokens" and found["op"] == "rawPredict":
            # Claude on Vertex counts tokens at one model-less path; the body names the model.
            return Route(
                "vertex-anthropic", ProviderFormat.ANTHROPIC, operation="count_tokens", stream=False
            )
        stream = found["op"] == "streamRawPredict"
        return Route(
            "vertex-anthropic", ProviderFormat.ANTHROPIC, model=found["model"], stream=stream
        )
    return None


_GEMINI_MODEL = re.compile(r"^/(?:v1|v1beta|v1alpha)/models/(?P<model>[^/:]+)$")


def _listing(path: str, query: Mapping[str, str], headers: Mapping[str, str]) -> Route | None:
    """Model listings: OpenAI, Anthropic, Gemini (list and get) and Bedrock's foundation models."""
    google = "x-goog-api-key" in headers or "key" in query
    if path in ("/v1beta/models", "/v1alpha/models") or (path == "/v1/models" and google):
        return Route("google", ProviderFormat.GOOGLE, operation="models")
    if path == "/v1/models":
        anthropic = "anthropic-version" in headers
        provider = "anthropic" if anthropic else "openai"
        fmt = ProviderFormat.ANTHROPIC if anthropic else ProviderFormat.OPENAI
        return Route(provider, fmt, operation="models")
    if path == "/foundation-models":
        return Route("bedrock", ProviderFormat.CONVERSE, operation="models")
    found = _GEMINI_MODEL.match(path)
    if found is not None:
        return Route("google", ProviderFormat.GOOGLE, operation="models", model=found["model"])
    return None


def _is_mistral(headers: Mapping[str, str], body: bytes, mistral_key: str | None) -> bool:
    if mistral_key and headers.get("authorization") == f"Bearer {mistral_key}":
        return True
    return b'"random_seed"' in body or b'"safe_prompt"' in body


def _embed(provider: str, fmt: ProviderFormat, wire: str, model: str | None = None) -> Route:
    return Route(provider, fmt, "embed", model, stream=False, embedding=wire)


def _google(provider: str, model: str, op: str, query: Mapping[str, str]) -> Route:
    if op in ("embedContent", "batchEmbedContents"):
        wire = "google" if op == "embedContent" else "google-batch"
        return _embed(provider, ProviderFormat.GOOGLE, wire, model)
    if op == "countTokens":
        return Route(provider, ProviderFormat.GOOGLE, "count_tokens", model, stream=False)
    stream = op == "streamGenerateContent"
    return Route(
        provider, ProviderFormat.GOOGLE, model=model, stream=stream, sse=query.get("alt") == "sse"
    )


def _azure(path: str, query: Mapping[str, str]) -> Route | None:
    if path == "/openai/v1/embeddings":
        return _embed("azure", ProviderFormat.OPENAI, "openai")
    if path in ("/openai/v1/chat/completions", "/openai/v1/responses"):
        fmt = ProviderFormat.OPENAI if path.endswith("completions") else ProviderFormat.RESPONSES
        return Route("azure", fmt)
    deployment: str | None = None
    if path == "/openai/responses":
        fmt = ProviderFormat.RESPONSES
    else:
        found = _AZURE_DEPLOYMENT.match(path)
        if found is None:
            return None
        deployment = found["deployment"]
        if found["op"] == "embeddings":
            embed = _embed("azure", ProviderFormat.OPENAI, "openai", deployment)
            return _with_version(embed, query)
        fmt = (
            ProviderFormat.OPENAI if found["op"] == "chat/completions" else ProviderFormat.RESPONSES
        )
    return _with_version(Route("azure", fmt, model=deployment), query)


def _with_version(route: Route, query: Mapping[str, str]) -> Route:
    """Azure deployment paths need a valid `api-version`."""
    version = query.get("api-version")
    if version is None:
        return replace(route, rejection=(404, "Resource not found"))
    if not _API_VERSION.match(version):
        return replace(route, rejection=(400, f"API version not supported: {version}"))
    return route
