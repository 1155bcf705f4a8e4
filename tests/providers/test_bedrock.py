"""BedrockProvider: encoded model paths, SigV4 over the sent path, bodies, event streams, errors."""

from __future__ import annotations

import base64
import re

import httpx
import orjson
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from llm_router import errors
from llm_router.auth import ApiKey, AwsSigV4
from llm_router.framing.eventstream import encode_event
from llm_router.providers import BedrockProvider
from llm_router.types import ProviderFormat

from ._support import corpus, json_body, send, upstream

CLAUDE = "anthropic.claude-3-5-sonnet-20240620-v1:0"
ANTHROPIC_BODY = corpus("toolCallRequest", "anthropic")
CONVERSE_BODY = corpus("toolCallRequest", "bedrock")
ACCESS_KEY = "AKIDEXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
_AUTH_HEADER = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/(?P<service>[^/]+)/aws4_request, "
    r"SignedHeaders=(?P<signed>[^,]+), Signature=(?P<signature>[0-9a-f]{64})$"
)


def verify_sigv4(request: httpx.Request, secret_key: str, session_token: str | None = None) -> str:
    """Recompute the signature with botocore from the request as sent; return the canonical request."""
    match = _AUTH_HEADER.match(request.headers["authorization"])
    assert match, request.headers["authorization"]
    signed = match["signed"].split(";")
    headers = {name: request.headers[name] for name in signed}
    url = f"{request.url.scheme}://{request.url.netloc.decode()}{request.url.raw_path.decode()}"
    aws_request = AWSRequest(method=request.method, url=url, data=request.content, headers=headers)
    aws_request.context["timestamp"] = request.headers["x-amz-date"]
    signer = SigV4Auth(
        Credentials(match["key"], secret_key, session_token), match["service"], match["region"]
    )
    canonical: str = signer.canonical_request(aws_request)
    expected = signer.signature(signer.string_to_sign(aws_request, canonical), aws_request)
    assert expected == match["signature"], "signature does not match the request as sent"
    return canonical


@pytest.mark.parametrize(
    ("model", "path"),
    [
        (CLAUDE, "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse"),
        (
            "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-x",
            "/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-profile%2Fus.anthropic.claude-x/converse",
        ),
    ],
)
def test_model_ids_are_percent_encoded(model: str, path: str) -> None:
    request = BedrockProvider().build_request(
        upstream(model, ProviderFormat.CONVERSE, CONVERSE_BODY)
    )
    assert request.url.raw_path.decode() == path
    assert request.url.host == "bedrock-runtime.us-east-1.amazonaws.com"


@pytest.mark.parametrize(
    ("fmt", "stream", "action", "accept"),
    [
        (ProviderFormat.CONVERSE, False, "converse", "application/json"),
        (ProviderFormat.CONVERSE, True, "converse-stream", "application/vnd.amazon.eventstream"),
        (ProviderFormat.ANTHROPIC, False, "invoke", "application/json"),
        (
            ProviderFormat.ANTHROPIC,
            True,
            "invoke-with-response-stream",
            "application/vnd.amazon.eventstream",
        ),
    ],
)
def test_actions(fmt: ProviderFormat, stream: bool, action: str, accept: str) -> None:
    body = ANTHROPIC_BODY if fmt is ProviderFormat.ANTHROPIC else CONVERSE_BODY
    provider = BedrockProvider("eu-west-3")
    request = provider.build_request(upstream(CLAUDE, fmt, body, stream=stream))
    assert request.url.host == "bedrock-runtime.eu-west-3.amazonaws.com"
    assert request.url.raw_path.decode().endswith("v1%3A0/" + action)
    assert request.headers["accept"] == accept


def test_converse_body_has_no_model_or_stream_fields() -> None:
    body = {**CONVERSE_BODY, "modelId": CLAUDE, "stream": True}
    request = BedrockProvider().build_request(
        upstream(CLAUDE, ProviderFormat.CONVERSE, body, stream=True)
    )
    assert json_body(request) == {
        k: v for k, v in CONVERSE_BODY.items() if k not in ("modelId", "model")
    }


def test_invoke_body_matches_captured_bedrock_request() -> None:
    request = BedrockProvider().build_request(
        upstream(CLAUDE, ProviderFormat.ANTHROPIC, ANTHROPIC_BODY, stream=True)
    )
    assert json_body(request) == corpus("toolCallRequest", "bedrock-anthropic")


def test_anthropic_beta_header_moves_into_the_body() -> None:
    body = {**ANTHROPIC_BODY, "anthropic_beta": ["a-1"]}
    request = BedrockProvider().build_request(
        upstream(CLAUDE, ProviderFormat.ANTHROPIC, body, headers={"anthropic-beta": "b-2, a-1"})
    )
    assert json_body(request)["anthropic_beta"] == ["a-1", "b-2"]
    assert "anthropic-beta" not in request.headers


