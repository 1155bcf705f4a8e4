"""`llm-router demo`: the tour runs against a fake server (here one already running, through
`--url`), and each section shows what it claims, in its output and in the server's journal."""

from __future__ import annotations

import io

import trio

from llm_router.cli import main
from llm_router_testing.fake import open_fake_provider


def section(text: str, number: int) -> list[str]:
    """The lines of section `number` of the tour's output."""
    lines = ("\n" + text).split(f"\n{number}. ", 1)[1].split(f"\n{number + 1}. ", 1)[0].splitlines()
    return [line.strip() for line in lines[1:] if line.strip()]


async def test_the_tour_shows_each_thing_it_claims() -> None:
    async with open_fake_provider() as fake:
        out = io.StringIO()
        assert await trio.to_thread.run_sync(main, ["demo", "--url", fake.url], out) == 0
        journal = list(fake.journal)
    text = out.getvalue()

    formats = section(text, 1)
    callers = [line.split()[0] for line in formats]
    providers = [line.split()[2].split("/")[0] for line in formats]
    assert callers == ["openai", "responses", "anthropic", "google", "converse", "mistral"]
    assert len(set(providers)) == 6 and all(" as " in line for line in formats)
    assert all(line.endswith('"You said: Why is the sky blue?"') for line in formats)

    stream = section(text, 2)
    assert stream[0].startswith("Sunlight scatters off the molecules of the air")
    assert stream[1].endswith("from google/gemini-2.5-flash")
    streamed = [e for e in journal if e.provider == "google" and e.stream]
    assert len(streamed) == 1 and streamed[0].events_sent > 5

    retried = section(text, 3)
    assert len(retried) == 2
    assert retried[0].startswith("attempt 1  mistral/") and retried[0].endswith("retried 429")
    assert " retry " in retried[1] and retried[1].endswith("→ won")
    mistral = [e.status for e in journal if e.provider == "mistral" and "Rate limit" in str(e.body)]
    assert mistral == [429, 200]

    hedged = section(text, 4)
    assert hedged[0].startswith("attempt 1  anthropic/") and "cancelled_hedge_loser" in hedged[0]
    assert hedged[1].startswith("attempt 2  bedrock/") and " hedge " in hedged[1]
    assert hedged[1].endswith("→ won")
    slow = [e for e in journal if e.rule == "tour-slow-anthropic"]
    assert len(slow) == 1 and slow[0].disconnected  # the loser was cancelled, not awaited

    # OpenAI may get its retry first (its backoff is jittered), then the failover.
    *failing, answered = section(text, 5)
    assert failing and all(line.split()[2].startswith("openai/") for line in failing)
    assert all(line.endswith("503") for line in failing)
    assert failing[-1].endswith("failed_over 503")
    assert answered.split()[2].startswith("azure/") and " failover " in answered
    assert answered.endswith("→ won")
    statuses = [e.status for e in journal if "failover" in str(e.body)]
    assert statuses == [503] * len(failing) + [200]

    table = text.split("\n6. ", 1)[1].splitlines()[1:]
    assert table[0].split() == ["section", "caller", "route", "attempts", "latency", "cost"]
    rows = {line.split()[0]: line for line in table[1:-1]}
    assert "2: 429 retried, retry won" in rows["429"]
    assert "2: cancelled (slow), hedge won" in rows["hedge"]
    assert "503 failed over, failover won" in rows["failover"]
    assert sum(1 for line in table[1:-1] if line.split()[0] == "formats") == 6
    assert table[-1].strip().startswith("10 calls, $") and "$-" not in text
