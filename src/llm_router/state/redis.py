"""Shared state on Redis (or Valkey): rate-limit logs and opened circuits for many processes.

Every operation is one atomic Lua script (no read-modify-write between processes), so a
call costs two round trips: `acquire` before its first attempt, `settle` after each attempt.
Time is the wall clock of the calling process (hosts sharing a Redis must be NTP-synced;
a skew of d seconds shifts their windows by d).

Redis never stalls a call: each round trip is bounded by `timeout`; past it (or on any
error) the state falls back to in-process limits -- each process then enforces
`fallback_share` of every limit (set it to 1/N for N processes to stay under the total) --
logs a warning, counts a fallback, and `run` (in the router's nursery) reconnects and
resumes sharing. Keys live under ``{prefix}:`` (a Redis Cluster hash tag, so one script's
keys share a slot) and expire with their window; caller keys are stored only as digests.
"""

from __future__ import annotations

import logging
import math
import time
import urllib.parse
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import trio

from llm_router import errors
from llm_router.ratelimit import Quota, ScopeLimits
from llm_router.state import Admission, BudgetChange, SharedState, StateStatistics
from llm_router.state.memory import MemoryState

__all__ = ["RedisState"]

logger = logging.getLogger("llm_router.state")

# Each scope is one key prefix S with S:req (zset of request ids by time), S:tok (zset of
# token entries by time), S:tokw (hash id -> tokens), S:toksum (their sum), S:conc (zset of
# leases by expiry) and S:quota (hash of what the provider announced).
_PRUNE = """
local function prune(s, now)
  local horizon = now - s.period
  redis.call('ZREMRANGEBYSCORE', s.key .. ':req', '-inf', horizon)
  local old = redis.call('ZRANGEBYSCORE', s.key .. ':tok', '-inf', horizon)
  if #old > 0 then
    local sum = 0
    for _, id in ipairs(old) do
      sum = sum + (tonumber(redis.call('HGET', s.key .. ':tokw', id)) or 0)
      redis.call('HDEL', s.key .. ':tokw', id)
    end
    redis.call('ZREMRANGEBYSCORE', s.key .. ':tok', '-inf', horizon)
    redis.call('INCRBY', s.key .. ':toksum', -sum)
  end
  redis.call('ZREMRANGEBYSCORE', s.key .. ':conc', '-inf', now)
end
"""

