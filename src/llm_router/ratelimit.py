"""Rate-limit decisions: requests and tokens per period, concurrency, and provider quotas.

Sans-IO: every method takes `now` (seconds on whatever clock the caller shares with the other
users of the same limits) and nothing here waits or reads a clock. The waiting, queueing and
sharing live in `llm_router.limiting` and `llm_router.state`.

Algorithm: a sliding window *log*. Each admitted request is logged with its time and token
weight; a request is admitted only if the requests (and tokens) logged in the last `period`
seconds leave room for it. This is exact for the promise users read into "100 requests a
minute" -- no 60-second window, wherever it starts, ever holds more than 100 -- which is also
how the providers count. GCRA (a token bucket) would need O(1) memory but lets a full burst
through at the end of one window and nearly another over the next, up to twice the limit in
some 60-second window; fixed windows have the same edge. The log's memory is bounded by the
limit itself (at most `rpm` entries per scope), and the log gives the exact time at which a
refused request would fit, so waiters sleep exactly as long as needed.

Tokens are admitted on an estimate (`estimate_tokens`) and corrected once the provider
reports the real usage (`SlidingWindowLog.correct`).
"""

from __future__ import annotations

import datetime
import math
import re
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from llm_router import errors

__all__ = [
    "Quota",
    "RateLimitPolicy",
    "ScopeLimits",
    "ScopeState",
    "SlidingWindowLog",
    "estimate_tokens",
    "parse_quota_headers",
    "reported_tokens",
]

OnLimit = Literal["wait", "fail"]
Scope = Literal["route", "model", "key"]


@dataclass(frozen=True, slots=True)
class RateLimitPolicy:
    """Limits for one scope (a route, a model, or a caller key).

    `rpm` requests and `tpm` tokens per `period` seconds (60: per minute; shorter periods are
    for tests and for providers that count per second), at most `max_concurrency` calls in
    flight. At the limit, `on_limit="wait"` queues the call (first come, first served, for at
    most the call's deadline and behind at most `max_queue` others); `"fail"` raises
    `RateLimitError` with `retry_after` at once.
    """

    rpm: int | None = None
    tpm: int | None = None
    max_concurrency: int | None = None
    on_limit: OnLimit = "wait"
    max_queue: int = 1000
    period: float = 60.0

    def __post_init__(self) -> None:
        for name in ("rpm", "tpm", "max_concurrency"):
            value = getattr(self, name)
            if value is not None and (
                not isinstance(value, int) or isinstance(value, bool) or value < 1
            ):
                raise errors.ConfigurationError(
                    f"RateLimitPolicy.{name} must be a positive integer or None, got {value!r}"
                )
        if self.rpm is None and self.tpm is None and self.max_concurrency is None:
            raise errors.ConfigurationError(
                "RateLimitPolicy needs at least one of rpm, tpm or max_concurrency"
            )
        if self.on_limit not in ("wait", "fail"):
            raise errors.ConfigurationError(
                f'RateLimitPolicy.on_limit must be "wait" or "fail", got {self.on_limit!r}'
            )
        if not isinstance(self.max_queue, int) or self.max_queue < 0:
            raise errors.ConfigurationError(
                f"RateLimitPolicy.max_queue must be an integer >= 0, got {self.max_queue!r}"
            )
        if not (isinstance(self.period, int | float) and math.isfinite(self.period)) or (
            self.period <= 0
        ):
            raise errors.ConfigurationError(
                f"RateLimitPolicy.period must be a positive number of seconds, got {self.period!r}"
            )


@dataclass(frozen=True, slots=True)
class ScopeLimits:
    """One scope's limits as the state backends see them: a key and plain numbers."""

    key: str
    rpm: int | None
    tpm: int | None
    max_concurrency: int | None
    period: float

    @classmethod
    def of(cls, key: str, policy: RateLimitPolicy) -> ScopeLimits:
        return cls(key, policy.rpm, policy.tpm, policy.max_concurrency, float(policy.period))

    def scaled(self, share: float) -> ScopeLimits:
        """These limits times `share` (at least 1 each): one process's part of a shared limit."""

        def part(value: int | None) -> int | None:
            return None if value is None else max(1, math.floor(value * share))

        return ScopeLimits(
            self.key, part(self.rpm), part(self.tpm), part(self.max_concurrency), self.period
        )


