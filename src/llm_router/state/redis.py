"""Shared state on Redis (or Valkey, single node or cluster): rate-limit logs, opened
circuits, budgets, latency windows and wait queues for many processes.

Every round trip is one atomic Lua script (no read-modify-write between processes). A call
costs one round trip on its hot path: `acquire` before its first attempt. What happens after
an attempt (`settle`, latency samples, a waiter leaving its queue) is queued and sent with
the process's next `acquire`, or by a flusher in `run` a moment later when no acquire comes
(`flush_delay`), many at once; so a busy process pays about one round trip per call and an
idle one two. Time is the wall clock of the calling process (hosts sharing a Redis must be
NTP-synced; a skew of d seconds shifts their windows by d).

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
import os
import time
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import trio

from llm_router import errors
from llm_router.ratelimit import Quota, ScopeLimits
from llm_router.state import (
    Admission,
    BudgetChange,
    LatencyQuery,
    LatencyView,
    QueueRequest,
    SharedState,
    StateStatistics,
)
from llm_router.state._scripts import STATE
from llm_router.state.memory import MemoryState

__all__ = ["RedisState"]

logger = logging.getLogger("llm_router.state")


@dataclass(slots=True)
class _Settle:
    scopes: Sequence[ScopeLimits]
    ident: str
    tokens: int | None
    release: bool
    quotas: Mapping[str, Quota]
    opened: Mapping[str, float]
    budgets: Mapping[str, BudgetChange]


@dataclass(slots=True)
class _Outbox:
    """What waits for the next round trip."""

    settles: list[_Settle] = field(default_factory=list)
    # (route key, member, recorded at, seconds, window, max age)
    samples: list[tuple[str, str, float, float, int, float]] = field(default_factory=list)
    departures: list[tuple[str, str]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.settles or self.samples or self.departures)


@dataclass(slots=True, eq=False)
class _Request:
    """One admission waiting for its batch's round trip."""

    keys: list[str]
    args: list[str]
    groups: Sequence[Sequence[ScopeLimits]]
    turn: trio.Event = field(default_factory=trio.Event)  # answered, or its turn to send
    reply: Any = None
    answered: bool = False
    abandoned: bool = False


def _num(value: int | None) -> str:
    return "0" if value is None else str(value)


