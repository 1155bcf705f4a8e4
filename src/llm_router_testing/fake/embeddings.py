"""The fake server's embedding endpoints: each provider's wire read and answered.

Vectors are deterministic: the same text (and model and size) always gives the same unit
vector, derived from a hash of the text (`fake_vector`), so tests can compare them with
what they expect. Sizes default to the model's real one and honour `dimensions`
(`outputDimensionality`, Titan's `dimensions`, Mistral's `output_dimension`). Usage counts a
token per four bytes of text (at least one an input), like the router's own estimate.
Requests are checked as the provider checks them: a malformed one is refused with the
provider's 400.
"""

from __future__ import annotations

import hashlib
import math
import struct
from collections.abc import Mapping
from typing import Any

import orjson

from llm_router.formats.embeddings import encode_base64

from .wire import RejectedRequest

__all__ = ["EMBEDDING_WIRES", "default_dimensions", "embedding_answer", "fake_vector"]

#: The embedding wires the fake answers (route `embedding` values).
EMBEDDING_WIRES = (
    "openai",
    "mistral",
    "google",
    "google-batch",
    "vertex",
    "vertex-embed",
    "vertex-batch",
    "titan",
    "cohere",
)

_SIZES = (
    ("text-embedding-3-large", 3072),
    ("text-embedding-3-small", 1536),
    ("text-embedding-ada-002", 1536),
    ("gemini-embedding", 3072),
    ("titan-embed-text-v2", 1024),
    ("titan-embed", 1536),
    ("cohere.embed", 1024),
    ("mistral-embed", 1024),
)
_MAX_DIMENSIONS = 8192


def default_dimensions(model: str) -> int:
    """The size a model's vectors have when the request names none (768 for unknown ids)."""
    lowered = model.lower()
    return next((size for key, size in _SIZES if key in lowered), 768)


def fake_vector(text: str | list[int], dimensions: int, model: str = "") -> list[float]:
    """A unit vector of `dimensions` numbers determined by `text` (and `model`)."""
    seed = orjson.dumps([model, text])
    values: list[float] = []
    counter = 0
    while len(values) < dimensions:
        digest = hashlib.blake2b(seed + counter.to_bytes(4, "little"), digest_size=64).digest()
        values.extend(v / 2147483648.0 for v in struct.unpack("<16i", digest))
        counter += 1
    del values[dimensions:]
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    values = [v / norm for v in values]
    # Rounded through float32, as providers send them (base64 answers are float32).
    return list(struct.unpack(f"<{dimensions}f", struct.pack(f"<{dimensions}f", *values)))


def _tokens(item: str | list[int]) -> int:
    if isinstance(item, list):
        return len(item)
    return max(1, math.ceil(len(item.encode()) / 4))


def _refuse(message: str) -> RejectedRequest:
    return RejectedRequest(message)


def _dimensions(value: Any, field: str) -> int | None:
    if value is None:
        return None
    if type(value) is not int or not 1 <= value <= _MAX_DIMENSIONS:
        raise _refuse(f"{field} must be an integer between 1 and {_MAX_DIMENSIONS}, got {value!r}")
    return value


def embedding_answer(
    wire: str, body: Mapping[str, Any], model: str
) -> tuple[bytes, tuple[tuple[str, str], ...]]:
    """The answer body (and extra headers) of an embedding request in `wire`, or
    `RejectedRequest` for one the provider would refuse."""
    if wire in ("openai", "mistral"):
        return _openai(wire, body, model), ()
    if wire == "google":
        text, dims = _gemini_one(body, "")
        return orjson.dumps({"embedding": {"values": _vector(text, dims, model)}}), ()
    if wire == "google-batch":
        return _gemini_batch(body, model), ()
    if wire == "vertex-embed":  # Vertex's embedContent: settings in embedContentConfig
        text, dims = _gemini_one(body, "")
        answer = {
            "embedding": {"values": _vector(text, dims, model)},
            "usageMetadata": {"promptTokenCount": _tokens(text)},
        }
        return orjson.dumps(answer), ()
    if wire == "vertex-batch":
        return _gemini_batch(body, model), ()
    if wire == "vertex":
        return _vertex(body, model), ()
    if wire == "titan":
        return _titan(body, model), ()
    return _cohere(body, model)


def _vector(text: str | list[int], dims: int | None, model: str) -> list[float]:
    return fake_vector(text, dims or default_dimensions(model), model)


def _openai(wire: str, body: Mapping[str, Any], model: str) -> bytes:
    name = body.get("model") or model  # Azure deployment paths name it in the URL
    if not isinstance(name, str) or not name:
        raise _refuse("you must provide a model parameter")
    raw = body.get("input")
    inputs: list[str | list[int]]
    if isinstance(raw, str):
        inputs = [raw]
    elif isinstance(raw, list) and raw and all(type(i) is int for i in raw):
        inputs = [raw] if wire == "openai" else []
    elif isinstance(raw, list):
        inputs = raw
    else:
        inputs = []
    if not inputs or not all(
        (isinstance(i, str) and i) or (wire == "openai" and isinstance(i, list) and i)
        for i in inputs
    ):
        raise _refuse("'$.input' is invalid: expected a non-empty string or array of strings")
    field = "dimensions" if wire == "openai" else "output_dimension"
    dims = _dimensions(body.get(field), field)
    encoding = body.get("encoding_format", "float")
    if encoding not in ("float", "base64"):
        raise _refuse(f"encoding_format must be 'float' or 'base64', got {encoding!r}")
    data = []
    for index, item in enumerate(inputs):
        vector = _vector(item, dims, name)
        data.append(
            {
                "object": "embedding",
                "index": index,
                "embedding": encode_base64(vector) if encoding == "base64" else vector,
            }
        )
    tokens = sum(_tokens(item) for item in inputs)
    usage: dict[str, int] = {"prompt_tokens": tokens, "total_tokens": tokens}
    if wire == "mistral":
        usage["completion_tokens"] = 0
    answer: dict[str, Any] = {"object": "list", "data": data, "model": name, "usage": usage}
    if wire == "mistral":
        answer["id"] = "embd-fake"
    return orjson.dumps(answer)


