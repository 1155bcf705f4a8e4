"""A contract run leaves a shared fake server as it found it: its rules go after each check."""

from __future__ import annotations

import httpx
import trio
from _contract_support import NaiveProxy, serve_app

from llm_router.types import ProviderFormat
from llm_router_testing.contract import ContractConfig, Verdict, run_check, run_contract
from llm_router_testing.fake import FAKE_KEYS, FakeProvider

OWN_RULE = {"name": "the team's own rule", "match": {"path": "/nowhere$"}, "status": 418}


def _rule_names(fake: FakeProvider) -> list[str | None]:
    return [rule.name for rule in fake.state.scenario.rules]


async def test_a_run_removes_its_rules_and_keeps_the_others(
    fake: FakeProvider, gateway: str
) -> None:
    fake.set_scenario({"rules": [OWN_RULE]})
    only = ("error_429", "retry_after", "usage_exact", "non_retryable_once")
    config = ContractConfig(
        base_url=gateway, formats=(ProviderFormat.GOOGLE,), fake_url=fake.url, only=only
    )

    report = await run_contract(config)

    assert report.ok, report
    assert any(entry.rule and entry.rule.startswith("contract ") for entry in fake.journal)
    assert _rule_names(fake) == ["the team's own rule"]


async def test_a_failing_check_removes_its_rules(fake: FakeProvider) -> None:
    async with serve_app(NaiveProxy(fake.url)) as url:
        result = await run_check(
            ContractConfig(
                base_url=url,
                fake_url=fake.url,
                api_keys={ProviderFormat.ANTHROPIC: FAKE_KEYS["anthropic"]},
            ),
            ProviderFormat.ANTHROPIC,
            "retry_after",
        )

    assert result.verdict is Verdict.FAIL
    assert _rule_names(fake) == []


async def test_a_cancelled_check_removes_its_rules(fake: FakeProvider, gateway: str) -> None:
    config = ContractConfig(base_url=gateway, fake_url=fake.url)
    installed = trio.Event()

    async def watch() -> None:
        while True:  # polls the fake's state, which has no event to wait on
            if any((name or "").startswith("contract ") for name in _rule_names(fake)):
                installed.set()
                return
            await trio.sleep(0.01)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(watch)

        async def cancelled_run() -> None:
            with trio.CancelScope() as scope:
                nursery.start_soon(_cancel_when, installed, scope)
                await run_check(config, ProviderFormat.OPENAI, "disconnect")
            assert scope.cancelled_caught

        nursery.start_soon(cancelled_run)

    assert _rule_names(fake) == []


async def _cancel_when(event: trio.Event, scope: trio.CancelScope) -> None:
    await event.wait()
    scope.cancel()


async def test_delete_rules_endpoint_names_its_body(fake: FakeProvider) -> None:
    fake.set_scenario({"rules": [OWN_RULE, {**OWN_RULE, "name": "other"}]})
    async with httpx.AsyncClient(base_url=fake.url) as client:
        bad = await client.request("DELETE", "/_fake/rules", json={"name": "other"})
        good = await client.request("DELETE", "/_fake/rules", json={"names": ["other"]})

    assert bad.status_code == 400
    assert '{"names": [' in bad.json()["error"]["message"]
    assert good.json() == {"removed": 1, "rules": 1}
    assert _rule_names(fake) == ["the team's own rule"]
