"""The pool's own HTTP/1.1 client exchange (`llm_router._pool.Http1Connection`) against h11,
the reference it mirrors: generated answers — well formed and not, framed by length, by
chunks (with extensions and trailers) or by the end of the connection, split at any byte —
must give the same outcome from both: the same status, headers, body and reusability of the
connection, or an error from both.

Normalised before comparing: framing headers (`Content-Length`, `Transfer-Encoding`, which
h11 rewrites) are left out, and runs of spaces and tabs inside a value are collapsed (h11
keeps the whitespace of an obsolete folded line, the pool joins the pieces with one space).
"""

from __future__ import annotations

import itertools
import re

import h11
import httpcore
import trio
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from llm_router._pool import Http1Connection

HOST = [(b"host", b"example.test")]
_FRAMING = {b"content-length", b"transfer-encoding"}
_SPACES = re.compile(rb"[ \t]+")

Outcome = tuple[object, ...]


class _Scripted(httpcore.AsyncNetworkStream):
    """A socket whose reads return scripted pieces, then b"" (closed)."""

    def __init__(self, pieces: list[bytes]) -> None:
        self.pieces = list(pieces)

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:  # noqa: ASYNC109
        await trio.lowlevel.checkpoint()
        return self.pieces.pop(0) if self.pieces else b""

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:  # noqa: ASYNC109
        pass

    async def aclose(self) -> None:
        pass

    def get_extra_info(self, info: str) -> object:
        return bool(self.pieces) if info == "is_readable" else None


