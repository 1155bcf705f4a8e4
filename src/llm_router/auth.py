"""Credentials and how they are applied to an outgoing request.

`Secret` wraps every credential so that repr/str/format never show it. `AuthConfig` variants
decide which header carries it; signing variants (SigV4) need the final URL and body, so
`apply` runs after the provider has built the request.
"""

from __future__ import annotations

import abc
import datetime
import inspect
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, cast

import httpx
import trio

from llm_router import errors
from llm_router._lazy import lazy_exports

__all__ = [
    "AZURE_COGNITIVE_SERVICES_SCOPE",
    "GOOGLE_CLOUD_PLATFORM_SCOPE",
    "GOOGLE_TOKEN_URI",
    "AccessToken",
    "ApiKey",
    "AuthConfig",
    "AwsSigV4",
    "AzureEntra",
    "Custom",
    "GoogleServiceAccount",
    "OAuth",
    "Secret",
    "ServiceAccount",
    "TokenProvider",
]


class Secret:
    """A credential string that never shows itself in repr, str, logs or tracebacks."""

    __slots__ = ("_value",)

    def __init__(self, value: str | Secret) -> None:
        raw = value.reveal() if isinstance(value, Secret) else value
        if not isinstance(raw, str) or not raw:
            raise ValueError("a secret must be a non-empty string")
        self._value = raw

    def reveal(self) -> str:
        """The secret itself: call only where it is written onto the wire."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self) -> str | tuple[object, ...]:
        raise TypeError("secrets cannot be pickled")


class AuthConfig(abc.ABC):
    """How a provider's requests are authenticated."""

    @abc.abstractmethod
    async def apply(self, request: httpx.Request) -> None:
        """Add credentials to `request` in place (headers, or a signature over it)."""

    async def refresh_forever(self) -> None:
        """Background refresh loop run in the router's nursery; most auth needs none."""
        return None

    @property
    def needs_refresh_task(self) -> bool:
        return False


@dataclass(frozen=True, repr=False)
class ApiKey(AuthConfig):
    """A static key sent in one header, e.g. `Authorization: Bearer <key>` or `x-api-key: <key>`."""

    key: Secret
    header: str = "authorization"
    prefix: str = "Bearer "

    def __init__(
        self, key: str | Secret, header: str = "authorization", prefix: str = "Bearer "
    ) -> None:
        object.__setattr__(self, "key", Secret(key))
        object.__setattr__(self, "header", header.lower())
        object.__setattr__(self, "prefix", prefix)

    async def apply(self, request: httpx.Request) -> None:
        request.headers[self.header] = self.prefix + self.key.reveal()

    def __repr__(self) -> str:
        return f"ApiKey(header={self.header!r}, key={self.key!r})"


@dataclass(frozen=True, repr=False)
class Custom(AuthConfig):
    """Fixed headers (values held as secrets), for gateways with their own scheme."""

    headers: Mapping[str, Secret] = field(default_factory=dict)

    def __init__(self, headers: Mapping[str, str | Secret]) -> None:
        object.__setattr__(self, "headers", {k.lower(): Secret(v) for k, v in headers.items()})

    async def apply(self, request: httpx.Request) -> None:
        for name, value in self.headers.items():
            request.headers[name] = value.reveal()

    def __repr__(self) -> str:
        return f"Custom(headers={sorted(self.headers)!r})"


# -- OAuth bearer tokens --------------------------------------------------------------------------


@dataclass(frozen=True, repr=False)
class AccessToken:
    """A bearer token and, when known, when it stops working (UNIX time in seconds)."""

    token: Secret
    expires_at: float | None = None

    def __init__(self, token: str | Secret, expires_at: float | None = None) -> None:
        object.__setattr__(self, "token", Secret(token))
        object.__setattr__(self, "expires_at", expires_at)

    def __repr__(self) -> str:
        return f"AccessToken(token={self.token!r}, expires_at={self.expires_at!r})"


#: Returns a token: a string, a `Secret`, an `AccessToken`, or any object with `.token` and
#: `.expires_on` (what azure-identity and similar credential libraries hand back).
TokenProvider = Callable[[], object]


