"""The realtime contract checks as rows of the suite: the project's gateway with keys, the CLI,
a gateway letting wrong keys in, and the pytest parametrisation."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator

import pytest
import trio
from _contract_support import openai_everywhere, serve_app

from llm_router.gateway.keys import GatewayKeys
from llm_router.realtime import RealtimeFormat
from llm_router.serve import gateway_router, open_gateway
from llm_router_testing.contract import (
    REALTIME_CHECKS,
    ContractConfig,
    Verdict,
    contract_tests,
    render_table,
    run_contract,
)
from llm_router_testing.contract.cli import main as contract_cli
from llm_router_testing.fake import FAKE_KEYS, FakeProvider

REALTIME = tuple(RealtimeFormat)
KEYS = GatewayKeys(["client-key"])


@pytest.fixture
async def keyed_gateway(fake: FakeProvider) -> AsyncIterator[str]:
    """The project's gateway with a gateway key, in front of the fake server."""
    router = gateway_router(fake.url, FAKE_KEYS, forward=("x-fake-",))
    async with open_gateway(router, keys=KEYS) as url:
        yield url


async def test_every_realtime_check_passes_against_the_project_gateway(
    fake: FakeProvider, keyed_gateway: str
) -> None:
    config = ContractConfig(
        base_url=keyed_gateway,
        formats=REALTIME,
        fake_url=fake.url,
        api_keys={fmt: "client-key" for fmt in REALTIME},
        timeout=10,
    )

    report = await run_contract(config)

    verdicts = {result.name: result.verdict for result in report.results}
    assert verdicts == {
        f"{fmt.value}/{name}": Verdict.PASS for fmt in REALTIME for name in REALTIME_CHECKS
    }, render_table(report)
    details = {result.name: result.detail for result in report.results}
    assert details["gemini-live/keys_refused"] == (
        "refused before the upgrade (x-goog-api-key: 401, ?key=: 401)"
    )
    assert details["responses-ws/upstream_close"] == "close code 4000 reached the client"
    # Every session the checks opened upstream has ended (none left behind by the gateway).
    sessions = [e for e in fake.journal if e.method == "WEBSOCKET" and e.status == 101]
    assert sessions and all(e.done for e in sessions)


async def _run_cli(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    status = await trio.to_thread.run_sync(lambda: contract_cli(list(argv), out=out))
    return status, out.getvalue()


async def test_cli_prints_realtime_rows_in_the_same_table(
    fake: FakeProvider, keyed_gateway: str
) -> None:
    status, table = await _run_cli(
        "--base-url", keyed_gateway, "--format", "openai,gemini-live", "--fake-url", fake.url,
        "--api-key", "client-key", "--only", "sync_text", "session_round_trip", "tool_call",
        "keys_refused",
    )  # fmt: skip

    assert status == 0, table
    rows = [line.split()[:2] for line in table.splitlines()[2:8]]
    assert rows == [
        ["openai/sync_text", "PASS"],
        ["openai/tool_call", "PASS"],
        ["gemini-live/session_round_trip", "PASS"],
        ["gemini-live/tool_call", "PASS"],
        ["gemini-live/keys_refused", "PASS"],
        [],
    ]
    assert table.endswith("5 passed, 0 failed, 0 skipped: OK\n")


async def test_a_gateway_letting_wrong_keys_in_fails_keys_refused(fake: FakeProvider) -> None:
    router = gateway_router(fake.url, FAKE_KEYS, forward=("x-fake-",))
    async with open_gateway(router) as url:  # no gateway keys: anything goes
        status, table = await _run_cli(
            "--base-url", url, "--format", "responses-ws", "--only", "keys_refused",
            "session_round_trip", "--bad-key", "wrong-key",
        )  # fmt: skip

    assert status == 1, table
    assert "responses-ws/session_round_trip  PASS" in table
    assert (
        "failures:\n  responses-ws/keys_refused: the upgrade was accepted with a wrong"
        " key in authorization"
    ) in table


async def test_a_realtime_format_named_explicitly_must_be_served() -> None:
    async with serve_app(openai_everywhere) as url:
        report = await run_contract(
            ContractConfig(base_url=url, formats=(RealtimeFormat.GEMINI_LIVE,))
        )

    (result,) = report.results
    assert (result.name, result.verdict) == ("gemini-live/served", Verdict.FAIL)
    assert result.detail.startswith("not served: the upgrade to /ws/google.ai.generativelanguage")
    assert result.detail.endswith("was answered 500")


def test_contract_tests_give_each_format_the_checks_that_apply_to_it() -> None:
    test = contract_tests(formats=["openai", "gemini-live"], checks=["tool_call", "sync_text"])

    (mark,) = test.pytestmark  # type: ignore[attr-defined]
    ids = [f"{fmt.value}-{name}" for fmt, name in mark.args[1]]
    assert ids == ["openai-tool_call", "openai-sync_text", "gemini-live-tool_call"]
    every = contract_tests(formats=["responses-ws"])
    (mark,) = every.pytestmark  # type: ignore[attr-defined]
    assert [name for _, name in mark.args[1]] == list(REALTIME_CHECKS)


def test_unknown_formats_and_checks_are_refused_by_name() -> None:
    with pytest.raises(
        ValueError, match=r"unknown format 'gemini-dead'; expected one of: .*gemini-live"
    ):
        contract_tests(formats=["gemini-dead"])
    with pytest.raises(ValueError, match="unknown contract check 'teleport'"):
        ContractConfig(base_url="http://127.0.0.1:1", only=("teleport",))