@pytest.mark.parametrize(
    ("model_format", "caller", "model", "expected"),
    [
        (ProviderFormat.ANTHROPIC, ProviderFormat.ANTHROPIC, CLAUDE, ProviderFormat.ANTHROPIC),
        (ProviderFormat.ANTHROPIC, ProviderFormat.OPENAI, CLAUDE, ProviderFormat.CONVERSE),
        (
            ProviderFormat.CONVERSE,
            ProviderFormat.ANTHROPIC,
            "meta.llama3-70b-instruct-v1:0",
            ProviderFormat.CONVERSE,
        ),
        (
            ProviderFormat.CONVERSE,
            ProviderFormat.CONVERSE,
            "amazon.nova-micro-v1:0",
            ProviderFormat.CONVERSE,
        ),
        (
            None,
            ProviderFormat.ANTHROPIC,
            "us.anthropic.claude-opus-4-1-20250805-v1:0",
            ProviderFormat.ANTHROPIC,
        ),
        (
            None,
            ProviderFormat.ANTHROPIC,
            "mistral.mistral-large-2402-v1:0",
            ProviderFormat.CONVERSE,
        ),
        (None, ProviderFormat.GOOGLE, CLAUDE, ProviderFormat.CONVERSE),
    ],
)
def test_format_choice(
    model_format: ProviderFormat | None,
    caller: ProviderFormat,
    model: str,
    expected: ProviderFormat,
) -> None:
    assert BedrockProvider().format_for(model_format, caller, model=model) is expected


async def test_sigv4_signs_the_encoded_path_as_sent() -> None:
    auth = AwsSigV4(ACCESS_KEY, SECRET_KEY, region="us-east-1")
    received, _ = await send(
        BedrockProvider(),
        auth,
        upstream(
            CLAUDE, ProviderFormat.CONVERSE, CONVERSE_BODY, headers={"traceparent": "00-abc-def-01"}
        ),
        lambda _: httpx.Response(200, json={}),
    )
    assert received.url.raw_path == b"/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse"
    canonical = verify_sigv4(received, SECRET_KEY)
    # AWS encodes each path segment once more for the canonical URI (every service but S3).
    assert (
        canonical.splitlines()[1] == "/model/anthropic.claude-3-5-sonnet-20240620-v1%253A0/converse"
    )
    signed = _AUTH_HEADER.match(received.headers["authorization"])
    assert signed is not None and signed["signed"] == "content-type;host;x-amz-date"
    assert signed["region"] == "us-east-1" and signed["service"] == "bedrock"


async def test_sigv4_stream_request_with_session_token() -> None:
    auth = AwsSigV4(ACCESS_KEY, SECRET_KEY, "session-token-value", region="eu-west-3")
    provider = BedrockProvider("eu-west-3")
    request = provider.build_request(
        upstream(CLAUDE, ProviderFormat.ANTHROPIC, ANTHROPIC_BODY, stream=True)
    )
    await auth.apply(request)
    assert request.headers["x-amz-security-token"] == "session-token-value"
    verify_sigv4(request, SECRET_KEY, "session-token-value")
    signed = _AUTH_HEADER.match(request.headers["authorization"])
    assert signed is not None and "x-amz-security-token" in signed["signed"].split(";")
    assert "x-amzn-bedrock-accept" in signed["signed"].split(";")


async def test_signature_check_rejects_a_wrong_secret() -> None:
    request = BedrockProvider().build_request(
        upstream(CLAUDE, ProviderFormat.CONVERSE, CONVERSE_BODY)
    )
    await AwsSigV4(ACCESS_KEY, SECRET_KEY, region="us-east-1").apply(request)
    with pytest.raises(AssertionError, match="signature does not match"):
        verify_sigv4(request, "another-secret")


async def test_resigning_replaces_the_previous_signature() -> None:
    auth = AwsSigV4(ACCESS_KEY, SECRET_KEY, region="us-east-1")
    request = BedrockProvider().build_request(
        upstream(CLAUDE, ProviderFormat.CONVERSE, CONVERSE_BODY)
    )
    await auth.apply(request)
    await auth.apply(request)  # a retried attempt re-signs the same request
    verify_sigv4(request, SECRET_KEY)


def test_sigv4_repr_hides_credentials() -> None:
    auth = AwsSigV4(ACCESS_KEY, SECRET_KEY, "tok-secret", region="us-east-1")
    assert (
        SECRET_KEY not in repr(auth)
        and ACCESS_KEY not in repr(auth)
        and "tok-secret" not in repr(auth)
    )


async def test_bedrock_api_key_is_a_bearer_token() -> None:
    provider = BedrockProvider()
    auth = provider.default_auth("bedrock-api-key")
    request = provider.build_request(upstream(CLAUDE, ProviderFormat.CONVERSE, CONVERSE_BODY))
    await auth.apply(request)
    assert request.headers["authorization"] == "Bearer bedrock-api-key"


