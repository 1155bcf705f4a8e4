"""llm-router: a Trio-native router for LLM requests across every major provider.

Public names are re-exported here; see README.md for the tour.
"""

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
from llm_router.errors import (
    AuthenticationError,
    ConfigurationError,
    ConnectError,
    ContentFilterError,
    ContextWindowExceededError,
    FramingError,
    InvalidRequestError,
    LLMRouterError,
    ModelNotFoundError,
    NoRouteError,
    NotFoundError,
    OverloadedError,
    PermissionError,
    ProviderError,
    RateLimitError,
    StreamError,
    TimeoutError,
    TranslationError,
    UpstreamError,
)
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
from llm_router.router import CompletionResult, Router, RouterClosedError, RouterStream
from llm_router.routing import Route
from llm_router.translate import (
    StreamTranslator,
    translate_error,
    translate_request,
    translate_response,
)
from llm_router.types import ProviderFormat, StreamEvent

__version__ = "0.1.0"

__all__ = [
    "PRESETS",
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
    "FramingError",
    "InvalidRequestError",
    "LLMRouterError",
    "ModelNotFoundError",
    "ModelSpec",
    "NoRouteError",
    "NotFoundError",
    "OpenAIProvider",
    "OverloadedError",
    "PermissionError",
    "Provider",
    "ProviderError",
    "ProviderFormat",
    "RateLimitError",
    "Route",
    "Router",
    "RouterBuilder",
    "RouterClosedError",
    "RouterStream",
    "Secret",
    "StreamError",
    "StreamEvent",
    "StreamTranslator",
    "TimeoutError",
    "TranslationError",
    "UpstreamError",
    "translate_error",
    "translate_request",
    "translate_response",
]
