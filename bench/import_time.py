"""Cold import time of `llm_router` against its own dependencies and, optionally, LiteLLM.

Import time is what a CLI or a serverless function pays on every start. Each figure is the
median of fresh interpreter processes, the statements taking turns round after round so that
the load of a shared machine falls on all of them alike. The floor is `import httpx, trio,
orjson` (what any Trio HTTP client pays); `import llm_router` loads its public names on first
use, so the second row is what a program that builds an OpenAI router imports. LiteLLM is
heavy, so it is measured in an interpreter of its own:
`python bench/import_time.py --litellm-python /path/to/venv/bin/python` (it runs with
LITELLM_LOCAL_MODEL_COST_MAP=True so that it does not try the network at import).

Every package is measured as installed, from its cached bytecode: pip compiles a wheel's
modules when it installs them, but an editable install leaves `llm_router` to be compiled on
first import, and never when PYTHONDONTWRITEBYTECODE is set, which would time our compiler
runs against the dependencies' cached bytecode. So the package is compiled first.
`--from-source` measures the other way, each import compiling `llm_router` afresh (its
caches removed and none written).
"""

from __future__ import annotations

import argparse
import compileall
import importlib.util
import os
import shutil
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
) -> tuple[float, float] | None:
    """Seconds `statement` takes in a fresh `python` process, of wall time and of the
    process's CPU time; None if it fails."""
    code = (
        "import time; t, c = time.perf_counter(), time.process_time(); "
        f"{statement}; print(time.perf_counter() - t, time.process_time() - c)"
    )
    done = subprocess.run([python, "-c", code], capture_output=True, text=True, env=env)
    if done.returncode != 0:
        return None
    wall, cpu = done.stdout.strip().splitlines()[-1].split()
    return float(wall), float(cpu)


def package_dirs() -> list[str]:
    """The directories of `llm_router`'s source, found without importing it."""
    spec = importlib.util.find_spec("llm_router")
    assert spec is not None and spec.submodule_search_locations is not None
    return list(spec.submodule_search_locations)


def prepare_bytecode(from_source: bool) -> dict[str, str] | None:
    """Compile `llm_router` to bytecode as an install would; or, `from_source`, remove its
    bytecode and return an environment in which none is written again."""
    for directory in package_dirs():
        if from_source:
            for root, dirs, _ in os.walk(directory):
                if "__pycache__" in dirs:
                    shutil.rmtree(os.path.join(root, "__pycache__"))
        elif not compileall.compile_dir(directory, quiet=1):
            raise SystemExit(f"could not compile {directory} to bytecode")
    return dict(os.environ, PYTHONDONTWRITEBYTECODE="1") if from_source else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--litellm-python", help="an interpreter with litellm installed")
    parser.add_argument("--runs", type=int, default=RUNS)
    parser.add_argument(
        "--from-source",
        action="store_true",
        help="compile llm_router on every import instead of loading its bytecode",
    )
    args = parser.parse_args()
    statements = dict(STATEMENTS)
    pythons = dict.fromkeys(statements, sys.executable)
    envs: dict[str, dict[str, str] | None] = dict.fromkeys(
        statements, prepare_bytecode(args.from_source)
    )
    if args.litellm_python:
        statements["import litellm"] = "import litellm"
        pythons["import litellm"] = args.litellm_python
        envs["import litellm"] = dict(os.environ, LITELLM_LOCAL_MODEL_COST_MAP="True")
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in statements}
    failed: set[str] = set()
    for _ in range(args.runs):
        for name, statement in statements.items():
            seconds = import_seconds(statement, pythons[name], envs[name])
            if seconds is None:
                failed.add(name)
            else:
                samples[name].append(seconds)
    floor = [statistics.median(s[i] for s in samples[FLOOR + " (floor)"]) for i in (0, 1)]
    source = "compiled on every import" if args.from_source else "loaded from its bytecode"
    print(f"median of {args.runs} fresh processes each, taking turns; llm_router {source}")
    # The wall time is the figure; the CPU time leaves out waits for a core, which on a
    # loaded machine make the wall figures of one run disagree with the next.
    print(f"{'statement':<34} {'wall':>9}   vs floor {'CPU':>9}   vs floor")
    for name in statements:
        if name in failed or not samples[name]:
            print(f"{name:<34} {'failed':>9}")
            continue
        wall, cpu = (statistics.median(s[i] for s in samples[name]) for i in (0, 1))
        print(
            f"{name:<34} {wall * 1000:>6.0f} ms   {wall / floor[0]:>7.2f}x"
            f" {cpu * 1000:>6.0f} ms   {cpu / floor[1]:>7.2f}x"
        )


if __name__ == "__main__":
    main()
