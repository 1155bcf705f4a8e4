"""The `llm-router` command: inspect the catalog, translate bodies, run the demo."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

import orjson

from llm_router import errors
from llm_router.catalog import Catalog
from llm_router.cli_serve import add_serve_parser
from llm_router.types import ProviderFormat

__all__ = ["main"]

_FORMATS = [f.value for f in ProviderFormat]


def _catalog(path: str | None) -> Catalog:
    return Catalog.load(path) if path else Catalog.default()


def _cmd_models(args: argparse.Namespace, out: TextIO) -> int:
    catalog = _catalog(args.models)
    specs = catalog.filter(
        provider=args.provider,
        format=ProviderFormat(args.format) if args.format else None,
        reasoning=True if args.reasoning else None,
        multimodal=True if args.multimodal else None,
    )
    if args.json:
        out.write(orjson.dumps([s.name for s in specs]).decode() + "\n")
        return 0
    for spec in specs:
        price = ""
        if (
            spec.input_cost_per_mil_tokens is not None
            and spec.output_cost_per_mil_tokens is not None
        ):
            price = (
                f"${spec.input_cost_per_mil_tokens:g}/${spec.output_cost_per_mil_tokens:g} per Mtok"
            )
        out.write(
            f"{spec.name:<48} {spec.format.value:<10} {','.join(spec.available_providers):<28} {price}\n"
        )
    out.write(f"{len(specs)} models\n")
    return 0


def _cmd_show(args: argparse.Namespace, out: TextIO) -> int:
    spec = _catalog(args.models).get(args.model)
    fields = {k: getattr(spec, k) for k in spec.__dataclass_fields__ if k != "extra"}
    out.write(orjson.dumps(fields, option=orjson.OPT_INDENT_2, default=str).decode() + "\n")
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
    from llm_router.translate import StreamTranslator, translate_request, translate_response

    data = sys.stdin.buffer.read() if args.file in (None, "-") else Path(args.file).read_bytes()
    if args.kind == "request":
        result = translate_request(data, args.source, args.target)
    elif args.kind == "response":
        result = translate_response(data, args.source, args.target)
    else:  # a JSON array of decoded stream events
        translator = StreamTranslator(args.source, args.target)
        events = orjson.loads(data)
        if not isinstance(events, list):
            raise errors.InvalidRequestError("--kind stream expects a JSON array of decoded events")
        rendered = [e for item in events for e in translator.feed(item)] + translator.finish()
        out.write(b"".join(e.to_sse() for e in rendered).decode())
        return 0
    out.write(orjson.dumps(orjson.loads(result), option=orjson.OPT_INDENT_2).decode() + "\n")
    return 0


def _cmd_demo(args: argparse.Namespace, out: TextIO) -> int:
    from llm_router.demo import main as demo_main

    return demo_main(["--url", args.url] if args.url else [])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
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
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_models)

    p = sub.add_parser(
        "show", help="show one model's catalog entry (aliases and dated ids resolve)"
    )
    p.add_argument("model")
    p.set_defaults(func=_cmd_show)

    p = sub.add_parser("cost", help="dollar cost of a usage record")
    p.add_argument("model")
    p.add_argument("--input", type=int, default=0, help="uncached input tokens")
    p.add_argument("--output", type=int, default=0)
    p.add_argument("--cache-read", type=int, default=0)
    p.add_argument("--cache-write", type=int, default=0)
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

    p = sub.add_parser("demo", help="route a request and a stream through the fake provider server")
    p.add_argument("--url", help="base URL of a running fake provider server")
    p.set_defaults(func=_cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args, out or sys.stdout))
    except (errors.LLMRouterError, OSError) as exc:
        print(f"llm-router: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
