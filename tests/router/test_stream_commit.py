"""The stream commit point is the first content event, for every provider: an error after the
preamble (Anthropic `message_start`, OpenAI's role-only chunk, Responses `response.created`)
is retried; a stream whose body ends cleanly before its format's end-of-answer event is a
`StreamTruncatedError`, retried before commit and behind a `StreamError` after it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import orjson
import pytest
import trio
import trio.testing

from llm_router import ProviderFormat, RetryPolicy, errors
from llm_router.serve import open_gateway
from llm_router.stream_progress import END_SIGNALS

from ._raw_upstream import Reply, open_raw_upstream
from .test_upstream_faults import (
    ERROR_EVENTS,
    SSE,
    _decode,
    _named,
    assert_stream_released,
    body_for,
    build,
    drain,
    sequence,
    stream_bytes,
)

#: Frames of `stream_bytes(fmt)` before the first content event.
PREAMBLE = {
    ProviderFormat.OPENAI: 1,  # the role-only chunk
    ProviderFormat.ANTHROPIC: 2,  # message_start, an empty content_block_start
    ProviderFormat.RESPONSES: 4,  # created, in_progress, output_item.added, content_part.added
    ProviderFormat.GOOGLE: 0,  # Gemini's first chunk carries text
}
#: Frames of `stream_bytes(fmt)` from the end signal on (what a stream cut short lacks).
ENDING = {
    ProviderFormat.OPENAI: 2,  # the finish_reason chunk, [DONE]
    ProviderFormat.ANTHROPIC: 3,  # content_block_stop, message_delta, message_stop
    ProviderFormat.RESPONSES: 4,  # output_text.done, content_part.done, output_item.done, completed
    ProviderFormat.GOOGLE: 1,  # the chunk with finishReason
}
FORMATS = list(PREAMBLE)


def when_all_blocked(gate: trio.Event) -> Callable[[], Awaitable[None]]:
    """Open `gate` once every task waits (the router has read all that was sent so far)."""

    async def opener() -> None:
        await trio.testing.wait_all_tasks_blocked(cushion=0.02)
        gate.set()

    return opener


@pytest.mark.parametrize("fmt", [f for f in FORMATS if PREAMBLE[f]], ids=lambda f: f.value)
async def test_an_error_after_the_preamble_is_retried(fmt: ProviderFormat) -> None:
    frames = stream_bytes(fmt)
    gate = trio.Event()
    # The preamble is read (and would have been handed out) before the error is even sent.
    failing = Reply(200, SSE, [b"".join(frames[: PREAMBLE[fmt]]), ERROR_EVENTS[fmt]], gate=gate)
    good = Reply(200, SSE, frames)
    async with (
        open_raw_upstream(sequence(failing, good)) as upstream,
        build(upstream, fmt) as router,
        trio.open_nursery() as nursery,
    ):
        nursery.start_soon(when_all_blocked(gate))
        data = await drain(router, fmt)
        await assert_stream_released(router)
    assert len(upstream.seen) == 2
    assert data == _decode(b"".join(frames))  # nothing of the failed attempt reached the caller


async def test_the_gateway_client_sees_only_the_retried_stream() -> None:
    fmt = ProviderFormat.ANTHROPIC
    frames = stream_bytes(fmt)
    gate = trio.Event()
    failing = Reply(200, SSE, [frames[0], ERROR_EVENTS[fmt]], gate=gate)
    good = Reply(200, SSE, frames)
    async with open_raw_upstream(sequence(failing, good)) as upstream:
        router = build(upstream, fmt)
        async with (
            open_gateway(router) as url,
            httpx.AsyncClient() as client,
            trio.open_nursery() as nursery,
        ):
            nursery.start_soon(when_all_blocked(gate))
            response = await client.post(url + "/v1/messages", json=body_for(fmt, stream=True))
    names = [name for name, _ in _named(response.content)]
    assert names.count("message_start") == 1 and "error" not in names
    assert names[-1] == "message_stop"
    assert len(upstream.seen) == 2


# ------------------------------------------------------------------- streams cut short cleanly


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f.value)
async def test_a_stream_ended_before_its_end_signal_is_a_stream_error_after_commit(
    fmt: ProviderFormat,
) -> None:
    frames = stream_bytes(fmt)
    cut = frames[: -ENDING[fmt]]
    received: list[bytes] = []
    async with (
        open_raw_upstream(sequence(Reply(200, SSE, [b"".join(cut)]))) as upstream,
        build(upstream, fmt) as router,
    ):
        with pytest.raises(errors.StreamError) as caught:
            async with router.stream(body_for(fmt, stream=True), fmt) as events:
                async for event in events:
                    received.append(event.data)
        await assert_stream_released(router)
    assert received == _decode(b"".join(cut))  # every event before the end, then the error
    truncated = caught.value.upstream_error
    assert isinstance(truncated, errors.StreamTruncatedError)
    assert truncated.missing == END_SIGNALS[fmt]
    assert END_SIGNALS[fmt] in str(caught.value)
    assert len(upstream.seen) == 1


@pytest.mark.parametrize("fmt", [f for f in FORMATS if PREAMBLE[f]], ids=lambda f: f.value)
async def test_a_stream_ended_after_its_preamble_is_retried(fmt: ProviderFormat) -> None:
    frames = stream_bytes(fmt)
    preamble_only = Reply(200, SSE, [b"".join(frames[: PREAMBLE[fmt]])])
    async with (
        open_raw_upstream(sequence(preamble_only, Reply(200, SSE, frames))) as upstream,
        build(upstream, fmt) as router,
    ):
        data = await drain(router, fmt)
    assert data == _decode(b"".join(frames))
    assert len(upstream.seen) == 2


async def test_every_attempt_cut_short_raises_the_truncation_itself() -> None:
    fmt = ProviderFormat.ANTHROPIC
    preamble_only = Reply(200, SSE, [b"".join(stream_bytes(fmt)[: PREAMBLE[fmt]])])
    async with (
        open_raw_upstream(sequence(preamble_only)) as upstream,
        build(upstream, fmt) as router,
    ):
        with pytest.raises(errors.StreamTruncatedError) as caught:
            await drain(router, fmt)
    assert caught.value.missing == "message_stop" and caught.value.status == 502
    assert not isinstance(caught.value, errors.StreamError)
    assert len(upstream.seen) == 3


async def test_a_chat_stream_with_a_finish_reason_but_no_done_is_complete() -> None:
    # Some compatible hosts end after the finish_reason chunk without [DONE].
    frames = stream_bytes(ProviderFormat.OPENAI)[:-1]
    async with (
        open_raw_upstream(sequence(Reply(200, SSE, frames))) as upstream,
        build(upstream) as router,
    ):
        data = await drain(router, ProviderFormat.OPENAI)
        anthropic = await drain(router, ProviderFormat.ANTHROPIC)  # translated: closed properly
    assert data == _decode(b"".join(frames))
    assert orjson.loads(anthropic[-1])["type"] == "message_stop"


@pytest.mark.parametrize(
    ("path", "fmt", "check"),
    [
        ("/v1/messages", ProviderFormat.ANTHROPIC, lambda e: e["error"]["type"] == "api_error"),
        ("/v1/chat/completions", ProviderFormat.OPENAI, lambda e: "error" in e),
    ],
    ids=["anthropic", "openai"],
)
async def test_the_gateway_renders_a_stream_cut_short_as_its_clients_stream_error(
    path: str, fmt: ProviderFormat, check: Callable[[Any], bool]
) -> None:
    upstream_fmt = ProviderFormat.OPENAI
    cut = stream_bytes(upstream_fmt)[: -ENDING[upstream_fmt]]
    async with open_raw_upstream(sequence(Reply(200, SSE, [b"".join(cut)]))) as upstream:
        router = build(upstream, upstream_fmt, retry=RetryPolicy(max_attempts=1))
        async with open_gateway(router) as url, httpx.AsyncClient() as client:
            response = await client.post(url + path, json=body_for(fmt, stream=True))
    named = _named(response.content)
    events = [orjson.loads(data) for _, data in named]  # no [DONE]: it did not end well
    assert response.status_code == 200
    assert check(events[-1]), events[-1]
    assert "finish_reason" in orjson.dumps(events[-1]).decode()  # the message names what is missing
    assert "message_stop" not in [name for name, _ in named]
