"""Retries, hedging, budgets, timeouts and circuit breaking for calls spread over routes.

The decision parts (policies, backoff, budgets, latency window, breaker, classification,
attempt log, schedule) are pure and take time as an argument; `engine` and `state` are the
Trio shell around them. Start with `run_with_resilience` and `ResilienceState`.
"""

from typing import TYPE_CHECKING

from llm_router._lazy import lazy_exports

# Loaded at once, not on first use: the function `classify` shares its name with the module
# that defines it, and only an import here keeps the package attribute the function.
from llm_router.resilience.classify import Disposition, Verdict, classify

if TYPE_CHECKING:
    from llm_router.resilience.backoff import backoff_delay, parse_retry_after, parse_should_retry
    from llm_router.resilience.breaker import BreakerState, CircuitBreaker
    from llm_router.resilience.budget import HedgeBudget, RetryBudget
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

#: Where each public name lives; imported on first use, so a module that needs only one part
#: (the attempt log, `parse_retry_after`) does not load the engine and its policies.
_HOME: dict[str, str] = {
    "backoff_delay": "llm_router.resilience.backoff",
    "parse_retry_after": "llm_router.resilience.backoff",
    "parse_should_retry": "llm_router.resilience.backoff",
    "BreakerState": "llm_router.resilience.breaker",
    "CircuitBreaker": "llm_router.resilience.breaker",
    "HedgeBudget": "llm_router.resilience.budget",
    "RetryBudget": "llm_router.resilience.budget",
    "AttemptContext": "llm_router.resilience.engine",
    "ResilientResult": "llm_router.resilience.engine",
    "RouteLike": "llm_router.resilience.engine",
    "run_with_resilience": "llm_router.resilience.engine",
    "LatencyTracker": "llm_router.resilience.latency",
    "hedge_delay": "llm_router.resilience.latency",
    "AttemptKind": "llm_router.resilience.log",
    "AttemptOutcome": "llm_router.resilience.log",
    "AttemptRecord": "llm_router.resilience.log",
    "AttemptStarted": "llm_router.resilience.log",
    "Hooks": "llm_router.resilience.log",
    "RequestFinished": "llm_router.resilience.log",
    "RequestOutcome": "llm_router.resilience.log",
    "RequestStarted": "llm_router.resilience.log",
    "BreakerPolicy": "llm_router.resilience.policy",
    "BudgetPolicy": "llm_router.resilience.policy",
    "HedgePolicy": "llm_router.resilience.policy",
    "RetryPolicy": "llm_router.resilience.policy",
    "TimeoutPolicy": "llm_router.resilience.policy",
    "ResilienceState": "llm_router.resilience.state",
    "ResilienceStatistics": "llm_router.resilience.state",
    "RouteStatistics": "llm_router.resilience.state",
    "call_with_timeout": "llm_router.resilience.timeout",
}

__getattr__, __dir__ = lazy_exports(__name__, _HOME)
