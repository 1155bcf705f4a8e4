"""The local token estimate: documented arithmetic, any JSON, any depth."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from llm_router.gateway.tokens import estimate_tokens

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=30,
)


def test_the_documented_arithmetic() -> None:
    body = {
        "model": "a-very-long-model-name-not-counted",
        "system": "be terse",
        "messages": [
            {"role": "user", "content": "hello there"},
            {"role": "assistant", "content": "hi"},
        ],
    }
    chars = len("be terse") + len("user") + len("hello there") + len("assistant") + len("hi")
    assert estimate_tokens(body) == math.ceil(chars / 4) + 3 * 3


@given(JSON)
def test_any_json_gets_a_non_negative_deterministic_count(body: object) -> None:
    assert estimate_tokens(body) == estimate_tokens(body) >= 0


def test_deep_nesting_does_not_exhaust_the_stack() -> None:
    body: object = "x" * 8
    for _ in range(100_000):
        body = [body]
    assert estimate_tokens(body) == 2