def _gemini_one(body: Any, path: str) -> tuple[str, int | None]:
    if not isinstance(body, Mapping):
        raise _refuse(f"Invalid JSON payload received. {path or 'request'} must be an object.")
    content = body.get("content")
    parts = content.get("parts") if isinstance(content, Mapping) else None
    if not isinstance(parts, list) or not parts:
        raise _refuse(f"* {path}content: contents.parts must not be empty.")
    texts = []
    for part in parts:
        if not isinstance(part, Mapping) or not isinstance(part.get("text"), str):
            raise _refuse(f"* {path}content.parts: only text parts are embedded here.")
        texts.append(part["text"])
    text = " ".join(texts)
    if not text:
        raise _refuse(f"* {path}content: the text to embed is empty.")
    config = body.get("embedContentConfig")  # Vertex's spelling of the same settings
    settings = config if isinstance(config, Mapping) else body
    dims = _dimensions(settings.get("outputDimensionality"), "outputDimensionality")
    return text, dims


def _gemini_batch(body: Mapping[str, Any], model: str) -> bytes:
    requests = body.get("requests")
    if not isinstance(requests, list) or not requests:
        raise _refuse("* BatchEmbedContentsRequest.requests: requests must not be empty.")
    if len(requests) > 100:
        raise _refuse("* BatchEmbedContentsRequest.requests: at most 100 requests in a batch.")
    embeddings = []
    for index, item in enumerate(requests):
        text, dims = _gemini_one(item, f"requests[{index}].")
        named = item.get("model")
        if named is not None and named.removeprefix("models/") != model:
            raise _refuse(
                f"* BatchEmbedContentsRequest.requests[{index}].model: the model must be"
                f" models/{model}, the one in the URL."
            )
        embeddings.append({"values": _vector(text, dims, model)})
    return orjson.dumps({"embeddings": embeddings})


def _vertex(body: Mapping[str, Any], model: str) -> bytes:
    instances = body.get("instances")
    if not isinstance(instances, list) or not instances:
        raise _refuse("instances must be a non-empty list")
    if "gemini-embedding" in model and len(instances) > 1:
        raise _refuse(f"{model} takes one instance a request, got {len(instances)}")
    parameters = body.get("parameters")
    dims = _dimensions(
        parameters.get("outputDimensionality") if isinstance(parameters, Mapping) else None,
        "parameters.outputDimensionality",
    )
    predictions = []
    characters = 0
    for instance in instances:
        text = instance.get("content") if isinstance(instance, Mapping) else None
        if not isinstance(text, str) or not text:
            raise _refuse("each instance needs a non-empty content string")
        characters += len(text)
        predictions.append(
            {
                "embeddings": {
                    "values": _vector(text, dims, model),
                    "statistics": {"token_count": _tokens(text), "truncated": False},
                }
            }
        )
    return orjson.dumps(
        {"predictions": predictions, "metadata": {"billableCharacterCount": characters}}
    )


def _titan(body: Mapping[str, Any], model: str) -> bytes:
    text = body.get("inputText")
    if not isinstance(text, str) or not text:
        raise _refuse("Malformed input request: #: required key [inputText] not found")
    dims = body.get("dimensions")
    if dims is not None and dims not in (256, 512, 1024):
        raise _refuse("Malformed input request: #/dimensions: must be one of 256, 512, 1024")
    vector = _vector(text, dims, model)
    if body.get("normalize") is False:
        vector = [v * 3.0 for v in vector]
    return orjson.dumps(
        {
            "embedding": vector,
            "embeddingsByType": {"float": vector},
            "inputTextTokenCount": _tokens(text),
        }
    )


def _cohere(body: Mapping[str, Any], model: str) -> tuple[bytes, tuple[tuple[str, str], ...]]:
    texts = body.get("texts")
    if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
        raise _refuse("Malformed input request: #/texts: expected a non-empty array of strings")
    if len(texts) > 96:
        raise _refuse("Malformed input request: #/texts: expected at most 96 items")
    if body.get("input_type") not in (
        "search_document",
        "search_query",
        "classification",
        "clustering",
        "image",
    ):
        raise _refuse(
            "Malformed input request: #/input_type: required, one of search_document, ..."
        )
    vectors = [_vector(text, None, model) for text in texts]
    tokens = sum(_tokens(text) for text in texts)
    answer = {
        "id": "emb-fake",
        "texts": texts,
        "embeddings": vectors,
        "response_type": "embeddings_floats",
    }
    return orjson.dumps(answer), (("x-amzn-bedrock-input-token-count", str(tokens)),)
