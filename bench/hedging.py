"""Hedged requests against a heavy latency tail: tail latency gained, upstream load paid.

The fake provider runs in a process of its own (`llm-router-fake serve`) with the latency
mixture 50ms:0.97,3s:0.03 (seeded), and two provider aliases point at it, so a hedge goes to the second alias and draws a fresh
latency. Each strategy (no hedging, a fixed delay, the adaptive p95 delay) gets its own
freshly seeded server, the same warm-up (not measured: it fills the latency window the
adaptive delay needs and the hedge budget) and then the same measured load. Extra upstream
requests are counted from the fake's journal: every request that reached the server.

    .venv/bin/python bench/hedging.py [--requests 2000] [--concurrency 50 [10 ...]]
        [--rate 250 [...]] [--seed 7] [--profile PATH]

Two ways to load the router, reported side by side:

- closed loop (`--concurrency`): a fixed number of calls in flight, each starting when one
  ends. The offered load then depends on the answers: hedging ends the slow 3% early, so the
  same 50 slots carry about twice the fast calls and the median measures the extra queueing
  (on a busy machine, where throughput is capped by CPU, Little's law makes a shorter tail
  cost a longer body: the mean stays put).
- open loop (`--rate`): calls start at a fixed rate whatever is in flight, the same offered
  load for every strategy, each latency measured from its scheduled start (no coordinated
  omission). This compares what hedging does to one given load.

The router's process has one core: when the offered load exceeds what it serves, latencies
measure CPU queueing and the bench says so; give several levels to see both regimes. CPU
ms/req is charged separately to the router's process and to the fake's. `--profile PATH`
writes a cProfile of the router's process over each strategy's measured phase at the first
level instead (what a hedge costs where). Writes bench/results/hedging.md (one table per
level) and bench/results/hedging.png (latency CDFs, one panel per level).
Not run by the test suite.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import trio
from _util import (
    ServerProcess,
    closed_loop,
    markdown_table,
    open_loop,
    percentile,
    process_cpu_seconds,
    save_cdf_plot,
    text_table,
)

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
#: The hedged median at most this many times the unhedged one.
TARGET_MEDIAN = 1.2
ROOT = Path(__file__).resolve().parent.parent
#: An open-loop run is overloaded when it lasts longer than this times its schedule plus
#: the slowest latency of the mixture (the last calls' tail).
OVERLOAD = 1.1
SLOWEST = 3.0


@dataclass(frozen=True)
class Level:
    """How the load is offered: `concurrency` calls in flight (closed loop), or calls started
    at `rate` per second (open loop)."""

    concurrency: int | None = None
    rate: float | None = None

    @property
    def title(self) -> str:
        if self.concurrency is not None:
            return f"Closed loop, concurrency {self.concurrency}"
        return f"Open loop, {self.rate:g} requests/s"

    @property
    def label(self) -> str:
        if self.concurrency is not None:
            return f"concurrency {self.concurrency}"
        return f"{self.rate:g} requests/s"


@dataclass(frozen=True)
class Strategy:
    name: str
    hedge: HedgePolicy | None


@dataclass(frozen=True)
class Run:
    """One strategy's measured phase: sorted latencies (s), upstream requests, router counters,
    the wall-clock seconds it took and the CPU seconds of the router's process and of the
    fake's (None where the platform cannot tell)."""

    strategy: Strategy
    latencies: list[float]
    upstream: int
    hedges: int
    hedges_won: int
    hedges_refused: int
    seconds: float
    cpu_seconds: float
    fake_cpu_seconds: float | None

    @property
    def throughput(self) -> float:
        return len(self.latencies) / self.seconds

    @property
    def cpu_per_request(self) -> float:
        return self.cpu_seconds / len(self.latencies)

    @property
    def fake_cpu_per_request(self) -> float | None:
        if self.fake_cpu_seconds is None:
            return None
        return self.fake_cpu_seconds / len(self.latencies)

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


async def load(router: Router, requests: int, level: Level) -> list[float]:
    """`requests` calls offered as `level` says; their latencies."""
    call = partial(router.complete, CHAT, "openai")
    if level.concurrency is not None:
        return await closed_loop(call, requests, level.concurrency)
    assert level.rate is not None
    return await open_loop(call, requests, level.rate)


def _counters(router: Router) -> tuple[int, int, int]:
    stats: dict[str, Any] = router.statistics()
    routes = stats["routes"].values()
    hedges = sum(route["hedges"] for route in routes)
    won = sum(route["hedges_won"] for route in routes)
    return hedges, won, stats["hedges_refused"]


