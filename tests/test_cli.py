"""The `llm-router` command: catalog inspection, cost, translation, and its error path."""

from __future__ import annotations

import io
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
    assert code == 0 and len(names) > 10 and all(isinstance(n, str) for n in names)


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
