"""Credential checks per provider, answered in each provider's own manner."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx
import orjson
import pytest
from _fake_http import CHAT
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from llm_router_testing.fake import (
    FAKE_AWS_CREDENTIALS,
    FAKE_KEYS,
    FakeProvider,
    open_fake_provider,
)

CLAUDE = {"model": "c", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}
GEMINI = {"contents": [{"parts": [{"text": "hi"}]}]}
VERTEX_PATH = "/v1/projects/p/locations/l/publishers/google/models/g:generateContent"
AZURE_PATH = "/openai/deployments/d/chat/completions?api-version=2024-10-21"
CASES: list[tuple[str, str, dict[str, Any], dict[str, str], dict[str, str], int]] = [
    # name, path, body, good headers, missing-key headers, status for missing key
    ("openai", "/v1/chat/completions", CHAT, {"authorization": "Bearer sk-fake"}, {}, 401),
    ("azure", AZURE_PATH, CHAT, {"api-key": FAKE_KEYS["azure"]}, {}, 401),
    ("azure-entra", AZURE_PATH, CHAT, {"authorization": "Bearer azure-fake-entra-token"}, {}, 401),
    (
        "anthropic",
        "/v1/messages",
        CLAUDE,
        {"x-api-key": FAKE_KEYS["anthropic"], "anthropic-version": "2023-06-01"},
        {"anthropic-version": "2023-06-01"},
        401,
    ),
    (
        "anthropic-bearer",
        "/v1/messages",
        CLAUDE,
        {"authorization": f"Bearer {FAKE_KEYS['anthropic']}", "anthropic-version": "2023-06-01"},
        {"anthropic-version": "2023-06-01"},
        401,
    ),
    (
        "google",
        "/v1beta/models/g:generateContent",
        GEMINI,
        {"x-goog-api-key": FAKE_KEYS["google"]},
        {},
        403,
    ),
    ("vertex", VERTEX_PATH, GEMINI, {"authorization": f"Bearer {FAKE_KEYS['vertex']}"}, {}, 401),
    (
        "mistral",
        "/mistral/v1/chat/completions",
        CHAT,
        {"authorization": f"Bearer {FAKE_KEYS['mistral']}"},
        {},
        401,
    ),
    (
        "bedrock-api-key",
        "/model/m/converse",
        {"messages": [{"role": "user", "content": [{"text": "hi"}]}]},
        {"authorization": f"Bearer {FAKE_KEYS['bedrock']}"},
        {},
        403,
    ),
]


@pytest.mark.parametrize(
    ("name", "path", "body", "good", "missing", "status"), CASES, ids=[c[0] for c in CASES]
)
async def test_missing_wrong_and_right_credentials(
    client: httpx.AsyncClient,
    fake: FakeProvider,
    name: str,
    path: str,
    body: dict[str, Any],
    good: dict[str, str],
    missing: dict[str, str],
    status: int,
) -> None:
    assert (await client.post(path, json=body, headers=good)).status_code == 200
    refused = await client.post(path, json=body, headers=missing)
    assert refused.status_code == status
    assert fake.journal[-1].error is not None
    wrong = {
        key: ("Bearer bogus-xyz" if value.startswith("Bearer") else "bogus-xyz")
        for key, value in good.items()
        if key != "anthropic-version"
    }
    rejected = await client.post(path, json=body, headers={**missing, **wrong})
    assert rejected.status_code in (400, 401, 403)
    assert "bogus-xyz" not in rejected.text  # a credential never echoes back


async def test_error_bodies_follow_the_provider(client: httpx.AsyncClient) -> None:
    anthropic = await client.post(
        "/v1/messages", json=CLAUDE, headers={"anthropic-version": "2023-06-01"}
    )
    assert anthropic.json()["error"]["type"] == "authentication_error"
    google_wrong = await client.post(
        "/v1beta/models/g:generateContent", json=GEMINI, headers={"x-goog-api-key": "x"}
    )
    assert google_wrong.status_code == 400
    assert google_wrong.json()["error"]["details"][0]["reason"] == "API_KEY_INVALID"
    google_query = await client.post(
        f"/v1beta/models/g:generateContent?key={FAKE_KEYS['google']}", json=GEMINI
    )
    assert google_query.status_code == 200
    vertex = await client.post(VERTEX_PATH, json=GEMINI)
    assert vertex.json()["error"]["status"] == "UNAUTHENTICATED"
    azure = await client.post(AZURE_PATH, json=CHAT)
    assert azure.json()["error"]["code"] == "401"
    openai = await client.post("/v1/chat/completions", json=CHAT)
    assert openai.json()["error"]["type"] == "invalid_request_error"


def _signed(
    url: str, body: bytes, *, secret: str = FAKE_AWS_CREDENTIALS["secret_key"]
) -> AWSRequest:
    request = AWSRequest(
        method="POST", url=url, data=body, headers={"content-type": "application/json"}
    )
    credentials = Credentials(FAKE_AWS_CREDENTIALS["access_key"], secret)
    SigV4Auth(credentials, "bedrock", "eu-west-3").add_auth(request)
    return request


async def test_sigv4_is_verified_over_the_received_request(
    client: httpx.AsyncClient, fake: FakeProvider
) -> None:
    url = f"{fake.url}/model/{quote('us.anthropic.claude-haiku-4-5-v1:0', safe='')}/converse"
    body = orjson.dumps({"messages": [{"role": "user", "content": [{"text": "signed"}]}]})
    request = _signed(url, body)
    good = await client.post(url, content=body, headers=dict(request.headers))
    assert good.status_code == 200, good.text
    assert fake.journal[-1].model == "us.anthropic.claude-haiku-4-5-v1:0"
    assert fake.journal[-1].headers["authorization"].endswith("Signature=[redacted]")

    tampered = await client.post(
        url, content=body.replace(b"signed", b"forged"), headers=dict(request.headers)
    )
    assert tampered.status_code == 403
    assert tampered.headers["x-amzn-errortype"].startswith("InvalidSignatureException")

    wrong_secret = _signed(url, body, secret="not-the-secret")
    refused = await client.post(url, content=body, headers=dict(wrong_secret.headers))
    assert refused.status_code == 403

    unsigned = await client.post(url, content=body)
    assert unsigned.headers["x-amzn-errortype"].startswith("MissingAuthenticationTokenException")


async def test_auth_can_be_disabled() -> None:
    async with (
        open_fake_provider(require_auth=False) as fake,
        httpx.AsyncClient(base_url=fake.url) as http,
    ):
        for path, body in [
            ("/v1/chat/completions", CHAT),
            ("/model/m/converse", {"messages": [{"role": "user", "content": []}]}),
        ]:
            assert (await http.post(path, json=body)).status_code == 200
