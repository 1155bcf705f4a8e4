"""`GET /v1/models` in OpenAI's and Anthropic's shapes and Gemini's `GET /v1beta/models`:
the configured model aliases, then the catalog models a configured provider serves; and
one model of that list (`GET /v1/models/{id}`, `GET /v1beta/models/{name}`)."""

from __future__ import annotations

from typing import Any

from llm_router.router import Router
from llm_router.types import ProviderFormat

__all__ = ["anthropic_models", "gemini_models", "one_model", "openai_models", "served_models"]

_CREATED_AT = "2025-01-01T00:00:00Z"  # the catalog has no release dates


def served_models(router: Router) -> list[tuple[str, str, Any]]:
    """(name, owner, spec or None) of every model the router can route, aliases first."""
    providers = set(router.providers)
    out: list[tuple[str, str, Any]] = []
    seen: set[str] = set()
    for alias in router.model_aliases:
        seen.add(alias)
        out.append((alias, "llm-router", router.catalog.find(alias)))
    for spec in router.catalog.filter():
        owners = [p for p in spec.available_providers if p in providers]
        if owners and spec.name not in seen:
            seen.add(spec.name)
            out.append((spec.name, owners[0], spec))
    return out


def _openai_entry(name: str, owner: str, spec: Any) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": 0, "owned_by": owner}


def _anthropic_entry(name: str, owner: str, spec: Any) -> dict[str, Any]:
    return {
        "type": "model",
        "id": name,
        "display_name": (spec.display_name if spec is not None else None) or name,
        "created_at": _CREATED_AT,
    }


def _gemini_entry(name: str, owner: str, spec: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "name": f"models/{name}",
        "displayName": (spec.display_name if spec is not None else None) or name,
        "supportedGenerationMethods": ["generateContent", "countTokens"],
    }
    if spec is not None and spec.max_input_tokens:
        entry["inputTokenLimit"] = spec.max_input_tokens
    if spec is not None and spec.max_output_tokens:
        entry["outputTokenLimit"] = spec.max_output_tokens
    return entry


_ENTRIES = {
    ProviderFormat.OPENAI: _openai_entry,
    ProviderFormat.ANTHROPIC: _anthropic_entry,
    ProviderFormat.GOOGLE: _gemini_entry,
}


def one_model(router: Router, name: str, fmt: ProviderFormat) -> dict[str, Any] | None:
    """The entry of model `name` in `fmt`'s shape (as its listing shows it), or None when
    the router cannot route it."""
    for served, owner, spec in served_models(router):
        if served == name:
            return _ENTRIES[fmt](served, owner, spec)
    return None


def openai_models(router: Router) -> dict[str, Any]:
    data = [_openai_entry(*entry) for entry in served_models(router)]
    return {"object": "list", "data": data}


def anthropic_models(router: Router) -> dict[str, Any]:
    data = [_anthropic_entry(*entry) for entry in served_models(router)]
    return {
        "data": data,
        "has_more": False,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
    }


def gemini_models(router: Router) -> dict[str, Any]:
    return {"models": [_gemini_entry(*entry) for entry in served_models(router)]}