def test_env_bearer_token_then_access_keys() -> None:
    provider = BedrockProvider("ap-south-1")
    env = {
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        "AWS_SESSION_TOKEN": "tok",
    }
    auth = provider.auth_from_env({**env, "AWS_BEARER_TOKEN_BEDROCK": "bearer"})
    assert isinstance(auth, ApiKey) and auth.key.reveal() == "bearer"
    auth = provider.auth_from_env(env)
    assert isinstance(auth, AwsSigV4)
    assert auth.region == "ap-south-1" and auth.session_token is not None
    assert provider.auth_from_env({"AWS_ACCESS_KEY_ID": ACCESS_KEY}) is None


# -- streams -------------------------------------------------------------------------------------


def _frames(events: list[dict[str, object]]) -> bytes:
    return b"".join(
        encode_event(name, orjson.dumps(payload))
        for event in events
        for name, payload in event.items()
    )


def test_converse_stream_events() -> None:
    events = corpus("toolCallRequest", "bedrock", "response-streaming.json")
    wire = _frames(events)
    decoder = BedrockProvider().event_decoder(ProviderFormat.CONVERSE)
    decoded = [
        ev for i in range(0, len(wire), 50) for ev in decoder.feed(wire[i : i + 50])
    ] + decoder.finish()
    assert [{ev.event: orjson.loads(ev.data)} for ev in decoded] == events


def test_invoke_stream_chunks_become_anthropic_events() -> None:
    events = corpus("toolCallRequest", "bedrock-anthropic", "response-streaming.json")
    wire = _frames(
        [{"chunk": {"bytes": base64.b64encode(orjson.dumps(e)).decode()}} for e in events]
    )
    decoder = BedrockProvider().event_decoder(ProviderFormat.ANTHROPIC)
    decoded = decoder.feed(wire) + decoder.finish()
    assert [ev.event for ev in decoded] == [e["type"] for e in events]
    assert [orjson.loads(ev.data) for ev in decoded] == events


def test_stream_exception_frame_is_typed() -> None:
    wire = encode_event(
        "throttlingException", b'{"message": "slow down"}', message_type="exception"
    )
    decoder = BedrockProvider().event_decoder(ProviderFormat.CONVERSE)
    with pytest.raises(errors.RateLimitError):
        decoder.feed(wire)


@pytest.mark.parametrize(
    "payload", [{"bytes": "!!not base64!!"}, {"bytes": base64.b64encode(b"{oops").decode()}, {}]
)
def test_undecodable_invoke_chunk_is_a_framing_error(payload: dict[str, str]) -> None:
    decoder = BedrockProvider().event_decoder(ProviderFormat.ANTHROPIC)
    with pytest.raises(errors.FramingError):
        decoder.feed(encode_event("chunk", orjson.dumps(payload)))


def test_truncated_stream_is_a_framing_error() -> None:
    decoder = BedrockProvider().event_decoder(ProviderFormat.CONVERSE)
    decoder.feed(encode_event("messageStart", b'{"role": "assistant"}')[:-3])
    with pytest.raises(errors.FramingError):
        decoder.finish()


# -- errors --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error_type", "message", "expected"),
    [
        (429, "ThrottlingException", "Too many requests", errors.RateLimitError),
        (
            400,
            "ValidationException",
            "Input is too long for requested model.",
            errors.ContextWindowExceededError,
        ),
        (400, "ValidationException", "messages: field required", errors.InvalidRequestError),
        (
            403,
            "AccessDeniedException",
            "You don't have access to the model",
            errors.PermissionError,
        ),
        (
            403,
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
            errors.AuthenticationError,
        ),
        (
            403,
            "InvalidSignatureException",
            "The request signature we calculated does not match",
            errors.AuthenticationError,
        ),
        (404, "ResourceNotFoundException", "Model not found", errors.NotFoundError),
        (408, "ModelTimeoutException", "Model timed out", errors.TimeoutError),
        (424, "ModelErrorException", "The model returned an error", errors.UpstreamError),
        (503, "ServiceUnavailableException", "Service unavailable", errors.OverloadedError),
        (500, "InternalServerException", "Internal error", errors.UpstreamError),
    ],
)
async def test_error_types(
    status: int, error_type: str, message: str, expected: type[Exception]
) -> None:
    headers = {
        "x-amzn-ErrorType": f"{error_type}:http://internal.amazon.com/coral/com.amazon.bedrock/"
    }
    with pytest.raises(errors.LLMRouterError) as caught:
        await send(
            BedrockProvider(),
            None,
            upstream(CLAUDE, ProviderFormat.CONVERSE, CONVERSE_BODY),
            lambda _: httpx.Response(status, headers=headers, json={"message": message}),
        )
    assert type(caught.value) is expected
    assert error_type in str(caught.value) and message in str(caught.value)


async def test_throttling_retry_after_and_body_type_fallback() -> None:
    body = {"__type": "com.amazon.bedrock#ThrottlingException", "Message": "Rate exceeded"}
    with pytest.raises(errors.RateLimitError) as caught:
        await send(
            BedrockProvider(),
            None,
            upstream(CLAUDE, ProviderFormat.CONVERSE, CONVERSE_BODY),
            lambda _: httpx.Response(400, headers={"retry-after": "2"}, json=body),
        )
    assert caught.value.retry_after == 2.0
    assert "Rate exceeded" in str(caught.value)
