"""Realtime sessions on Azure OpenAI and Vertex AI routes, against the fake over loopback.

The fake checks each provider's credentials before the upgrade as the provider does (Azure:
`api-key` or an Entra bearer; Vertex: an OAuth bearer), so a wrong one is an HTTP refusal and
never an accepted socket. Each test also checks that nothing outlives the session.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import trio

from llm_router import AzureProvider, GoogleProvider, Router, VertexProvider, errors
from llm_router.auth import AzureEntra, OAuth
from llm_router.realtime.session import RealtimeSession
from llm_router_testing.fake import FAKE_KEYS, FakeProvider

ENTRA_TOKEN = "azure-fake-entra-token"  # the fake's default Entra token
PROJECT, LOCATION = "proj-1", "us-central1"


def _tasks() -> int:
    return trio.lowlevel.current_statistics().tasks_living


async def _settled(fake: FakeProvider, before: int) -> None:
    """Every session's socket ended on the fake and no task is left on either side."""
    await fake.journal.wait_for(lambda _: all(e.done for e in fake.journal))
    with trio.fail_after(5):
        while _tasks() > before:  # noqa: ASYNC110 - no event tells when hypercorn is done
            await trio.sleep(0.01)  # the server's connection tasks end after its app


def _user(text: str) -> dict[str, Any]:
    item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}
    return {"type": "conversation.item.create", "item": item}


async def _openai_turn(session: RealtimeSession, text: str) -> str:
    assert (await session.receive()).type == "session.created"
    await session.send(_user(text))
    await session.send({"type": "response.create"})
    answer = ""
    async for event in session:
        frame = event.json()
        if frame["type"] == "response.output_text.delta":
            answer += frame["delta"]
        if frame["type"] == "response.done":
            break
    return answer


def _azure(fake: FakeProvider, api_version: str | None = None, **auth: Any) -> Router:
    provider = AzureProvider(fake.url, api_version=api_version, deployments={"gpt-realtime": "rt"})
    builder = Router.builder().add_provider("azure", provider, **auth)
    if not auth:
        builder.add_api_key("azure", FAKE_KEYS["azure"])
    return builder.build()


def _vertex(fake: FakeProvider, token: str = FAKE_KEYS["vertex"]) -> Router:
    provider = VertexProvider(PROJECT, LOCATION, base_url=fake.url)
    return Router.builder().add_provider("vertex", provider, auth=OAuth(token)).build()


async def test_azure_v1_surface_with_an_api_key(fake: FakeProvider) -> None:
    async with _azure(fake) as router:
        before = _tasks()
        async with router.realtime(
            "gpt-realtime", "openai-realtime", session={"output_modalities": ["text"]}
        ) as s:
            answer = await _openai_turn(s, "hello")
        await _settled(fake, before)
    assert answer == "You said: hello"
    entry = fake.journal[0]
    assert (entry.provider, entry.path, entry.query) == ("azure", "/openai/v1/realtime", "model=rt")
    assert entry.status == 101 and entry.closed_by == "client"
    assert "api-key" in entry.headers and "authorization" not in entry.headers
    assert FAKE_KEYS["azure"] not in str(entry.headers)


async def test_azure_deployment_form_with_an_entra_bearer(fake: FakeProvider) -> None:
    router = _azure(fake, "2025-04-01-preview", auth=AzureEntra(ENTRA_TOKEN))
    text = {"output_modalities": ["text"]}
    async with router, router.realtime("gpt-realtime", "openai-realtime", session=text) as s:
        answer = await _openai_turn(s, "hi")
    assert answer == "You said: hi"
    entry = fake.journal[0]
    assert entry.path == "/openai/realtime" and entry.status == 101
    assert sorted(entry.query.split("&")) == ["api-version=2025-04-01-preview", "deployment=rt"]
    assert entry.headers["authorization"].startswith("Bearer ") and "api-key" not in entry.headers


