"""Network blocking for tests: only loopback (where the fake server runs) and named hosts.

`block_network()` refuses, for the duration of the block, every name lookup and connection
to a host that is not allowed, raising `NetworkBlockedError` naming that host. It patches
`socket.getaddrinfo` (so the error names the host as the code wrote it, before any DNS
query leaves the machine) and `socket.socket.connect` / `connect_ex` (for addresses that
need no lookup). Sync code, Trio, asyncio and threads are all covered, since each connects
through the standard library's sockets. Unix-domain sockets are always allowed.

The pytest plugin applies it to tests marked ``@pytest.mark.llm_block_network`` or to every
test with ``--llm-block-network``.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["LOOPBACK_HOSTS", "NetworkBlockedError", "block_network"]

LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")
"""Always allowed: the fake server, the gateway under test and redis bind to loopback."""


class NetworkBlockedError(RuntimeError):
    """A test tried to reach a host outside the allowed ones; `host` and `port` say which.

    A RuntimeError on purpose: HTTP clients retry OSErrors as connection failures, and the
    attempt should fail the test at once and say why.
    """

    def __init__(self, host: str, port: int | None, allowed: Iterable[str]) -> None:
        where = host if port is None else f"{host}:{port}"
        shown = ", ".join(sorted(allowed))
        super().__init__(
            f"network access to {where} is blocked during this test (allowed: loopback, "
            f"{shown}); point the client at the fake server, replay a cassette, or allow the "
            "host with @pytest.mark.llm_block_network(allow=[...]) / --llm-allow-host"
        )
        self.host = host
        self.port = port


class _Guard:
    """The installed patches and the allow-lists of the blocks currently open."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.depth = 0
        self.allowed: list[frozenset[str]] = []
        self.attempts: list[NetworkBlockedError] = []
        self.saved: tuple[Any, Any, Any] | None = None

    def allows(self, host: str) -> bool:
        if _is_loopback(host):
            return True
        lowered = host.lower().rstrip(".")
        return any(lowered in allowed for allowed in self.allowed)

    def refuse(self, host: str, port: int | None) -> NetworkBlockedError:
        names = set().union(*self.allowed) if self.allowed else set()
        error = NetworkBlockedError(host, port, names)
        self.attempts.append(error)
        return error


_GUARD = _Guard()


def _is_loopback(host: str) -> bool:
    if host in ("", "localhost") or host.lower().endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def _host_text(host: object) -> str:
    if isinstance(host, bytes):
        return host.decode("idna", "replace")
    return "" if host is None else str(host)


def _checked_getaddrinfo(original: Callable[..., Any]) -> Callable[..., Any]:
    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        name = _host_text(host)
        if not _GUARD.allows(name):
            raise _GUARD.refuse(name, port if isinstance(port, int) else None)
        return original(host, port, *args, **kwargs)

    return getaddrinfo


def _checked_connect(original: Callable[..., Any]) -> Callable[..., Any]:
    def connect(self: socket.socket, address: Any) -> Any:
        if self.family in (socket.AF_INET, socket.AF_INET6) and isinstance(address, tuple):
            host = _host_text(address[0])
            if not _GUARD.allows(host):
                raise _GUARD.refuse(host, address[1] if len(address) > 1 else None)
        return original(self, address)

    return connect


@contextmanager
def block_network(allow: Iterable[str] = ()) -> Iterator[list[NetworkBlockedError]]:
    """Refuse connections to hosts other than loopback and `allow` while the block runs.

    Yields the list of refused attempts (so a caller can fail a test whose code swallowed
    the error). Blocks nest: an inner block may allow more hosts.
    """
    allowed = frozenset(host.lower().rstrip(".") for host in allow)
    guard = _GUARD
    with guard.lock:
        if guard.depth == 0:
            guard.saved = (socket.getaddrinfo, socket.socket.connect, socket.socket.connect_ex)
            socket.getaddrinfo = _checked_getaddrinfo(guard.saved[0])  # type: ignore[assignment]
            socket.socket.connect = _checked_connect(guard.saved[1])  # type: ignore[method-assign]
            socket.socket.connect_ex = _checked_connect(guard.saved[2])  # type: ignore[method-assign]
            guard.attempts = []
        guard.depth += 1
        guard.allowed.append(allowed)
        start = len(guard.attempts)
    attempts: list[NetworkBlockedError] = []
    try:
        yield attempts
    finally:
        with guard.lock:
            attempts.extend(guard.attempts[start:])
            guard.allowed.remove(allowed)
            guard.depth -= 1
            if guard.depth == 0 and guard.saved is not None:
                getaddrinfo, connect, connect_ex = guard.saved
                socket.getaddrinfo = getaddrinfo
                socket.socket.connect = connect  # type: ignore[method-assign]
                socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]
                guard.saved = None
