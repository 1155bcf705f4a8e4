"""`llm-router chat`: the answer, then route, tokens, cost and latency; missing keys named."""

from __future__ import annotations

import io
import re

import pytest

from llm_router.cli import main

SUMMARY = re.compile(r"^-- (\S+) · (\d+) in / (\d+) out tokens · \$(\d+\.\d{6}) · \d+ ms$")


@pytest.mark.parametrize("fmt", ["openai", "anthropic", "google", "converse", "responses"])
def test_chat_streams_the_answer_then_the_summary(fmt: str) -> None:
    out = io.StringIO()
    assert main(["chat", "gpt-4o-mini", "hello there", "--fake", "--format", fmt], out) == 0
    answer, summary = out.getvalue().splitlines()
    assert answer == "You said: hello there"
    found = SUMMARY.match(summary)
    assert found is not None, summary
    assert found[1] == "openai/gpt-4o-mini" and int(found[3]) > 0 and float(found[4]) > 0


def test_chat_reads_the_prompt_from_stdin_without_streaming(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("from stdin\n"))
    out = io.StringIO()
    assert (
        main(["chat", "claude-haiku-4-5", "--fake", "--no-stream", "--format", "google"], out) == 0
    )
    answer, summary = out.getvalue().splitlines()
    assert answer == "You said: from stdin"
    assert summary.startswith("-- anthropic/claude-haiku-4-5 · ")


def test_chat_without_keys_names_the_variable_to_set(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("OPENAI_API_KEY", "AZURE_OPENAI_API_KEY", "OPENROUTER_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    assert main(["chat", "gpt-4o", "hi"], io.StringIO()) == 2
    message = capsys.readouterr().err
    assert message.startswith("llm-router: error: no credentials for a provider of 'gpt-4o': set")
    assert "OPENAI_API_KEY for openai" in message and "--fake" in message


def test_chat_refuses_an_empty_prompt(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("  \n"))
    assert main(["chat", "gpt-4o-mini", "--fake"], io.StringIO()) == 2
    assert "empty prompt" in capsys.readouterr().err
