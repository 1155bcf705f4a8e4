"""Record through: the fake server forwards a provider's requests upstream and records them.

`RecordingProxy(upstreams={"openai": "https://api.openai.com"}, record_to="cassettes/")`
given to the fake server (``open_fake_provider(proxy=...)`` or ``llm-router-fake serve
--record-to DIR --upstream-for openai=https://api.openai.com``) sends every request of
those providers to the upstream host with the caller's own credentials, streams the answer
back as it arrives, and records each exchange into ``DIR/<provider>.json`` — a cassette
(redacted by the cassette recorder: keys, signatures and their echoes never reach the file;
streams keep their chunk timing). Serve the directory later with ``--fixtures DIR``: a team
records once against real APIs and replays in CI with no keys.

The upstream is the provider's host root: the request path (``/v1/chat/completions``,
``/v1/messages``, ``/v1beta/models/...``) is appended as received. Providers are the fake's
route names: openai, azure, mistral, anthropic, vertex-anthropic, google, vertex-google.
Bedrock is not proxied: its SigV4 signature covers the host the client signed for.
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import httpx
import trio

from .cassette import Cassette, RecordMode
from .redact import RedactRule

__all__ = ["PROXIED_PROVIDERS", "ProxyError", "RecordingProxy", "parse_upstreams"]

PROXIED_PROVIDERS = frozenset(
    {"openai", "azure", "mistral", "anthropic", "vertex-anthropic", "google", "vertex-google"}
)
_REQUEST_HOP = frozenset(
    {"host", "content-length", "connection", "transfer-encoding", "accept-encoding", "keep-alive"}
)
_RESPONSE_HOP = frozenset({"content-length", "connection", "transfer-encoding", "keep-alive"})

Send = Callable[[dict[str, Any]], Awaitable[None]]
Receive = Callable[[], Awaitable[dict[str, Any]]]


class ProxyError(ValueError):
    """A proxy setting is wrong (unknown provider, bad URL); the message names it."""


def parse_upstreams(specs: Iterable[str]) -> dict[str, str]:
    """``["openai=https://api.openai.com", ...]`` -> {provider: url}; raises `ProxyError`."""
    upstreams: dict[str, str] = {}
    for spec in specs:
        provider, sep, url = spec.partition("=")
        if not sep or not url:
            raise ProxyError(f"--upstream-for {spec!r}: expected PROVIDER=URL")
        upstreams[provider.strip()] = url.strip()
    return upstreams


class RecordingProxy:
    """Which providers go upstream, where, and the cassettes their exchanges go to."""

    def __init__(
        self,
        upstreams: Mapping[str, str],
        record_to: str | Path,
        *,
        redact: Iterable[RedactRule] = (),
        timeout: float = 600.0,
    ) -> None:
        for provider, url in upstreams.items():
            if provider not in PROXIED_PROVIDERS:
                known = ", ".join(sorted(PROXIED_PROVIDERS))
                raise ProxyError(f"cannot proxy provider {provider!r} (use one of: {known})")
            if not url.startswith(("http://", "https://")):
                raise ProxyError(f"upstream for {provider}: {url!r} is not an http(s) URL")
        self.upstreams = {p: url.rstrip("/") for p, url in upstreams.items()}
        self.record_to = Path(record_to)
        self._redact = tuple(redact)
        self._timeout = timeout
        self._cassettes: dict[str, Cassette] = {}
        self._clients: dict[str, httpx.AsyncClient] = {}
        self._lock = threading.Lock()

    def handles(self, provider: str) -> bool:
        return provider in self.upstreams

    def cassette(self, provider: str) -> Cassette:
        """The cassette this run records `provider`'s exchanges into."""
        with self._lock:
            cassette = self._cassettes.get(provider)
            if cassette is None:
                self.record_to.mkdir(parents=True, exist_ok=True)
                cassette = Cassette.open(
                    self.record_to / f"{provider}.json", RecordMode.ALL, redact=self._redact
                )
                self._cassettes[provider] = cassette
            return cassette

    def _client(self, provider: str) -> httpx.AsyncClient:
        client = self._clients.get(provider)
        if client is None:
            transport = self.cassette(provider).async_transport(httpx.AsyncHTTPTransport())
            client = httpx.AsyncClient(transport=transport, timeout=self._timeout)
            self._clients[provider] = client
        return client

    async def aclose(self) -> None:
        """Close the upstream connections and write every cassette (at server shutdown)."""
        clients, self._clients = self._clients, {}
        for client in clients.values():
            await client.aclose()
        self.save()

    def save(self) -> None:
        with self._lock:
            cassettes = list(self._cassettes.values())
        for cassette in cassettes:
            cassette.save()

    async def forward(
        self,
        provider: str,
        scope: Mapping[str, Any],
        headers: Mapping[str, str],
        body: bytes,
        receive: Receive,
        send: Send,
    ) -> int:
        """Send one request upstream, relay the answer as it arrives; returns the status."""
        raw_path = scope.get("raw_path") or scope["path"].encode()
        url = self.upstreams[provider] + raw_path.decode("latin-1")
        query = scope.get("query_string") or b""
        if query:
            url += "?" + query.decode("latin-1")
        outgoing = {k: v for k, v in headers.items() if k not in _REQUEST_HOP}
        cassette = self.cassette(provider)
        status = 502
        try:
            status = await self._relay(
                provider, scope["method"], url, outgoing, body, receive, send
            )
        finally:
            # Written even when the server is stopping: the exchange is complete by now.
            cassette.save()
        return status

    async def _relay(
        self,
        provider: str,
        method: str,
        url: str,
        outgoing: dict[str, str],
        body: bytes,
        receive: Receive,
        send: Send,
    ) -> int:
        status = 502
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_cancel_on_disconnect, receive, nursery.cancel_scope)
            try:
                request = self._client(provider).build_request(
                    method, url, headers=outgoing, content=body
                )
                response = await self._client(provider).send(request, stream=True)
            except httpx.HTTPError as error:
                message = f"upstream {url} failed: {type(error).__name__}: {error}".encode()
                await _reply(send, 502, message)
            else:
                status = response.status_code
                try:
                    reply_headers = [
                        (name.encode("latin-1"), value.encode("latin-1"))
                        for name, value in response.headers.multi_items()
                        if name.lower() not in _RESPONSE_HOP
                    ]
                    await send(
                        {"type": "http.response.start", "status": status, "headers": reply_headers}
                    )
                    async for chunk in response.aiter_raw():
                        await send({"type": "http.response.body", "body": chunk, "more_body": True})
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
                finally:
                    with trio.CancelScope(shield=True):
                        await response.aclose()
            nursery.cancel_scope.cancel()
        return status


async def _cancel_on_disconnect(receive: Receive, scope: trio.CancelScope) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            scope.cancel()
            return


async def _reply(send: Send, status: int, body: bytes) -> None:
    headers = [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
