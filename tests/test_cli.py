"""The `llm-router` command: catalog inspection, cost, translation, and its error path."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from llm_router.cli import main


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    return main(list(argv), out=out), out.getvalue()


def test_models_filters_the_catalog() -> None:
    code, text = run("models", "--provider", "bedrock", "--format", "converse", "--json")
    names = orjson.loads(text)
    assert code == 0 and len(names) > 10
    assert all(r["format"] == "converse" and "bedrock" in r["available_providers"] for r in names)


def test_models_lists_embedding_models_with_their_prices() -> None:
    code, text = run("models", "--flavor", "embedding", "--json")
    records = {r["name"]: r for r in orjson.loads(text)}
    assert code == 0 and "text-embedding-3-small" in records and "gpt-4o" not in records
    assert records["amazon.titan-embed-text-v2:0"]["input_cost_per_mil_tokens"] == 0.02
    assert all(r["flavor"] == "embedding" for r in records.values())


def test_show_resolves_a_dated_id_to_its_entry() -> None:
    code, text = run("show", "claude-sonnet-4-5-20250929")
    entry = orjson.loads(text)
    assert (
        code == 0 and entry["format"] == "anthropic" and "anthropic" in entry["available_providers"]
    )


def test_cost_is_priced_from_the_catalog() -> None:
    # gpt-4o: $2.50 input and $10 output per million tokens.
    code, text = run("cost", "gpt-4o", "--input", "1200", "--output", "300")
    assert (code, text.strip()) == (0, "$0.006000")


def test_translate_a_request_file(tmp_path: Path) -> None:
    body = {
        "model": "m",
        "max_tokens": 9,
        "system": "be brief",
        "messages": [{"role": "user", "content": "hi"}],
    }
    path = tmp_path / "body.json"
    path.write_bytes(orjson.dumps(body))
    code, text = run("translate", "--from", "anthropic", "--to", "google", str(path))
    google = orjson.loads(text)
    assert code == 0
    assert google["systemInstruction"]["parts"] == [{"text": "be brief"}]
    assert google["contents"] == [{"role": "user", "parts": [{"text": "hi"}]}]


def test_unknown_model_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = run("show", "gpt-4o-minii")
    assert code == 2
    assert "unknown model 'gpt-4o-minii'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "problem"),
    [
        (["cost", "gpt-4o", "--input", "-5"], "argument --input: a token count cannot be negative"),
        (["cost", "gpt-4o", "--output", "many"], "argument --output: expected a token count"),
        (["models", "--provider", "nosuch"], "unknown provider 'nosuch'"),
        (["models", "--format", "yaml"], "argument --format: invalid choice: 'yaml'"),
        (["translate", "--from", "openai", "--to", "google", "missing.json"], "missing.json"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
    ],
)
def test_bad_arguments_are_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], problem: str
) -> None:
    try:
        code: object = run(*argv)[0]  # errors found after parsing return 2
    except SystemExit as exit:  # argparse's own errors exit
        code = exit.code
    err = capsys.readouterr().err
    assert code == 2
    assert problem in err
    assert err.count("\n") == 1 and "Traceback" not in err


CHAT_CHUNK = {
    "id": "c1",
    "object": "chat.completion.chunk",
    "created": 1,
    "model": "m",
    "choices": [{"index": 0, "delta": {"role": "assistant", "content": "hi"}}],
}


def test_translate_stream_reads_sse_text(tmp_path: Path) -> None:
    done = {**CHAT_CHUNK, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
    path = tmp_path / "events.sse"
    path.write_text(
        f"data: {orjson.dumps(CHAT_CHUNK).decode()}\n\ndata: {orjson.dumps(done).decode()}\n\ndata: [DONE]\n\n"
    )
    code, text = run(
        "translate", "--from", "openai", "--to", "anthropic", "--kind", "stream", str(path)
    )
    assert code == 0
    names = [
        line.removeprefix("event: ") for line in text.splitlines() if line.startswith("event:")
    ]
    assert names[0] == "message_start" and names[-1] == "message_stop"
    assert '"text":"hi"' in text


def test_translate_stream_says_when_the_input_was_cut_short(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "events.sse"
    path.write_text(f"data: {orjson.dumps(CHAT_CHUNK).decode()}\n\n")  # no finish_reason, no [DONE]
    code, text = run(
        "translate", "--from", "openai", "--to", "anthropic", "--kind", "stream", str(path)
    )
    err = capsys.readouterr().err
    assert code == 1 and '"text":"hi"' in text and "message_stop" not in text
    assert "ends without a finish_reason (or [DONE])" in err and err.count("\n") == 1


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("data: {broken\n\n", "SSE event 1 is not JSON"),
        ("just words", "stream input holds no events"),
        ("[1, 2", "stream input is not a valid JSON array"),
    ],
)
def test_translate_stream_rejects_bad_input_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, problem: str
) -> None:
    path = tmp_path / "events"
    path.write_text(content)
    code, _ = run("translate", "--from", "openai", "--to", "google", "--kind", "stream", str(path))
    err = capsys.readouterr().err
    assert code == 2 and problem in err and err.count("\n") == 1


def test_models_prints_a_header_aligned_columns_and_a_count() -> None:
    code, text = run("models", "--provider", "anthropic")
    lines = text.splitlines()
    assert code == 0
    assert lines[0].split() == ["MODEL", "FORMAT", "PROVIDERS", "$/MTOK", "IN", "/", "OUT"]
    starts = {line.index(line.split()[1], len(line.split()[0])) for line in lines[:-1]}
    assert len(starts) == 1  # the second column starts at the same place on every row
    assert lines[-1] == f"{len(lines) - 2} models"
    assert any(line.startswith("claude-sonnet-4-5 ") for line in lines)


def test_models_json_prints_full_records() -> None:
    code, text = run("models", "--provider", "anthropic", "--json")
    records = orjson.loads(text)
    assert code == 0 and records
    sonnet = next(r for r in records if r["name"] == "claude-sonnet-4-5")
    assert sonnet["format"] == "anthropic" and sonnet["input_cost_per_mil_tokens"] == 3.0
    assert "anthropic" in sonnet["available_providers"]


def test_piping_into_head_does_not_report_a_broken_pipe() -> None:
    script = "import sys; from llm_router.cli import main; sys.exit(main(['models']))"
    process = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert process.stdout is not None and process.stderr is not None
    first = process.stdout.readline()
    process.stdout.close()  # what `head -1` does once it has its line
    err = process.stderr.read()
    assert process.wait(timeout=30) == 0
    assert first.startswith(b"MODEL")
    assert err == b""
