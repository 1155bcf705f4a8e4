"""The Trio half of resilience: run one call's attempts over its routes until one answers.

`run_with_resilience` retries with backoff, hedges slow attempts, fails over along the
routes, skips routes whose circuit is open and enforces the first-byte and overall deadlines,
all with cancel scopes on `trio.current_time()` (so `MockClock` drives it). Decisions come
from the pure modules beside it; this module only waits, starts and cancels.

Structured concurrency
----------------------
Attempts run in the caller's own task, one after another, each under its own cancel scope,
whose deadline is the nearer of its first-byte deadline and the call's overall one (waits
between attempts end at the overall deadline too, so no scope around them is needed).
Without hedging that is all. With hedging, a call also arms a timer for its attempt's hedge
delay with the router's `Hedger` (one task for every call's timers) rather than opening a
nursery, a task per attempt and a timer scope of its own, which most calls, answering before
the delay, would never use. Only when a delay passes does the hedger's task plan the hedge
and, if it may start, start the call's *race* in the hedger's nursery: a task with a nursery
of its own running the hedge and every attempt after it, alongside the attempt still running
in the caller's task. The attempt callable returns once the attempt has *answered*: the whole
answer of a plain request, or an open stream whose first event has been read. The first
attempt to return is the winner; every other attempt is cancelled through its scope, from
whichever task the winner ran in, and the caller waits for the race to end before it
returns, so no attempt task outlives the call. A caller that is cancelled cancels the race
and waits (shielded) for it to unwind. Without a running hedger (the engine used on its own)
a call opens a hedger for itself.

The winner's value may hold an open resource (an HTTP response being streamed) that must
outlive the task it was opened in (a hedge's ends with the race), so it may not depend on
that task staying alive: open it as an object with an ``aclose``
(``httpx.AsyncClient.send(..., stream=True)``), not inside an ``async with`` in the
attempt. Ownership is explicit:

- an attempt that raises or is cancelled closes what it opened itself (``try/except
  BaseException``, closing in a shielded scope);
- an attempt that answers once another has won (in the same instant, or from a shielded
  scope) hands its value to `release`, which the engine awaits in a shielded scope;
- the winner belongs to the caller once `run_with_resilience` returns; if the call is
  cancelled before it returns, the engine passes the winner to `release` as well.

Nothing leaks: every value an attempt returns is either returned or released.
"""

from __future__ import annotations

import contextvars
import dataclasses
import functools
import logging
import math
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

import trio

from llm_router import errors
from llm_router._concurrency import open_nursery
from llm_router.resilience.breaker import Permit
from llm_router.resilience.classify import classify
from llm_router.resilience.hedger import Hedger
from llm_router.resilience.latency import hedge_delay
from llm_router.resilience.log import (
    AttemptKind,
    AttemptOutcome,
    AttemptRecord,
    AttemptStarted,
    RequestFinished,
    RequestOutcome,
    RequestStarted,
    describe_error,
    emit,
    with_usage,
)
from llm_router.resilience.outcome import call_error, deadline_error
from llm_router.resilience.policy import HedgePolicy, RetryPolicy, TimeoutPolicy
from llm_router.resilience.schedule import Launch, Schedule
from llm_router.resilience.state import ResilienceState
from llm_router.universal import Usage

__all__ = [
    "AttemptContext",
    "ResilientResult",
    "RouteLike",
    "run_with_resilience",
]

logger = logging.getLogger("llm_router.resilience")

T = TypeVar("T")
R = TypeVar("R", bound="RouteLike")

#: How long releasing a surplus answer may take before it is abandoned.
_RELEASE_TIMEOUT = 5.0


class RouteLike(Protocol):
    """Anything the engine can route to: hashable, with a stable `key` naming it in logs."""

    @property
    def key(self) -> str: ...


@dataclass(frozen=True, slots=True)
class AttemptContext:
    """What an attempt knows about itself. `deadline` (Trio time) is when it must have answered."""

    request_id: int
    number: int  # 1-based within the call
    route_attempt: int  # 1-based within the route
    kind: AttemptKind
    deadline: float
    timeouts: TimeoutPolicy