_ACQUIRE = (
    _PRUNE
    + """
local now, ident, tokens, lease = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local ngroups = tonumber(ARGV[5])
local a, k = 6, 1
local groups = {}
for g = 1, ngroups do
  local n = tonumber(ARGV[a]); a = a + 1
  local scopes = {}
  for i = 1, n do
    scopes[i] = {key = KEYS[k], rpm = tonumber(ARGV[a]), tpm = tonumber(ARGV[a + 1]),
                 conc = tonumber(ARGV[a + 2]), period = tonumber(ARGV[a + 3])}
    k = k + 1; a = a + 4
  end
  groups[g] = scopes
end

local function wait_for(s)
  prune(s, now)
  local wait = 0
  if s.rpm > 0 then
    local count = redis.call('ZCARD', s.key .. ':req')
    if count >= s.rpm then
      local entry = redis.call('ZRANGE', s.key .. ':req', count - s.rpm, count - s.rpm, 'WITHSCORES')
      wait = math.max(wait, tonumber(entry[2]) + s.period - now)
    end
  end
  if s.tpm > 0 then
    local total = tonumber(redis.call('GET', s.key .. ':toksum')) or 0
    local excess = total + math.min(tokens, s.tpm) - s.tpm
    if excess > 0 then
      local entries = redis.call('ZRANGE', s.key .. ':tok', 0, -1, 'WITHSCORES')
      local found = s.period
      for i = 1, #entries, 2 do
        excess = excess - (tonumber(redis.call('HGET', s.key .. ':tokw', entries[i])) or 0)
        if excess <= 0 then found = tonumber(entries[i + 1]) + s.period - now; break end
      end
      wait = math.max(wait, found)
    end
  end
  local quota = redis.call('HMGET', s.key .. ':quota', 'rr', 'rrst', 'tr', 'trst')
  if quota[1] and now < tonumber(quota[2]) and tonumber(quota[1]) < 1 then
    wait = math.max(wait, tonumber(quota[2]) - now)
  end
  if quota[3] and now < tonumber(quota[4]) and tonumber(quota[3]) < math.max(tokens, 1) then
    wait = math.max(wait, tonumber(quota[4]) - now)
  end
  if s.conc > 0 then
    local held = redis.call('ZCARD', s.key .. ':conc')
    if held >= s.conc then wait = -1 end
  end
  return wait
end

local function free_fraction(s)
  local free = 1
  if s.rpm > 0 then free = math.min(free, 1 - redis.call('ZCARD', s.key .. ':req') / s.rpm) end
  if s.tpm > 0 then
    free = math.min(free, 1 - (tonumber(redis.call('GET', s.key .. ':toksum')) or 0) / s.tpm)
  end
  if s.conc > 0 then free = math.min(free, 1 - redis.call('ZCARD', s.key .. ':conc') / s.conc) end
  return math.max(free, 0)
end

local function admit(s)
  local ttl = math.ceil(s.period * 1000) + 1000
  if s.rpm > 0 then
    redis.call('ZADD', s.key .. ':req', now, ident)
    redis.call('PEXPIRE', s.key .. ':req', ttl)
  end
  if s.tpm > 0 then
    local w = math.min(tokens, s.tpm)
    redis.call('ZADD', s.key .. ':tok', now, ident)
    redis.call('HSET', s.key .. ':tokw', ident, w)
    redis.call('INCRBY', s.key .. ':toksum', w)
    for _, suffix in ipairs({':tok', ':tokw', ':toksum'}) do
      redis.call('PEXPIRE', s.key .. suffix, ttl)
    end
  end
  if s.conc > 0 then
    redis.call('ZADD', s.key .. ':conc', now + lease, ident)
    redis.call('PEXPIRE', s.key .. ':conc', math.ceil(lease * 1000) + 1000)
  end
  local quota = redis.call('HMGET', s.key .. ':quota', 'rr', 'rrst', 'tr', 'trst')
  if quota[1] and now < tonumber(quota[2]) then redis.call('HINCRBY', s.key .. ':quota', 'rr', -1) end
  if quota[3] and now < tonumber(quota[4]) then
    redis.call('HINCRBY', s.key .. ':quota', 'tr', -tokens)
  end
end

local index = 0
local waits, room = {}, {}
for g = 1, ngroups do
  local wait, free = 0, 1
  for _, s in ipairs(groups[g]) do
    local w = wait_for(s)
    if w == -1 or wait == -1 then wait = -1 else wait = math.max(wait, w) end
  end
  if wait == 0 and index == 0 then
    index = g
    for _, s in ipairs(groups[g]) do admit(s) end
  end
  for _, s in ipairs(groups[g]) do free = math.min(free, free_fraction(s)) end
  waits[g] = tostring(wait)
  room[g] = tostring(free)
end
local ncircuits = tonumber(ARGV[a])
local circuits, levels = {}, {}
for i = k, k + ncircuits - 1 do circuits[#circuits + 1] = redis.call('PTTL', KEYS[i]) end
for i = k + ncircuits, #KEYS do levels[#levels + 1] = redis.call('GET', KEYS[i]) or '' end
return {index, waits, room, circuits, levels}
"""
)

_SETTLE = """
local now, ident, tokens, release = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3]), ARGV[4] == '1'
local nscopes, nquotas, nopened = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local a = 8
for i = 1, nscopes do
  local s = KEYS[i]
  if tokens >= 0 then
    local old = tonumber(redis.call('HGET', s .. ':tokw', ident))
    if old then
      redis.call('HSET', s .. ':tokw', ident, tokens)
      redis.call('INCRBY', s .. ':toksum', tokens - old)
    end
  end
  if release then redis.call('ZREM', s .. ':conc', ident) end
end
for i = nscopes + 1, nscopes + nquotas do
  local q = KEYS[i] .. ':quota'
  local rr, rrst, tr, trst = ARGV[a], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3]
  a = a + 4
  if rr ~= '' then redis.call('HSET', q, 'rr', rr, 'rrst', rrst) end
  if tr ~= '' then redis.call('HSET', q, 'tr', tr, 'trst', trst) end
  local until_ = math.max(tonumber(rrst) or 0, tonumber(trst) or 0)
  if until_ > now then redis.call('PEXPIRE', q, math.ceil((until_ - now) * 1000) + 1000) end
end
local first_budget = nscopes + nquotas + nopened + 1
for i = nscopes + nquotas + 1, first_budget - 1 do
  local ms = tonumber(ARGV[a]); a = a + 1
  if redis.call('PTTL', KEYS[i]) < ms then redis.call('SET', KEYS[i], '1', 'PX', ms) end
end
for i = first_budget, #KEYS do
  local delta, start, maximum = tonumber(ARGV[a]), tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
  a = a + 3
  local level = tonumber(redis.call('GET', KEYS[i])) or start
  level = math.min(maximum, math.max(0, level + delta))
  redis.call('SET', KEYS[i], string.format('%.17g', level), 'EX', 3600)
end
return 1
"""


