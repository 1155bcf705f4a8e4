"""The `llm-router` command: inspect the catalog, translate bodies, run the demo."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn, TextIO

import orjson

from llm_router import errors
from llm_router.catalog import Catalog, ModelSpec
from llm_router.cli_chat import add_chat_parser
from llm_router.cli_serve import add_serve_parser
from llm_router.framing.sse import SSEDecoder
from llm_router.types import ProviderFormat

__all__ = ["main"]

_FORMATS = [f.value for f in ProviderFormat]


def _catalog(path: str | None) -> Catalog:
    return Catalog.load(path) if path else Catalog.default()


def _spec_record(spec: ModelSpec) -> dict[str, object]:
    record = {k: getattr(spec, k) for k in spec.__dataclass_fields__ if k != "extra"}
    record["provider_models"] = {alias: list(ids) for alias, ids in spec.provider_models.items()}
    return record


def _dumps(value: object, *, indent: bool = True) -> str:
    option = orjson.OPT_INDENT_2 if indent else 0
    return orjson.dumps(value, option=option, default=str).decode() + "\n"


def _price(spec: ModelSpec) -> str:
    if spec.input_cost_per_mil_tokens is None or spec.output_cost_per_mil_tokens is None:
        return "-"
    return f"${spec.input_cost_per_mil_tokens:g} / ${spec.output_cost_per_mil_tokens:g}"


def _cmd_models(args: argparse.Namespace, out: TextIO) -> int:
    catalog = _catalog(args.models)
    if args.provider is not None and args.provider not in catalog.providers():
        known = ", ".join(sorted(catalog.providers()))
        raise _UsageError(f"unknown provider {args.provider!r} (known: {known})")
    specs = catalog.filter(
        provider=args.provider,
        format=ProviderFormat(args.format) if args.format else None,
        reasoning=True if args.reasoning else None,
        multimodal=True if args.multimodal else None,
        flavor=args.flavor,
    )
    if args.json:
        out.write(_dumps([_spec_record(spec) for spec in specs]))
        return 0
    rows = [("MODEL", "FORMAT", "PROVIDERS", "$/MTOK IN / OUT")]
    rows += [
        (spec.name, spec.format.value, ",".join(spec.available_providers), _price(spec))
        for spec in specs
    ]
    widths = [max(len(row[column]) for row in rows) for column in range(3)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        out.write("  ".join([*cells, row[3]]) + "\n")
    out.write(f"{len(specs)} model{'' if len(specs) == 1 else 's'}\n")
    return 0


def _cmd_show(args: argparse.Namespace, out: TextIO) -> int:
    out.write(_dumps(_spec_record(_catalog(args.models).get(args.model))))
    return 0


def _cmd_cost(args: argparse.Namespace, out: TextIO) -> int:
    usage = {  # --input counts uncached tokens; Usage.input_tokens counts them all
        "input_tokens": args.input + args.cache_read + args.cache_write,
        "output_tokens": args.output,
        "cache_read_tokens": args.cache_read,
        "cache_write_tokens": args.cache_write,
    }
    out.write(f"${_catalog(args.models).cost(args.model, usage):.6f}\n")
    return 0


def _cmd_translate(args: argparse.Namespace, out: TextIO) -> int:
    from llm_router.stream_progress import END_SIGNALS
    from llm_router.translate import StreamTranslator, translate_request, translate_response

    data = sys.stdin.buffer.read() if args.file in (None, "-") else Path(args.file).read_bytes()
    if args.kind == "request":
        result = translate_request(data, args.source, args.target)
    elif args.kind == "response":
        result = translate_response(data, args.source, args.target)
    else:
        translator = StreamTranslator(args.source, args.target)
        events = _stream_events(data)
        rendered = [e for item in events for e in translator.feed(item)] + translator.finish()
        out.write(b"".join(e.to_sse() for e in rendered).decode())
        if not translator.complete:
            # What was given is translated, but a cut stream must not pass for a whole one.
            signal = END_SIGNALS.get(translator.source, "its end-of-answer event")
            print(
                f"llm-router: error: the {args.source} stream ends without {signal}: "
                "it was cut short, and so is its translation",
                file=sys.stderr,
            )
            return 1
        return 0
    out.write(orjson.dumps(orjson.loads(result), option=orjson.OPT_INDENT_2).decode() + "\n")
    return 0


def _stream_events(data: bytes) -> list[Any]:
    """Decoded stream events from a JSON array of them, or from SSE text (`data:` lines)."""
    if data.lstrip()[:1] == b"[":
        try:
            events = orjson.loads(data)
        except orjson.JSONDecodeError as error:
            raise _UsageError(f"stream input is not a valid JSON array: {error}") from None
        if isinstance(events, list):
            return events
    decoder = SSEDecoder()
    messages = [*decoder.feed(data), *decoder.finish()]
    if not messages:
        raise _UsageError(
            "stream input holds no events: give SSE text (data: lines) "
            "or a JSON array of decoded events"
        )
    events = []
    for number, message in enumerate(messages, 1):
        if message.is_done:
            continue
        try:
            events.append(orjson.loads(message.data))
        except orjson.JSONDecodeError as error:
            raise _UsageError(f"SSE event {number} is not JSON: {error}") from None
    return events


def _cmd_demo(args: argparse.Namespace, out: TextIO) -> int:
    if args.serve:
        from llm_router.cli_serve import cmd_demo_serve

        return cmd_demo_serve(args, out)
    from llm_router.demo import main as demo_main

    return demo_main(["--url", args.url] if args.url else [], out)


class _UsageError(Exception):
    """Bad input from the command line: one line on stderr and exit status 2."""


class _Parser(argparse.ArgumentParser):
    """Errors as one line naming the problem (argparse prints the whole usage first)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a token count, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"a token count cannot be negative, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="llm-router", description="Route LLM requests between wire formats and providers."
    )
    parser.add_argument(
        "--models", help="model catalog file (default: the bundled model_list.json)"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("models", help="list catalog models")
    p.add_argument("--provider")
    p.add_argument("--format", choices=_FORMATS)
    p.add_argument("--reasoning", action="store_true")
    p.add_argument("--multimodal", action="store_true")
    p.add_argument(
        "--flavor", choices=("chat", "embedding"), help="chat models, or embedding models"
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_models)

    p = sub.add_parser(
        "show", help="show one model's catalog entry (aliases and dated ids resolve)"
    )
    p.add_argument("model")
    p.set_defaults(func=_cmd_show)

    p = sub.add_parser("cost", help="dollar cost of a usage record")
    p.add_argument("model")
    p.add_argument("--input", type=_count, default=0, help="uncached input tokens")
    p.add_argument("--output", type=_count, default=0, help="output tokens")
    p.add_argument("--cache-read", type=_count, default=0, help="cache-read input tokens")
    p.add_argument("--cache-write", type=_count, default=0, help="cache-write input tokens")
    p.set_defaults(func=_cmd_cost)

    p = sub.add_parser(
        "translate", help="translate a request/response body or a stream between formats"
    )
    p.add_argument("--from", dest="source", required=True, choices=_FORMATS)
    p.add_argument("--to", dest="target", required=True, choices=_FORMATS)
    p.add_argument("--kind", choices=["request", "response", "stream"], default="request")
    p.add_argument("file", nargs="?", help="input file (default: stdin)")
    p.set_defaults(func=_cmd_translate)

    add_serve_parser(sub)
    add_chat_parser(sub)

    p = sub.add_parser(
        "demo",
        help="a tour against the fake provider server: six formats, a stream, a 429 retry, "
        "a hedge, a failover",
    )
    p.add_argument("--url", help="base URL of a running fake provider server")
    p.add_argument(
        "--serve", action="store_true", help="leave the gateway running on fake upstreams"
    )
    p.add_argument("--port", type=int, default=8080, help="with --serve: the gateway's port")
    p.set_defaults(func=_cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args, out or sys.stdout))
    except BrokenPipeError:
        # The reader went away (`llm-router models | head`): stop quietly, and keep Python
        # from reporting the broken pipe again when it flushes stdout at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except (_UsageError, errors.LLMRouterError, OSError, ValueError) as exc:
        print(f"llm-router: error: {_one_line(exc)}", file=sys.stderr)
        return 2


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror and exc.filename is not None:
        return f"{exc.filename}: {exc.strerror}"
    return " ".join(str(exc).split()) or type(exc).__name__


if __name__ == "__main__":
    raise SystemExit(main())
