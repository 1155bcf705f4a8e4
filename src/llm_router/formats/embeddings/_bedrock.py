"""Bedrock InvokeModel bodies of embedding models: Amazon Titan Text Embeddings and Cohere Embed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from llm_router.errors import TranslationError
from llm_router.formats import type_name

from ._common import need_vector

if TYPE_CHECKING:
    from . import EmbeddingRequest, EmbeddingResponse

__all__ = ["parse_cohere_response", "parse_titan_response", "render_cohere", "render_titan"]

#: Bedrock's response header with the input tokens billed (Cohere's body has no count).
INPUT_TOKENS_HEADER = "x-amzn-bedrock-input-token-count"

#: Gemini task types as Cohere input types (Cohere v3 requires one; documents by default).
_COHERE_INPUT_TYPES = {
    "RETRIEVAL_QUERY": "search_query",
    "QUESTION_ANSWERING": "search_query",
    "RETRIEVAL_DOCUMENT": "search_document",
    "CLASSIFICATION": "classification",
    "CLUSTERING": "clustering",
}


def render_titan(req: EmbeddingRequest, text: str) -> dict[str, Any]:
    body: dict[str, Any] = {"inputText": text}
    if req.dimensions is not None:
        body["dimensions"] = req.dimensions
    if req.normalize is not None:
        body["normalize"] = req.normalize
    return body


def render_cohere(req: EmbeddingRequest, texts: list[str], model: str) -> dict[str, Any]:
    input_type = _COHERE_INPUT_TYPES.get(req.task_type or "", "search_document")
    body: dict[str, Any] = {"texts": texts, "input_type": input_type}
    if req.dimensions is not None:
        if "embed-v4" not in model:
            raise TranslationError(
                f"dimensions: Cohere model {model!r} has a fixed size (only Embed v4 takes"
                " output_dimension)",
                path="dimensions",
            )
        body["output_dimension"] = req.dimensions
    return body


def parse_titan_response(obj: Mapping[str, Any]) -> EmbeddingResponse:
    from . import EmbeddingResponse

    vector = need_vector(obj.get("embedding"), "embedding")
    tokens = obj.get("inputTextTokenCount")
    return EmbeddingResponse([vector], None, tokens if type(tokens) is int else None)


def parse_cohere_response(obj: Mapping[str, Any], headers: Mapping[str, str]) -> EmbeddingResponse:
    from . import EmbeddingResponse

    embeddings = obj.get("embeddings")
    if isinstance(embeddings, dict):  # embedding_types asked: {"float": [[...]], ...}
        embeddings = embeddings.get("float")
    if not isinstance(embeddings, list):
        raise TranslationError(
            f"embeddings: expected an array of vectors, got {type_name(embeddings)}",
            path="embeddings",
        )
    vectors = [need_vector(item, f"embeddings[{i}]") for i, item in enumerate(embeddings)]
    count = {k.lower(): v for k, v in headers.items()}.get(INPUT_TOKENS_HEADER, "")
    return EmbeddingResponse(vectors, None, int(count) if count.isdigit() else None)
