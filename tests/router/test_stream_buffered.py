"""Events an upstream read already decoded are served without waiting, and keep every rule.

A scripted upstream behind `httpx.MockTransport` sends several events in one chunk and then
falls silent (virtual time, `autojump_clock`): the buffered events come at once, the idle
timeout counts only the wait on the network that follows, a cancelled caller still stops at
`__anext__` without losing an event, and a closed router ends the stream even though events
are buffered.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import orjson
import pytest
import trio
from trio.testing import MockClock

from llm_router import OpenAIProvider, Router, RouterClosedError, errors
from llm_router.resilience import TimeoutPolicy

MODEL = "house-model"
STREAM_CHAT = {"model": MODEL, "messages": [{"role": "user", "content": "ping"}], "stream": True}
IN_ONE_CHUNK = 5
SILENCE = 30.0


def _chunk(text: str) -> bytes:
    choice = {"index": 0, "delta": {"content": text}, "finish_reason": None}
    chunk = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m"}
    return b"data: " + orjson.dumps(dict(chunk, choices=[choice])) + b"\n\n"


class Body(httpx.AsyncByteStream):
    """`IN_ONE_CHUNK` events in one chunk, then `SILENCE` seconds, then one more event."""

    def __init__(self) -> None:
        self.closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield b"".join(_chunk(f"w{i} ") for i in range(IN_ONE_CHUNK))
        await trio.sleep(SILENCE)
        yield _chunk("late ") + b"data: [DONE]\n\n"

    async def aclose(self) -> None:
        self.closed = True


class Upstream:
    def __init__(self) -> None:
        self.bodies: list[Body] = []

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        body = Body()
        self.bodies.append(body)
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=body)


def build(upstream: Upstream, idle: float | None = None) -> Router:
    builder = Router.builder().with_transport(httpx.MockTransport(upstream))
    builder.add_provider("a", OpenAIProvider(base_url="http://a.test/v1"))
    builder.add_api_key("a", "sk-test-key-123")
    builder.add_model_route(MODEL, "a", "gpt-4o-mini")
    if idle is not None:
        builder.with_timeouts(TimeoutPolicy(idle=idle))
    return builder.build()


def text(event: object) -> str:
    data = getattr(event, "data", b"")
    content: str = orjson.loads(data)["choices"][0]["delta"]["content"]
    return content


async def test_buffered_events_come_at_once_and_the_idle_timeout_counts_the_wait(
    autojump_clock: MockClock,
) -> None:
    upstream = Upstream()
    async with build(upstream, idle=1.0) as router:
        async with router.stream(STREAM_CHAT, "openai") as events:
            started = trio.current_time()
            received = [text(await events.__anext__()) for _ in range(IN_ONE_CHUNK)]
            assert trio.current_time() == started  # no wait: the chunk held them all
            with pytest.raises(errors.TimeoutError) as info:
                await events.__anext__()
            assert trio.current_time() - started == pytest.approx(1.0)
        assert router.statistics()["open_streams"] == 0
        assert router.statistics()["pool"]["in_use"] == 0
    assert received == [f"w{i} " for i in range(IN_ONE_CHUNK)]
    assert f"after {IN_ONE_CHUNK} events" in str(info.value)
    assert upstream.bodies[0].closed


async def test_a_cancelled_caller_stops_at_a_buffered_event_and_loses_none(
    autojump_clock: MockClock,
) -> None:
    upstream = Upstream()
    async with build(upstream) as router:
        async with router.stream(STREAM_CHAT, "openai") as events:
            first = text(await events.__anext__())
            with trio.CancelScope() as scope:
                scope.cancel()
                await events.__anext__()
            assert scope.cancelled_caught
            assert events.events_delivered == 1
            rest = [text(event) async for event in events if event.data != b"[DONE]"]
        assert router.statistics()["open_streams"] == 0
    assert [first, *rest] == [*(f"w{i} " for i in range(IN_ONE_CHUNK)), "late "]
    assert upstream.bodies[0].closed


async def test_a_closed_router_ends_a_stream_with_buffered_events(
    autojump_clock: MockClock,
) -> None:
    upstream = Upstream()
    router = build(upstream)
    got_first, router_closed = trio.Event(), trio.Event()
    outcome: list[BaseException] = []

    async def read() -> None:
        async with router.stream(STREAM_CHAT, "openai") as events:
            await events.__anext__()
            got_first.set()
            await router_closed.wait()
            try:
                await events.__anext__()  # four events are still buffered
            except RouterClosedError as exc:
                outcome.append(exc)

    async with trio.open_nursery() as nursery:
        async with router:
            nursery.start_soon(read)
            await got_first.wait()
        router_closed.set()
    assert len(outcome) == 1 and "closed" in str(outcome[0])
    assert router.statistics()["open_streams"] == 0
    assert upstream.bodies[0].closed
