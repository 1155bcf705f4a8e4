"""The fake server's listen queue holds a burst of simultaneous connections: none is refused.

All connections are made while the server cannot accept (the test holds the Trio loop with
plain socket calls), so every one of them must fit in the kernel's listen queue at once; then
each sends a request and must get its answer. Real loopback sockets; the waits are bounded
only to turn a hang into a failure, never to time anything.
"""

from __future__ import annotations

import errno
import socket

import pytest
import trio

from llm_router_testing.cli import main
from llm_router_testing.fake import FAKE_KEYS, open_fake_provider
from llm_router_testing.fake.server import DEFAULT_BACKLOG

CONNECTIONS = 500
HANG_GUARD = 60.0


def _connect_all(port: int, count: int) -> list[socket.socket]:
    """`count` connections started back to back, without letting the server run."""
    sockets = []
    for _ in range(count):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        code = sock.connect_ex(("127.0.0.1", port))
        assert code in (0, errno.EINPROGRESS), errno.errorcode.get(code, code)
        sockets.append(sock)
    return sockets


def _connected(sock: socket.socket) -> bool:
    try:
        sock.getpeername()
    except OSError:
        return False
    return True


async def _ask(sock: socket.socket, request: bytes, answers: list[bytes]) -> None:
    stream = trio.SocketStream(trio.socket.from_stdlib_socket(sock))
    async with stream:
        await stream.send_all(request)
        received = b""
        while data := await stream.receive_some(65536):
            received += data
        answers.append(received)


async def test_500_simultaneous_connections_are_all_answered() -> None:
    assert DEFAULT_BACKLOG >= CONNECTIONS
    request = (
        f"GET /v1/models HTTP/1.1\r\nhost: fake\r\nauthorization: Bearer {FAKE_KEYS['openai']}"
        "\r\nconnection: close\r\n\r\n"
    ).encode()
    answers: list[bytes] = []
    async with open_fake_provider() as fake:
        sockets = _connect_all(fake.port, CONNECTIONS)
        # Loopback completes a handshake within connect() when the queue has room; a full
        # queue drops the SYN and leaves the socket unconnected, to be retried a second later.
        assert sum(_connected(sock) for sock in sockets) == CONNECTIONS
        with trio.fail_after(HANG_GUARD):
            async with trio.open_nursery() as nursery:
                for sock in sockets:
                    nursery.start_soon(_ask, sock, request, answers)
        assert len(fake.journal) == CONNECTIONS
    assert len(answers) == CONNECTIONS
    assert all(answer.startswith(b"HTTP/1.1 200") for answer in answers)


async def test_the_backlog_is_an_option() -> None:
    async with open_fake_provider(backlog=8) as fake:
        with trio.fail_after(HANG_GUARD):
            stream = await trio.open_tcp_stream("127.0.0.1", fake.port)
            await stream.aclose()
    with pytest.raises(ValueError, match="backlog must be at least 1, got 0"):
        async with open_fake_provider(backlog=0):
            pass


def test_the_command_line_refuses_a_backlog_below_one(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--backlog", "0"]) == 2
    assert capsys.readouterr().err == "llm-router-fake: --backlog must be at least 1, got 0\n"
