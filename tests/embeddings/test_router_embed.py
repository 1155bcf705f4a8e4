"""`Router.embed` over real loopback sockets against the fake: every caller format to every
provider wire, base64 and dimensions honoured, split requests fanned out and joined in order,
Bedrock calls SigV4-signed, cost from catalog prices, failover, and typed errors."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
import trio

from llm_router import Catalog, EmbeddingFormat, ProviderFormat, RetryPolicy, Router, errors
from llm_router.formats.embeddings import decode_base64
from llm_router_testing.fake import FakeProvider, open_fake_provider
from llm_router_testing.fake.embeddings import default_dimensions, fake_vector

from ._support import embedding_builder

#: (model, route expected, embedding wire spoken to it)
MODELS = [
    ("text-embedding-3-small", "openai", EmbeddingFormat.OPENAI),
    ("gemini-embedding-001", "google", EmbeddingFormat.GOOGLE_BATCH),
    ("publishers/google/models/gemini-embedding-001", "vertex", EmbeddingFormat.VERTEX),
    ("amazon.titan-embed-text-v2:0", "bedrock", EmbeddingFormat.TITAN),
    ("cohere.embed-english-v3", "bedrock", EmbeddingFormat.COHERE),
    ("mistral-embed", "mistral", EmbeddingFormat.MISTRAL),
]
TEXTS = ["the first text", "a second, longer text to embed", "third"]


@pytest.fixture
async def fake() -> AsyncIterator[FakeProvider]:
    async with open_fake_provider() as server:
        yield server


@pytest.fixture
async def router(fake: FakeProvider) -> AsyncIterator[Router]:
    async with embedding_builder(fake).build() as opened:
        yield opened


def expected(text: str, model: str, dimensions: int | None = None) -> list[float]:
    bare = model.rsplit("/", 1)[-1]
    return fake_vector(text, dimensions or default_dimensions(bare), bare)


def request_in(fmt: EmbeddingFormat, model: str, texts: list[str]) -> dict[str, Any]:
    if fmt is EmbeddingFormat.OPENAI:
        return {"model": model, "input": texts}
    if fmt is EmbeddingFormat.GOOGLE:
        return {"content": {"parts": [{"text": texts[0]}]}}
    return {"requests": [{"content": {"parts": [{"text": t}]}} for t in texts]}


def vectors_in(fmt: EmbeddingFormat, body: bytes) -> list[list[float]]:
    obj = orjson.loads(body)
    if fmt is EmbeddingFormat.OPENAI:
        return [item["embedding"] for item in obj["data"]]
    if fmt is EmbeddingFormat.GOOGLE:
        return [obj["embedding"]["values"]]
    return [item["values"] for item in obj["embeddings"]]


@pytest.mark.parametrize(("model", "alias", "wire"), MODELS, ids=[m[0] for m in MODELS])
@pytest.mark.parametrize("fmt", list(EmbeddingFormat)[:3], ids=str)
async def test_every_caller_format_reaches_every_provider_wire(
    router: Router,
    fake: FakeProvider,
    model: str,
    alias: str,
    wire: EmbeddingFormat,
    fmt: EmbeddingFormat,
) -> None:
    texts = TEXTS[:1] if fmt is EmbeddingFormat.GOOGLE else TEXTS
    result = await router.embed(request_in(fmt, model, texts), fmt, model)
    if alias == "google" and fmt is not EmbeddingFormat.OPENAI:
        wire = fmt  # a Gemini caller's own method, passed through
    assert (result.provider, result.provider_format, result.format) == (alias, wire, fmt)
    want = [expected(text, model) for text in texts]
    assert result.vectors == want
    assert vectors_in(fmt, result.body) == want
    for vector in result.vectors:
        assert math.isclose(math.fsum(v * v for v in vector), 1.0, rel_tol=1e-5)
    assert result.usage.input_tokens == sum(math.ceil(len(t) / 4) for t in texts)
    assert result.usage.output_tokens == 0
    # the Gemini API reports no count: the same number, estimated locally
    assert result.usage_estimated == (alias == "google")
    spec = Catalog.default().get(model)
    assert spec.input_cost_per_mil_tokens
    assert result.cost == pytest.approx(
        result.usage.input_tokens * spec.input_cost_per_mil_tokens / 1e6
    )
    assert result.cost > 0
    calls = list(fake.journal)
    assert calls and all(entry.status == 200 for entry in calls)
    assert {entry.format for entry in calls} == {wire.value}


async def test_titan_takes_one_text_a_call_so_a_batch_fans_out_signed(
    router: Router, fake: FakeProvider
) -> None:
    texts = [f"text number {i}" for i in range(11)]
    model = "amazon.titan-embed-text-v2:0"
    result = await router.embed({"model": model, "input": texts, "dimensions": 256}, "openai")
    assert result.vectors == [expected(text, model, 256) for text in texts]
    calls = list(fake.journal)
    assert len(calls) == 11 and all(entry.status == 200 for entry in calls)
    assert all(entry.headers["authorization"].startswith("AWS4-HMAC-SHA256") for entry in calls)
    assert sorted(orjson.loads(entry.body)["inputText"] for entry in calls) == sorted(texts)
    assert len(result.attempts) == 1


async def test_cohere_batches_of_more_than_96_are_split(router: Router, fake: FakeProvider) -> None:
    texts = [f"document {i}" for i in range(150)]
    result = await router.embed({"model": "cohere.embed-english-v3", "input": texts}, "openai")
    assert len(result.vectors) == 150
    assert result.vectors[120] == expected("document 120", "cohere.embed-english-v3")
    assert sorted(len(orjson.loads(entry.body)["texts"]) for entry in fake.journal) == [54, 96]


async def test_base64_is_honoured_whatever_the_route_and_passthrough_stays_exact(
    router: Router, fake: FakeProvider
) -> None:
    for model in ("text-embedding-3-small", "amazon.titan-embed-text-v2:0"):
        body = {"model": model, "input": "encode me", "encoding_format": "base64"}
        result = await router.embed(body, "openai")
        (item,) = result.json()["data"]
        assert isinstance(item["embedding"], str)
        assert decode_base64(item["embedding"]) == result.vectors[0] == expected("encode me", model)
    openai_call = fake.journal[0]
    assert orjson.loads(openai_call.body)["encoding_format"] == "base64"  # passed through


async def test_dimensions_reach_each_wire(router: Router) -> None:
    for model in ("text-embedding-3-small", "gemini-embedding-001", "mistral-embed"):
        body = {"model": model, "input": ["a", "b"], "dimensions": 64}
        result = await router.embed(body, "openai")
        assert [len(v) for v in result.vectors] == [64, 64]
        assert result.vectors[0] == expected("a", model, 64)


async def test_a_failing_route_fails_over_to_the_next(fake: FakeProvider) -> None:
    fake.set_scenario({"rules": [{"match": {"provider": "openai"}, "status": 503}]})
    builder = embedding_builder(fake).with_retry_policy(RetryPolicy(max_attempts=1))
    async with builder.build() as router:
        result = await router.embed({"model": "text-embedding-3-small", "input": "x"}, "openai")
    assert result.provider == "azure"
    assert [(entry.provider, entry.status) for entry in fake.journal] == [
        ("openai", 503),
        ("azure", 200),
    ]
    assert [a.route for a in result.attempts] == [
        "openai/text-embedding-3-small",
        "azure/text-embedding-3-small",
    ]
    assert result.attempts[-1].cost == result.cost


async def test_an_injected_429_is_retried_on_the_same_route(fake: FakeProvider) -> None:
    retry = RetryPolicy(max_attempts=2, initial_delay=0.001, max_delay=0.001)
    async with embedding_builder(fake).with_retry_policy(retry).build() as router:
        result = await router.embed(
            {"model": "gemini-embedding-001", "input": "x"},
            "openai",
            headers={"x-fake-fail-times": "1", "x-fake-status": "429"},
        )
    assert result.provider == "google"
    assert [entry.status for entry in fake.journal] == [429, 200]


async def test_a_chat_model_asked_to_embed_names_itself(router: Router) -> None:
    with pytest.raises(errors.ModelKindError, match="'gpt-4o' is a chat model") as caught:
        await router.embed({"model": "gpt-4o", "input": "x"}, "openai")
    assert caught.value.model == "gpt-4o" and caught.value.kind == "chat"
    assert isinstance(caught.value, errors.InvalidRequestError)
    chat = {"model": "text-embedding-3-small", "messages": [{"role": "user", "content": "hi"}]}
    with pytest.raises(errors.ModelKindError, match="is an embedding model"):
        await router.complete(chat, ProviderFormat.OPENAI)


@pytest.mark.parametrize(
    ("body", "fmt", "path"),
    [
        ({"model": "text-embedding-3-small", "input": ""}, "openai", "input"),
        ({"model": "text-embedding-3-small", "input": []}, "openai", "input"),
        ({"model": "text-embedding-3-small", "input": [1.5]}, "openai", "input[0]"),
        ({"model": "text-embedding-3-small"}, "openai", "input"),
        ({"model": "amazon.titan-embed-text-v2:0", "input": [5, 6]}, "openai", "input"),
        ({"content": {"parts": []}}, "google", "content"),
        ({"model": "text-embedding-3-small", "input": "x"}, "anthropic", "format"),
    ],
)
async def test_wrong_inputs_are_typed_errors_naming_the_field(
    router: Router, fake: FakeProvider, body: dict[str, Any], fmt: str, path: str
) -> None:
    with pytest.raises(errors.InvalidRequestError) as caught:
        await router.embed(body, fmt, "gemini-embedding-001" if fmt == "google" else None)
    assert caught.value.path == path
    assert len(fake.journal) == 0  # refused before anything was sent


async def test_a_wrong_key_is_an_authentication_error(fake: FakeProvider) -> None:
    async with embedding_builder(fake).add_api_key("mistral", "sk-wrong").build() as router:
        with pytest.raises(errors.AuthenticationError) as caught:
            await router.embed({"model": "mistral-embed", "input": "x"}, "openai")
    assert "sk-wrong" not in str(caught.value)
    assert [entry.status for entry in fake.journal] == [401]


async def test_a_model_no_provider_embeds_is_no_route(fake: FakeProvider) -> None:
    builder = embedding_builder(fake).add_model_route(
        "house-embed", "bedrock", "amazon.nova-pro-v1:0"
    )
    async with builder.build() as router:
        with pytest.raises(errors.NoRouteError, match="serves embeddings for model 'house-embed'"):
            await router.embed({"model": "house-embed", "input": "x"}, "openai")
    assert len(fake.journal) == 0


def task_count() -> int:
    """Tasks under the test's own task (the fixtures' servers run in their own)."""

    def count(task: trio.lowlevel.Task) -> int:
        return 1 + sum(
            count(child) for nursery in task.child_nurseries for child in nursery.child_tasks
        )

    return count(trio.lowlevel.current_task())


async def test_cancelling_a_fanned_out_call_releases_every_upstream_call(
    router: Router, fake: FakeProvider
) -> None:
    """Titan fans four calls out; cancelling the caller while they wait on the fake
    disconnects all four, and the router keeps no call, connection or task."""
    body = {"model": "amazon.titan-embed-text-v2:0", "input": ["a", "b", "c", "d"]}
    scope = trio.CancelScope()
    finished: list[object] = []

    async def run() -> None:
        with scope:
            finished.append(await router.embed(body, "openai", headers={"x-fake-ttfb": "30s"}))

    before = task_count()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(run)
        with trio.fail_after(5):
            while sum(e.first_byte_at is not None for e in fake.journal) < 4:  # noqa: ASYNC110
                await trio.sleep(0.005)
        scope.cancel()
    with trio.fail_after(5):
        while sum(e.disconnected for e in fake.journal) < 4:  # noqa: ASYNC110
            await trio.sleep(0.005)
    assert scope.cancelled_caught and not finished
    stats = router.statistics()
    assert stats["pool"]["in_use"] == 0 and stats["calls_in_flight"] == 0
    assert task_count() == before


async def test_a_gemini_batch_larger_than_one_call_is_split_and_joined(
    router: Router, fake: FakeProvider
) -> None:
    body = {"requests": [{"content": {"parts": [{"text": f"t{i}"}]}} for i in range(150)]}
    result = await router.embed(body, "google-batch", GEMINI_MODEL)
    values = [item["values"] for item in result.json()["embeddings"]]
    assert len(values) == 150 and values[149] == expected("t149", GEMINI_MODEL)
    assert sorted(len(orjson.loads(e.body)["requests"]) for e in fake.journal) == [50, 100]


GEMINI_MODEL = "gemini-embedding-001"
