"""`llm-router serve`: run the gateway (every format's endpoint) on hypercorn over Trio.

`serve_gateway` serves an open router until its shutdown trigger fires (SIGTERM or SIGINT for
the command): it stops accepting, lets in-flight calls finish for the grace period, then
cancels the rest. `gateway_router` builds the shortcut routers: every provider pointed at one
server that speaks all providers' paths (the fake provider server, or a recording proxy).
"""

from __future__ import annotations

import ipaddress
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from functools import partial
from typing import TextIO

import trio
from hypercorn.config import Config
from hypercorn.trio import serve as hypercorn_serve

from llm_router._concurrency import open_nursery
from llm_router.builder import RouterBuilder
from llm_router.gateway import Gateway
from llm_router.gateway.access_log import AccessLog
from llm_router.gateway.config import GatewaySettings
from llm_router.gateway.keys import GatewayKeys
from llm_router.gateway.metrics import GatewayMetrics
from llm_router.providers import (
    AnthropicProvider,
    AzureProvider,
    BedrockProvider,
    GoogleProvider,
    MistralProvider,
    OpenAIProvider,
    VertexProvider,
)
from llm_router.resilience import TimeoutPolicy
from llm_router.router import Router

__all__ = [
    "gateway_router",
    "hypercorn_config",
    "is_loopback",
    "open_gateway",
    "serve_gateway",
    "wait_for_termination",
]


def gateway_router(
    upstream: str | None,
    keys: Mapping[str, str] | None = None,
    *,
    forward: tuple[str, ...] = (),
    timeouts: TimeoutPolicy | None = None,
) -> Router:
    """A router with every provider registered; all pointed at `upstream` when given.
    `timeouts` replaces the default `TimeoutPolicy`."""
    builder = RouterBuilder().load_models().forward_headers(*forward)
    if timeouts is not None:
        builder.with_timeouts(timeouts)
    if upstream is None:
        for alias, provider in (
            ("openai", OpenAIProvider()),
            ("anthropic", AnthropicProvider()),
            ("google", GoogleProvider()),
            ("mistral", MistralProvider()),
        ):
            builder.add_provider(alias, provider)
        return builder.add_keys_from_env().build()
    base = upstream.rstrip("/")
    keys = dict(keys or {})
    builder.add_provider("openai", OpenAIProvider(base_url=base + "/v1"))
    builder.add_provider("anthropic", AnthropicProvider(base_url=base))
    builder.add_provider("google", GoogleProvider(base_url=base))
    builder.add_provider("mistral", MistralProvider(base_url=base + "/mistral/v1"))
    builder.add_provider("azure", AzureProvider(endpoint=base))
    builder.add_provider(
        "vertex", VertexProvider(project="fake-project", location="us-central1", base_url=base)
    )
    builder.add_provider("bedrock", BedrockProvider(region="us-east-1", base_url=base))
    # The fake's realtime models, so that its WebSocket endpoints are reachable through the
    # gateway too (catalog routes for the same models are merged, not doubled).
    builder.add_model_route("gpt-realtime", "openai")
    builder.add_model_route("gemini-live-2.5-flash", "google")
    for alias, key in keys.items():
        builder.add_api_key(alias, key)
    return builder.build()


def is_loopback(host: str) -> bool:
    """Whether binding `host` keeps the gateway reachable from this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def hypercorn_config(settings: GatewaySettings, host: str, port: int) -> Config:
    """Hypercorn's configuration for the gateway: a large listen backlog (the default of 100
    refuses bursts), the drain grace period, and a per-read timeout for slow clients."""
    config = Config()
    config.bind = [f"[{host}]:{port}" if ":" in host else f"{host}:{port}"]
    config.accesslog = None
    config.errorlog = None
    config.backlog = settings.backlog
    config.graceful_timeout = settings.shutdown_grace
    config.read_timeout = max(1, round(settings.read_timeout))
    return config


async def serve_gateway(
    app: Gateway,
    settings: GatewaySettings,
    *,
    host: str | None = None,
    port: int | None = None,
    shutdown_trigger: Callable[[], Awaitable[None]] | None = None,
    task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve `app` (its router is opened here) until `shutdown_trigger` returns, then drain:
    stop accepting, give in-flight calls `settings.shutdown_grace` seconds, cancel what is
    left. Reports the bound URLs through `task_status`."""
    config = hypercorn_config(
        settings,
        settings.host if host is None else host,
        settings.port if port is None else port,
    )
    async with app.router:
        await hypercorn_serve(
            app,  # type: ignore[arg-type]
            config,
            shutdown_trigger=shutdown_trigger,
            task_status=task_status,
        )


@asynccontextmanager
async def open_gateway(
    router: Router,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    settings: GatewaySettings | None = None,
    keys: GatewayKeys | None = None,
    access_log: AccessLog | None = None,
    metrics: bool = True,
) -> AsyncIterator[str]:
    """Serve `router` through the gateway; yields the base URL. The router is opened here."""
    settings = settings or GatewaySettings()
    app = Gateway(
        router,
        settings,
        keys=keys,
        access_log=access_log,
        metrics=GatewayMetrics(router) if metrics else None,
    )
    config = hypercorn_config(settings, host, port)
    async with router, open_nursery() as nursery:
        binds = await nursery.start(partial(hypercorn_serve, app, config))  # type: ignore[arg-type]
        yield str(binds[0])
        nursery.cancel_scope.cancel()


async def wait_for_termination(out: TextIO = sys.stderr) -> None:
    """Return at the first SIGTERM or SIGINT (the drain trigger of `llm-router serve`)."""
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async for signum in signals:
            print(
                f"llm-router: {signal.Signals(signum).name} received, draining",
                file=out,
                flush=True,
            )
            return
