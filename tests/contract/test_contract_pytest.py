"""`contract_tests()`: the contract checks collected and run as a downstream team's pytest tests."""

from __future__ import annotations

from functools import partial

import pytest
import trio
from _contract_support import openai_everywhere, serve_app

from llm_router_testing.contract import contract_tests
from llm_router_testing.fake import FakeProvider

pytest_plugins = ["pytester"]

TEST_MODULE = """
import pytest
from llm_router_testing.contract import contract_tests

@pytest.fixture(scope="session")
def gateway_url():
    return {gateway!r}

@pytest.fixture(scope="session")
def contract_fake_url():
    return {fake!r}

test_gateway_contract = contract_tests(
    formats={formats!r}, checks=["sync_text", "stream_text", "disconnect"]
)
"""


async def test_contract_tests_run_as_pytest_cases(
    pytester: pytest.Pytester, fake: FakeProvider, gateway: str
) -> None:
    async with serve_app(openai_everywhere) as broken:
        pytester.makepyfile(
            test_good=TEST_MODULE.format(
                gateway=gateway, fake=fake.url, formats=["anthropic", "google"]
            ),
            test_broken=TEST_MODULE.format(gateway=broken, fake=None, formats=["anthropic"]),
        )
        # One subprocess (pytest takes seconds to start) whose checks call the gateways
        # served by this test's Trio run.
        run = partial(pytester.runpytest_subprocess, "-p", "no:cacheprovider", "-rA")
        result = await trio.to_thread.run_sync(run)

    result.assert_outcomes(passed=6, failed=2, skipped=1)
    result.stdout.fnmatch_lines_random(
        [
            "PASSED test_good.py::test_gateway_contract[[]anthropic-sync_text[]]",
            "PASSED test_good.py::test_gateway_contract[[]google-disconnect[]]",
            '*anthropic/sync_text: expected "type": "message"*',
            "SKIPPED*needs the fake server's journal*",
        ]
    )


def test_contract_tests_parametrises_every_format_and_check_in_suite_order() -> None:
    test = contract_tests(checks=["sync_text", "error_400"])

    (mark,) = test.pytestmark  # type: ignore[attr-defined]
    ids = [f"{fmt.value}-{name}" for fmt, name in mark.args[1]]
    assert ids[:4] == [
        "openai-sync_text",
        "openai-error_400",
        "responses-sync_text",
        "responses-error_400",
    ]
    assert len(ids) == 12


def test_contract_tests_rejects_an_unknown_check() -> None:
    with pytest.raises(ValueError, match="unknown contract check 'teleport'"):
        contract_tests(checks=["teleport"])
