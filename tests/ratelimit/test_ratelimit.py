"""The sans-IO rate-limit decisions: the sliding window log, headers, estimates, policies."""

from __future__ import annotations

import datetime
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llm_router import errors
from llm_router.ratelimit import (
    RateLimitPolicy,
    ScopeLimits,
    ScopeState,
    SlidingWindowLog,
    estimate_tokens,
    parse_quota_headers,
    reported_tokens,
)


@settings(max_examples=200, deadline=None)
@given(
    limit=st.integers(1, 8),
    gaps=st.lists(st.floats(0, 3, allow_nan=False), min_size=1, max_size=60),
)
def test_no_window_ever_holds_more_than_the_limit(limit: int, gaps: list[float]) -> None:
    """Exactness: every window of `period` seconds, wherever it starts, holds at most `limit`
    admitted requests; and a refusal only happens when the window really is full."""
    period = 10.0
    limits = ScopeLimits("s", limit, None, None, period)
    scope = ScopeState(period)
    now, admitted = 0.0, []
    for number, gap in enumerate(gaps):
        now += gap
        wait = scope.wait_for(limits, 0, now)
        in_window = [t for t in admitted if t > now - period]
        if wait == 0.0:
            assert len(in_window) < limit
            scope.admit(limits, str(number), 0, now, lease=1)
            admitted.append(now)
        else:
            assert len(in_window) == limit
            # The wait is exactly when the oldest request in the window leaves it.
            assert wait == pytest.approx(in_window[0] + period - now)
    for start in admitted:
        assert sum(start <= t < start + period for t in admitted) <= limit


def test_token_log_correction_and_wait() -> None:
    log = SlidingWindowLog(60.0)
    log.add("a", 500, 0.0)
    log.add("b", 400, 10.0)
    assert log.wait_for(200, 1000, 20.0) == pytest.approx(40.0)  # a must leave
    log.correct("a", 50)
    assert log.total == 450
    assert log.wait_for(200, 1000, 20.0) == 0.0
    log.prune(60.0)
    assert log.total == 400 and len(log) == 1


def test_openai_headers() -> None:
    headers = {
        "x-ratelimit-remaining-requests": "0",
        "x-ratelimit-reset-requests": "1m30.5s",
        "x-ratelimit-remaining-tokens": "1200",
        "x-ratelimit-reset-tokens": "20ms",
    }
    quota = parse_quota_headers(headers, now=100.0, wall_now=0.0)
    assert quota is not None
    assert quota.requests_remaining == 0 and quota.requests_reset == pytest.approx(190.5)
    assert quota.tokens_remaining == 1200 and quota.tokens_reset == pytest.approx(100.02)


def test_anthropic_headers() -> None:
    wall = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC).timestamp()
    headers = {
        "anthropic-ratelimit-requests-remaining": "3",
        "anthropic-ratelimit-requests-reset": "2026-01-01T00:00:12Z",
        "anthropic-ratelimit-tokens-remaining": "90",
        "anthropic-ratelimit-tokens-reset": "2026-01-01T00:00:02+00:00",
    }
    quota = parse_quota_headers(headers, now=5.0, wall_now=wall)
    assert quota is not None
    assert (quota.requests_remaining, quota.requests_reset) == (3, pytest.approx(17.0))
    assert (quota.tokens_remaining, quota.tokens_reset) == (90, pytest.approx(7.0))


def test_retry_after_means_no_request_left() -> None:
    quota = parse_quota_headers({}, now=10.0, wall_now=0.0, retry_after=4.0)
    assert quota is not None
    assert (quota.requests_remaining, quota.requests_reset) == (0, 14.0)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"x-ratelimit-remaining-requests": "5"},  # no reset: nothing to act on
        {"x-ratelimit-remaining-requests": "x", "x-ratelimit-reset-requests": "1s"},
        {"x-ratelimit-remaining-requests": "1", "x-ratelimit-reset-requests": "soon"},
    ],
)
def test_headers_that_say_nothing_usable(headers: dict[str, str]) -> None:
    assert parse_quota_headers(headers, now=0.0, wall_now=0.0) is None


def test_estimate_and_report() -> None:
    raw = b'{"model":"m","messages":[{"role":"user","content":"hello"}],"max_tokens":50}'
    obj = {"max_tokens": 50}
    assert estimate_tokens(raw, obj) == (math.ceil(len(raw) / 4), 50)
    assert estimate_tokens(raw, {}, default_output=7)[1] == 7
    assert estimate_tokens(raw, {"generationConfig": {"maxOutputTokens": 9}})[1] == 9
    assert reported_tokens(b'{"usage":{"prompt_tokens":3,"completion_tokens":4}}') == 7
    assert reported_tokens(b'{"usage":{"input_tokens":3,"output_tokens":4}}') == 7
    assert reported_tokens(b'{"usageMetadata":{"totalTokenCount":11}}') == 11
    assert reported_tokens(b'{"usage":{"totalTokens":5}}') == 5
    assert reported_tokens(b"not json") is None
    assert reported_tokens(b'{"choices":[]}') is None


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({}, "at least one"),
        ({"rpm": 0}, "rpm"),
        ({"tpm": 1.5}, "tpm"),
        ({"rpm": 1, "on_limit": "drop"}, "on_limit"),
        ({"rpm": 1, "period": 0}, "period"),
        ({"rpm": 1, "max_queue": -1}, "max_queue"),
    ],
)
def test_policy_validation(kwargs: dict[str, object], fragment: str) -> None:
    with pytest.raises(errors.ConfigurationError, match=fragment):
        RateLimitPolicy(**kwargs)  # type: ignore[arg-type]