def _num(value: int | None) -> str:
    return "0" if value is None else str(value)


def _safe_url(url: str) -> str:
    """The URL without its credentials, for messages."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


class RedisState(SharedState):
    """Rate limits and opened circuits shared through Redis at `url` (see the module docstring).

    `timeout` bounds every round trip (seconds); `fallback_share` is the part of each limit
    one process enforces while Redis is unreachable; `reconnect_interval` paces reconnection.
    Needs the `redis` extra (`pip install 'llm-router[redis]'`, which brings `coredis`).
    """

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "llm-router",
        timeout: float = 0.1,
        fallback_share: float = 1.0,
        reconnect_interval: float = 0.5,
        clock: Callable[[], float] = time.time,
    ) -> None:
        scheme = urllib.parse.urlsplit(url).scheme if isinstance(url, str) else ""
        if scheme not in ("redis", "rediss", "unix"):
            raise errors.ConfigurationError(
                f"shared state URL must start with redis://, rediss:// or unix://, got "
                f"{_safe_url(url) if isinstance(url, str) else type(url).__name__!r}"
            )
        if not (isinstance(timeout, int | float) and 0 < timeout <= 10):
            raise errors.ConfigurationError(
                f"RedisState timeout must be in (0, 10] seconds, got {timeout!r}"
            )
        if not (isinstance(fallback_share, int | float) and 0 < fallback_share <= 1):
            raise errors.ConfigurationError(
                f"RedisState fallback_share must be in (0, 1], got {fallback_share!r}"
            )
        if not isinstance(prefix, str) or not prefix or any(c in prefix for c in "{}"):
            raise errors.ConfigurationError(
                f"RedisState prefix must be a non-empty string without braces, got {prefix!r}"
            )
        self._url = url
        self.safe_url = _safe_url(url)
        self.prefix = prefix
        self.timeout = float(timeout)
        self.fallback_share = float(fallback_share)
        self.reconnect_interval = reconnect_interval
        self._clock = clock
        self._fallback = MemoryState(clock=clock)
        self._client: Any = None
        self._acquire_script: Any = None
        self._settle_script: Any = None
        self._broken = trio.Event()
        self.fallbacks = 0
        self.reconnects = 0
        self.round_trips = 0

    def __repr__(self) -> str:
        state = "shared" if self.shared else "fallback"
        return f"<RedisState {self.safe_url} prefix={self.prefix!r} {state}>"

    @property
    def shared(self) -> bool:
        return self._client is not None

    def now(self) -> float:
        return self._clock()

    def _key(self, name: str) -> str:
        return f"{{{self.prefix}}}:{name}"

    # -- connection --------------------------------------------------------------------------
    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Connect, and reconnect whenever a round trip failed, until cancelled. Signals
        `task_status.started()` after the first connection attempt, whatever its outcome."""
        try:
            import coredis
        except ImportError:  # pragma: no cover - depends on the installed extras
            raise errors.ConfigurationError(
                "RedisState needs coredis: pip install 'llm-router[redis]'"
            ) from None
        started = False
        while True:
            try:
                client = coredis.Redis.from_url(
                    self._url,
                    connect_timeout=self.timeout,
                    stream_timeout=max(self.timeout, 1.0),
                    retry_policy=coredis.retry.NoRetryPolicy(),
                )
                with trio.move_on_after(self.timeout * 5) as connecting:
                    async with client:
                        await client.ping()
                        self._acquire_script = client.register_script(_ACQUIRE)
                        self._settle_script = client.register_script(_SETTLE)
                        connecting.deadline = math.inf  # connected: stay until it breaks
                        self._broken = trio.Event()
                        self._client = client
                        if self.fallbacks:
                            self.reconnects += 1
                            logger.warning(
                                "shared state %s reachable again: sharing", self.safe_url
                            )
                        if not started:
                            started = True
                            task_status.started()
                        try:
                            await self._broken.wait()
                        finally:
                            self._client = None
                if connecting.cancelled_caught and not started:
                    self._fail(f"no connection within {self.timeout * 5:g} s")
            except Exception as exc:
                if not started:
                    self._fail(exc)
            if not started:
                started = True
                task_status.started()
            await trio.sleep(self.reconnect_interval)

    def _fail(self, why: BaseException | str) -> None:
        if isinstance(why, BaseExceptionGroup):
            why = why.exceptions[0] if len(why.exceptions) == 1 else why
        reason = why if isinstance(why, str) else f"{type(why).__name__}: {why}"
        self.fallbacks += 1
        logger.warning(
            "shared state %s unavailable (%s): using in-process limits (%g of each) until it "
            "is back",
            self.safe_url,
            reason[:200],
            self.fallback_share,
        )
        self._client = None
        self._broken.set()

    async def _round_trip(self, call: Callable[[], Awaitable[Any]]) -> Any:
        """Run one script call within `timeout`; None (and fallback) when it did not answer."""
        if self._client is None:
            return None
        self.round_trips += 1
        try:
            with trio.move_on_after(self.timeout):
                return await call()
            self._fail(f"no answer within {self.timeout:g} s")
        except Exception as exc:
            self._fail(exc)
        return None

    # -- operations --------------------------------------------------------------------------
    async def acquire(
        self,
        groups: Sequence[Sequence[ScopeLimits]],
        ident: str,
        tokens: int,
        *,
        lease: float,
        circuits: Sequence[str] = (),
        budgets: Sequence[str] = (),
    ) -> Admission:
        keys: list[str] = []
        args: list[str] = [repr(self.now()), ident, str(tokens), repr(lease), str(len(groups))]
        for group in groups:
            args.append(str(len(group)))
            for limits in group:
                keys.append(self._key(limits.key))
                args += [
                    _num(limits.rpm),
                    _num(limits.tpm),
                    _num(limits.max_concurrency),
                    repr(limits.period),
                ]
        args.append(str(len(circuits)))
        keys += [self._key("circuit:" + key) for key in circuits]
        keys += [self._key("budget:" + key) for key in budgets]
        script = self._acquire_script
        reply = await self._round_trip(lambda: script(keys=keys, args=args))
        if reply is None:
            share = self.fallback_share
            scaled = [[limits.scaled(share) for limits in group] for group in groups]
            return await self._fallback.acquire(
                scaled, ident, tokens, lease=lease, circuits=circuits, budgets=budgets
            )
        index, waits, room, ttls, levels = reply
        open_circuits = {
            key: int(ttl) / 1000 for key, ttl in zip(circuits, ttls, strict=True) if int(ttl) > 0
        }
        return Admission(
            None if int(index) == 0 else int(index) - 1,
            tuple(math.inf if float(w) < 0 else float(w) for w in waits),
            tuple(float(f) for f in room),
            open_circuits,
            {key: float(level) for key, level in zip(budgets, levels, strict=True) if level},
        )

    async def settle(
        self,
        scopes: Sequence[ScopeLimits],
        ident: str,
        *,
        tokens: int | None,
        release: bool,
        quotas: Mapping[str, Quota] | None = None,
        opened: Mapping[str, float] | None = None,
        budgets: Mapping[str, BudgetChange] | None = None,
    ) -> None:
        quotas = quotas or {}
        opened = opened or {}
        budgets = budgets or {}
        keys = [self._key(limits.key) for limits in scopes]
        args = [
            repr(self.now()),
            ident,
            str(-1 if tokens is None else tokens),
            "1" if release else "0",
            str(len(scopes)),
            str(len(quotas)),
            str(len(opened)),
        ]
        for key, quota in quotas.items():
            keys.append(self._key(key))
            args += [
                "" if quota.requests_remaining is None else str(quota.requests_remaining),
                repr(quota.requests_reset),
                "" if quota.tokens_remaining is None else str(quota.tokens_remaining),
                repr(quota.tokens_reset),
            ]
        for key, seconds in opened.items():
            keys.append(self._key("circuit:" + key))
            args.append(str(max(1, math.ceil(seconds * 1000))))
        for key, (delta, start, maximum) in budgets.items():
            keys.append(self._key("budget:" + key))
            args += [repr(delta), repr(start), repr(maximum)]
        script = self._settle_script
        reply = await self._round_trip(lambda: script(keys=keys, args=args))
        if reply is None:
            await self._fallback.settle(
                scopes,
                ident,
                tokens=tokens,
                release=release,
                quotas=quotas,
                opened=opened,
                budgets=budgets,
            )

    def statistics(self) -> StateStatistics:
        return StateStatistics(
            backend="redis",
            shared=self.shared,
            fallbacks=self.fallbacks,
            round_trips=self.round_trips,
            scopes=self._fallback.statistics().scopes,
            reconnects=self.reconnects,
        )