class SlidingWindowLog:
    """Weighted entries of the last `period` seconds, oldest first, with their running sum."""

    __slots__ = ("_entries", "_weights", "period", "total")

    def __init__(self, period: float) -> None:
        self.period = period
        self._entries: deque[tuple[float, str]] = deque()
        self._weights: dict[str, int] = {}
        self.total = 0

    def __len__(self) -> int:
        return len(self._entries)

    def prune(self, now: float) -> None:
        horizon = now - self.period
        while self._entries and self._entries[0][0] <= horizon:
            _, ident = self._entries.popleft()
            self.total -= self._weights.pop(ident, 0)

    def wait_for(self, weight: int, limit: int, now: float) -> float:
        """Seconds until `weight` more fits under `limit` (0.0: it fits now). Call `prune` first.

        A weight above the limit waits for an empty window and is then admitted alone, so an
        underestimated limit delays a large request instead of refusing it forever.
        """
        weight = min(weight, limit)
        excess = self.total + weight - limit
        if excess <= 0:
            return 0.0
        for at, ident in self._entries:
            excess -= self._weights.get(ident, 0)
            if excess <= 0:
                return at + self.period - now
        return self.period  # unreachable with consistent weights; a safe upper bound

    def add(self, ident: str, weight: int, now: float) -> None:
        self._entries.append((now, ident))
        self._weights[ident] = weight
        self.total += weight

    def correct(self, ident: str, weight: int) -> None:
        """Replace the weight logged for `ident` (still in the window) by the real one."""
        old = self._weights.get(ident)
        if old is not None:
            self._weights[ident] = weight
            self.total += weight - old


@dataclass(slots=True)
class Quota:
    """What a provider said is left: remaining requests/tokens until their reset times."""

    requests_remaining: int | None = None
    requests_reset: float = -math.inf
    tokens_remaining: int | None = None
    tokens_reset: float = -math.inf

    def merge(self, other: Quota) -> None:
        if other.requests_remaining is not None:
            self.requests_remaining = other.requests_remaining
            self.requests_reset = other.requests_reset
        if other.tokens_remaining is not None:
            self.tokens_remaining = other.tokens_remaining
            self.tokens_reset = other.tokens_reset


class ScopeState:
    """The in-process state of one scope: request and token logs, leases, provider quota."""

    __slots__ = ("leases", "quota", "requests", "tokens")

    def __init__(self, period: float) -> None:
        self.requests = SlidingWindowLog(period)
        self.tokens = SlidingWindowLog(period)
        self.leases: dict[str, float] = {}  # grant id -> lease expiry
        self.quota = Quota()

    def wait_for(self, limits: ScopeLimits, tokens: int, now: float) -> float:
        """Seconds until a request of `tokens` fits (0.0 now; inf: until a call ends)."""
        self.requests.period = self.tokens.period = limits.period
        self.requests.prune(now)
        self.tokens.prune(now)
        wait = 0.0
        if limits.rpm is not None:
            wait = max(wait, self.requests.wait_for(1, limits.rpm, now))
        if limits.tpm is not None:
            wait = max(wait, self.tokens.wait_for(tokens, limits.tpm, now))
        quota = self.quota
        requests_left = quota.requests_remaining
        if requests_left is not None and now < quota.requests_reset and requests_left < 1:
            wait = max(wait, quota.requests_reset - now)
        tokens_left = quota.tokens_remaining
        if tokens_left is not None and now < quota.tokens_reset and tokens_left < max(tokens, 1):
            wait = max(wait, quota.tokens_reset - now)
        if limits.max_concurrency is not None:
            for ident in [i for i, until in self.leases.items() if until <= now]:
                del self.leases[ident]
            if len(self.leases) >= limits.max_concurrency:
                wait = math.inf
        return wait

    def admit(self, limits: ScopeLimits, ident: str, tokens: int, now: float, lease: float) -> None:
        """Record an admitted request (after `wait_for` said 0.0 for every scope)."""
        if limits.rpm is not None:
            self.requests.add(ident, 1, now)
        if limits.tpm is not None:
            self.tokens.add(ident, min(tokens, limits.tpm), now)
        if limits.max_concurrency is not None:
            self.leases[ident] = now + lease
        quota = self.quota
        if quota.requests_remaining is not None and now < quota.requests_reset:
            quota.requests_remaining -= 1
        if quota.tokens_remaining is not None and now < quota.tokens_reset:
            quota.tokens_remaining -= tokens

    def settle(self, ident: str, tokens: int | None, *, release: bool) -> None:
        if tokens is not None:
            self.tokens.correct(ident, tokens)
        if release:
            self.leases.pop(ident, None)


# -- estimates and provider reports -------------------------------------------------------------

