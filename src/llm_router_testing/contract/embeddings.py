"""Contract checks of a gateway's embedding endpoints.

OpenAI's `POST /v1/embeddings` (also how Mistral's clients embed) and Gemini's
`:batchEmbedContents`; the Responses, Anthropic Messages and Bedrock Converse formats have no
embedding endpoint of their own, so their rows are skipped. The fake answers each text with a
deterministic unit vector, so a gateway that batches, splits, reorders or re-encodes can be
judged without knowing the fake's numbers: the vector of a text embedded alone must equal
its vector embedded in a batch, in the batch's order.
"""

from __future__ import annotations

import base64
import math
import secrets
import struct
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import httpx
import orjson

from llm_router.types import ProviderFormat

from .checks import Check, CheckContext, SkipCheck
from .dialects import ContractViolation, dialect_for, preview

__all__ = ["EMBEDDING_CHECKS", "EMBEDDING_MODELS", "check_embeddings"]

#: The embedding model each format asks for unless the run names one (`embedding_models`).
EMBEDDING_MODELS: Mapping[ProviderFormat, str] = {
    ProviderFormat.OPENAI: "text-embedding-3-small",
    ProviderFormat.MISTRAL: "mistral-embed",
    ProviderFormat.GOOGLE: "gemini-embedding-001",
}
#: How close two numbers of one vector must be: float32 rounding survives a JSON round trip.
_TOLERANCE = 1e-6


def _model(ctx: CheckContext) -> str:
    fmt = ctx.dialect.format
    if fmt not in EMBEDDING_MODELS:
        raise SkipCheck(f"the {fmt.value} format has no embedding endpoint")
    return ctx.embedding_model or EMBEDDING_MODELS[fmt]


async def _embed(
    ctx: CheckContext, texts: list[str], **options: Any
) -> tuple[httpx.Response, list[Any]]:
    """POST `texts` to the format's embedding endpoint; the response and its raw vectors
    (lists of numbers, or base64 strings when asked for), checked for count and shape."""
    model = _model(ctx)
    headers = {"content-type": "application/json"}
    if ctx.api_key is not None:
        headers.update(ctx.dialect.auth_headers(ctx.api_key))
    if ctx.dialect.format is ProviderFormat.GOOGLE:
        name = f"models/{model}"
        requests = [
            {"model": name, "content": {"parts": [{"text": text}]}, **options} for text in texts
        ]
        path = f"/v1beta/models/{quote(model, safe='')}:batchEmbedContents"
        body: dict[str, Any] = {"requests": requests}
    else:
        path, body = "/v1/embeddings", {"model": model, "input": texts, **options}
    response = await ctx.client.post(path, content=orjson.dumps(body), headers=headers)
    if response.status_code != 200:
        raise ContractViolation(
            f"POST {path} answered {response.status_code}, expected 200: {preview(response.text)}"
        )
    try:
        answer = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        raise ContractViolation(f"the body is not JSON: {preview(response.text)}") from None
    vectors = _vectors(ctx.dialect.format, answer)
    if len(vectors) != len(texts):
        raise ContractViolation(f"{len(texts)} texts were answered with {len(vectors)} vectors")
    return response, vectors


def _vectors(fmt: ProviderFormat, answer: Any) -> list[Any]:
    if not isinstance(answer, dict):
        raise ContractViolation(f"the answer is not a JSON object: {preview(answer)}")
    if fmt is ProviderFormat.GOOGLE:
        entries = answer.get("embeddings")
        if not isinstance(entries, list) or not all(
            isinstance(e, dict) and "values" in e for e in entries
        ):
            raise ContractViolation(
                'expected Gemini\'s {"embeddings": [{"values": [...]}, ...]}, got '
                + preview(answer)
            )
        return [e["values"] for e in entries]
    data = answer.get("data")
    if answer.get("object") != "list" or not isinstance(data, list):
        raise ContractViolation(
            'expected OpenAI\'s {"object": "list", "data": [...]}, got ' + preview(answer)
        )
    indexes = [item.get("index") if isinstance(item, dict) else None for item in data]
    if indexes != list(range(len(data))):
        raise ContractViolation(f"data[].index is {indexes}, expected 0..{len(data) - 1} in order")
    if not all(isinstance(item, dict) and item.get("object") == "embedding" for item in data):
        raise ContractViolation('every data[] entry should be {"object": "embedding", ...}')
    return [item.get("embedding") for item in data]


def _floats(vector: Any, where: str) -> list[float]:
    if not isinstance(vector, list) or not vector:
        raise ContractViolation(f"{where}: expected a list of numbers, got {preview(vector)}")
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in vector):
        raise ContractViolation(f"{where}: not every entry is a number")
    return [float(v) for v in vector]


def _same(a: list[float], b: list[float]) -> bool:
    return len(a) == len(b) and all(abs(x - y) <= _TOLERANCE for x, y in zip(a, b, strict=True))


def _texts(label: str, count: int) -> list[str]:
    tag = secrets.token_hex(4)
    return [f"Contract {label} {tag} text {i}" for i in range(count)]


