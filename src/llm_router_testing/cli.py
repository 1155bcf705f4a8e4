"""The `llm-router-fake` command: run the fake provider server from a shell.

    llm-router-fake serve --port 8123 [--host 127.0.0.1] [--latency '50ms:0.97,3s:0.03']
                          [--scenario scenario.json] [--fixtures cassettes/] [--seed 7]
                          [--no-auth]

Prints the base URL once listening and serves until interrupted.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from functools import partial

import trio

from llm_router_testing.fake import (
    FaultSpecError,
    FixtureError,
    LatencyMixture,
    Scenario,
    serve,
)
from llm_router_testing.fake.fixtures import Fixtures
from llm_router_testing.fake.server import FakeProvider

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="llm-router-fake", description="Fake LLM provider server for testing gateways."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("serve", help="serve every provider's endpoints until interrupted")
    run.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    run.add_argument("--port", type=int, default=0, help="port to bind (default: a free one)")
    run.add_argument("--latency", help="server-wide latency mixture, e.g. '50ms:0.97,3s:0.03'")
    run.add_argument("--scenario", help="scenario JSON file (faults by rule, see docs)")
    run.add_argument("--fixtures", help="directory of cassette JSON files to serve")
    run.add_argument("--seed", type=int, help="seed for latency draws and rule probabilities")
    run.add_argument("--no-auth", action="store_true", help="accept requests without credentials")
    return parser


def _ready(fake: FakeProvider) -> None:
    print(f"llm-router-fake listening on {fake.url}", flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit status."""
    args = _parser().parse_args(argv)
    try:
        latency = LatencyMixture.parse(args.latency) if args.latency else None
        scenario = Scenario.load(args.scenario) if args.scenario else None
        fixtures = Fixtures.load(args.fixtures) if args.fixtures else None
    except (FaultSpecError, FixtureError) as error:
        print(f"llm-router-fake: {error}", file=sys.stderr)
        return 2
    run = partial(
        serve,
        on_ready=_ready,
        host=args.host,
        port=args.port,
        latency=latency,
        scenario=scenario,
        fixtures=fixtures,
        seed=args.seed,
        require_auth=not args.no_auth,
    )
    try:
        trio.run(run)
    except KeyboardInterrupt:
        return 0
    except OSError as error:
        print(
            f"llm-router-fake: cannot listen on {args.host}:{args.port}: {error}", file=sys.stderr
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
