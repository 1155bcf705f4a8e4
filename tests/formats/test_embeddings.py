"""Embedding translators: every caller format read and written back, every provider wire
planned in order, answers read whatever their encoding; bad inputs name their field."""

from __future__ import annotations

import struct
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from llm_router.errors import TranslationError
from llm_router.formats.embeddings import (
    CALLER_FORMATS,
    EmbeddingFormat,
    EmbeddingRequest,
    EmbeddingResponse,
    decode_base64,
    encode_base64,
    max_inputs,
    merge_responses,
    parse_request,
    parse_response,
    plan_requests,
    render_response,
    retarget,
)

texts = st.text(st.characters(codec="utf-8"), min_size=1, max_size=30)
float32s = st.floats(width=32, allow_nan=False, allow_infinity=False)
vectors = st.lists(float32s, min_size=1, max_size=8)
TASKS = st.sampled_from([None, "RETRIEVAL_QUERY", "RETRIEVAL_DOCUMENT", "CLUSTERING"])


@st.composite
def requests(draw: Any, *, tokens: bool = False) -> EmbeddingRequest:
    inputs = draw(st.lists(texts, min_size=1, max_size=12))
    return EmbeddingRequest(
        model="some-embedding-model",
        inputs=tuple(inputs),
        dimensions=draw(st.none() | st.integers(1, 4096)),
        encoding=draw(st.sampled_from(["float", "base64"])),
        task_type=draw(TASKS),
    )


def caller_body(req: EmbeddingRequest, fmt: EmbeddingFormat) -> dict[str, Any]:
    """`req` as a caller in `fmt` would send it."""
    if fmt is EmbeddingFormat.OPENAI:
        body: dict[str, Any] = {
            "model": req.model,
            "input": list(req.inputs),
            "encoding_format": req.encoding,
        }
        if req.dimensions is not None:
            body["dimensions"] = req.dimensions
        return body
    (planned,) = plan_requests(req, EmbeddingFormat.GOOGLE_BATCH, req.model)
    return dict(orjson.loads(planned))


def texts_of(body: dict[str, Any], wire: EmbeddingFormat) -> list[str]:
    """The texts an upstream body in `wire` asks to embed, in order."""
    if wire in (EmbeddingFormat.OPENAI, EmbeddingFormat.MISTRAL):
        value = body["input"]
        return [value] if isinstance(value, str) else list(value)
    if wire is EmbeddingFormat.GOOGLE:
        return [body["content"]["parts"][0]["text"]]
    if wire is EmbeddingFormat.GOOGLE_BATCH:
        return [r["content"]["parts"][0]["text"] for r in body["requests"]]
    if wire is EmbeddingFormat.VERTEX:
        return [i["content"] for i in body["instances"]]
    if wire is EmbeddingFormat.TITAN:
        return [body["inputText"]]
    return list(body["texts"])


@given(vectors)
def test_base64_vectors_round_trip_as_float32(vector: list[float]) -> None:
    assert decode_base64(encode_base64(vector)) == vector


@given(
    requests(),
    st.sampled_from(list(EmbeddingFormat)),
    st.sampled_from(["a", "gemini-embedding-001"]),
)
def test_every_wire_plans_every_input_once_in_order(
    req: EmbeddingRequest, wire: EmbeddingFormat, model: str
) -> None:
    if wire is EmbeddingFormat.COHERE:
        req = EmbeddingRequest(req.model, req.inputs, task_type=req.task_type)
    bodies = [orjson.loads(b) for b in plan_requests(req, wire, model)]
    planned = [text for body in bodies for text in texts_of(body, wire)]
    assert planned == list(req.inputs)
    assert all(len(texts_of(body, wire)) <= max_inputs(wire, model) for body in bodies)
    if req.dimensions is not None and wire is EmbeddingFormat.GOOGLE_BATCH:
        assert all(
            r["outputDimensionality"] == req.dimensions for b in bodies for r in b["requests"]
        )


@given(requests(), st.sampled_from([EmbeddingFormat.OPENAI, EmbeddingFormat.GOOGLE_BATCH]))
def test_caller_requests_read_back_as_sent(req: EmbeddingRequest, fmt: EmbeddingFormat) -> None:
    read = parse_request(caller_body(req, fmt), fmt)
    assert read.inputs == req.inputs and read.model == req.model
    assert read.dimensions == req.dimensions
    if fmt is EmbeddingFormat.GOOGLE_BATCH:
        assert read.task_type == req.task_type


