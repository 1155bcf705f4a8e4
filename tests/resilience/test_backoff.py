"""Full-jitter backoff bounds and the retry headers providers send."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llm_router.resilience import RetryPolicy, backoff_delay, parse_retry_after, parse_should_retry
from llm_router.resilience.backoff import backoff_ceiling

# 2015-10-21 07:28:00 GMT, the date of RFC 9110's example.
EXAMPLE_EPOCH = 1445412480.0


def test_ceiling_grows_exponentially_and_is_capped() -> None:
    policy = RetryPolicy(initial_delay=0.5, multiplier=2.0, max_delay=8.0)
    assert [backoff_ceiling(n, policy) for n in range(1, 7)] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]


def test_ceiling_survives_huge_exponents() -> None:
    policy = RetryPolicy(initial_delay=1.0, multiplier=1e10, max_delay=30.0)
    assert backoff_ceiling(10_000, policy) == 30.0


def test_retry_numbers_count_from_one() -> None:
    with pytest.raises(ValueError, match="from 1"):
        backoff_ceiling(0, RetryPolicy())


@settings(max_examples=200)
@given(retry=st.integers(1, 60), seed=st.integers(0, 2**32))
def test_full_jitter_stays_within_zero_and_ceiling(retry: int, seed: int) -> None:
    policy = RetryPolicy(initial_delay=0.25, multiplier=3.0, max_delay=20.0)
    delay = backoff_delay(retry, policy, random.Random(seed))
    assert 0.0 <= delay <= backoff_ceiling(retry, policy)


def test_full_jitter_spreads_over_the_whole_interval() -> None:
    policy = RetryPolicy(initial_delay=1.0, max_delay=1.0)
    rng = random.Random(7)
    draws = [backoff_delay(1, policy, rng) for _ in range(2000)]
    assert min(draws) < 0.05 and max(draws) > 0.95
    assert 0.45 < sum(draws) / len(draws) < 0.55


def test_same_seed_same_delays() -> None:
    policy = RetryPolicy()
    first = [backoff_delay(n, policy, random.Random(1)) for n in range(1, 5)]
    second = [backoff_delay(n, policy, random.Random(1)) for n in range(1, 5)]
    assert first == second


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, None),
        ({"retry-after-ms": "1500"}, 1.5),
        ({"x-ms-retry-after-ms": "250"}, 0.25),
        ({"retry-after": "7"}, 7.0),
        ({"retry-after": "2.5"}, 2.5),
        ({"Retry-After": "3"}, 3.0),
        ({"retry-after": "0"}, 0.0),
        # Milliseconds win over seconds; an unreadable header falls through to the next.
        ({"retry-after-ms": "100", "retry-after": "9"}, 0.1),
        ({"retry-after-ms": "soon", "retry-after": "9"}, 9.0),
        ({"retry-after-ms": "-5", "x-ms-retry-after-ms": "300"}, 0.3),
        ({"retry-after": "-1"}, None),
        ({"retry-after": "inf"}, None),
        ({"retry-after": "nan"}, None),
        ({"retry-after": "whenever"}, None),
        # HTTP dates: measured from the wall clock; the past means now.
        ({"retry-after": "Wed, 21 Oct 2015 07:28:30 GMT"}, 30.0),
        ({"retry-after": "Wed, 21 Oct 2015 07:28:00 -0000"}, 0.0),
        ({"retry-after": "Wed, 21 Oct 2015 07:27:00 GMT"}, 0.0),
        ({"retry-after": "Wed, 32 Oct 2015 07:28:30 GMT"}, None),
    ],
)
def test_parse_retry_after(headers: dict[str, str], expected: float | None) -> None:
    assert parse_retry_after(headers, wall_now=EXAMPLE_EPOCH) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [("true", True), ("false", False), ("TRUE", True), (" false ", False), ("maybe", None)],
)
def test_parse_should_retry(value: str, expected: bool | None) -> None:
    assert parse_should_retry({"X-Should-Retry": value}) is expected
    assert parse_should_retry({}) is None


@pytest.mark.parametrize(
    "headers",
    [
        {"retry-after": "1e308"},
        {"retry-after": "86401"},
        {"retry-after-ms": "1e308"},
        {"retry-after": "Fri, 31 Dec 9999 23:59:59 GMT"},
    ],
)
def test_waits_longer_than_a_day_are_ignored_as_unreadable(headers: dict[str, str]) -> None:
    assert parse_retry_after(headers, wall_now=0.0) is None


def test_an_absurd_millisecond_wait_falls_back_to_retry_after() -> None:
    headers = {"retry-after-ms": "1e308", "retry-after": "2"}
    assert parse_retry_after(headers, wall_now=0.0) == 2.0


@pytest.mark.parametrize("value", [1e308, float("inf"), float("nan"), -1.0, 86_401.0])
def test_a_rate_limit_error_drops_an_unreal_retry_after(value: float) -> None:
    from llm_router import errors

    assert errors.RateLimitError("slow down", retry_after=value).retry_after is None
    assert errors.RateLimitError("slow down", retry_after=3.5).retry_after == 3.5
