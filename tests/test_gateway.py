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


async def _post(faults: dict[str, str]) -> httpx.Response:
    async with open_fake_provider() as fake:
        router = gateway_router(fake.url, FAKE_KEYS, forward=("x-fake-",))
        async with open_gateway(router) as url, httpx.AsyncClient() as client:
            return await client.post(
                url + "/v1/messages", json=BODY, headers={**ANTHROPIC_HEADERS, **faults}
            )


async def _events(faults: dict[str, str]) -> list[tuple[str | None, dict[str, object]]]:
    response = await _post(faults)
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
    # One event at a time: the first reaches the client before the upstream's error event.
    events = await _events({"x-fake-stream-error": "3", "x-fake-inter-event-delay": "5ms"})
    assert events[-1][0] == "error"
    assert events[-1][1]["type"] == "error"
    assert [name for name, _ in events].count("error") == 1  # the upstream's own is not passed on
    assert "message_stop" not in [name for name, _ in events]


async def test_an_error_event_before_anything_reached_the_client_is_an_error_answer() -> None:
    # The fake sends the first events and the error in one write: nothing was committed, so
    # every route is retried, and the client gets an error answer in its own format.
    response = await _post({"x-fake-stream-error": "3"})
    assert response.status_code == 500
    body = response.json()
    assert body["type"] == "error" and body["error"]["type"] == "api_error"
    assert "error event in the stream" in body["error"]["message"]
