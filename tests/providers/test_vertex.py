"""VertexProvider: hosts, publisher URLs, per-publisher body adaptation, format choice, auth."""

from __future__ import annotations

from pathlib import Path

import httpx
import orjson
import pytest

from llm_router import errors
from llm_router.auth import GoogleServiceAccount, OAuth
from llm_router.providers import VertexProvider
from llm_router.types import ProviderFormat

from ._support import corpus, json_body, send, service_account_info, upstream

ANTHROPIC_BODY = corpus("toolCallRequest", "anthropic")
GOOGLE_BODY = {k: v for k, v in corpus("toolCallRequest", "google").items() if k != "model"}
SCOPE = "/v1/projects/proj/locations/us-east5"


def test_regional_and_global_hosts() -> None:
    assert (
        VertexProvider("proj", "us-east5").base_url == "https://us-east5-aiplatform.googleapis.com"
    )
    assert VertexProvider("proj", "global").base_url == "https://aiplatform.googleapis.com"
    assert VertexProvider("proj", "global", "http://127.0.0.1:1/").base_url == "http://127.0.0.1:1"


@pytest.mark.parametrize("project", ["", "a/b"])
def test_bad_project_is_a_configuration_error(project: str) -> None:
    with pytest.raises(errors.ConfigurationError, match="project"):
        VertexProvider(project, "us-east5")


@pytest.mark.parametrize(
    ("stream", "suffix"),
    [(False, ":generateContent"), (True, ":streamGenerateContent")],
)
def test_gemini_url_and_body(stream: bool, suffix: str) -> None:
    body = {**GOOGLE_BODY, "model": "gemini-2.5-pro", "stream": stream}
    request = VertexProvider("proj", "us-east5").build_request(
        upstream("gemini-2.5-pro", ProviderFormat.GOOGLE, body, stream=stream)
    )
    assert request.url.host == "us-east5-aiplatform.googleapis.com"
    assert request.url.path == f"{SCOPE}/publishers/google/models/gemini-2.5-pro{suffix}"
    assert (request.url.params.get("alt") == "sse") is stream
    assert json_body(request) == GOOGLE_BODY


def test_anthropic_body_matches_captured_vertex_request() -> None:
    request = VertexProvider("proj", "us-east5").build_request(
        upstream("claude-sonnet-4-5@20250929", ProviderFormat.ANTHROPIC, ANTHROPIC_BODY)
    )
    assert (
        request.url.path
        == f"{SCOPE}/publishers/anthropic/models/claude-sonnet-4-5@20250929:rawPredict"
    )
    assert json_body(request) == corpus("toolCallRequest", "vertex-anthropic")


def test_anthropic_stream_keeps_stream_flag() -> None:
    request = VertexProvider("proj", "us-east5").build_request(
        upstream("claude-sonnet-4-5", ProviderFormat.ANTHROPIC, ANTHROPIC_BODY, stream=True)
    )
    assert request.url.path.endswith(
        "/publishers/anthropic/models/claude-sonnet-4-5:streamRawPredict"
    )
    body = json_body(request)
    assert body["stream"] is True
    assert body["anthropic_version"] == "vertex-2023-10-16"
    assert "model" not in body


def test_anthropic_beta_header_is_forwarded() -> None:
    request = VertexProvider("proj", "us-east5").build_request(
        upstream(
            "claude-sonnet-4-5",
            ProviderFormat.ANTHROPIC,
            ANTHROPIC_BODY,
            headers={"anthropic-beta": "b1"},
        )
    )
    assert request.headers["anthropic-beta"] == "b1"


def test_mistral_body_names_the_bare_model() -> None:
    body = {"model": "x", "messages": [{"role": "user", "content": "hi"}]}
    request = VertexProvider("proj", "us-east5").build_request(
        upstream(
            "publishers/mistralai/models/codestral-2501", ProviderFormat.MISTRAL, body, stream=True
        )
    )
    assert (
        request.url.path == f"{SCOPE}/publishers/mistralai/models/codestral-2501:streamRawPredict"
    )
    assert json_body(request) == {**body, "model": "codestral-2501", "stream": True}