def _normalise(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    return [
        (name, _SPACES.sub(b" ", value)) for name, value in headers if name.lower() not in _FRAMING
    ]


def _pool_outcome(pieces: list[bytes], method: bytes) -> Outcome:
    async def main() -> Outcome:
        connection = Http1Connection(_Scripted(pieces), keepalive_expiry=None)
        try:
            status, _, _, headers = await connection.request(method, b"/", HOST, b"", [], {})
            body = b""
            while piece := await connection.read_body():
                body += piece
        except httpcore.RemoteProtocolError:
            return ("error",)
        reusable = connection.is_idle() and not connection.has_expired()
        return ("ok", status, _normalise(headers), body, reusable)

    return trio.run(main)


def _h11_outcome(pieces: list[bytes], method: bytes) -> Outcome:
    connection = h11.Connection(h11.CLIENT)
    connection.send(h11.Request(method=method, target="/", headers=HOST))
    connection.send(h11.EndOfMessage())
    left = list(pieces)
    closed = False
    status = 0
    headers: list[tuple[bytes, bytes]] = []
    body = b""
    try:
        while True:
            event = connection.next_event()
            if event is h11.NEED_DATA:
                if closed:
                    return ("error",)  # h11 asks for more after the end: the answer is cut
                if left:
                    connection.receive_data(left.pop(0))
                else:
                    connection.receive_data(b"")
                    closed = True
            elif isinstance(event, h11.InformationalResponse):
                continue
            elif isinstance(event, h11.Response):
                status = event.status_code
                headers = list(event.headers.raw_items())
            elif isinstance(event, h11.Data):
                body += bytes(event.data)
            elif isinstance(event, h11.EndOfMessage):
                break
            else:
                return ("error",)
    except h11.RemoteProtocolError:
        return ("error",)
    trailing, _ = connection.trailing_data
    reusable = (
        connection.our_state is h11.DONE
        and connection.their_state is h11.DONE
        and not trailing
        and not left
        and not closed  # a body read to the end of the connection: nothing to reuse
    )
    return ("ok", status, _normalise(headers), body, reusable)


# -- generated answers ---------------------------------------------------------------------------

_GOOD_NAMES = st.sampled_from([b"content-type", b"X-Request-Id", b"server", b"connection", b"x-a"])
_NAMES = st.one_of(
    _GOOD_NAMES, _GOOD_NAMES, _GOOD_NAMES, st.sampled_from([b"bad name", b"", b"x\x00"])
)
_PLAIN_VALUES = st.sampled_from(
    [b"text/event-stream", b"close", b"keep-alive", b"", b" padded ", b"a\tb", b"\xff"]
)
_VALUES = st.one_of(_PLAIN_VALUES, _PLAIN_VALUES, _PLAIN_VALUES, st.binary(max_size=12))
_EOL = st.sampled_from([b"\r\n", b"\r\n", b"\r\n", b"\n"])


@st.composite
def _header_lines(draw: st.DrawFn, names: st.SearchStrategy[bytes] = _NAMES) -> bytes:
    lines = b""
    for name, value in draw(st.lists(st.tuples(names, _VALUES), max_size=4)):
        lines += name + b":" + draw(st.sampled_from([b" ", b"", b"  "])) + value + draw(_EOL)
        if draw(st.integers(0, 9)) == 0:
            lines += b"  folded" + draw(_EOL)  # obsolete line folding
    return lines


@st.composite
def _chunked_body(draw: st.DrawFn, body: bytes) -> bytes:
    cuts = sorted(draw(st.lists(st.integers(0, len(body)), max_size=4)))
    pieces = [body[a:b] for a, b in itertools.pairwise([0, *cuts, len(body)]) if b > a]
    out = b""
    for piece in pieces:
        size = b"%x" % len(piece)
        size = draw(st.sampled_from([size, size.upper(), size + b";ext=1", size + b" ", b"zz"]))
        out += size + b"\r\n" + piece + b"\r\n"
    out += b"0" + draw(st.sampled_from([b"", b";last"])) + b"\r\n"
    trailer = draw(
        st.one_of(
            st.just(b""),
            _header_lines(st.sampled_from([b"x-trailer", b"bad trailer", b"x\x00"])),
            st.sampled_from([b"no colon\r\n", b"x-t: \x00\r\n", b"x-t: ok\r\n"]),
        )
    )
    return out + trailer + b"\r\n"


@st.composite
def _answer(draw: st.DrawFn) -> tuple[bytes, bytes]:
    method = draw(st.sampled_from([b"GET", b"GET", b"POST", b"HEAD"]))
    version = draw(st.sampled_from([b"1.1", b"1.1", b"1.0"]))
    status = draw(st.sampled_from([200, 200, 201, 204, 304, 404, 429, 500]))
    reason = draw(st.sampled_from([b" OK", b"", b" Too Many Requests", b" \xc3\xa9"]))
    body = draw(st.binary(max_size=40))
    head = b""
    if draw(st.integers(0, 7)) == 0:
        head += b"HTTP/1.1 100 Continue\r\n\r\n"
    head += b"HTTP/" + version + b" %d" % status + reason + b"\r\n" + draw(_header_lines())
    framing = draw(st.sampled_from(["length", "length", "chunked", "chunked", "close", "bad"]))
    if framing == "length":
        length = draw(st.sampled_from([b"%d" % len(body), b"%d" % len(body), b"x1", b"-1"]))
        head += b"Content-Length: " + length + b"\r\n"
        if draw(st.integers(0, 5)) == 0:
            head += b"content-length: " + draw(st.sampled_from([length, b"999"])) + b"\r\n"
        payload = body
    elif framing == "chunked":
        head += b"Transfer-Encoding: " + draw(st.sampled_from([b"chunked", b"Chunked"])) + b"\r\n"
        payload = draw(_chunked_body(body))
    elif framing == "close":
        payload = body
    else:
        head += b"Transfer-Encoding: gzip\r\n"
        payload = body
    answer = head + b"\r\n" + payload
    if draw(st.integers(0, 7)) == 0:
        answer += draw(st.sampled_from([b"HTTP/1.1 200 OK\r\n", b"garbage", b"\r\n"]))
    return method, answer


def _split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(c, len(data)) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in itertools.pairwise(points) if b > a]


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(answer=_answer(), cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=8))
@example(
    answer=(b"GET", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nbad\r\n\r\n"),
    cuts=[],
)
@example(
    answer=(b"GET", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nx: \x00\r\n\r\n"),
    cuts=[],
)
@example(answer=(b"GET", b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokgarbage"), cuts=[20])
def test_the_pool_reads_an_answer_as_h11_does(answer: tuple[bytes, bytes], cuts: list[int]) -> None:
    method, data = answer
    pieces = _split(data, cuts)
    assert _pool_outcome(pieces, method) == _h11_outcome(pieces, method)


async def test_a_malformed_trailer_is_an_error_not_a_reusable_connection() -> None:
    for trailer in (b"no colon\r\n", b"x-t: \x00\r\n", b"bad name: v\r\n", b" folded\r\n"):
        data = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n" + trailer
        connection = Http1Connection(_Scripted([data + b"\r\n"]), keepalive_expiry=None)
        await connection.request(b"GET", b"/", HOST, b"", [], {})
        assert await connection.read_body() == b"ok"
        try:
            await connection.read_body()
        except httpcore.RemoteProtocolError as error:
            assert "malformed trailer line" in str(error)
        else:
            raise AssertionError(f"trailer {trailer!r} was accepted")
        assert not connection.is_idle()
