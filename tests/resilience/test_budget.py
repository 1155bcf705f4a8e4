"""Retry budget arithmetic (gRPC retry throttling) and the hedge extra-load bound."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llm_router.resilience import BudgetPolicy, HedgeBudget, RetryBudget


def test_retry_budget_starts_full_and_allows_retries() -> None:
    budget = RetryBudget(BudgetPolicy(max_tokens=10, token_ratio=0.1))
    assert budget.tokens == 10
    assert budget.can_retry()


def test_failures_cost_a_token_and_half_stops_retries() -> None:
    budget = RetryBudget(BudgetPolicy(max_tokens=10, token_ratio=0.1))
    for _ in range(4):
        budget.record_failure()
    assert budget.tokens == 6 and budget.can_retry()
    budget.record_failure()
    # Exactly half is not enough: gRPC retries only while tokens > max_tokens / 2.
    assert budget.tokens == 5 and not budget.can_retry()


def test_successes_earn_back_a_fraction_until_retries_resume() -> None:
    budget = RetryBudget(BudgetPolicy(max_tokens=10, token_ratio=0.5))
    for _ in range(5):
        budget.record_failure()
    assert not budget.can_retry()
    budget.record_success()
    assert budget.tokens == 5.5 and budget.can_retry()


def test_tokens_stay_between_zero_and_max() -> None:
    budget = RetryBudget(BudgetPolicy(max_tokens=3, token_ratio=1))
    for _ in range(10):
        budget.record_failure()
    assert budget.tokens == 0
    for _ in range(10):
        budget.record_success()
    assert budget.tokens == 3


def test_hedge_budget_starts_full_then_needs_whole_tokens() -> None:
    budget = HedgeBudget(burst=10)
    assert all(budget.try_withdraw() for _ in range(10))  # the burst allowance, from the start
    assert not budget.try_withdraw()
    for _ in range(9):
        budget.deposit(0.1)
    assert not budget.try_withdraw()
    budget.deposit(0.1)  # ten deposits of 0.1 add up to one hedge despite float rounding
    assert budget.try_withdraw()
    assert not budget.try_withdraw()
    assert (budget.requests, budget.hedges) == (10, 11)


def test_hedge_budget_burst_caps_savings() -> None:
    budget = HedgeBudget(burst=2)
    for _ in range(100):
        budget.deposit(0.5)
    assert budget.tokens == 2
    assert budget.try_withdraw() and budget.try_withdraw()
    assert not budget.try_withdraw()


def test_hedge_budget_rejects_a_burst_below_one_hedge() -> None:
    with pytest.raises(ValueError, match="burst"):
        HedgeBudget(burst=0.5)


@settings(max_examples=100)
@given(
    ratio=st.sampled_from([0.01, 0.05, 0.1, 0.25]),
    wants=st.lists(st.booleans(), min_size=1, max_size=400),
)
def test_hedges_never_exceed_the_extra_load(ratio: float, wants: list[bool]) -> None:
    budget = HedgeBudget(burst=10)
    for want_hedge in wants:
        budget.deposit(ratio)
        if want_hedge:
            budget.try_withdraw()
    assert budget.hedges <= budget.burst + ratio * budget.requests + 1e-9
