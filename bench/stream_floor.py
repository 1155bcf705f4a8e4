"""Translated streams through the router against the raw-httpx floor, on the same upstream.

A tiny upstream (raw HTTP/1.1 on Trio sockets, in a process of its own) answers every POST
with the same pre-rendered Anthropic Messages stream of 100 events. Two clients read it, one
after the other in each round, in this process:

- floor: `httpx.AsyncClient.stream` and a bare SSE split (`\\n\\n` boundaries, no JSON);
- router: an OpenAI Chat Completions caller through `Router.stream` to an Anthropic route,
  so every event is decoded, translated and re-serialised.

Each round runs `--streams` streams at `--concurrency` (default 32) for each client; rounds
alternate the clients so that the load of a shared machine hits both alike. Printed: median
upstream events/s, median time to first event (under the load, and with one stream at a
time), CPU per event of this process, and the router/floor ratios. Two upstream shapes: the whole stream in one write (a fast upstream:
the client's cost per event dominates) and one event per write (a client read per event).

    .venv/bin/python bench/stream_floor.py [--rounds 5] [--streams 320] [--concurrency 32]

`--cost` splits each client's CPU per stream, one stream at a time, into a fixed part and a
part per event (streams of 6 and of 100 events: the slope and the intercept), into
results/stream_cost.txt.

Not run by the test suite.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import orjson
import trio
from _util import ServerProcess, serve_http_upstream, text_table

EVENTS = 100  # upstream events per stream
MODEL = "bench-model"
CHAT = orjson.dumps(
    {"model": MODEL, "messages": [{"role": "user", "content": "hello"}], "stream": True}
)
ANTHROPIC = orjson.dumps(
    {
        "model": "claude-bench",
        "max_tokens": 256,
        "stream": True,
        "messages": [{"role": "user", "content": "hello"}],
    }
)
RESULTS = Path(__file__).parent / "results"
LIMITS = httpx.Limits(max_connections=256, max_keepalive_connections=256)


def anthropic_events(count: int = EVENTS) -> list[bytes]:
    """One Anthropic Messages stream of exactly `count` SSE events, each framed."""

    def frame(kind: str, data: dict[str, object]) -> bytes:
        return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"

    deltas = count - 5
    usage = {"input_tokens": 12, "output_tokens": 1}
    message = {
        "id": "msg_bench",
        "type": "message",
        "role": "assistant",
        "model": "claude-bench",
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": usage,
    }
    events = [
        frame("message_start", {"type": "message_start", "message": message}),
        frame(
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            },
        ),
    ]
    for index in range(deltas):
        delta = {"type": "text_delta", "text": f"word{index} "}
        events.append(
            frame(
                "content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta}
            )
        )
    events += [
        frame("content_block_stop", {"type": "content_block_stop", "index": 0}),
        frame(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": deltas},
            },
        ),
        frame("message_stop", {"type": "message_stop"}),
    ]
    assert len(events) == count
    return events


# -- the upstream (run with --serve-upstream in its own process) ----------------------------------
async def serve_upstream(events_per_write: int, count: int = EVENTS) -> None:
    events = anthropic_events(count)
    body = b"".join(events)
    head = (
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
        b"content-length: " + str(len(body)).encode() + b"\r\n\r\n"
    )
    if events_per_write <= 0:
        writes = [head + body]
    else:
        groups = [
            b"".join(events[i : i + events_per_write])
            for i in range(0, len(events), events_per_write)
        ]
        writes = [head + groups[0], *groups[1:]]

    async def respond(stream: trio.SocketStream, _request: bytes) -> None:
        for write in writes:
            await stream.send_all(write)

    await serve_http_upstream(respond)


def upstream_process(events_per_write: int, count: int = EVENTS) -> ServerProcess:
    """The upstream in a subprocess of its own (another core than the clients')."""
    command = [sys.executable, __file__, "--serve-upstream", str(events_per_write)]
    command += ["--upstream-events", str(count)]
    return ServerProcess(command, "the bench upstream")


# -- the two clients ------------------------------------------------------------------------------
#: One stream: returns (seconds to first event, events seen).
StreamOnce = Callable[[], Awaitable[tuple[float, int]]]


def floor_client(client: httpx.AsyncClient, url: str) -> StreamOnce:
    headers = {"x-api-key": "sk-bench", "anthropic-version": "2023-06-01"}

    async def once() -> tuple[float, int]:
        started = time.perf_counter()
        first = 0.0
        events = 0
        async with client.stream(
            "POST", url + "/v1/messages", content=ANTHROPIC, headers=headers
        ) as r:
            pending = b""
            async for chunk in r.aiter_raw():
                pending += chunk
                *complete, pending = pending.split(b"\n\n")
                if complete and not events:
                    first = time.perf_counter() - started
                events += len(complete)
        return first, events

    return once


def router_client(router: object) -> StreamOnce:
    from llm_router import Router

    assert isinstance(router, Router)

    async def once() -> tuple[float, int]:
        started = time.perf_counter()
        first = 0.0
        events = 0
        async with router.stream(CHAT, "openai") as stream:
            async for _ in stream:
                if not events:
                    first = time.perf_counter() - started
                events += 1
        return first, events

    return once


@dataclass
class Run:
    seconds: float
    cpu_seconds: float
    first_events: list[float]
    delivered: int

    @property
    def events_per_second(self) -> float:
        return len(self.first_events) * EVENTS / self.seconds

    @property
    def cpu_per_event(self) -> float:
        return self.cpu_seconds / (len(self.first_events) * EVENTS)


async def load(once: StreamOnce, streams: int, concurrency: int) -> Run:
    first_events: list[float] = []
    delivered = 0
    remaining = streams

    async def worker() -> None:
        nonlocal remaining, delivered
        while remaining > 0:
            remaining -= 1
            first, events = await once()
            first_events.append(first)
            delivered += events

    started, cpu_started = time.perf_counter(), time.process_time()
    async with trio.open_nursery() as nursery:
        for _ in range(concurrency):
            nursery.start_soon(worker)
    return Run(
        time.perf_counter() - started, time.process_time() - cpu_started, first_events, delivered
    )


async def run_litellm(shape: Shape, url: str, args: argparse.Namespace) -> None:
    """LiteLLM on the same upstream, in its own interpreter (asyncio), after the others."""
    script = str(Path(__file__).with_name("_litellm_stream.py"))
    command = [args.litellm_python, script, url, str(args.streams), str(args.concurrency)]
    command += [str(args.rounds), str(args.alone)]
    done = await trio.run_process(command, capture_stdout=True, check=False)
    if done.returncode != 0:
        print(f"LiteLLM run failed (exit {done.returncode}); its rows are left out")
        return
    for line in done.stdout.decode().splitlines():
        if not line.startswith("{"):  # LiteLLM prints notices of its own
            continue
        row = orjson.loads(line)
        shape.litellm.append(Run(row["seconds"], row["cpu_seconds"], row["first_events"], 0))
        shape.litellm_alone.append(Run(0.0, 0.0, row["first_events_alone"], 0))


@dataclass
class Shape:
    name: str
    floor: list[Run]
    router: list[Run]
    floor_alone: list[Run]  # one stream at a time: time to first event without queueing
    router_alone: list[Run]
    litellm: list[Run] = field(default_factory=list)
    litellm_alone: list[Run] = field(default_factory=list)


def _median(runs: list[Run], value: Callable[[Run], float]) -> float:
    return statistics.median(value(run) for run in runs)


async def measure(events_per_write: int, name: str, args: argparse.Namespace) -> Shape:
    from llm_router import AnthropicProvider, Router

    shape = Shape(name, [], [], [], [])
    async with (
        upstream_process(events_per_write) as upstream,
        httpx.AsyncClient(limits=LIMITS, timeout=30) as client,
    ):
        builder = Router.builder().with_limits(LIMITS)
        builder.add_provider("up", AnthropicProvider(base_url=upstream.url))
        builder.add_api_key("up", "sk-bench")
        builder.add_model_route(MODEL, "up", "claude-bench")
        async with builder.build() as router:
            floor, ours = floor_client(client, upstream.url), router_client(router)
            await load(floor, args.concurrency, args.concurrency)  # warm both pools
            await load(ours, args.concurrency, args.concurrency)
            for _ in range(args.rounds):
                shape.floor.append(await load(floor, args.streams, args.concurrency))
                shape.router.append(await load(ours, args.streams, args.concurrency))
                shape.floor_alone.append(await load(floor, args.alone, 1))
                shape.router_alone.append(await load(ours, args.alone, 1))
        if args.litellm_python:
            await run_litellm(shape, upstream.url, args)
    return shape


def report(shapes: list[Shape], args: argparse.Namespace) -> str:
    headers = [
        "upstream writes",
        "client",
        "events/s",
        "first event p50",
        "CPU µs/event",
        "events/s vs floor",
        "first event vs floor",
        "first event alone",
        "alone vs floor",
    ]
    rows = []
    for shape in shapes:
        floor_rate = _median(shape.floor, lambda r: r.events_per_second)
        floor_first = _median(shape.floor, lambda r: statistics.median(r.first_events))
        floor_alone = _median(shape.floor_alone, lambda r: statistics.median(r.first_events))
        clients = [
            ("raw httpx floor", shape.floor, shape.floor_alone),
            ("llm-router", shape.router, shape.router_alone),
        ]
        if shape.litellm:
            clients.append(("LiteLLM", shape.litellm, shape.litellm_alone))
        for client, runs, alone_runs in clients:
            rate = _median(runs, lambda r: r.events_per_second)
            first = _median(runs, lambda r: statistics.median(r.first_events))
            cpu = _median(runs, lambda r: r.cpu_per_event)
            alone = _median(alone_runs, lambda r: statistics.median(r.first_events))
            rows.append(
                [
                    shape.name,
                    client,
                    f"{rate:,.0f}",
                    f"{first * 1000:.1f} ms",
                    f"{cpu * 1e6:.1f}",
                    f"{rate / floor_rate:.2f}x",
                    f"{first / floor_first:.2f}x",
                    f"{alone * 1000:.2f} ms",
                    f"{alone / floor_alone:.2f}x",
                ]
            )
    title = (
        f"{args.rounds} rounds x {args.streams} streams of {EVENTS} upstream events, "
        f"concurrency {args.concurrency}; medians over rounds (first event: median per round; "
        f"alone: {args.alone} streams one at a time per round)"
    )
    lines = [title, text_table(headers, rows)]
    for shape in shapes:
        if shape.litellm:
            ours = _median(shape.router, lambda r: r.events_per_second)
            theirs = _median(shape.litellm, lambda r: r.events_per_second)
            lines.append(f"{shape.name}: llm-router events/s = {ours / theirs:.1f}x LiteLLM's")
    return "\n".join(lines)


async def profile(args: argparse.Namespace) -> str:
    """Profile the router client alone (pyinstrument, wall-clock samples of this thread)."""
    from pyinstrument import Profiler

    from llm_router import AnthropicProvider, Router

    async with upstream_process(0) as upstream:
        builder = Router.builder().with_limits(LIMITS)
        builder.add_provider("up", AnthropicProvider(base_url=upstream.url))
        builder.add_api_key("up", "sk-bench")
        builder.add_model_route(MODEL, "up", "claude-bench")
        async with builder.build() as router:
            ours = router_client(router)
            await load(ours, args.concurrency, args.concurrency)
            profiler = Profiler(interval=0.0005, async_mode="disabled")
            profiler.start()
            run = await load(ours, args.streams, args.concurrency)
            profiler.stop()
    header = (
        f"pyinstrument profile: llm-router client, {args.streams} translated streams "
        f"(Anthropic upstream, whole stream per write, OpenAI caller) of {EVENTS} events at "
        f"concurrency {args.concurrency}: {run.events_per_second:,.0f} events/s, "
        f"{run.cpu_per_event * 1e6:.1f} µs CPU/event\n\n"
    )
    text = profiler.output_text(unicode=True, color=False, show_all=False)
    # The "Profile at <absolute path>" line names this machine's checkout: leave it out.
    return header + "\n".join(
        line for line in text.splitlines() if not line.startswith("Profile at")
    )


async def by_level(args: argparse.Namespace) -> str:
    """Whole-stream writes at each of `--levels`: events/s per client, for bench/plot.py."""
    summary: dict[str, dict[int, float]] = {}
    for level in (int(x) for x in args.levels.split(",")):
        level_args = argparse.Namespace(**vars(args))
        level_args.concurrency = level
        level_args.streams = max(100, 10 * level)
        level_args.alone = 0  # no one-at-a-time streams: throughput only
        shape = await measure(0, "whole stream", level_args)
        for client, runs in (
            ("raw httpx floor", shape.floor),
            ("llm-router", shape.router),
            ("LiteLLM", shape.litellm),
        ):
            if runs:
                rate = _median(runs, lambda r: r.events_per_second)
                summary.setdefault(client, {})[level] = rate
        print(f"  concurrency {level} done", file=sys.stderr, flush=True)
    (RESULTS / "stream_levels.json").write_text(
        orjson.dumps(summary, option=orjson.OPT_NON_STR_KEYS | orjson.OPT_INDENT_2).decode() + "\n"
    )
    headers = ["concurrency", *summary]
    levels = sorted({level for rates in summary.values() for level in rates})
    rows = [
        [str(level), *(f"{summary[c].get(level, float('nan')):,.0f}" for c in summary)]
        for level in levels
    ]
    title = (
        f"translated stream events/s by concurrency (whole-stream writes, {args.rounds} rounds, "
        "medians; streams per round: 10 x concurrency, at least 100)"
    )
    return title + "\n" + text_table(headers, rows)


#: Stream lengths of `--cost`: the CPU per stream of each, and the line through them.
COST_EVENTS = (6, 100)


async def cost(args: argparse.Namespace) -> str:
    """CPU per stream, one at a time, split into a fixed part and a part per event."""
    from llm_router import AnthropicProvider, Router

    cpu: dict[tuple[str, int], list[float]] = {}
    async with contextlib.AsyncExitStack() as stack:
        client = await stack.enter_async_context(httpx.AsyncClient(limits=LIMITS, timeout=30))
        clients: dict[tuple[str, int], StreamOnce] = {}
        for count in COST_EVENTS:
            upstream = await stack.enter_async_context(upstream_process(0, count))
            builder = Router.builder().with_limits(LIMITS)
            builder.add_provider("up", AnthropicProvider(base_url=upstream.url))
            builder.add_api_key("up", "sk-bench")
            builder.add_model_route(MODEL, "up", "claude-bench")
            router = await stack.enter_async_context(builder.build())
            clients["raw httpx floor", count] = floor_client(client, upstream.url)
            clients["llm-router", count] = router_client(router)
        for once in clients.values():  # warm: pools, imports, caches
            await load(once, 50, 1)
        for _ in range(args.rounds):
            for key, once in clients.items():
                run = await load(once, args.streams, 1)
                cpu.setdefault(key, []).append(run.cpu_seconds / args.streams)
    short, long = COST_EVENTS
    rows = []
    for name in ("raw httpx floor", "llm-router"):
        per_stream = {count: statistics.median(cpu[name, count]) for count in COST_EVENTS}
        per_event = (per_stream[long] - per_stream[short]) / (long - short)
        fixed = per_stream[short] - per_event * short
        rows.append(
            [
                name,
                f"{fixed * 1e6:.0f}",
                f"{per_event * 1e6:.2f}",
                *(f"{per_stream[count] * 1e6:.0f}" for count in COST_EVENTS),
            ]
        )
    headers = [
        "client",
        "fixed µs/stream",
        "µs/event",
        *(f"CPU µs, {count}-event stream" for count in COST_EVENTS),
    ]
    title = (
        f"CPU per stream of this process, one stream at a time (whole-stream writes), "
        f"{args.rounds} rounds x {args.streams} streams per client and length, medians; "
        f"fixed and per event from the {short}- and {long}-event streams"
    )
    return title + "\n" + text_table(headers, rows)


async def main_async(args: argparse.Namespace) -> str:
    if args.cost:
        return await cost(args)
    if args.profile:
        return await profile(args)
    if args.levels:
        return await by_level(args)
    shapes = [await measure(0, "whole stream", args)]
    if not args.whole_only:
        shapes.append(await measure(1, "one event each", args))
    return report(shapes, args)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--streams", type=int, default=320, help="streams per client per round")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--alone", type=int, default=40, help="one-at-a-time streams per round")
    parser.add_argument(
        "--levels",
        help="comma-separated concurrency levels: events/s by level (whole-stream writes) into "
        "results/stream_levels.json and stream_levels.txt, instead of the full table",
    )
    parser.add_argument(
        "--whole-only", action="store_true", help="skip the one-event-per-write upstream"
    )
    parser.add_argument(
        "--litellm-python", help="an interpreter with litellm installed (bench/.litellm-venv)"
    )
    parser.add_argument(
        "--profile", metavar="PATH", help="profile the router client into PATH (text)"
    )
    parser.add_argument(
        "--cost",
        action="store_true",
        help="CPU per stream split into fixed and per event, into results/stream_cost.txt",
    )
    parser.add_argument(
        "--serve-upstream", type=int, metavar="EVENTS_PER_WRITE", help=argparse.SUPPRESS
    )
    parser.add_argument("--upstream-events", type=int, default=EVENTS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_upstream is not None:
        trio.run(serve_upstream, args.serve_upstream, args.upstream_events)
        return
    text = trio.run(main_async, args)
    name = "stream_levels.txt" if args.levels else "stream_floor.txt"
    name = "stream_cost.txt" if args.cost else name
    path = Path(args.profile) if args.profile else RESULTS / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(text + "\n")
    print(text if not args.profile else text.split("\n\n", 1)[0] + f"\nprofile written to {path}")


if __name__ == "__main__":
    main()
