"""Memory of many streams open at once through one router.

A tiny upstream (raw HTTP/1.1 on Trio sockets, in a process of its own) answers every POST
with a 100-event Anthropic Messages stream in two halves: the first half at once, the second
only once `--streams` streams have all had their first half, and `--hold` seconds more. The
client opens `--streams` translated streams (OpenAI Chat caller, Anthropic route) through one
router at the same time, each reading events until it has its first one; when every stream is
open (one connection each), the client's resident set (VmRSS of /proc/self/status) is read,
and then every stream is read to its end. Printed: RSS before the router, with the router
open, with every stream open, the peak (VmHWM), per-stream cost, and how many streams
failed or came back short.

    .venv/bin/python bench/memory.py [--streams 1000] [--hold 2]

Writes bench/results/memory.txt. Not run by the test suite.
"""

from __future__ import annotations

import argparse
import sys
import time
import tracemalloc
from pathlib import Path

import httpx
import orjson
import trio
from _util import ServerProcess, serve_http_upstream
from stream_floor import EVENTS, MODEL, anthropic_events

RESULTS = Path(__file__).parent / "results"
ROOT = Path(__file__).resolve().parent.parent
CHAT = orjson.dumps(
    {"model": MODEL, "messages": [{"role": "user", "content": "hello"}], "stream": True}
)
TARGET_MB = 100


def rss_mb(field: str = "VmRSS") -> float:
    """This process's resident set (or its peak, VmHWM) in MB (Linux /proc)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


# -- the upstream (run with --serve-upstream in its own process) ----------------------------------
async def serve_upstream(streams: int, hold: float) -> None:
    events = anthropic_events()
    body = b"".join(events)
    head = (
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
        b"content-length: " + str(len(body)).encode() + b"\r\n\r\n"
    )
    half = len(events) // 2
    first, second = head + b"".join(events[:half]), b"".join(events[half:])
    waiting = 0
    released = trio.Event()

    async def release_later() -> None:
        await trio.sleep(hold)
        released.set()

    async def respond(stream: trio.SocketStream, _request: bytes) -> None:
        nonlocal waiting, released
        await stream.send_all(first)
        waiting += 1
        if waiting == streams:
            waiting = 0
            nursery.start_soon(release_later)
        event = released
        await event.wait()
        if released is event:
            released = trio.Event()  # the next batch waits again
        await stream.send_all(second)

    async with trio.open_nursery() as nursery:
        await serve_http_upstream(respond)


async def main_async(args: argparse.Namespace) -> str:
    before = rss_mb()
    if args.tracemalloc:
        tracemalloc.start()
    top: list[tracemalloc.Statistic] = []
    from llm_router import AnthropicProvider, Router

    limits = httpx.Limits(max_connections=args.streams, max_keepalive_connections=args.streams)
    command = [sys.executable, __file__, "--serve-upstream", str(args.streams), str(args.hold)]
    failures: list[str] = []
    short = 0
    opened = 0
    all_open = trio.Event()
    async with ServerProcess(command, "the bench upstream") as upstream:
        builder = Router.builder().with_limits(limits)
        builder.add_provider("up", AnthropicProvider(base_url=upstream.url))
        builder.add_api_key("up", "sk-bench")
        builder.add_model_route(MODEL, "up", "claude-bench")
        async with builder.build() as router:
            router_open = rss_mb()

            async def one() -> None:
                nonlocal opened, short
                events = 0
                try:
                    async with router.stream(CHAT, "openai") as stream:
                        async for _ in stream:
                            events += 1
                            if events == 1:
                                opened += 1
                                if opened == args.streams:
                                    all_open.set()
                except Exception as exc:
                    failures.append(f"{type(exc).__name__}: {exc}")
                    if not events:
                        opened += 1  # counted, so that the others are not kept waiting
                        if opened == args.streams:
                            all_open.set()
                    return
                # OpenAI chunks: the role chunk, a chunk per text delta, the finish chunk(s)
                # and [DONE]; far fewer than that is a stream cut short.
                if events < EVENTS - 10:
                    short += 1

            started = time.perf_counter()
            async with trio.open_nursery() as nursery:
                for _ in range(args.streams):
                    nursery.start_soon(one)
                await all_open.wait()
                open_seconds = time.perf_counter() - started
                streams_open = rss_mb()
                if args.tracemalloc:
                    top = tracemalloc.take_snapshot().statistics("lineno")[: args.tracemalloc]
            total_seconds = time.perf_counter() - started
            pool = router.statistics()
    peak = rss_mb("VmHWM")
    per_stream_kb = (streams_open - router_open) * 1024 / args.streams
    ok = not failures and not short and peak <= TARGET_MB
    lines = [
        f"{args.streams} translated streams (OpenAI caller, Anthropic upstream, {EVENTS} events "
        f"each) open at once through one router; Python {sys.version.split()[0]}",
        f"RSS before importing llm_router: {before:.1f} MB",
        f"RSS with the router open:        {router_open:.1f} MB",
        f"RSS with every stream open:      {streams_open:.1f} MB "
        f"({per_stream_kb:.0f} KB per open stream)",
        f"peak RSS (VmHWM):                {peak:.1f} MB (target <= {TARGET_MB} MB)",
        f"every stream open after {open_seconds:.2f} s, all read to the end after "
        f"{total_seconds:.2f} s",
        f"failed streams: {len(failures)}; short streams: {short}",
        *(f"  {failure}" for failure in sorted(set(failures))[:5]),
        f"router statistics after: {pool}",
        f"target (<= {TARGET_MB} MB peak, no failed stream): {'met' if ok else 'MISSED'}",
    ]
    if top:
        root = str(ROOT)
        lines += ["", "Python allocations live with every stream open (tracemalloc, by line):"]
        lines += [f"  {str(stat).replace(root, '.')}" for stat in top]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--hold", type=float, default=2.0, help="seconds every stream stays open")
    parser.add_argument(
        "--tracemalloc", type=int, default=0, metavar="N", help="list the N largest allocators"
    )
    parser.add_argument(
        "--serve-upstream", nargs=2, metavar=("STREAMS", "HOLD"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.serve_upstream:
        trio.run(serve_upstream, int(args.serve_upstream[0]), float(args.serve_upstream[1]))
        return
    text = trio.run(main_async, args)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "memory.txt").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
