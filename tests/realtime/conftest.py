"""Fixtures of the realtime tests: a fake server in the test's own Trio run."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from llm_router_testing.fake import FakeProvider, open_fake_provider


@pytest.fixture
async def fake() -> AsyncIterator[FakeProvider]:
    async with open_fake_provider(seed=1) as provider:
        yield provider
