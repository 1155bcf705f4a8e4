"""The `llm-router-fake` command: run the fake provider server from a shell.

    llm-router-fake serve --port 8123 [--host 127.0.0.1] [--latency '50ms:0.97,3s:0.03']
                          [--scenario scenario.json] [--fixtures cassettes/] [--seed 7]
                          [--no-auth] [--strict-models] [--serve-as google ...]
                          [--record-to DIR --upstream-for openai=https://api.openai.com ...]
    llm-router-fake import-vcr tests/cassettes/test_chat.yaml fixtures/test_chat.json

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
from llm_router_testing.fake.crossformat import parse_serve_as
from llm_router_testing.fake.fixtures import Fixtures
from llm_router_testing.fake.server import DEFAULT_BACKLOG, FakeProvider
from llm_router_testing.proxy import ProxyError, RecordingProxy, bedrock_signer, parse_upstreams

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="llm-router-fake", description="Fake LLM provider server for testing gateways."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("serve", help="serve every provider's endpoints until interrupted")
    run.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    run.add_argument("--port", type=int, default=0, help="port to bind (default: a free one)")
    run.add_argument(
        "--backlog",
        type=int,
        default=DEFAULT_BACKLOG,
        help=f"listen queue length (default {DEFAULT_BACKLOG})",
    )
    run.add_argument(
        "--fast-http1",
        action="store_true",
        help="serve HTTP/1.1 with the fake's own listener instead of hypercorn's (same bytes,"
        " about four times the requests per CPU-second: for load tests)",
    )
    run.add_argument("--latency", help="server-wide latency mixture, e.g. '50ms:0.97,3s:0.03'")
    run.add_argument("--scenario", help="scenario JSON file (faults by rule, see docs)")
    run.add_argument("--fixtures", help="directory of cassette JSON files to serve")
    run.add_argument("--seed", type=int, help="seed for latency draws and rule probabilities")
    run.add_argument("--no-auth", action="store_true", help="accept requests without credentials")
    run.add_argument(
        "--strict-models",
        action="store_true",
        help="refuse every model id the real provider would (default: only impossible ones)",
    )
    run.add_argument(
        "--serve-as",
        action="append",
        metavar="FORMAT",
        help="with --fixtures: serve the recordings in FORMAT too (openai, responses, anthropic,"
        " google, converse, mistral), translated; repeatable (default: every format, by path)",
    )
    run.add_argument(
        "--record-to",
        metavar="DIR",
        help="forward the --upstream-for providers upstream and record cassettes into DIR",
    )
    run.add_argument(
        "--upstream-for",
        action="append",
        default=[],
        metavar="PROVIDER=URL",
        help="with --record-to: send this provider's requests to URL (its host root), repeatable",
    )
    run.add_argument(
        "--aws-region",
        metavar="REGION",
        help="with --upstream-for bedrock=URL: the region SigV4-signed Bedrock requests are signed"
        " again for (default: the region in the URL's host, else the AWS configuration's);"
        " the credentials come from the AWS environment, profile or role",
    )
    convert = commands.add_parser(
        "import-vcr", help="convert a vcrpy / pytest-recording YAML cassette to this format"
    )
    convert.add_argument("source", help="the vcrpy cassette (.yaml)")
    convert.add_argument("destination", help="the cassette file to write (.json)")
    return parser


def _import_vcr(source: str, destination: str) -> int:
    from llm_router_testing.cassette_format import CassetteError
    from llm_router_testing.importers import import_vcr_cassette

    try:
        count = import_vcr_cassette(source, destination)
    except CassetteError as error:
        print(f"llm-router-fake: {error}", file=sys.stderr)
        return 2
    print(f"imported {count} interaction(s) into {destination}")
    return 0


def _ready(fake: FakeProvider) -> None:
    print(f"llm-router-fake listening on {fake.url}", flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit status."""
    args = _parser().parse_args(argv)
    if args.command == "import-vcr":
        return _import_vcr(args.source, args.destination)
    if args.backlog < 1:
        print(f"llm-router-fake: --backlog must be at least 1, got {args.backlog}", file=sys.stderr)
        return 2
    try:
        latency = LatencyMixture.parse(args.latency) if args.latency else None
        scenario = Scenario.load(args.scenario) if args.scenario else None
        fixtures = Fixtures.load(args.fixtures) if args.fixtures else None
        proxy = None
        if args.record_to or args.upstream_for:
            if not (args.record_to and args.upstream_for):
                raise ProxyError("--record-to and --upstream-for go together")
            upstreams = parse_upstreams(args.upstream_for)
            aws = (
                bedrock_signer(upstreams["bedrock"], args.aws_region)
                if "bedrock" in upstreams
                else None
            )
            proxy = RecordingProxy(upstreams, args.record_to, aws=aws)
        if args.serve_as and not args.fixtures:
            raise FixtureError("--serve-as serves recordings: give them with --fixtures DIR")
        parse_serve_as(args.serve_as)
    except (FaultSpecError, FixtureError, ProxyError, ValueError) as error:
        print(f"llm-router-fake: {error}", file=sys.stderr)
        return 2
    run = partial(
        serve,
        on_ready=_ready,
        host=args.host,
        port=args.port,
        backlog=args.backlog,
        latency=latency,
        scenario=scenario,
        fixtures=fixtures,
        seed=args.seed,
        require_auth=not args.no_auth,
        proxy=proxy,
        strict_models=args.strict_models,
        serve_as=args.serve_as,
        fast_http1=args.fast_http1,
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
