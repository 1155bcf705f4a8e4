"""The classification matrix: retry, fail over, or stop."""

from __future__ import annotations

import pytest

from llm_router import errors
from llm_router.resilience import Disposition, classify

RETRY, FAILOVER, FATAL = Disposition.RETRY, Disposition.FAILOVER, Disposition.FATAL


def verdict_of(exc: BaseException, **kw: bool) -> Disposition:
    return classify(exc, wall_now=0.0, **kw).disposition


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (errors.ConnectError("refused"), RETRY),
        (errors.TimeoutError("connect timeout"), RETRY),
        (errors.RateLimitError("slow down"), RETRY),
        (errors.OverloadedError("overloaded"), RETRY),  # Anthropic 529
        (errors.UpstreamError("timeout", status=408), RETRY),
        (errors.UpstreamError("conflict", status=409), RETRY),
        (errors.UpstreamError("boom", status=500), RETRY),
        (errors.UpstreamError("bad gateway", status=502), RETRY),
        (errors.UpstreamError("unavailable", status=503), RETRY),
        (errors.UpstreamError("overloaded", status=529), RETRY),
        (errors.NotFoundError("model not found"), FAILOVER),
        (errors.AuthenticationError("bad key"), FAILOVER),
        (errors.AuthenticationError("Gemini API_KEY_INVALID", status=400), FAILOVER),
        (errors.PermissionError("forbidden"), FAILOVER),
        (errors.UpstreamError("payment required", status=402), FAILOVER),
        (errors.UpstreamError("bad request", status=400), FATAL),
        (errors.UpstreamError("unprocessable", status=422), FATAL),
        (errors.UpstreamError("too large", status=413), FATAL),
        (errors.InvalidRequestError("bad field", path="messages[0]"), FATAL),
        (errors.InvalidRequestError("unprocessable", status=422), FATAL),
        (errors.ContextWindowExceededError("too long"), FATAL),
        (errors.ContentFilterError("refused"), FATAL),
        (errors.StreamError("cut mid-stream", status=502), FATAL),
        (ConnectionResetError("reset"), RETRY),
        (TimeoutError("generic timeout"), RETRY),
        (KeyError("a bug"), FATAL),
        (errors.TranslationError("cannot express", path="tools[0]"), FATAL),
    ],
)
def test_matrix(exc: BaseException, expected: Disposition) -> None:
    assert verdict_of(exc) is expected


def test_only_health_failures_count_against_the_route() -> None:
    assert classify(errors.OverloadedError("x"), wall_now=0).route_fault
    assert classify(errors.NotFoundError("x"), wall_now=0).route_fault
    assert not classify(errors.UpstreamError("x", status=400), wall_now=0).route_fault


def test_a_committed_stream_is_never_retried() -> None:
    assert verdict_of(errors.OverloadedError("x"), committed=True) is FATAL


def test_x_should_retry_overrides_the_status() -> None:
    forced = errors.UpstreamError("x", status=400, headers={"x-should-retry": "true"})
    assert verdict_of(forced) is RETRY
    refused = errors.UpstreamError("x", status=503, headers={"x-should-retry": "false"})
    assert verdict_of(refused) is FAILOVER
    still_fatal = errors.UpstreamError("x", status=422, headers={"x-should-retry": "false"})
    assert verdict_of(still_fatal) is FATAL


def test_retry_after_from_headers_then_from_the_error() -> None:
    from_header = errors.RateLimitError("x", headers={"retry-after-ms": "1200"}, retry_after=9)
    assert classify(from_header, wall_now=0).retry_after == 1.2
    from_error = errors.RateLimitError("x", retry_after=9)
    assert classify(from_error, wall_now=0).retry_after == 9
    from_date = errors.OverloadedError(
        "x", headers={"retry-after": "Thu, 01 Jan 1970 00:01:00 GMT"}
    )
    assert classify(from_date, wall_now=30.0).retry_after == 30.0
    assert classify(errors.OverloadedError("x"), wall_now=0).retry_after is None


def test_an_answer_over_a_read_limit_fails_over_and_is_a_route_fault() -> None:
    exc = errors.ResponseTooLargeError(
        "too big", limit="max_response_body", limit_bytes=1024, status=502
    )
    verdict = classify(exc, wall_now=0.0)
    assert verdict.disposition is FAILOVER and verdict.route_fault
    assert classify(exc, wall_now=0.0, committed=True).disposition is FATAL


def test_errors_wrapped_in_stream_error_stay_fatal_after_commit() -> None:
    inner = errors.OverloadedError("overloaded")
    exc = errors.StreamError("interrupted", upstream_error=inner, status=529)
    assert verdict_of(exc) is FATAL
