"""Gemini `embedContent` / `batchEmbedContents`, and Vertex AI's `:predict` for embeddings."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from llm_router.errors import TranslationError
from llm_router.formats import get_list, get_obj, get_str, need_obj

from ._common import need_positive_int, need_vector

if TYPE_CHECKING:
    from . import EmbeddingRequest, EmbeddingResponse


def _bare_model(name: str) -> str:
    return name.removeprefix("models/")


def _wire_model(model: str) -> str:
    """`models/{id}` as Gemini bodies name a model (Vertex publisher paths reduced)."""
    if model.startswith(("models/", "tunedModels/")):
        return model
    return "models/" + model.rsplit("/", 1)[-1]


def _text_of(content: Mapping[str, Any], path: str) -> str:
    parts = get_list(content, "parts", path)
    if not parts:
        raise TranslationError(f"{path}.parts: must hold at least one text part", path=path)
    texts = []
    for index, part in enumerate(parts):
        where = f"{path}.parts[{index}]"
        part = need_obj(part, where)
        text = part.get("text")
        if type(text) is not str:
            raise TranslationError(
                f"{where}: only text parts can be embedded through another provider"
                f" (got {', '.join(sorted(part)) or 'an empty part'})",
                path=where,
            )
        texts.append(text)
    joined = " ".join(texts)
    if not joined:
        raise TranslationError(f"{path}: the text to embed is empty", path=path)
    return joined


def _one(obj: Mapping[str, Any], path: str) -> tuple[str, str | None, str | None, int | None]:
    """(text, taskType, title, outputDimensionality) of one embedContent request."""
    content = get_obj(obj, "content", path)
    where = f"{path}.content" if path else "content"
    if content is None:
        raise TranslationError(f"{where}: required", path=where)
    text = _text_of(content, where)
    dims = need_positive_int(
        obj.get("outputDimensionality"),
        f"{path}.outputDimensionality" if path else "outputDimensionality",
    )
    return text, get_str(obj, "taskType", path), get_str(obj, "title", path), dims


def _model_from(obj: Mapping[str, Any], path: str, model: str | None) -> str:
    if model is not None:
        return _bare_model(model)
    name = get_str(obj, "model", path)
    if not name:
        where = f"{path}.model" if path else "model"
        raise TranslationError(
            f"{where}: required (Gemini requests carry the model in the URL; pass model=...)",
            path=where,
        )
    return _bare_model(name)


def parse_embed_content(obj: Mapping[str, Any], model: str | None) -> EmbeddingRequest:
    from . import EmbeddingRequest

    text, task, title, dims = _one(obj, "")
    return EmbeddingRequest(
        model=_model_from(obj, "", model),
        inputs=(text,),
        single=True,
        dimensions=dims,
        task_type=task,
        title=title,
    )


def parse_batch(obj: Mapping[str, Any], model: str | None) -> EmbeddingRequest:
    from . import EmbeddingRequest

    requests = get_list(obj, "requests", "")
    if not requests:
        raise TranslationError("requests: must hold at least one request", path="requests")
    texts: list[str] = []
    settings: tuple[str | None, str | None, int | None] | None = None
    for index, item in enumerate(requests):
        path = f"requests[{index}]"
        text, task, title, dims = _one(need_obj(item, path), path)
        texts.append(text)
        these = (task, title, dims)
        if settings is None:
            settings = these
        elif these != settings:
            raise TranslationError(
                f"{path}: taskType, title and outputDimensionality must be the same in every"
                " request of a batch sent through another provider",
                path=path,
            )
    assert settings is not None
    name = _model_from(need_obj(requests[0], "requests[0]"), "requests[0]", model)
    task, title, dims = settings
    return EmbeddingRequest(
        model=name, inputs=tuple(texts), dimensions=dims, task_type=task, title=title
    )


def render_embed_content(req: EmbeddingRequest, text: str, model: str) -> dict[str, Any]:
    body: dict[str, Any] = {"model": _wire_model(model), "content": {"parts": [{"text": text}]}}
    if req.task_type is not None:
        body["taskType"] = req.task_type
    if req.title is not None:
        body["title"] = req.title
    if req.dimensions is not None:
        body["outputDimensionality"] = req.dimensions
    return body


def render_batch(req: EmbeddingRequest, texts: list[str], model: str) -> dict[str, Any]:
    return {"requests": [render_embed_content(req, text, model) for text in texts]}


def render_vertex(req: EmbeddingRequest, texts: list[str]) -> dict[str, Any]:
    instances = []
    for text in texts:
        instance: dict[str, Any] = {"content": text}
        if req.task_type is not None:
            instance["task_type"] = req.task_type
        if req.title is not None:
            instance["title"] = req.title
        instances.append(instance)
    body: dict[str, Any] = {"instances": instances}
    if req.dimensions is not None:
        body["parameters"] = {"outputDimensionality": req.dimensions}
    return body


def _values(obj: Any, path: str) -> list[float]:
    embedding = need_obj(obj, path)
    return need_vector(embedding.get("values"), f"{path}.values")


def _usage_tokens(obj: Mapping[str, Any]) -> int | None:
    usage = obj.get("usageMetadata")
    if isinstance(usage, dict):
        count = usage.get("promptTokenCount", usage.get("totalTokenCount"))
        if type(count) is int:
            return count
    return None


def parse_embed_content_response(obj: Mapping[str, Any]) -> EmbeddingResponse:
    from . import EmbeddingResponse

    if "embedding" not in obj:
        raise TranslationError("embedding: required in an embedContent answer", path="embedding")
    return EmbeddingResponse([_values(obj["embedding"], "embedding")], None, _usage_tokens(obj))


def parse_batch_response(obj: Mapping[str, Any]) -> EmbeddingResponse:
    from . import EmbeddingResponse

    if not isinstance(obj.get("embeddings"), list):
        raise TranslationError("embeddings: expected an array", path="embeddings")
    vectors = [_values(item, f"embeddings[{i}]") for i, item in enumerate(obj["embeddings"])]
    return EmbeddingResponse(vectors, None, _usage_tokens(obj))


def parse_vertex_response(obj: Mapping[str, Any]) -> EmbeddingResponse:
    from . import EmbeddingResponse

    predictions = obj.get("predictions")
    if not isinstance(predictions, list):
        raise TranslationError("predictions: expected an array", path="predictions")
    vectors = []
    tokens: int | None = 0
    for index, item in enumerate(predictions):
        path = f"predictions[{index}]"
        embeddings = need_obj(need_obj(item, path).get("embeddings"), f"{path}.embeddings")
        vectors.append(need_vector(embeddings.get("values"), f"{path}.embeddings.values"))
        statistics = embeddings.get("statistics")
        count = statistics.get("token_count") if isinstance(statistics, dict) else None
        if type(count) is float and count.is_integer():
            count = int(count)
        if type(count) is int and tokens is not None:
            tokens += count
        else:
            tokens = None
    return EmbeddingResponse(vectors, None, tokens)


def render_embed_content_response(resp: EmbeddingResponse) -> dict[str, Any]:
    if len(resp.vectors) != 1:
        raise TranslationError(
            f"an embedContent answer holds one embedding, not {len(resp.vectors)}"
        )
    return {"embedding": {"values": resp.vectors[0]}}


def render_batch_response(resp: EmbeddingResponse) -> dict[str, Any]:
    return {"embeddings": [{"values": vector} for vector in resp.vectors]}


__all__ = [
    "parse_batch",
    "parse_batch_response",
    "parse_embed_content",
    "parse_embed_content_response",
    "parse_vertex_response",
    "render_batch",
    "render_batch_response",
    "render_embed_content",
    "render_embed_content_response",
    "render_vertex",
]
