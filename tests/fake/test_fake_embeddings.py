"""The fake's embedding endpoints, judged by the official SDKs (openai, google-genai,
botocore) and by raw requests: deterministic unit vectors, dimensions, usage, auth, the
journal, fault headers and scenario errors."""

from __future__ import annotations

import json
import math
from typing import Any

import botocore.session
import httpx
import openai
import pytest
import trio
from google import genai
from google.genai import errors as genai_errors
from google.genai import types as genai_types

from llm_router_testing.fake import FAKE_BOTOCORE_CREDENTIALS, FAKE_KEYS, FakeProvider
from llm_router_testing.fake.embeddings import fake_vector


async def in_thread(function: Any) -> Any:
    return await trio.to_thread.run_sync(function)


def _openai(fake: FakeProvider, key: str = FAKE_KEYS["openai"]) -> openai.OpenAI:
    return openai.OpenAI(base_url=fake.url + "/v1", api_key=key, max_retries=0)


async def test_openai_sdk_embeddings_base64_by_default_and_float(fake: FakeProvider) -> None:
    client = _openai(fake)
    model = "text-embedding-3-small"
    default = await in_thread(lambda: client.embeddings.create(model=model, input=["a", "b c"]))
    floats = await in_thread(
        lambda: client.embeddings.create(
            model=model, input="a", encoding_format="float", dimensions=12
        )
    )
    assert [d.embedding for d in default.data] == [
        fake_vector("a", 1536, model),
        fake_vector("b c", 1536, model),
    ]
    assert default.usage.prompt_tokens == 2 and default.model == model
    assert floats.data[0].embedding == fake_vector("a", 12, model)
    assert math.isclose(sum(v * v for v in floats.data[0].embedding), 1.0, rel_tol=1e-5)
    sent = [json.loads(entry.body) for entry in fake.journal]
    assert sent[0]["encoding_format"] == "base64"  # the SDK's own default
    assert [(e.provider, e.format, e.status) for e in fake.journal] == [
        ("openai", "openai", 200)
    ] * 2


async def test_the_mistral_key_on_v1_embeddings_is_mistral(fake: FakeProvider) -> None:
    client = _openai(fake, FAKE_KEYS["mistral"])
    answer = await in_thread(
        lambda: client.embeddings.create(
            model="mistral-embed", input=["x"], encoding_format="float"
        )
    )
    assert answer.data[0].embedding == fake_vector("x", 1024, "mistral-embed")
    assert fake.journal[0].provider == "mistral"


async def test_openai_sdk_errors_for_bad_input_keys_and_faults(fake: FakeProvider) -> None:
    with pytest.raises(openai.BadRequestError, match="input"):
        await in_thread(lambda: _openai(fake).embeddings.create(model="m", input=[]))
    with pytest.raises(openai.AuthenticationError):
        await in_thread(lambda: _openai(fake, "sk-wrong").embeddings.create(model="m", input="x"))
    faulty = openai.OpenAI(
        base_url=fake.url + "/v1",
        api_key=FAKE_KEYS["openai"],
        max_retries=0,
        default_headers={"x-fake-status": "429", "x-fake-retry-after": "1"},
    )
    with pytest.raises(openai.RateLimitError) as caught:
        await in_thread(lambda: faulty.embeddings.create(model="m", input="x"))
    assert caught.value.response.headers["retry-after"] == "1"
    assert [entry.status for entry in fake.journal] == [400, 401, 429]


def _genai(fake: FakeProvider, key: str = FAKE_KEYS["google"]) -> genai.Client:
    options = genai_types.HttpOptions(base_url=fake.url, api_version="v1beta")
    return genai.Client(api_key=key, http_options=options)


async def test_google_genai_embed_content(fake: FakeProvider) -> None:
    client = _genai(fake)
    config = genai_types.EmbedContentConfig(output_dimensionality=16, task_type="RETRIEVAL_QUERY")
    answer = await in_thread(
        lambda: client.models.embed_content(
            model="gemini-embedding-001", contents=["first", "second"], config=config
        )
    )
    model = "gemini-embedding-001"
    assert answer.embeddings is not None
    assert [e.values for e in answer.embeddings] == [
        fake_vector("first", 16, model),
        fake_vector("second", 16, model),
    ]
    (entry,) = fake.journal
    assert entry.path.endswith(":batchEmbedContents") and entry.format == "google-batch"
    assert json.loads(entry.body)["requests"][0]["taskType"] == "RETRIEVAL_QUERY"
    wrong = _genai(fake, "wrong")
    with pytest.raises(genai_errors.ClientError) as caught:
        await in_thread(lambda: wrong.models.embed_content(model=model, contents="x"))
    assert caught.value.code in (400, 401, 403)


