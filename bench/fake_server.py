"""Throughput of one fake-server process: non-streamed requests/s and streamed events/s.

The server runs as `llm-router-fake serve --fast-http1` in a subprocess (the fake's own
HTTP/1.1 listener); beside it, as the baseline measured in the same run, the same app on
hypercorn, the fake's default server (`llm-router-fake serve`). The load is raw HTTP/1.1
over keep-alive loopback connections on Trio sockets, so the client's own overhead stays
small: from this process (the original method), and from `--clients` processes at once,
since one client process, not the server, can be the limit. Runs alternate between the two
servers; each lasts a fixed time; medians are printed, with the server's requests per second
of its own CPU (the figure that does not depend on what else shares the cores) and the
client's CPU per request.

    .venv/bin/python bench/fake_server.py [--seconds 3] [--runs 3] [--connections 16] [--clients 2]

Not run by the test suite.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
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
    server_cpu: float = 0.0  # the server's CPU during the run, as a share of one core
    client_cpu: float = 0.0  # seconds of CPU the load generator(s) used


def _client_cpu() -> float:
    """User + system CPU of this process so far (the load generator's own cost)."""
    usage = os.times()
    return usage.user + usage.system


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
    cpu_before, client_before = _cpu_seconds(pid), _client_cpu()
    start = trio.current_time()
    async with trio.open_nursery() as nursery:
        for _ in range(connections):
            nursery.start_soon(_worker, port, request, start + seconds, counts)
    elapsed = trio.current_time() - start
    cpu = (_cpu_seconds(pid) - cpu_before) / elapsed
    client = _client_cpu() - client_before
    return Counts(
        round(counts.requests / elapsed), round(counts.events / elapsed), cpu, client / elapsed
    )


def _client_process(argv: list[str]) -> int:
    """`--client-process PORT START SECONDS CONNECTIONS REQUEST_FILE`: one load generator of
    several, starting at the wall-clock moment START; prints its counts as JSON."""
    port, start, seconds, connections, request_file = argv
    request = Path(request_file).read_bytes()
    time.sleep(max(0.0, float(start) - time.time()))
    counts = Counts()
    client_before = _client_cpu()

    async def load() -> None:
        deadline = trio.current_time() + float(seconds)
        async with trio.open_nursery() as nursery:
            for _ in range(int(connections)):
                nursery.start_soon(_worker, int(port), request, deadline, counts)

    trio.run(load)
    counts.client_cpu = _client_cpu() - client_before
    print(orjson.dumps(asdict(counts)).decode(), flush=True)
    return 0


def _measure_processes(
    pid: int, port: int, request: bytes, *, seconds: float, connections: int, clients: int
) -> Counts:
    """`_measure` with the connections spread over `clients` load-generator processes that
    start together (after their interpreters are up) and run for `seconds`."""
    with tempfile.NamedTemporaryFile(suffix=".http") as request_file:
        request_file.write(request)
        request_file.flush()
        start = time.time() + 1.0
        share = [connections // clients + (i < connections % clients) for i in range(clients)]
        processes = [
            subprocess.Popen(
                [
                    sys.executable,
                    __file__,
                    "--client-process",
                    str(port),
                    str(start),
                    str(seconds),
                    str(n),
                    request_file.name,
                ],
                stdout=subprocess.PIPE,
                text=True,
            )
            for n in share
        ]
        time.sleep(max(0.0, start - time.time()))
        cpu_before = _cpu_seconds(pid)
        time.sleep(seconds)
        cpu = _cpu_seconds(pid) - cpu_before
        outputs = [process.communicate(timeout=60)[0] for process in processes]
    results = [Counts(**orjson.loads(output)) for output in outputs]
    return Counts(
        round(sum(r.requests for r in results) / seconds),
        round(sum(r.events for r in results) / seconds),
        cpu / seconds,
        sum(r.client_cpu for r in results) / seconds,
    )


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


def _report(name: str, unit: str, runs: list[Counts], target: str) -> float:
    """One line of medians; returns the median per server CPU-second."""
    values = [r.events if unit == "events" else r.requests for r in runs]
    median = statistics.median(values)
    busy = statistics.median(r.server_cpu for r in runs)
    per_cpu = statistics.median(
        (r.events if unit == "events" else r.requests) / r.server_cpu for r in runs if r.server_cpu
    )
    client = statistics.median(
        r.client_cpu / (r.events if unit == "events" else r.requests) * 1e6
        for r in runs
        if r.requests
    )
    print(
        f"  {name}: median {median:,.0f} {unit}/s"
        f" (runs: {', '.join(f'{v:,}' for v in values)}; target {target})"
        f"; server busy {busy:.0%} of one core, {per_cpu:,.0f} per server CPU-second"
        f"; client {client:,.1f} us CPU per {unit[:-1]}"
    )
    return per_cpu


def _start_server(
    profile: str | None = None, *, hypercorn: bool = False, cpu: bool = False
) -> tuple[subprocess.Popen[str], int]:
    command = [sys.executable, "-m", "llm_router_testing.cli", "serve", "--port", "0"]
    if not hypercorn:
        command.append("--fast-http1")
    if profile or hypercorn:  # see _profiled_fake.py: profiled, or on hypercorn's HTTP/1.1
        options = (["--profile", profile] if profile else []) + (
            ["--hypercorn"] if hypercorn else []
        )
        options += ["--cpu"] if cpu else []
        command[1:3] = [str(Path(__file__).with_name("_profiled_fake.py")), *options]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    line = process.stdout.readline()
    if "listening on" not in line:
        process.kill()
        raise RuntimeError(f"the fake server did not start: {line!r}")
    return process, int(line.rsplit(":", 1)[1])


def _stop(process: subprocess.Popen[str], *, interrupt: bool = False) -> None:
    if interrupt:
        process.send_signal(signal.SIGINT)
    else:
        process.terminate()
    process.wait(timeout=60)


def main() -> int:
    if sys.argv[1:2] == ["--client-process"]:
        return _client_process(sys.argv[2:])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="length of each run")
    parser.add_argument("--runs", type=int, default=3, help="runs per measurement")
    parser.add_argument("--connections", type=int, default=16, help="concurrent connections")
    parser.add_argument(
        "--clients", type=int, default=2, help="load-generator processes of the second method"
    )
    parser.add_argument(
        "--burst", type=int, default=1000, help="connections opened at once (none may fail)"
    )
    parser.add_argument(
        "--profile",
        metavar="PATH",
        help="profile the server (pyinstrument text) into PATH; no baseline, no other output",
    )
    parser.add_argument(
        "--profile-hypercorn", action="store_true", help="with --profile: profile the baseline"
    )
    parser.add_argument(
        "--cpu", action="store_true", help="with --profile: cProfile in CPU time, not wall time"
    )
    args = parser.parse_args()

    began = time.perf_counter()
    process, port = _start_server(args.profile, hypercorn=args.profile_hypercorn, cpu=args.cpu)
    print(f"fake server up in {time.perf_counter() - began:.2f} s (process start included)")
    host = f"127.0.0.1:{port}"
    chat = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hello bench"}]}
    plain = _request(host, "/v1/chat/completions", chat)
    answer = " ".join(f"w{i}" for i in range(WORDS))
    streamed = _request(
        host, "/v1/chat/completions", {**chat, "stream": True}, f"x-fake-answer: {answer}\r\n"
    )
    if args.profile:
        try:
            for _ in range(args.runs):
                trio.run(
                    partial(
                        _measure,
                        process.pid,
                        port,
                        plain,
                        seconds=args.seconds,
                        connections=args.connections,
                    )
                )
        finally:
            _stop(process, interrupt=True)
        print(f"server profile of {args.runs} non-streaming runs written to {args.profile}")
        return 0

    baseline, baseline_port = _start_server(hypercorn=True)
    servers = {
        "own HTTP/1.1 (--fast-http1)": (process, port),
        "hypercorn (default)": (baseline, baseline_port),
    }
    methods = {
        "1 client process (the original method)": 1,
        f"{args.clients} client processes": args.clients,
    }
    plain_runs: dict[tuple[str, str], list[Counts]] = {}
    stream_runs: dict[str, list[Counts]] = {}

    def measure(server: str, clients: int, request: bytes) -> Counts:
        pid, server_port = servers[server][0].pid, servers[server][1]
        request = request.replace(host.encode(), f"127.0.0.1:{server_port}".encode())
        if clients == 1:
            return trio.run(
                partial(
                    _measure,
                    pid,
                    server_port,
                    request,
                    seconds=args.seconds,
                    connections=args.connections,
                )
            )
        return _measure_processes(
            pid,
            server_port,
            request,
            seconds=args.seconds,
            connections=args.connections,
            clients=clients,
        )

    try:
        for _ in range(args.runs):  # alternate: every method and server once per round
            for method, clients in methods.items():
                for server in servers:
                    plain_runs.setdefault((method, server), []).append(
                        measure(server, clients, plain)
                    )
            for server in servers:
                stream_runs.setdefault(server, []).append(measure(server, 1, streamed))
        burst = trio.run(_burst, port, plain, args.burst)
    finally:
        _stop(process)
        _stop(baseline)

    print(
        f"non-streaming, {args.connections} keep-alive connections, {args.runs} runs of {args.seconds:g} s:"
    )
    for method in methods:
        print(f" {method}:")
        per_cpu = {
            server: _report(server, "requests", plain_runs[method, server], ">= 1,500")
            for server in servers
        }
        new, old = (statistics.median(r.requests for r in plain_runs[method, s]) for s in servers)
        ratio_cpu = per_cpu["own HTTP/1.1 (--fast-http1)"] / per_cpu["hypercorn (default)"]
        print(
            f"  ratio to the baseline: {new / old:.2f}x wall, {ratio_cpu:.2f}x per server CPU-second"
        )
    print(f"streaming ({WORDS + 4} events per answer), 1 client process:")
    for server in servers:
        _report(server, "events", stream_runs[server], ">= 50,000")
    answered, failures = burst
    print(
        f"{args.burst} connections opened at once, one request each: {answered} answered, "
        f"{len(failures)} refused or failed (target: none)"
        + "".join(f"\n  {failure}" for failure in sorted(set(failures))[:5])
    )
    print(
        f"load average during the runs: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores"
        " (the server, the baseline and the load generators share them)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
