"""MistralProvider: URL, Bearer key, format, 422 validation errors."""

from __future__ import annotations

import httpx
import orjson
import pytest

from llm_router import errors
from llm_router.auth import ApiKey
from llm_router.providers import MistralProvider
from llm_router.types import ProviderFormat

from ._support import json_body, send, upstream

BODY = {"model": "mistral-large-latest", "messages": [{"role": "user", "content": "hi"}]}


async def test_url_bearer_and_body() -> None:
    provider = MistralProvider()
    request = provider.build_request(
        upstream("mistral-small-latest", ProviderFormat.MISTRAL, BODY, stream=True)
    )
    await provider.default_auth("mistral-key").apply(request)
    assert str(request.url) == "https://api.mistral.ai/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer mistral-key"
    assert json_body(request) == {**BODY, "model": "mistral-small-latest", "stream": True}


def test_custom_base_url_and_env() -> None:
    request = MistralProvider("http://127.0.0.1:8123/v1").build_request(
        upstream("m", ProviderFormat.MISTRAL, BODY)
    )
    assert str(request.url) == "http://127.0.0.1:8123/v1/chat/completions"
    auth = MistralProvider().auth_from_env({"MISTRAL_API_KEY": "env-key"})
    assert isinstance(auth, ApiKey) and auth.key.reveal() == "env-key"


def test_speaks_mistral_whatever_the_caller() -> None:
    provider = MistralProvider()
    for caller in ProviderFormat:
        assert provider.format_for(ProviderFormat.MISTRAL, caller) is ProviderFormat.MISTRAL


async def test_422_detail_names_the_fields() -> None:
    body = orjson.dumps(
        {
            "detail": [
                {
                    "type": "missing",
                    "loc": ["body", "messages", 0, "content"],
                    "msg": "Field required",
                },
                {
                    "type": "extra_forbidden",
                    "loc": ["body", "seed"],
                    "msg": "Extra inputs are not permitted",
                },
            ]
        }
    )
    with pytest.raises(errors.InvalidRequestError) as caught:
        await send(
            MistralProvider(),
            None,
            upstream("m", ProviderFormat.MISTRAL, BODY),
            lambda _: httpx.Response(422, content=body),
        )
    assert caught.value.path == "messages[0].content"
    assert caught.value.status == 422
    assert "messages[0].content: Field required" in str(caught.value)
    assert "seed: Extra inputs are not permitted" in str(caught.value)


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (401, errors.AuthenticationError),
        (429, errors.RateLimitError),
        (400, errors.InvalidRequestError),
    ],
)
async def test_openai_style_error_bodies(status: int, expected: type[Exception]) -> None:
    body = orjson.dumps(
        {"object": "error", "message": "nope", "type": "invalid_request_error", "code": None}
    )
    with pytest.raises(expected, match="nope"):
        await send(
            MistralProvider(),
            None,
            upstream("m", ProviderFormat.MISTRAL, BODY),
            lambda _: httpx.Response(status, content=body),
        )
