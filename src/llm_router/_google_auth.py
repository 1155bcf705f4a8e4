"""Google service-account credentials: RS256-signed JWTs exchanged for OAuth access tokens.

Import from `llm_router.auth`, which re-exports these names. PyJWT with cryptography (the
`google-auth` extra) is imported only when a service account is created.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx
import orjson
import trio

from llm_router import errors
from llm_router.auth import AuthConfig, Secret

__all__ = [
    "GOOGLE_CLOUD_PLATFORM_SCOPE",
    "GOOGLE_TOKEN_URI",
    "GoogleServiceAccount",
    "ServiceAccount",
]

_log = logging.getLogger("llm_router.auth")


GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"
GOOGLE_CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
_JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
_ASSERTION_LIFETIME = 3600  # seconds; the longest Google accepts
_EXPIRY_SKEW = 10.0  # never send a token this close to its expiry
_MAX_RETRY_DELAY = 60.0


class GoogleServiceAccount(AuthConfig):
    """A Google service account: an RS256-signed JWT exchanged for OAuth access tokens.

    The router runs `refresh_forever()` in its nursery, which fetches a token at once and a
    new one `refresh_margin` seconds before each expires (retrying with backoff on failure);
    `apply()` waits for a token when none is valid. `info` is the key file's content (a
    mapping or JSON text) or its path. Needs PyJWT with cryptography (the `google-auth` extra).
    """

    def __init__(
        self,
        info: Mapping[str, Any] | str | os.PathLike[str],
        *,
        scopes: Sequence[str] = (GOOGLE_CLOUD_PLATFORM_SCOPE,),
        token_uri: str | None = None,
        subject: str | None = None,
        refresh_margin: float = 300.0,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._jwt = _require_jwt()
        data = _load_service_account(info)
        self.client_email: str = data["client_email"]
        self.token_uri: str = token_uri or data.get("token_uri") or GOOGLE_TOKEN_URI
        self.scopes = tuple(scopes)
        self.subject = subject
        self.refresh_margin = refresh_margin
        self._key = Secret(data["private_key"])
        self._key_id = data.get("private_key_id")
        self._timeout = timeout
        self._transport = transport
        self._token: Secret | None = None
        self._expires_at = -math.inf  # trio clock
        self._refresh_at = -math.inf  # trio clock
        self._lock = trio.Lock()
        self._assertion()  # fail now, not on the first request, if the key cannot sign

    def __repr__(self) -> str:
        return f"GoogleServiceAccount(client_email={self.client_email!r}, token_uri={self.token_uri!r})"

    @property
    def needs_refresh_task(self) -> bool:
        return True

    async def apply(self, request: httpx.Request) -> None:
        token = await self.access_token()
        request.headers["authorization"] = "Bearer " + token.reveal()

    async def access_token(self) -> Secret:
        """A valid access token, fetched now if there is none (one fetch however many wait)."""
        if self._token is not None and self._valid():
            return self._token
        async with self._lock:
            if self._token is None or not self._valid():
                await self._fetch()
            assert self._token is not None
            return self._token

    async def refresh_forever(self) -> None:
        failures = 0
        while True:
            if trio.current_time() >= self._refresh_at:
                try:
                    async with self._lock:
                        if trio.current_time() >= self._refresh_at:
                            await self._fetch()
                except errors.LLMRouterError as exc:
                    failures += 1
                    delay = min(2.0 ** (failures - 1), _MAX_RETRY_DELAY)
                    _log.warning("%s; retrying in %gs", exc, delay)
                    await trio.sleep(delay)
                    continue
                failures = 0
            await trio.sleep_until(self._refresh_at)

    def _valid(self) -> bool:
        return trio.current_time() < self._expires_at - _EXPIRY_SKEW

    def _assertion(self) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.client_email,
            "scope": " ".join(self.scopes),
            "aud": self.token_uri,
            "iat": now,
            "exp": now + _ASSERTION_LIFETIME,
        }
        if self.subject:
            claims["sub"] = self.subject
        headers = {"kid": self._key_id} if self._key_id else None
        # Key parsing errors may quote key material: report the type only, raised outside
        # the `except` so that no exception chain keeps the original.
        failure = ""
        try:
            return str(
                self._jwt.encode(claims, self._key.reveal(), algorithm="RS256", headers=headers)
            )
        except Exception as exc:
            failure = type(exc).__name__
        raise errors.ConfigurationError(
            f"service account {self.client_email}: cannot sign with private_key ({failure}); "
            "is it the PEM key from the JSON key file?"
        )

    async def _fetch(self) -> None:
        who = f"service account {self.client_email}"
        form = {"grant_type": _JWT_BEARER_GRANT, "assertion": self._assertion()}
        started = trio.current_time()
        failure: str | None = None
        try:
            async with httpx.AsyncClient(
                transport=self._transport, timeout=self._timeout
            ) as client:
                response = await client.post(
                    self.token_uri, data=form, headers={"accept": "application/json"}
                )
        except httpx.HTTPError as exc:  # its text may quote the request, assertion included
            failure = type(exc).__name__
        if failure is not None:
            host = httpx.URL(self.token_uri).host
            raise errors.ConnectError(f"{who}: token request to {host} failed ({failure})")
        try:
            payload = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            payload = None
        if response.status_code != 200:
            raise errors.AuthenticationError(
                f"{who}: token endpoint answered HTTP {response.status_code}{_oauth_error_detail(payload)}",
                status=response.status_code,
            )
        token = payload.get("access_token") if isinstance(payload, dict) else None
        if not isinstance(token, str) or not token:
            raise errors.AuthenticationError(
                f"{who}: token endpoint answered without an access_token"
            )
        lifetime = payload.get("expires_in", _ASSERTION_LIFETIME)
        lifetime = (
            float(lifetime)
            if isinstance(lifetime, int | float) and lifetime > 0
            else float(_ASSERTION_LIFETIME)
        )
        self._token = Secret(token)
        self._expires_at = started + lifetime
        self._refresh_at = started + lifetime - min(self.refresh_margin, lifetime / 2)
        _log.debug("%s: new access token, valid for %gs", who, lifetime)


def _oauth_error_detail(payload: object) -> str:
    if not isinstance(payload, dict):
        return ""
    error, description = payload.get("error"), payload.get("error_description")
    detail = ": ".join(str(part) for part in (error, description) if isinstance(part, str) and part)
    return f" ({detail[:300]})" if detail else ""


def _require_jwt() -> Any:
    try:
        import jwt
    except ImportError:
        raise errors.ConfigurationError(
            "GoogleServiceAccount needs PyJWT with cryptography: pip install 'llm-router[google-auth]'"
        ) from None
    if not jwt.algorithms.has_crypto:
        raise errors.ConfigurationError(
            "GoogleServiceAccount needs the cryptography package for RS256: pip install 'llm-router[google-auth]'"
        )
    return jwt


def _load_service_account(info: Mapping[str, Any] | str | os.PathLike[str]) -> dict[str, Any]:
    if isinstance(info, Mapping):
        data: object = dict(info)
        where = "service account info"
    elif isinstance(info, str) and info.lstrip().startswith("{"):
        where = "service account JSON"
        data = _parse_json(info.encode(), where)
    else:
        where = f"service account file {os.fspath(info)!r}"
        try:
            raw = Path(info).read_bytes()
        except OSError as exc:
            raise errors.ConfigurationError(f"cannot read {where}: {exc.strerror}") from None
        data = _parse_json(raw, where)
    if not isinstance(data, dict):
        raise errors.ConfigurationError(f"{where} must be a JSON object")
    kind = data.get("type", "service_account")
    if kind != "service_account":
        raise errors.ConfigurationError(
            f"{where} has type {kind!r}; only 'service_account' keys are supported"
        )
    missing = [
        k
        for k in ("client_email", "private_key")
        if not isinstance(data.get(k), str) or not data[k]
    ]
    if missing:
        raise errors.ConfigurationError(f"{where} lacks {', '.join(missing)}")
    return data


def _parse_json(raw: bytes, where: str) -> object:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        pass
    # Raised outside the `except`: the decoder's message quotes the text around the error,
    # possibly key material.
    raise errors.ConfigurationError(f"{where} is not valid JSON")


#: Short alias.
ServiceAccount = GoogleServiceAccount
