"""Where the import time of a statement goes: `python -X importtime`, beyond the floor.

Runs `import httpx, trio, orjson; <statement>` in fresh interpreters and prints, for every
module the statement adds to what the floor (`import httpx, trio, orjson`) loads, the median
of its own import time (the module's body, without the modules it imports). `-X importtime`
does not time modules loaded through `importlib.import_module`, which the package root's lazy
names use, so the default statement imports the modules `from llm_router import Router,
OpenAIProvider` ends up loading by name. Bytecode is prepared as `import_time.py` does
(`--from-source` to compile the package on every import).
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
from collections import defaultdict

from import_time import FLOOR, prepare_bytecode

STATEMENT = "import llm_router.router, llm_router.providers.openai"
_LINE = re.compile(r"import time:\s+(\d+) \|\s+\d+ \|\s*(\S+)")


def loaded_by(statement: str, env: dict[str, str] | None) -> set[str]:
    code = f"import sys; {statement}; print(' '.join(sys.modules))"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    return set(done.stdout.split())


def own_times(statement: str, env: dict[str, str] | None) -> dict[str, int]:
    """Microseconds of own import time per module, for one fresh interpreter."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"{FLOOR}; {statement}"],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    return {m[2]: int(m[1]) for m in map(_LINE.match, done.stderr.splitlines()) if m}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--statement", default=STATEMENT)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--top", type=int, default=40, help="modules to list")
    parser.add_argument("--from-source", action="store_true")
    args = parser.parse_args()
    env = prepare_bytecode(args.from_source)
    extra = loaded_by(f"{FLOOR}; {args.statement}", env) - loaded_by(FLOOR, env)
    samples: defaultdict[str, list[int]] = defaultdict(list)
    for _ in range(args.runs):
        for module, micros in own_times(args.statement, env).items():
            if module in extra:
                samples[module].append(micros)
    rows = sorted(((statistics.median(v) / 1000, k) for k, v in samples.items()), reverse=True)
    ours = sum(ms for ms, name in rows if name.split(".")[0] == "llm_router")
    print(f"`{args.statement}` beyond `{FLOOR}`, median own time of {args.runs} processes")
    print(
        f"extra modules {len(rows)}; extra own time median {sum(ms for ms, _ in rows):.1f} ms;"
        f" llm_router own {ours:.1f} ms\n"
    )
    print("  own ms  module")
    for ms, name in rows[: args.top]:
        print(f"  {ms:6.1f}  {name}")


if __name__ == "__main__":
    main()
