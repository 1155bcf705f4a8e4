"""llm-router: a Trio-native router for LLM requests across every major provider.

Public names are re-exported here; see README.md for the tour. They load on first use, so
`import llm_router` costs almost nothing and a program pays only for the parts it touches
(a command that never builds a router never imports httpx, Trio or the providers).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from llm_router._lazy import lazy_exports

if TYPE_CHECKING:
    from llm_router.auth import (
        AccessToken,
        ApiKey,
        AuthConfig,
        AwsSigV4,
        AzureEntra,
        Custom,
        GoogleServiceAccount,
        OAuth,
        Secret,
    )
    from llm_router.builder import RouterBuilder
    from llm_router.catalog import Catalog, ModelSpec
    from llm_router.counting import TokenCount
    from llm_router.embedding import EmbeddingResult
    from llm_router.errors import (
        AuthenticationError,
        ConfigurationError,
        ConnectError,
        ContentFilterError,
        ContextWindowExceededError,
        FramingError,
        InvalidRequestError,
        InvalidUsageError,
        LLMRouterError,
        ModelKindError,
        ModelNotFoundError,
        NoRouteError,
        NotFoundError,
        NotInTrioError,
        OverloadedError,
        PermissionError,
        PoolTimeoutError,
        ProviderError,
        RateLimitError,
        ResponseTooLargeError,
        StreamError,
        StreamTruncatedError,
        TimeoutError,
        TranslationError,
        UpstreamError,
    )
    from llm_router.formats.embeddings import EmbeddingFormat
    from llm_router.providers import (
        PRESETS,
        AnthropicProvider,
        AzureProvider,
        BedrockProvider,
        GoogleProvider,
        MistralProvider,
        OpenAICompatibleProvider,
        OpenAIProvider,
        Provider,
        VertexProvider,
    )
    from llm_router.ratelimit import RateLimitPolicy
    from llm_router.resilience import (
        AttemptOutcome,
        AttemptRecord,
        BreakerPolicy,
        BudgetPolicy,
        HedgePolicy,
        Hooks,
        RetryPolicy,
        TimeoutPolicy,
    )
    from llm_router.router import CompletionResult, Router, RouterClosedError, RouterStream
    from llm_router.routing import Route
    from llm_router.state import MemoryState, RedisState, SharedState
    from llm_router.translate import (
        StreamTranslator,
        translate_error,
        translate_request,
        translate_response,
    )
    from llm_router.types import ProviderFormat, StreamEvent
    from llm_router.universal import Usage
    from llm_router.upstream import ReadLimits

__version__ = "0.1.0"

__all__ = [
    "PRESETS",
    "AttemptOutcome",
    "AttemptRecord",
    "BreakerPolicy",
    "BudgetPolicy",
    "HedgePolicy",
    "Hooks",
    "RetryPolicy",
    "TimeoutPolicy",
    "RateLimitPolicy",
    "MemoryState",
    "RedisState",
    "SharedState",
    "AccessToken",
    "AnthropicProvider",
    "ApiKey",
    "AwsSigV4",
    "AzureEntra",
    "AzureProvider",
    "BedrockProvider",
    "GoogleProvider",
    "GoogleServiceAccount",
    "MistralProvider",
    "OAuth",
    "OpenAICompatibleProvider",
    "VertexProvider",
    "AuthConfig",
    "AuthenticationError",
    "Catalog",
    "CompletionResult",
    "ConfigurationError",
    "ConnectError",
    "ContentFilterError",
    "ContextWindowExceededError",
    "Custom",
    "EmbeddingFormat",
    "EmbeddingResult",
    "FramingError",
    "InvalidRequestError",
    "InvalidUsageError",
    "LLMRouterError",
    "ModelKindError",
    "ModelNotFoundError",
    "ModelSpec",
    "NoRouteError",
    "NotInTrioError",
    "NotFoundError",
    "OpenAIProvider",
    "OverloadedError",
    "PermissionError",
    "PoolTimeoutError",
    "Provider",
    "ProviderError",
    "ProviderFormat",
    "RateLimitError",
    "ReadLimits",
    "ResponseTooLargeError",
    "Route",
    "Router",
    "RouterBuilder",
    "RouterClosedError",
    "RouterStream",
    "Secret",
    "StreamError",
    "StreamEvent",
    "StreamTranslator",
    "StreamTruncatedError",
    "TimeoutError",
    "TranslationError",
    "UpstreamError",
    "TokenCount",
    "Usage",
    "translate_error",
    "translate_request",
    "translate_response",
]

#: Where each public name lives (imported on first access).
_HOME: dict[str, str] = {
    **dict.fromkeys(
        (
            "AccessToken",
            "ApiKey",
            "AuthConfig",
            "AwsSigV4",
            "AzureEntra",
            "Custom",
            "GoogleServiceAccount",
            "OAuth",
            "Secret",
        ),
        "llm_router.auth",
    ),
    "RouterBuilder": "llm_router.builder",
    **dict.fromkeys(("Catalog", "ModelSpec"), "llm_router.catalog"),
    "EmbeddingResult": "llm_router.embedding",
    "EmbeddingFormat": "llm_router.formats.embeddings",
    **dict.fromkeys(
        (
            "AuthenticationError",
            "ConfigurationError",
            "ConnectError",
            "ContentFilterError",
            "ContextWindowExceededError",
            "FramingError",
            "InvalidRequestError",
            "InvalidUsageError",
            "LLMRouterError",
            "ModelKindError",
            "ModelNotFoundError",
            "NoRouteError",
            "NotFoundError",
            "NotInTrioError",
            "OverloadedError",
            "PermissionError",
            "PoolTimeoutError",
            "ProviderError",
            "RateLimitError",
            "ResponseTooLargeError",
            "StreamError",
            "StreamTruncatedError",
            "TimeoutError",
            "TranslationError",
            "UpstreamError",
        ),
        "llm_router.errors",
    ),
    **dict.fromkeys(
        (
            "PRESETS",
            "AnthropicProvider",
            "AzureProvider",
            "BedrockProvider",
            "GoogleProvider",
            "MistralProvider",
            "OpenAICompatibleProvider",
            "OpenAIProvider",
            "Provider",
            "VertexProvider",
        ),
        "llm_router.providers",
    ),
    "RateLimitPolicy": "llm_router.ratelimit",
    "TokenCount": "llm_router.counting",
    **dict.fromkeys(
        (
            "AttemptOutcome",
            "AttemptRecord",
            "BreakerPolicy",
            "BudgetPolicy",
            "HedgePolicy",
            "Hooks",
            "RetryPolicy",
            "TimeoutPolicy",
        ),
        "llm_router.resilience",
    ),
    **dict.fromkeys(
        ("CompletionResult", "Router", "RouterClosedError", "RouterStream"), "llm_router.router"
    ),
    "Route": "llm_router.routing",
    **dict.fromkeys(("MemoryState", "RedisState", "SharedState"), "llm_router.state"),
    **dict.fromkeys(
        ("StreamTranslator", "translate_error", "translate_request", "translate_response"),
        "llm_router.translate",
    ),
    **dict.fromkeys(("ProviderFormat", "StreamEvent"), "llm_router.types"),
    "Usage": "llm_router.universal",
    "ReadLimits": "llm_router.upstream",
}


__getattr__, __dir__ = lazy_exports(__name__, _HOME)
