"""The fake server's own HTTP/1.1 over real loopback sockets: keep-alive and pipelining,
chunked and 100-continue uploads, HTTP/1.0, refusals, answers the app leaves unfinished,
hand-offs to hypercorn (HTTP/2), the keep-alive timeout in virtual time."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

import httpx
import openai
import orjson
import pytest
import trio
import trio.testing
from _fake_http import CHAT, OPENAI

from llm_router_testing.fake import FAKE_KEYS, FakeProvider, open_fake_provider
from llm_router_testing.fake.http1 import BODY_FOLLOWS
from llm_router_testing.fake.http1_server import serve_http
from llm_router_testing.fake.server import _config

HANG_GUARD = 30.0
BODY = orjson.dumps(CHAT)
AUTH = f"authorization: {OPENAI['authorization']}\r\n".encode()


@pytest.fixture
async def fake() -> AsyncIterator[FakeProvider]:
    """The fake on its own HTTP/1.1 listener (`fast_http1`), which these tests pin down."""
    async with open_fake_provider(seed=1, fast_http1=True) as provider:
        yield provider


def _post(body: bytes = BODY, *, extra: bytes = b"", version: bytes = b"1.1") -> bytes:
    return (
        b"POST /v1/chat/completions HTTP/"
        + version
        + b"\r\nhost: fake\r\n"
        + AUTH
        + extra
        + b"content-type: application/json\r\ncontent-length: %d\r\n\r\n" % len(body)
        + body
    )


async def _read_until_closed(stream: trio.SocketStream) -> bytes:
    data = b""
    with trio.fail_after(HANG_GUARD):
        while chunk := await stream.receive_some():
            data += chunk
    return data


async def _read_answers(stream: trio.SocketStream, count: int) -> list[bytes]:
    """`count` answers framed by content-length, read off one keep-alive connection."""
    buffer, answers = b"", []
    with trio.fail_after(HANG_GUARD):
        while len(answers) < count:
            while b"\r\n\r\n" not in buffer:
                buffer += await stream.receive_some()
            head, _, rest = buffer.partition(b"\r\n\r\n")
            length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
            while len(rest) < length:
                rest += await stream.receive_some()
            answers.append(head + b"\r\n\r\n" + rest[:length])
            buffer = rest[length:]
    return answers


def _json(answer: bytes) -> Any:
    return orjson.loads(answer.partition(b"\r\n\r\n")[2])


async def test_pipelined_requests_are_answered_in_order_on_one_connection(
    fake: FakeProvider,
) -> None:
    stream = await trio.open_tcp_stream("127.0.0.1", fake.port)
    async with stream:
        await stream.send_all(_post() + b"\r\n" + _post() + _post())  # a stray CRLF between
        answers = await _read_answers(stream, 3)
    assert all(answer.startswith(b"HTTP/1.1 200 \r\n") for answer in answers)
    assert [b"x-request-id: req_fake_%d" % n in a for n, a in enumerate(answers, 1)] == [True] * 3
    assert [entry.status for entry in fake.journal] == [200, 200, 200]


async def test_a_chunked_upload_reads_as_the_same_body(fake: FakeProvider) -> None:
    pieces = [BODY[:10], BODY[10:11], BODY[11:]]
    chunked = b"".join(b"%x;ext=1\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\nx-t: 1\r\n\r\n"
    head = b"POST /v1/chat/completions HTTP/1.1\r\nhost: fake\r\n" + AUTH
    head += b"transfer-encoding: chunked\r\n\r\n"
    stream = await trio.open_tcp_stream("127.0.0.1", fake.port)
    async with stream:
        await stream.send_all(head + chunked[:7])
        await stream.send_all(chunked[7:])
        await stream.send_all(_post())  # and the connection carries on
        first, second = await _read_answers(stream, 2)
    assert _json(first)["choices"] == _json(second)["choices"]
    assert fake.journal[0].body == BODY


async def test_expect_100_continue_is_answered_before_the_body_is_sent(
    fake: FakeProvider,
) -> None:
    request = _post(extra=b"expect: 100-continue\r\n")
    head, _, body = request.partition(b"\r\n\r\n")
    stream = await trio.open_tcp_stream("127.0.0.1", fake.port)
    async with stream:
        await stream.send_all(head + b"\r\n\r\n")
        with trio.fail_after(HANG_GUARD):
            interim = await stream.receive_some()
        assert interim.startswith(b"HTTP/1.1 100 \r\ndate: ") and interim.endswith(b"\r\n\r\n")
        await stream.send_all(body)
        (answer,) = await _read_answers(stream, 1)
    assert answer.startswith(b"HTTP/1.1 200 ")


async def test_http_1_0_answers_close_the_connection(fake: FakeProvider) -> None:
    streamed = orjson.dumps({**CHAT, "stream": True})
    for body, framed in ((BODY, b"content-length: "), (streamed, b"text/event-stream")):
        stream = await trio.open_tcp_stream("127.0.0.1", fake.port)
        async with stream:
            await stream.send_all(_post(body, version=b"1.0"))
            answer = await _read_until_closed(stream)
        head, _, content = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 ") and head.endswith(b"\r\nConnection: close")
        assert framed in head and b"Transfer-Encoding" not in head
        assert content.endswith(b"data: [DONE]\n\n") if body is streamed else _json(answer)


async def test_connection_close_is_honoured_and_announced(fake: FakeProvider) -> None:
    stream = await trio.open_tcp_stream("127.0.0.1", fake.port)
    async with stream:
        await stream.send_all(_post(extra=b"connection: close\r\n"))
        answer = await _read_until_closed(stream)
    assert b"\r\nConnection: close\r\n\r\n" in answer and _json(answer)["object"]


async def test_unreadable_requests_get_an_empty_refusal_and_the_server_lives_on(
    fake: FakeProvider, client: httpx.AsyncClient
) -> None:
    refusals = [
        (b"garbage\r\n\r\n", b"400"),
        (b"GET / HTTP/1.1\r\nx: " + b"a" * 20_000 + b"\r\n\r\n", b"400"),
        (b"GET / HTTP/1.1\r\nx: " + b"a" * 20_000, b"400"),  # no end of head in sight
        (b"POST / HTTP/1.1\r\ntransfer-encoding: gzip\r\n\r\n", b"501"),
        (b"POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n", b"400"),
    ]
    for request, status in refusals:
        stream = await trio.open_tcp_stream("127.0.0.1", fake.port)
        async with stream:
            await stream.send_all(request)
            answer = await _read_until_closed(stream)
        assert answer.startswith(b"HTTP/1.1 " + status + b" \r\ncontent-length: 0\r\n"), answer
        assert b"connection: close\r\n" in answer and answer.endswith(b"\r\n\r\n")
    assert len(fake.journal) == 0  # never reached the app
    assert (await client.post("/v1/chat/completions", json=CHAT, headers=OPENAI)).status_code == 200


async def test_a_client_gone_mid_request_costs_nothing(
    fake: FakeProvider, client: httpx.AsyncClient
) -> None:
    for partial_request in (_post()[:20], _post()[:-5]):
        stream = await trio.open_tcp_stream("127.0.0.1", fake.port)
        await stream.send_all(partial_request)
        await stream.aclose()
    assert (await client.post("/v1/chat/completions", json=CHAT, headers=OPENAI)).status_code == 200
    assert len(fake.journal) == 1


async def test_http2_with_prior_knowledge_is_served_by_hypercorn(fake: FakeProvider) -> None:
    async with httpx.AsyncClient(base_url=fake.url, http1=False, http2=True) as h2:
        response = await h2.post("/v1/chat/completions", json=CHAT, headers=OPENAI)
        again = await h2.post("/v1/chat/completions", json=CHAT, headers=OPENAI)
    assert response.http_version == "HTTP/2"
    assert response.status_code == again.status_code == 200
    assert response.json()["object"] == "chat.completion"


# -- the server with small apps of its own: what it does when an app misbehaves ------------------

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
App = Callable[[dict[str, Any], Receive, Send], Awaitable[None]]


@asynccontextmanager
async def _serving(app: App) -> AsyncIterator[int]:
    async with trio.open_nursery() as nursery:
        (url,) = await nursery.start(partial(serve_http, app, _config("127.0.0.1", 0)))
        yield int(url.rsplit(":", 1)[1])
        nursery.cancel_scope.cancel()


async def _exchange(port: int, request: bytes = b"GET /x HTTP/1.1\r\nhost: a\r\n\r\n") -> bytes:
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    async with stream:
        await stream.send_all(request)
        return await _read_until_closed(stream)


async def test_an_app_that_fails_before_answering_gives_a_500() -> None:
    async def failing(scope: dict[str, Any], receive: Receive, send: Send) -> None:
        raise RuntimeError("broken app")

    async with _serving(failing) as port:
        answer = await _exchange(port)
    assert answer.startswith(b"HTTP/1.1 500 \r\ncontent-length: 0\r\nconnection: close\r\n")


async def test_an_answer_left_unfinished_cuts_the_connection() -> None:
    async def unfinished(scope: dict[str, Any], receive: Receive, send: Send) -> None:
        headers = [(b"content-length", b"10")] if scope["path"] == "/length" else []
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"12345", "more_body": True})

    async with _serving(unfinished) as port:
        with_length = await _exchange(
            port, b"GET /length HTTP/1.1\r\n\r\nGET /length HTTP/1.1\r\n\r\n"
        )
        chunked = await _exchange(port, b"GET /chunked HTTP/1.1\r\n\r\n")
    assert b"\r\ncontent-length: 10\r\n" in with_length and with_length.endswith(b"\r\n\r\n12345")
    assert with_length.count(b"HTTP/1.1 200") == 1  # the second request is never answered
    assert chunked.endswith(b"Transfer-Encoding: chunked\r\n\r\n5\r\n12345\r\n")


async def test_disconnect_arrives_when_the_client_hangs_up_or_the_answer_is_complete() -> None:
    seen: list[str] = []
    both_seen = trio.Event()

    def saw(message: dict[str, Any]) -> None:
        seen.append(message["type"])
        if len(seen) == 2:
            both_seen.set()

    async def watching(scope: dict[str, Any], receive: Receive, send: Send) -> None:
        assert (await receive())["type"] == "http.request"
        if scope["path"] == "/hang-up":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"x", "more_body": True})
            saw(await receive())  # the client closes after the first byte
            return
        async with trio.open_nursery() as nursery:

            async def watch() -> None:
                saw(await receive())

            nursery.start_soon(watch)
            await trio.testing.wait_all_tasks_blocked()
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"done"})

    async with _serving(watching) as port:
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        async with stream:
            await stream.send_all(b"GET /hang-up HTTP/1.1\r\n\r\n")
            with trio.fail_after(HANG_GUARD):
                assert (await stream.receive_some()).startswith(b"HTTP/1.1 200")
        answer = await _exchange(port, b"GET /complete HTTP/1.1\r\nconnection: close\r\n\r\n")
        with trio.fail_after(HANG_GUARD):
            await both_seen.wait()
    assert answer.endswith(b"4\r\ndone\r\n0\r\n\r\n")
    assert seen == ["http.disconnect", "http.disconnect"]


async def test_an_invalid_answer_header_is_the_apps_error_not_a_broken_frame() -> None:
    async def injecting(scope: dict[str, Any], receive: Receive, send: Send) -> None:
        headers = [(b"x-evil", b"1\r\nx-injected: yes")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})

    async with _serving(injecting) as port:
        answer = await _exchange(port)
    assert answer.startswith(b"HTTP/1.1 500 ") and b"x-injected" not in answer


async def test_an_idle_connection_is_closed_after_the_keep_alive_timeout(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def ok(scope: dict[str, Any], receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    config = _config("127.0.0.1", 0)
    async with trio.open_nursery() as nursery:
        (url,) = await nursery.start(partial(serve_http, ok, config))
        stream = await trio.open_tcp_stream("127.0.0.1", int(url.rsplit(":", 1)[1]))
        async with stream:
            await stream.send_all(b"GET / HTTP/1.1\r\n\r\n")
            answered = await stream.receive_some()
            idle_from = trio.current_time()
            assert await stream.receive_some() == b""  # closed by the server, not the test
        assert answered.startswith(b"HTTP/1.1 204 \r\ndate: ")
        assert b"Transfer-Encoding" not in answered  # a 204 has no body to frame
        assert trio.current_time() - idle_from >= config.keep_alive_timeout
        nursery.cancel_scope.cancel()


async def test_a_head_goes_out_at_once_unless_the_body_is_said_to_follow() -> None:
    head_seen = trio.Event()

    async def slow_body(scope: dict[str, Any], receive: Receive, send: Send) -> None:
        start = {"type": "http.response.start", "status": 200, "headers": []}
        if scope["path"] == "/promised":  # and the promise broken: the head still goes out
            await send({**start, BODY_FOLLOWS: True})
            return
        await send(start)
        await head_seen.wait()  # a time to first byte: the client has the head meanwhile
        await send({"type": "http.response.body", "body": b"late"})

    async with _serving(slow_body) as port:
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        async with stream:
            await stream.send_all(b"GET /slow HTTP/1.1\r\nconnection: close\r\n\r\n")
            with trio.fail_after(HANG_GUARD):
                head = await stream.receive_some()
            head_seen.set()
            rest = await _read_until_closed(stream)
        promised = await _exchange(port, b"GET /promised HTTP/1.1\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ") and head.endswith(b"\r\n\r\n")
    assert rest == b"4\r\nlate\r\n0\r\n\r\n"
    assert promised.startswith(b"HTTP/1.1 200 ") and promised.endswith(b"chunked\r\n\r\n")


@pytest.mark.parametrize("fast", [False, True])
async def test_the_official_sdk_is_answered_by_either_server(fast: bool) -> None:
    # hypercorn by default; the fake's own HTTP/1.1 listener with fast_http1=True.
    async with open_fake_provider(fast_http1=fast) as fake:
        client = openai.AsyncOpenAI(
            base_url=fake.url + "/v1", api_key=FAKE_KEYS["openai"], max_retries=0
        )
        async with client:
            answer = await client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "either"}]
            )
            stream = await client.chat.completions.create(
                model="gpt-4o-mini",
                messages=[{"role": "user", "content": "either"}],
                stream=True,
            )
            deltas = [c.choices[0].delta.content or "" async for c in stream if c.choices]
    assert answer.choices[0].message.content == "You said: either"
    assert "".join(deltas) == "You said: either"
