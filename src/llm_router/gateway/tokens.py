"""The gateway's local token estimate for `count_tokens` (Anthropic) and `:countTokens`
(Gemini), used when no configured provider can count: see `llm_router.counting`."""

from __future__ import annotations

from llm_router.counting import estimate_tokens

__all__ = ["estimate_tokens"]
