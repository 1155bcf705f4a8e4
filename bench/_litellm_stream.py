"""LiteLLM's side of `stream_floor.py`, run by the interpreter of LiteLLM's own environment.

    bench/.litellm-venv/bin/python bench/_litellm_stream.py URL STREAMS CONCURRENCY ROUNDS ALONE

Streams the same Anthropic upstream through `litellm.acompletion(stream=True)` (OpenAI-shaped
chunks, as the router's OpenAI caller gets) on asyncio, and prints one JSON line per round:
seconds, CPU seconds, times to first event under load and one stream at a time.
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


async def once(url: str) -> float:
    started = time.perf_counter()
    first = 0.0
    events = 0
    response = await litellm.acompletion(
        model="anthropic/claude-bench",
        messages=MESSAGES,
        max_tokens=256,
        stream=True,
        api_base=url,
        api_key="sk-bench",
    )
    async for _ in response:
        if not events:
            first = time.perf_counter() - started
        events += 1
    return first


async def load(url: str, streams: int, concurrency: int) -> tuple[float, float, list[float]]:
    firsts: list[float] = []
    remaining = streams

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            firsts.append(await once(url))

    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started, time.process_time() - cpu, firsts


async def main() -> None:
    url, streams, concurrency, rounds, alone = sys.argv[1], *map(int, sys.argv[2:6])
    await load(url, concurrency, concurrency)  # warm up
    for _ in range(rounds):
        seconds, cpu, firsts = await load(url, streams, concurrency)
        _, _, alone_firsts = await load(url, alone, 1)
        row = {
            "seconds": seconds,
            "cpu_seconds": cpu,
            "first_events": firsts,
            "first_events_alone": alone_firsts,
        }
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
