"""`llm-router chat MODEL [PROMPT]`: one question, the answer streamed to the terminal as it
arrives (text, reasoning, tool calls and refusals; see `cli_answer`), then the route taken,
tokens, cost, latency and finish reason.

The prompt comes from the argument or stdin. `--format` picks the wire format the request is
written in (the router translates as needed); `--fake` answers from an in-process fake
provider server, no keys needed; `--config` uses a router.toml. Without either, providers
take keys from the environment, and a model no configured provider can serve names the
variable to set.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any, TextIO

import orjson

from llm_router import errors
from llm_router.types import ProviderFormat, StreamEvent

if TYPE_CHECKING:
    from llm_router.router import Router
    from llm_router.universal import FinishReason, StreamDelta, Usage

__all__ = ["add_chat_parser", "cmd_chat"]


def _key_variables() -> dict[str, str]:
    """The variables a user sets for each provider of the environment-built router."""
    from llm_router.providers import (
        AnthropicProvider,
        GoogleProvider,
        MistralProvider,
        OpenAIProvider,
    )

    return {
        "openai": " or ".join(OpenAIProvider.env_keys),
        "anthropic": " or ".join(AnthropicProvider.env_keys),
        "google": " or ".join(GoogleProvider.env_keys),
        "mistral": " or ".join(MistralProvider.env_keys),
        "bedrock": "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_BEARER_TOKEN_BEDROCK)",
    }


def add_chat_parser(sub: Any) -> None:
    p = sub.add_parser("chat", help="ask a model one question; the answer streams as it arrives")
    p.add_argument("model", help="a catalog model or a configured alias")
    p.add_argument("prompt", nargs="?", help="the question (default: read from stdin)")
    p.add_argument(
        "--format",
        choices=[f.value for f in ProviderFormat],
        default="openai",
        help="wire format to write the request in (default: openai)",
    )
    p.add_argument("--system", help="a system prompt")
    p.add_argument("--max-tokens", type=int, default=1024)
    p.add_argument("--no-stream", action="store_true", help="wait for the whole answer")
    p.add_argument(
        "--tools",
        metavar="FILE",
        help="tools the model may call: a JSON array of OpenAI Chat tool definitions",
    )
    source = p.add_mutually_exclusive_group()
    source.add_argument("--fake", action="store_true", help="answer from an in-process fake server")
    source.add_argument("--config", metavar="FILE", help="providers and aliases from router.toml")
    p.set_defaults(func=cmd_chat)


def _request_body(args: argparse.Namespace, prompt: str) -> bytes:
    messages: list[dict[str, str]] = []
    if args.system:
        messages.append({"role": "system", "content": args.system})
    messages.append({"role": "user", "content": prompt})
    request: dict[str, Any] = {
        "model": args.model,
        "messages": messages,
        "max_tokens": args.max_tokens,
    }
    if args.tools:
        request["tools"] = _read_tools(args.tools)
    if not args.no_stream:
        request["stream"] = True
        request["stream_options"] = {"include_usage": True}  # the usage line needs it
    from llm_router.translate import translate_request

    body = orjson.dumps(request)
    return translate_request(body, ProviderFormat.OPENAI, args.format)


def _read_tools(path: str) -> list[Any]:
    try:
        with open(path, "rb") as file:
            tools = orjson.loads(file.read())
    except OSError as exc:
        raise errors.InvalidRequestError(f"--tools {path}: cannot read: {exc.strerror}") from None
    except orjson.JSONDecodeError as exc:
        raise errors.InvalidRequestError(f"--tools {path}: not JSON: {exc}") from None
    if not isinstance(tools, list) or not all(isinstance(t, dict) for t in tools):
        raise errors.InvalidRequestError(
            f"--tools {path}: must be a JSON array of tool definitions "
            '({"type": "function", "function": {"name": ..., "parameters": {...}}})'
        )
    return tools


def _missing_key_error(
    router_error: errors.LLMRouterError, model: str, router: Router | None
) -> errors.LLMRouterError:
    from llm_router.catalog import Catalog

    spec = Catalog.default().find(model)
    if spec is None:
        return router_error
    configured = set(router.providers) if router is not None else set()
    variables = _key_variables()
    wanted = [p for p in spec.available_providers if p in variables and p not in configured]
    if not wanted:
        return router_error
    hints = "; or ".join(f"{variables[p]} for {p}" for p in wanted)
    return errors.ConfigurationError(
        f"no credentials for a provider of {model!r}: set {hints} (or try --fake)"
    )


def cmd_chat(args: argparse.Namespace, out: TextIO) -> int:
    # The router, the gateway's config reader and the formats load with the command, not
    # with the CLI (`llm-router --help` does not pay for them).
    import trio

    from llm_router.cli_answer import AnswerPrinter
    from llm_router.cli_serve import default_providers
    from llm_router.formats import get_format
    from llm_router.gateway.config import GatewayConfig, GatewaySettings, build_router, load_config

    prompt = args.prompt if args.prompt not in (None, "-") else sys.stdin.read()
    if not prompt.strip():
        raise errors.InvalidRequestError("chat: empty prompt (pass it as an argument or on stdin)")
    body = _request_body(args, prompt.strip())
    fmt = ProviderFormat(args.format)

    async def ask(router: Router) -> None:
        started = trio.current_time()
        printer = AnswerPrinter(out, color=_is_terminal(out))
        async with router:
            if args.no_stream:
                result = await router.complete(body, fmt, args.model)
                answer = get_format(fmt).parse_response(result.json())
                for part in answer.content:
                    printer.part(part)
                printer.finish = answer.finish_reason
                provider, model, usage, cost = (
                    result.provider,
                    result.model,
                    result.usage,
                    result.cost,
                )
                attempts = len(result.attempts)
            else:
                async with router.stream(body, fmt, args.model) as events:
                    parser = get_format(fmt).StreamParser()
                    async for event in events:
                        for delta in _deltas(parser, event, fmt):
                            printer.delta(delta)
                    provider, model, usage, cost = (
                        events.provider,
                        events.model,
                        events.usage,
                        events.cost,
                    )
                    attempts = len(events.attempts)
        printer.close()
        latency = trio.current_time() - started
        summary = _summary(provider, model, usage, cost, latency, attempts, printer.finish)
        out.write(summary + "\n")
        out.flush()

    async def run() -> None:
        if args.fake:
            from llm_router.serve import gateway_router
            from llm_router_testing.fake import FAKE_KEYS, open_fake_provider

            async with open_fake_provider() as fake:
                await ask(gateway_router(fake.url, FAKE_KEYS))
            return
        if args.config:
            await ask(
                build_router(
                    load_config(args.config), warn=lambda line: print(line, file=sys.stderr)
                )
            )
            return
        router: Router | None = None
        try:
            router = build_router(
                GatewayConfig("environment", GatewaySettings(), default_providers()),
                warn=lambda line: None,
            )
            router.resolve(args.model, fmt)
        except (errors.NoRouteError, errors.ConfigurationError) as exc:
            raise _missing_key_error(exc, args.model, router) from None
        await ask(router)

    trio.run(run)
    return 0


def _deltas(parser: Any, event: StreamEvent, fmt: ProviderFormat) -> list[StreamDelta]:
    """The universal deltas one caller-format event carries."""
    payload = event.json()
    if payload is None:  # the [DONE] sentinel
        return []
    if fmt is ProviderFormat.CONVERSE:
        payload = {event.event: payload}
    try:
        return list(parser.feed(payload))
    except errors.LLMRouterError:
        return []  # not an event an answer's content is in


def _is_terminal(out: TextIO) -> bool:
    try:
        return out.isatty()
    except (AttributeError, ValueError):
        return False


def _summary(
    provider: str,
    model: str,
    usage: Usage | None,
    cost: float | None,
    latency: float,
    attempts: int,
    finish: FinishReason | None = None,
) -> str:
    tokens = (
        "tokens unknown"
        if usage is None
        else f"{usage.input_tokens or 0} in / {usage.output_tokens or 0} out tokens"
    )
    price = "cost unknown" if cost is None else f"${cost:.6f}"
    tries = "" if attempts <= 1 else f" · {attempts} attempts"
    ended = "" if finish is None else f" · finish: {finish.value}"
    return f"-- {provider}/{model} · {tokens} · {price} · {latency * 1000:.0f} ms{tries}{ended}"