@pytest.mark.parametrize(
    ("model", "fmt", "path"),
    [
        (
            "publishers/anthropic/models/claude-opus-4-7",
            ProviderFormat.ANTHROPIC,
            f"{SCOPE}/publishers/anthropic/models/claude-opus-4-7:rawPredict",
        ),
        (
            "projects/other/locations/europe-west4/endpoints/123",
            ProviderFormat.GOOGLE,
            "/v1/projects/other/locations/europe-west4/endpoints/123:generateContent",
        ),
    ],
)
def test_model_resource_names(model: str, fmt: ProviderFormat, path: str) -> None:
    request = VertexProvider("proj", "us-east5").build_request(upstream(model, fmt, ANTHROPIC_BODY))
    assert request.url.path == path


@pytest.mark.parametrize(
    ("model_format", "model", "expected"),
    [
        (ProviderFormat.ANTHROPIC, "claude-sonnet-4-5", ProviderFormat.ANTHROPIC),
        (ProviderFormat.GOOGLE, "gemini-2.5-pro", ProviderFormat.GOOGLE),
        (ProviderFormat.MISTRAL, "codestral-2501", ProviderFormat.MISTRAL),
        (None, "claude-3-5-haiku@20241022", ProviderFormat.ANTHROPIC),
        (None, "publishers/anthropic/models/x", ProviderFormat.ANTHROPIC),
        (None, "mistral-large-2411", ProviderFormat.MISTRAL),
        (None, "gemini-3-pro", ProviderFormat.GOOGLE),
        (None, None, ProviderFormat.GOOGLE),
        (ProviderFormat.OPENAI, "llama-3", ProviderFormat.GOOGLE),
    ],
)
@pytest.mark.parametrize(
    "caller", [ProviderFormat.ANTHROPIC, ProviderFormat.GOOGLE, ProviderFormat.OPENAI]
)
def test_format_follows_the_model_not_the_caller(
    model_format: ProviderFormat | None,
    model: str | None,
    expected: ProviderFormat,
    caller: ProviderFormat,
) -> None:
    assert VertexProvider("p", "global").format_for(model_format, caller, model=model) is expected


async def test_default_auth_is_an_oauth_bearer_token() -> None:
    provider = VertexProvider("proj", "us-east5")
    auth = provider.default_auth("ya29.token")
    assert isinstance(auth, OAuth)
    request = provider.build_request(upstream("gemini-2.5-pro", ProviderFormat.GOOGLE, GOOGLE_BODY))
    await auth.apply(request)
    assert request.headers["authorization"] == "Bearer ya29.token"


def test_env_access_token_then_service_account_file(tmp_path: Path) -> None:
    provider = VertexProvider("proj", "us-east5")
    assert provider.auth_from_env({}) is None
    auth = provider.auth_from_env({"GOOGLE_OAUTH_ACCESS_TOKEN": "ya29.env"})
    assert isinstance(auth, OAuth)
    key_file = tmp_path / "sa.json"
    key_file.write_bytes(orjson.dumps(service_account_info()))
    auth = provider.auth_from_env({"GOOGLE_APPLICATION_CREDENTIALS": str(key_file)})
    assert isinstance(auth, GoogleServiceAccount)
    assert auth.needs_refresh_task


async def test_errors_from_google_and_from_anthropic_publishers() -> None:
    provider = VertexProvider("proj", "us-east5")
    quota = orjson.dumps(
        {"error": {"code": 429, "message": "Quota exceeded", "status": "RESOURCE_EXHAUSTED"}}
    )
    with pytest.raises(errors.RateLimitError):
        await send(
            provider,
            None,
            upstream("gemini-2.5-pro", ProviderFormat.GOOGLE, GOOGLE_BODY),
            lambda _: httpx.Response(429, content=quota),
        )
    overloaded = orjson.dumps(
        {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    )
    with pytest.raises(errors.OverloadedError):
        await send(
            provider,
            None,
            upstream("claude-sonnet-4-5", ProviderFormat.ANTHROPIC, ANTHROPIC_BODY),
            lambda _: httpx.Response(529, content=overloaded),
        )