class OAuth(AuthConfig):
    """`Authorization: Bearer <token>` from a static token or a token provider.

    A token provider is a callable, sync or async, returning the current token. Sync callables
    run in a worker thread, since credential libraries refresh with blocking I/O. A token that
    comes with an expiry is reused until `refresh_margin` seconds before it; a bare string is
    asked for again on every request (the provider is expected to cache).
    """

    def __init__(
        self,
        token: str | Secret | None = None,
        *,
        token_provider: TokenProvider | None = None,
        header: str = "authorization",
        prefix: str = "Bearer ",
        refresh_margin: float = 60.0,
    ) -> None:
        if (token is None) == (token_provider is None):
            raise errors.ConfigurationError(
                f"{type(self).__name__} takes exactly one of token=... or token_provider=..."
            )
        if token_provider is not None and not callable(token_provider):
            raise errors.ConfigurationError(
                f"{type(self).__name__}: token_provider must be callable, got {type(token_provider).__name__}"
            )
        self._static = None if token is None else Secret(token)
        self._provider = token_provider
        self._cached: AccessToken | None = None
        self._lock = trio.Lock()
        self.header = header.lower()
        self.prefix = prefix
        self.refresh_margin = refresh_margin

    def __repr__(self) -> str:
        # Never the provider's repr: a functools.partial shows its arguments, tokens included.
        source = "token=Secret('**********')" if self._static is not None else "token_provider=..."
        return f"{type(self).__name__}({source})"

    async def apply(self, request: httpx.Request) -> None:
        token = await self.token()
        request.headers[self.header] = self.prefix + token.reveal()

    async def token(self) -> Secret:
        """The token to send now, from the provider when the cached one is missing or stale."""
        if self._static is not None:
            return self._static
        if self._fresh(self._cached):
            assert self._cached is not None
            return self._cached.token
        async with self._lock:  # one provider call at a time, however many requests wait
            if self._fresh(self._cached):
                assert self._cached is not None
                return self._cached.token
            result = await self._ask_provider()
            self._cached = result if result.expires_at is not None else None
            return result.token

    def _fresh(self, cached: AccessToken | None) -> bool:
        return (
            cached is not None
            and cached.expires_at is not None
            and time.time() < cached.expires_at - self.refresh_margin
        )

    async def _ask_provider(self) -> AccessToken:
        provider = self._provider
        assert provider is not None
        name = type(self).__name__
        # Failures are reported by type name only, and raised outside the `except` so that
        # no exception chain holds the original: its text may quote a token or key file.
        failure: str | None = None
        try:
            if _is_async_callable(provider):
                result = await cast(Awaitable[object], provider())
            else:
                result = await trio.to_thread.run_sync(provider)
                if inspect.isawaitable(result):
                    result = await result
        except errors.LLMRouterError:
            raise
        except Exception as exc:
            failure = type(exc).__name__
        if failure is not None:
            raise errors.AuthenticationError(
                f"{name}: the token provider raised {failure}; no request was sent"
            )
        try:
            return _as_access_token(result)
        except (TypeError, ValueError):
            pass
        raise errors.AuthenticationError(
            f"{name}: the token provider returned {type(result).__name__}; expected a non-empty "
            "str, a Secret or an AccessToken"
        )


def _is_async_callable(func: object) -> bool:
    call = getattr(func, "__call__", None)  # noqa: B004 - an object whose __call__ is async
    return inspect.iscoroutinefunction(func) or inspect.iscoroutinefunction(call)


def _as_access_token(result: object) -> AccessToken:
    if isinstance(result, AccessToken):
        return result
    if isinstance(result, str | Secret):
        return AccessToken(result)
    token, expires_on = getattr(result, "token", None), getattr(result, "expires_on", None)
    if isinstance(token, str) and (expires_on is None or isinstance(expires_on, int | float)):
        return AccessToken(token, None if expires_on is None else float(expires_on))
    raise TypeError(type(result).__name__)


#: The Entra ID scope of Azure OpenAI / Azure AI services.
AZURE_COGNITIVE_SERVICES_SCOPE = "https://cognitiveservices.azure.com/.default"


class AzureEntra(OAuth):
    """Microsoft Entra ID bearer tokens for Azure OpenAI.

    Pass a static `token`, a `token_provider` (e.g. azure-identity's
    `get_bearer_token_provider(credential, scope)`), or a `credential` with `get_token(scope)`
    (e.g. `DefaultAzureCredential()`); its tokens are reused until shortly before they expire.
    """

    def __init__(
        self,
        token: str | Secret | None = None,
        *,
        token_provider: TokenProvider | None = None,
        credential: object | None = None,
        scope: str = AZURE_COGNITIVE_SERVICES_SCOPE,
        refresh_margin: float = 300.0,
    ) -> None:
        if credential is not None:
            if token is not None or token_provider is not None:
                raise errors.ConfigurationError(
                    "AzureEntra takes exactly one of token=, token_provider= or credential="
                )
            token_provider = _credential_token_provider(credential, scope)
        super().__init__(token, token_provider=token_provider, refresh_margin=refresh_margin)
        self.scope = scope


