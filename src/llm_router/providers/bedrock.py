"""AWS Bedrock runtime: Converse / ConverseStream, and InvokeModel for Anthropic models.

Model ids go into the path percent-encoded (`:` -> `%3A`, ARNs' `/` -> `%2F`); SigV4 signs the
URL as sent. Anthropic callers talking to Claude models use InvokeModel, whose body is the
Messages body without `model`/`stream`, plus `anthropic_version` (and betas as `anthropic_beta`).
"""

from __future__ import annotations

import base64
import dataclasses
import urllib.parse
from collections.abc import Mapping

import httpx
import orjson

from llm_router import errors
from llm_router.auth import ApiKey, AuthConfig, AwsSigV4
from llm_router.formats.embeddings import EmbeddingFormat
from llm_router.framing import DEFAULT_MAX_EVENT_BYTES
from llm_router.providers._aws import BedrockEventDecoder, bedrock_error
from llm_router.providers.base import EventDecoder, Provider, UpstreamRequest, edit_json_body
from llm_router.types import ProviderFormat

__all__ = ["BEDROCK_ANTHROPIC_VERSION", "BedrockProvider"]

#: The `anthropic_version` body field InvokeModel requires for Claude models.
BEDROCK_ANTHROPIC_VERSION = "bedrock-2023-05-31"
_EVENTSTREAM = "application/vnd.amazon.eventstream"
#: The Converse fields CountTokens takes (`ConverseTokensRequest`); it refuses the others.
_COUNTED_CONVERSE = frozenset({"messages", "system", "toolConfig", "additionalModelRequestFields"})


