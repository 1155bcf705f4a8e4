"""Record through: the fake server forwards a provider's requests upstream and records them.

`RecordingProxy(upstreams={"openai": "https://api.openai.com"}, record_to="cassettes/")`
given to the fake server (``open_fake_provider(proxy=...)`` or ``llm-router-fake serve
--record-to DIR --upstream-for openai=https://api.openai.com``) sends every request of
those providers to the upstream host with the caller's own credentials, streams the answer
back as it arrives, and records each exchange into ``DIR/<provider>.json`` — a cassette
(redacted by the cassette recorder: keys, signatures and their echoes never reach the file;
streams keep their chunk timing). Serve the directory later with ``--fixtures DIR``: a team
records once against real APIs and replays in CI with no keys.

Realtime WebSocket sessions of those providers (OpenAI Realtime, Responses WebSocket mode,
Gemini Live) are forwarded the same way (`forward_websocket`): the upgrade goes to the
upstream (``http`` becomes ``ws``) with the caller's headers, messages are relayed both ways
as they come and recorded with their times, and either side's close reaches the other with
its code; a refused upgrade is relayed (and recorded) as the upstream's HTTP answer.

The upstream is the provider's host root: the request path (``/v1/chat/completions``,
``/v1/messages``, ``/v1beta/models/...``) is appended as received. Providers are the fake's
route names: openai, azure, mistral, anthropic, vertex-anthropic, google, vertex-google,
bedrock. A Bedrock request signed with SigV4 was signed for the proxy's host, so it cannot go
on as it is: the proxy drops that signature and signs again for the upstream with AWS
credentials of its own (`aws=`; the command line takes them from the AWS environment,
profile or role). A Bedrock API key (``Authorization: Bearer``) is forwarded as any key is.
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import trio
from trio_websocket import (
    ConnectionClosed,
    ConnectionRejected,
    HandshakeError,
    WebSocketConnection,
    open_websocket_url,
)

from llm_router.auth import AwsSigV4

from .cassette import Cassette, RecordMode
from .recorder import WebSocketCapture
from .redact import RedactRule

__all__ = [
    "PROXIED_PROVIDERS",
    "bedrock_signer",
    "ProxiedSession",
    "ProxyError",
    "RecordingProxy",
    "parse_upstreams",
]

PROXIED_PROVIDERS = frozenset(
    {
        "openai",
        "azure",
        "mistral",
        "anthropic",
        "vertex-anthropic",
        "google",
        "vertex-google",
        "bedrock",
    }
)
#: A caller's SigV4 signature (for the proxy's host), dropped before signing for the upstream.
_SIGV4_HEADERS = frozenset(
    {"authorization", "x-amz-date", "x-amz-security-token", "x-amz-content-sha256"}
)
_REQUEST_HOP = frozenset(
    {"host", "content-length", "connection", "transfer-encoding", "accept-encoding", "keep-alive"}
)
_RESPONSE_HOP = frozenset({"content-length", "connection", "transfer-encoding", "keep-alive"})
# The WebSocket client library writes its own handshake headers.
_UPGRADE_HOP = _REQUEST_HOP | {
    "upgrade",
    "sec-websocket-key",
    "sec-websocket-version",
    "sec-websocket-extensions",
    "sec-websocket-protocol",
}
# Close codes that never travel in a close frame: a peer that left without one.
_NO_CLOSE_FRAME = frozenset({1005, 1006, 1015})
_MAX_MESSAGE = 16 * 1024 * 1024

_NO_AWS_CREDENTIALS = (
    "bedrock: this request is SigV4-signed for the proxy's own host, so it cannot be forwarded"
    " as it is; give the proxy AWS credentials to sign it again for the upstream (the AWS"
    " environment, a profile or a role; --aws-region names the signing region), or call it"
    " with a Bedrock API key (AWS_BEARER_TOKEN_BEDROCK)"
)

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


def bedrock_signer(upstream: str, region: str | None = None) -> AwsSigV4 | None:
    """The proxy's own SigV4 signer for a Bedrock `upstream`, from botocore's credential chain
    (environment, shared files, profile, role); None when no credentials are found (SigV4-signed
    requests are then refused with 502 naming what to set; Bedrock API keys still pass).
    `region` defaults to the one in a `bedrock-runtime.{region}.amazonaws.com` host, then to
    the AWS configuration's; raises `ProxyError` when neither names one."""
    import botocore.session

    session = botocore.session.Session()
    if region is None:
        host = httpx.URL(upstream).host
        parts = host.split(".")
        if (
            len(parts) >= 4
            and parts[0].startswith("bedrock")
            and parts[-2:] == ["amazonaws", "com"]
        ):
            region = parts[1]
        else:
            configured = session.get_config_variable("region")
            region = str(configured) if configured else None
    if not region:
        raise ProxyError(
            f"--upstream-for bedrock={upstream}: name the signing region with --aws-region"
        )
    found = session.get_credentials()
    if found is None:
        return None
    frozen = found.get_frozen_credentials()
    return AwsSigV4(frozen.access_key, frozen.secret_key, frozen.token, region=region)


