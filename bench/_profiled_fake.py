"""`llm-router-fake serve ARGS...` under pyinstrument, for `fake_server.py --profile`.

    python bench/_profiled_fake.py PROFILE_PATH serve --port 0

The profile (text) is written to PROFILE_PATH when the server is interrupted (SIGINT).
"""

from __future__ import annotations

import sys
from pathlib import Path

from pyinstrument import Profiler

from llm_router_testing.cli import main


def run() -> int:
    path, argv = Path(sys.argv[1]), sys.argv[2:]
    profiler = Profiler(interval=0.0005, async_mode="disabled")
    profiler.start()
    try:
        return main(argv)
    except BaseException:  # the interrupt, possibly inside a group: the profile still counts
        return 0
    finally:
        profiler.stop()
        text = profiler.output_text(unicode=True, color=False, show_all=False)
        path.write_text(
            "\n".join(line for line in text.splitlines() if not line.startswith("Profile at"))
            + "\n"
        )


if __name__ == "__main__":
    sys.exit(run())
