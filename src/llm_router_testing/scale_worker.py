"""One router process for multi-process tests and the scale-out benchmark.

``python -m llm_router_testing.scale_worker --fake URL [--redis URL] ...`` builds a router
against the fake provider, optionally sharing its limits and circuits through Redis, sends
requests for a while and prints one JSON line: what it sent, what came back, how long the
slowest call took, the CPU time it spent sending, and how many Redis round trips and
fallbacks it saw.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from collections import Counter
from typing import Any

import orjson
import trio

from llm_router import (
    BreakerPolicy,
    OpenAIProvider,
    RateLimitPolicy,
    RedisState,
    RetryPolicy,
    Router,
    TimeoutPolicy,
    errors,
)
from llm_router_testing.fake import FAKE_KEYS

MODEL = "scale-model"


def build_router(args: argparse.Namespace) -> Router:
    builder = Router.builder()
    if args.dead_first:
        # A route nobody listens on, tried first: its failures open its circuit.
        builder.add_provider("dead", OpenAIProvider(base_url=args.dead_url))
        builder.add_api_key("dead", FAKE_KEYS["openai"])
        builder.add_model_route(MODEL, "dead", "gpt-4o-mini")
    builder.add_provider("live", OpenAIProvider(base_url=args.fake + "/v1"))
    builder.add_api_key("live", FAKE_KEYS["openai"])
    builder.add_model_route(MODEL, "live", "gpt-4o-mini")
    builder.with_retry_policy(RetryPolicy(max_attempts=1))
    builder.with_circuit_breaker(BreakerPolicy(consecutive_failures=2, cooldown=60.0))
    builder.with_timeouts(TimeoutPolicy(total=args.deadline))
    if args.rpm:
        builder.with_rate_limits(
            RateLimitPolicy(rpm=args.rpm, period=args.period, on_limit="wait"),
            scope="model",
        )
    if args.redis:
        builder.with_shared_state(
            RedisState(
                args.redis,
                prefix=args.prefix,
                timeout=args.redis_timeout,
                fallback_share=args.fallback_share,
                reconnect_interval=0.2,
            )
        )
    return builder.build()


async def run(args: argparse.Namespace) -> dict[str, Any]:
    router = build_router(args)
    body = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5}
    outcomes: Counter[str] = Counter()
    routes: Counter[str] = Counter()
    attempted: Counter[str] = Counter()
    slowest = 0.0
    sent = 0
    tag = {"x-request-id": f"scale-worker-{os.getpid()}"}  # tells the workers apart upstream
    async with router:
        if args.start_at:
            await trio.sleep(max(0.0, args.start_at - time.time()))
        stop_at = time.time() + args.duration
        cpu_started = time.process_time()
        stop_file = None if args.stop_file is None else trio.Path(args.stop_file)

        async def caller() -> None:
            nonlocal slowest, sent
            while time.time() < stop_at and (not args.requests or sent < args.requests):
                if stop_file is not None and await stop_file.exists():
                    return
                sent += 1
                started = time.perf_counter()
                try:
                    with trio.move_on_at(trio.current_time() + (stop_at - time.time())) as scope:
                        result = await router.complete(body, "openai", headers=tag)
                    if scope.cancelled_caught:
                        outcomes["unfinished"] += 1
                        continue
                    outcomes["ok"] += 1
                    routes[result.provider] += 1
                    for record in result.attempts:
                        attempted[record.route.partition("/")[0]] += 1
                except errors.RateLimitError:
                    outcomes["limited"] += 1
                except errors.LLMRouterError as exc:
                    outcomes[type(exc).__name__] += 1
                slowest = max(slowest, time.perf_counter() - started)

        async with trio.open_nursery() as nursery:
            for _ in range(args.concurrency):
                nursery.start_soon(caller)
        cpu = time.process_time() - cpu_started
        stats = router.statistics()
    shared = stats.get("shared_state") or {}
    return {
        "outcomes": dict(outcomes),
        "routes": dict(routes),
        "attempted": dict(attempted),
        "sent": sent,
        "slowest": slowest,
        "cpu_seconds": cpu,  # this process's CPU time while sending
        "round_trips": shared.get("round_trips", 0),
        "fallbacks": shared.get("fallbacks", 0),
        "shared_at_end": shared.get("shared", False),
        "reconnects": shared.get("reconnects", 0),
    }


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="scale_worker", description=__doc__)
    parser.add_argument("--fake", required=True, help="fake provider root URL")
    parser.add_argument("--redis", default=None, help="share state through this Redis URL")
    parser.add_argument("--prefix", default="scale")
    parser.add_argument("--rpm", type=int, default=0, help="requests per period (0: no limit)")
    parser.add_argument("--period", type=float, default=60.0)
    parser.add_argument("--duration", type=float, default=2.0, help="seconds of sending")
    parser.add_argument("--requests", type=int, default=0, help="stop after this many (0: no cap)")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--deadline", type=float, default=30.0)
    parser.add_argument("--start-at", type=float, default=0.0, help="epoch time to start at")
    parser.add_argument("--redis-timeout", type=float, default=0.1)
    parser.add_argument("--fallback-share", type=float, default=1.0)
    parser.add_argument("--stop-file", default=None, help="stop sending once this file exists")
    parser.add_argument("--dead-first", action="store_true")
    parser.add_argument("--dead-url", default="http://127.0.0.1:9/v1")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if not (math.isfinite(args.duration) and args.duration > 0):
        print("--duration must be a positive number of seconds", file=sys.stderr)
        return 2
    report = trio.run(run, args)
    sys.stdout.buffer.write(orjson.dumps(report) + b"\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
