"""Bytes the router keeps are right-sized: orjson hands back small documents in 4 KB buffers."""

from __future__ import annotations

import tracemalloc

import orjson
from hypothesis import given
from hypothesis import strategies as st

from llm_router._json import dumps
from llm_router.translate import StreamTranslator, translate_request

_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=20,
)


@given(_json)
def test_dumps_writes_what_orjson_writes(value: object) -> None:
    assert dumps(value) == orjson.dumps(value)


def _traced_bytes(make: object) -> int:
    tracemalloc.start()
    try:
        kept = [make() for _ in range(200)]  # type: ignore[operator]
        size = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert len(kept) == 200
    return size // 200


def test_small_documents_hold_no_spare_buffer() -> None:
    assert _traced_bytes(lambda: dumps({"a": "hello"})) < 512


def test_buffered_stream_events_and_translated_bodies_are_right_sized() -> None:
    event = orjson.dumps(
        {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m",
         "choices": [{"index": 0, "delta": {"content": "hi"}, "finish_reason": None}]}
    )  # fmt: skip
    body = orjson.dumps({"model": "m", "messages": [{"role": "user", "content": "hello"}]})
    translator = StreamTranslator("openai", "anthropic")
    translator.feed(event)  # message_start and the block's start come first

    def rendered() -> object:
        return translator.feed(event)

    assert _traced_bytes(rendered) < 1024
    assert _traced_bytes(lambda: translate_request(body, "openai", "anthropic")) < 1024
