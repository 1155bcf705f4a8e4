"""Credentials: OAuth token providers, Azure Entra, SigV4 basics, Google service accounts."""

from __future__ import annotations

import functools
import logging
import threading
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import jwt
import orjson
import pytest
import trio

from llm_router import errors
from llm_router.auth import (
    AZURE_COGNITIVE_SERVICES_SCOPE,
    AccessToken,
    AwsSigV4,
    AzureEntra,
    GoogleServiceAccount,
    OAuth,
    Secret,
    ServiceAccount,
)

CANARY = "canary-7f3a9c1e-do-not-leak"
TOKEN_URI = "https://oauth2.test/token"


def _request() -> httpx.Request:
    return httpx.Request("POST", "https://api.test/v1/x", content=b"{}")


# -- OAuth ----------------------------------------------------------------------------------------


async def test_static_token() -> None:
    auth = OAuth(CANARY)
    request = _request()
    await auth.apply(request)
    assert request.headers["authorization"] == f"Bearer {CANARY}"
    assert CANARY not in repr(auth) and CANARY not in str(auth)


def test_exactly_one_token_source() -> None:
    with pytest.raises(errors.ConfigurationError):
        OAuth()
    with pytest.raises(errors.ConfigurationError):
        OAuth("a", token_provider=lambda: "b")
    with pytest.raises(errors.ConfigurationError, match="callable"):
        OAuth(token_provider="not callable")  # type: ignore[arg-type]


async def test_sync_provider_runs_in_a_worker_thread_every_time() -> None:
    threads: list[int] = []

    def provider() -> str:
        threads.append(threading.get_ident())
        return f"token-{len(threads)}"

    auth = OAuth(token_provider=provider)
    first, second = _request(), _request()
    await auth.apply(first)
    await auth.apply(second)
    assert first.headers["authorization"] == "Bearer token-1"
    assert second.headers["authorization"] == "Bearer token-2"  # bare strings are not cached
    assert threading.get_ident() not in threads


