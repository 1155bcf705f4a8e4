"""A read that holds many events is decoded at once and translated event by event, as the
caller asks: the first event goes out before the rest is translated, every event before a bad
one goes out before the error, a failure stays a failure, usage in events never asked for is
still counted, and a fast reader of one large read lets other tasks run."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest
import trio

from llm_router import AnthropicProvider, ProviderFormat, Router, errors
from llm_router.framing.sse import encode_sse

from ._raw_upstream import Reply, open_raw_upstream
from .test_upstream_faults import FAST_RETRY, SSE, assert_stream_released, sequence

MODEL = "house-model"
CHAT = {"model": MODEL, "messages": [{"role": "user", "content": "ping"}], "stream": True}
DELTAS = 40
OUTPUT_TOKENS = 77


def _frame(kind: str, data: dict[str, Any]) -> bytes:
    return encode_sse(orjson.dumps({"type": kind, **data}), event=kind)


def anthropic_stream(deltas: int = DELTAS, *, bad_after: int | None = None) -> bytes:
    """A whole Messages stream; with `bad_after`, an event that is not JSON follows that many
    text deltas instead of the rest."""
    message = {"id": "msg_1", "type": "message", "role": "assistant", "model": "m"}
    message |= {"content": [], "usage": {"input_tokens": 5, "output_tokens": 1}}
    frames = [
        _frame("message_start", {"message": message}),
        _frame("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}}),
    ]
    for i in range(deltas):
        if i == bad_after:
            frames.append(b"event: content_block_delta\ndata: {not json\n\n")
            break
        delta = {"type": "text_delta", "text": f"w{i} "}
        frames.append(_frame("content_block_delta", {"index": 0, "delta": delta}))
    else:
        frames += [
            _frame("content_block_stop", {"index": 0}),
            _frame(
                "message_delta",
                {"delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": OUTPUT_TOKENS}},
            ),
            _frame("message_stop", {}),
        ]
    return b"".join(frames)


def build(url: str) -> Router:
    return (
        Router.builder()
        .add_provider("up", AnthropicProvider(base_url=url))
        .add_api_key("up", "sk-test-key-0123456789")
        .add_model_route(MODEL, "up", "m")
        .with_retry_policy(FAST_RETRY)
        .build()
    )


def _text(data: bytes) -> str:
    if data == b"[DONE]":
        return ""
    choices = orjson.loads(data)["choices"]
    return "".join(c["delta"].get("content") or "" for c in choices)


async def test_the_first_event_goes_out_before_the_rest_of_the_read_is_translated() -> None:
    reply = Reply(200, SSE, [anthropic_stream()])  # the whole answer in one write
    async with open_raw_upstream(sequence(reply)) as upstream, build(upstream.url) as router:
        async with router.stream(CHAT, ProviderFormat.OPENAI) as events:
            first = await events.__anext__()
            # message_start, content_block_start and the first delta: the commit point.
            assert events._upstream.events_received == 3
            rest = [event.data async for event in events]
        await assert_stream_released(router)
    text = "".join(_text(data) for data in [first.data, *rest])
    assert text == "".join(f"w{i} " for i in range(DELTAS))
    assert rest[-1] == b"[DONE]"
    assert events.usage is not None and events.usage.output_tokens == OUTPUT_TOKENS


async def test_every_event_before_a_bad_one_goes_out_then_the_error_stays() -> None:
    reply = Reply(200, SSE, [anthropic_stream(bad_after=5)])
    async with open_raw_upstream(sequence(reply)) as upstream, build(upstream.url) as router:
        async with router.stream(CHAT, ProviderFormat.OPENAI) as events:
            texts = []
            with pytest.raises(errors.StreamError) as caught:
                async for event in events:
                    texts.append(_text(event.data))
            with pytest.raises(errors.StreamError) as again:
                await events.__anext__()
        await assert_stream_released(router)
    assert "".join(texts) == "".join(f"w{i} " for i in range(5))
    assert "not JSON" in str(caught.value)
    assert again.value is caught.value
    assert events.failure is caught.value
    assert len(upstream.seen) == 1  # committed at the first delta: never retried


async def test_usage_in_events_read_but_never_asked_for_is_counted() -> None:
    reply = Reply(200, SSE, [anthropic_stream()])
    async with open_raw_upstream(sequence(reply)) as upstream, build(upstream.url) as router:
        async with router.stream(CHAT, ProviderFormat.OPENAI) as events:
            await events.__anext__()  # then leave: the message_delta was read, not translated
        await assert_stream_released(router)
    assert events.usage is not None
    assert events.usage.output_tokens == OUTPUT_TOKENS
    assert events.attempts[-1].usage == events.usage


class _OneRead(httpx.AsyncByteStream):
    """A body that arrives in one piece without any wait (no checkpoint of its own)."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self._body


async def test_a_fast_reader_of_one_large_read_lets_other_tasks_run() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers=dict(SSE), stream=_OneRead(anthropic_stream(200)))

    router = (
        Router.builder()
        .with_transport(httpx.MockTransport(answer))
        .add_provider("up", AnthropicProvider(base_url="http://up.test"))
        .add_api_key("up", "sk-test-key-0123456789")
        .add_model_route(MODEL, "up", "m")
        .build()
    )
    turns = 0
    done = False

    async def other() -> None:
        nonlocal turns
        while not done:
            turns += 1
            await trio.lowlevel.checkpoint()

    async with (
        router,
        router.stream(CHAT, ProviderFormat.OPENAI) as events,
        trio.open_nursery() as nursery,
    ):
        nursery.start_soon(other)
        await trio.lowlevel.checkpoint()
        start = turns
        read = [event async for event in events]
        done = True
    # At least one turn of the other task per 16 events served without a network wait.
    assert len(read) > 200 and turns - start >= len(read) // 16 - 1
