"""`llm-router chat`: the answer, then route, tokens, cost and latency; missing keys named."""

from __future__ import annotations

import io
import re
from pathlib import Path

import orjson
import pytest
import trio

from llm_router.cli import main
from llm_router_testing.fake import FAKE_KEYS, open_fake_provider

SUMMARY = re.compile(
    r"^-- (\S+) · (\d+) in / (\d+) out tokens · \$(\d+\.\d{6}) · \d+ ms · finish: stop$"
)


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


TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
]


def chat_config(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "router.toml"
    path.write_text(
        f"""
[providers.openai]
kind = "openai"
base_url = "{url}/v1"
api_key_env = "CHAT_TEST_OPENAI"

[providers.anthropic]
kind = "anthropic"
base_url = "{url}"
api_key_env = "CHAT_TEST_ANTHROPIC"
"""
    )
    return path


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "no-stream"])
@pytest.mark.parametrize("fmt", ["openai", "anthropic", "responses"])
async def test_chat_shows_reasoning_tool_calls_and_the_finish_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str, stream: bool
) -> None:
    monkeypatch.setenv("CHAT_TEST_OPENAI", FAKE_KEYS["openai"])
    monkeypatch.setenv("CHAT_TEST_ANTHROPIC", FAKE_KEYS["anthropic"])
    tools = tmp_path / "tools.json"
    tools.write_bytes(orjson.dumps(TOOLS))
    async with open_fake_provider() as fake:
        script = fake.script(strict=True)
        script.when(user_contains="weather", tools=["get_weather"]).think(
            "The user wants weather."
        ).call_tool("get_weather", {"city": "Paris"})
        argv = ["chat", "claude-haiku-4-5", "What is the weather in Paris?", "--format", fmt]
        argv += ["--config", str(chat_config(tmp_path, fake.url)), "--tools", str(tools)]
        if not stream:
            argv.append("--no-stream")
        out = io.StringIO()
        assert await trio.to_thread.run_sync(main, argv, out) == 0
        assert fake.journal.called(model="claude-haiku-4-5", stream=stream)
    lines = out.getvalue().splitlines()
    assert lines[0] == "thinking: The user wants weather."
    assert lines[1] == '→ get_weather({"city":"Paris"})'
    assert lines[2].startswith("-- anthropic/claude-haiku-4-5 · ")
    assert lines[2].endswith(" · finish: tool_calls") and len(lines) == 3


async def test_chat_labels_a_refusal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAT_TEST_OPENAI", FAKE_KEYS["openai"])
    monkeypatch.setenv("CHAT_TEST_ANTHROPIC", FAKE_KEYS["anthropic"])
    async with open_fake_provider() as fake:
        fake.script().when(user_contains="secret").refuse("I cannot share that.")
        argv = ["chat", "gpt-4o-mini", "tell me the secret"]
        argv += ["--config", str(chat_config(tmp_path, fake.url))]
        out = io.StringIO()
        assert await trio.to_thread.run_sync(main, argv, out) == 0
    refusal, summary = out.getvalue().splitlines()
    assert refusal == "refusal: I cannot share that."
    assert summary.startswith("-- openai/gpt-4o-mini · ")


def test_chat_names_a_bad_tools_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "tools.json"
    bad.write_text('{"name": "x"}')
    assert main(["chat", "gpt-4o-mini", "hi", "--fake", "--tools", str(bad)], io.StringIO()) == 2
    assert "must be a JSON array of tool definitions" in capsys.readouterr().err
