"""Cold import time of `llm_router` against its own dependencies and, optionally, LiteLLM.

Import time is what a CLI or a serverless function pays on every start. Each figure is the
median of fresh interpreter processes. LiteLLM is heavy, so it is measured in an interpreter of
its own: `python bench/import_time.py --litellm-python /path/to/venv/bin/python` (it runs with
LITELLM_LOCAL_MODEL_COST_MAP=True so that it does not try the network at import).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys

RUNS = 7


def import_seconds(
    module: str, python: str = sys.executable, env: dict[str, str] | None = None
) -> float | None:
    """Median seconds to import `module` in fresh `python` processes; None if it fails."""
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    samples = []
    for _ in range(RUNS):
        done = subprocess.run([python, "-c", code], capture_output=True, text=True, env=env)
        if done.returncode != 0:
            return None
        samples.append(float(done.stdout.strip().splitlines()[-1]))
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--litellm-python", help="an interpreter with litellm installed")
    args = parser.parse_args()
    ours = import_seconds("llm_router")
    assert ours is not None
    rows: list[tuple[str, float | None]] = [("json (floor)", import_seconds("json"))]
    rows += [(name, import_seconds(name)) for name in ("trio", "httpx")]
    if args.litellm_python:
        env = dict(os.environ, LITELLM_LOCAL_MODEL_COST_MAP="True")
        rows.append(("litellm", import_seconds("litellm", args.litellm_python, env)))
    print(f"{'module':<14} {'median':>10}   llm_router / module")
    print(f"{'llm_router':<14} {ours * 1000:>7.0f} ms")
    for name, seconds in rows:
        if seconds is None:
            print(f"{name:<14} {'failed':>10}")
        else:
            print(f"{name:<14} {seconds * 1000:>7.0f} ms   {ours / seconds:.2f}x")


if __name__ == "__main__":
    main()