@given(
    st.lists(vectors, min_size=1, max_size=5),
    st.sampled_from(CALLER_FORMATS),
    st.sampled_from(["float", "base64"]),
    st.none() | st.integers(0, 10_000),
)
def test_answers_read_back_as_rendered(
    vecs: list[list[float]], fmt: EmbeddingFormat, encoding: str, tokens: int | None
) -> None:
    if fmt is EmbeddingFormat.GOOGLE:
        vecs = vecs[:1]
    req = EmbeddingRequest("m", tuple("x" * len(vecs)), encoding=encoding)
    body = render_response(EmbeddingResponse(vecs, "m", tokens), req, fmt)
    wire = EmbeddingFormat.OPENAI if fmt is EmbeddingFormat.OPENAI else fmt
    read = parse_response(orjson.loads(body), wire, expected=len(vecs))
    assert read.vectors == vecs
    if fmt is EmbeddingFormat.OPENAI:
        assert read.input_tokens == (tokens or 0)
        raw = orjson.loads(body)["data"][0]["embedding"]
        assert isinstance(raw, str) == (encoding == "base64")


@given(st.lists(st.tuples(vectors, st.none() | st.integers(0, 99)), min_size=1, max_size=6))
def test_split_answers_merge_in_order_with_estimates_for_missing_counts(
    parts: list[tuple[list[float], int | None]],
) -> None:
    req = EmbeddingRequest("m", tuple("abcd" * (i + 1) for i in range(len(parts))))
    merged = merge_responses([EmbeddingResponse([v], None, n) for v, n in parts], req, "route-m")
    assert merged.vectors == [v for v, _ in parts]
    expected = sum(
        n if n is not None else len(text) // 4
        for (_, n), text in zip(parts, req.inputs, strict=True)
    )
    assert merged.input_tokens == expected
    assert merged.estimated == any(n is None for _, n in parts)
    assert merged.model == "route-m"


def test_openai_single_string_and_token_inputs_keep_their_shape() -> None:
    single = parse_request({"model": "m", "input": "hi"}, EmbeddingFormat.OPENAI)
    assert single.single and single.inputs == ("hi",)
    (body,) = plan_requests(single, EmbeddingFormat.OPENAI, "m")
    assert orjson.loads(body)["input"] == "hi"
    tokens = parse_request({"model": "m", "input": [[1, 2], [3]]}, EmbeddingFormat.OPENAI)
    assert tokens.inputs == ((1, 2), (3,))
    (body,) = plan_requests(tokens, EmbeddingFormat.OPENAI, "m")
    assert orjson.loads(body)["input"] == [[1, 2], [3]]
    with pytest.raises(TranslationError, match=r"input\[0\]: token-id inputs") as caught:
        plan_requests(tokens, EmbeddingFormat.TITAN, "amazon.titan-embed-text-v2:0")
    assert caught.value.path == "input[0]"


@pytest.mark.parametrize(
    ("body", "path", "message"),
    [
        ({"model": "m"}, "input", "required"),
        ({"model": "m", "input": ""}, "input", "empty string"),
        ({"model": "m", "input": []}, "input", "empty array"),
        ({"model": "m", "input": ["a", 3.5]}, "input[1]", "got number"),
        ({"model": "m", "input": [["a"]]}, "input[0][0]", "token id"),
        ({"model": "m", "input": {"text": "a"}}, "input", "got object"),
        ({"model": "m", "input": "a", "dimensions": 0}, "dimensions", "positive integer"),
        ({"model": "m", "input": "a", "dimensions": "8"}, "dimensions", "got string"),
        ({"model": "m", "input": "a", "encoding_format": "int8"}, "encoding_format", "'float'"),
        ({"input": "a"}, "model", "required"),
        ({"model": 7, "input": "a"}, "model", "non-empty string"),
    ],
)
def test_bad_openai_requests_name_the_field(body: dict[str, Any], path: str, message: str) -> None:
    with pytest.raises(TranslationError, match=message) as caught:
        parse_request(body, EmbeddingFormat.OPENAI)
    assert caught.value.path == path


