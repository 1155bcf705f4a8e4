"""CPU per call of the resilience engine with and without hedging, on a fast upstream.

The upstream of `sync.py` (a raw-socket server in its own process, answering at once) sits
behind two provider aliases, so a hedge would have a second route; its answers come far
sooner than any hedge delay, so no hedge is ever sent and what differs between the routers
is only the engine's bookkeeping for a call that may be hedged. Rounds alternate the
routers; printed is the median CPU time of this process per call (`time.process_time`,
steady on a loaded machine, unlike latency), and its ratio to the unhedged router's.

A second table isolates the engine: `Executor.run_complete` (the router's seam to
`run_with_resilience`, with the router's default policies) over an attempt that only
checkpoints, minus the CPU of awaiting that attempt directly; rounds alternate likewise. Each
hedged executor's hedger runs in the bench's nursery, as a router runs it in its own.

    .venv/bin/python bench/hedging_cpu.py [--calls 3000] [--concurrency 50] [--rounds 5]
        [--engine-calls 20000]
        [--profile PATH]   # cProfile of the hedged router's calls, by own time
        [--engine-profile PATH]   # cProfile of the engine alone, with and without a hedge armed

Writes bench/results/hedging_cpu.txt. Not run by the test suite.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import pstats
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path

import trio
from _util import text_table
from sync import CHAT, LIMITS, MODEL, upstream_process

from llm_router import AnthropicProvider, ProviderFormat, Router
from llm_router.executor import Executor
from llm_router.resilience import HedgePolicy
from llm_router.routing import Route

RESULTS = Path(__file__).parent / "results"
ROOT = Path(__file__).resolve().parent.parent
STRATEGIES: dict[str, HedgePolicy | None] = {
    "no hedging": None,
    "hedge armed (5 s)": HedgePolicy(delay=5.0),
    "adaptive p95": HedgePolicy(),
}


def build(url: str, hedge: HedgePolicy | None) -> Router:
    builder = Router.builder().with_limits(LIMITS).with_hedge_policy(hedge)
    for alias in ("primary", "secondary"):
        builder.add_provider(alias, AnthropicProvider(base_url=url))
        builder.add_api_key(alias, "sk-bench")
        builder.add_model_route(MODEL, alias, "claude-bench")
    return builder.build()


async def load(router: Router, calls: int, concurrency: int) -> float:
    """CPU seconds of this process per call."""
    remaining = calls

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await router.complete(CHAT, "openai")

    cpu = time.process_time()
    async with trio.open_nursery() as nursery:
        for _ in range(concurrency):
            nursery.start_soon(worker)
    return (time.process_time() - cpu) / calls


#: Two routes the trivial attempt never sends anything to.
_ROUTES = [
    Route(
        alias,
        AnthropicProvider(base_url="http://127.0.0.1:9"),
        ProviderFormat.ANTHROPIC,
        MODEL,
        None,
    )
    for alias in ("primary", "secondary")
]


async def _trivial(route: object) -> bytes:
    await trio.lowlevel.checkpoint()
    return b"{}"


async def calls_cpu(call: Callable[[], Awaitable[object]], calls: int, concurrency: int) -> float:
    """CPU seconds of this process per call of `call`, `concurrency` in flight."""
    remaining = calls

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await call()

    cpu = time.process_time()
    async with trio.open_nursery() as nursery:
        for _ in range(concurrency):
            nursery.start_soon(worker)
    return (time.process_time() - cpu) / calls


async def engine_table(args: argparse.Namespace) -> str:
    """The engine's own CPU per call: executor over a trivial attempt, minus the attempt."""
    calls: dict[str, Callable[[], Awaitable[object]]] = {"attempt alone": partial(_trivial, None)}
    cpu: dict[str, list[float]] = {name: [] for name in ["attempt alone", *STRATEGIES]}
    async with trio.open_nursery() as nursery:
        for name, hedge in STRATEGIES.items():
            executor = Executor(hedge=hedge)
            if executor.hedger is not None:  # as a router runs it, in its nursery
                await nursery.start(executor.hedger.run)
            calls[name] = partial(executor.run_complete, _ROUTES, _trivial, label=MODEL)
        for call in calls.values():
            await calls_cpu(call, 2000, args.concurrency)  # warm latency windows
        for _ in range(args.rounds):
            for name, call in calls.items():
                cpu[name].append(await calls_cpu(call, args.engine_calls, args.concurrency))
        nursery.cancel_scope.cancel()
    floor = statistics.median(cpu.pop("attempt alone"))
    base = statistics.median(cpu["no hedging"]) - floor
    rows = [
        [
            name,
            f"{(statistics.median(values) - floor) * 1e6:.1f}",
            f"{(statistics.median(values) - floor) / base:.2f}x",
        ]
        for name, values in cpu.items()
    ]
    title = (
        f"engine alone: {args.rounds} rounds x {args.engine_calls} calls at concurrency "
        f"{args.concurrency} of Executor.run_complete over an attempt that only checkpoints, "
        f"minus that attempt's own {floor * 1e6:.1f} us; medians"
    )
    return title + "\n" + text_table(["strategy", "engine CPU us/call", "vs no hedging"], rows)


