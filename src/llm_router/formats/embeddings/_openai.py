"""OpenAI `/v1/embeddings` (also Azure OpenAI, compatible hosts) and Mistral's dialect of it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from llm_router.errors import TranslationError
from llm_router.formats import get_obj, get_str, type_name

from ._common import Input, encode_base64, need_positive_int, need_vector

if TYPE_CHECKING:
    from . import EmbeddingRequest, EmbeddingResponse

_ENCODINGS = ("float", "base64")


def parse_request(obj: Mapping[str, Any], model: str | None) -> EmbeddingRequest:
    from . import EmbeddingRequest

    name = model if model is not None else _model(obj)
    if "input" not in obj:
        raise TranslationError("input: required (a string or an array of strings)", path="input")
    inputs, single = _inputs(obj["input"])
    encoding = get_str(obj, "encoding_format", "") or "float"
    if encoding not in _ENCODINGS:
        raise TranslationError(
            f"encoding_format: expected 'float' or 'base64', got {encoding!r}",
            path="encoding_format",
        )
    return EmbeddingRequest(
        model=name,
        inputs=inputs,
        single=single,
        dimensions=need_positive_int(obj.get("dimensions"), "dimensions"),
        encoding=encoding,
        user=get_str(obj, "user", ""),
    )


def _model(obj: Mapping[str, Any]) -> str:
    value = obj.get("model")
    if type(value) is not str or not value.strip():
        raise TranslationError(
            f"model: expected a non-empty string, got {type_name(value)}"
            if "model" in obj
            else "model: required",
            path="model",
        )
    return value


def _inputs(value: Any) -> tuple[tuple[Input, ...], bool]:
    """(inputs, single): a string or one token list is a single input."""
    if isinstance(value, str):
        return (_text(value, "input"),), True
    if not isinstance(value, list):
        raise TranslationError(
            f"input: expected a string or an array of strings, got {type_name(value)}",
            path="input",
        )
    if not value:
        raise TranslationError("input: must not be an empty array", path="input")
    if all(type(item) is int for item in value):
        return (_tokens(value, "input"),), True
    out: list[Input] = []
    for index, item in enumerate(value):
        path = f"input[{index}]"
        if isinstance(item, str):
            out.append(_text(item, path))
        elif isinstance(item, list):
            out.append(_tokens(item, path))
        else:
            raise TranslationError(
                f"{path}: expected a string or an array of token ids, got {type_name(item)}",
                path=path,
            )
    return tuple(out), False


def _text(value: str, path: str) -> str:
    if not value:
        raise TranslationError(f"{path}: must not be an empty string", path=path)
    return value


def _tokens(value: list[Any], path: str) -> tuple[int, ...]:
    if not value:
        raise TranslationError(f"{path}: must not be an empty array", path=path)
    for index, item in enumerate(value):
        if type(item) is not int or item < 0:
            raise TranslationError(
                f"{path}[{index}]: expected a token id (a non-negative integer), got {item!r}"
                if type(item) is int
                else f"{path}[{index}]: expected a token id, got {type_name(item)}",
                path=f"{path}[{index}]",
            )
    return tuple(value)


def render_request(req: EmbeddingRequest, inputs: tuple[Input, ...], model: str) -> dict[str, Any]:
    wire = [item if isinstance(item, str) else list(item) for item in inputs]
    body: dict[str, Any] = {
        "model": model,
        "input": wire[0] if req.single and len(wire) == 1 else wire,
        "encoding_format": "float",
    }
    if req.dimensions is not None:
        body["dimensions"] = req.dimensions
    if req.user is not None:
        body["user"] = req.user
    return body


def render_mistral_request(req: EmbeddingRequest, texts: list[str], model: str) -> dict[str, Any]:
    body: dict[str, Any] = {"model": model, "input": texts}
    if req.dimensions is not None:
        body["output_dimension"] = req.dimensions
    return body


def parse_response(obj: Mapping[str, Any]) -> EmbeddingResponse:
    from . import EmbeddingResponse

    data = obj.get("data")
    if not isinstance(data, list):
        raise TranslationError("data: expected an array of embeddings", path="data")
    indexed: list[tuple[int, list[float]]] = []
    for position, item in enumerate(data):
        path = f"data[{position}]"
        if not isinstance(item, dict):
            raise TranslationError(f"{path}: expected an object, got {type_name(item)}")
        index = item.get("index", position)
        if type(index) is not int:
            raise TranslationError(f"{path}.index: expected an integer, got {type_name(index)}")
        indexed.append((index, need_vector(item.get("embedding"), f"{path}.embedding")))
    indexed.sort(key=lambda pair: pair[0])
    usage = get_obj(obj, "usage", "") or {}
    tokens = usage.get("prompt_tokens")
    model = obj.get("model")
    return EmbeddingResponse(
        [vector for _, vector in indexed],
        model if isinstance(model, str) else None,
        tokens if type(tokens) is int else None,
    )


def render_response(resp: EmbeddingResponse, req: EmbeddingRequest) -> dict[str, Any]:
    base64 = req.encoding == "base64"
    tokens = resp.input_tokens or 0
    return {
        "object": "list",
        "data": [
            {
                "object": "embedding",
                "index": index,
                "embedding": encode_base64(vector) if base64 else vector,
            }
            for index, vector in enumerate(resp.vectors)
        ],
        "model": resp.model or req.model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }
