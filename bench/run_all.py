"""Run every benchmark in turn (`make bench`); each prints its own table of medians and ratios."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
BENCHMARKS = [
    "translate.py",
    "fake_server.py",
    "stream_floor.py",
    "stream_floor.py --levels 1,8,32,64 --rounds 2",
    "sync.py",
    "memory.py",
    "hedging.py",
    "hedging_cpu.py",
    "gateway.py",
    "import_time.py",
    "scale_out.py",
    "plot.py",  # last: the PNGs from the results above
]


#: Benchmarks that also measure LiteLLM when its environment (`make bench`) has it.
WITH_LITELLM = {"stream_floor.py", "sync.py", "import_time.py"}
LITELLM_PYTHON = HERE / ".litellm-venv" / "bin" / "python"


def _litellm_python() -> str | None:
    if not LITELLM_PYTHON.exists():
        return None
    probe = [str(LITELLM_PYTHON), "-c", "import litellm"]
    env = dict(os.environ, LITELLM_LOCAL_MODEL_COST_MAP="True")
    return str(LITELLM_PYTHON) if subprocess.call(probe, env=env) == 0 else None


def main() -> int:
    failed = 0
    litellm = _litellm_python()
    if litellm is None:
        print("LiteLLM is not installed in bench/.litellm-venv: measuring without it")
    for entry in BENCHMARKS:
        name, *options = entry.split()
        print(f"\n=== bench/{entry} ===", flush=True)
        command = [sys.executable, str(HERE / name), *options]
        if litellm is not None and name in WITH_LITELLM:
            command += ["--litellm-python", litellm]
        failed += subprocess.call(command) != 0
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
