"""Provider modules: one per upstream service, each knowing only its own wire details.

The names below load on first use: a router that only talks to OpenAI never imports the
AWS event-stream decoder or the AWS and Google error tables.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from llm_router._lazy import lazy_exports

if TYPE_CHECKING:
    from llm_router.providers.anthropic import AnthropicProvider
    from llm_router.providers.azure import AzureProvider
    from llm_router.providers.base import Provider, UpstreamRequest
    from llm_router.providers.bedrock import BedrockProvider
    from llm_router.providers.compat import PRESETS, CompatPreset, OpenAICompatibleProvider
    from llm_router.providers.google import GoogleProvider
    from llm_router.providers.mistral import MistralProvider
    from llm_router.providers.openai import OpenAIProvider
    from llm_router.providers.vertex import VertexProvider

__all__ = [
    "PRESETS",
    "AnthropicProvider",
    "AzureProvider",
    "BedrockProvider",
    "CompatPreset",
    "GoogleProvider",
    "MistralProvider",
    "OpenAICompatibleProvider",
    "OpenAIProvider",
    "Provider",
    "UpstreamRequest",
    "VertexProvider",
]

#: Where each name lives (imported on first access).
_HOME: dict[str, str] = {
    "AnthropicProvider": "llm_router.providers.anthropic",
    "AzureProvider": "llm_router.providers.azure",
    **dict.fromkeys(("Provider", "UpstreamRequest"), "llm_router.providers.base"),
    "BedrockProvider": "llm_router.providers.bedrock",
    **dict.fromkeys(
        ("PRESETS", "CompatPreset", "OpenAICompatibleProvider"), "llm_router.providers.compat"
    ),
    "GoogleProvider": "llm_router.providers.google",
    "MistralProvider": "llm_router.providers.mistral",
    "OpenAIProvider": "llm_router.providers.openai",
    "VertexProvider": "llm_router.providers.vertex",
}


__getattr__, __dir__ = lazy_exports(__name__, _HOME)
