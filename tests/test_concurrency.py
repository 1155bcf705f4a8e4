"""Exceptions leave every context manager of both packages as themselves, and Trio is required.

Each context manager runs a nursery inside; Trio's strict exception groups would wrap a lone
exception in an `ExceptionGroup`. These tests pin the rule: the very exception object raised
in the block (or by a call inside it) is the one the caller catches.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import pytest
import trio
import trio.lowlevel

from llm_router import OpenAIProvider, ProviderFormat, RateLimitError, RetryPolicy, Router
from llm_router._concurrency import open_nursery
from llm_router.errors import NotInTrioError
from llm_router.serve import open_gateway
from llm_router_testing.fake import FAKE_KEYS, FakeProvider, open_fake_provider

BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}


def _router(fake: FakeProvider) -> Router:
    return (
        Router.builder()
        .add_provider("openai", OpenAIProvider(base_url=fake.url + "/v1"))
        .add_api_key("openai", FAKE_KEYS["openai"])
        .forward_headers("x-fake-")
        .with_retry_policy(RetryPolicy(max_attempts=1))
        .build()
    )


@asynccontextmanager
async def _entered_router(fake: FakeProvider) -> AsyncIterator[Router]:
    async with _router(fake) as router:
        yield router


@asynccontextmanager
async def _stream(fake: FakeProvider) -> AsyncIterator[Any]:
    async with _router(fake) as router, router.stream(BODY, ProviderFormat.OPENAI) as events:
        yield events


@asynccontextmanager
async def _handle(fake: FakeProvider) -> AsyncIterator[Any]:
    body = dict(BODY, stream=True)
    async with _router(fake) as router, router.handle(body, ProviderFormat.OPENAI) as events:
        yield events


@asynccontextmanager
async def _fake(fake: FakeProvider) -> AsyncIterator[FakeProvider]:
    async with open_fake_provider() as other:
        yield other


@asynccontextmanager
async def _gateway(fake: FakeProvider) -> AsyncIterator[str]:
    async with open_gateway(_router(fake)) as url:
        yield url


@asynccontextmanager
async def _nursery(fake: FakeProvider) -> AsyncIterator[trio.Nursery]:
    async with open_nursery() as nursery:
        nursery.start_soon(trio.sleep_forever)
        yield nursery


MANAGERS: dict[str, Callable[[FakeProvider], AbstractAsyncContextManager[Any]]] = {
    "router": _entered_router,
    "router.stream": _stream,
    "router.handle": _handle,
    "open_fake_provider": _fake,
    "open_gateway": _gateway,
    "open_nursery": _nursery,
}


@pytest.fixture
async def fake() -> AsyncIterator[FakeProvider]:
    async with open_fake_provider() as server:
        yield server


@pytest.mark.parametrize("name", list(MANAGERS))
async def test_the_blocks_own_exception_leaves_as_itself(fake: FakeProvider, name: str) -> None:
    mine = ValueError("the caller's own mistake")
    with pytest.raises(ValueError) as caught:
        async with MANAGERS[name](fake):
            raise mine
    assert caught.value is mine
    assert caught.value.__context__ is None  # no group chained on as context either


@pytest.mark.parametrize("name", list(MANAGERS))
async def test_a_users_exception_group_is_not_unwrapped(fake: FakeProvider, name: str) -> None:
    mine = ExceptionGroup("the caller's own group", [KeyError("k")])
    with pytest.raises(ExceptionGroup) as caught:
        async with MANAGERS[name](fake):
            raise mine
    assert caught.value is mine


async def test_a_rate_limit_inside_the_router_is_caught_by_its_own_type(
    fake: FakeProvider,
) -> None:
    router = _router(fake)
    try:
        async with router:
            await router.complete(BODY, ProviderFormat.OPENAI, headers={"x-fake-status": "429"})
    except RateLimitError as exc:
        assert exc.status == 429
    else:
        pytest.fail("the rate limit did not surface")


async def test_cancellation_passes_through_every_layer(fake: FakeProvider) -> None:
    with trio.move_on_after(0.01) as scope:
        async with _stream(fake):
            await trio.sleep_forever()
    assert scope.cancelled_caught


async def test_a_lone_background_failure_is_unwrapped() -> None:
    async def fail() -> None:
        raise KeyError("task")

    with pytest.raises(KeyError):
        async with open_nursery() as nursery:
            nursery.start_soon(fail)
            await trio.sleep_forever()


async def test_concurrent_failures_form_a_group() -> None:
    ready = trio.Event()

    async def fail() -> None:
        ready.set()
        raise KeyError("task")

    mine = ValueError("block")
    with pytest.raises(ExceptionGroup) as caught:
        async with open_nursery() as nursery:
            nursery.start_soon(fail)
            await ready.wait()
            with trio.CancelScope(shield=True):
                await trio.lowlevel.checkpoint()  # let the task fail before the block does
            raise mine
    assert caught.value.exceptions[0] is mine
    assert isinstance(caught.value.exceptions[1], KeyError)


def test_under_asyncio_the_router_says_it_needs_trio_and_stays_closed() -> None:
    router = (
        Router.builder().add_provider("openai", OpenAIProvider()).add_api_key("openai", "k").build()
    )

    async def enter() -> None:
        async with router:
            pass  # pragma: no cover - never entered

    with pytest.raises(NotInTrioError, match=r"Trio.*trio\.run.*trio-asyncio"):
        asyncio.run(enter())
    assert "closed" in repr(router)

    async def enter_trio() -> bool:
        async with router:
            return "open" in repr(router)

    assert trio.run(enter_trio)


def test_under_asyncio_the_fake_provider_says_it_needs_trio() -> None:
    async def enter() -> None:
        async with open_fake_provider():
            pass  # pragma: no cover - never entered

    with pytest.raises(NotInTrioError, match="open_fake_provider"):
        asyncio.run(enter())
