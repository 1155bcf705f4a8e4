"""Credential checks of the fake server, done the way each provider does them.

OpenAI, Mistral and OpenAI-compatible: `Authorization: Bearer`. Azure: `api-key` or a Bearer
token. Anthropic: `x-api-key` or Bearer. Gemini API: `x-goog-api-key` or `?key=`. Vertex: a
Bearer token. Bedrock: an AWS SigV4 signature, recomputed with botocore over the request as
received, or a Bedrock API key as Bearer. Failures come back as (status, message) pairs in
the provider's own manner: Gemini answers 400 API_KEY_INVALID for a wrong key and 403 for a
missing one, AWS 403 for a bad signature, everyone else 401.
"""

from __future__ import annotations

import datetime
import hmac
from collections.abc import Mapping
from dataclasses import dataclass

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest, HTTPHeaders
from botocore.credentials import Credentials

__all__ = [
    "FAKE_AWS_CREDENTIALS",
    "FAKE_BOTOCORE_CREDENTIALS",
    "FAKE_KEYS",
    "AuthFailure",
    "FakeCredentials",
    "check",
]

FAKE_KEYS: Mapping[str, str] = {
    "openai": "sk-fake",
    "azure": "azure-fake-key",
    "anthropic": "sk-ant-fake",
    "google": "google-fake-key",
    "vertex": "vertex-fake-token",
    "mistral": "mistral-fake-key",
    "bedrock": "bedrock-fake-api-key",
}
# Named as `AwsSigV4(...)` takes them: `AwsSigV4(**FAKE_AWS_CREDENTIALS, region="us-east-1")`.
FAKE_AWS_CREDENTIALS: Mapping[str, str] = {
    "access_key": "AKIDFAKEEXAMPLE",
    "secret_key": "fake-secret-access-key",
}
# The same credentials named as botocore and boto3 clients take them.
FAKE_BOTOCORE_CREDENTIALS: Mapping[str, str] = {
    "aws_access_key_id": FAKE_AWS_CREDENTIALS["access_key"],
    "aws_secret_access_key": FAKE_AWS_CREDENTIALS["secret_key"],
}
_MAX_CLOCK_SKEW = datetime.timedelta(minutes=15)


@dataclass(frozen=True, slots=True)
class FakeCredentials:
    """The credentials the fake server accepts (defaults: `FAKE_KEYS`, `FAKE_AWS_CREDENTIALS`)."""

    openai: str = FAKE_KEYS["openai"]
    azure: str = FAKE_KEYS["azure"]
    azure_ad_token: str = "azure-fake-entra-token"
    anthropic: str = FAKE_KEYS["anthropic"]
    google: str = FAKE_KEYS["google"]
    vertex: str = FAKE_KEYS["vertex"]
    mistral: str = FAKE_KEYS["mistral"]
    bedrock_api_key: str = FAKE_KEYS["bedrock"]
    aws_access_key_id: str = FAKE_AWS_CREDENTIALS["access_key"]
    aws_secret_access_key: str = FAKE_AWS_CREDENTIALS["secret_key"]
    aws_session_token: str | None = None


@dataclass(frozen=True, slots=True)
class AuthFailure:
    status: int
    message: str
    reason: str | None = None  # machine-readable detail, e.g. Gemini's API_KEY_INVALID
    error_type: str | None = None  # e.g. AWS's InvalidSignatureException


@dataclass(frozen=True, slots=True)
class SignedRequest:
    """What SigV4 verification needs of the request exactly as it arrived."""

    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes


