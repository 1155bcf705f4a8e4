"""Run every benchmark in turn (`make bench`); each prints its own table of medians and ratios."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
BENCHMARKS = [
    "translate.py",
    "fake_server.py",
    "stream_floor.py",
    "hedging.py",
    "import_time.py",
    "scale_out.py",
]


def main() -> int:
    failed = 0
    for name in BENCHMARKS:
        print(f"\n=== bench/{name} ===", flush=True)
        failed += subprocess.call([sys.executable, str(HERE / name)]) != 0
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