async def test_async_provider_with_expiry_is_cached_until_the_margin(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [1_000_000.0]
    monkeypatch.setattr(time, "time", lambda: now[0])
    calls: list[float] = []

    async def provider() -> AccessToken:
        calls.append(now[0])
        return AccessToken(f"token-{len(calls)}", expires_at=now[0] + 3600)

    auth = OAuth(token_provider=provider, refresh_margin=60)
    assert (await auth.token()).reveal() == "token-1"
    now[0] += 3500
    assert (await auth.token()).reveal() == "token-1"
    now[0] += 50  # within 60 s of expiry
    assert (await auth.token()).reveal() == "token-2"
    assert len(calls) == 2


async def test_concurrent_requests_share_one_provider_call(
    autojump_clock: trio.testing.MockClock,
) -> None:
    calls = 0

    async def provider() -> AccessToken:
        nonlocal calls
        calls += 1
        await trio.sleep(1)
        return AccessToken("shared", expires_at=time.time() + 3600)

    auth = OAuth(token_provider=provider)
    requests = [_request() for _ in range(5)]
    async with trio.open_nursery() as nursery:
        for request in requests:
            nursery.start_soon(auth.apply, request)
    assert calls == 1
    assert {r.headers["authorization"] for r in requests} == {"Bearer shared"}


async def test_provider_failure_names_the_type_only() -> None:
    def provider() -> str:
        raise RuntimeError(f"refresh failed for token {CANARY}")

    with pytest.raises(errors.AuthenticationError) as caught:
        await OAuth(token_provider=provider).apply(_request())
    assert "RuntimeError" in str(caught.value)
    _assert_no_canary(caught.value)


@pytest.mark.parametrize("result", [42, "", None])
async def test_provider_returning_no_token(result: object) -> None:
    with pytest.raises(errors.AuthenticationError, match="token provider returned"):
        await OAuth(token_provider=lambda: result).apply(_request())


async def test_credential_library_tokens_are_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    class LibraryToken:  # the shape azure-identity's AccessToken has
        def __init__(self, token: str, expires_on: int) -> None:
            self.token, self.expires_on = token, expires_on

    calls = 0

    def provider() -> LibraryToken:
        nonlocal calls
        calls += 1
        return LibraryToken("lib-token", int(time.time()) + 3600)

    auth = OAuth(token_provider=provider)
    for _ in range(3):
        assert (await auth.token()).reveal() == "lib-token"
    assert calls == 1


# -- Azure Entra ------------------------------------------------------------------------------------


class _Credential:
    def __init__(self) -> None:
        self.scopes: list[str] = []

    def get_token(self, *scopes: str) -> AccessToken:
        self.scopes.extend(scopes)
        return AccessToken("entra-sync", expires_at=time.time() + 3600)


class _AsyncCredential:
    async def get_token(self, *scopes: str) -> AccessToken:
        return AccessToken(f"entra-async:{scopes[0]}", expires_at=time.time() + 3600)


async def test_azure_credential_gets_the_cognitive_services_scope() -> None:
    credential = _Credential()
    auth = AzureEntra(credential=credential)
    request = _request()
    await auth.apply(request)
    await auth.apply(_request())
    assert request.headers["authorization"] == "Bearer entra-sync"
    assert credential.scopes == [AZURE_COGNITIVE_SERVICES_SCOPE]  # cached after the first call


async def test_azure_async_credential_and_custom_scope() -> None:
    auth = AzureEntra(credential=_AsyncCredential(), scope="api://custom/.default")
    assert (await auth.token()).reveal() == "entra-async:api://custom/.default"


def test_azure_entra_sources_are_exclusive() -> None:
    with pytest.raises(errors.ConfigurationError):
        AzureEntra("token", credential=_Credential())
    with pytest.raises(errors.ConfigurationError, match="get_token"):
        AzureEntra(credential=object())


# -- SigV4 (signature checks live in tests/providers/test_bedrock.py) ------------------------------


async def test_sigv4_headers_and_repr() -> None:
    auth = AwsSigV4("AKID", CANARY, region="us-west-2")
    request = _request()
    await auth.apply(request)
    assert request.headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKID/")
    assert "/us-west-2/bedrock/aws4_request" in request.headers["authorization"]
    assert CANARY not in request.headers["authorization"]
    assert "x-amz-date" in request.headers and "x-amz-security-token" not in request.headers
    assert CANARY not in repr(auth)
    with pytest.raises(errors.ConfigurationError):
        AwsSigV4("a", "b", region="")


# -- Google service accounts -------------------------------------------------------------------------


@functools.cache
def _key_pair() -> tuple[str, Any]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return pem, key.public_key()


def _info(**overrides: str) -> dict[str, str]:
    info = {
        "type": "service_account",
        "project_id": "proj",
        "private_key_id": "kid-1",
        "private_key": _key_pair()[0],
        "client_email": "router@proj.iam.gserviceaccount.com",
        "token_uri": TOKEN_URI,
    }
    info.update(overrides)
    return info


class TokenEndpoint:
    """A scripted OAuth token endpoint that checks each JWT assertion it receives."""

    def __init__(
        self,
        *,
        expires_in: int = 3600,
        script: list[httpx.Response] | None = None,
        delay: float = 0,
    ) -> None:
        self.expires_in = expires_in
        self.script = list(script or [])
        self.delay = delay
        self.fetch_times: list[float] = []
        self.claims: list[dict[str, Any]] = []

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.fetch_times.append(trio.current_time())
        if self.delay:
            await trio.sleep(self.delay)
        form = urllib.parse.parse_qs(request.content.decode())
        assert form["grant_type"] == ["urn:ietf:params:oauth:grant-type:jwt-bearer"]
        assertion = form["assertion"][0]
        assert jwt.get_unverified_header(assertion)["kid"] == "kid-1"
        self.claims.append(
            jwt.decode(assertion, _key_pair()[1], algorithms=["RS256"], audience=str(request.url))
        )
        if self.script:
            return self.script.pop(0)
        n = len(self.fetch_times)
        return httpx.Response(
            200,
            json={
                "access_token": f"token-{n}",
                "expires_in": self.expires_in,
                "token_type": "Bearer",
            },
        )

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)


async def _bearer(auth: GoogleServiceAccount) -> str:
    request = _request()
    await auth.apply(request)
    return request.headers["authorization"]


async def test_jwt_is_exchanged_for_an_access_token() -> None:
    endpoint = TokenEndpoint()
    auth = GoogleServiceAccount(_info(), transport=endpoint.transport())
    assert await _bearer(auth) == "Bearer token-1"
    assert await _bearer(auth) == "Bearer token-1"  # reused while valid
    (claims,) = endpoint.claims
    assert claims["iss"] == "router@proj.iam.gserviceaccount.com"
    assert claims["aud"] == TOKEN_URI
    assert claims["scope"] == "https://www.googleapis.com/auth/cloud-platform"
    assert claims["exp"] - claims["iat"] == 3600
    assert auth.needs_refresh_task and ServiceAccount is GoogleServiceAccount


async def test_refreshes_before_expiry_in_the_background(
    autojump_clock: trio.testing.MockClock,
) -> None:
    endpoint = TokenEndpoint(expires_in=3600)
    auth = GoogleServiceAccount(_info(), transport=endpoint.transport(), refresh_margin=300)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(auth.refresh_forever)
        assert await _bearer(auth) == "Bearer token-1"
        await trio.sleep(3400)
        assert len(endpoint.fetch_times) == 2
        assert endpoint.fetch_times[1] - endpoint.fetch_times[0] == pytest.approx(3300)
        assert await _bearer(auth) == "Bearer token-2"
        await trio.sleep(3300)
        assert len(endpoint.fetch_times) == 3
        nursery.cancel_scope.cancel()


