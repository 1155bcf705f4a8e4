"""Shared pieces of the embedding wires: inputs, base64 vectors, field checks, estimates."""

from __future__ import annotations

import base64
import binascii
import math
import struct
from collections.abc import Sequence
from typing import Any, TypeAlias

from llm_router.errors import TranslationError
from llm_router.formats import type_name

__all__ = [
    "Input",
    "decode_base64",
    "encode_base64",
    "estimate_input_tokens",
    "need_positive_int",
    "need_vector",
]

#: One thing to embed: a text, or a list of token ids (OpenAI only).
Input: TypeAlias = str | tuple[int, ...]

#: Bytes of text per estimated token, when a provider reports no count (as the rate
#: limiter estimates a prompt).
CHARS_PER_TOKEN = 4


def encode_base64(vector: Sequence[float]) -> str:
    """A vector as OpenAI's `encoding_format: "base64"` sends it: little-endian float32."""
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")


def decode_base64(text: str, path: str = "embedding") -> list[float]:
    """The float32 vector a base64 embedding carries; `TranslationError` when it is not one."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise TranslationError(f"{path}: not valid base64", path=path) from None
    if len(raw) % 4:
        raise TranslationError(
            f"{path}: {len(raw)} bytes is not a whole number of float32 values", path=path
        )
    return list(struct.unpack(f"<{len(raw) // 4}f", raw))


def need_vector(value: Any, path: str) -> list[float]:
    """A JSON array of finite numbers (a base64 string is decoded as OpenAI's)."""
    if isinstance(value, str):
        return decode_base64(value, path)
    if not isinstance(value, list):
        raise TranslationError(f"{path}: expected an array of numbers, got {type_name(value)}")
    for index, item in enumerate(value):
        if type(item) is not float and type(item) is not int:
            raise TranslationError(
                f"{path}[{index}]: expected a number, got {type_name(item)}",
                path=f"{path}[{index}]",
            )
    return [float(item) for item in value]


def need_positive_int(value: Any, path: str) -> int | None:
    if value is None:
        return None
    if type(value) is float and value.is_integer():
        value = int(value)
    if type(value) is not int or value < 1:
        raise TranslationError(
            f"{path}: expected a positive integer, got {value!r}"
            if type(value) is int
            else f"{path}: expected a positive integer, got {type_name(value)}",
            path=path,
        )
    return value


def estimate_input_tokens(inputs: Sequence[Input]) -> int:
    """Tokens of `inputs` when the provider does not say: one per four bytes of text (at
    least one per input), token-id inputs counted exactly."""
    total = 0
    for item in inputs:
        if isinstance(item, str):
            total += max(1, math.ceil(len(item.encode()) / CHARS_PER_TOKEN))
        else:
            total += len(item)
    return total
