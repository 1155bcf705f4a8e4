"""OpenAI-compatible Chat Completions endpoints: any base URL, plus presets for known hosts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

import httpx

from llm_router import errors
from llm_router.auth import AuthConfig
from llm_router.formats.embeddings import EmbeddingFormat
from llm_router.providers.base import (
    Provider,
    UpstreamRequest,
    endpoint,
    openai_style_embedding_request,
)
from llm_router.types import ProviderFormat

__all__ = ["PRESETS", "CompatPreset", "OpenAICompatibleProvider"]


@dataclass(frozen=True, slots=True)
class CompatPreset:
    """A known OpenAI-compatible host: its base URL (or a template) and key variables."""

    name: str
    base_url: str
    env_keys: tuple[str, ...] = ()
    requires_auth: bool = True


#: Known hosts. A `{workspace}` in a base URL must be filled in (`preset(..., workspace=...)`).
PRESETS: Mapping[str, CompatPreset] = MappingProxyType(
    {
        p.name: p
        for p in (
            CompatPreset("together", "https://api.together.xyz/v1", ("TOGETHER_API_KEY",)),
            CompatPreset("groq", "https://api.groq.com/openai/v1", ("GROQ_API_KEY",)),
            CompatPreset(
                "fireworks", "https://api.fireworks.ai/inference/v1", ("FIREWORKS_API_KEY",)
            ),
            CompatPreset(
                "perplexity", "https://api.perplexity.ai", ("PERPLEXITY_API_KEY", "PPLX_API_KEY")
            ),
            CompatPreset("xai", "https://api.x.ai/v1", ("XAI_API_KEY",)),
            CompatPreset("cerebras", "https://api.cerebras.ai/v1", ("CEREBRAS_API_KEY",)),
            CompatPreset("deepseek", "https://api.deepseek.com/v1", ("DEEPSEEK_API_KEY",)),
            CompatPreset("openrouter", "https://openrouter.ai/api/v1", ("OPENROUTER_API_KEY",)),
            CompatPreset("baseten", "https://inference.baseten.co/v1", ("BASETEN_API_KEY",)),
            CompatPreset(
                "cohere", "https://api.cohere.ai/compatibility/v1", ("COHERE_API_KEY", "CO_API_KEY")
            ),
            CompatPreset(
                "databricks", "https://{workspace}/serving-endpoints", ("DATABRICKS_TOKEN",)
            ),
            CompatPreset("ollama", "http://127.0.0.1:11434/v1", (), requires_auth=False),
        )
    }
)


class OpenAICompatibleProvider(Provider):
    """A server speaking OpenAI Chat Completions at `{base_url}/chat/completions`.

    `OpenAICompatibleProvider(base_url)` for any host, or `OpenAICompatibleProvider.preset(name)`
    for the hosts in `PRESETS`. `env_keys` name the variables `add_keys_from_env` reads;
    `requires_auth=False` for local servers (a key, when given, is still sent as Bearer).
    """

    kind = "openai-compatible"
    native_formats = (ProviderFormat.OPENAI,)
    default_base_url = "http://127.0.0.1:8000/v1"  # placeholder: a base_url is required

    def __init__(
        self,
        base_url: str,
        *,
        name: str = "openai-compatible",
        env_keys: Sequence[str] = (),
        requires_auth: bool = True,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        if not base_url:
            raise errors.ConfigurationError(
                "OpenAICompatibleProvider needs a base_url (e.g. 'https://host/v1'), or use "
                f"OpenAICompatibleProvider.preset(name) with one of: {', '.join(PRESETS)}"
            )
        super().__init__(base_url, headers=headers)
        self.name = name
        self.key_env_vars = tuple(env_keys)
        self._requires_auth = requires_auth

    @classmethod
    def preset(
        cls,
        name: str,
        *,
        base_url: str | None = None,
        workspace: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> OpenAICompatibleProvider:
        """A provider for a known host; `base_url` overrides its URL, `workspace` fills
        `{workspace}` (Databricks: `adb-123.4.azuredatabricks.net`)."""
        spec = PRESETS.get(name)
        if spec is None:
            raise errors.ConfigurationError(
                f"unknown OpenAI-compatible preset {name!r}; known: {', '.join(PRESETS)}"
            )
        url = base_url or spec.base_url
        if "{workspace}" in url:
            if not workspace:
                raise errors.ConfigurationError(
                    f"preset {name!r} needs workspace=... (the workspace host) or base_url=..."
                )
            host = workspace.removeprefix("https://").removeprefix("http://").strip("/")
            url = url.replace("{workspace}", host)
        return cls(
            url,
            name=name,
            env_keys=spec.env_keys,
            requires_auth=spec.requires_auth,
            headers=headers,
        )

    def __repr__(self) -> str:
        return f"OpenAICompatibleProvider(name={self.name!r}, base_url={self.base_url!r})"

    @property
    def requires_auth(self) -> bool:
        return self._requires_auth

    def auth_from_env(self, environ: Mapping[str, str]) -> AuthConfig | None:
        for variable in self.key_env_vars:
            if environ.get(variable):
                return self.default_auth(environ[variable])
        return None

    def build_request(self, request: UpstreamRequest) -> httpx.Request:
        return httpx.Request(
            "POST",
            endpoint(self.base_url, "/chat/completions"),
            headers=self.base_headers(request),
            content=self.prepare_body(request),
        )

    def embedding_format(self, model: str, caller: EmbeddingFormat) -> EmbeddingFormat | None:
        return EmbeddingFormat.OPENAI

    def build_embedding_request(self, request: UpstreamRequest) -> httpx.Request:
        return openai_style_embedding_request(self, request)
