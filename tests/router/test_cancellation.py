"""Cancelling a call at every stage leaves nothing behind: no task, no pool slot, no upstream.

Each test drives the call to one stage (connecting, awaiting headers, awaiting the first
byte, mid-stream, backoff, hedge race, router shutdown), observed from the server side or
from the router's hooks rather than guessed from timings, then cancels it and checks: no task
left under the test's task, the connection pool has no request in use, and the server saw
the client go away.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import pytest
import trio

from llm_router import OpenAIProvider, Router, RouterClosedError, errors
from llm_router.resilience import (
    AttemptRecord,
    HedgePolicy,
    Hooks,
    RequestFinished,
    RequestOutcome,
    RetryPolicy,
    TimeoutPolicy,
)
from llm_router_testing.fake import FAKE_KEYS, FakeProvider, JournalEntry

MODEL = "house-model"
CHAT = {"model": MODEL, "messages": [{"role": "user", "content": "ping"}]}
STREAM_CHAT = dict(CHAT, stream=True)
#: Every stage below is reached within milliseconds; this only bounds a hang.
STAGE_TIMEOUT = 5.0


def task_count() -> int:
    """Tasks under the test's own task (fixtures, such as the servers, run in their own)."""

    def count(task: trio.lowlevel.Task) -> int:
        return 1 + sum(
            count(child) for nursery in task.child_nurseries for child in nursery.child_tasks
        )

    return count(trio.lowlevel.current_task())


def build(
    base_urls: Sequence[str],
    *,
    retry: RetryPolicy | None = None,
    hedge: HedgePolicy | None = None,
    hooks: Hooks | None = None,
) -> Router:
    """One OpenAI-style alias per base URL, routed in that order, forwarding `x-fake-*`."""
    builder = Router.builder().forward_headers("x-fake-").with_hedge_policy(hedge)
    for index, base_url in enumerate(base_urls):
        alias = f"p{index}"
        builder.add_provider(alias, OpenAIProvider(base_url=base_url))
        builder.add_api_key(alias, FAKE_KEYS["openai"])
        builder.add_model_route(MODEL, alias, "gpt-4o-mini")
    if retry is not None:
        builder.with_retry_policy(retry)
    if hooks is not None:
        builder.with_hooks(hooks)
    return builder.build()


async def cancel_at(
    stage: Callable[[], Awaitable[object]], call: Callable[[], Awaitable[object]]
) -> None:
    """Run `call`, wait for `stage` to be reached, then cancel the call from outside."""
    scope = trio.CancelScope()
    finished: list[object] = []

    async def run() -> None:
        with scope:
            finished.append(await call())

    async with trio.open_nursery() as nursery:
        nursery.start_soon(run)
        with trio.fail_after(STAGE_TIMEOUT):
            await stage()
        scope.cancel()
    assert scope.cancelled_caught and not finished


def assert_released(router: Router, tasks: int) -> None:
    stats = router.statistics()
    assert stats["pool"]["in_use"] == 0
    assert stats["calls_in_flight"] == stats["open_streams"] == stats["requests_in_flight"] == 0
    assert task_count() == tasks


async def entries(fake: FakeProvider, count: int, where: Callable[[JournalEntry], bool]) -> None:
    """Until `count` journal entries satisfy `where`, polling: the journal only wakes its
    waiters when an answer ends or a client disconnects, not when a request arrives."""
    while sum(1 for entry in fake.journal if where(entry)) < count:  # noqa: ASYNC110
        await trio.sleep(0.005)


def arrived(entry: JournalEntry) -> bool:
    return True


def headers_sent(entry: JournalEntry) -> bool:
    return entry.first_byte_at is not None


def disconnected(entry: JournalEntry) -> bool:
    return entry.disconnected


async def drain(router: Router, headers: dict[str, str]) -> None:
    async with router.stream(STREAM_CHAT, "openai", headers=headers) as events:
        async for _ in events:
            pass


def a_call(
    router: Router, *, streamed: bool, headers: dict[str, str] | None = None
) -> Callable[[], Awaitable[object]]:
    """A whole streamed or plain call, ready for `cancel_at`."""
    sent = headers or {}
    if streamed:
        return lambda: drain(router, sent)
    return lambda: router.complete(CHAT, "openai", headers=sent)


