"""Non-streamed requests through the router against the raw-httpx floor and LiteLLM.

A tiny upstream (raw HTTP/1.1 on Trio sockets, in a process of its own) answers every POST
with the same Anthropic Messages body. Three clients call it:

- floor: `httpx.AsyncClient.post` and `orjson.loads` of the answer (one pool, no routing,
  no translation);
- llm-router: an OpenAI Chat Completions caller through `Router.complete` to an Anthropic
  route, so every request and answer is translated;
- LiteLLM: `litellm.acompletion` on asyncio, in the interpreter of its own environment
  (`make bench` installs it in bench/.litellm-venv), after the other two.

At each concurrency level, `--rounds` rounds alternate the floor and the router so that the
load of a shared machine hits both alike. Printed per level: median requests/s, median
latency, CPU per request of the client process (`time.process_time`, far steadier than wall
time on a loaded machine), and the ratios. Writes bench/results/sync.json (read by
bench/plot.py).

    .venv/bin/python bench/sync.py [--levels 1,4,16,32,64] [--rounds 3] \
        [--litellm-python bench/.litellm-venv/bin/python]

Not run by the test suite.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson
import trio
from _util import ServerProcess, closed_loop, percentile, serve_http_upstream, text_table

MODEL = "bench-model"
CHAT = orjson.dumps({"model": MODEL, "messages": [{"role": "user", "content": "hello"}]})
ANTHROPIC_REQUEST = orjson.dumps(
    {"model": "claude-bench", "max_tokens": 256, "messages": [{"role": "user", "content": "hello"}]}
)
ANTHROPIC_ANSWER = orjson.dumps(
    {
        "id": "msg_bench",
        "type": "message",
        "role": "assistant",
        "model": "claude-bench",
        "content": [{"type": "text", "text": "Hello! How can I help you today?"}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 12, "output_tokens": 9},
    }
)
RESULTS = Path(__file__).parent / "results"
LIMITS = httpx.Limits(max_connections=256, max_keepalive_connections=256)


# -- the upstream (run with --serve-upstream in its own process) ----------------------------------
async def serve_upstream() -> None:
    answer = (
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
        b"content-length: " + str(len(ANTHROPIC_ANSWER)).encode() + b"\r\n\r\n" + ANTHROPIC_ANSWER
    )

    async def respond(stream: trio.SocketStream, _request: bytes) -> None:
        await stream.send_all(answer)

    await serve_http_upstream(respond)


def upstream_process() -> ServerProcess:
    return ServerProcess([sys.executable, __file__, "--serve-upstream"], "the bench upstream")


# -- clients ---------------------------------------------------------------------------------------
Call = Callable[[], Awaitable[None]]


def floor_client(client: httpx.AsyncClient, url: str) -> Call:
    headers = {"x-api-key": "sk-bench", "anthropic-version": "2023-06-01"}

    async def once() -> None:
        response = await client.post(
            url + "/v1/messages", content=ANTHROPIC_REQUEST, headers=headers
        )
        orjson.loads(response.content)

    return once


def router_client(router: object) -> Call:
    from llm_router import Router

    assert isinstance(router, Router)

    async def once() -> None:
        await router.complete(CHAT, "openai")

    return once


@dataclass
class Run:
    requests: int
    seconds: float
    cpu_seconds: float
    latencies: list[float]

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    @property
    def cpu_per_request(self) -> float:
        return self.cpu_seconds / self.requests


async def load(once: Call, requests: int, concurrency: int) -> Run:
    started, cpu_started = time.perf_counter(), time.process_time()
    latencies = await closed_loop(once, requests, concurrency)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    return Run(requests, seconds, cpu, sorted(latencies))


def requests_at(concurrency: int, scale: float) -> int:
    return int(max(150, 20 * concurrency) * scale)


async def measure(args: argparse.Namespace) -> dict[str, dict[int, list[Run]]]:
    from llm_router import AnthropicProvider, Router

    levels = [int(x) for x in args.levels.split(",")]
    runs: dict[str, dict[int, list[Run]]] = {"floor": {}, "llm-router": {}, "LiteLLM": {}}
    async with (
        upstream_process() as upstream,
        httpx.AsyncClient(limits=LIMITS, timeout=30) as client,
    ):
        builder = Router.builder().with_limits(LIMITS)
        builder.add_provider("up", AnthropicProvider(base_url=upstream.url))
        builder.add_api_key("up", "sk-bench")
        builder.add_model_route(MODEL, "up", "claude-bench")
        async with builder.build() as router:
            floor, ours = floor_client(client, upstream.url), router_client(router)
            top = max(levels)
            await load(floor, top * 2, top)  # warm both pools
            await load(ours, top * 2, top)
            for level in levels:
                count = requests_at(level, args.scale)
                for _ in range(args.rounds):
                    runs["floor"].setdefault(level, []).append(await load(floor, count, level))
                    runs["llm-router"].setdefault(level, []).append(await load(ours, count, level))
                print(f"  concurrency {level} done", file=sys.stderr, flush=True)
        if args.litellm_python:
            runs["LiteLLM"] = await run_litellm(upstream.url, levels, args)
    return runs


async def run_litellm(
    url: str, levels: list[int], args: argparse.Namespace
) -> dict[int, list[Run]]:
    script = str(Path(__file__).with_name("_litellm_sync.py"))
    plan = [[level, requests_at(level, args.scale)] for level in levels]
    command = [args.litellm_python, script, url, json.dumps(plan), str(args.rounds)]
    done = await trio.run_process(command, capture_stdout=True, check=False)
    if done.returncode != 0:
        print(f"LiteLLM run failed (exit {done.returncode}); its rows are left out")
        return {}
    out: dict[int, list[Run]] = {}
    for line in done.stdout.decode().splitlines():
        if line.startswith("{"):
            row = orjson.loads(line)
            run = Run(row["requests"], row["seconds"], row["cpu_seconds"], sorted(row["latencies"]))
            out.setdefault(row["concurrency"], []).append(run)
    return out


def summarise(runs: dict[str, dict[int, list[Run]]]) -> dict[str, dict[int, dict[str, float]]]:
    out: dict[str, dict[int, dict[str, float]]] = {}
    for client, by_level in runs.items():
        for level, level_runs in by_level.items():
            out.setdefault(client, {})[level] = {
                "requests_per_second": statistics.median(r.rate for r in level_runs),
                "cpu_ms_per_request": statistics.median(r.cpu_per_request for r in level_runs)
                * 1e3,
                "p50_ms": statistics.median(percentile(r.latencies, 50) for r in level_runs) * 1e3,
                "p99_ms": statistics.median(percentile(r.latencies, 99) for r in level_runs) * 1e3,
            }
    return out


def report(summary: dict[str, dict[int, dict[str, float]]], args: argparse.Namespace) -> str:
    headers = ["concurrency", "client", "requests/s", "p50", "p99", "CPU ms/request", "vs floor"]
    headers += ["vs LiteLLM", "CPU vs LiteLLM"]
    rows = []
    floor = summary["floor"]
    litellm = summary.get("LiteLLM", {})
    for level in sorted(floor):
        for client in ("floor", "llm-router", "LiteLLM"):
            s = summary.get(client, {}).get(level)
            if s is None:
                continue
            theirs = litellm.get(level)
            rows.append(
                [
                    str(level),
                    "raw httpx floor" if client == "floor" else client,
                    f"{s['requests_per_second']:,.0f}",
                    f"{s['p50_ms']:.2f} ms",
                    f"{s['p99_ms']:.2f} ms",
                    f"{s['cpu_ms_per_request']:.3f}",
                    f"{s['requests_per_second'] / floor[level]['requests_per_second']:.2f}x",
                    f"{s['requests_per_second'] / theirs['requests_per_second']:.1f}x"
                    if theirs
                    else "-",
                    f"{s['cpu_ms_per_request'] / theirs['cpu_ms_per_request']:.2f}x"
                    if theirs
                    else "-",
                ]
            )
    title = (
        f"non-streamed requests, {args.rounds} rounds per level (floor and router alternating; "
        f"LiteLLM after, same upstream); medians over rounds; CPU = client process CPU time"
    )
    return title + "\n" + text_table(headers, rows)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--levels", default="1,4,16,32,64", help="concurrency levels")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the requests per round")
    parser.add_argument(
        "--litellm-python", help="an interpreter with litellm installed (bench/.litellm-venv)"
    )
    parser.add_argument("--profile", metavar="PATH", help="profile the router client into PATH")
    parser.add_argument("--serve-upstream", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_upstream:
        trio.run(serve_upstream)
        return
    if args.profile:
        text = trio.run(profile, args)
        Path(args.profile).write_text(text + "\n")
        print(text.split("\n\n", 1)[0] + f"\nprofile written to {args.profile}")
        return
    summary = summarise(trio.run(measure, args))
    text = report(summary, args)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "sync.txt").write_text(text + "\n")
    (RESULTS / "sync.json").write_text(json.dumps(summary, indent=1) + "\n")
    print(text)


async def profile(args: argparse.Namespace) -> str:
    """Profile the router client alone (pyinstrument) at the highest concurrency level."""
    from pyinstrument import Profiler

    from llm_router import AnthropicProvider, Router

    level = max(int(x) for x in args.levels.split(","))
    async with upstream_process() as upstream:
        builder = Router.builder().with_limits(LIMITS)
        builder.add_provider("up", AnthropicProvider(base_url=upstream.url))
        builder.add_api_key("up", "sk-bench")
        builder.add_model_route(MODEL, "up", "claude-bench")
        async with builder.build() as router:
            ours = router_client(router)
            await load(ours, level * 2, level)
            profiler = Profiler(interval=0.0005, async_mode="disabled")
            profiler.start()
            run = await load(ours, requests_at(level, args.scale) * 3, level)
            profiler.stop()
    header = (
        f"pyinstrument profile: llm-router client, {run.requests} non-streamed translated "
        f"requests (OpenAI caller, Anthropic upstream) at concurrency {level}: "
        f"{run.rate:,.0f} requests/s, {run.cpu_per_request * 1e3:.3f} ms CPU/request\n\n"
    )
    text = profiler.output_text(unicode=True, color=False, show_all=False)
    return header + "\n".join(
        line for line in text.splitlines() if not line.startswith("Profile at")
    )


if __name__ == "__main__":
    main()
