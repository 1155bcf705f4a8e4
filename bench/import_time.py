"""Cold import time of `llm_router` against its own dependencies and, optionally, LiteLLM.

Import time is what a CLI or a serverless function pays on every start. Each figure is the
median of fresh interpreter processes, the statements taking turns round after round so that
the load of a shared machine falls on all of them alike. The floor is `import httpx, trio,
orjson` (what any Trio HTTP client pays); `import llm_router` loads its public names on first
use, so the second row is what a program that builds an OpenAI router imports. LiteLLM is
heavy, so it is measured in an interpreter of its own:
`python bench/import_time.py --litellm-python /path/to/venv/bin/python` (it runs with
LITELLM_LOCAL_MODEL_COST_MAP=True so that it does not try the network at import).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys

RUNS = 9
FLOOR = "import httpx, trio, orjson"
STATEMENTS = {
    "import llm_router": "import llm_router",
    "Router + OpenAIProvider": "from llm_router import Router, OpenAIProvider",
    "Router, every provider": (
        "from llm_router import Router, OpenAIProvider, AnthropicProvider, GoogleProvider, "
        "VertexProvider, BedrockProvider, AzureProvider, MistralProvider"
    ),
    FLOOR + " (floor)": FLOOR,
    "json": "import json",
}


def import_seconds(
    statement: str, python: str = sys.executable, env: dict[str, str] | None = None
) -> float | None:
    """Seconds `statement` takes in a fresh `python` process; None if it fails."""
    code = f"import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
    done = subprocess.run([python, "-c", code], capture_output=True, text=True, env=env)
    if done.returncode != 0:
        return None
    return float(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--litellm-python", help="an interpreter with litellm installed")
    parser.add_argument("--runs", type=int, default=RUNS)
    args = parser.parse_args()
    statements = dict(STATEMENTS)
    pythons = dict.fromkeys(statements, sys.executable)
    env = None
    if args.litellm_python:
        statements["import litellm"] = "import litellm"
        pythons["import litellm"] = args.litellm_python
        env = dict(os.environ, LITELLM_LOCAL_MODEL_COST_MAP="True")
    samples: dict[str, list[float]] = {name: [] for name in statements}
    failed: set[str] = set()
    for _ in range(args.runs):
        for name, statement in statements.items():
            seconds = import_seconds(statement, pythons[name], env)
            if seconds is None:
                failed.add(name)
            else:
                samples[name].append(seconds)
    floor = statistics.median(samples[FLOOR + " (floor)"])
    print(f"median of {args.runs} fresh processes each, taking turns")
    print(f"{'statement':<32} {'median':>9}   vs floor")
    for name in statements:
        if name in failed or not samples[name]:
            print(f"{name:<32} {'failed':>9}")
            continue
        seconds = statistics.median(samples[name])
        print(f"{name:<32} {seconds * 1000:>6.0f} ms   {seconds / floor:.2f}x")


if __name__ == "__main__":
    main()
