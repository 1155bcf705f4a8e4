"""Provider modules: one per upstream service, each knowing only its own wire details."""

from __future__ import annotations

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
