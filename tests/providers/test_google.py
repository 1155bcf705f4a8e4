"""GoogleProvider (Gemini API): URLs, body stripping, API key header, status-string errors."""

from __future__ import annotations

import httpx
import orjson
import pytest

from llm_router import errors
from llm_router.auth import ApiKey
from llm_router.providers import GoogleProvider
from llm_router.types import ProviderFormat

from ._support import corpus, json_body, send, upstream

# The captured body names its model; the wire form does not.
BODY = {k: v for k, v in corpus("toolCallRequest", "google").items() if k != "model"}


def test_generate_content_url() -> None:
    request = GoogleProvider().build_request(
        upstream("gemini-2.5-flash", ProviderFormat.GOOGLE, BODY)
    )
    assert str(request.url) == (
        "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent"
    )
    assert request.headers["accept"] == "application/json"


def test_stream_url_uses_sse() -> None:
    request = GoogleProvider().build_request(
        upstream("gemini-2.5-flash", ProviderFormat.GOOGLE, BODY, stream=True)
    )
    assert request.url.path == "/v1beta/models/gemini-2.5-flash:streamGenerateContent"
    assert request.url.params["alt"] == "sse"


@pytest.mark.parametrize(
    ("model", "path"),
    [
        ("models/gemini-2.5-pro", "/v1/models/gemini-2.5-pro:generateContent"),
        ("tunedModels/my-tune", "/v1/tunedModels/my-tune:generateContent"),
        ("publishers/google/models/gemini-2.5-pro", "/v1/models/gemini-2.5-pro:generateContent"),
    ],
)
def test_api_version_and_model_paths(model: str, path: str) -> None:
    provider = GoogleProvider("http://127.0.0.1:8123/", api_version="v1")
    request = provider.build_request(upstream(model, ProviderFormat.GOOGLE, BODY))
    assert request.url.host == "127.0.0.1"
    assert request.url.path == path


@pytest.mark.parametrize("stream", [True, False])
def test_body_carries_neither_model_nor_stream(stream: bool) -> None:
    body = {**BODY, "model": "gemini-2.5-flash", "stream": stream}
    request = GoogleProvider().build_request(
        upstream("gemini-2.5-flash", ProviderFormat.GOOGLE, body, stream=stream)
    )
    assert json_body(request) == BODY


def test_clean_body_is_sent_byte_for_byte() -> None:
    raw = orjson.dumps(BODY)
    request = GoogleProvider().build_request(
        upstream("gemini-2.5-flash", ProviderFormat.GOOGLE, raw)
    )
    assert request.content == raw


async def test_api_key_header() -> None:
    provider = GoogleProvider()
    request = provider.build_request(upstream("gemini-2.5-flash", ProviderFormat.GOOGLE, BODY))
    await provider.default_auth("AIza-test").apply(request)
    assert request.headers["x-goog-api-key"] == "AIza-test"
    assert "authorization" not in request.headers


def test_env_prefers_gemini_api_key() -> None:
    provider = GoogleProvider()
    auth = provider.auth_from_env({"GOOGLE_API_KEY": "google", "GEMINI_API_KEY": "gemini"})
    assert isinstance(auth, ApiKey) and auth.key.reveal() == "gemini"
    auth = provider.auth_from_env({"GOOGLE_API_KEY": "google"})
    assert isinstance(auth, ApiKey) and auth.key.reveal() == "google"


def _google_error(
    code: int, status: str, message: str, details: list[object] | None = None
) -> bytes:
    error: dict[str, object] = {"code": code, "message": message, "status": status}
    if details is not None:
        error["details"] = details
    return orjson.dumps({"error": error})


async def _fail(
    status: int, body: bytes, headers: dict[str, str] | None = None
) -> errors.LLMRouterError:
    with pytest.raises(errors.LLMRouterError) as caught:
        await send(
            GoogleProvider(),
            None,
            upstream("gemini-2.5-flash", ProviderFormat.GOOGLE, BODY),
            lambda _: httpx.Response(status, headers=headers, content=body),
        )
    return caught.value


async def test_invalid_api_key_is_an_authentication_error() -> None:
    details = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"}]
    error = await _fail(400, _google_error(400, "INVALID_ARGUMENT", "API key not valid.", details))
    assert isinstance(error, errors.AuthenticationError)
    assert error.status == 400


async def test_resource_exhausted_takes_retry_info_delay() -> None:
    details = [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "27s"}]
    error = await _fail(429, _google_error(429, "RESOURCE_EXHAUSTED", "Quota exceeded", details))
    assert isinstance(error, errors.RateLimitError)
    assert error.retry_after == 27.0


async def test_retry_after_header_wins_over_retry_info() -> None:
    details = [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "27s"}]
    body = _google_error(429, "RESOURCE_EXHAUSTED", "Quota exceeded", details)
    error = await _fail(429, body, {"retry-after": "3"})
    assert isinstance(error, errors.RateLimitError) and error.retry_after == 3.0


@pytest.mark.parametrize(
    ("status", "code", "message", "expected"),
    [
        (503, "UNAVAILABLE", "The model is overloaded.", errors.OverloadedError),
        (504, "DEADLINE_EXCEEDED", "Deadline expired", errors.TimeoutError),
        (403, "PERMISSION_DENIED", "Permission denied", errors.PermissionError),
        (404, "NOT_FOUND", "models/nope is not found", errors.NotFoundError),
        (401, "UNAUTHENTICATED", "Request had invalid credentials", errors.AuthenticationError),
        (
            400,
            "INVALID_ARGUMENT",
            "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).",
            errors.ContextWindowExceededError,
        ),
        (400, "INVALID_ARGUMENT", "contents is not specified", errors.InvalidRequestError),
        (500, "INTERNAL", "An internal error has occurred", errors.UpstreamError),
    ],
)
async def test_status_strings(
    status: int, code: str, message: str, expected: type[Exception]
) -> None:
    error = await _fail(status, _google_error(status, code, message))
    assert type(error) is expected
    assert message in str(error)
    assert code in str(error)


async def test_list_wrapped_error_body() -> None:
    body = b"[" + _google_error(429, "RESOURCE_EXHAUSTED", "Quota exceeded") + b"]"
    assert isinstance(await _fail(429, body), errors.RateLimitError)


def test_stream_decoder_handles_crlf_sse() -> None:
    chunks = corpus("toolCallRequest", "google", "response-streaming.json")
    wire = b"".join(b"data: " + orjson.dumps(c) + b"\r\n\r\n" for c in chunks)
    decoder = GoogleProvider().event_decoder(ProviderFormat.GOOGLE)
    decoded = decoder.feed(wire) + decoder.finish()
    assert [orjson.loads(e.data) for e in decoded] == chunks
    assert all(e.event is None for e in decoded)
