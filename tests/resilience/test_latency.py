"""The sliding latency window and the adaptive hedge delay."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llm_router.resilience import HedgePolicy, LatencyTracker, hedge_delay


def test_empty_tracker_has_no_percentile() -> None:
    tracker = LatencyTracker()
    assert tracker.percentile(95, now=0.0) is None
    assert tracker.count(0.0) == 0


def test_nearest_rank_percentiles() -> None:
    tracker = LatencyTracker()
    for value in range(1, 101):  # 1..100 seconds, recorded out of order
        tracker.record(float((value * 37) % 100 + 1), now=0.0)
    assert tracker.percentile(50, 0.0) == 50.0
    assert tracker.percentile(95, 0.0) == 95.0
    assert tracker.percentile(99, 0.0) == 99.0
    assert tracker.percentile(100, 0.0) == 100.0
    assert tracker.percentile(0.1, 0.0) == 1.0


def test_window_keeps_only_the_latest_samples() -> None:
    tracker = LatencyTracker(window=3)
    for value in (9.0, 1.0, 2.0, 3.0):
        tracker.record(value, now=0.0)
    assert tracker.count(0.0) == 3
    assert tracker.percentile(100, 0.0) == 3.0  # the 9.0 fell out


def test_old_samples_expire() -> None:
    tracker = LatencyTracker(max_age=10.0)
    tracker.record(5.0, now=0.0)
    tracker.record(1.0, now=8.0)
    assert tracker.percentile(100, now=9.0) == 5.0
    assert tracker.percentile(100, now=10.5) == 1.0
    assert tracker.count(now=30.0) == 0


def test_duplicates_are_forgotten_one_at_a_time() -> None:
    tracker = LatencyTracker(window=2)
    for value in (1.0, 1.0, 2.0):
        tracker.record(value, now=0.0)
    assert tracker.percentile(1, 0.0) == 1.0
    assert tracker.percentile(100, 0.0) == 2.0


@pytest.mark.parametrize("bad", [-0.1, float("nan"), float("inf")])
def test_bad_samples_are_rejected(bad: float) -> None:
    with pytest.raises(ValueError, match="latency sample"):
        LatencyTracker().record(bad, now=0.0)


def test_bad_configuration_is_rejected() -> None:
    with pytest.raises(ValueError, match="window"):
        LatencyTracker(window=0)
    with pytest.raises(ValueError, match="max_age"):
        LatencyTracker(max_age=0)
    with pytest.raises(ValueError, match="percentile"):
        LatencyTracker().percentile(0, now=0.0)


@settings(max_examples=100)
@given(
    samples=st.lists(st.floats(0, 100, allow_nan=False), min_size=1, max_size=60),
    window=st.integers(1, 20),
    p=st.floats(1, 100),
)
def test_matches_a_brute_force_percentile(samples: list[float], window: int, p: float) -> None:
    tracker = LatencyTracker(window=window)
    for value in samples:
        tracker.record(value, now=0.0)
    kept = sorted(samples[-window:])
    rank = math.ceil(p / 100 * len(kept))  # nearest rank, by definition
    assert tracker.percentile(p, 0.0) == kept[rank - 1]


def test_fixed_delay_wins() -> None:
    assert hedge_delay(HedgePolicy(delay=0.3), LatencyTracker(), now=0.0) == 0.3


def test_adaptive_delay_uses_initial_delay_until_enough_samples() -> None:
    policy = HedgePolicy(initial_delay=2.0, min_samples=5)
    tracker = LatencyTracker()
    for _ in range(4):
        tracker.record(0.5, now=0.0)
    assert hedge_delay(policy, tracker, now=0.0) == 2.0
    assert hedge_delay(policy, None, now=0.0) == 2.0
    tracker.record(0.5, now=0.0)
    assert hedge_delay(policy, tracker, now=0.0) == 0.5


def test_adaptive_delay_is_the_percentile_with_a_floor() -> None:
    rng = random.Random(3)
    tracker = LatencyTracker()
    values = [rng.uniform(0.2, 1.2) for _ in range(200)]
    for value in values:
        tracker.record(value, now=0.0)
    policy = HedgePolicy(percentile=90, min_samples=20, min_delay=0.05)
    assert hedge_delay(policy, tracker, now=0.0) == sorted(values)[179]
    fast = LatencyTracker()
    for _ in range(50):
        fast.record(0.001, now=0.0)
    assert hedge_delay(policy, fast, now=0.0) == 0.05