@dataclass(frozen=True, slots=True)
class ResilientResult(Generic[R, T]):
    """The winning answer, where it came from, and every attempt of the call in start order.

    `deadline` is the call's overall deadline in Trio time (inf without one): keep applying it
    while reading the rest of a stream.
    """

    value: T
    route: R
    attempts: tuple[AttemptRecord, ...]
    deadline: float
    elapsed: float
    #: With `defer_finish`, ends the request once the caller is done with the value (a
    #: stream): `finish(usage, cost, error)`; returns the final attempt log.
    finish: Finisher | None = None


Finisher = Callable[[Usage | None, float | None, BaseException | None], tuple[AttemptRecord, ...]]
Measure = Callable[[T], tuple[Usage | None, float | None]]


async def run_with_resilience(
    routes: Sequence[R],
    attempt: Callable[[R, AttemptContext], Awaitable[T]],
    *,
    state: ResilienceState,
    retry: RetryPolicy | None = None,
    hedge: HedgePolicy | None = None,
    timeouts: TimeoutPolicy | None = None,
    release: Callable[[T], Awaitable[None]] | None = None,
    label: str = "",
    measure: Measure[T] | None = None,
    defer_finish: bool = False,
    operation: str = "chat",
    hedger: Hedger | None = None,
) -> ResilientResult[R, T]:
    """Run `attempt` over `routes` (in preference order) until one answers.

    `attempt(route, ctx)` returns the answer or raises: `llm_router.errors` provider errors
    (with `.status` and `.headers`), `ConnectError` or `TimeoutError` for network failures.
    `release(value)` closes an answer that lost the race (see the module docstring).
    `hedge=None` disables hedging. `label` tags the hook records (e.g. the model name), and
    `operation` says what kind of call they are (`chat`, `embeddings`).
    `measure(value)` gives the winner's (usage, cost) for the hooks; it is called only when
    a hook listens. `defer_finish` leaves the request open after the winner is returned (a
    stream being read): the caller ends it with `result.finish(usage, cost, error)`.
    `hedger` keeps the hedge timers and runs the hedge races (the router's, running in its
    nursery); without a running one, a hedged call opens one of its own.

    Raises the last attempt's typed error when every route failed, `RateLimitError` with
    `retry_after` when the last route asked for a longer wait than allowed, `NoRouteError`
    when routes were skipped (open circuit), and `TimeoutError` when the overall deadline
    passed. An error a retry cannot fix (400, 422...) is raised as soon as no attempt is left
    in flight that could still answer.
    """
    if not routes:
        raise errors.NoRouteError("no route to send the request to")
    call = _Call(
        routes,
        attempt,
        state=state,
        retry=retry or RetryPolicy(),
        hedge=hedge,
        timeouts=timeouts or TimeoutPolicy(),
        release=release,
        label=label,
        measure=measure,
        defer_finish=defer_finish,
        operation=operation,
    )
    if not call.schedule.hedging:
        return await call.run()
    if hedger is not None and hedger.running:
        return await call.run(hedger)
    own = Hedger()
    async with open_nursery() as nursery:
        await nursery.start(own.run)
        try:
            return await call.run(own)
        finally:
            nursery.cancel_scope.cancel()


@dataclass(slots=True)
class _Running:
    """One attempt in flight."""

    number: int
    route: int
    route_attempt: int
    kind: AttemptKind
    started: float
    permit: Permit | None
    scope: trio.CancelScope


@dataclass(frozen=True, slots=True)
class _Winner(Generic[T]):
    value: T
    route: int
    started: float