def _same(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


def bearer(headers: Mapping[str, str]) -> str | None:
    value = headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def check(
    provider: str,
    headers: Mapping[str, str],
    query: Mapping[str, str],
    creds: FakeCredentials,
    signed: SignedRequest | None = None,
) -> AuthFailure | None:
    """None when `provider`'s credential is present and right, else why not."""
    token = bearer(headers)
    if provider in ("openai", "mistral"):
        expected = creds.mistral if provider == "mistral" else creds.openai
        if token is None:
            return AuthFailure(401, "You didn't provide an API key. Use Authorization: Bearer.")
        return None if _same(token, expected) else AuthFailure(401, "Incorrect API key provided.")
    if provider == "azure":
        key = headers.get("api-key")
        if (
            _same(key, creds.azure)
            or _same(token, creds.azure_ad_token)
            or _same(token, creds.azure)
        ):
            return None
        return AuthFailure(
            401,
            "Access denied due to invalid subscription key or wrong API endpoint. Make sure to "
            "provide a valid key for an active subscription and use a correct regional API "
            "endpoint for your resource.",
        )
    if provider == "anthropic":
        key = headers.get("x-api-key") or token
        if key is None:
            return AuthFailure(401, "x-api-key header is required")
        return None if _same(key, creds.anthropic) else AuthFailure(401, "invalid x-api-key")
    if provider == "google":
        key = headers.get("x-goog-api-key") or query.get("key")
        if key is None:
            return AuthFailure(
                403,
                "Method doesn't allow unregistered callers (callers without established "
                "identity). Please use API Key or other form of API consumer identity to call "
                "this API.",
            )
        if _same(key, creds.google):
            return None
        return AuthFailure(
            400, "API key not valid. Please pass a valid API key.", reason="API_KEY_INVALID"
        )
    if provider in ("vertex-google", "vertex-anthropic"):
        if _same(token, creds.vertex):
            return None
        return AuthFailure(
            401,
            "Request had invalid authentication credentials. Expected OAuth 2 access token, "
            "login cookie or other valid authentication credential.",
        )
    if provider == "bedrock":
        if token is not None:
            if _same(token, creds.bedrock_api_key):
                return None
            return AuthFailure(
                403,
                "Invalid API Key format: Must start with pre-defined prefix",
                error_type="UnrecognizedClientException",
            )
        return _check_sigv4(signed, creds)
    return None


def _check_sigv4(signed: SignedRequest | None, creds: FakeCredentials) -> AuthFailure | None:
    header = signed.headers.get("authorization", "") if signed else ""
    if signed is None or not header.startswith("AWS4-HMAC-SHA256 "):
        return AuthFailure(
            403, "Missing Authentication Token", error_type="MissingAuthenticationTokenException"
        )
    fields = dict(
        part.strip().partition("=")[::2]
        for part in header.removeprefix("AWS4-HMAC-SHA256 ").split(",")
    )
    scope = fields.get("Credential", "").split("/")
    if len(scope) != 5 or not fields.get("SignedHeaders") or not fields.get("Signature"):
        return AuthFailure(
            403, "Authorization header is malformed.", error_type="IncompleteSignatureException"
        )
    access_key, date, region, service, _ = scope
    if not _same(access_key, creds.aws_access_key_id):
        return AuthFailure(
            403,
            "The security token included in the request is invalid.",
            error_type="UnrecognizedClientException",
        )
    if creds.aws_session_token is not None and not _same(
        signed.headers.get("x-amz-security-token"), creds.aws_session_token
    ):
        return AuthFailure(
            403,
            "The security token included in the request is invalid.",
            error_type="UnrecognizedClientException",
        )
    timestamp = signed.headers.get("x-amz-date", "")
    try:
        when = datetime.datetime.strptime(timestamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.UTC)
    except ValueError:
        return AuthFailure(
            403, "Missing or malformed X-Amz-Date.", error_type="IncompleteSignatureException"
        )
    if abs(datetime.datetime.now(datetime.UTC) - when) > _MAX_CLOCK_SKEW or date != timestamp[:8]:
        return AuthFailure(403, "Signature expired.", error_type="InvalidSignatureException")

    signer = _ReceivedSigV4(
        Credentials(creds.aws_access_key_id, creds.aws_secret_access_key, creds.aws_session_token),
        service,
        region,
        signed_headers=fields["SignedHeaders"].split(";"),
    )
    request = AWSRequest(
        method=signed.method, url=signed.url, headers=dict(signed.headers), data=signed.body
    )
    request.context["timestamp"] = timestamp
    canonical = signer.canonical_request(request)
    expected = signer.signature(signer.string_to_sign(request, canonical), request)
    if _same(fields["Signature"], expected):
        return None
    return AuthFailure(
        403,
        "The request signature we calculated does not match the signature you provided. "
        "Check your AWS Secret Access Key and signing method.",
        error_type="InvalidSignatureException",
    )


class _ReceivedSigV4(SigV4Auth):  # type: ignore[misc]
    """SigV4 over exactly the headers the client says it signed, not the ones botocore would."""

    def __init__(
        self, credentials: Credentials, service: str, region: str, *, signed_headers: list[str]
    ) -> None:
        super().__init__(credentials, service, region)
        self._signed_headers = signed_headers

    def headers_to_sign(self, request: AWSRequest) -> HTTPHeaders:
        chosen = HTTPHeaders()
        for name in self._signed_headers:
            value = request.headers.get(name)
            if value is not None:
                chosen[name] = value
        return chosen
