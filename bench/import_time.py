"""Cold import time of `llm_router` (and of LiteLLM when installed), median of fresh processes.

Import time is what a CLI or a serverless function pays on every start.
"""

from __future__ import annotations

import statistics
import subprocess
import sys

RUNS = 7


def _import_seconds(module: str) -> float | None:
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    samples = []
    for _ in range(RUNS):
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        if done.returncode != 0:
            return None
        samples.append(float(done.stdout.strip()))
    return statistics.median(samples)


def main() -> None:
    baseline = _import_seconds("json")
    ours = _import_seconds("llm_router")
    assert baseline is not None and ours is not None
    print(f"{'module':<14} {'median import':>14}")
    print(f"{'json':<14} {baseline * 1000:>11.1f} ms  (baseline)")
    print(f"{'llm_router':<14} {ours * 1000:>11.1f} ms")
    for peer in ("httpx", "trio", "litellm"):
        seconds = _import_seconds(peer)
        if seconds is None:
            print(f"{peer:<14} {'not installed':>14}")
        else:
            print(
                f"{peer:<14} {seconds * 1000:>11.1f} ms  (llm_router / {peer} = {ours / seconds:.2f}x)"
            )


if __name__ == "__main__":
    main()
