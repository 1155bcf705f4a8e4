"""Token buckets that bound extra load: the per-route retry budget and the hedge budget.

Both are plain arithmetic with no notion of time: tokens move only when attempts end or
requests start, so the bounds they give hold however fast or slow traffic is.
"""

from __future__ import annotations

from llm_router.resilience.policy import BudgetPolicy

__all__ = ["HedgeBudget", "RetryBudget"]

#: Ten deposits of 0.1 sum to 0.9999999999999999: forgive float rounding, not real shortfalls.
_ROUNDING = 1e-9


class RetryBudget:
    """gRPC-style retry throttling for one route.

    The bucket starts full at `max_tokens`. A failed attempt costs one token, a successful one
    earns `token_ratio` back (never above `max_tokens`). Retries and hedges are allowed only
    while more than half the tokens remain, so once a route fails persistently it receives
    about one extra attempt per ``1 / token_ratio`` successes instead of a multiple of its load.
    """

    __slots__ = ("_tokens", "max_tokens", "token_ratio")

    def __init__(self, policy: BudgetPolicy | None = None) -> None:
        policy = policy or BudgetPolicy()
        self.max_tokens = policy.max_tokens
        self.token_ratio = policy.token_ratio
        self._tokens = policy.max_tokens

    @property
    def tokens(self) -> float:
        """The tokens left (between 0 and `max_tokens`)."""
        return self._tokens

    def adopt(self, tokens: float) -> None:
        """Take the level a shared state holds for this route (clamped to the bucket)."""
        self._tokens = min(self.max_tokens, max(0.0, tokens))

    def can_retry(self) -> bool:
        """Whether a retry or hedge may be sent to this route now."""
        return self._tokens > self.max_tokens / 2

    def record_failure(self) -> None:
        """An attempt on this route failed in a way that speaks about the route's health."""
        self._tokens = max(0.0, self._tokens - 1.0)

    def record_success(self) -> None:
        """An attempt on this route succeeded."""
        self._tokens = min(self.max_tokens, self._tokens + self.token_ratio)

    def __repr__(self) -> str:
        return f"RetryBudget(tokens={self._tokens:g}/{self.max_tokens:g})"


class HedgeBudget:
    """Caps hedges at a fraction of requests, plus a burst allowance.

    Every request deposits its `max_extra_load` (a fraction of a token); a hedge withdraws a
    whole token. The bucket starts full, at `burst` (as gRPC's retry throttling starts full),
    so a fresh router hedges its first slow requests as a warm one would; over any run, hedges
    stay within ``burst + max_extra_load * requests``. `burst` also caps what quiet periods
    save up, so a sudden slowdown cannot spend a long history of calm all at once.
    """

    __slots__ = ("_tokens", "burst", "hedges", "requests")

    def __init__(self, burst: float = 10.0) -> None:
        if not burst >= 1:
            raise ValueError(f"burst must be >= 1 (one whole hedge), got {burst!r}")
        self.burst = burst
        self._tokens = float(burst)
        self.requests = 0
        self.hedges = 0

    @property
    def tokens(self) -> float:
        """The hedges currently affordable, as a fractional count."""
        return self._tokens

    def deposit(self, max_extra_load: float) -> None:
        """A request started that may be hedged at up to `max_extra_load` extra load."""
        self.requests += 1
        self._tokens = min(self.burst, self._tokens + max_extra_load)

    def adopt(self, tokens: float) -> None:
        """Take the level a shared state holds for this budget (clamped to the burst)."""
        self._tokens = min(self.burst, max(0.0, tokens))

    def try_withdraw(self) -> bool:
        """Spend one hedge if the budget holds one; False (and nothing spent) otherwise."""
        if self._tokens < 1.0 - _ROUNDING:
            return False
        self._tokens = max(0.0, self._tokens - 1.0)
        self.hedges += 1
        return True

    def __repr__(self) -> str:
        return (
            f"HedgeBudget(tokens={self._tokens:g}, requests={self.requests}, hedges={self.hedges})"
        )
