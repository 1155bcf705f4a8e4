"""The router's httpx client: a streamed send goes straight to the transport, keeps httpx's
request log line and timeouts, and anything the direct path does not cover (credentials in
the URL, per-call auth, non-streamed sends, a closed client) takes httpx's own path."""

from __future__ import annotations

import logging

import httpx
import pytest

from llm_router._client import RouterClient

TIMEOUT = httpx.Timeout(None, connect=3.0)


def _client(seen: list[httpx.Request]) -> RouterClient:
    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, headers={"set-cookie": "a=b"}, content=b"ok")

    return RouterClient(transport=httpx.MockTransport(answer), timeout=TIMEOUT)


async def test_a_streamed_send_goes_to_the_transport_with_the_clients_timeouts(
    caplog: pytest.LogCaptureFixture,
) -> None:
    seen: list[httpx.Request] = []
    async with _client(seen) as client:
        with caplog.at_level(logging.INFO, logger="httpx"):
            response = await client.send(httpx.Request("POST", "http://up.test/x"), stream=True)
        assert response.request is seen[0]
        assert await response.aread() == b"ok"
        assert seen[0].extensions["timeout"] == TIMEOUT.as_dict()
        assert not client.cookies  # answers' cookies are never kept
    assert 'HTTP Request: POST http://up.test/x "HTTP/1.1 200 OK"' in caplog.text


async def test_what_the_direct_path_does_not_cover_takes_httpxs_path() -> None:
    seen: list[httpx.Request] = []
    async with _client(seen) as client:
        await client.send(httpx.Request("GET", "http://user:secret@up.test/x"), stream=True)
        assert seen[-1].headers["authorization"].startswith("Basic ")  # httpx's own doing
        await client.send(httpx.Request("GET", "http://up.test/x"), stream=True, auth=("u", "p"))
        assert seen[-1].headers["authorization"].startswith("Basic ")
        response = await client.send(httpx.Request("GET", "http://up.test/x"))
        assert response.content == b"ok"
    with pytest.raises(RuntimeError, match="closed"):
        await client.send(httpx.Request("GET", "http://up.test/x"), stream=True)
