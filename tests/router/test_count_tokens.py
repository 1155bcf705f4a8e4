"""`router.count_tokens` against the fake server: every provider that counts (Anthropic,
Gemini, Gemini and Claude on Vertex, Claude on Bedrock), translated from any caller format, the next route when
one fails, the caller's own errors raised, and the local estimate when no provider counts."""

from __future__ import annotations

import base64

import orjson
import pytest

from llm_router import errors
from llm_router.auth import AwsSigV4
from llm_router.providers import (
    AnthropicProvider,
    BedrockProvider,
    GoogleProvider,
    OpenAIProvider,
    VertexProvider,
)
from llm_router.router import Router
from llm_router.translate import translate_request
from llm_router.types import ProviderFormat
from llm_router_testing.fake import FAKE_AWS_CREDENTIALS, FAKE_KEYS, open_fake_provider

QUESTION = "how many tokens are in here"  # six words: the fake counts one token per word


def openai_body(model: str, **extra: object) -> bytes:
    messages = [{"role": "user", "content": QUESTION}]
    return orjson.dumps({"model": model, "messages": messages, **extra})


def counting_router(url: str) -> Router:
    return (
        Router.builder()
        .load_models()
        .forward_headers("x-fake-")
        .add_provider("openai", OpenAIProvider(url + "/v1"))
        .add_api_key("openai", FAKE_KEYS["openai"])
        .add_provider("anthropic", AnthropicProvider(url))
        .add_api_key("anthropic", FAKE_KEYS["anthropic"])
        .add_provider("google", GoogleProvider(url))
        .add_api_key("google", FAKE_KEYS["google"])
        .add_provider("vertex", VertexProvider("fake-project", "us-central1", url))
        .add_api_key("vertex", FAKE_KEYS["vertex"])
        .add_model_route("vertex-claude", "vertex", "claude-haiku-4-5")
        .add_model_route("vertex-gemini", "vertex", "gemini-2.5-flash")
        .add_model_route("claude-with-backup", "anthropic", "claude-haiku-4-5")
        .add_model_route("claude-with-backup", "openai", "gpt-4o-mini")
        .add_model_route("claude-with-backup", "vertex", "claude-haiku-4-5")
        .build()
    )


@pytest.mark.parametrize(
    ("model", "provider", "path"),
    [
        ("claude-haiku-4-5", "anthropic", "/v1/messages/count_tokens"),
        ("gemini-2.5-flash", "google", "/v1beta/models/gemini-2.5-flash:countTokens"),
        ("vertex-claude", "vertex", "/publishers/anthropic/models/count-tokens:rawPredict"),
        ("vertex-gemini", "vertex", "/publishers/google/models/gemini-2.5-flash:countTokens"),
    ],
)
@pytest.mark.parametrize("caller", [ProviderFormat.OPENAI, ProviderFormat.CONVERSE])
async def test_each_provider_that_counts_is_asked_in_its_own_format(
    model: str, provider: str, path: str, caller: ProviderFormat
) -> None:
    body = translate_request(
        openai_body(model, max_tokens=100, temperature=0.5), ProviderFormat.OPENAI, caller
    )
    async with open_fake_provider() as fake:
        async with counting_router(fake.url) as router:
            count = await router.count_tokens(body, caller, model)
        (entry,) = list(fake.journal)
    assert count.input_tokens == 6 and not count.estimated and count.provider == provider
    assert entry.path.endswith(path) and entry.status == 200
    sent = orjson.loads(entry.body)
    if "anthropic" in path or "messages" in path:  # the real API refuses max_tokens here
        assert set(sent) <= {"model", "messages", "anthropic_version"}
        assert sent["model"] == "claude-haiku-4-5"


async def test_a_gemini_count_body_is_read_in_both_of_its_shapes() -> None:
    contents = [{"role": "user", "parts": [{"text": QUESTION}]}]
    wrapped = {
        "generateContentRequest": {
            "model": "models/x",
            "contents": contents,
            "systemInstruction": {"parts": [{"text": "two words"}]},
        }
    }
    async with open_fake_provider() as fake, counting_router(fake.url) as router:
        plain = await router.count_tokens({"contents": contents}, "google", "claude-haiku-4-5")
        full = await router.count_tokens(wrapped, "google", "gemini-2.5-flash")
    assert (plain.input_tokens, plain.provider) == (6, "anthropic")
    assert (full.input_tokens, full.provider) == (8, "google")


