"""The timeout helper raises the library's TimeoutError, naming what did not arrive."""

from __future__ import annotations

import pytest
import trio
from trio.testing import MockClock

from llm_router import errors
from llm_router.resilience import call_with_timeout


async def test_call_with_timeout(autojump_clock: MockClock) -> None:
    async def slow() -> str:
        await trio.sleep(10)
        return "late"

    async def fast() -> str:
        await trio.sleep(1)
        return "on time"

    assert await call_with_timeout(2.0, fast, what="stream event") == "on time"
    assert await call_with_timeout(None, slow, what="stream event") == "late"
    with pytest.raises(errors.TimeoutError) as caught:
        await call_with_timeout(2.0, slow, what="stream event", provider="a/m")
    assert str(caught.value) == "a/m: no stream event within 2 s"
