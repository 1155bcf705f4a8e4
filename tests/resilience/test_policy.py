"""Policies validate their fields at construction and name the offending one."""

from __future__ import annotations

import pytest

from llm_router.errors import ConfigurationError
from llm_router.resilience import (
    BreakerPolicy,
    BudgetPolicy,
    HedgePolicy,
    RetryPolicy,
    TimeoutPolicy,
)


def test_defaults_are_valid_and_frozen() -> None:
    policy = RetryPolicy()
    assert (policy.max_attempts, policy.max_retry_after) == (3, 60.0)
    with pytest.raises(AttributeError):
        policy.max_attempts = 5  # type: ignore[misc]
    HedgePolicy()
    TimeoutPolicy()
    BreakerPolicy()
    BudgetPolicy()


@pytest.mark.parametrize(
    ("factory", "field"),
    [
        (lambda: RetryPolicy(max_attempts=0), "RetryPolicy.max_attempts"),
        (lambda: RetryPolicy(initial_delay=-1), "RetryPolicy.initial_delay"),
        (lambda: RetryPolicy(initial_delay=2, max_delay=1), "RetryPolicy.max_delay"),
        (lambda: RetryPolicy(multiplier=0.5), "RetryPolicy.multiplier"),
        (lambda: RetryPolicy(max_retry_after=float("inf")), "RetryPolicy.max_retry_after"),
        (lambda: HedgePolicy(max_attempts=1), "HedgePolicy.max_attempts"),
        (lambda: HedgePolicy(max_attempts=6), "HedgePolicy.max_attempts"),
        (lambda: HedgePolicy(delay=-0.1), "HedgePolicy.delay"),
        (lambda: HedgePolicy(percentile=100), "HedgePolicy.percentile"),
        (lambda: HedgePolicy(max_extra_load=0), "HedgePolicy.max_extra_load"),
        (lambda: HedgePolicy(max_extra_load=1.5), "HedgePolicy.max_extra_load"),
        (lambda: HedgePolicy(min_samples=0), "HedgePolicy.min_samples"),
        (lambda: TimeoutPolicy(connect=0), "TimeoutPolicy.connect"),
        (lambda: TimeoutPolicy(total=float("nan")), "TimeoutPolicy.total"),
        (lambda: BreakerPolicy(consecutive_failures=0), "BreakerPolicy.consecutive_failures"),
        (lambda: BreakerPolicy(failure_rate=0), "BreakerPolicy.failure_rate"),
        (lambda: BreakerPolicy(cooldown=0), "BreakerPolicy.cooldown"),
        (lambda: BudgetPolicy(max_tokens=0), "BudgetPolicy.max_tokens"),
        (lambda: BudgetPolicy(max_tokens=1001), "BudgetPolicy.max_tokens"),
        (lambda: BudgetPolicy(token_ratio=2), "BudgetPolicy.token_ratio"),
        (lambda: BudgetPolicy(hedge_burst=0.5), "BudgetPolicy.hedge_burst"),
    ],
)
def test_invalid_values_name_the_field(factory: object, field: str) -> None:
    with pytest.raises(ConfigurationError, match=field.replace(".", r"\.")):
        factory()  # type: ignore[operator]


def test_none_disables_a_timeout_and_a_fixed_hedge_delay() -> None:
    assert TimeoutPolicy(connect=None, first_byte=None, idle=None, total=None).total is None
    assert HedgePolicy(delay=0.0).delay == 0.0
    assert HedgePolicy(delay=None).delay is None