#: Characters per token of the estimate: OpenAI's rule of thumb for English text and JSON.
CHARS_PER_TOKEN = 4
_MAX_TOKEN_FIELDS = ("max_tokens", "max_completion_tokens", "max_output_tokens", "maxTokens")


def estimate_tokens(
    raw: bytes, obj: Mapping[str, Any], *, default_output: int = 0
) -> tuple[int, int]:
    """The (input, output) tokens a request will cost, before sending it.

    Input is estimated as ``len(body) / 4`` (the body's JSON is a slight overestimate of the
    prompt, which is the safe side). Output is the body's max-tokens field when present
    (OpenAI counts it against the tokens-per-minute limit at admission, too), else
    `default_output`. The estimate is corrected when the provider reports usage.
    """
    output: Any = None
    for name in _MAX_TOKEN_FIELDS:
        output = obj.get(name)
        if output is not None:
            break
    config = obj.get("generationConfig") or obj.get("inferenceConfig")
    if output is None and isinstance(config, Mapping):
        output = config.get("maxOutputTokens", config.get("maxTokens"))
    if not isinstance(output, int) or isinstance(output, bool) or output < 0:
        output = default_output
    return math.ceil(len(raw) / CHARS_PER_TOKEN), output


def reported_tokens(body: bytes) -> int | None:
    """Total tokens a provider answer reports, in any supported format (None: no usage)."""
    import orjson

    try:
        obj = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(obj, dict):
        return None
    usage = obj.get("usage") or obj.get("usageMetadata")
    if not isinstance(usage, dict):
        return None
    for name in ("total_tokens", "totalTokenCount", "totalTokens"):
        value = usage.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    total = 0
    found = False
    for name in (
        "input_tokens",
        "output_tokens",
        "prompt_tokens",
        "completion_tokens",
        "cache_read_input_tokens",
        "cache_creation_input_tokens",
    ):
        value = usage.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            total += value
            found = True
    return total if found else None


_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")


def _parse_duration(text: str) -> float | None:
    """OpenAI-style reset durations: "1s", "6m0s", "20ms", "1h2m3.5s"; bare numbers are seconds."""
    text = text.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    total = 0.0
    pos = 0
    for match in _DURATION_PART.finditer(text):
        if match.start() != pos:
            return None
        pos = match.end()
        value = float(match.group(1))
        total += value * {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}[match.group(2)]
    return total if pos == len(text) and pos else None


def _parse_reset(text: str, wall_now: float) -> float | None:
    """Seconds until a reset given as a duration or as an RFC 3339 time (Anthropic)."""
    duration = _parse_duration(text)
    if duration is not None:
        return duration
    try:
        when = datetime.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - wall_now)


def _int_header(headers: Mapping[str, str], name: str) -> int | None:
    value = headers.get(name)
    if value is None:
        return None
    try:
        return max(0, int(value.strip()))
    except ValueError:
        return None


def parse_quota_headers(
    headers: Mapping[str, str], *, now: float, wall_now: float, retry_after: float | None = None
) -> Quota | None:
    """The quota a response's rate-limit headers announce, with resets on the `now` clock.

    Reads OpenAI-style ``x-ratelimit-remaining-requests/-tokens`` with
    ``x-ratelimit-reset-requests/-tokens`` (durations like ``6m0s``) and Anthropic's
    ``anthropic-ratelimit-requests/tokens-remaining`` with ``-reset`` (RFC 3339). A 429's
    `retry_after` means no request is left until it passes. None: nothing was announced.
    Header names must be lower case (httpx's `Headers` matches any case).
    """
    quota = Quota()
    for prefix, remaining_suffix, reset_suffix in (
        ("x-ratelimit-", "remaining-{}", "reset-{}"),
        ("anthropic-ratelimit-", "{}-remaining", "{}-reset"),
    ):
        for kind in ("requests", "tokens"):
            remaining = _int_header(headers, prefix + remaining_suffix.format(kind))
            reset_text = headers.get(prefix + reset_suffix.format(kind))
            if remaining is None or reset_text is None:
                continue
            reset = _parse_reset(reset_text, wall_now)
            if reset is None:
                continue
            if kind == "requests":
                quota.requests_remaining, quota.requests_reset = remaining, now + reset
            else:
                quota.tokens_remaining, quota.tokens_reset = remaining, now + reset
    if retry_after is not None and retry_after > 0:
        announced = quota.requests_reset if quota.requests_remaining == 0 else -math.inf
        quota.requests_remaining = 0
        quota.requests_reset = max(now + retry_after, announced)
    if quota.requests_remaining is None and quota.tokens_remaining is None:
        return None
    return quota
