"""HTTP/1.1 as the fake server speaks it, without sockets: request heads parsed, answer heads
and chunks framed, byte for byte as hypercorn over h11 framed them before.

It knows requests with `content-length` or chunked bodies and answers with a length or
chunked (close-delimited to HTTP/1.0 clients). It does not know upgrades (WebSocket, h2c) or
HTTP/2: `RequestHead.hand_off` says such a connection belongs to hypercorn.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from email.utils import formatdate
from urllib.parse import unquote

__all__ = [
    "BODY_FOLLOWS",
    "MAX_HEAD",
    "BadRequest",
    "RequestHead",
    "chunk",
    "date_header",
    "error_head",
    "parse_chunk_size",
    "parse_head",
    "response_head",
]

#: A key of an ASGI `http.response.start` message: true when the app sends the first body
#: message straight after, with nothing awaited between, so the head may wait and go out in
#: the same write as the body. Without it the head is written at once, as hypercorn does,
#: which matters when a delay follows (a scripted time to first byte, a stream's first
#: event). Other ASGI servers ignore the key.
BODY_FOLLOWS = "llm_router_testing.body_follows"

#: The longest request head accepted (h11's limit as hypercorn configures it: 16 KiB).
MAX_HEAD = 16 * 1024

# The grammar h11 checks requests (and answers) against.
_REQUEST_LINE = re.compile(rb"([-!#$%&'*+.^_`|~0-9a-zA-Z]+) ([\x21-\x7e]+) HTTP/1\.([01])")
_HEADER_LINE = re.compile(
    rb"([-!#$%&'*+.^_`|~0-9a-zA-Z]+):[ \t]*((?:[^\x00\s]+(?:[ \t]+[^\x00\s]+)*)?)[ \t]*"
)
_CHUNK_SIZE = re.compile(rb"([0-9A-Fa-f]{1,20})(?:;.*)?[ \t]*")
_TERMINAL_CHUNK = b"0\r\n\r\n"


class BadRequest(Exception):
    """A request this server will not read: answered with `status` and the connection closed."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


@dataclass(slots=True)
class RequestHead:
    """A parsed request line and headers (names lower-cased, as ASGI hands them over)."""

    method: str
    raw_path: bytes
    path: str
    query_string: bytes
    http_version: str
    headers: list[tuple[bytes, bytes]]
    content_length: int = 0
    chunked: bool = False
    keep_alive: bool = True
    expect_continue: bool = False
    hand_off: bool = False  # an upgrade or HTTP/2: not for this parser


def parse_head(head: bytes) -> RequestHead:
    """The request whose head (up to, not including, the blank line) is `head`."""
    if head.startswith(b"PRI * HTTP/2.0"):
        return RequestHead("PRI", b"*", "*", b"", "2", [], hand_off=True)
    lines = head.split(b"\r\n")
    request_line = _REQUEST_LINE.fullmatch(lines[0])
    if request_line is None:
        raise BadRequest(400, "malformed request line")
    method_bytes, target, minor = request_line.groups()
    raw_path, _, query_string = target.partition(b"?")
    request = RequestHead(
        method=method_bytes.decode("ascii").upper(),
        raw_path=raw_path,
        path=unquote(raw_path.decode("ascii")),
        query_string=query_string,
        http_version="1.1" if minor == b"1" else "1.0",
        headers=[],
        keep_alive=minor == b"1",  # like h11: no keep-alive with HTTP/1.0 clients
    )
    headers = request.headers
    length: bytes | None = None
    if any(line[:1] in (b" ", b"\t") for line in lines):
        lines = _unfold(lines)
    for line in lines[1:]:
        match = _HEADER_LINE.fullmatch(line)
        if match is None:
            raise BadRequest(400, "malformed header line")
        name = match[1].lower()
        value = match[2]
        headers.append((name, value))
        if name == b"content-length":
            if not value.isdigit() or (length is not None and value != length):
                raise BadRequest(400, "bad content-length")
            length = value
        elif name == b"transfer-encoding":
            if value.lower() != b"chunked" or request.chunked:
                raise BadRequest(501, "only transfer-encoding: chunked is supported")
            request.chunked = True
        elif name == b"connection":
            if b"close" in (token.strip() for token in value.lower().split(b",")):
                request.keep_alive = False
        elif name == b"expect":
            request.expect_continue = minor == b"1" and value.lower() == b"100-continue"
        elif name == b"upgrade":
            request.hand_off = True
    if request.chunked and length is not None:
        raise BadRequest(400, "both content-length and transfer-encoding")
    if length is not None:
        request.content_length = int(length)
    return request


def _unfold(lines: list[bytes]) -> list[bytes]:
    """Header lines with obsolete continuation lines joined to the line they continue."""
    joined = lines[:1]
    for line in lines[1:]:
        if line[:1] in (b" ", b"\t"):
            if len(joined) < 2:
                raise BadRequest(400, "continuation line at the start of the headers")
            joined[-1] += b" " + line.lstrip(b" \t")
        else:
            joined.append(line)
    return joined


def parse_chunk_size(line: bytes) -> int:
    """The size on a chunk's first line (extensions after `;` ignored)."""
    match = _CHUNK_SIZE.fullmatch(line)
    if match is None:
        raise BadRequest(400, "bad chunk size")
    return int(match[1], 16)


_date_second = -1
_date_value = b""


def date_header() -> bytes:
    """The `date` value (RFC 7231 format) for this second, computed once per second."""
    global _date_second, _date_value
    now = int(time.time())
    if now != _date_second:
        _date_second, _date_value = now, formatdate(now, usegmt=True).encode("ascii")
    return _date_value


def response_head(
    status: int,
    headers: list[tuple[bytes, bytes]] | tuple[tuple[bytes, bytes], ...],
    *,
    chunked: bool,
    close: bool,
) -> bytes:
    """The status line and headers of an answer: the app's headers (validated, stripped),
    then `date`, then the framing h11 adds (`Transfer-Encoding: chunked` when no length is
    given to an HTTP/1.1 client, `Connection: close` when the connection ends after it)."""
    parts = [b"HTTP/1.1 %d \r\n" % status]
    for raw_name, raw_value in headers:
        name, value = bytes(raw_name).strip(), bytes(raw_value).strip()
        if _HEADER_LINE.fullmatch(name + b":" + value) is None:
            raise ValueError(f"invalid response header {name!r}: {value!r}")
        parts.append(b"%s: %s\r\n" % (name, value))
    parts.append(b"date: %s\r\n" % date_header())
    if chunked:
        parts.append(b"Transfer-Encoding: chunked\r\n")
    if close:
        parts.append(b"Connection: close\r\n")
    parts.append(b"\r\n")
    return b"".join(parts)


def error_head(status: int) -> bytes:
    """The empty answer to a request that could not be read (hypercorn's, over h11)."""
    return b"HTTP/1.1 %d \r\ncontent-length: 0\r\nconnection: close\r\ndate: %s\r\n\r\n" % (
        status,
        date_header(),
    )


def chunk(body: bytes, *, last: bool) -> bytes:
    """One body message framed as chunks: its data (if any), then the end when `last`."""
    if not body:
        return _TERMINAL_CHUNK if last else b""
    framed = b"%x\r\n%s\r\n" % (len(body), body)
    return framed + _TERMINAL_CHUNK if last else framed
