"""Helpers shared by the benchmarks: server processes (and their CPU time), a raw-socket HTTP
upstream, closed- and open-loop loads, percentiles, tables (terminal and Markdown), CDF plots."""

from __future__ import annotations

import math
import os
import subprocess
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Self

import trio

__all__ = [
    "ServerProcess",
    "closed_loop",
    "markdown_table",
    "open_loop",
    "percentile",
    "process_cpu_seconds",
    "save_cdf_plot",
    "serve_http_upstream",
    "text_table",
]


class ServerProcess:
    """A server in a process of its own (another core than the measured client's), which
    prints one line ending in its URL once it listens; terminated on leaving the block."""

    def __init__(self, args: Sequence[str], name: str) -> None:
        self._args = list(args)
        self.pid = 0
        self._name = name
        self.url = ""
        self._process: trio.Process | None = None

    async def __aenter__(self) -> Self:
        self._process = await trio.lowlevel.open_process(self._args, stdout=subprocess.PIPE)
        self.pid = self._process.pid
        assert self._process.stdout is not None
        line = b""
        while not line.endswith(b"\n"):
            chunk = await self._process.stdout.receive_some(1)
            if not chunk:
                raise RuntimeError(f"{self._name} exited before listening")
            line += chunk
        self.url = line.decode().rsplit(" ", 1)[-1].strip()
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._process is not None
        self._process.terminate()
        with trio.CancelScope(shield=True):
            await self._process.wait()


async def serve_http_upstream(
    respond: Callable[[trio.SocketStream, bytes], Awaitable[None]],
) -> None:
    """A minimal HTTP/1.1 upstream on a free loopback port: prints the line ending in its URL
    (what `ServerProcess` waits for), then reads requests with `content-length` bodies off
    each keep-alive connection and lets `respond(stream, body)` write each answer. Raw
    sockets, so the upstream costs as little CPU as possible next to what is measured."""

    async def handle(stream: trio.SocketStream) -> None:
        buffer = b""
        try:
            while True:
                while b"\r\n\r\n" not in buffer:
                    data = await stream.receive_some(65536)
                    if not data:
                        return
                    buffer += data
                header, _, rest = buffer.partition(b"\r\n\r\n")
                length = 0
                for line in header.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                while len(rest) < length:
                    data = await stream.receive_some(65536)
                    if not data:
                        return
                    rest += data
                body, buffer = rest[:length], rest[length:]
                await respond(stream, body)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            return

    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1", backlog=4096)
    port = listeners[0].socket.getsockname()[1]
    print(f"listening on http://127.0.0.1:{port}", flush=True)
    await trio.serve_listeners(handle, listeners)


async def closed_loop(
    call: Callable[[], Awaitable[object]], requests: int, concurrency: int
) -> list[float]:
    """`requests` calls of `call`, `concurrency` of them in flight at all times (each worker
    starts the next as soon as its last one returns); the latency of each, in seconds, in
    the order they finished."""
    latencies: list[float] = []
    remaining = requests

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            started = time.perf_counter()
            await call()
            latencies.append(time.perf_counter() - started)

    async with trio.open_nursery() as nursery:
        for _ in range(concurrency):
            nursery.start_soon(worker)
    return latencies


async def open_loop(
    call: Callable[[], Awaitable[object]], requests: int, rate: float
) -> list[float]:
    """`requests` calls of `call` started at `rate` per second on a fixed schedule, however
    many are still in flight; the latency of each, in seconds, measured from the time it was
    scheduled to start (not from when it did), so a sender held up by a busy process counts
    the wait against the calls it delayed instead of leaving them out (no coordinated
    omission). Unlike `closed_loop`, the offered load is the same whatever the answers' speed."""
    latencies: list[float] = []
    interval = 1.0 / rate

    async def one(scheduled: float) -> None:
        await call()
        latencies.append(trio.current_time() - scheduled)

    async with trio.open_nursery() as nursery:
        start = trio.current_time()
        for index in range(requests):
            scheduled = start + index * interval
            await trio.sleep_until(scheduled)
            nursery.start_soon(one, scheduled)
    return latencies


def process_cpu_seconds(pid: int) -> float | None:
    """CPU seconds (user + system) process `pid` has used so far, from /proc (None where
    there is no /proc): how the benchmarks charge a server process of their own."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(sorted_values: Sequence[float], p: float) -> float:
    """The nearest-rank `p`-th percentile (0 < p <= 100) of already sorted values."""
    if not sorted_values:
        raise ValueError("no values")
    if not 0 < p <= 100:
        raise ValueError(f"percentile must be in (0, 100], got {p!r}")
    rank = math.ceil(p / 100 * len(sorted_values))
    return sorted_values[max(rank, 1) - 1]


def text_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns padded to their widest cell; the first column left-aligned, the rest right."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=True)]

    def line(cells: Sequence[str]) -> str:
        padded = [
            cell.ljust(width) if index == 0 else cell.rjust(width)
            for index, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(padded)

    rule = "  ".join("-" * width for width in widths)
    return "\n".join([line(headers), rule, *(line(row) for row in rows)])


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub-flavoured Markdown table; numeric columns (all but the first) right-aligned."""
    align = [":---", *["---:"] * (len(headers) - 1)]
    lines = [headers, align, *rows]
    return "\n".join("| " + " | ".join(cells) + " |" for cells in lines)


def save_cdf_plot(
    panels: Mapping[str, Mapping[str, Sequence[float]]], path: Path, *, title: str, xlabel: str
) -> None:
    """Empirical CDFs on a log x axis, as a PNG: one panel per entry of `panels`, one line
    per named series of sorted values in it."""
    import matplotlib

    matplotlib.use("Agg")  # no display: write files only
    import matplotlib.pyplot as plt

    figure, axes_row = plt.subplots(
        1, len(panels), figsize=(7 * len(panels), 5), dpi=120, sharex=True, squeeze=False
    )
    for axes, (panel, series) in zip(axes_row[0], panels.items(), strict=True):
        for name, values in series.items():
            count = len(values)
            axes.step(values, [(i + 1) / count for i in range(count)], where="post", label=name)
        axes.set_xscale("log")
        axes.set_xlabel(xlabel)
        axes.set_ylabel("fraction of requests")
        axes.set_title(panel)
        axes.set_ylim(0, 1.005)
        axes.grid(True, which="both", alpha=0.3)
        axes.legend(loc="lower right")
    figure.suptitle(title)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
