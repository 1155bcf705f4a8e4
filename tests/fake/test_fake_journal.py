"""The journal: redaction, list access, waits from Trio and from threads."""

from __future__ import annotations

import threading

import pytest
import trio

from llm_router_testing.fake.journal import Journal, redact_headers


def test_redaction_keeps_schemes_and_sigv4_scope() -> None:
    headers = {
        "authorization": "Bearer sk-secret",
        "x-api-key": "sk-ant-secret",
        "x-goog-api-key": "g",
        "api-key": "a",
        "content-type": "application/json",
    }
    redacted = redact_headers(headers)
    assert redacted["authorization"] == "Bearer [redacted]"
    assert (
        redacted["x-api-key"] == redacted["api-key"] == redacted["x-goog-api-key"] == "[redacted]"
    )
    assert redacted["content-type"] == "application/json"
    sigv4 = "AWS4-HMAC-SHA256 Credential=AKID/20250101/us-east-1/bedrock/aws4_request, SignedHeaders=host, Signature=abc123"
    assert redact_headers({"authorization": sigv4})["authorization"] == (
        "AWS4-HMAC-SHA256 Credential=AKID/20250101/us-east-1/bedrock/aws4_request, "
        "SignedHeaders=host, Signature=[redacted]"
    )
    assert "secret" not in str(redacted)


def _entry(journal: Journal, path: str = "/v1/messages") -> object:
    return journal.new_entry(method="POST", path=path, query="", headers={}, body=b'{"a": 1}')


def test_journal_is_list_like_and_bounded() -> None:
    journal = Journal(max_entries=3)
    for index in range(5):
        _entry(journal, f"/p{index}")
    assert len(journal) == 3
    assert [entry.path for entry in journal] == ["/p2", "/p3", "/p4"]
    assert journal[-1].id == 5
    assert journal[-1].json() == {"a": 1}
    assert journal.to_json()[0]["body"] == {"a": 1}
    journal.clear()
    assert len(journal) == 0


async def test_wait_for_wakes_when_an_entry_changes() -> None:
    journal = Journal()
    entry = journal.new_entry(method="POST", path="/x", query="", headers={}, body=b"")

    async def disconnect_later() -> None:
        await trio.sleep(0.01)
        entry.disconnected = True
        journal.notify()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(disconnect_later)
        with trio.fail_after(5):
            assert await journal.wait_for_disconnect() is entry


async def test_wait_for_times_out_with_fail_after(autojump_clock: trio.testing.MockClock) -> None:
    journal = Journal()
    with pytest.raises(trio.TooSlowError), trio.fail_after(1):
        await journal.wait_for_disconnect()


def test_blocking_wait_from_another_thread() -> None:
    journal = Journal()
    entry = journal.new_entry(method="POST", path="/x", query="", headers={}, body=b"")

    def finish() -> None:
        entry.ended_at = 1.0
        journal.notify()

    timer = threading.Timer(0.02, finish)
    timer.start()
    try:
        assert journal.wait_for_blocking(lambda e: e.done, timeout=5) is entry
    finally:
        timer.join()
    with pytest.raises(TimeoutError):
        journal.wait_for_disconnect_blocking(timeout=0.01)
