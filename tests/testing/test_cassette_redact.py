"""Secret redaction: a canary credential sent every way a provider takes one never reaches the file."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from llm_router_testing.cassette import REDACTED, Cassette, Redaction
from llm_router_testing.cassette_format import Interaction, dump_cassette

CANARY = "sk-canary-7f3a9c1e5b2d4a6f8e0c"
AWS_KEY_ID = "AKIACANARY0123456789"
AWS_SIGNATURE = "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
SESSION_TOKEN = "FwoGZXIvYXdzEcanarysessiontoken0123456789"
JWT_ASSERTION = "eyJhbGciOiJSUzI1NiJ9.canary-assertion.c2lnbmF0dXJl"
ACCESS_TOKEN = "ya29.canary-access-token-0123456789"
USER_SECRET = "tenant-secret-0123456789abcdef"

SECRETS = (
    CANARY,
    AWS_KEY_ID,
    AWS_SIGNATURE,
    SESSION_TOKEN,
    JWT_ASSERTION,
    ACCESS_TOKEN,
    USER_SECRET,
)


async def leaky_upstream(request: httpx.Request) -> httpx.Response:
    """Echoes credentials back in every place a careless provider might."""
    if request.url.path == "/token":
        return httpx.Response(200, json={"access_token": ACCESS_TOKEN, "expires_in": 3599})
    if request.url.path.endswith(":streamGenerateContent"):

        async def events() -> AsyncIterator[bytes]:
            yield f'data: {{"echo": "{CANARY}"}}\n\n'.encode()

        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=events())
    if request.url.path.endswith("/invoke"):

        async def frames() -> AsyncIterator[bytes]:
            yield b"\x00\x01" + CANARY.encode() + b"\xff"

        return httpx.Response(
            200, headers={"content-type": "application/vnd.amazon.eventstream"}, content=frames()
        )
    return httpx.Response(
        401,
        headers={"set-cookie": f"session={CANARY}; Path=/", "x-api-key": CANARY},
        json={"error": {"message": f"Incorrect API key provided: {CANARY}"}},
    )


async def exercise(client: httpx.AsyncClient) -> None:
    await client.post(
        "https://api.openai.test/v1/chat/completions",
        headers={"authorization": f"Bearer {CANARY}", "cookie": f"sid={CANARY}"},
        json={"model": "m", "messages": [], "user": USER_SECRET},
    )
    await client.post(
        "https://api.anthropic.test/v1/messages", headers={"x-api-key": CANARY}, json={"model": "m"}
    )
    await client.post(
        f"https://gemini.test/v1beta/models/m:streamGenerateContent?alt=sse&key={CANARY}",
        headers={"x-goog-api-key": CANARY},
        json={"contents": []},
    )
    await client.post(
        "https://azure.test/openai/deployments/d/chat/completions?api-version=1",
        headers={"api-key": CANARY},
        json={},
    )
    await client.post(
        "https://bedrock.test/model/m/invoke",
        headers={
            "authorization": (
                f"AWS4-HMAC-SHA256 Credential={AWS_KEY_ID}/20250101/us-east-1/bedrock/aws4_request,"
                f" SignedHeaders=host;x-amz-date, Signature={AWS_SIGNATURE}"
            ),
            "x-amz-security-token": SESSION_TOKEN,
            "x-amz-content-sha256": "e3b0c44298fc1c149afbf4c8996fb924",
        },
        content=b"{}",
    )
    await client.get(
        "https://s3.test/bucket/object?X-Amz-Signature="
        f"{AWS_SIGNATURE}&X-Amz-Credential={AWS_KEY_ID}&X-Amz-Security-Token={SESSION_TOKEN}"
    )
    await client.post(
        "https://oauth2.test/token",
        data={
            "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
            "assertion": JWT_ASSERTION,
        },
    )


def base64_payloads(value: Any) -> list[bytes]:
    """Every base64 field of a cassette document, decoded."""
    if isinstance(value, dict):
        found = []
        for key, item in value.items():
            if key.endswith("_b64"):
                found.append(base64.b64decode(item))
            else:
                found.extend(base64_payloads(item))
        return found
    if isinstance(value, list):
        return [payload for item in value for payload in base64_payloads(item)]
    return []


def redact_user_field(interaction: dict[str, Any]) -> dict[str, Any]:
    body = interaction["request"].get("body")
    if isinstance(body, dict) and "user" in body:
        body["user"] = "someone"
    return interaction


async def test_no_secret_reaches_the_file(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    with Cassette.open(path, "all", redact=[redact_user_field]) as cassette:
        transport = cassette.async_transport(httpx.MockTransport(leaky_upstream))
        async with httpx.AsyncClient(transport=transport) as client:
            await exercise(client)
    raw = path.read_bytes()
    decoded = b"".join(base64_payloads(json.loads(raw)))
    for secret in SECRETS:
        assert secret.encode() not in raw, f"{secret} leaked into the cassette"
        assert secret.encode() not in decoded, f"{secret} leaked into a base64 payload"
    assert len(cassette.interactions) == 7

    stored = json.loads(raw)["interactions"]
    openai_request = stored[0]["request"]
    assert openai_request["headers"]["authorization"] == "Bearer REDACTED"
    assert openai_request["headers"]["cookie"] == REDACTED
    assert stored[0]["response"]["headers"]["set-cookie"] == REDACTED
    assert stored[0]["response"]["body"]["error"]["message"].endswith(REDACTED)
    assert "key=REDACTED" in stored[2]["request"]["url"]
    assert "alt=sse" in stored[2]["request"]["url"]
    assert CANARY not in stored[2]["response"]["stream"]["events"][0]["data"]
    bedrock = stored[4]
    assert bedrock["request"]["headers"]["authorization"] == (
        "AWS4-HMAC-SHA256 Credential=REDACTED/20250101/us-east-1/bedrock/aws4_request,"
        " SignedHeaders=host;x-amz-date, Signature=REDACTED"
    )
    assert bedrock["request"]["headers"]["x-amz-content-sha256"].startswith("e3b0c442")
    chunk = base64.b64decode(bedrock["response"]["stream"]["events"][0]["data_b64"])
    assert chunk == b"\x00\x01REDACTED\xff"
    assert stored[6]["request"]["body_text"].endswith("assertion=REDACTED")
    assert stored[6]["response"]["body"] == {"access_token": REDACTED, "expires_in": 3599}


async def test_user_rules_headers_patterns_and_hooks(tmp_path: Path) -> None:
    path = tmp_path / "c.json"

    async def upstream(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text=f"tenant={USER_SECRET} region=eu")

    rules = [
        "X-Tenant-Token",
        re.compile(r"tenant=(\S+)"),
        re.compile(r"sk-[a-z0-9-]+"),
        redact_user_field,
    ]
    with Cassette.open(path, "all", redact=rules) as cassette:
        async with httpx.AsyncClient(
            transport=cassette.async_transport(httpx.MockTransport(upstream))
        ) as client:
            await client.post(
                "https://api.test/v1/chat",
                headers={"x-tenant-token": USER_SECRET},
                json={"note": f"key {CANARY} here", "user": USER_SECRET},
            )
    raw = path.read_bytes()
    assert USER_SECRET.encode() not in raw and CANARY.encode() not in raw
    (stored,) = json.loads(raw)["interactions"]
    assert stored["request"]["headers"]["x-tenant-token"] == REDACTED
    assert stored["request"]["body"] == {"note": "key REDACTED here", "user": "someone"}
    assert stored["response"]["body_text"] == "tenant=REDACTED region=eu"


async def test_redacted_requests_still_match_on_replay(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    url = f"https://gemini.test/v1beta/models/m:generateContent?key={CANARY}"

    async def upstream(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"ok": True})

    with Cassette.open(path, "all") as cassette:
        async with httpx.AsyncClient(
            transport=cassette.async_transport(httpx.MockTransport(upstream))
        ) as client:
            await client.post(url, json={})
    replay = Cassette.open(path, "none", match_on=("method", "path", "query", "body"))
    async with httpx.AsyncClient(transport=replay.async_transport()) as client:
        # a different real key still matches: both sides are compared redacted
        response = await client.post(url.replace("canary", "other-key"), json={})
    assert response.json() == {"ok": True}


def test_from_rules_rejects_unknown_rules_and_keeps_defaults() -> None:
    redaction = Redaction.from_rules(["X-Custom"])
    assert {"authorization", "x-goog-api-key", "x-custom"} <= redaction.headers
    explicit = Redaction(headers=frozenset({"X-Other"}), json_keys=frozenset())
    assert {"authorization", "x-other"} <= explicit.headers  # defaults cannot be dropped
    assert "client_secret" in explicit.json_keys
    assert Redaction.from_rules(redaction) is redaction
    with pytest.raises(TypeError, match="unsupported redaction rule 42"):
        Redaction.from_rules([42])  # type: ignore[list-item]


def test_basic_auth_and_url_password_are_redacted() -> None:
    redaction = Redaction()
    record: Any = {
        "method": "GET",
        "url": "https://user:hunter2-password@host.test/x",
        "headers": {
            "authorization": "Basic dXNlcjpodW50ZXIyLXBhc3N3b3Jk",
            "proxy-authorization": "x",
        },
    }
    secrets = redaction.redact_request(record)
    assert record["headers"]["authorization"] == "Basic REDACTED"
    assert record["headers"]["proxy-authorization"] == REDACTED
    assert record["url"] == "https://user:REDACTED@host.test/x"
    assert "hunter2-password" in secrets


async def test_secret_seen_later_is_scrubbed_from_earlier_exchanges(tmp_path: Path) -> None:
    path = tmp_path / "c.json"

    async def upstream(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"hint": f"next time send {CANARY}"})

    with Cassette.open(path, "all") as cassette:
        transport = cassette.async_transport(httpx.MockTransport(upstream))
        async with httpx.AsyncClient(transport=transport) as client:
            await client.get("https://api.test/first")
            await client.get("https://api.test/second", headers={"x-api-key": CANARY})
    assert CANARY.encode() not in path.read_bytes()
    first = json.loads(path.read_bytes())["interactions"][0]
    assert first["response"]["body"] == {"hint": "next time send REDACTED"}


@settings(max_examples=100)
@given(
    secret=st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_.", min_size=12, max_size=60),
    where=st.sampled_from(["bearer", "x-api-key", "x-goog-api-key", "query", "json"]),
)
def test_property_a_credential_never_survives_redaction(secret: str, where: str) -> None:
    # A "secret" that the cassette's own structure spells (`content-type`, `interactions`)
    # would be found whatever redaction did: only secrets the structure lacks can be judged.
    assume(secret.encode() not in dump_cassette([_credential_interaction("x" * 12, where)]))
    assert secret.encode() not in dump_cassette(
        [Redaction().apply(_credential_interaction(secret, where))]
    )


def _credential_interaction(secret: str, where: str) -> Interaction:
    """An exchange carrying `secret` as a credential at `where` and echoing it in the answer."""
    headers = {"content-type": "application/json"}
    url = "https://api.test/v1/x?alt=sse"
    body: dict[str, Any] = {"echo": f"got {secret}!"}
    if where == "bearer":
        headers["authorization"] = f"Bearer {secret}"
    elif where == "query":
        url += f"&key={secret}"
    elif where == "json":
        body["client_secret"] = secret
    else:
        headers[where] = secret
    interaction: Interaction = {
        "request": {"method": "POST", "url": url, "headers": headers, "body": body},
        "response": {
            "status": 200,
            "headers": {},
            "stream": {"kind": "sse", "events": [{"t": 0.0, "data": f"data: {secret}\n\n"}]},
        },
        "recorded_at": "2025-01-01T00:00:00+00:00",
    }
    return interaction