async def test_short_lived_tokens_refresh_at_half_life(
    autojump_clock: trio.testing.MockClock,
) -> None:
    endpoint = TokenEndpoint(expires_in=60)
    auth = GoogleServiceAccount(_info(), transport=endpoint.transport(), refresh_margin=300)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(auth.refresh_forever)
        await trio.sleep(100)
        nursery.cancel_scope.cancel()
    assert endpoint.fetch_times == pytest.approx([0, 30, 60, 90], abs=1e-6)


async def test_apply_waits_for_the_first_token(autojump_clock: trio.testing.MockClock) -> None:
    endpoint = TokenEndpoint(delay=5)
    auth = GoogleServiceAccount(_info(), transport=endpoint.transport())
    bearers: list[str] = []

    async def call() -> None:
        bearers.append(await _bearer(auth))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(auth.refresh_forever)
        for _ in range(3):
            nursery.start_soon(call)
        await trio.sleep(10)
        nursery.cancel_scope.cancel()
    assert bearers == ["Bearer token-1"] * 3
    assert len(endpoint.fetch_times) == 1


async def test_failed_refresh_retries_with_backoff(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    unavailable = httpx.Response(503, json={"error": "temporarily_unavailable"})
    endpoint = TokenEndpoint(script=[unavailable, unavailable])
    auth = GoogleServiceAccount(_info(), transport=endpoint.transport())
    with caplog.at_level(logging.DEBUG, logger="llm_router"):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(auth.refresh_forever)
            await trio.sleep(5)
            assert await _bearer(auth) == "Bearer token-3"
            nursery.cancel_scope.cancel()
    assert endpoint.fetch_times == pytest.approx([0, 1, 3], abs=1e-6)
    assert "HTTP 503" in caplog.text and "retrying in 2s" in caplog.text
    assert _info()["private_key"] not in caplog.text


async def test_rejected_assertion_is_an_authentication_error() -> None:
    rejected = httpx.Response(
        400, json={"error": "invalid_grant", "error_description": "Invalid JWT Signature."}
    )
    endpoint = TokenEndpoint(script=[rejected])
    auth = GoogleServiceAccount(_info(), transport=endpoint.transport())
    with pytest.raises(
        errors.AuthenticationError, match="invalid_grant: Invalid JWT Signature"
    ) as caught:
        await auth.apply(_request())
    assert _info()["private_key"] not in str(caught.value)


async def test_unreachable_token_endpoint_does_not_echo_the_request() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"refused: {request.content.decode()}")

    auth = GoogleServiceAccount(_info(), transport=httpx.MockTransport(refuse))
    with pytest.raises(errors.ConnectError, match=r"oauth2\.test") as caught:
        await auth.apply(_request())
    assert "assertion" not in str(caught.value)
    assert caught.value.__context__ is None


def test_info_from_a_file_or_json_text(tmp_path: Path) -> None:
    path = tmp_path / "key.json"
    path.write_bytes(orjson.dumps(_info()))
    for source in (path, str(path), orjson.dumps(_info()).decode()):
        auth = GoogleServiceAccount(source, token_uri="http://127.0.0.1:1/token")
        assert auth.client_email == "router@proj.iam.gserviceaccount.com"
        assert auth.token_uri == "http://127.0.0.1:1/token"
        assert "PRIVATE KEY" not in repr(auth)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda tmp: _info(type="authorized_user"), "only 'service_account'"),
        (
            lambda tmp: {k: v for k, v in _info().items() if k != "client_email"},
            "lacks client_email",
        ),
        (lambda tmp: str(tmp / "missing.json"), "cannot read"),
        (lambda tmp: '{"private_key": "' + CANARY, "not valid JSON"),
        (
            lambda tmp: _info(
                private_key=f"-----BEGIN PRIVATE KEY-----\n{CANARY}\n-----END PRIVATE KEY-----\n"
            ),
            "cannot sign",
        ),
    ],
)
def test_bad_service_account_info(
    tmp_path: Path, make: Callable[[Path], Any], message: str
) -> None:
    with pytest.raises(errors.ConfigurationError, match=message) as caught:
        GoogleServiceAccount(make(tmp_path))
    _assert_no_canary(caught.value)


def test_missing_pyjwt_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "jwt", None)
    with pytest.raises(errors.ConfigurationError, match="google-auth"):
        GoogleServiceAccount(_info())


def test_secret_refuses_to_show_itself() -> None:
    secret = Secret(CANARY)
    assert CANARY not in f"{secret} {secret!r} {secret:>40}"


def _assert_no_canary(exc: BaseException) -> None:
    seen: BaseException | None = exc
    while seen is not None:
        assert CANARY not in str(seen) and CANARY not in repr(seen)
        seen = seen.__cause__ or seen.__context__
