"""LiteLLM's side of `sync.py`, run by the interpreter of LiteLLM's own environment.

    bench/.litellm-venv/bin/python bench/_litellm_sync.py URL '[[CONCURRENCY, REQUESTS], ...]' ROUNDS

Calls the same Anthropic upstream through `litellm.acompletion` (OpenAI-shaped answers, as
the router's OpenAI caller gets) on asyncio, and prints one JSON line per round and level:
requests, seconds, CPU seconds, latencies.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import litellm

MESSAGES = [{"role": "user", "content": "hello"}]


async def once(url: str) -> None:
    await litellm.acompletion(
        model="anthropic/claude-bench",
        messages=MESSAGES,
        max_tokens=256,
        api_base=url,
        api_key="sk-bench",
    )


async def load(url: str, requests: int, concurrency: int) -> dict[str, object]:
    latencies: list[float] = []
    remaining = requests

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            started = time.perf_counter()
            await once(url)
            latencies.append(time.perf_counter() - started)

    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return {
        "concurrency": concurrency,
        "requests": requests,
        "seconds": time.perf_counter() - started,
        "cpu_seconds": time.process_time() - cpu,
        "latencies": latencies,
    }


async def main() -> None:
    url, plan, rounds = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3])
    top = max(level for level, _ in plan)
    await load(url, top * 2, top)  # warm up
    for level, requests in plan:
        for _ in range(rounds):
            print(json.dumps(await load(url, requests, level)), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
