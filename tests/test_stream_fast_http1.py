"""The pool's own HTTP/1.1 exchange (`llm_router._pool.Http1Connection`): answers framed as
h11 frames them whatever the read boundaries, a connection reused only after a complete
answer on a connection both sides keep alive, request heads checked (no header injection),
and every failure a typed httpx error through the transport, with nothing left in the pool.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from functools import partial

import httpcore
import httpx
import pytest
import trio
from hypothesis import given, settings
from hypothesis import strategies as st

from llm_router._pool import Http1Connection
from llm_router.transport import PoolTransport

HOST = [(b"host", b"example.test")]


class _Scripted(httpcore.AsyncNetworkStream):
    """A socket whose reads return scripted pieces (then b"": closed), recording writes."""

    def __init__(self, pieces: list[bytes]) -> None:
        self.pieces = list(pieces)
        self.writes: list[bytes] = []
        self.closed = False

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:  # noqa: ASYNC109
        await trio.lowlevel.checkpoint()
        return self.pieces.pop(0) if self.pieces else b""

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:  # noqa: ASYNC109
        self.writes.append(buffer)

    async def aclose(self) -> None:
        self.closed = True

    def get_extra_info(self, info: str) -> object:
        return bool(self.pieces) if info == "is_readable" else None


async def _exchange(
    pieces: list[bytes], method: bytes = b"GET", headers: list[tuple[bytes, bytes]] = HOST
) -> tuple[Http1Connection, int, list[tuple[bytes, bytes]], bytes]:
    connection = Http1Connection(_Scripted(pieces), keepalive_expiry=None)
    status, _, _, answer_headers = await connection.request(method, b"/", headers, b"", [], {})
    body = b""
    while piece := await connection.read_body():
        body += piece
    return connection, status, answer_headers, body


def _cut(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(c, len(data)) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in itertools.pairwise(points) if b > a]


CHUNKED = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"5;ext=1\r\nhello\r\n1a\r\n" + b"abcdefghijklmnopqrstuvwxyz" + b"\r\n"
    b"0\r\nx-trailer: yes\r\n\r\n"
)
LENGTH = b"HTTP/1.1 200 OK\r\ncontent-length: 11\r\n\r\nhello world"


@settings(max_examples=200, deadline=None)
@given(
    answer=st.sampled_from([CHUNKED, LENGTH]),
    cuts=st.lists(st.integers(min_value=0, max_value=200), max_size=12),
)
def test_an_answer_reads_the_same_however_it_is_split(answer: bytes, cuts: list[int]) -> None:
    async def main() -> None:
        connection, status, _, body = await _exchange(_cut(answer, cuts))
        assert status == 200
        assert body == (
            b"hello" + b"abcdefghijklmnopqrstuvwxyz" if answer is CHUNKED else b"hello world"
        )
        assert connection.is_idle() and not connection.has_expired()  # reusable

    trio.run(main)


async def test_headers_are_kept_as_sent_and_folded_lines_joined() -> None:
    _, _, headers, body = await _exchange(
        [b"HTTP/1.1 200 OK\r\nX-Long: one\r\n  two\r\nContent-Length: 2\r\n\r\nok"]
    )
    assert headers == [(b"X-Long", b"one two"), (b"Content-Length", b"2")] and body == b"ok"


async def test_informational_answers_are_skipped() -> None:
    _, status, _, body = await _exchange(
        [b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early\r\nlink: x\r\n\r\n", LENGTH]
    )
    assert status == 200 and body == b"hello world"


@pytest.mark.parametrize(
    ("answer", "method"),
    [
        (b"HTTP/1.1 204 No Content\r\n\r\n", b"POST"),
        (b"HTTP/1.1 304 Not Modified\r\ncontent-length: 99\r\n\r\n", b"GET"),
        (b"HTTP/1.1 200 OK\r\ncontent-length: 99\r\n\r\n", b"HEAD"),
    ],
)
async def test_answers_without_a_body_end_at_their_head(answer: bytes, method: bytes) -> None:
    connection, _, _, body = await _exchange([answer], method=method)
    assert body == b"" and connection.is_idle()


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 2\r\n\r\nok",
        b"HTTP/1.0 200 OK\r\ncontent-length: 2\r\n\r\nok",
        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nokEXTRA",  # more than it declared
        b"HTTP/1.1 200 OK\r\n\r\nok",  # no framing: the body ends with the connection
    ],
)
async def test_a_connection_that_cannot_serve_another_request_is_not_idle(answer: bytes) -> None:
    connection, status, _, body = await _exchange([answer])
    assert status == 200 and body == b"ok" and not connection.is_idle()


async def test_a_request_asking_to_close_leaves_its_connection_unusable() -> None:
    connection, _, _, _ = await _exchange([LENGTH], headers=[*HOST, (b"connection", b"close")])
    assert not connection.is_idle()


async def test_a_busy_connection_takes_no_second_request() -> None:
    connection = Http1Connection(
        _Scripted([b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhe"]), None
    )
    await connection.request(b"GET", b"/", HOST, b"", [], {})
    with pytest.raises(httpcore.ConnectionNotAvailable):
        await connection.request(b"GET", b"/", HOST, b"", [], {})


@pytest.mark.parametrize(
    ("pieces", "problem"),
    [
        ([b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nshort"], "Content-Length still"),
        ([b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nab"], "chunk"),
        ([b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n"], "chunk-size"),
        ([b"HTTP/1.1 200 OK\r\ntransfer-encoding: gzip\r\n\r\n"], "Transfer-Encoding"),
        ([b"HTTP/1.1 200 OK\r\ncontent-length: 1, 2\r\n\r\nx"], "conflicting"),
        ([b"HTTP/1.1 200 OK\r\ncontent-length: -1\r\n\r\n"], "bad Content-Length"),
        ([b"HTTP/1.1 200 OK\r\nbad header\r\n\r\n"], "malformed header"),
        ([b"HTTP/1.1 200 OK\r\nx: a\x00b\r\n\r\n"], "malformed header"),
        ([b"SMTP ready\r\n\r\n"], "status line"),
        ([b"HTTP/1.1 200 OK\r\n"], "without sending a response"),
        ([], "without sending a response"),
        ([b"HTTP/1.1 200 OK\r\nx: " + b"y" * 70_000], "larger than"),
    ],
)
async def test_a_broken_answer_is_a_protocol_error(pieces: list[bytes], problem: str) -> None:
    with pytest.raises(httpcore.RemoteProtocolError, match=problem):
        await _exchange(pieces)


@pytest.mark.parametrize(
    ("method", "target", "headers", "problem"),
    [
        (b"GET", b"/", [*HOST, (b"x-evil", b"a\r\nx-injected: 1")], "illegal header value"),
        (b"GET", b"/", [*HOST, (b"x evil", b"a")], "illegal header name"),
        (b"GET", b"/a b", HOST, "illegal request target"),
        (b"G T", b"/", HOST, "illegal request method"),
        (b"GET", b"/", [], "Host"),
        (b"GET", b"/", [*HOST, (b"content-length", b"x")], "Content-Length"),
    ],
)
async def test_a_bad_request_head_is_refused_before_anything_is_sent(
    method: bytes, target: bytes, headers: list[tuple[bytes, bytes]], problem: str
) -> None:
    stream = _Scripted([LENGTH])
    with pytest.raises(httpcore.LocalProtocolError, match=problem):
        await Http1Connection(stream, None).request(method, target, headers, b"", [], {})
    assert stream.writes == []


async def test_a_streamed_body_goes_chunked_or_as_declared() -> None:
    async def pieces() -> AsyncIterator[bytes]:
        for piece in (b"ab", b"", b"cde"):
            yield piece

    stream = _Scripted([LENGTH])
    chunked = [*HOST, (b"transfer-encoding", b"chunked")]
    await Http1Connection(stream, None).request(b"POST", b"/", chunked, None, pieces(), {})
    assert b"".join(stream.writes).endswith(b"\r\n\r\n2\r\nab\r\n3\r\ncde\r\n0\r\n\r\n")

    stream = _Scripted([LENGTH])
    declared = [*HOST, (b"content-length", b"5")]
    await Http1Connection(stream, None).request(b"POST", b"/", declared, None, pieces(), {})
    assert b"".join(stream.writes).endswith(b"\r\n\r\nabcde")

    for length in (b"4", b"6"):
        with pytest.raises(httpcore.LocalProtocolError, match="Content-Length"):
            await Http1Connection(_Scripted([LENGTH]), None).request(
                b"POST", b"/", [*HOST, (b"content-length", length)], None, pieces(), {}
            )


async def test_keepalive_expiry_and_a_readable_idle_socket_expire_a_connection() -> None:
    connection = Http1Connection(_Scripted([LENGTH, b"junk"]), keepalive_expiry=60)
    await connection.request(b"GET", b"/", HOST, b"", [], {})
    while await connection.read_body():
        pass
    assert connection.is_idle() and connection.has_expired()  # b"junk" is readable
    connection = Http1Connection(_Scripted([LENGTH]), keepalive_expiry=0)
    await connection.request(b"GET", b"/", HOST, b"", [], {})
    while await connection.read_body():
        pass
    assert connection.has_expired()


# -- over loopback, through the transport ---------------------------------------------------------
async def _serve(
    answers: list[tuple[bytes, bool]], seen: list[bytes], stream: trio.SocketStream
) -> None:
    """Answer each request on this connection with the next of `answers`, then hang up if
    it says so."""
    buffer = b""
    async with stream:
        while answers:
            while b"\r\n\r\n" not in buffer:
                data = await stream.receive_some(65536)
                if not data:
                    return
                buffer += data
            head, _, buffer = buffer.partition(b"\r\n\r\n")
            seen.append(head)
            answer, hang_up = answers.pop(0)
            await stream.send_all(answer)
            if hang_up:
                return


async def test_the_transport_reuses_a_connection_and_maps_errors_to_httpx() -> None:
    short = b"HTTP/1.1 200 OK\r\ncontent-length: 50\r\n\r\ncut"
    answers = [(LENGTH, False), (CHUNKED, False), (short, True)]
    seen: list[bytes] = []
    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(
            partial(trio.serve_tcp, partial(_serve, answers, seen), 0, host="127.0.0.1")
        )
        url = f"http://127.0.0.1:{listeners[0].socket.getsockname()[1]}/"
        transport = PoolTransport(limits=httpx.Limits(max_connections=1))
        async with httpx.AsyncClient(transport=transport) as client:
            assert (await client.get(url)).content == b"hello world"
            assert (await client.get(url)).content.startswith(b"hello")
            assert transport.pool.statistics()["connections"] == 1  # one connection, reused
            with pytest.raises(httpx.RemoteProtocolError):
                await client.get(url)  # the answer stops 47 bytes short
            stats = transport.pool.statistics()
            assert stats["connections"] == stats["in_use"] == 0
            with pytest.raises(httpx.LocalProtocolError):
                await client.get(url, headers={"x-evil": "a\r\nb: c"})
            assert transport.pool.statistics()["connections"] == 0
            with pytest.raises(httpx.UnsupportedProtocol):
                await transport.handle_async_request(httpx.Request("GET", "ftp://x/"))
        nursery.cancel_scope.cancel()
    assert len(seen) == 3 and all(head.startswith(b"GET / HTTP/1.1\r\n") for head in seen)


async def test_an_answer_cancelled_half_read_closes_its_connection() -> None:
    gate = trio.Event()
    closed = trio.Event()

    async def serve(stream: trio.SocketStream) -> None:
        async with stream:
            await stream.receive_some(65536)
            await stream.send_all(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nhalf")
            gate.set()
            while await stream.receive_some(65536):  # until the client hangs up
                pass
            closed.set()

    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(partial(trio.serve_tcp, serve, 0, host="127.0.0.1"))
        url = f"http://127.0.0.1:{listeners[0].socket.getsockname()[1]}/"
        transport = PoolTransport(limits=httpx.Limits(max_connections=1))
        async with httpx.AsyncClient(transport=transport) as client:
            with trio.move_on_after(5) as scope:
                async with client.stream("GET", url) as response:
                    async for _ in response.aiter_raw():
                        await gate.wait()
                        scope.cancel()
            assert scope.cancelled_caught
            stats = transport.pool.statistics()
            assert stats["connections"] == stats["in_use"] == 0
            with trio.fail_after(5):
                await closed.wait()  # the upstream saw the disconnect
        nursery.cancel_scope.cancel()


class _Refusing(_Scripted):
    """A server that answered and stopped reading: every write fails."""

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:  # noqa: ASYNC109
        raise httpcore.WriteError("broken pipe")


async def test_an_answer_sent_before_the_request_was_read_is_still_read() -> None:
    answer = b"HTTP/1.1 413 Too Large\r\ncontent-length: 3\r\n\r\nbig"
    connection = Http1Connection(_Refusing([answer]), None)
    declared = [*HOST, (b"content-length", b"4")]
    status, _, _, _ = await connection.request(b"POST", b"/", declared, b"data", [], {})
    body = b""
    while piece := await connection.read_body():
        body += piece
    assert status == 413 and body == b"big"
    assert not connection.is_idle()  # its request was cut short: the connection ends here

    with pytest.raises(httpcore.RemoteProtocolError, match="without sending a response"):
        await Http1Connection(_Refusing([]), None).request(b"POST", b"/", declared, b"data", [], {})
