"""The router's own connection pool: reuse, bounded waits, truthful statistics, and no slot
left behind by cancelled requests (the failure of httpcore's pool, encode/httpcore#1093)."""

from __future__ import annotations

import contextlib
import random
import ssl
from collections.abc import Callable
from functools import partial
from pathlib import Path

import httpcore
import httpx
import orjson
import pytest
import trio
from trio.testing import MockClock

from llm_router import OpenAIProvider, PoolTimeoutError, Router
from llm_router._pool import ConnectionPool
from llm_router.errors import ConfigurationError, ConnectError, TimeoutError
from llm_router.resilience import RetryPolicy
from llm_router.transport import PoolTransport, pool_statistics
from llm_router_testing.fake import FAKE_KEYS, FakeProvider, open_fake_provider

CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}]}
ORIGIN = httpcore.Origin(b"http", b"127.0.0.1", 9)


def _router(fake: FakeProvider, **limits: int | None) -> Router:
    return (
        Router.builder()
        .add_provider("openai", OpenAIProvider(base_url=fake.url + "/v1"))
        .add_api_key("openai", FAKE_KEYS["openai"])
        .forward_headers("x-fake-")
        .with_limits(httpx.Limits(**limits))  # type: ignore[arg-type]
        .build()
    )


def _pool(max_connections: int | None = 1, pool_timeout: float = 5.0) -> ConnectionPool:
    return PoolTransport(
        limits=httpx.Limits(max_connections=max_connections), pool_timeout=pool_timeout
    ).pool


# -- the regression: cancellation storms under contention -----------------------------------------
#: A pool this small under waves this large poisoned httpcore's pool within a few waves: every
#: slot stuck CONNECTING, and the next call hung.
STORM_CONNECTIONS = 2
STORM_WAVES = 40
STORM_WAVE_SIZE = 100


async def test_cancellation_storms_leave_no_connection_behind() -> None:
    rng = random.Random(9)
    async with (
        open_fake_provider() as fake,
        _router(fake, max_connections=STORM_CONNECTIONS) as router,
    ):
        cut_short = 0

        async def impatient() -> None:
            nonlocal cut_short
            with trio.move_on_after(rng.uniform(0.0, 0.05)) as scope:
                await router.complete(CHAT, "openai", headers={"x-fake-latency": "0-50ms"})
            cut_short += scope.cancelled_caught

        most_waiting = 0
        for _ in range(STORM_WAVES):
            async with trio.open_nursery() as nursery:
                for _ in range(STORM_WAVE_SIZE):
                    nursery.start_soon(impatient)
                await trio.sleep(0.01)
                most_waiting = max(most_waiting, router.statistics()["pool"]["waiting"])
        assert most_waiting > STORM_CONNECTIONS  # the pool was contended, many times over
        assert cut_short > STORM_WAVES * STORM_WAVE_SIZE // 2

        pool = router.statistics()["pool"]
        assert pool["connecting"] == pool["active"] == pool["waiting"] == pool["in_use"] == 0
        with trio.move_on_after(5) as deadline:
            answer = await router.complete(CHAT, "openai")
        assert not deadline.cancelled_caught, "a fresh call found no free connection"
        assert orjson.loads(answer.body)["choices"][0]["message"]["content"] == "You said: x"
        assert router.statistics()["pool"]["connecting"] == 0


