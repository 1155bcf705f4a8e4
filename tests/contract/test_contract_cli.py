"""The `llm-router-contract` entry point: exit status and table, against in-process gateways.

`main` runs its own `trio.run`, so the tests call it from a worker thread while the gateway
keeps serving in the test's Trio run.
"""

from __future__ import annotations

import io
from functools import partial

import pytest
import trio
from _contract_support import openai_everywhere, serve_app

from llm_router_testing.contract.cli import main
from llm_router_testing.fake import FakeProvider


async def _run_cli(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    status = await trio.to_thread.run_sync(partial(main, list(argv), out=out))
    return status, out.getvalue()


async def test_cli_passes_against_the_project_gateway(fake: FakeProvider, gateway: str) -> None:
    status, table = await _run_cli(
        "--base-url",
        gateway,
        "--format",
        "openai,converse",
        "--fake-url",
        fake.url,
        "--only",
        "sync_text",
        "stream_text",
        "error_429",
        "disconnect",
    )

    assert status == 0, table
    lines = table.splitlines()
    assert lines[0].split() == ["name", "result", "detail", "time"]
    rows = [line.split()[:2] for line in lines[2:10]]
    assert rows == [
        [f"{fmt}/{check}", "PASS"]
        for fmt in ("openai", "converse")
        for check in ("sync_text", "stream_text", "error_429", "disconnect")
    ]
    assert lines[-1] == "8 passed, 0 failed, 0 skipped: OK"


async def test_cli_fails_with_a_non_zero_status_against_a_broken_gateway() -> None:
    async with serve_app(openai_everywhere) as url:
        status, table = await _run_cli(
            "--base-url", url, "--format", "anthropic", "--only", "sync_text", "error_400"
        )

    assert status == 1
    assert "anthropic/sync_text  FAIL" in table
    assert 'failures:\n  anthropic/sync_text: expected "type": "message"' in table
    assert table.endswith("0 passed, 2 failed, 0 skipped: FAILED\n")


async def test_cli_model_and_key_options_apply_per_format(fake: FakeProvider) -> None:
    # Straight at the fake server: it checks every key, and echoes the model it was asked for.
    status, table = await _run_cli(
        "--base-url",
        fake.url,
        "--format",
        "google",
        "--model",
        "gemini-2.5-pro",
        "--api-key",
        "wrong",
        "--api-key",
        "google=google-fake-key",
        "--only",
        "sync_text",
    )

    assert status == 0, table
    assert fake.journal[-1].path == "/v1beta/models/gemini-2.5-pro:generateContent"


def test_cli_rejects_an_unknown_format() -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--base-url", "http://127.0.0.1:9", "--format", "cobol"])

    assert exit_info.value.code == 2


def test_cli_rejects_an_unknown_check() -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--base-url", "http://127.0.0.1:9", "--only", "teleport"])

    assert exit_info.value.code == 2


def test_a_timeout_bound_that_cannot_be_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--base-url", "http://127.0.0.1:9", "--timeout-bound", "-1"])

    assert exited.value.code == 2
    assert "timeout_bound must be more than 0 and under 3600 seconds, got -1.0" in (
        capsys.readouterr().err
    )
