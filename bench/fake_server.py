"""Throughput of one fake-server process: non-streamed requests/s and streamed events/s.

The server runs as `llm-router-fake serve` in a subprocess (its own interpreter and core);
the load comes from this process over keep-alive loopback connections, written as raw
HTTP/1.1 on Trio sockets so the client's own overhead stays small. Each measurement runs
for a fixed time and is repeated; the medians are printed.

    .venv/bin/python bench/fake_server.py [--seconds 3] [--runs 3] [--connections 16]

Not run by the test suite.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import orjson
import trio

KEY = "sk-fake"
WORDS = 200  # words of the forced streamed answer: about one event each


@dataclass
class Counts:
    requests: int = 0
    events: int = 0
    server_cpu: float = 0.0  # seconds of CPU the server process used during the run


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of a process (Linux /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _request(host: str, path: str, body: dict[str, object], extra: str = "") -> bytes:
    payload = orjson.dumps(body)
    head = (
        f"POST {path} HTTP/1.1\r\nhost: {host}\r\nauthorization: Bearer {KEY}\r\n"
        f"content-type: application/json\r\ncontent-length: {len(payload)}\r\n{extra}\r\n"
    )
    return head.encode() + payload


async def _read_response(stream: trio.SocketStream, buffer: bytearray) -> bytes:
    """One response (content-length or chunked); leftovers stay in `buffer`."""
    while b"\r\n\r\n" not in buffer:
        buffer += await _receive(stream)
    head_end = buffer.index(b"\r\n\r\n") + 4
    head = bytes(buffer[:head_end]).lower()
    if b"transfer-encoding: chunked" in head:
        while b"\r\n0\r\n\r\n" not in buffer[head_end - 2 :]:
            buffer += await _receive(stream)
        end = buffer.index(b"\r\n0\r\n\r\n", head_end - 2) + 7
    else:
        length = int(head.split(b"content-length: ", 1)[1].split(b"\r\n", 1)[0])
        end = head_end + length
        while len(buffer) < end:
            buffer += await _receive(stream)
    response = bytes(buffer[:end])
    del buffer[:end]
    return response


async def _receive(stream: trio.SocketStream) -> bytes:
    data = await stream.receive_some(1 << 16)
    if not data:
        raise ConnectionError("the fake server closed the connection")
    return data


async def _worker(port: int, request: bytes, deadline: float, counts: Counts) -> None:
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    buffer = bytearray()
    async with stream:
        while trio.current_time() < deadline:
            await stream.send_all(request)
            response = await _read_response(stream, buffer)
            if not response.startswith(b"HTTP/1.1 200"):
                raise RuntimeError(f"unexpected answer: {response[:200]!r}")
            counts.requests += 1
            counts.events += response.count(b"\ndata: ")


async def _measure(
    pid: int, port: int, request: bytes, *, seconds: float, connections: int
) -> Counts:
    """Rates per second of wall time; `server_cpu` is the server's CPU share of that time."""
    counts = Counts()
    cpu_before = _cpu_seconds(pid)
    start = trio.current_time()
    async with trio.open_nursery() as nursery:
        for _ in range(connections):
            nursery.start_soon(_worker, port, request, start + seconds, counts)
    elapsed = trio.current_time() - start
    cpu = (_cpu_seconds(pid) - cpu_before) / elapsed
    return Counts(round(counts.requests / elapsed), round(counts.events / elapsed), cpu)


async def _burst(port: int, request: bytes, connections: int) -> tuple[int, list[str]]:
    """`connections` connections opened at the same moment, one request each, all held
    open until every one is answered: how many were answered, and what failed."""
    answered = 0
    failures: list[str] = []
    all_done = trio.Event()
    pending = connections

    async def one() -> None:
        nonlocal answered, pending
        try:
            stream = await trio.open_tcp_stream("127.0.0.1", port)
            async with stream:
                await stream.send_all(request)
                response = await _read_response(stream, bytearray())
                if response.startswith(b"HTTP/1.1 200"):
                    answered += 1
                else:
                    failures.append(f"answer {response[:40]!r}")
                pending -= 1
                if not pending:
                    all_done.set()
                await all_done.wait()  # every connection stays open until all are answered
        except (OSError, ConnectionError, trio.BrokenResourceError) as exc:
            failures.append(f"{type(exc).__name__}: {exc}")
            pending -= 1
            if not pending:
                all_done.set()

    with trio.fail_after(120):
        async with trio.open_nursery() as nursery:
            for _ in range(connections):
                nursery.start_soon(one)
    return answered, failures


