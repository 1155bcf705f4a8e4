"""`llm-router serve`: run the gateway (every format's endpoint) on hypercorn over Trio.

With `--upstream URL` every provider points at one server speaking all providers' paths
(the fake provider server, or a recording proxy); `--fake` starts the fake server in-process.
Otherwise providers use their public endpoints and keys come from the environment.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

import trio
from hypercorn.config import Config
from hypercorn.trio import serve as hypercorn_serve

from llm_router.builder import RouterBuilder
from llm_router.gateway import Gateway
from llm_router.providers import (
    AnthropicProvider,
    AzureProvider,
    BedrockProvider,
    GoogleProvider,
    MistralProvider,
    OpenAIProvider,
    VertexProvider,
)
from llm_router.router import Router

__all__ = ["gateway_router", "open_gateway"]


def gateway_router(
    upstream: str | None, keys: Mapping[str, str] | None = None, *, forward: tuple[str, ...] = ()
) -> Router:
    """A router with every provider registered; all pointed at `upstream` when given."""
    builder = RouterBuilder().load_models().forward_headers(*forward)
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
    for alias, key in keys.items():
        builder.add_api_key(alias, key)
    return builder.build()


@asynccontextmanager
async def open_gateway(
    router: Router, host: str = "127.0.0.1", port: int = 0
) -> AsyncIterator[str]:
    """Serve `router` through the gateway; yields the base URL. The router is opened here."""
    config = Config()
    config.bind = [f"{host}:{port}"]
    config.accesslog = None
    config.errorlog = None
    async with router, trio.open_nursery() as nursery:
        binds = await nursery.start(hypercorn_serve, Gateway(router), config)  # type: ignore[arg-type]
        yield str(binds[0])
        nursery.cancel_scope.cancel()