async def measure(
    strategy: Strategy,
    level: Level,
    args: argparse.Namespace,
    profiler: cProfile.Profile | None = None,
) -> Run:
    async with (
        FakeProcess(args.seed) as fake,
        httpx.AsyncClient() as control,
        build(fake.url, strategy.hedge) as router,
    ):
        await load(router, args.warmup, level)
        await fake.reset(control)
        before = _counters(router)
        fake_started = process_cpu_seconds(fake.pid)
        if profiler is not None:
            profiler.enable()
        started, cpu_started = time.perf_counter(), time.process_time()
        latencies = await load(router, args.requests, level)
        seconds = time.perf_counter() - started
        cpu_seconds = time.process_time() - cpu_started
        if profiler is not None:
            profiler.disable()
        fake_ended = process_cpu_seconds(fake.pid)
        after = _counters(router)
        upstream = await fake.requests_seen(control)
    hedges, won, refused = (a - b for a, b in zip(after, before, strict=True))
    fake_cpu = None if fake_started is None or fake_ended is None else fake_ended - fake_started
    return Run(
        strategy,
        sorted(latencies),
        upstream,
        hedges,
        won,
        refused,
        seconds,
        cpu_seconds,
        fake_cpu,
    )


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f}"


def table(runs: list[Run]) -> tuple[list[str], list[list[str]]]:
    base = runs[0]
    headers = [
        "strategy",
        "p50 ms",
        "p99 ms",
        "p99.9 ms",
        "p50 vs none",
        "upstream requests",
        "extra",
        "p99 vs none",
        "p99.9 vs none",
        "hedges (won / refused)",
        "req/s",
        "CPU ms/req",
        "fake CPU ms/req",
    ]
    rows = [
        [
            run.strategy.name,
            _ms(run.p(50)),
            _ms(run.p(99)),
            _ms(run.p(99.9)),
            f"{run.p(50) / base.p(50):.2f}x",
            f"{run.upstream:,}",
            f"{run.extra:+.1%}",
            f"{base.p(99) / run.p(99):.1f}x lower",
            f"{base.p(99.9) / run.p(99.9):.1f}x lower",
            f"{run.hedges} ({run.hedges_won} / {run.hedges_refused})",
            f"{run.throughput:,.0f}",
            f"{run.cpu_per_request * 1000:.2f}",
            "n/a" if run.fake_cpu_per_request is None else f"{run.fake_cpu_per_request * 1000:.2f}",
        ]
        for run in runs
    ]
    return headers, rows


def verdicts(runs: list[Run], level: Level) -> list[str]:
    base = runs[0]
    lines = []
    if base.p(50) > SATURATED * BASE_LATENCY:
        lines.append(
            f"WARNING: without hedging the median is {_ms(base.p(50))} ms for a "
            f"{_ms(BASE_LATENCY)} ms upstream: the router process or the fake server process ("
            f"{base.cpu_per_request * 1000:.1f} ms router CPU per request) cannot keep up with "
            f"{level.label}, so latencies measure CPU queueing, not "
            "the upstream; lower the load to measure hedging"
        )
    for run in runs:
        if level.rate is None:
            continue
        schedule = len(run.latencies) / level.rate
        if run.seconds > OVERLOAD * schedule + SLOWEST:
            lines.append(
                f"WARNING: {run.strategy.name} took {run.seconds:.1f} s for a "
                f"{schedule:.1f} s schedule of {level.rate:g} requests/s: overloaded, so its "
                "latencies grow with the length of the run; lower --rate"
            )
    for run in runs[1:]:
        speedup = base.p(99) / run.p(99)
        met = speedup >= TARGET_SPEEDUP and run.extra <= TARGET_EXTRA
        median = run.p(50) / base.p(50)
        lines.append(
            f"{run.strategy.name}: p99 {speedup:.1f}x lower for {run.extra:+.1%} upstream "
            f"requests: target (>= {TARGET_SPEEDUP:g}x for <= {TARGET_EXTRA:.0%}) "
            + ("met" if met else "MISSED")
            + f"; median {median:.2f}x the unhedged one: target (<= {TARGET_MEDIAN:g}x) "
            + ("met" if median <= TARGET_MEDIAN else "MISSED")
        )
    return lines


def command(args: argparse.Namespace) -> str:
    text = f"bench/hedging.py --requests {args.requests}"
    if args.concurrency:
        text += " --concurrency " + " ".join(map(str, args.concurrency))
    if args.rate:
        text += " --rate " + " ".join(f"{rate:g}" for rate in args.rate)
    return text + f" --warmup {args.warmup} --seed {args.seed}"


