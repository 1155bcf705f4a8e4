"""The fake server's HTTP/1.1 wire without sockets: request heads read, answers framed as h11
frames them (the bytes clients already parse)."""

from __future__ import annotations

import re

import pytest

from llm_router_testing.fake.http1 import (
    BadRequest,
    chunk,
    error_head,
    parse_chunk_size,
    parse_head,
    response_head,
)

DATE = rb"date: [A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT\r\n"


def test_a_request_head_gives_the_scope_fields_hypercorn_gave() -> None:
    head = (
        b"POST /v1/chat%20completions?api-version=1&x=%20 HTTP/1.1\r\n"
        b"Host: 127.0.0.1\r\nAuthorization:  Bearer sk \t\r\nContent-Length: 12\r\n"
        b"X-Empty:\r\nX-Twice: a\r\nx-twice: b"
    )
    request = parse_head(head)
    assert request.method == "POST"
    assert request.raw_path == b"/v1/chat%20completions"
    assert request.path == "/v1/chat completions"
    assert request.query_string == b"api-version=1&x=%20"
    assert request.http_version == "1.1"
    assert request.headers == [
        (b"host", b"127.0.0.1"),
        (b"authorization", b"Bearer sk"),
        (b"content-length", b"12"),
        (b"x-empty", b""),
        (b"x-twice", b"a"),
        (b"x-twice", b"b"),
    ]
    assert (request.content_length, request.chunked, request.keep_alive) == (12, False, True)
    assert not request.hand_off and not request.expect_continue


def test_framing_and_connection_headers() -> None:
    chunked = parse_head(b"POST / HTTP/1.1\r\nTransfer-Encoding: Chunked\r\nConnection: Close")
    assert chunked.chunked and not chunked.keep_alive
    old = parse_head(b"GET / HTTP/1.0\r\nExpect: 100-continue")
    assert not old.keep_alive and not old.expect_continue  # HTTP/1.0 ignores the expectation
    assert parse_head(b"PUT / HTTP/1.1\r\nexpect: 100-Continue").expect_continue
    folded = parse_head(b"GET / HTTP/1.1\r\nX-Long: one\r\n  two\r\n\tthree")
    assert folded.headers == [(b"x-long", b"one two three")]


def test_upgrades_and_http2_belong_to_hypercorn() -> None:
    websocket = b"GET /v1/realtime HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket"
    assert parse_head(websocket).hand_off
    assert parse_head(b"OPTIONS * HTTP/1.1\r\nUpgrade: h2c").hand_off
    assert parse_head(b"PRI * HTTP/2.0").hand_off


@pytest.mark.parametrize(
    ("head", "status"),
    [
        (b"garbage", 400),
        (b"GET / HTTP/2.0", 400),
        (b"GET /a b HTTP/1.1", 400),
        (b"GET / HTTP/1.1\r\nNo colon here", 400),
        (b"GET / HTTP/1.1\r\nSpace before : colon", 400),
        (b"GET / HTTP/1.1\r\nX: a\x00b", 400),
        (b"GET / HTTP/1.1\r\n continued first", 400),
        (b"POST / HTTP/1.1\r\nContent-Length: -1", 400),
        (b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2", 400),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip", 501),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3", 400),
    ],
)
def test_malformed_heads_are_refused_with_the_status_h11_would_give(
    head: bytes, status: int
) -> None:
    with pytest.raises(BadRequest) as refused:
        parse_head(head)
    assert refused.value.status == status


def test_values_h11_accepts_are_accepted() -> None:
    # DEL and other visible-or-not bytes h11 lets through reach the app, which names them.
    request = parse_head(b"POST / HTTP/1.1\r\nx-fake-retry-after: \x7f\r\nx-obs: caf\xe9")
    assert request.headers == [(b"x-fake-retry-after", b"\x7f"), (b"x-obs", b"caf\xe9")]


def test_chunk_sizes() -> None:
    assert parse_chunk_size(b"1a") == 26
    assert parse_chunk_size(b"0;name=value") == 0
    for bad in (b"", b"0x10", b"-1", b"g", b"1" * 21):
        with pytest.raises(BadRequest):
            parse_chunk_size(bad)


def test_an_answer_head_is_byte_for_byte_what_h11_wrote() -> None:
    head = response_head(
        200,
        [(b"content-type", b"application/json"), (b"content-length", b"2")],
        chunked=False,
        close=False,
    )
    assert re.fullmatch(
        rb"HTTP/1\.1 200 \r\ncontent-type: application/json\r\ncontent-length: 2\r\n"
        + DATE
        + rb"\r\n",
        head,
    )
    streamed = response_head(
        200, [(b"content-type", b"text/event-stream")], chunked=True, close=True
    )
    assert streamed.endswith(b"GMT\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
    assert re.fullmatch(
        rb"HTTP/1\.1 400 \r\ncontent-length: 0\r\nconnection: close\r\n" + DATE + rb"\r\n",
        error_head(400),
    )


@pytest.mark.parametrize(
    "header",
    [(b"x-bad", b"a\r\nx-injected: 1"), (b"bad name", b"v"), (b":status", b"200"), (b"x", b"\x00")],
)
def test_an_answer_header_that_would_break_the_framing_is_refused(
    header: tuple[bytes, bytes],
) -> None:
    with pytest.raises(ValueError, match="invalid response header"):
        response_head(200, [header], chunked=False, close=False)


def test_chunks() -> None:
    assert chunk(b"hello", last=False) == b"5\r\nhello\r\n"
    assert chunk(b"x" * 26, last=True) == b"1a\r\n" + b"x" * 26 + b"\r\n0\r\n\r\n"
    assert chunk(b"", last=False) == b""
    assert chunk(b"", last=True) == b"0\r\n\r\n"
