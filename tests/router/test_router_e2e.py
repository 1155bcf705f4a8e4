"""The router against the fake provider server over real loopback sockets."""

from __future__ import annotations

from collections.abc import Callable

import orjson
import pytest
import trio
import trio.testing

from llm_router import ProviderFormat, Router, RouterClosedError
from llm_router_testing.fake import FakeProvider

MakeRouter = Callable[[FakeProvider], Router]

CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "ping pong"}]}


def _tasks() -> int:
    """Tasks under this test's own task (the router's nursery lives there; the fake server's
    tasks live in a fixture task): used to prove nothing leaked."""

    def count(task: trio.lowlevel.Task) -> int:
        return 1 + sum(
            count(child) for nursery in task.child_nurseries for child in nursery.child_tasks
        )

    return count(trio.lowlevel.current_task())


async def test_complete_passthrough_is_byte_for_byte(
    fake: FakeProvider, make_router: MakeRouter
) -> None:
    body = b'{"model":"gpt-4o-mini",  "messages":[{"role":"user","content":"ping pong"}]}'
    async with make_router(fake) as router:
        result = await router.complete(body, ProviderFormat.OPENAI)
    assert fake.journal[-1].body == body
    answer = orjson.loads(result.body)
    assert answer["object"] == "chat.completion"
    assert answer["choices"][0]["message"]["content"] == "You said: ping pong"
    assert (result.provider, result.model) == ("openai", "gpt-4o-mini")


async def test_stream_passthrough_keeps_events_and_done(
    fake: FakeProvider, make_router: MakeRouter
) -> None:
    body = orjson.dumps(dict(CHAT, stream=True))
    async with make_router(fake) as router, router.stream(body, "openai") as events:
        received = [e async for e in events]
    assert received[-1].data == b"[DONE]"
    chunks = [orjson.loads(e.data) for e in received[:-1]]
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text == "You said: ping pong"
    assert fake.journal[-1].body == body


async def test_handle_decides_from_the_stream_flag(
    fake: FakeProvider, make_router: MakeRouter
) -> None:
    async with make_router(fake) as router:
        async with router.handle(CHAT, "openai") as whole:
            assert not hasattr(whole, "__anext__")
        async with router.handle(dict(CHAT, stream=True), "openai") as streamed:
            assert [e async for e in streamed][-1].data == b"[DONE]"  # type: ignore[union-attr]


async def test_translated_call_anthropic_caller_to_openai_provider(
    fake: FakeProvider, make_router: MakeRouter
) -> None:
    body = {
        "model": "gpt-4o-mini",
        "max_tokens": 50,
        "messages": [{"role": "user", "content": "hola"}],
    }
    async with make_router(fake) as router:
        result = await router.complete(body, ProviderFormat.ANTHROPIC)
    answer = orjson.loads(result.body)
    assert answer["type"] == "message"
    assert answer["content"][0]["text"] == "You said: hola"
    sent = orjson.loads(fake.journal[-1].body)
    assert sent["messages"] == [{"role": "user", "content": "hola"}]


async def test_leaving_mid_stream_cancels_upstream_and_leaves_no_task(
    fake: FakeProvider, make_router: MakeRouter
) -> None:
    before = _tasks()
    slow = {"x-fake-inter-event-delay": "200ms"}
    async with make_router(fake) as router:
        async with router.stream(dict(CHAT, stream=True), "openai", headers=slow) as events:
            first = await events.__anext__()
            assert first.data.startswith(b"{")
        entry = await fake.journal.wait_for_disconnect()
        assert entry.disconnected and entry.events_sent < 5
        assert router.statistics()["open_streams"] == 0
    assert _tasks() == before


async def test_cancelling_the_caller_mid_stream_releases_the_connection(
    fake: FakeProvider, make_router: MakeRouter
) -> None:
    slow = {"x-fake-inter-event-delay": "200ms"}
    async with make_router(fake) as router:
        with trio.move_on_after(0.5):
            async with router.stream(dict(CHAT, stream=True), "openai", headers=slow) as events:
                async for _ in events:
                    pass
        await fake.journal.wait_for_disconnect()
        # The pool still serves: a normal call after the cancellation succeeds.
        result = await router.complete(CHAT, "openai")
        assert (
            orjson.loads(result.body)["choices"][0]["message"]["content"] == "You said: ping pong"
        )