async def check_embeddings(ctx: CheckContext) -> str:
    texts = _texts("embeddings", 3)
    _, batch = await _embed(ctx, texts)
    vectors = [_floats(v, f"vector {i}") for i, v in enumerate(batch)]
    sizes = {len(v) for v in vectors}
    if len(sizes) != 1:
        raise ContractViolation(f"the vectors have different lengths: {sorted(sizes)}")
    for i, vector in enumerate(vectors):
        norm = math.sqrt(sum(v * v for v in vector))
        if abs(norm - 1.0) > 1e-3:  # the fake's vectors are unit vectors
            raise ContractViolation(f"vector {i} has norm {norm:.4f}, the upstream's was 1")
    if len({tuple(v) for v in vectors}) != len(vectors):
        raise ContractViolation("different texts got the same vector")
    _, alone = await _embed(ctx, texts[2:])
    if not _same(_floats(alone[0], "the single vector"), vectors[2]):
        raise ContractViolation(
            "the third text embedded alone got another vector than in the batch: the batch's"
            " vectors were reordered or altered"
        )
    return f"3 vectors of {sizes.pop()} in order, the same alone and in a batch"


async def check_embeddings_base64(ctx: CheckContext) -> str:
    if ctx.dialect.format is not ProviderFormat.OPENAI:
        _model(ctx)  # the formats without an endpoint skip saying so
        raise SkipCheck(f"encoding_format base64 is OpenAI's; {ctx.dialect.format.value} has none")
    texts = _texts("base64", 2)
    _, floats = await _embed(ctx, texts)
    _, encoded = await _embed(ctx, texts, encoding_format="base64")
    for i, (value, expected) in enumerate(zip(encoded, floats, strict=True)):
        if not isinstance(value, str):
            raise ContractViolation(f"vector {i}: expected a base64 string, got {preview(value)}")
        try:
            raw = base64.b64decode(value, validate=True)
        except ValueError:
            raise ContractViolation(f"vector {i} is not valid base64") from None
        if len(raw) % 4:
            raise ContractViolation(f"vector {i}: {len(raw)} bytes is no whole float32 array")
        decoded = list(struct.unpack(f"<{len(raw) // 4}f", raw))
        if not _same(decoded, _floats(expected, f"vector {i}")):
            raise ContractViolation(
                f"vector {i}: the base64 float32 array differs from the float answer"
            )
    return "float32 little-endian arrays equal to the float answer"


async def check_embeddings_dimensions(ctx: CheckContext) -> str:
    fmt = ctx.dialect.format
    _model(ctx)
    if fmt is ProviderFormat.MISTRAL:
        raise SkipCheck("mistral-embed has a fixed size (1024); Mistral takes no dimensions")
    option = "outputDimensionality" if fmt is ProviderFormat.GOOGLE else "dimensions"
    _, vectors = await _embed(ctx, _texts("dimensions", 2), **{option: 64})
    sizes = [len(_floats(v, f"vector {i}")) for i, v in enumerate(vectors)]
    if sizes != [64, 64]:
        raise ContractViolation(f"{option}=64 was answered with vectors of {sizes}")
    return f"{option}=64 honoured"


async def check_embeddings_bad_input(ctx: CheckContext) -> str:
    model = _model(ctx)
    headers = {"content-type": "application/json"}
    if ctx.api_key is not None:
        headers.update(ctx.dialect.auth_headers(ctx.api_key))
    if ctx.dialect.format is ProviderFormat.GOOGLE:
        path = f"/v1beta/models/{quote(model, safe='')}:batchEmbedContents"
        body: dict[str, Any] = {"requests": [{"model": f"models/{model}"}]}  # no content
    else:
        path, body = "/v1/embeddings", {"model": model}  # no input
    response = await ctx.client.post(path, content=orjson.dumps(body), headers=headers)
    if response.status_code not in (400, 422):
        raise ContractViolation(
            f"a request without its input answered {response.status_code}, expected 400:"
            f" {preview(response.text)}"
        )
    try:
        error = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        raise ContractViolation(f"the 400 body is not JSON: {preview(response.text)}") from None
    try:
        seen = ctx.dialect.read_error(error, response.headers)
    except ContractViolation:
        if ctx.dialect.format is not ProviderFormat.MISTRAL:
            raise
        # Mistral's clients embed at OpenAI's path and read OpenAI's error shape as well.
        seen = dialect_for(ProviderFormat.OPENAI).read_error(error, response.headers)
    return f"{response.status_code} {seen.kind or ''}".rstrip()


EMBEDDING_CHECKS: tuple[Check, ...] = (
    Check(
        "embeddings",
        "a batch of texts gets unit vectors in order, each the same as embedded alone",
        check_embeddings,
    ),
    Check(
        "embeddings_base64",
        "encoding_format base64 answers float32 arrays equal to the float answer",
        check_embeddings_base64,
    ),
    Check(
        "embeddings_dimensions",
        "a requested vector size (dimensions / outputDimensionality) is honoured",
        check_embeddings_dimensions,
    ),
    Check(
        "embeddings_bad_input",
        "an embedding request without its input is a 400 in the format's error shape",
        check_embeddings_bad_input,
    ),
)
