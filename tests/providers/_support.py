"""Shared helpers for provider tests: requests to build, a one-call sender, corpus access."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import httpx
import orjson

from llm_router.auth import AuthConfig
from llm_router.providers.base import Provider, UpstreamRequest
from llm_router.types import ProviderFormat

CORPUS = Path(__file__).resolve().parents[1] / "corpus" / "captured"


def corpus(case: str, fmt: str, name: str = "request.json") -> Any:
    """A captured payload (from the lingua project's corpus, MIT OR Apache-2.0)."""
    return orjson.loads((CORPUS / case / fmt / name).read_bytes())


def upstream(
    model: str,
    fmt: ProviderFormat,
    body: Mapping[str, Any] | bytes,
    *,
    stream: bool = False,
    headers: Mapping[str, str] | None = None,
) -> UpstreamRequest:
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    return UpstreamRequest(model, fmt, raw, stream, dict(headers or {}))


def json_body(request: httpx.Request) -> Any:
    return orjson.loads(request.content)


async def send(
    provider: Provider,
    auth: AuthConfig | None,
    request: UpstreamRequest,
    handler: Callable[[httpx.Request], httpx.Response],
    alias: str = "test",
) -> tuple[httpx.Request, httpx.Response]:
    """Build, authenticate and send one request as the router does; map error statuses."""
    seen: list[httpx.Request] = []

    def record(req: httpx.Request) -> httpx.Response:
        seen.append(req)
        return handler(req)

    built = provider.build_request(request)
    if auth is not None:
        await auth.apply(built)
    async with httpx.AsyncClient(transport=httpx.MockTransport(record)) as client:
        response = await client.send(built)
    if response.status_code >= 400:
        raise provider.map_error(response.status_code, response.headers, response.content, alias)
    return seen[0], response


@functools.cache
def rsa_private_key_pem() -> str:
    """A throwaway RSA key (generated once per test run) for service-account tests."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def service_account_info(token_uri: str = "https://oauth2.example.test/token") -> dict[str, str]:
    return {
        "type": "service_account",
        "project_id": "test-project",
        "private_key_id": "key-1",
        "private_key": rsa_private_key_pem(),
        "client_email": "router@test-project.iam.gserviceaccount.com",
        "token_uri": token_uri,
    }