def _safe_url(url: str) -> str:
    """The URL without its credentials, for messages."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


class RedisState(SharedState):
    """Limits, circuits, budgets, latency windows and wait queues shared through Redis at
    `url` (see the module docstring).

    `timeout` bounds every round trip (seconds); `fallback_share` is the part of each limit
    one process enforces while Redis is unreachable; `reconnect_interval` paces reconnection;
    `cluster=True` speaks to a Redis Cluster (`url` names any one of its nodes); every key
    carries the ``{prefix}`` hash tag, so each script's keys share one slot. `flush_delay`:
    how long what follows an attempt may wait for the process's next acquire to carry it.
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
        cluster: bool = False,
        flush_delay: float = 0.002,
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
        if not isinstance(cluster, bool):
            raise errors.ConfigurationError(
                f"RedisState cluster must be true or false, got {cluster!r}"
            )
        if cluster and scheme == "unix":
            raise errors.ConfigurationError("a Redis Cluster is reached over TCP: use redis://")
        if not (isinstance(flush_delay, int | float) and 0 <= flush_delay <= 1):
            raise errors.ConfigurationError(
                f"RedisState flush_delay must be in [0, 1] seconds, got {flush_delay!r}"
            )
        self._url = url
        self.safe_url = _safe_url(url)
        self.prefix = prefix
        self.timeout = float(timeout)
        self.fallback_share = float(fallback_share)
        self.reconnect_interval = reconnect_interval
        self.cluster = cluster
        self.flush_delay = float(flush_delay)
        self._clock = clock
        self._fallback = MemoryState(clock=clock)
        self._client: Any = None
        self._script: Any = None
        self._broken = trio.Event()
        self._outbox = _Outbox()
        self._outbox_filled = trio.Event()
        self._waiting: list[_Request] = []
        self._sending = False
        self._samples = 0
        self._member_prefix = os.urandom(6).hex()  # sample names unique across processes
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
    def _new_client(self) -> Any:
        try:
            import coredis
        except ImportError:  # pragma: no cover - depends on the installed extras
            raise errors.ConfigurationError(
                "RedisState needs coredis: pip install 'llm-router[redis]'"
            ) from None
        options: dict[str, Any] = {
            "connect_timeout": self.timeout,
            "stream_timeout": max(self.timeout, 1.0),
            "retry_policy": coredis.retry.NoRetryPolicy(),
        }
        if self.cluster:
            from coredis.connection import TCPLocation

            parts = urllib.parse.urlsplit(self._url)
            return coredis.RedisCluster(
                startup_nodes=[TCPLocation(parts.hostname or "127.0.0.1", parts.port or 6379)],
                username=urllib.parse.unquote(parts.username) if parts.username else None,
                password=urllib.parse.unquote(parts.password) if parts.password else None,
                ssl=parts.scheme == "rediss",
                **options,
            )
        return coredis.Redis.from_url(self._url, **options)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Connect, and reconnect whenever a round trip failed, until cancelled; flush what
        waits for a round trip. Signals `task_status.started()` after the first connection
        attempt, whatever its outcome. On cancellation what is queued is sent (within
        `timeout`) before the connection closes."""
        started = False
        while True:
            try:
                client = self._new_client()
                with trio.move_on_after(self.timeout * 5) as connecting:
                    async with client:
                        await client.ping()
                        self._script = client.register_script(STATE)
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
                            async with trio.open_nursery() as nursery:
                                nursery.start_soon(self._flusher)
                                await self._broken.wait()
                                nursery.cancel_scope.cancel()
                        finally:
                            self._client = None
                            if trio.current_effective_deadline() == -math.inf:  # stopping
                                await self._flush_on_exit()
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

    async def _round_trip(self, keys: list[str], args: list[str]) -> Any:
        """Run the script once within `timeout`; None (and fallback) when it did not answer."""
        script = self._script
        if self._client is None or script is None:
            return None
        self.round_trips += 1
        try:
            with trio.move_on_after(self.timeout):
                return await script(keys=keys, args=args)
            self._fail(f"no answer within {self.timeout:g} s")
        except Exception as exc:
            self._fail(exc)
        return None

    # -- what follows an attempt: queued for the next round trip -----------------------------
    def _queue(self) -> None:
        self._outbox_filled.set()

    def _take_outbox(self) -> _Outbox:
        outbox, self._outbox = self._outbox, _Outbox()
        return outbox

    def _encode_outbox(self, outbox: _Outbox, keys: list[str], args: list[str]) -> None:
        args.append(str(len(outbox.settles)))
        for item in outbox.settles:
            args += [
                item.ident,
                str(-1 if item.tokens is None else item.tokens),
                "1" if item.release else "0",
                str(len(item.scopes)),
                str(len(item.quotas)),
                str(len(item.opened)),
                str(len(item.budgets)),
            ]
            keys += [self._key(limits.key) for limits in item.scopes]
            for key, quota in item.quotas.items():
                keys.append(self._key(key))
                args += [
                    "" if quota.requests_remaining is None else str(quota.requests_remaining),
                    repr(quota.requests_reset),
                    "" if quota.tokens_remaining is None else str(quota.tokens_remaining),
                    repr(quota.tokens_reset),
                ]
            for key, seconds in item.opened.items():
                keys.append(self._key("circuit:" + key))
                args.append(str(max(1, math.ceil(seconds * 1000))))
            for key, (delta, start, maximum) in item.budgets.items():
                keys.append(self._key("budget:" + key))
                args += [repr(delta), repr(start), repr(maximum)]
        args.append(str(len(outbox.samples)))
        for key, member, at, seconds, window, max_age in outbox.samples:
            keys.append(self._key("latency:" + key))
            args += [member, repr(at), repr(seconds), str(window), repr(max_age)]
        args.append(str(len(outbox.departures)))
        for key, ident in outbox.departures:
            keys.append(self._key("queue:" + key))
            args.append(ident)

    async def _apply_to_fallback(self, outbox: _Outbox) -> None:
        for item in outbox.settles:
            self._fallback.settle_nowait(
                item.scopes,
                item.ident,
                tokens=item.tokens,
                release=item.release,
                quotas=item.quotas,
                opened=item.opened,
                budgets=item.budgets,
            )
        for key, _, at, seconds, window, max_age in outbox.samples:
            self._fallback.record_latency(key, seconds, window=window, max_age=max_age, at=at)
        for key, ident in outbox.departures:
            self._fallback.leave_queue_nowait(key, ident)
        await trio.lowlevel.checkpoint()

    async def _flush(self) -> None:
        """Send what is queued now, in one round trip (to the fallback if it fails)."""
        outbox = self._take_outbox()
        if not outbox:
            return
        keys: list[str] = []
        args: list[str] = [repr(self.now())]
        self._encode_outbox(outbox, keys, args)
        args.append("0")  # no admissions
        if await self._round_trip(keys, args) is None:
            await self._apply_to_fallback(outbox)

    async def _flush_on_exit(self) -> None:
        """Send what is still queued as the state stops (shielded, within `timeout` x 5).

        A fresh connection: the cancellation that stops `run` has reached the old client's
        own tasks too."""
        outbox = self._take_outbox()
        if not outbox:
            return
        keys: list[str] = []
        args: list[str] = [repr(self.now())]
        self._encode_outbox(outbox, keys, args)
        args.append("0")  # no admissions
        with trio.CancelScope(shield=True):
            sent = False
            with trio.move_on_after(self.timeout * 5):
                try:
                    async with self._new_client() as client:
                        await client.register_script(STATE)(keys=keys, args=args)
                        self.round_trips += 1
                        sent = True
                except Exception as exc:
                    logger.warning(
                        "shared state %s: could not send the last settles (%s)",
                        self.safe_url,
                        f"{type(exc).__name__}: {exc}"[:200],
                    )
            if not sent:
                await self._apply_to_fallback(outbox)

    async def _flusher(self) -> None:
        while True:
            await self._outbox_filled.wait()
            # Linger: the process's next acquire usually comes within this and carries it.
            await trio.sleep(self.flush_delay)
            self._outbox_filled = trio.Event()
            await self._flush()

    # -- admissions: calls asking at the same moment share one round trip --------------------
    async def _admit(self, request: _Request) -> Any:
        """The script's answer to `request` (None: Redis failed; the caller falls back).

        Group commit: while one round trip is in flight, the admissions asked for meanwhile
        wait and then go together in the next. The first to ask sends; when its round trip
        is back, the first of the next batch becomes the sender."""
        self._waiting.append(request)
        try:
            while not request.answered:
                if self._sending:
                    await request.turn.wait()
                    if not request.answered:
                        request.turn = trio.Event()  # its turn to send, if still free
                else:
                    await self._send_batch()
        except BaseException:
            request.abandoned = True
            if request.answered:
                self._release_abandoned(request)
            raise
        return request.reply

    async def _send_batch(self) -> None:
        self._sending = True
        try:
            await trio.lowlevel.checkpoint()  # those asking in the same instant join in
            batch, self._waiting = self._waiting, []
            if not batch:
                return
            outbox = self._take_outbox()
            keys: list[str] = []
            args: list[str] = [repr(self.now())]
            self._encode_outbox(outbox, keys, args)
            args.append(str(len(batch)))
            for item in batch:
                keys += item.keys
                args += item.args
            with trio.CancelScope(shield=True):  # bounded by `timeout`; others wait on it
                replies = await self._round_trip(keys, args)
            if replies is None:
                await self._apply_to_fallback(outbox)
            for n, item in enumerate(batch):
                item.reply = None if replies is None else replies[n]
                item.answered = True
                if item.abandoned:
                    self._release_abandoned(item)
                item.turn.set()
        finally:
            self._sending = False
            if self._waiting:
                self._waiting[0].turn.set()  # the next batch's first request sends it

    def _release_abandoned(self, request: _Request) -> None:
        """A call admitted while its caller was being cancelled: free what it took."""
        reply = request.reply
        if reply is not None and int(reply[0]) > 0:
            scopes = request.groups[int(reply[0]) - 1]
            ident = request.args[0]
            self._outbox.settles.append(_Settle(scopes, ident, None, True, {}, {}, {}))
            self._queue()

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
        latency: LatencyQuery | None = None,
        queue: QueueRequest | None = None,
    ) -> Admission:
        keys: list[str] = []
        args: list[str] = [ident, str(tokens), repr(lease), str(len(groups))]
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
        if queue is None:
            args.append("0")
        else:
            keys.append(self._key("queue:" + queue.key))
            args += [
                "1",
                ident if queue.holds else "",
                "1" if queue.join else "0",
                str(queue.max_queue),
                repr(queue.ttl),
            ]
        args.append(str(len(circuits)))
        keys += [self._key("circuit:" + key) for key in circuits]
        args.append(str(len(budgets)))
        keys += [self._key("budget:" + key) for key in budgets]
        lat_keys: Sequence[str] = () if latency is None else latency.keys
        percentiles: Sequence[float] = () if latency is None else latency.percentiles
        args += [str(len(lat_keys)), repr(300.0 if latency is None else latency.max_age)]
        args.append(str(len(percentiles)))
        args += [repr(float(p)) for p in percentiles]
        keys += [self._key("latency:" + key) for key in lat_keys]
        request = _Request(keys, args, groups)
        reply = await self._admit(request) if self._client is not None else None
        if reply is None:
            share = self.fallback_share
            scaled = [[limits.scaled(share) for limits in group] for group in groups]
            return self._fallback.acquire_nowait(
                scaled,
                ident,
                tokens,
                lease=lease,
                circuits=circuits,
                budgets=budgets,
                latency=latency,
                queue=queue,
            )
        index, waits, room, ttls, levels, flat, queued, ahead = reply
        views: dict[str, LatencyView] = {}
        step = 1 + len(percentiles)
        for n, key in enumerate(lat_keys):
            row = flat[n * step : (n + 1) * step]
            found = {
                float(p): float(value)
                for p, value in zip(percentiles, row[1:], strict=True)
                if value not in ("", b"")
            }
            views[key] = LatencyView(int(row[0]), found)
        queued = queued.decode() if isinstance(queued, bytes) else str(queued)
        return Admission(
            None if int(index) == 0 else int(index) - 1,
            tuple(math.inf if float(w) < 0 else float(w) for w in waits),
            tuple(float(f) for f in room),
            {key: int(t) / 1000 for key, t in zip(circuits, ttls, strict=True) if int(t) > 0},
            {key: float(level) for key, level in zip(budgets, levels, strict=True) if level},
            views,
            queued not in ("", "-"),
            int(ahead),
            queued == "-",
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
        item = _Settle(scopes, ident, tokens, release, quotas or {}, opened or {}, budgets or {})
        if self._client is None:
            await self._apply_to_fallback(_Outbox(settles=[item]))
            return
        self._outbox.settles.append(item)
        self._queue()
        await trio.lowlevel.checkpoint()

    def record_latency(self, key: str, seconds: float, *, window: int, max_age: float) -> None:
        if self._client is None:
            self._fallback.record_latency(key, seconds, window=window, max_age=max_age)
            return
        self._samples += 1
        member = f"{self._member_prefix}.{self._samples}"
        self._outbox.samples.append((key, member, self.now(), float(seconds), window, max_age))
        self._queue()

    async def leave_queue(self, key: str, ident: str) -> None:
        if self._client is None:
            self._fallback.leave_queue_nowait(key, ident)
        else:
            self._outbox.departures.append((key, ident))
            self._queue()
        await trio.lowlevel.checkpoint()

    async def flush(self) -> None:
        """Send what waits for a round trip now (what `run` does on its own a moment later)."""
        await self._flush()

    def statistics(self) -> StateStatistics:
        return StateStatistics(
            backend="redis",
            shared=self.shared,
            fallbacks=self.fallbacks,
            round_trips=self.round_trips,
            scopes=self._fallback.statistics().scopes,
            reconnects=self.reconnects,
        )