@dataclass
class ProxiedSession:
    """How a forwarded WebSocket session went (for the fake server's journal)."""

    status: int = 502
    frames_from_client: int = 0
    frames_from_upstream: int = 0
    first_client_frame: bytes = b""
    close_code: int | None = None
    closed_by: str | None = None
    error: str | None = None


class RecordingProxy:
    """Which providers go upstream, where, and the cassettes their exchanges go to."""

    def __init__(
        self,
        upstreams: Mapping[str, str],
        record_to: str | Path,
        *,
        redact: Iterable[RedactRule] = (),
        timeout: float = 600.0,
        aws: AwsSigV4 | None = None,
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
        self.aws = aws
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
        sign: AwsSigV4 | None = None
        if provider == "bedrock" and outgoing.get("authorization", "").startswith("AWS4-"):
            if self.aws is None:
                await _reply(send, 502, _NO_AWS_CREDENTIALS.encode())
                return 502
            sign = self.aws
            outgoing = {k: v for k, v in outgoing.items() if k not in _SIGV4_HEADERS}
        cassette = self.cassette(provider)
        status = 502
        try:
            status = await self._relay(
                provider, scope["method"], url, outgoing, body, receive, send, sign
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
        sign: AwsSigV4 | None = None,
    ) -> int:
        status = 502
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_cancel_on_disconnect, receive, nursery.cancel_scope)
            try:
                request = self._client(provider).build_request(
                    method, url, headers=outgoing, content=body
                )
                if sign is not None:  # signed for the upstream's host, as sent
                    await sign.apply(request)
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

    async def forward_websocket(
        self,
        provider: str,
        scope: Mapping[str, Any],
        receive: Receive,
        send: Send,
    ) -> ProxiedSession:
        """Relay one WebSocket session (the `websocket.connect` already received) to the
        provider's upstream, recording it; returns how it went."""
        raw_path = scope.get("raw_path") or scope["path"].encode()
        upstream = self.upstreams[provider]
        root = upstream.replace("https://", "wss://", 1).replace("http://", "ws://", 1)
        url = root + raw_path.decode("latin-1")
        query = scope.get("query_string") or b""
        if query:
            url += "?" + query.decode("latin-1")
        headers = [
            (name.decode("latin-1").lower(), value.decode("latin-1"))
            for name, value in scope["headers"]
        ]
        outgoing = [(k, v) for k, v in headers if k not in _UPGRADE_HOP]
        cassette = self.cassette(provider)
        capture = cassette.record_websocket(url, outgoing)
        outcome = ProxiedSession()
        denial = "websocket.http.response" in scope.get("extensions", {})
        try:
            await _relay_websocket(
                url,
                outgoing,
                scope.get("subprotocols") or [],
                receive,
                send,
                denial,
                capture,
                outcome,
            )
        finally:
            capture.store()
            cassette.save()
        return outcome


