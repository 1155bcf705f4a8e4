"""`llm-router-fake serve ARGS...` as `fake_server.py` runs it: optionally under pyinstrument,
on the fake's own HTTP/1.1 listener (`--fast-http1`), or with `--hypercorn` on hypercorn's (the
fake's default, the baseline the listener is measured against).

    python bench/_profiled_fake.py [--profile PATH [--cpu]] [--hypercorn] serve --port 0

With `--profile`, the profile (text) is written to PATH when the server is interrupted
(SIGINT): pyinstrument's wall-clock tree, or with `--cpu` cProfile's table in CPU time (on
shared cores the wall clock also counts the time the server waited for a core, mostly
inside its socket sends). `--hypercorn` serves the same app with `hypercorn.trio.serve` for every
connection, as the fake does by default.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import time
from pathlib import Path

from llm_router_testing.cli import main


def run() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--profile", type=Path, help="write the server's profile here")
    parser.add_argument("--cpu", action="store_true", help="cProfile in CPU time")
    parser.add_argument("--hypercorn", action="store_true", help="hypercorn's HTTP/1.1 path")
    args, argv = parser.parse_known_args()
    if not args.hypercorn:
        argv = [*argv, "--fast-http1"]
    if args.profile is None:
        return main(argv)
    if args.cpu:
        return _cpu_profiled(args.profile, argv)
    from pyinstrument import Profiler

    profiler = Profiler(interval=0.0005, async_mode="disabled")
    profiler.start()
    try:
        return main(argv)
    except BaseException:  # the interrupt, possibly inside a group: the profile still counts
        return 0
    finally:
        profiler.stop()
        text = profiler.output_text(unicode=True, color=False, show_all=False)
        args.profile.write_text(
            "\n".join(line for line in text.splitlines() if not line.startswith("Profile at"))
            + "\n"
        )


def _cpu_profiled(path: Path, argv: list[str]) -> int:
    profile = cProfile.Profile(time.process_time)
    profile.enable()
    try:
        return main(argv)
    except BaseException:  # the interrupt, possibly inside a group: the profile still counts
        return 0
    finally:
        profile.disable()
        text = io.StringIO()
        stats = pstats.Stats(profile, stream=text).strip_dirs()
        text.write("CPU time (time.process_time), by cumulative time:\n")
        stats.sort_stats("cumulative").print_stats(45)
        text.write("by own time:\n")
        stats.sort_stats("tottime").print_stats(30)
        lines = [line.rstrip() for line in text.getvalue().splitlines()]
        path.write_text("\n".join(line for line in lines if line) + "\n")


if __name__ == "__main__":
    sys.exit(run())