@pytest.mark.parametrize(
    ("body", "fmt", "path"),
    [
        ({}, EmbeddingFormat.GOOGLE, "content"),
        ({"content": {"parts": []}}, EmbeddingFormat.GOOGLE, "content"),
        ({"content": {"parts": [{"inlineData": {}}]}}, EmbeddingFormat.GOOGLE, "content.parts[0]"),
        ({"requests": []}, EmbeddingFormat.GOOGLE_BATCH, "requests"),
        (
            {
                "requests": [
                    {"content": {"parts": [{"text": "a"}]}, "taskType": "RETRIEVAL_QUERY"},
                    {"content": {"parts": [{"text": "b"}]}},
                ]
            },
            EmbeddingFormat.GOOGLE_BATCH,
            "requests[1]",
        ),
    ],
)
def test_bad_gemini_requests_name_the_field(
    body: dict[str, Any], fmt: EmbeddingFormat, path: str
) -> None:
    with pytest.raises(TranslationError) as caught:
        parse_request(body, fmt, model="gemini-embedding-001")
    assert caught.value.path == path


def test_a_gemini_request_names_its_model_in_the_url_or_the_body() -> None:
    body = {
        "model": "models/gemini-embedding-001",
        "content": {"parts": [{"text": "a"}, {"text": "b"}]},
    }
    read = parse_request(body, EmbeddingFormat.GOOGLE)
    assert read.model == "gemini-embedding-001" and read.inputs == ("a b",) and read.single
    with pytest.raises(TranslationError, match="carry the model in the URL"):
        parse_request({"content": {"parts": [{"text": "a"}]}}, EmbeddingFormat.GOOGLE)


def test_passthrough_bodies_stay_byte_identical_unless_the_model_changes() -> None:
    raw = b'{"model": "text-embedding-3-small", "input": "hi"}'
    obj = orjson.loads(raw)
    assert retarget(raw, obj, EmbeddingFormat.OPENAI, "text-embedding-3-small") is raw
    assert orjson.loads(retarget(raw, obj, EmbeddingFormat.OPENAI, "dep"))["model"] == "dep"
    batch = {"requests": [{"model": "models/a", "content": {"parts": [{"text": "x"}]}}]}
    moved = retarget(orjson.dumps(batch), batch, EmbeddingFormat.GOOGLE_BATCH, "b")
    assert orjson.loads(moved)["requests"][0]["model"] == "models/b"


def test_cohere_refuses_dimensions_it_cannot_honour_and_maps_task_types() -> None:
    req = EmbeddingRequest("m", ("a",), task_type="RETRIEVAL_QUERY")
    (body,) = plan_requests(req, EmbeddingFormat.COHERE, "cohere.embed-english-v3")
    assert orjson.loads(body)["input_type"] == "search_query"
    sized = EmbeddingRequest("m", ("a",), dimensions=256)
    with pytest.raises(TranslationError, match="fixed size"):
        plan_requests(sized, EmbeddingFormat.COHERE, "cohere.embed-english-v3")
    (body,) = plan_requests(sized, EmbeddingFormat.COHERE, "cohere.embed-v4:0")
    assert orjson.loads(body)["output_dimension"] == 256


@pytest.mark.parametrize(
    ("obj", "wire", "message"),
    [
        ({"data": [{"embedding": "AAA"}]}, EmbeddingFormat.OPENAI, "base64"),
        ({"data": [{"embedding": [1, "x"]}]}, EmbeddingFormat.OPENAI, r"embedding\[1\]"),
        ({"embeddings": {"int8": []}}, EmbeddingFormat.COHERE, "embeddings"),
        ({"predictions": [{}]}, EmbeddingFormat.VERTEX, "embeddings"),
        ({"embedding": [0.5]}, EmbeddingFormat.GOOGLE, "embedding: expected object"),
    ],
)
def test_malformed_answers_are_translation_errors(
    obj: dict[str, Any], wire: EmbeddingFormat, message: str
) -> None:
    with pytest.raises(TranslationError, match=message):
        parse_response(obj, wire)


def test_an_answer_with_fewer_vectors_than_inputs_is_refused() -> None:
    with pytest.raises(TranslationError, match="1 embeddings for 2 inputs"):
        parse_response(
            {"embeddings": [{"values": [0.5]}]}, EmbeddingFormat.GOOGLE_BATCH, expected=2
        )


def test_cohere_token_counts_come_from_bedrock_headers() -> None:
    read = parse_response(
        {"embeddings": [[0.5, 0.25]]},
        EmbeddingFormat.COHERE,
        headers={"X-Amzn-Bedrock-Input-Token-Count": "7"},
    )
    assert read.input_tokens == 7 and read.vectors == [[0.5, 0.25]]


def test_base64_of_an_odd_length_is_refused() -> None:
    with pytest.raises(TranslationError, match="whole number of float32"):
        decode_base64("AAAAAAA=")  # 5 bytes
    assert struct.calcsize("<f") == 4
