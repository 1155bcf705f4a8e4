"""`make demo`: route one request and one stream through the fake provider server (no API keys).

Starts the fake server in-process on a free loopback port, builds a router whose providers
point at it, and prints what happened. Pass `--url` to use a server that is already running.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import orjson
import trio

from llm_router import AnthropicProvider, OpenAIProvider, ProviderFormat, Router, Usage
from llm_router_testing.fake import FAKE_KEYS, open_fake_provider

OPENAI_BODY: dict[str, Any] = {
    "model": "gpt-4o-mini",
    "messages": [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Hello from the llm-router demo"},
    ],
}
ANTHROPIC_BODY: dict[str, Any] = {
    "model": "claude-sonnet-4-5",
    "max_tokens": 256,
    "messages": [{"role": "user", "content": "Stream a few words through Anthropic, please"}],
    "stream": True,
}


def _build(url: str) -> Router:
    return (
        Router.builder()
        .load_models()
        .add_provider("openai", OpenAIProvider(base_url=url + "/v1"))
        .add_api_key("openai", FAKE_KEYS["openai"])
        .add_provider("anthropic", AnthropicProvider(base_url=url))
        .add_api_key("anthropic", FAKE_KEYS["anthropic"])
        .build()
    )


async def run_demo(url: str, out: Any = sys.stdout) -> None:
    router = _build(url)
    async with router:
        result = await router.complete(orjson.dumps(OPENAI_BODY), ProviderFormat.OPENAI)
        print("== complete (caller speaks OpenAI Chat Completions)", file=out)
        print(
            f"   provider={result.provider} model={result.model} wire={result.provider_format} "
            f"latency={result.latency * 1000:.1f} ms",
            file=out,
        )
        print(f"   answer: {result.text}", file=out)
        print(f"   {_spend(result.usage, result.cost)}", file=out)

        # The caller speaks Anthropic Messages, but we ask for an OpenAI model: the router
        # translates the request to Chat Completions and the stream back to Anthropic events.
        body = dict(ANTHROPIC_BODY, model="gpt-4o-mini")
        print("== stream (caller speaks Anthropic Messages, model served by OpenAI)", file=out)
        started = trio.current_time()
        texts: list[str] = []
        names: list[str] = []
        async with router.stream(orjson.dumps(body), ProviderFormat.ANTHROPIC) as events:
            async for event in events:
                names.append(event.event or "data")
                payload = orjson.loads(event.data)
                delta = payload.get("delta", {}) if isinstance(payload, dict) else {}
                if delta.get("type") == "text_delta":
                    texts.append(delta["text"])
            provider, model, wire = events.provider, events.model, events.provider_format
            usage, cost = events.usage, events.cost
        print(
            f"   provider={provider} model={model} wire={wire} "
            f"latency={(trio.current_time() - started) * 1000:.1f} ms events={len(names)}",
            file=out,
        )
        print(f"   event names: {' '.join(dict.fromkeys(names))}", file=out)
        print(f"   answer: {''.join(texts)}", file=out)
        print(f"   {_spend(usage, cost)}", file=out)


def _spend(usage: Usage | None, cost: float | None) -> str:
    if usage is None:
        return "usage: not reported"
    price = "no catalog price" if cost is None else f"${cost:.8f}"
    return f"usage: {usage.input_tokens} in / {usage.output_tokens} out, cost: {price}"


async def _main(url: str | None) -> None:
    if url:
        await run_demo(url)
        return
    async with open_fake_provider() as fake:
        print(f"fake provider server listening on {fake.url}")
        await run_demo(fake.url)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="llm-router demo", description=__doc__)
    parser.add_argument("--url", help="base URL of a running fake provider server")
    args = parser.parse_args(argv)
    trio.run(_main, args.url)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