# -- reuse and statistics ----------------------------------------------------------------------
async def test_connections_are_reused_and_every_state_is_reported() -> None:
    async with (
        open_fake_provider() as fake,
        _router(fake, max_connections=4, max_keepalive_connections=2) as router,
    ):
        for _ in range(5):
            await router.complete(CHAT, "openai")
        assert router.statistics()["pool"] == {
            "max_connections": 4,
            "connections": 1,
            "connecting": 0,
            "active": 0,
            "idle": 1,
            "waiting": 0,
            "in_use": 0,
        }

        # Six calls at once: four hold a connection (answers are slow), two wait.
        gate = trio.Event()

        async def slow() -> None:
            await router.complete(CHAT, "openai", headers={"x-fake-latency": "200ms"})
            gate.set()

        async with trio.open_nursery() as nursery:
            for _ in range(6):
                nursery.start_soon(slow)
            while router.statistics()["pool"]["waiting"] < 2:  # noqa: ASYNC110 (no event)
                await trio.sleep(0.001)
            busy = router.statistics()["pool"]
            assert busy["connections"] == 4 and busy["waiting"] == 2
            assert busy["connecting"] + busy["active"] == 4 and busy["in_use"] == 6
        after = router.statistics()["pool"]
        assert after["in_use"] == 0 and after["idle"] == after["connections"] == 2  # keep-alive cap
    assert pool_statistics(router._client) == pool_statistics(None)  # closed: no transport


async def test_a_connection_past_its_keepalive_expiry_is_closed_not_kept() -> None:
    async with open_fake_provider() as fake, _router(fake, keepalive_expiry=0) as router:
        for _ in range(3):
            await router.complete(CHAT, "openai")
            assert router.statistics()["pool"]["connections"] == 0


def test_transports_without_our_pool_report_zeros() -> None:
    stats = pool_statistics(httpx.MockTransport(lambda r: httpx.Response(200)))
    assert stats["connections"] == stats["in_use"] == 0


async def test_a_stream_left_early_closes_its_connection_and_frees_the_slot() -> None:
    async with open_fake_provider() as fake, _router(fake, max_connections=1) as router:
        body = dict(CHAT, stream=True)
        async with router.stream(
            body, "openai", headers={"x-fake-inter-event-delay": "20ms"}
        ) as events:
            async for _ in events:
                assert router.statistics()["pool"]["active"] == 1
                break
        stats = router.statistics()["pool"]
        assert stats["connections"] == stats["in_use"] == 0  # half-read: not reusable
        with trio.fail_after(5):
            await router.complete(CHAT, "openai")
        assert router.statistics()["pool"]["idle"] == 1


# -- bounded waits --------------------------------------------------------------------------------
async def test_a_pool_wait_ends_in_a_typed_error_naming_the_limit(
    autojump_clock: MockClock,
) -> None:
    pool = _pool(max_connections=1, pool_timeout=2.5)
    held = await pool.acquire(ORIGIN)
    assert pool.statistics()["connecting"] == 1
    started = trio.current_time()
    with pytest.raises(PoolTimeoutError) as caught:
        await pool.acquire(ORIGIN)
    assert trio.current_time() - started == pytest.approx(2.5)
    assert isinstance(caught.value, TimeoutError) and caught.value.status == 503
    assert caught.value.limit == 1 and caught.value.timeout == 2.5
    assert "all 1 connections" in str(caught.value) and "2.5 s" in str(caught.value)
    assert "max_connections" in str(caught.value)
    assert pool.statistics()["waiting"] == 0

    with pytest.raises(PoolTimeoutError):  # a per-request wait overrides the pool's
        await pool.acquire(ORIGIN, max_wait=0.1)
    await pool.discard(held)
    assert pool.statistics()["connections"] == 0
    again = await pool.acquire(ORIGIN)
    await pool.discard(again)


async def test_a_freed_slot_goes_to_a_waiting_request_and_a_cancelled_wait_takes_none(
    autojump_clock: MockClock,
) -> None:
    pool = _pool(max_connections=1)
    held = await pool.acquire(ORIGIN)
    got: list[object] = []

    async def wait_for_one() -> None:
        got.append(await pool.acquire(ORIGIN))

    async with trio.open_nursery() as nursery:
        with trio.move_on_after(0.5):  # a waiter that gives up holds nothing
            await pool.acquire(ORIGIN)
        nursery.start_soon(wait_for_one)
        await trio.sleep(1)
        assert pool.statistics()["waiting"] == 1
        await pool.discard(held)
    assert len(got) == 1 and pool.statistics()["connecting"] == 1
    assert pool.statistics()["waiting"] == 0


