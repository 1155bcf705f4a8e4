"""llm-router: a Trio-native router for LLM requests across every major provider."""

from llm_router.errors import *  # noqa: F403
from llm_router.types import ProviderFormat, StreamEvent

__version__ = "0.1.0"