# ------------------------------------------------------------------------- silent servers


@dataclass
class HoldingServer:
    """Accepts connections, reads what the client sends, never answers."""

    port: int
    received: trio.Event = field(default_factory=trio.Event)
    closed_by_client: trio.Event = field(default_factory=trio.Event)

    async def handle(self, stream: trio.SocketStream) -> None:
        async with stream:
            while await stream.receive_some(65536):
                self.received.set()
            self.closed_by_client.set()


@pytest.fixture
async def holding_server() -> AsyncIterator[HoldingServer]:
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    server = HoldingServer(listeners[0].socket.getsockname()[1])
    async with trio.open_nursery() as nursery:
        nursery.start_soon(trio.serve_listeners, server.handle, listeners)
        yield server
        nursery.cancel_scope.cancel()


@pytest.fixture
async def full_backlog() -> AsyncIterator[int]:
    """A port whose listen queue is full, so new connections stay in the TCP handshake."""
    listener = trio.socket.socket()
    await listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers: list[trio.SocketStream] = []
    while True:  # the kernel queues a connection or two, then ignores further SYNs
        with trio.move_on_after(0.05) as probe:
            fillers.append(await trio.open_tcp_stream("127.0.0.1", port))
        if probe.cancelled_caught:
            break
        assert len(fillers) < 16, "the listen queue never filled up"
    try:
        yield port
    finally:
        for filler in fillers:
            await filler.aclose()
        listener.close()


# ---------------------------------------------------------------------------------- stages


async def test_cancel_while_connecting(full_backlog: int) -> None:
    async with build([f"http://127.0.0.1:{full_backlog}/v1"]) as router:
        tasks = task_count()

        async def connecting() -> None:
            while router.statistics()["pool"]["in_use"] == 0:  # noqa: ASYNC110 (no event)
                await trio.sleep(0.01)
            await trio.sleep(0.05)  # the handshake cannot finish: the queue is full

        await cancel_at(connecting, a_call(router, streamed=False))
        assert_released(router, tasks)


@pytest.mark.parametrize("streamed", [False, True], ids=["complete", "stream"])
async def test_cancel_while_the_server_holds_the_request(
    holding_server: HoldingServer, streamed: bool
) -> None:
    async with build([f"http://127.0.0.1:{holding_server.port}/v1"]) as router:
        tasks = task_count()
        await cancel_at(holding_server.received.wait, a_call(router, streamed=streamed))
        assert_released(router, tasks)
        with trio.fail_after(STAGE_TIMEOUT):
            await holding_server.closed_by_client.wait()


@pytest.mark.parametrize("streamed", [False, True], ids=["complete", "stream"])
async def test_cancel_while_awaiting_headers(fake: FakeProvider, streamed: bool) -> None:
    slow = {"x-fake-latency": "10s"}
    async with build([fake.url + "/v1"]) as router:
        tasks = task_count()
        await cancel_at(
            lambda: entries(fake, 1, arrived), a_call(router, streamed=streamed, headers=slow)
        )
        assert_released(router, tasks)
        with trio.fail_after(STAGE_TIMEOUT):
            entry = await fake.journal.wait_for_disconnect()
    assert entry.first_byte_at is None and entry.status is None


@pytest.mark.parametrize("streamed", [False, True], ids=["complete", "stream"])
async def test_cancel_after_headers_before_the_first_byte(
    fake: FakeProvider, streamed: bool
) -> None:
    slow = {"x-fake-ttfb": "10s"}
    async with build([fake.url + "/v1"]) as router:
        tasks = task_count()
        await cancel_at(
            lambda: entries(fake, 1, headers_sent), a_call(router, streamed=streamed, headers=slow)
        )
        assert_released(router, tasks)
        with trio.fail_after(STAGE_TIMEOUT):
            entry = await fake.journal.wait_for_disconnect()
    assert entry.status == 200 and entry.events_sent == 0


