"""Embedding wire formats, sans-IO: bodies in, universal embedding requests and answers out.

Owns `EmbeddingFormat` (the embedding wires on either side of a call), the universal
`EmbeddingRequest` / `EmbeddingResponse`, and translation between them and every wire: how a
request is split into the calls a provider accepts (`plan_requests`), and how the answers are
read (`parse_response`) and rendered for the caller (`render_response`). Knows nothing about
URLs, credentials or retries; no I/O.

Caller formats are `openai` (`/v1/embeddings`), `google` (Gemini `embedContent`) and
`google-batch` (Gemini `batchEmbedContents`); `mistral`, `vertex` (`:predict`), `titan` and
`cohere` (Bedrock InvokeModel bodies) are spoken to providers only.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from llm_router.errors import TranslationError

from . import _bedrock, _google, _openai
from ._common import Input, decode_base64, encode_base64, estimate_input_tokens

__all__ = [
    "CALLER_FORMATS",
    "EmbeddingFormat",
    "EmbeddingRequest",
    "EmbeddingResponse",
    "Input",
    "decode_base64",
    "encode_base64",
    "estimate_input_tokens",
    "max_inputs",
    "merge_responses",
    "parse_request",
    "parse_response",
    "plan_requests",
    "render_response",
    "retarget",
    "translate_embedding_request",
    "translate_embedding_response",
]


class EmbeddingFormat(enum.StrEnum):
    """An embedding wire: what a body looks like on one side of a call."""

    OPENAI = "openai"  # OpenAI /v1/embeddings (also Azure OpenAI and compatible hosts)
    GOOGLE = "google"  # Gemini models/{m}:embedContent (one content)
    GOOGLE_BATCH = "google-batch"  # Gemini models/{m}:batchEmbedContents
    MISTRAL = "mistral"  # Mistral /v1/embeddings (output_dimension, no token ids)
    VERTEX = "vertex"  # Vertex AI publishers/google/models/{m}:predict
    TITAN = "titan"  # Bedrock InvokeModel, Amazon Titan Text Embeddings (one text a call)
    COHERE = "cohere"  # Bedrock InvokeModel, Cohere Embed

    @classmethod
    def parse_caller(cls, value: EmbeddingFormat | str) -> EmbeddingFormat:
        """A caller format (`openai`, `google`, `google-batch`); ValueError naming them else."""
        try:
            fmt = cls(value)
        except ValueError:
            fmt = None
        if fmt is None or fmt not in CALLER_FORMATS:
            known = ", ".join(f.value for f in CALLER_FORMATS)
            raise ValueError(f"unknown embedding format {value!r}; expected one of: {known}")
        return fmt


#: The formats a caller may send (the others are provider wires only).
CALLER_FORMATS = (EmbeddingFormat.OPENAI, EmbeddingFormat.GOOGLE, EmbeddingFormat.GOOGLE_BATCH)


@dataclass(frozen=True, slots=True)
class EmbeddingRequest:
    """What to embed, whatever the wire.

    `inputs` are texts, or token-id lists (OpenAI only); `single` records that the caller
    sent one input on its own (OpenAI `"input": "text"`, Gemini `embedContent`), so the
    answer takes the same shape. `encoding` is the caller's wish for the answer
    (`float` or `base64`). `task_type` is Gemini's (`RETRIEVAL_QUERY`, ...), mapped to
    Cohere's `input_type`. `normalize` is Titan's (None: the provider's default).
    """

    model: str
    inputs: tuple[Input, ...]
    single: bool = False
    dimensions: int | None = None
    encoding: str = "float"
    task_type: str | None = None
    title: str | None = None
    user: str | None = None
    normalize: bool | None = None


@dataclass(frozen=True, slots=True)
class EmbeddingResponse:
    """Vectors in input order, the model that made them and the input tokens billed.

    `estimated` is True when the provider reported no token count (the Gemini API) and
    `input_tokens` is the local estimate (a token per four bytes of text)."""

    vectors: list[list[float]]
    model: str | None = None
    input_tokens: int | None = None
    estimated: bool = False
    extras: Mapping[str, Any] = field(default_factory=dict, compare=False)


def parse_request(
    obj: Mapping[str, Any], fmt: EmbeddingFormat, *, model: str | None = None
) -> EmbeddingRequest:
    """A caller body read into the universal request; `model` overrides the body's (Gemini
    callers carry it in the URL). Raises `TranslationError(path=...)` naming a bad field."""
    if fmt is EmbeddingFormat.OPENAI:
        return _openai.parse_request(obj, model)
    if fmt is EmbeddingFormat.GOOGLE:
        return _google.parse_embed_content(obj, model)
    if fmt is EmbeddingFormat.GOOGLE_BATCH:
        return _google.parse_batch(obj, model)
    raise TranslationError(f"{fmt.value} is not an embedding format callers send")


def max_inputs(fmt: EmbeddingFormat, model: str) -> int:
    """How many inputs one upstream call in `fmt` may carry (larger requests are split)."""
    if fmt is EmbeddingFormat.TITAN or fmt is EmbeddingFormat.GOOGLE:
        return 1
    if fmt is EmbeddingFormat.COHERE:
        return 96
    if fmt is EmbeddingFormat.GOOGLE_BATCH:
        return 100
    if fmt is EmbeddingFormat.VERTEX:
        # Gemini embedding models on Vertex take one instance a call; text-embedding-* 250.
        return 1 if "gemini-embedding" in model else 250
    return 2048


def plan_requests(req: EmbeddingRequest, fmt: EmbeddingFormat, model: str) -> list[bytes]:
    """The upstream bodies (in order) that together embed every input of `req` in `fmt`, for
    the provider's model id `model`. Raises `TranslationError` for what `fmt` cannot carry
    (token ids anywhere but OpenAI, dimensions on Cohere v3...)."""
    if not req.inputs:
        raise TranslationError("no input to embed", path="input")
    size = max_inputs(fmt, model)
    chunks = [req.inputs[i : i + size] for i in range(0, len(req.inputs), size)]
    return [orjson.dumps(_render_request(req, chunk, fmt, model)) for chunk in chunks]


def _render_request(
    req: EmbeddingRequest, inputs: tuple[Input, ...], fmt: EmbeddingFormat, model: str
) -> dict[str, Any]:
    if fmt is EmbeddingFormat.OPENAI:
        return _openai.render_request(req, inputs, model)
    texts = _texts(inputs, fmt)
    if fmt is EmbeddingFormat.MISTRAL:
        return _openai.render_mistral_request(req, texts, model)
    if fmt is EmbeddingFormat.GOOGLE:
        return _google.render_embed_content(req, texts[0], model)
    if fmt is EmbeddingFormat.GOOGLE_BATCH:
        return _google.render_batch(req, texts, model)
    if fmt is EmbeddingFormat.VERTEX:
        return _google.render_vertex(req, texts)
    if fmt is EmbeddingFormat.TITAN:
        return _bedrock.render_titan(req, texts[0])
    return _bedrock.render_cohere(req, texts, model)


def _texts(inputs: tuple[Input, ...], fmt: EmbeddingFormat) -> list[str]:
    texts = []
    for index, item in enumerate(inputs):
        if not isinstance(item, str):
            raise TranslationError(
                f"input[{index}]: token-id inputs can only be sent to OpenAI-format embedding"
                f" routes, not to {fmt.value}",
                path=f"input[{index}]",
            )
        texts.append(item)
    return texts


def parse_response(
    obj: Any,
    fmt: EmbeddingFormat,
    *,
    headers: Mapping[str, str] | None = None,
    expected: int | None = None,
) -> EmbeddingResponse:
    """One upstream answer in `fmt` read into vectors and usage. `headers` carry Bedrock's
    token count; `expected` is how many vectors the call asked for (a different number is a
    `TranslationError`: never a silently short answer)."""
    if not isinstance(obj, dict):
        raise TranslationError("an embedding answer must be a JSON object")
    if fmt is EmbeddingFormat.OPENAI or fmt is EmbeddingFormat.MISTRAL:
        resp = _openai.parse_response(obj)
    elif fmt is EmbeddingFormat.GOOGLE:
        resp = _google.parse_embed_content_response(obj)
    elif fmt is EmbeddingFormat.GOOGLE_BATCH:
        resp = _google.parse_batch_response(obj)
    elif fmt is EmbeddingFormat.VERTEX:
        resp = _google.parse_vertex_response(obj)
    elif fmt is EmbeddingFormat.TITAN:
        resp = _bedrock.parse_titan_response(obj)
    else:
        resp = _bedrock.parse_cohere_response(obj, headers or {})
    if expected is not None and len(resp.vectors) != expected:
        raise TranslationError(
            f"the answer has {len(resp.vectors)} embeddings for {expected} inputs"
        )
    return resp


def merge_responses(
    parts: list[EmbeddingResponse], req: EmbeddingRequest, model: str
) -> EmbeddingResponse:
    """The answers of a split request as one; inputs without a reported token count are
    estimated (and the whole marked `estimated`)."""
    vectors: list[list[float]] = []
    tokens = 0
    estimated = False
    offset = 0
    for part in parts:
        vectors.extend(part.vectors)
        if part.input_tokens is None:
            estimated = True
            chunk = req.inputs[offset : offset + len(part.vectors)]
            tokens += estimate_input_tokens(chunk)
        else:
            tokens += part.input_tokens
            estimated = estimated or part.estimated
        offset += len(part.vectors)
    first = parts[0].model if parts else None
    return EmbeddingResponse(vectors, first or model, tokens, estimated)


def render_response(resp: EmbeddingResponse, req: EmbeddingRequest, fmt: EmbeddingFormat) -> bytes:
    """The caller's answer: `resp` in caller format `fmt`, shaped as `req` asked."""
    if fmt is EmbeddingFormat.OPENAI:
        return orjson.dumps(_openai.render_response(resp, req))
    if fmt is EmbeddingFormat.GOOGLE:
        return orjson.dumps(_google.render_embed_content_response(resp))
    if fmt is EmbeddingFormat.GOOGLE_BATCH:
        return orjson.dumps(_google.render_batch_response(resp))
    raise TranslationError(f"{fmt.value} is not an embedding format callers receive")