async def test_an_idle_connection_to_another_origin_makes_room() -> None:
    async with open_fake_provider() as first, open_fake_provider() as second:
        transport = PoolTransport(limits=httpx.Limits(max_connections=1))
        async with httpx.AsyncClient(transport=transport) as client:
            for fake in (first, second, first):
                response = await client.get(fake.url + "/v1/models")
                assert response.status_code in (200, 401)
                stats = transport.pool.statistics()
                assert stats["connections"] == stats["idle"] == 1


async def test_the_router_reports_a_pool_timeout_as_itself(autojump_clock: MockClock) -> None:
    async with open_fake_provider() as fake:
        router = (
            Router.builder()
            .add_provider("openai", OpenAIProvider(base_url=fake.url + "/v1"))
            .add_api_key("openai", FAKE_KEYS["openai"])
            .with_retry_policy(RetryPolicy(max_attempts=1))
            .with_limits(httpx.Limits(max_connections=1), pool_timeout=3)
            .build()
        )
        async with router:
            transport = router._client._transport  # type: ignore[union-attr]
            assert isinstance(transport, PoolTransport)
            held = await transport.pool.acquire(httpcore.Origin(b"http", b"127.0.0.1", fake.port))
            with pytest.raises(PoolTimeoutError, match="all 1 connections"):
                await router.complete(CHAT, "openai")
            await transport.pool.discard(held)


@pytest.mark.parametrize(
    ("limits", "timeout", "problem"),
    [
        (httpx.Limits(max_connections=0), 1.0, "max_connections must be at least 1"),
        (httpx.Limits(), 0, "pool_timeout must be a finite number > 0"),
        (httpx.Limits(), float("inf"), "pool_timeout must be a finite number > 0"),
    ],
)
def test_bad_limits_are_configuration_errors(
    limits: httpx.Limits, timeout: float, problem: str
) -> None:
    builder = Router.builder().add_provider("openai", OpenAIProvider()).add_api_key("openai", "k")
    with pytest.raises(ConfigurationError, match=problem):
        builder.with_limits(limits, pool_timeout=timeout).build()


async def test_a_refused_connection_frees_its_slot() -> None:
    with trio.socket.socket() as probe:  # a port nobody listens on
        await probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    router = (
        Router.builder()
        .add_provider("openai", OpenAIProvider(base_url=f"http://127.0.0.1:{port}/v1"))
        .add_api_key("openai", FAKE_KEYS["openai"])
        .with_retry_policy(RetryPolicy(max_attempts=1))
        .with_limits(httpx.Limits(max_connections=1))
        .build()
    )
    async with router:
        for _ in range(3):
            with pytest.raises(ConnectError):
                await router.complete(CHAT, "openai")
        assert router.statistics()["pool"]["connections"] == 0


def test_pool_arguments_are_checked() -> None:
    make: list[Callable[[], object]] = [
        lambda: _pool(max_connections=0),
        lambda: _pool(pool_timeout=-1),
    ]
    for bad in make:
        with pytest.raises(ValueError):
            bad()


