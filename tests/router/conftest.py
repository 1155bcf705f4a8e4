"""Shared fixtures for router tests: a real fake-provider server on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from llm_router import AnthropicProvider, OpenAIProvider, Router
from llm_router_testing.fake import FAKE_KEYS, FakeProvider, open_fake_provider


@pytest.fixture
async def fake() -> AsyncIterator[FakeProvider]:
    async with open_fake_provider() as server:
        yield server


@pytest.fixture
def make_router() -> Callable[[FakeProvider], Router]:
    return openai_router


def openai_router(fake: FakeProvider) -> Router:
    return (
        Router.builder()
        .add_provider("openai", OpenAIProvider(base_url=fake.url + "/v1"))
        .add_api_key("openai", FAKE_KEYS["openai"])
        .add_provider("anthropic", AnthropicProvider(base_url=fake.url))
        .add_api_key("anthropic", FAKE_KEYS["anthropic"])
        .forward_headers("x-fake-")
        .build()
    )