async def test_embed_content_and_vertex_predict_raw(
    fake: FakeProvider, client: httpx.AsyncClient
) -> None:
    one = await client.post(
        "/v1beta/models/gemini-embedding-001:embedContent",
        json={"content": {"parts": [{"text": "hi"}]}, "outputDimensionality": 4},
        headers={"x-goog-api-key": FAKE_KEYS["google"]},
    )
    assert one.json() == {"embedding": {"values": fake_vector("hi", 4, "gemini-embedding-001")}}
    vertex = await client.post(
        "/v1/projects/p/locations/us-central1/publishers/google/models/text-embedding-005:predict",
        json={"instances": [{"content": "hi"}, {"content": "there"}]},
        headers={"authorization": f"Bearer {FAKE_KEYS['vertex']}"},
    )
    predictions = vertex.json()["predictions"]
    assert [p["embeddings"]["values"] for p in predictions] == [
        fake_vector("hi", 768, "text-embedding-005"),
        fake_vector("there", 768, "text-embedding-005"),
    ]
    assert predictions[1]["embeddings"]["statistics"]["token_count"] == 2
    refused = await client.post(
        "/v1/projects/p/locations/us-central1/publishers/google/models/text-embedding-005:predict",
        json={"instances": [{"content": "hi"}]},
    )
    assert refused.status_code == 401
    fake.set_scenario({"rules": [{"match": {"path": ":embedContent$"}, "status": 503}]})
    failed = await client.post(
        "/v1beta/models/gemini-embedding-001:embedContent",
        json={"content": {"parts": [{"text": "hi"}]}},
        headers={"x-goog-api-key": FAKE_KEYS["google"]},
    )
    assert failed.status_code == 503 and failed.json()["error"]["status"] == "UNAVAILABLE"


async def test_azure_deployment_embeddings_need_an_api_version(
    client: httpx.AsyncClient,
) -> None:
    path = "/openai/deployments/my-embedder/embeddings"
    headers = {"api-key": FAKE_KEYS["azure"]}
    body = {"input": "x"}
    answer = await client.post(
        path, params={"api-version": "2024-10-21"}, json=body, headers=headers
    )
    missing = await client.post(path, json=body, headers=headers)
    assert answer.status_code == 200 and len(answer.json()["data"][0]["embedding"]) == 768
    assert missing.status_code == 404


def _bedrock(fake: FakeProvider) -> Any:
    return botocore.session.get_session().create_client(
        "bedrock-runtime",
        region_name="us-east-1",
        endpoint_url=fake.url,
        **FAKE_BOTOCORE_CREDENTIALS,
    )


async def test_botocore_invokes_titan_and_cohere_embedding_models(fake: FakeProvider) -> None:
    bedrock = _bedrock(fake)
    titan = "amazon.titan-embed-text-v2:0"
    cohere = "cohere.embed-english-v3"

    def calls() -> tuple[Any, Any, Any]:
        first = bedrock.invoke_model(
            modelId=titan, body=json.dumps({"inputText": "hello", "dimensions": 256})
        )
        second = bedrock.invoke_model(
            modelId=cohere,
            body=json.dumps({"texts": ["a", "b"], "input_type": "search_query"}),
        )
        return json.loads(first["body"].read()), json.loads(second["body"].read()), second

    titan_answer, cohere_answer, second = await in_thread(calls)
    assert titan_answer["embedding"] == fake_vector("hello", 256, titan)
    assert titan_answer["inputTextTokenCount"] == 2
    assert cohere_answer["embeddings"] == [fake_vector(t, 1024, cohere) for t in ("a", "b")]
    headers = second["ResponseMetadata"]["HTTPHeaders"]
    assert headers["x-amzn-bedrock-input-token-count"] == "2"
    assert [(e.format, e.status) for e in fake.journal] == [("titan", 200), ("cohere", 200)]
    with pytest.raises(bedrock.exceptions.ValidationException):
        await in_thread(
            lambda: bedrock.invoke_model(modelId=cohere, body=json.dumps({"texts": []}))
        )


async def test_google_genai_on_vertex_embeds_gemini_and_text_embedding_models(
    fake: FakeProvider,
) -> None:
    from google.oauth2.credentials import Credentials

    options = genai_types.HttpOptions(base_url=fake.url, api_version="v1")
    client = genai.Client(
        vertexai=True,
        project="proj",
        location="us-central1",
        credentials=Credentials(FAKE_KEYS["vertex"]),
        http_options=options,
    )
    config = genai_types.EmbedContentConfig(output_dimensionality=8)

    def calls() -> tuple[Any, Any]:
        gemini = client.models.embed_content(
            model="gemini-embedding-001", contents="hello", config=config
        )
        text = client.models.embed_content(
            model="text-embedding-005", contents=["a", "b"], config=config
        )
        return gemini, text

    gemini, text = await in_thread(calls)
    assert gemini.embeddings is not None and text.embeddings is not None
    assert gemini.embeddings[0].values == fake_vector("hello", 8, "gemini-embedding-001")
    assert [e.values for e in text.embeddings] == [
        fake_vector(t, 8, "text-embedding-005") for t in ("a", "b")
    ]
    assert [(e.format, e.status) for e in fake.journal] == [("vertex-embed", 200), ("vertex", 200)]
