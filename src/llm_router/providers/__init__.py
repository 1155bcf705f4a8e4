"""Provider modules: one per upstream service, each knowing only its own wire details.

The names below load on first use: a router that only talks to OpenAI never imports the
AWS event-stream decoder, SigV4 signing or the Google error tables.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

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

#: Where each name lives (imported on first access by `__getattr__`).
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


def __getattr__(name: str) -> Any:
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module 'llm_router.providers' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
