"""Fixtures of the fake server's tests: a server in the test's own Trio run."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from llm_router_testing.fake import FakeProvider, open_fake_provider


@pytest.fixture
async def fake() -> AsyncIterator[FakeProvider]:
    async with open_fake_provider(seed=1) as provider:
        yield provider


@pytest.fixture
async def client(fake: FakeProvider) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=fake.url, timeout=10) as http:
        yield http