def write_results(results: dict[Level, list[Run]], args: argparse.Namespace) -> None:
    levels = ", ".join(level.label for level in results)
    document = [
        "# Hedging benchmark",
        "",
        f"`{command(args)}`: {args.requests:,} non-streamed requests per strategy at "
        f"{levels}, after {args.warmup:,} unmeasured warm-up requests offered the same way; "
        f"fake upstream latency `{LATENCY}` in its own process, two provider "
        "aliases on it. HedgePolicy defaults otherwise (max_extra_load 0.1; adaptive: the "
        "route's p95, 20 samples minimum). Extra = upstream requests the fake received / "
        "requests - 1. A hedge cancelled before its request reached the fake (the first "
        "attempt answered meanwhile) counts as a hedge, not as an upstream request. Closed "
        "loop: a fixed number of calls in flight, so a strategy that ends slow calls early "
        "is offered more calls per second; open loop: calls start on a fixed schedule, the "
        "same offered load for every strategy, latency from the scheduled start. CPU ms/req: "
        "the router's process and the fake's, per measured request.",
        "",
    ]
    for level, runs in results.items():
        headers, rows = table(runs)
        document += [f"## {level.title}", "", markdown_table(headers, rows), ""]
        document += [f"- {line}" for line in verdicts(runs, level)] + [""]
    document += ["![latency CDFs](hedging.png)", ""]
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "hedging.md").write_text("\n".join(document))
    save_cdf_plot(
        {
            level.label: {run.strategy.name: run.latencies for run in runs}
            for level, runs in results.items()
        },
        RESULTS / "hedging.png",
        title=f"Request latency CDF, {args.requests:,} requests per strategy",
        xlabel="latency (s, log scale)",
    )


def profile_report(profiles: dict[str, cProfile.Profile], runs: list[Run], level: Level) -> str:
    """Each strategy's cProfile (own time, then the pool's connection churn), per request."""
    out = io.StringIO()
    out.write(
        f"cProfile (CPU time) of the router's process over each strategy's measured phase, "
        f"{level.label}; profiling slows every call alike, so compare the strategies, not "
        "absolute times. Coroutine resumptions count as calls.\n"
    )
    for run in runs:
        name = run.strategy.name
        out.write(
            f"\n=== {name}: {len(run.latencies)} requests, {run.hedges} hedges "
            f"({run.hedges_won} won, {run.hedges_refused} refused), "
            f"{run.upstream} upstream requests\n"
        )
        stats = pstats.Stats(profiles[name], stream=out)
        stats.sort_stats("tottime").print_stats(25)
        stats.sort_stats("cumulative").print_stats(
            r"_pool.py.*\((connect|discard|release|acquire)\)|connect_tcp|engine.py.*\(_begin\)"
        )
    return out.getvalue().replace(str(ROOT), ".")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="measured requests per run")
    parser.add_argument(
        "--concurrency",
        type=int,
        nargs="*",
        default=[50],
        help="closed loop: requests in flight (levels)",
    )
    parser.add_argument(
        "--rate",
        type=float,
        nargs="*",
        default=[150.0],
        help="open loop: requests started per second (levels)",
    )
    parser.add_argument("--warmup", type=int, default=300, help="unmeasured requests first")
    parser.add_argument("--fixed-delay", type=float, default=0.15, help="seconds")
    parser.add_argument("--seed", type=int, default=7, help="seeds the fake's latency draws")
    parser.add_argument("--profile", metavar="PATH", help="write a cProfile report there")
    args = parser.parse_args()

    levels = [Level(concurrency=c) for c in args.concurrency]
    levels += [Level(rate=rate) for rate in args.rate]
    if args.profile:
        levels = levels[:1]
    results: dict[Level, list[Run]] = {}
    profiles: dict[str, cProfile.Profile] = {}
    for level in levels:
        runs = results[level] = []
        for strategy in strategies(args.fixed_delay):
            print(f"{level.label}: {strategy.name} ...", flush=True)
            # CPU time, not wall time: waiting for the upstream is not the router's cost.
            profiler = cProfile.Profile(time.process_time) if args.profile else None
            if profiler is not None:
                profiles[strategy.name] = profiler
            runs.append(trio.run(measure, strategy, level, args, profiler))
        headers, rows = table(runs)
        print()
        print(text_table(headers, rows))
        print()
        print("\n".join(verdicts(runs, level)))
        print()
    if args.profile:
        Path(args.profile).write_text(profile_report(profiles, results[levels[0]], levels[0]))
        print(f"wrote {args.profile}")
        return 0
    write_results(results, args)
    print(f"wrote {RESULTS / 'hedging.md'} and {RESULTS / 'hedging.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