def _report(name: str, unit: str, values: list[int], cpu: list[float], target: str) -> None:
    median_cpu = statistics.median(cpu)
    per_cpu = (
        f", {statistics.median(values) / median_cpu:,.0f} per server CPU-second"
        if median_cpu
        else ""
    )
    print(
        f"{name}: median {statistics.median(values):,.0f} {unit}/s"
        f" (runs: {', '.join(f'{v:,}' for v in values)}; target {target})"
        f"; server busy {median_cpu:.0%} of one core{per_cpu}"
    )


def _start_server(profile: str | None = None) -> tuple[subprocess.Popen[str], int]:
    command = [sys.executable, "-m", "llm_router_testing.cli", "serve", "--port", "0"]
    if profile:  # the server under pyinstrument: it writes its profile when interrupted
        command[1:3] = [str(Path(__file__).with_name("_profiled_fake.py")), profile]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    line = process.stdout.readline()
    if "listening on" not in line:
        process.kill()
        raise RuntimeError(f"the fake server did not start: {line!r}")
    return process, int(line.rsplit(":", 1)[1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="length of each run")
    parser.add_argument("--runs", type=int, default=3, help="runs per measurement")
    parser.add_argument("--connections", type=int, default=16, help="concurrent connections")
    parser.add_argument(
        "--burst", type=int, default=1000, help="connections opened at once (none may fail)"
    )
    parser.add_argument(
        "--profile", metavar="PATH", help="profile the server (pyinstrument text) into PATH"
    )
    args = parser.parse_args()

    began = time.perf_counter()
    process, port = _start_server(args.profile)
    print(f"fake server up in {time.perf_counter() - began:.2f} s (process start included)")
    host = f"127.0.0.1:{port}"
    chat = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hello bench"}]}
    plain = _request(host, "/v1/chat/completions", chat)
    answer = " ".join(f"w{i}" for i in range(WORDS))
    streamed = _request(
        host, "/v1/chat/completions", {**chat, "stream": True}, f"x-fake-answer: {answer}\r\n"
    )
    measure = partial(
        _measure, process.pid, port, seconds=args.seconds, connections=args.connections
    )
    try:
        rates = [trio.run(partial(measure, plain)) for _ in range(args.runs)]
        streams = (
            [] if args.profile else [trio.run(partial(measure, streamed)) for _ in range(args.runs)]
        )
        burst = None if args.profile else trio.run(_burst, port, plain, args.burst)
    finally:
        if args.profile:
            process.send_signal(signal.SIGINT)
        else:
            process.terminate()
        process.wait(timeout=60)
    if args.profile:
        print(f"server profile of {args.runs} non-streaming runs written to {args.profile}")
        return 0
    _report(
        "non-streaming",
        "requests",
        [r.requests for r in rates],
        [r.server_cpu for r in rates],
        ">= 1,500",
    )
    _report(
        f"streaming ({WORDS + 4} events per answer)",
        "events",
        [r.events for r in streams],
        [r.server_cpu for r in streams],
        ">= 50,000",
    )
    assert burst is not None
    answered, failures = burst
    print(
        f"{args.burst} connections opened at once, one request each: {answered} answered, "
        f"{len(failures)} refused or failed (target: none)"
        + "".join(f"\n  {failure}" for failure in sorted(set(failures))[:5])
    )
    print(f"load average during the runs: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    return 0


if __name__ == "__main__":
    sys.exit(main())
