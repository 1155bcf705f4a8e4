"""Hedged requests against a heavy latency tail: tail latency gained, upstream load paid.

The fake provider runs in a process of its own (`llm-router-fake serve`) with the latency
mixture 50ms:0.97,3s:0.03 (seeded), and two provider aliases point at it, so a hedge goes to the second alias and draws a fresh
latency. Each strategy (no hedging, a fixed delay, the adaptive p95 delay) gets its own
freshly seeded server, the same warm-up (not measured: it fills the latency window the
adaptive delay needs and the hedge budget) and then the same measured load. Extra upstream
requests are counted from the fake's journal: every request that reached the server.

    .venv/bin/python bench/hedging.py [--requests 2000] [--concurrency 50 [10 ...]] [--seed 7]

The router's process has one core: when the offered load (concurrency / 50 ms) exceeds what
it serves, latencies measure CPU queueing and the bench says so; give several concurrency
levels to see both regimes. CPU ms/req counts the router's process only. Writes bench/results/hedging.md (one table
per level) and bench/results/hedging.png (latency CDFs, one panel per level).
Not run by the test suite.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import trio
from _util import ServerProcess, closed_loop, markdown_table, percentile, save_cdf_plot, text_table

from llm_router import OpenAIProvider, Router
from llm_router.resilience import HedgePolicy
from llm_router_testing.fake import FAKE_KEYS

LATENCY = "50ms:0.97,3s:0.03"
#: The mixture's common case: a median far above it means the process itself is the bottleneck.
BASE_LATENCY = 0.05
SATURATED = 2.0
MODEL = "bench-model"
CHAT = {"model": MODEL, "messages": [{"role": "user", "content": "hello hedging"}]}
RESULTS = Path(__file__).parent / "results"
#: Enough keep-alive connections for the whole load, so the numbers measure hedging rather
#: than connection churn (the router's default keeps 20 idle connections).
LIMITS = httpx.Limits(max_connections=500, max_keepalive_connections=500)
#: p99 at least this many times lower than without hedging...
TARGET_SPEEDUP = 5.0
#: ...for at most this fraction of extra upstream requests.
TARGET_EXTRA = 0.10


@dataclass(frozen=True)
class Strategy:
    name: str
    hedge: HedgePolicy | None


@dataclass(frozen=True)
class Run:
    """One strategy's measured phase: sorted latencies (s), upstream requests, router counters,
    and the wall-clock and CPU seconds it took (router and fake share this process)."""

    strategy: Strategy
    latencies: list[float]
    upstream: int
    hedges: int
    hedges_won: int
    hedges_refused: int
    seconds: float
    cpu_seconds: float

    @property
    def throughput(self) -> float:
        return len(self.latencies) / self.seconds

    @property
    def cpu_per_request(self) -> float:
        return self.cpu_seconds / len(self.latencies)

    @property
    def extra(self) -> float:
        return self.upstream / len(self.latencies) - 1

    def p(self, q: float) -> float:
        return percentile(self.latencies, q)


def strategies(fixed_delay: float) -> list[Strategy]:
    return [
        Strategy("no hedging", None),
        Strategy(f"fixed {fixed_delay * 1000:g} ms", HedgePolicy(delay=fixed_delay)),
        Strategy("adaptive p95", HedgePolicy(percentile=95)),
    ]


class FakeProcess(ServerProcess):
    """`llm-router-fake serve` in a process of its own, so the router's process measures only
    the router (on 2 cores, one process serving both sides saturates long before concurrency 50)."""

    def __init__(self, seed: int) -> None:
        command = [sys.executable, "-m", "llm_router_testing.cli", "serve"]
        super().__init__([*command, "--latency", LATENCY, "--seed", str(seed)], "llm-router-fake")

    async def reset(self, client: httpx.AsyncClient) -> None:
        (await client.post(self.url + "/_fake/reset")).raise_for_status()

    async def requests_seen(self, client: httpx.AsyncClient) -> int:
        response = await client.get(self.url + "/_fake/journal")
        response.raise_for_status()
        return len(response.json())


def build(url: str, hedge: HedgePolicy | None) -> Router:
    builder = Router.builder().with_limits(LIMITS).with_hedge_policy(hedge)
    for alias in ("primary", "secondary"):
        builder.add_provider(alias, OpenAIProvider(base_url=url + "/v1"))
        builder.add_api_key(alias, FAKE_KEYS["openai"])
        builder.add_model_route(MODEL, alias, "gpt-4o-mini")
    return builder.build()


async def load(router: Router, requests: int, concurrency: int) -> list[float]:
    """`requests` calls, `concurrency` of them in flight at all times; their latencies."""
    return await closed_loop(partial(router.complete, CHAT, "openai"), requests, concurrency)


def _counters(router: Router) -> tuple[int, int, int]:
    stats: dict[str, Any] = router.statistics()
    routes = stats["routes"].values()
    hedges = sum(route["hedges"] for route in routes)
    won = sum(route["hedges_won"] for route in routes)
    return hedges, won, stats["hedges_refused"]


async def measure(strategy: Strategy, concurrency: int, args: argparse.Namespace) -> Run:
    async with (
        FakeProcess(args.seed) as fake,
        httpx.AsyncClient() as control,
        build(fake.url, strategy.hedge) as router,
    ):
        await load(router, args.warmup, concurrency)
        await fake.reset(control)
        before = _counters(router)
        started, cpu_started = time.perf_counter(), time.process_time()
        latencies = await load(router, args.requests, concurrency)
        seconds = time.perf_counter() - started
        cpu_seconds = time.process_time() - cpu_started
        after = _counters(router)
        upstream = await fake.requests_seen(control)
    hedges, won, refused = (a - b for a, b in zip(after, before, strict=True))
    return Run(strategy, sorted(latencies), upstream, hedges, won, refused, seconds, cpu_seconds)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f}"


def table(runs: list[Run]) -> tuple[list[str], list[list[str]]]:
    base = runs[0]
    headers = [
        "strategy",
        "p50 ms",
        "p99 ms",
        "p99.9 ms",
        "upstream requests",
        "extra",
        "p99 vs none",
        "p99.9 vs none",
        "hedges (won / refused)",
        "req/s",
        "CPU ms/req",
    ]
    rows = [
        [
            run.strategy.name,
            _ms(run.p(50)),
            _ms(run.p(99)),
            _ms(run.p(99.9)),
            f"{run.upstream:,}",
            f"{run.extra:+.1%}",
            f"{base.p(99) / run.p(99):.1f}x lower",
            f"{base.p(99.9) / run.p(99.9):.1f}x lower",
            f"{run.hedges} ({run.hedges_won} / {run.hedges_refused})",
            f"{run.throughput:,.0f}",
            f"{run.cpu_per_request * 1000:.1f}",
        ]
        for run in runs
    ]
    return headers, rows


def verdicts(runs: list[Run], concurrency: int) -> list[str]:
    base = runs[0]
    lines = []
    if base.p(50) > SATURATED * BASE_LATENCY:
        lines.append(
            f"WARNING: without hedging the median is {_ms(base.p(50))} ms for a "
            f"{_ms(BASE_LATENCY)} ms upstream: the router process or the fake server process ("
            f"{base.cpu_per_request * 1000:.1f} ms router CPU per request) cannot keep up with "
            f"concurrency {concurrency}, so latencies measure CPU queueing, not "
            "the upstream; lower --concurrency to measure hedging"
        )
    for run in runs[1:]:
        speedup = base.p(99) / run.p(99)
        met = speedup >= TARGET_SPEEDUP and run.extra <= TARGET_EXTRA
        lines.append(
            f"{run.strategy.name}: p99 {speedup:.1f}x lower for {run.extra:+.1%} upstream "
            f"requests: target (>= {TARGET_SPEEDUP:g}x for <= {TARGET_EXTRA:.0%}) "
            + ("met" if met else "MISSED")
        )
    return lines


def write_results(results: dict[int, list[Run]], args: argparse.Namespace) -> None:
    levels = ", ".join(str(c) for c in results)
    document = [
        "# Hedging benchmark",
        "",
        f"`bench/hedging.py --requests {args.requests} --concurrency {' '.join(map(str, results))} "
        f"--warmup {args.warmup} --seed {args.seed}`: {args.requests:,} non-streamed requests "
        f"per strategy at concurrency {levels}, after {args.warmup:,} unmeasured warm-up "
        f"requests; fake upstream latency `{LATENCY}` in its own process, two provider "
        "aliases on it. HedgePolicy defaults otherwise (max_extra_load 0.1; adaptive: the "
        "route's p95, 20 samples minimum). Extra = upstream requests the fake received / "
        "requests - 1. A hedge cancelled before its request reached the fake (the first "
        "attempt answered meanwhile) counts as a hedge, not as an upstream request.",
        "",
    ]
    for concurrency, runs in results.items():
        headers, rows = table(runs)
        document += [f"## Concurrency {concurrency}", "", markdown_table(headers, rows), ""]
        document += [f"- {line}" for line in verdicts(runs, concurrency)] + [""]
    document += ["![latency CDFs](hedging.png)", ""]
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "hedging.md").write_text("\n".join(document))
    save_cdf_plot(
        {
            f"concurrency {concurrency}": {run.strategy.name: run.latencies for run in runs}
            for concurrency, runs in results.items()
        },
        RESULTS / "hedging.png",
        title=f"Request latency CDF, {args.requests:,} requests per strategy",
        xlabel="latency (s, log scale)",
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="measured requests per run")
    parser.add_argument(
        "--concurrency", type=int, nargs="+", default=[50], help="requests in flight (levels)"
    )
    parser.add_argument("--warmup", type=int, default=300, help="unmeasured requests first")
    parser.add_argument("--fixed-delay", type=float, default=0.15, help="seconds")
    parser.add_argument("--seed", type=int, default=7, help="seeds the fake's latency draws")
    args = parser.parse_args()

    results: dict[int, list[Run]] = {}
    for concurrency in args.concurrency:
        runs = results[concurrency] = []
        for strategy in strategies(args.fixed_delay):
            print(f"concurrency {concurrency}: {strategy.name} ...", flush=True)
            runs.append(trio.run(measure, strategy, concurrency, args))
        headers, rows = table(runs)
        print()
        print(text_table(headers, rows))
        print()
        print("\n".join(verdicts(runs, concurrency)))
        print()
    write_results(results, args)
    print(f"wrote {RESULTS / 'hedging.md'} and {RESULTS / 'hedging.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
