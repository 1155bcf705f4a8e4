"""The gateway joins the stream events one upstream read brought into one write, and nothing
else changes: every event arrives, in order, as soon as its read did; an upstream error
after the stream was committed follows the events before it; a client that hangs up stops
the upstream call, with nothing left open in the router."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import partial

import httpx
import orjson
import trio

from llm_router import AnthropicProvider, Router
from llm_router.framing.sse import SSEDecoder
from llm_router.serve import open_gateway

MODEL = "bench-model"
CHAT = {"model": MODEL, "stream": True, "messages": [{"role": "user", "content": "hi"}]}


def _frame(kind: str, data: dict[str, object]) -> bytes:
    return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


START = _frame(
    "message_start",
    {
        "type": "message_start",
        "message": {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": "claude-x",
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 3, "output_tokens": 1},
        },
    },
) + _frame(
    "content_block_start",
    {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
)


def _delta(index: int) -> bytes:
    text = {"type": "text_delta", "text": f"w{index} "}
    return _frame("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": text})


END = (
    _frame("content_block_stop", {"type": "content_block_stop", "index": 0})
    + _frame(
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
            "usage": {"output_tokens": 40},
        },
    )
    + _frame("message_stop", {"type": "message_stop"})
)
OVERLOADED = _frame(
    "error", {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
)


@dataclass
class Upstream:
    """A raw HTTP/1.1 upstream writing a chunked stream in scripted writes: the first, then,
    once `go_on` is set, the rest, each in one write."""

    writes: list[bytes]
    url: str = ""
    go_on: trio.Event = field(default_factory=trio.Event)
    disconnected: trio.Event = field(default_factory=trio.Event)

    async def handle(self, stream: trio.SocketStream) -> None:
        buffer = b""
        while b"\r\n\r\n" not in buffer:
            buffer += await stream.receive_some(65536)
        head = (
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
            b"transfer-encoding: chunked\r\n\r\n"
        )
        async with trio.open_nursery() as nursery:

            async def watch() -> None:
                try:
                    while await stream.receive_some(65536):
                        pass
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    pass
                self.disconnected.set()
                nursery.cancel_scope.cancel()

            nursery.start_soon(watch)
            try:
                await stream.send_all(head + _chunk(self.writes[0]))
                await self.go_on.wait()
                for data in self.writes[1:]:
                    await stream.send_all(_chunk(data))
                await stream.send_all(b"0\r\n\r\n")
            except trio.BrokenResourceError:
                pass


@asynccontextmanager
async def _gateway(upstream: Upstream) -> AsyncIterator[tuple[str, Router]]:
    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(
            partial(trio.serve_tcp, host="127.0.0.1"), upstream.handle, 0
        )
        upstream.url = f"http://127.0.0.1:{listeners[0].socket.getsockname()[1]}"
        router = (
            Router.builder()
            .add_provider("up", AnthropicProvider(base_url=upstream.url))
            .add_api_key("up", "sk-upstream-key")
            .add_model_route(MODEL, "up", "claude-x")
            .build()
        )
        async with open_gateway(router) as url:
            yield url, router
        nursery.cancel_scope.cancel()


async def _idle(router: Router) -> None:
    """Nothing left open in the router once the gateway finished the call."""
    with trio.fail_after(30):
        while router.statistics()["open_streams"] or router.statistics()["calls_in_flight"]:  # noqa: ASYNC110 (no event tells this)
            await trio.sleep(0.01)
    pool = router.statistics()["pool"]
    assert pool["in_use"] == 0 and pool["connecting"] == 0


async def _read_events(url: str, upstream: Upstream) -> list[dict[str, object]]:
    """The client's events (data: [DONE] left out). The upstream sends the rest of its stream
    only once the first events reached the client: a gateway holding events back hangs."""
    decoder = SSEDecoder()
    events: list[dict[str, object]] = []
    async with (
        httpx.AsyncClient(timeout=30) as client,
        client.stream("POST", url + "/v1/chat/completions", json=CHAT) as response,
    ):
        assert response.status_code == 200
        async for data in response.aiter_raw():
            for message in decoder.feed(data):
                if message.data != b"[DONE]":
                    events.append(orjson.loads(message.data))
            if events:
                upstream.go_on.set()  # the first read reached the client before the rest left
    return events


def _text(events: list[dict[str, object]]) -> str:
    pieces = []
    for event in events:
        for choice in event.get("choices", []):  # type: ignore[attr-defined]
            pieces.append(choice["delta"].get("content") or "")
    return "".join(pieces)


async def test_every_event_arrives_in_order_when_reads_are_joined() -> None:
    deltas = b"".join(_delta(i) for i in range(1, 200))
    upstream = Upstream([START + _delta(0), deltas + END])
    async with _gateway(upstream) as (url, router):
        events = await _read_events(url, upstream)
        assert _text(events) == "".join(f"w{i} " for i in range(200))
        finish = [c["finish_reason"] for e in events for c in e.get("choices", [])]  # type: ignore[attr-defined]
        assert finish[-1] == "stop" and finish.count("stop") == 1
        await _idle(router)


async def test_an_error_after_commit_follows_the_events_read_before_it() -> None:
    deltas = b"".join(_delta(i) for i in range(1, 30))
    upstream = Upstream([START + _delta(0), deltas + OVERLOADED])
    async with _gateway(upstream) as (url, router):
        events = await _read_events(url, upstream)
        assert _text(events) == "".join(f"w{i} " for i in range(30))  # none lost
        assert "error" in events[-1] and "Overloaded" in str(events[-1]["error"])
        assert sum("error" in e for e in events) == 1
        await _idle(router)


async def test_a_client_hanging_up_mid_stream_stops_the_upstream_call() -> None:
    upstream = Upstream([START + _delta(0), _delta(1) + END])  # the rest is never asked for
    async with _gateway(upstream) as (url, router):
        async with (
            httpx.AsyncClient(timeout=30) as client,
            client.stream("POST", url + "/v1/chat/completions", json=CHAT) as response,
        ):
            async for data in response.aiter_raw():
                assert data
                break  # hang up after the first read
        with trio.fail_after(30):
            await upstream.disconnected.wait()  # the gateway closed its upstream connection
        await _idle(router)


async def test_next_ready_gives_only_what_was_read_and_async_for_the_rest() -> None:
    deltas = b"".join(_delta(i) for i in range(1, 20))
    upstream = Upstream([START + _delta(0), deltas + END])
    async with _gateway(upstream) as (_, router):
        body = orjson.dumps({**CHAT, "model": MODEL})
        async with router.stream(body, "openai", MODEL) as events:
            first = [await events.__anext__()]
            while (ready := events.next_ready()) is not None:
                first.append(ready)
            # The first read is used up: nothing more without waiting on the network.
            assert events.next_ready() is None and not events.ended
            upstream.go_on.set()
            rest = [event async for event in events]
            assert events.next_ready() is None  # an ended stream gives None
        texts = [e.json() for e in first + rest if e.json() is not None]
        assert _text(texts) == "".join(f"w{i} " for i in range(20))
        assert events.events_delivered == len(first) + len(rest)
        await _idle(router)