async def test_a_failing_provider_hands_the_count_to_the_next_that_counts() -> None:
    async with open_fake_provider() as fake:
        fake.script().when(provider="anthropic").reply("down").with_faults(status=500)
        async with counting_router(fake.url) as router:
            count = await router.count_tokens(openai_body("claude-with-backup"), "openai")
        paths = [e.path for e in fake.journal]
    assert (count.input_tokens, count.provider) == (6, "vertex")
    assert paths[0] == "/v1/messages/count_tokens" and paths[1].endswith("count-tokens:rawPredict")


async def test_the_callers_own_error_is_raised_and_no_counter_means_the_estimate() -> None:
    async with open_fake_provider() as fake:
        async with counting_router(fake.url) as router:
            with pytest.raises(errors.InvalidRequestError):
                await router.count_tokens(
                    openai_body("claude-haiku-4-5"), "openai", headers={"x-fake-status": "400"}
                )
            estimate = await router.count_tokens(openai_body("gpt-4o-mini"), "openai")
            unknown = await router.count_tokens(openai_body("no-such-model"), "openai")
            with pytest.raises(errors.InvalidRequestError, match="no model"):
                await router.count_tokens({"messages": []}, "anthropic")
        assert len(fake.journal) == 1  # the estimates asked nobody
    assert estimate.estimated and estimate.provider is None
    assert estimate.input_tokens == unknown.input_tokens == 8 + 3  # "user" and 27 characters


def bedrock_router(url: str) -> Router:
    aws = AwsSigV4(**FAKE_AWS_CREDENTIALS, region="us-east-1")
    return (
        Router.builder()
        .add_provider("bedrock", BedrockProvider("us-east-1", url), auth=aws)
        .add_model_route("claude", "bedrock", "anthropic.claude-3-5-haiku-20241022-v1:0")
        .add_model_route("llama", "bedrock", "meta.llama3-8b-instruct-v1:0")
        .build()
    )


@pytest.mark.parametrize(
    ("caller", "wrapped"),
    [(ProviderFormat.OPENAI, "converse"), (ProviderFormat.ANTHROPIC, "invokeModel")],
)
async def test_bedrock_counts_claude_models_with_count_tokens(
    caller: ProviderFormat, wrapped: str
) -> None:
    body = translate_request(openai_body("claude", max_tokens=100), ProviderFormat.OPENAI, caller)
    async with open_fake_provider() as fake, bedrock_router(fake.url) as router:
        count = await router.count_tokens(body, caller, "claude")
        (entry,) = list(fake.journal)
    assert (count.input_tokens, count.provider, count.estimated) == (6, "bedrock", False)
    assert entry.path == "/model/anthropic.claude-3-5-haiku-20241022-v1:0/count-tokens"
    assert entry.status == 200 and entry.headers["authorization"].startswith("AWS4-HMAC-SHA256")
    sent = orjson.loads(entry.body)["input"]
    assert list(sent) == [wrapped]
    if wrapped == "converse":  # only the fields ConverseTokensRequest takes
        assert set(sent["converse"]) <= {"messages", "system", "toolConfig"}
    else:  # the InvokeModel body itself, base64-encoded
        inner = orjson.loads(base64.b64decode(sent["invokeModel"]["body"]))
        assert inner["anthropic_version"] == "bedrock-2023-05-31" and "model" not in inner


async def test_bedrock_models_other_than_claude_get_the_estimate_without_a_request() -> None:
    async with open_fake_provider() as fake, bedrock_router(fake.url) as router:
        count = await router.count_tokens(openai_body("llama"), ProviderFormat.OPENAI, "llama")
        assert not list(fake.journal)  # Bedrock counts Claude models only: nothing was asked
    assert count.estimated and count.input_tokens == 8 + 3
