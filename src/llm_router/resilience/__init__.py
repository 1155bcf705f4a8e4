"""Retries, hedging, budgets, timeouts and circuit breaking for calls spread over routes.

The decision parts (policies, backoff, budgets, latency window, breaker, classification,
attempt log, schedule) are pure and take time as an argument; `engine` and `state` are the
Trio shell around them. Start with `run_with_resilience` and `ResilienceState`.
"""

from llm_router.resilience.backoff import backoff_delay, parse_retry_after, parse_should_retry
from llm_router.resilience.breaker import BreakerState, CircuitBreaker
from llm_router.resilience.budget import HedgeBudget, RetryBudget
from llm_router.resilience.classify import Disposition, Verdict, classify
from llm_router.resilience.engine import (
    AttemptContext,
    ResilientResult,
    RouteLike,
    run_with_resilience,
)
from llm_router.resilience.latency import LatencyTracker, hedge_delay
from llm_router.resilience.log import (
    AttemptKind,
    AttemptOutcome,
    AttemptRecord,
    AttemptStarted,
    Hooks,
    RequestFinished,
    RequestOutcome,
    RequestStarted,
)
from llm_router.resilience.policy import (
    BreakerPolicy,
    BudgetPolicy,
    HedgePolicy,
    RetryPolicy,
    TimeoutPolicy,
)
from llm_router.resilience.state import ResilienceState, ResilienceStatistics, RouteStatistics
from llm_router.resilience.timeout import call_with_timeout

__all__ = [
    "AttemptContext",
    "AttemptKind",
    "AttemptOutcome",
    "AttemptRecord",
    "AttemptStarted",
    "BreakerPolicy",
    "BreakerState",
    "BudgetPolicy",
    "CircuitBreaker",
    "Disposition",
    "HedgeBudget",
    "HedgePolicy",
    "Hooks",
    "LatencyTracker",
    "RequestFinished",
    "RequestOutcome",
    "RequestStarted",
    "ResilienceState",
    "ResilienceStatistics",
    "ResilientResult",
    "RetryBudget",
    "RetryPolicy",
    "RouteLike",
    "RouteStatistics",
    "TimeoutPolicy",
    "Verdict",
    "backoff_delay",
    "call_with_timeout",
    "classify",
    "hedge_delay",
    "parse_retry_after",
    "parse_should_retry",
    "run_with_resilience",
]