async def test_vertex_gemini_live_with_an_oauth_bearer(fake: FakeProvider) -> None:
    model = "gemini-live-2.5-flash-preview-native-audio-09-2025"
    async with _vertex(fake) as router:
        before = _tasks()
        text = {"generationConfig": {"responseModalities": ["TEXT"]}}
        async with router.realtime(model, "gemini-live", session=text) as s:
            assert (await s.receive()).json() == {"setupComplete": {}}
            turn = {"turns": [{"role": "user", "parts": [{"text": "hi"}]}], "turnComplete": True}
            await s.send({"clientContent": turn})
            parts = []
            async for event in s:
                content = event.json().get("serverContent", {})
                parts += content.get("modelTurn", {}).get("parts", [])
                if content.get("turnComplete"):
                    break
        await _settled(fake, before)
    assert "".join(p["text"] for p in parts) == "You said: hi"
    entry = fake.journal[0]
    assert entry.provider == "vertex-google"
    assert entry.path == "/ws/google.cloud.aiplatform.v1.LlmBidiService/BidiGenerateContent"
    assert entry.headers["authorization"].startswith("Bearer ")
    setup = json.loads(entry.body)["setup"]
    assert (
        setup["model"]
        == f"projects/{PROJECT}/locations/{LOCATION}/publishers/google/models/{model}"
    )


async def test_an_openai_caller_on_a_vertex_route(fake: FakeProvider) -> None:
    async with (
        _vertex(fake) as router,
        router.realtime("gemini-2.0-flash-live-001", "openai-realtime") as s,
    ):
        answer = await _openai_turn(s, "bonjour")
    assert answer == "You said: bonjour"
    assert fake.journal[0].provider == "vertex-google"


@pytest.mark.parametrize(
    ("which", "secret"),
    [("azure key", "azure-wrong-key"), ("entra token", "entra-wrong"), ("vertex token", "ya29.x")],
)
async def test_a_wrong_credential_is_refused_before_the_upgrade(
    fake: FakeProvider, which: str, secret: str
) -> None:
    if which == "vertex token":
        router, model, fmt = _vertex(fake, secret), "gemini-2.0-flash-live-001", "gemini-live"
    else:
        auth = AzureEntra(secret) if which == "entra token" else None
        builder = Router.builder().add_provider(
            "azure", AzureProvider(fake.url), **({"auth": auth} if auth else {})
        )
        if auth is None:
            builder.add_api_key("azure", secret)
        router, model, fmt = builder.build(), "gpt-realtime", "openai-realtime"
    async with router:
        before = _tasks()
        with pytest.raises(errors.NoRouteError, match=r"refused the realtime upgrade \(401\)") as e:
            async with router.realtime(model, fmt):
                pass  # pragma: no cover
        await _settled(fake, before)
    assert isinstance(e.value.errors[0], errors.AuthenticationError)
    assert secret not in str(e.value) and secret not in repr(e.value.errors)
    # A 401 fails over (another route may hold a good key) and is never retried on its route.
    assert [(x.status, x.events_sent, x.frames_received) for x in fake.journal] == [(401, 0, 0)]


async def test_a_wrong_gemini_key_fails_over_to_the_next_route(fake: FakeProvider) -> None:
    """Gemini refuses a wrong key with 400 API_KEY_INVALID: a credential, so the next route."""
    provider = VertexProvider(PROJECT, LOCATION, base_url=fake.url)
    router = (
        Router.builder()
        .add_provider("google", GoogleProvider(base_url=fake.url))
        .add_api_key("google", "google-wrong-key")
        .add_provider("vertex", provider, auth=OAuth(FAKE_KEYS["vertex"]))
        .build()
    )
    async with router, router.realtime("gemini-2.0-flash-live-001", "gemini-live") as s:
        assert (await s.receive()).json() == {"setupComplete": {}}
    assert [(a.route, a.outcome) for a in s.attempts] == [
        ("google/gemini-2.0-flash-live-001", "failed"),
        ("vertex/gemini-2.0-flash-live-001", "committed"),
    ]
    assert [(e.provider, e.status) for e in fake.journal] == [
        ("google", 400),
        ("vertex-google", 101),
    ]
