"""`llm-router demo` (and `make demo`): a tour of what the router does, against the fake
provider server started in-process (no API keys), in a few seconds.

1. the same question in all six caller formats, each answered by a different provider;
2. a live stream, printed as it arrives;
3. a 429 with `retry-after: 1`, retried after the wait;
4. a slow attempt beaten by a hedge on another route;
5. a failover from a failing provider to another;
6. a closing table of routes, attempts, latency and cost.

Faults come from `x-fake-*` headers and from rules added to the fake server's scenario
(`POST /_fake/rules`), so `--url` may name a fake server that is already running.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from typing import Any, TextIO

import httpx
import orjson
import trio

from llm_router import (
    AnthropicProvider,
    AzureProvider,
    BedrockProvider,
    GoogleProvider,
    HedgePolicy,
    MistralProvider,
    OpenAIProvider,
    ProviderFormat,
    RetryPolicy,
    Router,
    VertexProvider,
    errors,
)
from llm_router.resilience import AttemptOutcome, AttemptRecord
from llm_router.translate import translate_request
from llm_router_testing.fake import FAKE_KEYS, open_fake_provider

__all__ = ["TourStep", "main", "run_tour"]

QUESTION = "Why is the sky blue?"
STREAMED = (
    "Sunlight scatters off the molecules of the air, and blue light, with its shorter "
    "wavelength, scatters the most."
)
#: The caller formats of section 1, each with a model another provider serves.
SIX_FORMATS: tuple[tuple[ProviderFormat, str], ...] = (
    (ProviderFormat.OPENAI, "claude-haiku-4-5"),
    (ProviderFormat.RESPONSES, "gemini-2.5-flash"),
    (ProviderFormat.ANTHROPIC, "gpt-4o-mini"),
    (ProviderFormat.GOOGLE, "mistral-small-latest"),
    (ProviderFormat.CONVERSE, "vertex-gemini"),  # an alias routed to Gemini on Vertex AI
    (ProviderFormat.MISTRAL, "amazon.nova-lite-v1:0"),
)
HEDGE_DELAY = 0.3


@dataclass(frozen=True, slots=True)
class TourStep:
    """One call of the tour, for the closing table (and for tests)."""

    section: str
    caller: ProviderFormat
    route: str  # provider alias / provider model id
    wire: ProviderFormat  # the format spoken to the provider
    attempts: tuple[AttemptRecord, ...]
    latency: float
    cost: float | None
    text: str


def tour_router(url: str) -> Router:
    """Every provider pointed at the fake server at `url`, with quick retries and hedging."""
    builder = (
        Router.builder()
        .load_models()
        .forward_headers("x-fake-")
        .with_retry_policy(
            RetryPolicy(max_attempts=2, initial_delay=0.05, max_delay=0.1, max_retry_after=5)
        )
        .with_hedge_policy(HedgePolicy(delay=HEDGE_DELAY))
    )
    providers: dict[str, Any] = {
        "openai": OpenAIProvider(base_url=url + "/v1"),
        "anthropic": AnthropicProvider(base_url=url),
        "google": GoogleProvider(base_url=url),
        "mistral": MistralProvider(base_url=url + "/mistral/v1"),
        "azure": AzureProvider(endpoint=url),
        "vertex": VertexProvider(project="fake-project", location="us-central1", base_url=url),
        "bedrock": BedrockProvider(region="us-east-1", base_url=url),
    }
    for alias, provider in providers.items():
        builder.add_provider(alias, provider).add_api_key(alias, FAKE_KEYS[alias])
    return builder.add_model_route("vertex-gemini", "vertex", "gemini-2.5-flash").build()


#: Scenario rules of sections 4 and 5, matched by words of their questions.
RULES: list[dict[str, Any]] = [
    {  # section 4: Anthropic answers the hedge question after 10 s
        "name": "tour-slow-anthropic",
        "match": {"user_text_contains": "hedge", "provider": "anthropic"},
        "respond": {"text": "Too late: a hedge answered first."},
        "latency": "10s",
    },
    {  # section 5: OpenAI fails the failover question every time
        "name": "tour-failing-openai",
        "match": {"user_text_contains": "failover", "provider": "openai"},
        "respond": {"error": {"status": 503, "message": "OpenAI is down for the tour"}},
    },
]


def _question(fmt: ProviderFormat, model: str, text: str, *, stream: bool = False) -> bytes:
    body: dict[str, Any] = {
        "model": model,
        "max_tokens": 100,
        "messages": [{"role": "user", "content": text}],
    }
    if stream:
        body["stream"] = True
    return translate_request(orjson.dumps(body), ProviderFormat.OPENAI, fmt)


async def run_tour(url: str, out: TextIO = sys.stdout) -> list[TourStep]:
    """Run the tour against the fake server at `url`, printing as it goes."""
    try:
        async with httpx.AsyncClient() as client:
            installed = await client.post(url + "/_fake/rules", json={"rules": RULES})
    except httpx.HTTPError as exc:
        raise errors.ConfigurationError(
            f"demo: cannot reach a fake provider server at {url} ({type(exc).__name__}); "
            "start one with `llm-router-fake serve --port 9000`, or leave out --url"
        ) from None
    if installed.status_code != 200:
        raise errors.ConfigurationError(
            f"demo: {url} is not a fake provider server (POST /_fake/rules answered "
            f"{installed.status_code}); start one with `llm-router-fake serve`, or leave out --url"
        )
    steps: list[TourStep] = []

    def say(line: str = "") -> None:
        out.write(line + "\n")
        out.flush()

    async with tour_router(url) as router:
        say("1. One question in six caller formats, each answered by another provider")
        for fmt, model in SIX_FORMATS:
            result = await router.complete(_question(fmt, model, QUESTION), fmt, model)
            step = _step("formats", fmt, result, result.text)
            steps.append(step)
            wire = "passthrough" if fmt is step.wire else f"as {step.wire.value}"
            say(f"   {fmt.value:<9} → {_cut(step.route, 32):<32} {wire:<12} {_quote(step.text)}")

        say()
        say("2. A live stream: Anthropic events from a Gemini answer, printed as they arrive")
        out.write("   ")
        started = trio.current_time()
        headers = {"x-fake-answer": STREAMED, "x-fake-tokens-per-second": "40"}
        body = _question(ProviderFormat.ANTHROPIC, "gemini-2.5-flash", "Stream it", stream=True)
        pieces: list[str] = []
        async with router.stream(body, ProviderFormat.ANTHROPIC, headers=headers) as events:
            async for piece in events.text_deltas():
                pieces.append(piece)
                out.write(piece)
                out.flush()
        say()
        steps.append(
            TourStep(
                "stream",
                ProviderFormat.ANTHROPIC,
                f"{events.provider}/{events.model}",
                events.provider_format,
                events.attempts,
                trio.current_time() - started,
                events.cost,
                "".join(pieces),
            )
        )
        say(f"   {len(pieces)} pieces from {steps[-1].route}")

        say()
        say("3. A 429 with retry-after: 1, retried once the wait is over")
        headers = {
            "x-fake-status": "429",
            "x-fake-retry-after": "1",
            "x-fake-fail-times": "1",
            "x-fake-request-id": f"tour-429-{trio.current_time()}",
        }
        body = _question(ProviderFormat.OPENAI, "mistral-small-latest", "Rate limit me")
        result = await router.complete(body, ProviderFormat.OPENAI, headers=headers)
        steps.append(_step("429 retry", ProviderFormat.OPENAI, result, result.text))
        _attempt_lines(say, result.attempts)

        say()
        say(f"4. A slow attempt beaten by a hedge (started after {HEDGE_DELAY:g} s)")
        body = _question(ProviderFormat.OPENAI, "claude-haiku-4-5", "Please hedge this one")
        result = await router.complete(body, ProviderFormat.OPENAI)
        steps.append(_step("hedge", ProviderFormat.OPENAI, result, result.text))
        _attempt_lines(say, result.attempts)

        say()
        say("5. Failover: OpenAI keeps failing with 503, Azure OpenAI answers")
        body = _question(ProviderFormat.OPENAI, "gpt-4o-mini", "Show me a failover")
        result = await router.complete(body, ProviderFormat.OPENAI)
        steps.append(_step("failover", ProviderFormat.OPENAI, result, result.text))
        _attempt_lines(say, result.attempts)

    say()
    say("6. Every call of the tour")
    _table(say, steps)
    return steps


def _step(section: str, caller: ProviderFormat, result: Any, text: str) -> TourStep:
    return TourStep(
        section,
        caller,
        f"{result.provider}/{result.model}",
        result.provider_format,
        result.attempts,
        result.latency,
        result.cost,
        text,
    )


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _quote(text: str, width: int = 34) -> str:
    return f'"{_cut(text, width)}"'


def _attempt_lines(say: Any, attempts: tuple[AttemptRecord, ...]) -> None:
    for record in attempts:
        status = "" if record.status is None else f" {record.status}"
        say(
            f"   attempt {record.number}  {_cut(record.route, 40):<40} {record.kind.value:<8} "
            f"at {record.offset * 1000:>5.0f} ms  → {record.outcome.value}{status}"
        )


_OUTCOMES = {
    AttemptOutcome.CANCELLED_HEDGE_LOSER: "cancelled (slow)",
    AttemptOutcome.FAILED_OVER: "failed over",
}


def _describe(attempts: tuple[AttemptRecord, ...]) -> str:
    """`2: 429 retried, retry won`: each attempt's status and outcome, in order."""
    if len(attempts) == 1:
        return "1"
    parts = []
    for r in attempts:
        if r.outcome is AttemptOutcome.WON:
            parts.append(f"{r.kind.value} won")
        else:
            status = "" if r.status is None else f"{r.status} "
            parts.append(status + _OUTCOMES.get(r.outcome, r.outcome.value))
    return f"{len(attempts)}: {', '.join(parts)}"


def _table(say: Any, steps: list[TourStep]) -> None:
    rows = [
        (
            step.section,
            step.caller.value,
            _cut(step.route, 32),
            _describe(step.attempts),
            f"{step.latency * 1000:.0f} ms",
            "-" if step.cost is None else f"${step.cost:.6f}",
        )
        for step in steps
    ]
    header = ("section", "caller", "route", "attempts", "latency", "cost")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        say(
            "   "
            + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )
    total = sum(step.cost or 0.0 for step in steps)
    say(f"   {len(steps)} calls, ${total:.6f} at catalog prices")


async def _main(url: str | None, out: TextIO) -> None:
    if url:
        await run_tour(url.rstrip("/"), out)
        return
    async with open_fake_provider() as fake:
        out.write(f"A fake provider server on {fake.url} stands in for every provider.\n\n")
        await run_tour(fake.url, out)


def main(argv: list[str] | None = None, out: TextIO | None = None) -> int:
    parser = argparse.ArgumentParser(prog="llm-router demo", description=__doc__)
    parser.add_argument("--url", help="base URL of a running fake provider server")
    args = parser.parse_args(argv)
    trio.run(_main, args.url, out or sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
