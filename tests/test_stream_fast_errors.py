"""An error event is found wherever the network splits it, though a stream is searched for
one read by read (not event by event) while no read held the bytes one needs: before commit
it is a typed error the router retries, after commit a `StreamError` behind the events
before it; never an ordinary event. Each stream leaves nothing behind."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import orjson
import pytest
import trio
from hypothesis import given, settings
from hypothesis import strategies as st

from llm_router import (
    AnthropicProvider,
    OpenAIProvider,
    ProviderFormat,
    RetryPolicy,
    Router,
    errors,
)
from llm_router.framing.sse import encode_sse

MODEL = "house-model"
CHAT = {"model": MODEL, "messages": [{"role": "user", "content": "ping"}], "stream": True}


def _frame(kind: str, data: dict[str, Any]) -> bytes:
    return encode_sse(orjson.dumps({"type": kind, **data}), event=kind)


def _preamble() -> bytes:
    message = {"id": "msg_1", "type": "message", "role": "assistant", "model": "m"}
    message |= {"content": [], "usage": {"input_tokens": 5, "output_tokens": 1}}
    block = {"index": 0, "content_block": {"type": "text", "text": ""}}
    return _frame("message_start", {"message": message}) + _frame("content_block_start", block)


def _delta(text: str) -> bytes:
    return _frame(
        "content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": text}}
    )


END = (
    _frame("content_block_stop", {"index": 0})
    + _frame("message_delta", {"delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 3}})
    + _frame("message_stop", {})
)
GOOD = _preamble() + _delta("fine") + END
OVERLOADED = (
    b'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"busy"}}\n\n'
)


class _Pieces(httpx.AsyncByteStream):
    def __init__(self, pieces: list[bytes]) -> None:
        self._pieces = pieces

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for piece in self._pieces:
            await trio.lowlevel.checkpoint()
            yield piece


def _cut(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(c, len(data)) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in itertools.pairwise(points) if b > a]


def _router(answers: Iterator[list[bytes]], sent: list[int]) -> Router:
    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(1)
        headers = {"content-type": "text/event-stream"}
        return httpx.Response(200, headers=headers, stream=_Pieces(next(answers)))

    return (
        Router.builder()
        .with_transport(httpx.MockTransport(answer))
        .add_provider("up", AnthropicProvider(base_url="http://up.test"))
        .add_api_key("up", "sk-test-key-0123456789")
        .add_model_route(MODEL, "up", "m")
        .with_retry_policy(RetryPolicy(max_attempts=2, initial_delay=0.001, max_delay=0.001))
        .build()
    )


def _texts(events: list[Any]) -> list[str]:
    out = []
    for event in events:
        payload = event.json()
        if payload and payload["choices"]:
            out.append(payload["choices"][0]["delta"].get("content") or "")
    return [text for text in out if text]


async def _run(router: Router) -> tuple[list[Any], BaseException | None]:
    received: list[Any] = []
    failure: BaseException | None = None
    async with router:
        try:
            async with router.stream(CHAT, ProviderFormat.OPENAI) as events:
                async for event in events:
                    received.append(event)
        except errors.LLMRouterError as exc:
            failure = exc
        stats = router.statistics()
        assert stats["open_streams"] == stats["calls_in_flight"] == 0
    return received, failure


@settings(max_examples=120, deadline=None)
@given(cuts=st.lists(st.integers(min_value=0, max_value=len(OVERLOADED) + 40), max_size=6))
def test_an_error_before_commit_is_retried_however_it_is_split(cuts: list[int]) -> None:
    """Cut anywhere, `event: error` (and its `"error"` key) included: the first attempt
    fails with the typed error before anything reached the caller, the second answers."""
    first = _cut(OVERLOADED + GOOD, cuts)
    sent: list[int] = []
    received, failure = trio.run(_run, _router(iter([first, [GOOD]]), sent))
    assert failure is None and len(sent) == 2
    assert _texts(received) == ["fine"]


@settings(max_examples=120, deadline=None)
@given(cuts=st.lists(st.integers(min_value=0, max_value=len(OVERLOADED) + 20), max_size=6))
def test_an_error_after_commit_ends_the_stream_as_an_error_however_it_is_split(
    cuts: list[int],
) -> None:
    """The text reached the caller in an earlier read: the error event, cut anywhere in the
    reads after it, ends the stream with a `StreamError` (no retry, no error as an event)."""
    later = _cut(_delta("more") + OVERLOADED, cuts)
    sent: list[int] = []
    received, failure = trio.run(
        _run, _router(iter([[_preamble() + _delta("fine"), *later]]), sent)
    )
    assert len(sent) == 1
    assert isinstance(failure, errors.StreamError)
    assert isinstance(failure.upstream_error, errors.OverloadedError)
    assert _texts(received) == ["fine", "more"]


@pytest.mark.parametrize("split", range(1, len(b"event: error")))
async def test_a_name_split_between_the_first_content_read_and_the_next_is_found(
    split: int,
) -> None:
    """The first read ends inside `event: error`: the read that completes it was never
    searched on its own for the whole name, yet the error is found (after commit here)."""
    head = _preamble() + _delta("fine") + OVERLOADED[:split]
    sent: list[int] = []
    received, failure = await _run(_router(iter([[head, OVERLOADED[split:]]]), sent))
    assert isinstance(failure, errors.StreamError)
    assert isinstance(failure.upstream_error, errors.OverloadedError)
    assert _texts(received) == ["fine"]


async def test_text_that_merely_mentions_an_error_is_an_ordinary_event() -> None:
    body = _preamble() + _delta('an "error" here, response.failed there') + END
    sent: list[int] = []
    received, failure = await _run(_router(iter([[body]]), sent))
    assert failure is None and _texts(received) == ['an "error" here, response.failed there']


CHAT_ERROR = b'data: {"error":{"message":"busy","type":"overloaded"}}\n\n'
CHAT_GOOD = (
    b'data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m",'
    b'"choices":[{"index":0,"delta":{"content":"fine"},"finish_reason":null}]}\n\n'
    b'data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m",'
    b'"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n'
    b"data: [DONE]\n\n"
)


@pytest.mark.parametrize("split", range(1, len(CHAT_ERROR)))
async def test_an_error_whose_one_token_is_split_between_reads_is_still_found(split: int) -> None:
    """A Chat error event holds `"error"` once: cut inside it, neither read holds it whole,
    and a passthrough stream (no translation to trip over it) must still not relay it."""
    sent: list[int] = []
    answers = iter([[CHAT_ERROR[:split], CHAT_ERROR[split:] + CHAT_GOOD], [CHAT_GOOD]])

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(1)
        headers = {"content-type": "text/event-stream"}
        return httpx.Response(200, headers=headers, stream=_Pieces(next(answers)))

    router = (
        Router.builder()
        .with_transport(httpx.MockTransport(answer))
        .add_provider("up", OpenAIProvider(base_url="http://up.test/v1"))
        .add_api_key("up", "sk-test-key-0123456789")
        .add_model_route(MODEL, "up", "m")
        .with_retry_policy(RetryPolicy(max_attempts=2, initial_delay=0.001, max_delay=0.001))
        .build()
    )
    received, failure = await _run(router)
    assert failure is None and len(sent) == 2
    assert _texts(received) == ["fine"]
