"""`llm-router serve`: the gateway from a config file, or in front of one upstream or the fake.

`--config router.toml` is the deployable form; `--upstream URL` points every provider at one
server speaking all providers' paths and `--fake` starts the fake provider server in-process
(both use the fake's published keys). With none of them, the public providers are used with
keys from the environment, and providers without a key are left out with a warning.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING, Any, TextIO

from llm_router import errors

if TYPE_CHECKING:
    from llm_router.gateway.config import ProviderSettings
    from llm_router.router import Router

__all__ = ["add_serve_parser", "cmd_demo_serve", "cmd_serve", "default_providers", "snippets"]


def default_providers() -> tuple[ProviderSettings, ...]:
    """`serve` with neither a config file nor an upstream: the public providers whose keys the
    environment holds (Bedrock through the usual AWS credential chain)."""
    from llm_router.gateway.config import ProviderSettings

    return tuple(
        ProviderSettings(kind, kind, {})
        for kind in ("openai", "anthropic", "google", "mistral", "bedrock")
    )


def add_serve_parser(sub: Any) -> None:
    p = sub.add_parser(
        "serve", help="run the gateway: every format's endpoint, routed by the router"
    )
    p.add_argument("--config", metavar="FILE", help="router.toml: gateway, providers, models")
    p.add_argument("--host", help="interface to bind (default: [gateway] host, or 127.0.0.1)")
    p.add_argument("--port", type=int, help="port to bind (default: [gateway] port, or 8080)")
    group = p.add_mutually_exclusive_group()
    group.add_argument(
        "--fake", action="store_true", help="route to an in-process fake provider server"
    )
    group.add_argument("--upstream", help="one base URL serving every provider's paths")
    p.add_argument(
        "--forward",
        action="append",
        default=[],
        metavar="HEADER",
        help="also forward this caller header (or prefix ending in '-'); repeatable",
    )
    p.set_defaults(func=cmd_serve)


def _warn(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def cmd_serve(args: argparse.Namespace, out: TextIO) -> int:
    # The gateway loads with the command, not with the CLI: `--help` and the other commands
    # do not pay for it.
    import trio

    from llm_router._concurrency import open_nursery
    from llm_router.gateway import Gateway
    from llm_router.gateway.access_log import AccessLog
    from llm_router.gateway.config import GatewayConfig, GatewaySettings, build_router, load_config
    from llm_router.gateway.keys import GatewayKeys
    from llm_router.gateway.metrics import GatewayMetrics
    from llm_router.serve import gateway_router, is_loopback, serve_gateway, wait_for_termination

    forward = tuple(h.lower() for h in args.forward)
    if args.config and (args.fake or args.upstream):
        raise errors.ConfigurationError(
            "serve: --config cannot be combined with --fake or --upstream"
        )
    router: Router | None = None
    if args.config:
        config = load_config(args.config)
        settings = replace(config.gateway, forward_headers=config.gateway.forward_headers + forward)
        router = build_router(replace(config, gateway=settings), warn=_warn)
    else:
        settings = GatewaySettings(forward_headers=forward)
        if args.upstream:
            from llm_router_testing.fake import FAKE_KEYS

            router = gateway_router(args.upstream, FAKE_KEYS, forward=forward)
        elif not args.fake:
            router = build_router(GatewayConfig("serve", settings, default_providers()), warn=_warn)
    host = args.host or settings.host
    port = settings.port if args.port is None else args.port

    keys = GatewayKeys.from_env(settings.api_keys_env, os.environ, settings.named_keys_env)
    for name, variable in settings.named_keys_env.items():
        if not os.environ.get(variable, "").strip():
            _warn(f"llm-router: {variable} is not set: the key named {name!r} is not accepted")
    if (settings.api_keys_env or settings.named_keys_env) and keys is None:
        variables = [settings.api_keys_env or "", *settings.named_keys_env.values()]
        _warn(
            f"llm-router: {', '.join(v for v in variables if v)} not set: callers need no "
            "gateway key"
        )
    if keys is None and not is_loopback(host):
        _warn(
            f"llm-router: WARNING: listening on {host}, beyond this machine, with no gateway "
            "keys: anyone who can reach it can spend your provider credits. Set "
            "[gateway] api_keys_env to a variable holding comma-separated keys."
        )
    access_log = AccessLog() if settings.access_log else None

    async def serve(router: Router, note: str) -> None:
        app = Gateway(
            router, settings, keys=keys, access_log=access_log, metrics=GatewayMetrics(router)
        )
        async with open_nursery() as nursery:
            binds = await nursery.start(
                partial(
                    serve_gateway,
                    app,
                    settings,
                    host=host,
                    port=port,
                    shutdown_trigger=wait_for_termination,
                )
            )
            print(f"llm-router gateway on {binds[0]}{note}", file=out, flush=True)
            if getattr(args, "snippets", False):
                print(snippets(binds[0]), file=out, flush=True)

    async def run() -> None:
        if router is not None:
            await serve(router, "")
            return
        from llm_router_testing.fake import FAKE_KEYS, open_fake_provider

        async with open_fake_provider() as fake:
            await serve(
                gateway_router(fake.url, FAKE_KEYS, forward=forward),
                f" -> fake provider server {fake.url}",
            )

    trio.run(run)
    return 0


def cmd_demo_serve(args: argparse.Namespace, out: TextIO) -> int:
    """`llm-router demo --serve`: the gateway on fake upstreams, with snippets to paste."""
    serve_args = argparse.Namespace(
        config=None,
        fake=True,
        upstream=None,
        host=None,
        port=args.port,
        forward=["x-fake-"],
        snippets=True,
    )
    return cmd_serve(serve_args, out)


def snippets(url: str) -> str:
    """Ready-to-paste curl and SDK calls against a gateway at `url` (no keys needed)."""
    return f"""
Try it (any key works; Ctrl-C drains and stops):

  curl -s {url}/v1/chat/completions -H 'content-type: application/json' \\
    -d '{{"model": "claude-haiku-4-5", "messages": [{{"role": "user", "content": "hello"}}]}}'

  curl -sN {url}/v1/messages -H 'content-type: application/json' -H 'anthropic-version: 2023-06-01' \\
    -d '{{"model": "gpt-4o-mini", "max_tokens": 100, "stream": true, "messages": [{{"role": "user", "content": "hello"}}]}}'

  curl -s {url}/v1/chat/completions -H 'content-type: application/json' -H 'x-fake-status: 429' \\
    -H 'x-fake-retry-after: 1' -H 'x-fake-fail-times: 1' \\
    -d '{{"model": "gpt-4o-mini", "messages": [{{"role": "user", "content": "retried after its retry-after"}}]}}'

  python -c "import openai; c = openai.OpenAI(base_url='{url}/v1', api_key='any'); \\
print(c.chat.completions.create(model='gemini-2.5-flash', messages=[{{'role': 'user', 'content': 'hi'}}]).choices[0].message.content)"

  python -c "import anthropic; c = anthropic.Anthropic(base_url='{url}', api_key='any'); \\
print(c.messages.create(model='gpt-4o-mini', max_tokens=50, messages=[{{'role': 'user', 'content': 'hi'}}]).content[0].text)"

  curl -s {url}/v1/models | head -c 300; curl -s {url}/metrics | grep llm_router_gateway_requests
"""