async def engine_profile(args: argparse.Namespace) -> str:
    """cProfile of `--engine-calls` engine calls without hedging, then with a hedge armed."""
    out = io.StringIO()
    async with trio.open_nursery() as nursery:
        for name in ("no hedging", "hedge armed (5 s)"):
            executor = Executor(hedge=STRATEGIES[name])
            if executor.hedger is not None:
                await nursery.start(executor.hedger.run)
            call = partial(executor.run_complete, _ROUTES, _trivial, label=MODEL)
            await calls_cpu(call, 2000, args.concurrency)
            profiler = cProfile.Profile()
            profiler.enable()
            await calls_cpu(call, args.engine_calls, args.concurrency)
            profiler.disable()
            out.write(f"=== {name}: {args.engine_calls} engine calls at concurrency ")
            out.write(f"{args.concurrency}, by own time\n")
            pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(30)
        nursery.cancel_scope.cancel()
    return out.getvalue().replace(str(ROOT), ".")


async def main_async(args: argparse.Namespace) -> str:
    cpu: dict[str, list[float]] = {name: [] for name in STRATEGIES}
    hedges: dict[str, int] = {}
    async with upstream_process() as upstream, contextlib.AsyncExitStack() as stack:
        routers = {
            name: await stack.enter_async_context(build(upstream.url, hedge))
            for name, hedge in STRATEGIES.items()
        }
        for router in routers.values():  # warm pools and latency windows
            await load(router, args.concurrency * 4, args.concurrency)
        if args.profile:
            profiler = cProfile.Profile()
            profiler.enable()
            await load(routers["hedge armed (5 s)"], args.calls, args.concurrency)
            profiler.disable()
            out = io.StringIO()
            stats = pstats.Stats(profiler, stream=out)
            stats.sort_stats("tottime").print_stats(40)
            stats.print_callers(r"contextlib.py:299")
            return out.getvalue().replace(str(ROOT), ".")
        for _ in range(args.rounds):
            for name, router in routers.items():
                cpu[name].append(await load(router, args.calls, args.concurrency))
        for name, router in routers.items():
            routes = router.statistics()["routes"]
            hedges[name] = sum(route["hedges"] for route in routes.values())
    base = statistics.median(cpu["no hedging"])
    rows = [
        [
            name,
            f"{statistics.median(values) * 1e3:.3f}",
            f"{statistics.median(values) / base:.2f}x",
            str(hedges[name]),
        ]
        for name, values in cpu.items()
    ]
    title = (
        f"{args.rounds} rounds x {args.calls} non-streamed calls at concurrency "
        f"{args.concurrency}, two routes on one fast upstream; medians; Python "
        f"{sys.version.split()[0]}"
    )
    headers = ["strategy", "CPU ms/call", "vs no hedging", "hedges sent"]
    return title + "\n" + text_table(headers, rows) + "\n\n" + await engine_table(args)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--engine-calls", type=int, default=20000)
    parser.add_argument("--profile", metavar="PATH")
    parser.add_argument("--engine-profile", metavar="PATH")
    args = parser.parse_args()
    profile = args.engine_profile or args.profile
    text = trio.run(engine_profile if args.engine_profile else main_async, args)
    path = Path(profile) if profile else RESULTS / "hedging_cpu.txt"
    path.parent.mkdir(exist_ok=True)
    path.write_text(text + "\n")
    print(text if not profile else f"profile written to {path}")


if __name__ == "__main__":
    main()
