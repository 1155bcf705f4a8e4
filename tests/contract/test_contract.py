"""The whole contract suite against the project's gateway, the fake server itself, and broken gateways."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from _contract_support import (
    DIRECT_KEYS,
    TIMEOUT_BOUND,
    NaiveProxy,
    not_found_everywhere,
    openai_everywhere,
    serve_app,
)

from llm_router.realtime import RealtimeFormat
from llm_router.serve import gateway_router, open_gateway
from llm_router.types import ProviderFormat
from llm_router_testing.contract import (
    CHECKS,
    REALTIME_CHECKS,
    ContractConfig,
    ContractReport,
    Verdict,
    render_table,
    run_check,
    run_contract,
)
from llm_router_testing.fake import FAKE_KEYS, FakeProvider

EVERY_CASE = {f"{fmt.value}/{check.name}" for fmt in ProviderFormat for check in CHECKS} | {
    f"{fmt.value}/{name}" for fmt in RealtimeFormat for name in REALTIME_CHECKS
}
# The shared gateway has no gateway keys: a wrong key cannot be refused, and without a key
# given the check skips (test_contract_realtime.py runs it against a gateway with keys).
WITHOUT_GATEWAY_KEYS = {f"{fmt.value}/keys_refused" for fmt in RealtimeFormat}
TIMEOUT_CHECKS = ("first_byte_timeout", "idle_timeout")
# Formats without an embedding endpoint skip every embedding row; base64 is OpenAI's alone and
# mistral-embed has one size.
EMBEDDING_SKIPS = {
    f"{fmt}/{check}"
    for fmt in ("responses", "anthropic", "converse")
    for check in (
        "embeddings",
        "embeddings_base64",
        "embeddings_dimensions",
        "embeddings_bad_input",
    )
} | {"mistral/embeddings_base64", "google/embeddings_base64", "mistral/embeddings_dimensions"}


def _verdicts(report: ContractReport) -> Mapping[str, Verdict]:
    return {result.name: result.verdict for result in report.results}


def _details(report: ContractReport) -> Mapping[str, str]:
    return {result.name: result.detail for result in report.results}


async def test_every_check_passes_against_the_project_gateway(
    fake: FakeProvider, gateway: str
) -> None:
    config = ContractConfig(base_url=gateway, fake_url=fake.url, timeout_bound=TIMEOUT_BOUND)
    report = await run_contract(config)

    verdicts, details = _verdicts(report), _details(report)
    assert set(verdicts) == EVERY_CASE, render_table(report)
    failed = {
        name: details[name]
        for name, v in verdicts.items()
        if v is not Verdict.PASS and name not in WITHOUT_GATEWAY_KEYS | EMBEDDING_SKIPS
    }
    assert failed == {}, render_table(report)
    assert {verdicts[name] for name in WITHOUT_GATEWAY_KEYS | EMBEDDING_SKIPS} == {Verdict.SKIP}
    # The gateway's embeddings keep the upstream's vectors and their order.
    assert details["openai/embeddings"].startswith("3 vectors of ")
    assert details["google/embeddings_dimensions"] == "outputDimensionality=64 honoured"
    # The router honours retry-after on the same route rather than passing the 429 on.
    for fmt in ProviderFormat:
        assert details[f"{fmt.value}/retry_after"].startswith("retried "), details
        assert details[f"{fmt.value}/disconnect"].startswith("upstream closed after ")
        # A stalled first attempt is dropped (then retried, or answered by an open circuit's
        # 503 after the suite's many failures); a stalled stream ends in an error event.
        assert details[f"{fmt.value}/first_byte_timeout"].count("stalled attempt dropped") == 2
        assert details[f"{fmt.value}/idle_timeout"].startswith("the stream's error event")
        # The upstream's own request id reaches the client, on answers and errors alike.
        assert details[f"{fmt.value}/request_id"].count("req_fake_") == 2, details
    assert fake.state.scenario.rules == ()  # every rule the run installed is gone


async def test_every_check_passes_against_the_fake_server_directly(fake: FakeProvider) -> None:
    # The fake never times out on itself: the timeout checks are for gateways (next test).
    only = (
        *(check.name for check in CHECKS if check.name not in TIMEOUT_CHECKS),
        *REALTIME_CHECKS,
    )
    config = ContractConfig(base_url=fake.url, fake_url=fake.url, api_keys=DIRECT_KEYS, only=only)

    report = await run_contract(config)

    verdicts = _verdicts(report)
    assert set(verdicts) == {
        case for case in EVERY_CASE if case.rsplit("/", 1)[1] not in TIMEOUT_CHECKS
    }, render_table(report)
    unexpected = {
        n: v for n, v in verdicts.items() if v is not Verdict.PASS and n not in EMBEDDING_SKIPS
    }
    assert unexpected == {}, render_table(report)
    # The fake never retries, so the 429 reaches the client with its retry-after.
    assert _details(report)["openai/retry_after"] == (
        "not retried: 429 passed on with retry-after: 1"
    )


async def test_journal_checks_are_skipped_without_the_fake_url(gateway: str) -> None:
    config = ContractConfig(
        base_url=gateway,
        formats=(ProviderFormat.ANTHROPIC,),
        only=("sync_text", "retry_after", "disconnect"),
    )

    report = await run_contract(config)

    assert _verdicts(report) == {
        "anthropic/sync_text": Verdict.PASS,
        "anthropic/retry_after": Verdict.SKIP,
        "anthropic/disconnect": Verdict.SKIP,
    }
    assert "--fake-url" in _details(report)["anthropic/disconnect"]
    assert report.ok


async def test_a_gateway_answering_openai_everywhere_fails_with_clear_details() -> None:
    only = ("sync_text", "stream_text", "error_429")
    async with serve_app(openai_everywhere) as url:
        report = await run_contract(ContractConfig(base_url=url, only=only))

    assert not report.ok
    failed = {result.name for result in report.failures}
    assert failed == {f"{fmt.value}/{name}" for fmt in ProviderFormat for name in only}
    details = _details(report)
    assert "expected the fake's echo 'You said: Contract check sync " in details["openai/sync_text"]
    assert details["openai/stream_text"] == (
        "content-type 'application/json', expected text/event-stream"
    )
    assert details["openai/error_429"].startswith("answered 200, so the upstream fault never")
    assert "forward x-fake-* request headers" in details["openai/error_429"]
    assert details["anthropic/sync_text"].startswith('expected "type": "message", got {')
    assert details["google/sync_text"] == "response.candidates is missing"
    assert details["converse/sync_text"] == "response.output is missing"
    assert "FAILED" in render_table(report)


async def test_faults_reach_a_gateway_that_does_not_forward_headers_through_the_scenario(
    fake: FakeProvider,
) -> None:
    router = gateway_router(fake.url, FAKE_KEYS)  # x-fake-* headers are not forwarded
    only = ("sync_text", "error_400", "error_429", "retry_after", "disconnect", "usage_exact")
    async with open_gateway(router) as url:
        report = await run_contract(
            ContractConfig(
                base_url=url, formats=(ProviderFormat.OPENAI,), fake_url=fake.url, only=only
            )
        )
        assert _verdicts(report) == {f"openai/{name}": Verdict.PASS for name in only}, render_table(
            report
        )
        assert all(entry.headers.get("x-fake-status") is None for entry in fake.journal)
        assert any(entry.rule and entry.rule.startswith("contract ") for entry in fake.journal)

        # Without the fake's URL only headers could carry faults: one root cause, one row.
        blind = await run_contract(
            ContractConfig(
                base_url=url,
                formats=(ProviderFormat.OPENAI,),
                only=("error_429", "error_400", "error_503"),
            )
        )
    details = _details(blind)
    assert [r.name for r in blind.failures] == ["openai/error_429"]
    assert "forward x-fake-* request headers" in details["openai/error_429"]
    assert "--fake-url" in details["openai/error_429"]
    assert details["openai/error_400"] == "same cause as openai/error_429"
    assert details["openai/error_503"] == "same cause as openai/error_429"


async def test_a_fake_url_that_is_not_the_fake_makes_rows_not_a_crash(
    fake: FakeProvider, gateway: str
) -> None:
    config = ContractConfig(
        base_url=gateway,
        formats=(ProviderFormat.ANTHROPIC,),
        fake_url=gateway,  # a gateway, not the fake server
        only=("sync_text", "error_429", "retry_after", "usage_exact", "disconnect"),
    )

    report = await run_contract(config)

    verdicts, details = _verdicts(report), _details(report)
    assert verdicts["anthropic/sync_text"] is Verdict.PASS
    assert verdicts["anthropic/error_429"] is Verdict.FAIL
    assert "POST " in details["anthropic/error_429"]
    assert "is --fake-url the fake server?" in details["anthropic/error_429"]
    for name in ("retry_after", "usage_exact", "disconnect"):
        assert details[f"anthropic/{name}"] == "same cause as anthropic/error_429"


async def test_a_buffering_gateway_that_retries_at_once_fails_retry_and_disconnect(
    fake: FakeProvider,
) -> None:
    async with serve_app(NaiveProxy(fake.url)) as url:
        report = await run_contract(
            ContractConfig(
                base_url=url,
                formats=(ProviderFormat.ANTHROPIC,),
                fake_url=fake.url,
                api_keys={ProviderFormat.ANTHROPIC: FAKE_KEYS["anthropic"]},
                only=("sync_text", "retry_after", "disconnect"),
            )
        )

    details = _details(report)
    assert _verdicts(report)["anthropic/sync_text"] is Verdict.PASS
    assert details["anthropic/retry_after"].startswith("retried /v1/messages 0.")
    assert details["anthropic/retry_after"].endswith("after a 429 with retry-after: 1")
    assert details["anthropic/disconnect"].startswith("the upstream stream ran to completion")
    assert [r.name for r in report.failures] == ["anthropic/retry_after", "anthropic/disconnect"]


async def test_unserved_formats_are_skipped_but_serving_none_fails() -> None:
    async with serve_app(not_found_everywhere) as url:
        report = await run_contract(ContractConfig(base_url=url))

    skipped = [r for r in report.results if r.verdict is Verdict.SKIP]
    assert [r.check for r in skipped] == ["served"] * (len(ProviderFormat) + len(RealtimeFormat))
    assert skipped[0].detail == "not served: POST /v1/chat/completions answered 404"
    assert skipped[-1].detail.startswith("not served: the upgrade to /ws/google.ai.")
    assert [r.detail for r in report.failures] == [
        f"the gateway at {url} serves none of the formats"
    ]
    assert not report.ok


async def test_a_format_named_explicitly_must_be_served() -> None:
    async with serve_app(not_found_everywhere) as url:
        report = await run_contract(
            ContractConfig(base_url=url, formats=(ProviderFormat.GOOGLE,), only=("sync_text",))
        )

    (result,) = report.results
    assert (result.name, result.verdict) == ("google/served", Verdict.FAIL)
    assert result.detail == (
        "not served: POST /v1beta/models/gemini-2.5-flash:generateContent answered 404"
    )


async def test_a_gateway_without_timeouts_is_reported_hung_not_waited_for(
    fake: FakeProvider,
) -> None:
    # The fake itself stands for a gateway that waits on its upstream for ever.
    config = ContractConfig(
        base_url=fake.url,
        fake_url=fake.url,
        api_keys=DIRECT_KEYS,
        formats=(ProviderFormat.ANTHROPIC,),
        only=TIMEOUT_CHECKS,
        timeout_bound=0.2,
    )

    report = await run_contract(config)

    details = _details(report)
    assert [r.name for r in report.failures] == [
        "anthropic/first_byte_timeout",
        "anthropic/idle_timeout",
    ]
    first_byte = details["anthropic/first_byte_timeout"]
    assert "plain: hung: no answer within 1.3 s although the upstream sent nothing" in first_byte
    assert "stream: hung: no answer within 1.3 s although the upstream sent headers" in first_byte
    assert details["anthropic/idle_timeout"] == (
        "hung: no answer within 1.3 s although the upstream stalled after 5 events for 30 s"
        " (the gateway's bound: 0.2 s)"
    )
    assert fake.state.scenario.rules == ()


async def test_advisory_rows_warn_without_failing_the_run(fake: FakeProvider) -> None:
    # The naive proxy hands on retry-after but not retry-after-ms, nor rate-limit headers.
    async with serve_app(NaiveProxy(fake.url)) as url:
        report = await run_contract(
            ContractConfig(
                base_url=url,
                formats=(ProviderFormat.OPENAI,),
                fake_url=fake.url,
                api_keys={ProviderFormat.OPENAI: FAKE_KEYS["openai"]},
                only=("error_429", "ratelimit_headers", "request_id"),
            )
        )

    verdicts, details = _verdicts(report), _details(report)
    assert verdicts["openai/error_429"] is Verdict.WARN
    assert details["openai/error_429"] == (
        "429 rate_limit_exceeded, retry-after: 2, but no retry-after-ms (the upstream sent 1500):"
        " clients wait the whole seconds of retry-after: 2"
    )
    assert verdicts["openai/ratelimit_headers"] is Verdict.WARN
    assert (
        "the answer lacks ['x-ratelimit-limit-requests: 10000'"
        in details["openai/ratelimit_headers"]
    )
    # A request id is required for OpenAI clients: dropping it fails.
    assert verdicts["openai/request_id"] is Verdict.FAIL
    assert details["openai/request_id"].startswith("the answer (200) has no x-request-id")
    table = render_table(report)
    assert "advisory (not failures):" in table
    assert table.endswith("0 passed, 1 failed, 0 skipped, 2 advisory: FAILED\n")


async def test_a_gateway_sending_an_impossible_model_id_fails_upstream_valid(
    fake: FakeProvider,
) -> None:
    # The gateway names the Bedrock model by the caller's bare alias: Bedrock would refuse it.
    def alias(path: str) -> str:
        return (
            "/model/claude-haiku-4-5/" + path.rsplit("/", 1)[1]
            if path.startswith("/model/")
            else path
        )

    async with serve_app(NaiveProxy(fake.url, alias)) as url:
        result = await run_check(
            ContractConfig(
                base_url=url,
                fake_url=fake.url,
                api_keys={ProviderFormat.CONVERSE: FAKE_KEYS["bedrock"]},
            ),
            ProviderFormat.CONVERSE,
            "upstream_valid",
        )

    assert result.verdict is Verdict.FAIL
    assert result.detail == (
        "plain: model id 'claude-haiku-4-5' reached /model/claude-haiku-4-5/converse (bedrock);"
        " the provider refuses it: neither a model id (vendor.model) nor an inference profile"
        " of one"
    )


async def test_a_renamed_retry_after_is_reported_with_what_was_seen(fake: FakeProvider) -> None:
    async with serve_app(NaiveProxy(fake.url, prefix="llm_provider-")) as url:
        result = await run_check(
            ContractConfig(
                base_url=url,
                fake_url=fake.url,
                api_keys={ProviderFormat.ANTHROPIC: FAKE_KEYS["anthropic"]},
            ),
            ProviderFormat.ANTHROPIC,
            "error_503",
        )

    assert result.verdict is Verdict.FAIL
    assert result.detail == (
        "the upstream's 503 carried retry-after: 2 but the client's 503 has none (it carried"
        " {'llm_provider-retry-after': '2', 'llm_provider-retry-after-ms': '1500'})"
    )
    assert fake.state.scenario.rules == ()


class ShufflingEmbeddings(NaiveProxy):
    """A gateway that hands OpenAI embedding batches back in reverse order, indexes renumbered
    (as a gateway that fans a batch out and joins the answers as they come would)."""

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        async def reversing(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.body" and scope["path"] == "/v1/embeddings":
                answer = orjson.loads(message["body"])
                if isinstance(answer, dict) and isinstance(answer.get("data"), list):
                    data = list(reversed(answer["data"]))
                    for index, item in enumerate(data):
                        item["index"] = index
                    message = {**message, "body": orjson.dumps({**answer, "data": data})}
            await send(message)

        await super().__call__(scope, receive, reversing)


async def test_a_gateway_that_reorders_an_embedding_batch_fails_naming_it(
    fake: FakeProvider,
) -> None:
    async with serve_app(ShufflingEmbeddings(fake.url)) as url:
        config = ContractConfig(
            base_url=url,
            formats=(ProviderFormat.OPENAI,),
            api_keys={ProviderFormat.OPENAI: FAKE_KEYS["openai"]},
            only=("embeddings", "embeddings_base64"),
        )
        report = await run_contract(config)
    verdicts, details = _verdicts(report), _details(report)
    assert verdicts["openai/embeddings"] is Verdict.FAIL
    assert "reordered or altered" in details["openai/embeddings"]
    assert verdicts["openai/embeddings_base64"] is Verdict.PASS  # both answers reversed alike
