"""The gateway's own behaviour beyond the contract suite: failures after a stream is committed
reach the client as an error event in the client's format, not as a silent truncation."""

from __future__ import annotations

import httpx
import orjson

from llm_router.framing.sse import SSEDecoder
from llm_router.serve import gateway_router, open_gateway
from llm_router_testing.fake import FAKE_KEYS, open_fake_provider

ANTHROPIC_HEADERS = {"x-api-key": "client-key", "anthropic-version": "2023-06-01"}
BODY = {
    "model": "gpt-4o-mini",
    "max_tokens": 50,
    "stream": True,
    "messages": [{"role": "user", "content": "one two three four five six"}],
}


async def _events(faults: dict[str, str]) -> list[tuple[str | None, dict[str, object]]]:
    async with open_fake_provider() as fake:
        router = gateway_router(fake.url, FAKE_KEYS, forward=("x-fake-",))
        async with open_gateway(router) as url, httpx.AsyncClient() as client:
            response = await client.post(
                url + "/v1/messages", json=BODY, headers={**ANTHROPIC_HEADERS, **faults}
            )
    assert response.status_code == 200
    decoder = SSEDecoder()
    messages = decoder.feed(response.content) + decoder.finish()
    return [(m.event, orjson.loads(m.data)) for m in messages]


async def test_a_connection_lost_mid_stream_ends_with_an_error_event() -> None:
    events = await _events({"x-fake-drop-after-events": "4", "x-fake-should-retry": "false"})
    names = [name for name, _ in events]
    assert names[0] == "message_start" and "content_block_delta" in names
    assert names[-1] == "error" and "message_stop" not in names
    assert names.count("message_start") == 1  # the error does not restart the stream
    error = events[-1][1]["error"]
    assert isinstance(error, dict) and "stream interrupted" in str(error["message"])


async def test_an_upstream_error_event_is_rendered_in_the_callers_format() -> None:
    events = await _events({"x-fake-stream-error": "3"})
    assert events[-1][0] == "error"
    assert events[-1][1]["type"] == "error"
    assert "message_stop" not in [name for name, _ in events]
