"""Hooks never break a call, and records never carry secrets."""

from __future__ import annotations

import logging

import pytest

from llm_router import errors
from llm_router.resilience import RequestStarted
from llm_router.resilience.log import describe_error, emit


def test_emit_calls_the_hook_with_the_record() -> None:
    seen: list[RequestStarted] = []
    record = RequestStarted(1, "gpt", ("a",))
    emit(seen.append, record)
    emit(None, record)
    assert seen == [record]


def test_a_failing_hook_is_logged_and_swallowed(caplog: pytest.LogCaptureFixture) -> None:
    def broken(record: RequestStarted) -> None:
        raise RuntimeError("observer bug")

    with caplog.at_level(logging.ERROR, logger="llm_router.resilience"):
        emit(broken, RequestStarted(1, "", ()))
    assert "RequestStarted" in caplog.text
    assert "observer bug" in caplog.text


def test_describe_error_gives_status_class_and_message() -> None:
    error = errors.RateLimitError("openai: slow down", status=429)
    assert describe_error(error) == (429, "RateLimitError", "openai: slow down")
    assert describe_error(ValueError("plain")) == (None, "ValueError", "plain")


def test_describe_error_masks_query_strings_and_trims() -> None:
    leaky = ConnectionError(
        "GET https://generativelanguage.googleapis.com/v1/x?key=AIzaSECRET failed"
    )
    _, _, message = describe_error(leaky)
    assert "SECRET" not in message
    assert "https://generativelanguage.googleapis.com/v1/x?" in message
    _, _, long_message = describe_error(ValueError("x" * 1000))
    assert len(long_message) == 300
