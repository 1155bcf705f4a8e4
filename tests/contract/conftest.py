"""Fixtures of the contract suite's tests: the fake provider server and the project's gateway."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from _contract_support import TEST_TIMEOUTS

from llm_router.serve import gateway_router, open_gateway
from llm_router_testing.fake import FAKE_KEYS, FakeProvider, open_fake_provider


@pytest.fixture
async def fake() -> AsyncIterator[FakeProvider]:
    async with open_fake_provider() as server:
        yield server


@pytest.fixture
async def gateway(fake: FakeProvider) -> AsyncIterator[str]:
    """The project's gateway in front of the fake server, forwarding x-fake-* headers, with
    first-byte and idle timeouts short enough for the timeout checks (`TIMEOUT_BOUND`)."""
    router = gateway_router(fake.url, FAKE_KEYS, forward=("x-fake-",), timeouts=TEST_TIMEOUTS)
    async with open_gateway(router) as url:
        yield url
