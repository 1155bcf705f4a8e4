"""Official-SDK realtime clients for the gateway's realtime tests (they run on asyncio)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import openai
import trio


async def on_asyncio(main: Callable[[], Awaitable[Any]]) -> Any:
    """Run an asyncio coroutine (an SDK client) in a thread beside the Trio test."""
    return await trio.to_thread.run_sync(lambda: asyncio.run(main()))


async def openai_turn(url: str, model: str) -> str:
    """One text turn with the openai SDK's realtime client; the answer's text."""
    client = openai.AsyncOpenAI(base_url=url + "/v1", api_key="client-key")
    async with client.realtime.connect(model=model) as conn:
        await conn.session.update(session={"type": "realtime", "output_modalities": ["text"]})
        await conn.conversation.item.create(
            item={
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "hello"}],
            }
        )
        await conn.response.create()
        text = ""
        async for event in conn:
            if event.type == "response.output_text.delta":
                text += event.delta
            if event.type == "response.done":
                break
    return text