class _Call(Generic[R, T]):
    """The state of one `run_with_resilience` call."""

    # Hedging only (class-level defaults, so an unhedged call does not set them): the timer
    # armed for the attempt in the caller's task (0: none) and, once a hedge starts, the
    # race's scope, nursery and end (see the module docstring).
    hedger: Hedger | None = None
    hedge_token = 0
    context: contextvars.Context | None = None  # the caller's, for the race
    race_scope: trio.CancelScope | None = None
    race_ended: trio.Event | None = None
    race_error: BaseException | None = None
    wakeup: trio.Event | None = None  # set when an attempt ends, while racing
    nursery: trio.Nursery | None = None

    def __init__(
        self,
        routes: Sequence[R],
        attempt: Callable[[R, AttemptContext], Awaitable[T]],
        *,
        state: ResilienceState,
        retry: RetryPolicy,
        hedge: HedgePolicy | None,
        timeouts: TimeoutPolicy,
        release: Callable[[T], Awaitable[None]] | None,
        label: str,
        measure: Measure[T] | None = None,
        defer_finish: bool = False,
        operation: str = "chat",
    ) -> None:
        self.routes = list(routes)
        self.attempt = attempt
        self.state = state
        self.hooks = state.hooks
        self.hedge = hedge
        self.timeouts = timeouts
        self.release = release
        self.label = label
        self.operation = operation
        wants_usage = self.hooks.on_attempt_end is not None or self.hooks.on_request_end is not None
        self.measure = measure if wants_usage else None
        self.defer_finish = defer_finish
        self.start = trio.current_time()
        self.deadline = self.start + timeouts.total if timeouts.total is not None else math.inf
        self.request_id = state.new_request_id()
        self.health = [state.route(route.key) for route in self.routes]
        self.hedge_budget = None if hedge is None else state.hedge_budget(self.routes[0].key)
        self.schedule = Schedule(
            len(self.routes),
            retry,
            state.rng,
            max_in_flight=1 if hedge is None else hedge.max_attempts,
            deadline=self.deadline,
        )
        self.records: list[AttemptRecord] = []
        self.running: dict[int, _Running] = {}
        self.winner: _Winner[T] | None = None
        self.timed_out = False
        self.deadline_passed = False  # the overall deadline ended the call's attempts or wait
        self.budget_refused: set[int] = set()  # routes whose retry the budget refused

    # ----------------------------------------------------------------- the call as a whole

    async def run(self, hedger: Hedger | None = None) -> ResilientResult[R, T]:
        if hedger is not None:
            self.hedger = hedger
        self.state.requests_in_flight += 1
        if self.hooks.on_request_start is not None:  # records are built only for a listener
            emit(
                self.hooks.on_request_start,
                RequestStarted(
                    self.request_id, self.label, tuple(r.key for r in self.routes), self.operation
                ),
            )
        if self.hedge is not None and self.hedge_budget is not None:
            self.hedge_budget.deposit(self.hedge.max_extra_load)
        try:
            result = await self._run()
        except BaseException as exc:
            if _is_cancellation(exc):
                self._finish_request(RequestOutcome.CANCELLED, None)
            else:
                timed_out = self.timed_out and isinstance(exc, errors.TimeoutError)
                outcome = RequestOutcome.TIMED_OUT if timed_out else RequestOutcome.FAILED
                self._finish_request(outcome, exc)
            raise
        if self.defer_finish:
            return dataclasses.replace(result, finish=self._finish_later)
        winner = next(r for r in self.records if r.outcome is AttemptOutcome.WON)
        self._finish_request(RequestOutcome.SUCCEEDED, None, winner.usage, winner.cost)
        return result

    def _finish_later(
        self, usage: Usage | None, cost: float | None, error: BaseException | None
    ) -> tuple[AttemptRecord, ...]:
        """End a deferred request (once): the stream is done, with `usage` or `error`."""
        if not self.defer_finish:
            return self._attempts()
        self.defer_finish = False
        self.records = list(with_usage(tuple(self.records), usage, cost))
        outcome = RequestOutcome.SUCCEEDED if error is None else RequestOutcome.FAILED
        self._finish_request(outcome, error, usage, cost)
        return self._attempts()

    def _attempts(self) -> tuple[AttemptRecord, ...]:
        return tuple(sorted(self.records, key=lambda r: r.number))

    async def _run(self) -> ResilientResult[R, T]:
        try:
            if self.hedger is None:
                await self._drive_one_at_a_time()
            else:
                await self._drive_hedged()
            timed_out = self.deadline_passed
            race = self.race_scope
            if race is not None:
                if self.race_error is not None:
                    raise self.race_error
                timed_out = timed_out or race.cancelled_caught
        except BaseException:
            # Cancelled from outside (or a bug): the caller will never see the winner.
            if self.winner is not None:
                await self._release(self.winner.value)
                self.winner = None
            raise
        if self.winner is not None:
            # Even if the deadline passed while losers unwound: the answer came in time.
            return ResilientResult(
                value=self.winner.value,
                route=self.routes[self.winner.route],
                attempts=self._attempts(),
                deadline=self.deadline,
                elapsed=trio.current_time() - self.start,
            )
        if timed_out:
            self.timed_out = True
            raise deadline_error(self.schedule, self.timeouts.total)
        error = call_error(
            self.schedule,
            [health.key for health in self.health],
            [health.breaker for health in self.health],
            trio.current_time(),
        )
        last = self.schedule.last_failed
        if (
            last in self.budget_refused
            and self.schedule.fatal is None
            and isinstance(error, errors.ProviderError)
        ):
            # The route would have been retried: the router's own protection said no.
            error.refused_by = "retry budget"
            error.add_note(
                f"{self.health[last].key}: not retried, its retry budget is spent "
                f"(the route has failed too often lately)"
            )
        raise error

    async def _drive_hedged(self) -> None:
        """Attempts one after another in the caller's task, each with its hedge timer armed,
        until one wins, none is left, or a hedge has started the race; then wait for the race
        to end. Cancelled, cancel the race and wait for it to unwind."""
        hedger, schedule = self.hedger, self.schedule
        assert hedger is not None
        try:
            while self.winner is None and self.race_ended is None and not self.deadline_passed:
                now = trio.current_time()
                launch = schedule.next_launch(now, functools.partial(self._usable, now))
                if launch is None:
                    break
                if launch.at > now:  # a backoff or retry-after wait; then plan afresh
                    await self._sleep_until(launch.at)
                    continue
                run = self._begin(launch, now)
                if run is None:
                    continue
                if schedule.hedge_at < math.inf:
                    self._arm(schedule.hedge_at)
                try:
                    await self._attempt(run)
                finally:
                    if self.hedge_token:
                        hedger.disarm(self.hedge_token)
                        self.hedge_token = 0
            if self.race_ended is not None:
                await self.race_ended.wait()
        finally:
            ended = self.race_ended
            if ended is not None and not ended.is_set():
                assert self.race_scope is not None
                self.race_scope.cancel()
                with trio.CancelScope(shield=True):
                    await ended.wait()

    def _arm(self, at: float) -> None:
        assert self.hedger is not None
        if self.context is None:
            self.context = contextvars.copy_context()
        self.hedge_token = self.hedger.arm(at, self._hedge_due)

    def _hedge_due(self) -> None:
        """The hedge timer of the attempt in the caller's task fired (in the hedger's task)."""
        self.hedge_token = 0
        assert self.context is not None
        # Hooks, and the race's tasks, see the caller's context variables, as they would in
        # a task the caller started.
        self.context.run(self._plan_hedge)

    def _plan_hedge(self) -> None:
        """`_drive`'s planning for the moment a hedge delay passes: start the hedge (and the
        race it opens), re-arm for a later start, or leave it (budget spent, no route)."""
        schedule = self.schedule
        while self.winner is None and schedule.in_flight:
            now = trio.current_time()
            wake_at = schedule.due_at(now)
            if wake_at > now:
                if wake_at < math.inf:
                    self._arm(wake_at)
                return
            launch = schedule.next_launch(now, functools.partial(self._usable, now))
            if launch is None:
                return
            if launch.at > now:
                self._arm(launch.at)
                return
            run = self._begin(launch, now)
            if run is not None:
                assert self.hedger is not None
                self.race_scope = trio.CancelScope(deadline=self.deadline)
                self.race_ended = trio.Event()
                key = self.health[run.route].key
                self.hedger.start_soon(self._race, run, name=f"hedge race ({key})")
                return

    async def _race(self, first: _Running) -> None:
        """The hedge `first` and every attempt after it, in a nursery of the hedger's,
        alongside the attempt still running in the caller's task."""
        assert self.race_scope is not None and self.race_ended is not None
        try:
            with self.race_scope:  # the overall deadline; the caller cancels it if cancelled
                async with open_nursery() as nursery:
                    self.nursery = nursery
                    self._start_task(first)
                    await self._drive()
        except BaseException as exc:
            if _is_cancellation(exc):
                raise  # the hedger is closing (the router with it): its nursery's to absorb
            # A bug: end the call with it, the attempt in the caller's task too.
            self.race_error = exc
            for other in self.running.values():
                other.scope.cancel()
        finally:
            self.nursery = None
            self.race_ended.set()

    async def _drive(self) -> None:
        """Start attempts when the schedule says so, until one wins or none is left."""
        schedule = self.schedule
        while self.winner is None and not self.deadline_passed:
            self.wakeup = trio.Event()  # fresh before planning, so no ending goes unnoticed
            now = trio.current_time()
            wake_at = schedule.due_at(now)
            if wake_at <= now or schedule.in_flight == 0:  # start something, or end
                launch = schedule.next_launch(now, functools.partial(self._usable, now))
                if launch is None and schedule.in_flight == 0:
                    return
                if launch is not None and launch.at <= now:
                    self._start(launch, now)
                    continue
                wake_at = math.inf if launch is None else launch.at
            # Otherwise nothing can start before `wake_at` (the hedge delay, typically):
            # sleep until then, or until an attempt ends, and plan afresh.
            if wake_at == math.inf:
                await self.wakeup.wait()
            else:
                with trio.move_on_at(wake_at):
                    await self.wakeup.wait()

    async def _drive_one_at_a_time(self) -> None:
        """`_drive` without hedging: attempts follow one another, so each runs in the
        caller's own task and no nursery, attempt task or wake-up event is needed."""
        while self.winner is None and not self.deadline_passed:
            now = trio.current_time()
            launch = self.schedule.next_launch(now, functools.partial(self._usable, now))
            if launch is None:
                return
            if launch.at > now:  # a backoff or retry-after wait; then plan afresh
                await self._sleep_until(launch.at)
                continue
            run = self._begin(launch, now)
            if run is not None:
                await self._attempt(run)

    async def _sleep_until(self, at: float) -> None:
        """Wait in the caller's task until `at`, or until the overall deadline ends the call
        (no scope of its own carries that deadline: each attempt's does)."""
        if at < self.deadline:
            await trio.sleep_until(at)
        else:
            await trio.sleep_until(self.deadline)
            self.deadline_passed = True

    def _usable(self, now: float, route: int, kind: AttemptKind) -> bool:
        health = self.health[route]
        if health.breaker is not None and not health.breaker.allows(now):
            return False
        if kind in (AttemptKind.RETRY, AttemptKind.HEDGE):
            if health.budget.can_retry():
                return True
            if kind is AttemptKind.RETRY:
                self.budget_refused.add(route)
            return False
        return True

    def _start(self, launch: Launch, now: float) -> None:
        run = self._begin(launch, now)
        if run is not None:
            self._start_task(run)

    def _start_task(self, run: _Running) -> None:
        assert self.nursery is not None
        key = self.health[run.route].key
        self.nursery.start_soon(self._attempt, run, name=f"attempt {run.number} ({key})")

    def _begin(self, launch: Launch, now: float) -> _Running | None:
        """Book the attempt `launch` asks for; None when the hedge budget or the breaker
        refuses it at the last moment."""
        health = self.health[launch.route]
        if launch.kind is AttemptKind.HEDGE:
            assert self.hedge_budget is not None
            if not self.hedge_budget.try_withdraw():
                self.state.hedges_refused += 1
                self.schedule.hedge_refused()
                return None
        permit = None
        if health.breaker is not None:
            permit = health.breaker.try_acquire(now)
            if permit is None:  # `_usable` said yes in this same instant; never expected
                self.schedule.routes[launch.route].exhausted = True
                return None
        delay = math.inf if self.hedge is None else hedge_delay(self.hedge, health.latency, now)
        self.schedule.launched(launch, now, hedge_delay=delay)
        run = _Running(
            number=self.schedule.attempts,
            route=launch.route,
            route_attempt=self.schedule.routes[launch.route].attempts,
            kind=launch.kind,
            started=now,
            permit=permit,
            # The nearer of its first-byte deadline and the call's overall one (see `_attempt`).
            scope=trio.CancelScope(deadline=min(self._answer_by(now), self.deadline)),
        )
        self.running[run.number] = run
        health.count_start(launch.kind)
        if self.hooks.on_attempt_start is not None:
            emit(
                self.hooks.on_attempt_start,
                AttemptStarted(
                    self.request_id,
                    health.key,
                    run.number,
                    run.route_attempt,
                    run.kind,
                    now - self.start,
                ),
            )
        return run

    # --------------------------------------------------------------------- one attempt

    def _answer_by(self, started: float) -> float:
        """When an attempt started at `started` must have answered (its first-byte deadline)."""
        first_byte = self.timeouts.first_byte
        return math.inf if first_byte is None else started + first_byte

    async def _attempt(self, run: _Running) -> None:
        first_byte = self.timeouts.first_byte
        answer_by = self._answer_by(run.started)
        context = AttemptContext(
            request_id=self.request_id,
            number=run.number,
            route_attempt=run.route_attempt,
            kind=run.kind,
            deadline=run.scope.deadline,
            timeouts=self.timeouts,
        )
        answered = too_slow = False
        failure: Exception | None = None
        # One scope carries every way an attempt is cut short: the call's overall deadline
        # and its first-byte deadline (the nearer is the scope's `deadline`), and losing the
        # race (a winner calls `cancel`). Which one it was is read from the clock afterwards,
        # in the order nested scopes would have seen them: the overall deadline when it has
        # passed and came no later than the first-byte one, then the first-byte deadline.
        try:
            with run.scope:
                try:
                    value = await self.attempt(self.routes[run.route], context)
                    answered = True
                except Exception as exc:
                    failure = exc
        except BaseException:  # cancelled with the whole call: from outside, or the race's end
            self._end_cancelled(run, AttemptOutcome.CANCELLED)
            raise
        if run.scope.cancelled_caught:
            now = trio.current_time()
            if self.winner is None and self.deadline <= answer_by and now >= self.deadline:
                self.deadline_passed = True  # the call is over
                self._end_cancelled(run, AttemptOutcome.CANCELLED)
                return
            if now >= answer_by:
                too_slow = True
                key = self.health[run.route].key
                failure = errors.TimeoutError(
                    f"{key}: no answer within {first_byte:g} s (first-byte timeout)",
                    provider=key,
                )
        if answered:
            await self._end_answered(run, value)
        elif failure is not None and self.winner is None:
            self._end_failed(run, failure, too_slow=too_slow)
        else:
            self._end_cancelled(run, AttemptOutcome.CANCELLED_HEDGE_LOSER, failure)

    async def _end_answered(self, run: _Running, value: T) -> None:
        now = trio.current_time()
        health = self.health[run.route]
        ttfb = now - run.started
        health.successes += 1
        health.budget.record_success()
        if health.breaker is not None and run.permit is not None:
            health.breaker.record_success(run.permit, now)
        health.latency.record(ttfb, now)
        self.schedule.ended(run.route)
        if self.winner is None:
            self.winner = _Winner(value, run.route, run.started)
            if run.kind is AttemptKind.HEDGE:
                health.hedges_won += 1
            usage, cost = (None, None) if self.measure is None else self.measure(value)
            self._record(run, AttemptOutcome.WON, now, ttfb=ttfb, usage=usage, cost=cost)
            for other in self.running.values():
                other.scope.cancel()
            if self.wakeup is not None:
                self.wakeup.set()
            return
        # A sibling won in the same instant: this answer has no taker.
        self._record(run, AttemptOutcome.CANCELLED_HEDGE_LOSER, now, ttfb=ttfb)
        await self._release(value)

    def _end_failed(self, run: _Running, failure: Exception, *, too_slow: bool) -> None:
        now = trio.current_time()
        health = self.health[run.route]
        verdict = classify(failure, wall_now=self.state.wall_clock())
        health.failures += 1
        if verdict.route_fault:
            health.budget.record_failure()
            if health.breaker is not None and run.permit is not None:
                health.breaker.record_failure(run.permit, now)
        elif health.breaker is not None and run.permit is not None:
            health.breaker.release(run.permit)
        if too_slow:
            health.latency.record(now - run.started, now)  # a slow answer, not a fast failure
        self.schedule.failed(run.route, failure, verdict, now)
        following = self.schedule.next_launch(now, functools.partial(self._usable, now))
        if following is None:
            outcome = AttemptOutcome.FAILED
        elif following.route == run.route:
            outcome = AttemptOutcome.RETRIED
        else:
            outcome = AttemptOutcome.FAILED_OVER
        self._record(run, outcome, now, error=failure)
        if self.wakeup is not None:
            self.wakeup.set()

    def _end_cancelled(
        self, run: _Running, outcome: AttemptOutcome, error: BaseException | None = None
    ) -> None:
        now = trio.current_time()
        health = self.health[run.route]
        health.cancelled += 1
        if health.breaker is not None and run.permit is not None:
            health.breaker.release(run.permit)
        winner = self.winner
        if winner is not None and run.started < winner.started:
            # An older attempt the hedge overtook: its elapsed time is a lower bound of its
            # latency, and leaving it out would bias the percentile towards the fast ones.
            health.latency.record(now - run.started, now)
        self.schedule.ended(run.route)
        self._record(run, outcome, now, error=error)

    def _record(
        self,
        run: _Running,
        outcome: AttemptOutcome,
        now: float,
        *,
        ttfb: float | None = None,
        error: BaseException | None = None,
        usage: Usage | None = None,
        cost: float | None = None,
    ) -> None:
        self.health[run.route].in_flight -= 1
        del self.running[run.number]
        status, name, message = describe_error(error) if error is not None else (None, None, None)
        record = AttemptRecord(
            request_id=self.request_id,
            route=self.health[run.route].key,
            number=run.number,
            route_attempt=run.route_attempt,
            kind=run.kind,
            offset=run.started - self.start,
            duration=now - run.started,
            outcome=outcome,
            ttfb=ttfb,
            status=status,
            error=name,
            message=message,
            usage=usage,
            cost=cost,
        )
        self.records.append(record)
        emit(self.hooks.on_attempt_end, record)

    async def _release(self, value: T) -> None:
        if self.release is None:
            return
        with trio.CancelScope(shield=True, relative_deadline=_RELEASE_TIMEOUT):
            try:
                await self.release(value)
            except Exception:
                logger.exception("releasing a surplus answer failed")

    # ---------------------------------------------------------------------- the outcome

    def _finish_request(
        self,
        outcome: RequestOutcome,
        error: BaseException | None,
        usage: Usage | None = None,
        cost: float | None = None,
    ) -> None:
        state = self.state
        state.requests_in_flight -= 1
        if outcome is RequestOutcome.SUCCEEDED:
            state.requests_succeeded += 1
        else:
            state.requests_failed += 1
        if self.hooks.on_request_end is None:
            return
        status, name, message = describe_error(error) if error is not None else (None, None, None)
        emit(
            self.hooks.on_request_end,
            RequestFinished(
                request_id=self.request_id,
                label=self.label,
                outcome=outcome,
                route=None if self.winner is None else self.health[self.winner.route].key,
                attempts=self._attempts(),
                elapsed=trio.current_time() - self.start,
                status=status,
                error=name,
                message=message,
                usage=usage,
                cost=cost,
            ),
        )


def _is_cancellation(exc: BaseException) -> bool:
    if isinstance(exc, trio.Cancelled):
        return True
    if isinstance(exc, BaseExceptionGroup):
        return exc.split(trio.Cancelled)[1] is None
    return False