def _credential_token_provider(credential: object, scope: str) -> TokenProvider:
    get_token = getattr(credential, "get_token", None)
    if not callable(get_token):
        raise errors.ConfigurationError(
            f"AzureEntra: credential must have a get_token(scope) method, got {type(credential).__name__}"
        )
    if inspect.iscoroutinefunction(get_token):

        async def ask_async() -> object:
            return await get_token(scope)

        return ask_async

    def ask() -> object:
        return get_token(scope)

    return ask


# -- AWS Signature Version 4 ----------------------------------------------------------------------

# Signed besides x-amz-*: enough to bind the signature to the target and body, while headers
# that proxies or tracing may rewrite (traceparent, user-agent, ...) stay unsigned.
_SIGV4_SIGNED_HEADERS = frozenset({"host", "content-type"})


@dataclass(frozen=True, repr=False)
class AwsSigV4(AuthConfig):
    """AWS Signature Version 4 over the exact request sent (signing name `bedrock` by default)."""

    access_key: Secret
    secret_key: Secret
    session_token: Secret | None
    region: str
    service: str

    def __init__(
        self,
        access_key: str | Secret,
        secret_key: str | Secret,
        session_token: str | Secret | None = None,
        *,
        region: str,
        service: str = "bedrock",
    ) -> None:
        if not region or not service:
            raise errors.ConfigurationError("AwsSigV4 needs a region and a service name")
        object.__setattr__(self, "access_key", Secret(access_key))
        object.__setattr__(self, "secret_key", Secret(secret_key))
        object.__setattr__(
            self, "session_token", None if session_token is None else Secret(session_token)
        )
        object.__setattr__(self, "region", region)
        object.__setattr__(self, "service", service)

    def __repr__(self) -> str:
        token = ", session_token=Secret('**********')" if self.session_token is not None else ""
        return f"AwsSigV4(region={self.region!r}, service={self.service!r}{token})"

    async def apply(self, request: httpx.Request) -> None:
        for name, value in self.signature_headers(request).items():
            request.headers[name] = value

    def signature_headers(self, request: httpx.Request) -> dict[str, str]:
        """The headers (authorization, x-amz-date, x-amz-security-token) signing `request`.

        The canonical URI is derived from the URL exactly as httpx will send it (percent
        escapes such as `%3A` included), so the signature covers the bytes on the wire.
        """
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials

        timestamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
        headers = {
            k: v
            for k, v in request.headers.items()
            if k in _SIGV4_SIGNED_HEADERS or k.startswith("x-amz")
        }
        headers.pop("authorization", None)
        headers["x-amz-date"] = timestamp
        token = None if self.session_token is None else self.session_token.reveal()
        if token is not None:
            headers["x-amz-security-token"] = token
        else:
            headers.pop("x-amz-security-token", None)
        aws_request = AWSRequest(
            method=request.method, url=str(request.url), data=request.content, headers=headers
        )
        aws_request.context["timestamp"] = timestamp
        signer = SigV4Auth(
            Credentials(self.access_key.reveal(), self.secret_key.reveal(), token),
            self.service,
            self.region,
        )
        # The steps of `SigV4Auth.add_auth`, which also logs the canonical request at DEBUG
        # level: with a session token, that line would carry a credential into the logs.
        canonical = signer.canonical_request(aws_request)
        signature = signer.signature(signer.string_to_sign(aws_request, canonical), aws_request)
        signed_names = signer.signed_headers(signer.headers_to_sign(aws_request))
        out = {
            "authorization": (
                f"AWS4-HMAC-SHA256 Credential={signer.scope(aws_request)}, "
                f"SignedHeaders={signed_names}, Signature={signature}"
            ),
            "x-amz-date": timestamp,
        }
        if token is not None:
            out["x-amz-security-token"] = token
        return out


# The service-account module builds on the classes above; it loads on first use, so a program
# that authenticates with API keys never imports it.
if TYPE_CHECKING:
    from llm_router._google_auth import (
        GOOGLE_CLOUD_PLATFORM_SCOPE,
        GOOGLE_TOKEN_URI,
        GoogleServiceAccount,
        ServiceAccount,
    )

__getattr__, __dir__ = lazy_exports(
    __name__,
    dict.fromkeys(
        (
            "GOOGLE_CLOUD_PLATFORM_SCOPE",
            "GOOGLE_TOKEN_URI",
            "GoogleServiceAccount",
            "ServiceAccount",
        ),
        "llm_router._google_auth",
    ),
)