# -- TLS ------------------------------------------------------------------------------------------
def _self_signed() -> tuple[bytes, bytes]:
    """A certificate for localhost and 127.0.0.1, and its key (PEM)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


async def _serve_https(stream: trio.SSLStream[trio.SocketStream]) -> None:
    """A keep-alive HTTP/1.1 server answering every request with its SNI name (h11)."""
    import h11

    connection = h11.Connection(h11.SERVER)
    with contextlib.suppress(trio.BrokenResourceError, h11.RemoteProtocolError):
        async with stream:
            while True:
                event = connection.next_event()
                if event is h11.NEED_DATA:
                    connection.receive_data(bytes(await stream.receive_some(65536)))
                    continue
                if isinstance(event, h11.ConnectionClosed):
                    return
                if isinstance(event, h11.EndOfMessage):
                    body = stream.transport_stream.socket.getsockname()[0].encode()
                    headers = [("content-length", str(len(body)))]
                    await stream.send_all(
                        connection.send(h11.Response(status_code=200, headers=headers))
                        + connection.send(h11.Data(data=body))
                        + connection.send(h11.EndOfMessage())
                    )
                    connection.start_next_cycle()


async def test_https_connections_verify_the_host_and_are_reused(tmp_path: Path) -> None:
    cert, key = _self_signed()
    (tmp_path / "cert.pem").write_bytes(cert)
    (tmp_path / "key.pem").write_bytes(key)
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    client_context = ssl.create_default_context(cadata=cert.decode())

    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(
            partial(trio.serve_ssl_over_tcp, _serve_https, 0, server_context, host="127.0.0.1")
        )
        port = listeners[0].transport_listener.socket.getsockname()[1]
        transport = PoolTransport(
            limits=httpx.Limits(max_connections=2), ssl_context=client_context
        )
        async with httpx.AsyncClient(transport=transport) as client:
            for _ in range(3):
                response = await client.get(f"https://localhost:{port}/")
                assert response.status_code == 200 and response.content == b"127.0.0.1"
            assert transport.pool.statistics()["connections"] == 1  # one TLS session, reused

            unverified = PoolTransport(limits=httpx.Limits(max_connections=1))  # system CAs
            async with httpx.AsyncClient(transport=unverified) as stranger:
                with pytest.raises(httpx.ConnectError):  # the certificate is not trusted
                    await stranger.get(f"https://localhost:{port}/")
                assert unverified.pool.statistics()["connections"] == 0
        nursery.cancel_scope.cancel()


# -- a request's head and small body go out in one write ------------------------------------------
class _Recording(httpcore.AsyncNetworkStream):
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:  # noqa: ASYNC109
        return b"answer"

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:  # noqa: ASYNC109
        self.writes.append(buffer)

    async def aclose(self) -> None:
        self.closed = True


async def test_writes_are_held_until_the_answer_is_read() -> None:
    from llm_router._pool import COALESCE_BYTES, _CoalescingStream

    raw = _Recording()
    stream = _CoalescingStream(raw)
    await stream.write(b"head")
    await stream.write(b"")
    await stream.write(b"body")
    assert raw.writes == []
    assert await stream.read(100) == b"answer"
    assert raw.writes == [b"headbody"]
    big = b"x" * COALESCE_BYTES
    await stream.write(b"head")
    await stream.write(big)  # too much to hold: what was held goes first, then this at once
    assert raw.writes[1:] == [b"head", big]
    await stream.write(b"never sent")
    await stream.aclose()
    assert raw.closed and raw.writes[-1] == big


async def test_a_request_reaches_the_server_in_one_piece() -> None:
    first_reads: list[bytes] = []

    async def serve(stream: trio.SocketStream) -> None:
        async with stream:
            first_reads.append(await stream.receive_some(65536))
            rest = first_reads[0]
            while b'"x"}' not in rest:  # the body's end, should the request come in pieces
                rest += await stream.receive_some(65536)
            body = orjson.dumps({"ok": True})
            head = f"HTTP/1.1 200 OK\r\ncontent-length: {len(body)}\r\n\r\n".encode()
            await stream.send_all(head + body)

    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(partial(trio.serve_tcp, serve, 0, host="127.0.0.1"))
        port = listeners[0].socket.getsockname()[1]
        transport = PoolTransport(limits=httpx.Limits(max_connections=1))
        async with httpx.AsyncClient(transport=transport) as client:
            response = await client.post(f"http://127.0.0.1:{port}/", json={"q": "x"})
        nursery.cancel_scope.cancel()
    assert response.json() == {"ok": True}
    assert first_reads[0].startswith(b"POST / HTTP/1.1\r\n")
    assert first_reads[0].endswith(b'{"q":"x"}')  # head and body in one segment