def translate_embedding_request(
    body: bytes, source: EmbeddingFormat, target: EmbeddingFormat, *, model: str | None = None
) -> list[bytes]:
    """A caller body in `source` as the upstream bodies of `target` (see `plan_requests`)."""
    req = parse_request(_loads(body), source, model=model)
    return plan_requests(req, target, model or req.model)


def translate_embedding_response(
    bodies: list[bytes], target: EmbeddingFormat, req: EmbeddingRequest, caller: EmbeddingFormat
) -> bytes:
    """Upstream answers in `target` (one per planned request) as the caller's answer."""
    parts = [parse_response(_loads(body), target) for body in bodies]
    return render_response(merge_responses(parts, req, req.model), req, caller)


def _loads(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise TranslationError(f"not valid JSON: {exc}") from None


def retarget(body: bytes, obj: Mapping[str, Any], fmt: EmbeddingFormat, model: str) -> bytes:
    """A caller's body passed through in its own format, naming the route's `model`: the
    caller's exact bytes when it already does (or names none, as Gemini bodies may)."""
    if fmt is EmbeddingFormat.OPENAI:
        if obj.get("model") == model:
            return body
        return _dumps({**obj, "model": model})
    wire_model = _google._wire_model(model)
    if fmt is EmbeddingFormat.GOOGLE:
        if "model" not in obj or obj["model"] == wire_model:
            return body
        return _dumps({**obj, "model": wire_model})
    requests = obj.get("requests")
    if not isinstance(requests, list) or all(
        not isinstance(item, dict) or item.get("model", wire_model) == wire_model
        for item in requests
    ):
        return body
    fixed = [
        {**item, "model": wire_model} if isinstance(item, dict) and "model" in item else item
        for item in requests
    ]
    return _dumps({**obj, "requests": fixed})


def _dumps(obj: Mapping[str, Any]) -> bytes:
    try:
        return orjson.dumps(obj)
    except TypeError as exc:  # orjson writes at most 254 levels of nesting
        raise TranslationError(f"request body cannot be re-serialised: {exc}") from None
