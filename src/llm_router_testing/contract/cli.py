"""The `llm-router-contract` command: run the contract suite against a gateway, print the table.

Exit status: 0 when every selected check passed or was skipped (and at least one passed),
1 when a check failed, 2 for a usage error.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TextIO

import trio

from llm_router.realtime import RealtimeFormat
from llm_router.types import ProviderFormat

from .realtime import REALTIME_CHECKS
from .report import render_table
from .runner import ContractConfig, ContractFormat, parse_contract_format, run_contract
from .suite import CHECKS

__all__ = ["build_parser", "main"]

_FORMATS = [fmt.value for fmt in ProviderFormat] + [fmt.value for fmt in RealtimeFormat]
_CHECK_NAMES = list(dict.fromkeys([*(check.name for check in CHECKS), *REALTIME_CHECKS]))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="llm-router-contract",
        description=(
            "Check an LLM gateway placed in front of the fake provider server "
            "(llm-router-fake serve). With --fake-url, faults are injected through the "
            "fake's scenario; without it, the gateway must forward x-fake-* request headers."
        ),
    )
    parser.add_argument("--base-url", required=True, help="the gateway's base URL")
    parser.add_argument(
        "--format",
        default="all",
        help=f"'all' (every format the gateway serves), or a comma list of: {', '.join(_FORMATS)}",
    )
    parser.add_argument(
        "--fake-url",
        help="the fake provider server's URL; enables the retry_after and disconnect checks",
    )
    parser.add_argument(
        "--model",
        action="append",
        default=[],
        metavar="[FORMAT=]MODEL",
        help="the model to ask for (every format, or one format with FORMAT=MODEL); repeatable",
    )
    parser.add_argument(
        "--embedding-model",
        action="append",
        default=[],
        metavar="[FORMAT=]MODEL",
        help="the embedding model the embedding checks ask for (default: text-embedding-3-small,"
        " mistral-embed, gemini-embedding-001); repeatable",
    )
    parser.add_argument(
        "--api-key",
        action="append",
        default=[],
        metavar="[FORMAT=]KEY",
        help="a key sent in each format's usual header (or FORMAT=KEY); repeatable",
    )
    parser.add_argument(
        "--only",
        nargs="+",
        default=[],
        metavar="NAME",
        choices=_CHECK_NAMES,
        help="run only these checks",
    )
    parser.add_argument(
        "--bad-key",
        help=(
            "a key the gateway must refuse (realtime keys_refused check; default: a random key"
            " for the formats given --api-key)"
        ),
    )
    parser.add_argument(
        "--timeout", type=float, default=30.0, help="seconds per HTTP request (default 30)"
    )
    parser.add_argument(
        "--timeout-bound",
        type=float,
        default=5.0,
        help="seconds within which the gateway answers when its upstream stalls: its first-byte"
        " and idle timeouts, retries included (default 5)",
    )
    return parser


def _formats(value: str) -> tuple[ContractFormat, ...] | None:
    if value.strip().lower() == "all":
        return None
    return tuple(parse_contract_format(part) for part in value.split(",") if part.strip())


def _per_format(values: Sequence[str]) -> dict[ContractFormat, str]:
    """`VALUE` applies to every format, `FORMAT=VALUE` to one (and wins over the former)."""
    chosen: dict[ContractFormat, str] = {}
    general: str | None = None
    for value in values:
        prefix, sep, rest = value.partition("=")
        if sep and prefix in _FORMATS:
            chosen[parse_contract_format(prefix)] = rest
        else:
            general = value
    if general is not None:
        for fmt in (*ProviderFormat, *RealtimeFormat):
            chosen.setdefault(fmt, general)
    return chosen


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None) -> int:
    """Run the suite; returns the exit status (the console script exits with it)."""
    stream = out if out is not None else sys.stdout
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config = ContractConfig(
            base_url=args.base_url,
            formats=_formats(args.format),
            fake_url=args.fake_url,
            models=_per_format(args.model),
            api_keys=_per_format(args.api_key),
            only=tuple(args.only),
            timeout=args.timeout,
            bad_key=args.bad_key,
            timeout_bound=args.timeout_bound,
            embedding_models=_per_format(args.embedding_model),
        )
    except ValueError as error:
        parser.error(str(error))
    report = trio.run(run_contract, config)
    stream.write(render_table(report))
    stream.flush()
    return 0 if report.ok else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