async def test_cancel_mid_stream(fake: FakeProvider) -> None:
    # The role-only chunk and the first word at once (the first word is the commit point),
    # then a long pause before the second.
    fake.script().always().reply("one two").stream(delays=[0, "10s"])
    first_event = trio.Event()

    async def read() -> None:
        async with router.stream(STREAM_CHAT, "openai") as events:
            async for _ in events:
                first_event.set()

    async with build([fake.url + "/v1"]) as router:
        tasks = task_count()
        await cancel_at(first_event.wait, read)
        assert_released(router, tasks)
        with trio.fail_after(STAGE_TIMEOUT):
            entry = await fake.journal.wait_for_disconnect()
    assert entry.events_sent == 2


async def test_cancel_during_the_backoff_sleep(fake: FakeProvider) -> None:
    failed_once = trio.Event()
    outcomes: list[RequestOutcome] = []

    def attempt_ended(record: AttemptRecord) -> None:
        failed_once.set()

    def request_ended(record: RequestFinished) -> None:
        outcomes.append(record.outcome)

    hooks = Hooks(on_attempt_end=attempt_ended, on_request_end=request_ended)
    unavailable = {"x-fake-status": "503", "x-fake-retry-after": "30"}
    router = build([fake.url + "/v1"], retry=RetryPolicy(max_retry_after=60), hooks=hooks)
    async with router:
        tasks = task_count()
        await cancel_at(failed_once.wait, a_call(router, streamed=False, headers=unavailable))
        assert_released(router, tasks)
    assert outcomes == [RequestOutcome.CANCELLED]
    # The one attempt was answered in full; the retry 30 s later never happened.
    assert [(e.status, e.disconnected) for e in fake.journal] == [(503, False)]


@pytest.mark.parametrize("streamed", [False, True], ids=["complete", "stream"])
async def test_cancel_during_a_hedge_race(fake: FakeProvider, streamed: bool) -> None:
    slow = {"x-fake-latency": "10s"}
    hedge = HedgePolicy(delay=0.05, max_extra_load=1.0)
    async with build([fake.url + "/v1", fake.url + "/v1"], hedge=hedge) as router:
        tasks = task_count()
        await cancel_at(
            lambda: entries(fake, 2, arrived), a_call(router, streamed=streamed, headers=slow)
        )
        assert_released(router, tasks)
        with trio.fail_after(STAGE_TIMEOUT):
            await entries(fake, 2, disconnected)
        assert router.statistics()["attempts_in_flight"] == 0
        # The hedge ran in the router's hedger, which has neither a timer nor a race left.
        assert hedger_idle(router)
    assert len(fake.journal) == 2


def hedger_idle(router: Router) -> bool:
    hedger = router._config.executor.hedger
    assert hedger is not None
    stats = hedger.statistics()
    return stats["armed"] == 0 and stats["racing"] == 0 and stats["races"] > 0


@pytest.mark.parametrize("streamed", [False, True], ids=["complete", "stream"])
async def test_router_shutdown_mid_hedge_race(fake: FakeProvider, streamed: bool) -> None:
    # The first attempt runs in the caller's task, the hedge in the router's hedger: closing
    # the router ends both, the caller sees RouterClosedError, and both upstreams hang up.
    tasks = task_count()
    slow = {"x-fake-latency": "10s"}
    router = build(
        [fake.url + "/v1", fake.url + "/v1"], hedge=HedgePolicy(delay=0.05, max_extra_load=1.0)
    )
    closed: list[bool] = []

    async def call() -> None:
        try:
            await a_call(router, streamed=streamed, headers=slow)()
        except RouterClosedError:
            closed.append(True)

    async with trio.open_nursery() as nursery, router:
        nursery.start_soon(call)
        with trio.fail_after(STAGE_TIMEOUT):
            await entries(fake, 2, arrived)
        hedger = router._config.executor.hedger
        assert hedger is not None and hedger.statistics()["racing"] == 1
    assert closed == [True]
    assert not hedger.running and hedger.statistics()["racing"] == 0
    stats = router.statistics()
    assert stats["calls_in_flight"] == stats["open_streams"] == stats["requests_in_flight"] == 0
    assert stats["attempts_in_flight"] == 0
    assert task_count() == tasks
    with trio.fail_after(STAGE_TIMEOUT):
        await entries(fake, 2, disconnected)