class BedrockProvider(Provider):
    """`https://bedrock-runtime.{region}.amazonaws.com` (the runtime endpoint, as boto3's).

    Auth: `AwsSigV4` (signing region = `region`), or a Bedrock API key sent as a Bearer token
    (`add_api_key`). `add_keys_from_env` reads `AWS_BEARER_TOKEN_BEDROCK`, else
    `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` / `AWS_SESSION_TOKEN`.
    """

    kind = "bedrock"
    native_formats = (ProviderFormat.CONVERSE, ProviderFormat.ANTHROPIC)
    default_base_url = "https://bedrock-runtime.us-east-1.amazonaws.com"
    env_keys = ("AWS_BEARER_TOKEN_BEDROCK",)

    def __init__(
        self,
        region: str = "us-east-1",
        base_url: str | None = None,
        *,
        anthropic_version: str = BEDROCK_ANTHROPIC_VERSION,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        if not region or "/" in region:
            raise errors.ConfigurationError(
                f"BedrockProvider: region must be an AWS region, got {region!r}"
            )
        super().__init__(
            base_url or f"https://bedrock-runtime.{region}.amazonaws.com", headers=headers
        )
        self.region = region
        self.anthropic_version = anthropic_version

    def __repr__(self) -> str:
        return f"BedrockProvider(region={self.region!r}, base_url={self.base_url!r})"

    def format_for(
        self,
        model_format: ProviderFormat | None,
        caller: ProviderFormat,
        *,
        model: str | None = None,
    ) -> ProviderFormat:
        # InvokeModel only when it is a passthrough (Anthropic body to a Claude model); Converse
        # serves every model and every other caller.
        if caller is ProviderFormat.ANTHROPIC and _is_anthropic_model(model_format, model):
            return ProviderFormat.ANTHROPIC
        return ProviderFormat.CONVERSE

    def default_auth(self, key: str) -> AuthConfig:
        """`key` is a Bedrock API key, sent as `Authorization: Bearer`."""
        return ApiKey(key)

    def auth_from_env(self, environ: Mapping[str, str]) -> AuthConfig | None:
        token = environ.get("AWS_BEARER_TOKEN_BEDROCK")
        if token:
            return ApiKey(token)
        access_key, secret_key = (
            environ.get("AWS_ACCESS_KEY_ID"),
            environ.get("AWS_SECRET_ACCESS_KEY"),
        )
        if access_key and secret_key:
            session_token = environ.get("AWS_SESSION_TOKEN") or None
            return AwsSigV4(access_key, secret_key, session_token, region=self.region)
        return None

    def model_url(self, model: str, action: str) -> str:
        """`{base}/model/{percent-encoded id}/{action}`."""
        return f"{self.base_url}/model/{urllib.parse.quote(model, safe='')}/{action}"

    def prepare_body(self, request: UpstreamRequest) -> bytes:
        if request.format is ProviderFormat.ANTHROPIC:
            updates: dict[str, object] = {"anthropic_version": self.anthropic_version}
            betas = _betas(request)
            if betas:
                updates["anthropic_beta"] = betas
            return edit_json_body(request.body, updates, remove=("model", "stream"))
        return edit_json_body(request.body, remove=("model", "modelId", "stream"))

    def build_request(self, request: UpstreamRequest) -> httpx.Request:
        headers = self.base_headers(request)
        headers.pop("anthropic-beta", None)  # carried in the body by InvokeModel
        if request.format is ProviderFormat.ANTHROPIC:
            action = "invoke-with-response-stream" if request.stream else "invoke"
            if request.stream:
                headers["accept"] = _EVENTSTREAM
                headers["x-amzn-bedrock-accept"] = "application/json"
        else:
            action = "converse-stream" if request.stream else "converse"
            if request.stream:
                headers["accept"] = _EVENTSTREAM
        return httpx.Request(
            "POST",
            self.model_url(request.model, action),
            headers=headers,
            content=self.prepare_body(request),
        )

    def embedding_format(self, model: str, caller: EmbeddingFormat) -> EmbeddingFormat | None:
        """InvokeModel for Amazon Titan Text Embeddings and Cohere Embed models."""
        lowered = model.lower()
        if "titan-embed" in lowered:
            return EmbeddingFormat.TITAN
        if "cohere.embed" in lowered:
            return EmbeddingFormat.COHERE
        return None

    def build_embedding_request(self, request: UpstreamRequest) -> httpx.Request:
        headers = self.base_headers(request)
        headers.pop("anthropic-beta", None)
        return httpx.Request(
            "POST", self.model_url(request.model, "invoke"), headers=headers, content=request.body
        )

    def count_tokens_request(self, request: UpstreamRequest) -> httpx.Request | None:
        """CountTokens (`POST /model/{id}/count-tokens`), which Bedrock offers for Claude
        models only: the Converse body's countable fields under `input.converse`, or the
        InvokeModel body, base64-encoded, under `input.invokeModel.body`."""
        if not _is_anthropic_model(None, request.model):
            return None
        body = self.prepare_body(request)
        if request.format is ProviderFormat.ANTHROPIC:
            wrapped: dict[str, object] = {
                "invokeModel": {"body": base64.b64encode(body).decode("ascii")}
            }
        else:
            obj = orjson.loads(body)
            wrapped = {"converse": {k: v for k, v in obj.items() if k in _COUNTED_CONVERSE}}
        headers = self.base_headers(dataclasses.replace(request, stream=False))
        headers.pop("anthropic-beta", None)
        return httpx.Request(
            "POST",
            self.model_url(request.model, "count-tokens"),
            headers=headers,
            content=orjson.dumps({"input": wrapped}),
        )

    def event_decoder(
        self, fmt: ProviderFormat, *, max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES
    ) -> EventDecoder:
        return BedrockEventDecoder(
            invoke=fmt is ProviderFormat.ANTHROPIC, max_event_bytes=max_event_bytes
        )

    def map_error(
        self, status: int, headers: httpx.Headers, body: bytes, alias: str
    ) -> errors.LLMRouterError:
        return bedrock_error(status, headers, body, alias)


def _is_anthropic_model(model_format: ProviderFormat | None, model: str | None) -> bool:
    if model_format is not None:
        return model_format is ProviderFormat.ANTHROPIC
    return model is not None and ("anthropic." in model or "claude" in model)


def _betas(request: UpstreamRequest) -> list[str]:
    """The caller's `anthropic-beta` header flags, after any the body already lists."""
    header = next((v for k, v in request.headers.items() if k.lower() == "anthropic-beta"), "")
    header_betas = [b.strip() for b in header.split(",") if b.strip()]
    if not header_betas:
        return []
    obj = orjson.loads(request.body)
    listed = obj.get("anthropic_beta") if isinstance(obj, dict) else None
    body_betas = [b for b in listed if isinstance(b, str)] if isinstance(listed, list) else []
    return list(dict.fromkeys([*body_betas, *header_betas]))