async def test_closing_the_router_cancels_in_flight_calls(fake: FakeProvider) -> None:
    from llm_router import OpenAIProvider
    from llm_router.resilience import Hooks
    from llm_router_testing.fake import FAKE_KEYS

    started = trio.Event()
    router = (
        Router.builder()
        .add_provider("openai", OpenAIProvider(base_url=fake.url + "/v1"))
        .add_api_key("openai", FAKE_KEYS["openai"])
        .forward_headers("x-fake-")
        .with_hooks(Hooks(on_attempt_start=lambda record: started.set()))
        .build()
    )
    outcome: list[BaseException] = []

    async def caller() -> None:
        try:
            await router.complete(CHAT, "openai", headers={"x-fake-ttfb": "5s"})
        except RouterClosedError as exc:
            outcome.append(exc)

    async with trio.open_nursery() as nursery, router:
        nursery.start_soon(caller)
        await started.wait()
        with trio.fail_after(30):
            await fake.journal.wait_for(lambda entry: True)  # the request reached the server
        # leaving `async with router` cancels the call
    assert len(outcome) == 1 and "closed while this call was in flight" in str(outcome[0])
    assert (await fake.journal.wait_for_disconnect()).disconnected


async def test_open_stream_fails_cleanly_when_the_router_closes(
    fake: FakeProvider, make_router: MakeRouter
) -> None:
    router = make_router(fake)
    opened, close = trio.Event(), trio.Event()
    seen: list[BaseException] = []

    async def own_router() -> None:
        async with router:
            opened.set()
            await close.wait()

    async def use_stream() -> None:
        await opened.wait()
        try:
            slow = {"x-fake-inter-event-delay": "1s"}
            async with router.stream(dict(CHAT, stream=True), "openai", headers=slow) as events:
                await events.__anext__()
                close.set()
                async for _ in events:
                    pass
        except RouterClosedError as exc:
            seen.append(exc)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(own_router)
        nursery.start_soon(use_stream)
    assert len(seen) == 1 and "closed while this stream was open" in str(seen[0])
    await fake.journal.wait_for_disconnect()


async def test_provider_error_is_typed_and_keyless(
    fake: FakeProvider, make_router: MakeRouter
) -> None:
    from llm_router import RateLimitError

    async with make_router(fake) as router:
        with pytest.raises(RateLimitError) as info:
            # x-should-retry: false makes the router surface the 429 instead of waiting 7 s.
            faults = {
                "x-fake-status": "429",
                "x-fake-retry-after": "7",
                "x-fake-should-retry": "false",
            }
            await router.complete(CHAT, "openai", headers=faults)
    assert info.value.retry_after == 7
    assert info.value.status == 429
    assert "sk-" not in str(info.value)


async def test_openai_sdk_parses_what_the_router_returns(
    fake: FakeProvider, make_router: MakeRouter
) -> None:
    from openai.types.chat import ChatCompletion, ChatCompletionChunk

    async with make_router(fake) as router:
        result = await router.complete(CHAT, "openai")
        ChatCompletion.model_validate_json(result.body)
        async with router.stream(dict(CHAT, stream=True), "openai") as events:
            for event in [e async for e in events][:-1]:
                ChatCompletionChunk.model_validate_json(event.data)


async def test_connection_refused_is_a_typed_error() -> None:
    from llm_router import ConnectError, OpenAIProvider, Router

    listener = trio.socket.socket()
    await listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    listener.close()  # nothing listens there now
    router = (
        Router.builder()
        .add_provider("openai", OpenAIProvider(base_url=f"http://127.0.0.1:{port}/v1"))
        .add_api_key("openai", "sk-refused-canary")
        .build()
    )
    async with router:
        with pytest.raises(ConnectError) as info:
            await router.complete(CHAT, "openai")
    assert "openai: ConnectError talking to 127.0.0.1" in str(info.value)
    assert "sk-refused-canary" not in str(info.value)
    assert info.value.__cause__ is None and info.value.__context__ is None
