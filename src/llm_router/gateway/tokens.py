"""The gateway's local token estimate for `count_tokens` (Anthropic) and `:countTokens` (Gemini).

Documented and deterministic, not a tokenizer: one token per four characters (rounded up) of
every string in the request except the model name, plus three tokens per message or content
entry for its framing. Real tokenizers differ by model; use it for budgeting, not billing.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["estimate_tokens"]

_CHARS_PER_TOKEN = 4
_PER_MESSAGE = 3


def estimate_tokens(body: Any) -> int:
    """The estimate for a parsed request body (any format)."""
    chars = 0
    entries = 0
    stack: list[Any] = [body]
    while stack:  # iterative: arbitrarily deep bodies cannot exhaust the stack
        value = stack.pop()
        if isinstance(value, str):
            chars += len(value)
        elif isinstance(value, dict):
            for key, item in value.items():
                if key != "model":
                    stack.append(item)
        elif isinstance(value, list):
            stack.extend(value)
    if isinstance(body, dict):
        for key in ("messages", "contents"):
            if isinstance(body.get(key), list):
                entries += len(body[key])
        if body.get("system") or body.get("systemInstruction"):
            entries += 1
    return math.ceil(chars / _CHARS_PER_TOKEN) + _PER_MESSAGE * entries