@pytest.mark.parametrize("hedged", [False, True], ids=["one-at-a-time", "hedged"])
async def test_a_first_byte_timeout_closes_the_attempts_connection(
    fake: FakeProvider, hedged: bool
) -> None:
    # Without hedging the attempt runs in the caller's task, with hedging in a task of its
    # own; either way one cancel scope carries the first-byte deadline, and every attempt it
    # ends gives back its pool slot and hangs up on the upstream.
    slow = {"x-fake-latency": "10s"}
    hedge = HedgePolicy(delay=0.05, max_extra_load=1.0) if hedged else None
    builder = (
        Router.builder()
        .forward_headers("x-fake-")
        .with_hedge_policy(hedge)
        .with_retry_policy(RetryPolicy(max_attempts=1))
        .with_timeouts(TimeoutPolicy(first_byte=0.5))
    )
    for alias in ("p0", "p1"):
        builder.add_provider(alias, OpenAIProvider(base_url=fake.url + "/v1"))
        builder.add_api_key(alias, FAKE_KEYS["openai"])
        builder.add_model_route(MODEL, alias, "gpt-4o-mini")
    async with builder.build() as built:
        tasks = task_count()
        with pytest.raises(errors.TimeoutError, match="first-byte timeout"):
            await built.complete(CHAT, "openai", headers=slow)
        assert_released(built, tasks)
        # One attempt per route without hedging (the failover after the first timed out);
        # with it also a retry on the hedged route, hedges not counting against retries.
        sent = len(fake.journal)
        assert sent == (3 if hedged else 2)
        with trio.fail_after(STAGE_TIMEOUT):
            await entries(fake, sent, disconnected)
        stats = built.statistics()
        assert stats["attempts_in_flight"] == 0 and stats["pool"]["connections"] == 0


async def test_router_shutdown_ends_calls_at_every_stage(fake: FakeProvider) -> None:
    tasks = task_count()
    router = build([fake.url + "/v1"])
    closed: list[str] = []
    streaming = trio.Event()
    # A stream that pauses after its first word (the commit point).
    fake.script().always().reply("one two").stream(delays=[0, "10s"])

    async def complete() -> None:
        try:
            await router.complete(CHAT, "openai", headers={"x-fake-latency": "10s"})
        except RouterClosedError:
            closed.append("complete")

    async def stream() -> None:
        try:
            async with router.stream(STREAM_CHAT, "openai") as events:
                async for _ in events:
                    streaming.set()
        except RouterClosedError:
            closed.append("stream")

    async with trio.open_nursery() as nursery, router:
        nursery.start_soon(complete)
        nursery.start_soon(stream)
        with trio.fail_after(STAGE_TIMEOUT):
            await streaming.wait()
            await entries(fake, 2, arrived)
    # The callers have unwound: nothing is left registered with the closed router.
    stats = router.statistics()
    assert stats["calls_in_flight"] == stats["open_streams"] == stats["requests_in_flight"] == 0
    assert sorted(closed) == ["complete", "stream"]
    assert task_count() == tasks
    with trio.fail_after(STAGE_TIMEOUT):
        await entries(fake, 2, disconnected)


async def test_cancelling_around_the_router_ends_everything(fake: FakeProvider) -> None:
    tasks = task_count()
    hedge = HedgePolicy(delay=0.05, max_extra_load=1.0)
    router = build([fake.url + "/v1", fake.url + "/v1"], hedge=hedge)
    slow = {"x-fake-latency": "10s"}
    with trio.CancelScope() as outer:
        async with router, trio.open_nursery() as nursery:
            nursery.start_soon(a_call(router, streamed=False, headers=slow))
            nursery.start_soon(a_call(router, streamed=True, headers=slow))
            with trio.fail_after(STAGE_TIMEOUT):
                await entries(fake, 4, arrived)  # both calls, both hedged
            outer.cancel()
    assert outer.cancelled_caught
    assert task_count() == tasks
    with trio.fail_after(STAGE_TIMEOUT):
        await entries(fake, 4, disconnected)
