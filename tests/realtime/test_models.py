"""Which models serve realtime sessions: the catalog's `realtime` flavor, checked before any
socket is opened, both ways (a chat model for a session, a realtime model for an HTTP call)."""

from __future__ import annotations

import pytest

from llm_router import GoogleProvider, OpenAIProvider, Router, errors
from llm_router_testing.fake import FAKE_KEYS, FakeProvider


def _router(fake: FakeProvider) -> Router:
    return (
        Router.builder()
        .add_provider("openai", OpenAIProvider(base_url=fake.url + "/v1"))
        .add_api_key("openai", FAKE_KEYS["openai"])
        .add_provider("google", GoogleProvider(base_url=fake.url))
        .add_api_key("google", FAKE_KEYS["google"])
        .add_model_route("voice", "openai", "gpt-4o")  # an alias onto a chat model
        .build()
    )


@pytest.mark.parametrize(
    ("model", "fmt", "instead"),
    [
        ("gpt-4o", "openai-realtime", "gpt-realtime"),
        ("gemini-2.5-flash", "gemini-live", "gemini-2.0-flash-live-001"),
        ("gemini-2.5-flash", "openai-realtime", "gemini-2.0-flash-live-001"),
        ("voice", "openai-realtime", "gpt-realtime-mini"),
    ],
)
async def test_a_chat_model_for_a_realtime_session_is_refused_naming_it(
    fake: FakeProvider, model: str, fmt: str, instead: str
) -> None:
    async with _router(fake) as router:
        with pytest.raises(
            errors.NotRealtimeModelError, match=f"model '{model}' is not a realtime"
        ) as e:
            async with router.realtime(model, fmt):
                pass  # pragma: no cover
    assert e.value.model == model and e.value.path == "model"
    assert instead in str(e.value)  # it names realtime models of the same providers
    assert not list(fake.journal)  # refused before any socket


async def test_realtime_models_resolve_through_the_catalog(fake: FakeProvider) -> None:
    async with _router(fake) as router:
        for model, fmt in [
            ("gpt-realtime-mini", "openai-realtime"),
            ("gemini-2.0-flash-live-001", "gemini-live"),
        ]:
            async with router.realtime(model, fmt) as s:
                first = await s.receive()
            assert first.type in ("session.created", "setupComplete")
    assert [e.model for e in fake.journal] == ["gpt-realtime-mini", "gemini-2.0-flash-live-001"]


async def test_a_realtime_model_over_http_or_responses_ws_is_refused_naming_it(
    fake: FakeProvider,
) -> None:
    body = {"model": "gpt-realtime", "messages": [{"role": "user", "content": "hi"}]}
    async with _router(fake) as router:
        with pytest.raises(errors.RealtimeOnlyModelError, match=r"router\.realtime") as e:
            await router.complete(body, "openai")
        assert e.value.model == "gpt-realtime"
        with pytest.raises(errors.RealtimeOnlyModelError, match="'gpt-realtime'"):
            async with router.realtime("gpt-realtime", "responses-ws"):
                pass  # pragma: no cover
        # Inspection still lists the routes a realtime session would use.
        assert [r.key for r in router.resolve("gpt-realtime")] == ["openai/gpt-realtime"]
    assert not list(fake.journal)