async def _relay_websocket(
    url: str,
    headers: list[tuple[str, str]],
    subprotocols: list[str],
    receive: Receive,
    send: Send,
    denial: bool,
    capture: WebSocketCapture,
    outcome: ProxiedSession,
) -> None:
    extra = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers]
    try:
        async with open_websocket_url(
            url,
            subprotocols=subprotocols or None,
            extra_headers=extra,
            max_message_size=_MAX_MESSAGE,
            connect_timeout=30,
            disconnect_timeout=5,
        ) as upstream:
            capture.accepted(upstream.subprotocol)
            await send({"type": "websocket.accept", "subprotocol": upstream.subprotocol})
            outcome.status = 101
            async with trio.open_nursery() as nursery:
                nursery.start_soon(
                    _client_to_upstream, receive, upstream, capture, outcome, nursery.cancel_scope
                )
                await _upstream_to_client(upstream, send, capture, outcome)
                nursery.cancel_scope.cancel()
    except ConnectionRejected as rejected:
        body = rejected.body or b""
        response_headers = httpx.Headers(
            [(k.decode("latin-1"), v.decode("latin-1")) for k, v in rejected.headers or []]
        )
        capture.rejected(rejected.status_code, response_headers, body)
        outcome.status, outcome.error = rejected.status_code, "upstream refused the upgrade"
        await _refuse(send, denial, rejected.status_code, _reply_headers(response_headers), body)
    except (HandshakeError, OSError) as error:
        capture.failed(error)
        message = f"upstream {url.split('?')[0]} failed: {type(error).__name__}: {error}"
        outcome.error = message
        headers_out = [(b"content-type", b"text/plain")]
        await _refuse(send, denial, 502, headers_out, message.encode())


def _reply_headers(headers: httpx.Headers) -> list[tuple[bytes, bytes]]:
    return [
        (name.encode("latin-1"), value.encode("latin-1"))
        for name, value in headers.multi_items()
        if name.lower() not in _RESPONSE_HOP
    ]


async def _refuse(
    send: Send, denial: bool, status: int, headers: list[tuple[bytes, bytes]], body: bytes
) -> None:
    if not denial:  # a server without the denial extension can only refuse with 403
        await send({"type": "websocket.close", "code": 1008})
        return
    await send({"type": "websocket.http.response.start", "status": status, "headers": headers})
    await send({"type": "websocket.http.response.body", "body": body})


async def _client_to_upstream(
    receive: Receive,
    upstream: WebSocketConnection,
    capture: WebSocketCapture,
    outcome: ProxiedSession,
    cancel: trio.CancelScope,
) -> None:
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            code = int(message.get("code", 1005))
            capture.closed(code, str(message.get("reason") or ""), "client")
            if outcome.closed_by is None:
                outcome.close_code, outcome.closed_by = code, "client"
            with trio.CancelScope(shield=True), trio.move_on_after(5):
                await upstream.aclose(1000 if code in _NO_CLOSE_FRAME else code)
            cancel.cancel()
            return
        if message["type"] != "websocket.receive":
            continue
        text = message.get("text")
        data: str | bytes = text if isinstance(text, str) else bytes(message.get("bytes") or b"")
        capture.frame("client", data)
        outcome.frames_from_client += 1
        if outcome.frames_from_client == 1:
            outcome.first_client_frame = data.encode() if isinstance(data, str) else data
        try:
            await upstream.send_message(data)
        except ConnectionClosed:
            return  # the upstream's close is relayed by the other direction


async def _upstream_to_client(
    upstream: WebSocketConnection, send: Send, capture: WebSocketCapture, outcome: ProxiedSession
) -> None:
    while True:
        try:
            data = await upstream.get_message()
        except ConnectionClosed as closed:
            code = closed.reason.code if closed.reason is not None else 1006
            reason = (closed.reason.reason if closed.reason is not None else None) or ""
            capture.closed(code, reason, "server")
            if outcome.closed_by is None:
                outcome.close_code, outcome.closed_by = code, "server"
                if code in _NO_CLOSE_FRAME:
                    code = 1011  # the upstream left without a close frame
                await send({"type": "websocket.close", "code": code, "reason": reason})
            return
        capture.frame("server", data)
        outcome.frames_from_upstream += 1
        key = "text" if isinstance(data, str) else "bytes"
        await send({"type": "websocket.send", key: data})


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
