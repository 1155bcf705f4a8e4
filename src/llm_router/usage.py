"""Token usage as callers see it: read from any format's answer, stream or native usage object.

Every result is a universal `Usage`, whose `input_tokens` counts *all* prompt tokens (cache
reads and writes included; see `Usage`). Sans-IO: decoded JSON or event bytes in, `Usage` out.
Reading usage never breaks a call: a malformed usage object in a stream is simply not counted.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any, Final

import orjson

from llm_router.errors import InvalidUsageError, LLMRouterError
from llm_router.formats import _chat_response
from llm_router.types import ProviderFormat, StreamEvent
from llm_router.universal import Usage

__all__ = ["UsageMeter", "parse_usage", "usage_in_event"]

_Reader = Callable[[Mapping[str, Any]], Usage | None]


# The other formats' wire modules load when a usage of theirs is first read: an OpenAI-only
# program never imports them.


def _anthropic(u: Mapping[str, Any]) -> Usage:
    from llm_router.formats import _anthropic_wire

    return _anthropic_wire.parse_usage(u, "usage")


def _google(u: Mapping[str, Any]) -> Usage:
    from llm_router.formats import _google_wire

    return _google_wire.parse_usage(u, "usageMetadata")


def _converse(u: Mapping[str, Any]) -> Usage:
    from llm_router.formats import _converse_wire

    return _converse_wire.parse_usage(u, "usage")


def _responses(u: Mapping[str, Any]) -> Usage | None:
    from llm_router.formats import _responses_items

    return _responses_items.parse_usage(u)


def _deepseek_chat(u: Mapping[str, Any]) -> Usage | None:
    usage = _chat_response.parse_usage(u)
    hit = u.get("prompt_cache_hit_tokens")  # DeepSeek's spelling of cached prompt tokens
    if usage is not None and usage.cache_read_tokens is None and isinstance(hit, int):
        usage = usage.merge(Usage(cache_read_tokens=hit))
    return usage


def _universal(u: Mapping[str, Any]) -> Usage:
    return Usage(**{key: u[key] for key in _UNIVERSAL_KEYS if key in u})


_UNIVERSAL_KEYS: Final = frozenset(field.name for field in dataclasses.fields(Usage))
_ANTHROPIC_MARKS: Final = frozenset(
    {
        "cache_creation_input_tokens",
        "cache_read_input_tokens",
        "cache_creation",
        "server_tool_use",
        "service_tier",
        "inference_geo",
    }
)

# Each native usage shape: the keys that identify it, the keys it may carry, and its reader.
# Extra keys that hosts add without changing the meaning (timings, their own cost figures)
# are listed so that only a real misspelling is refused.
_NATIVE: Final[tuple[tuple[str, frozenset[str], frozenset[str], _Reader], ...]] = (
    (
        "OpenAI Chat / Mistral",
        frozenset({"prompt_tokens", "completion_tokens"}),
        frozenset(
            {
                "prompt_tokens",
                "completion_tokens",
                "total_tokens",
                "prompt_tokens_details",
                "completion_tokens_details",
                "prompt_cache_hit_tokens",
                "prompt_cache_miss_tokens",
                "prompt_audio_seconds",
                "num_cached_tokens",
                "queue_time",
                "prompt_time",
                "completion_time",
                "total_time",
                "cost",
                "cost_details",
                "is_byok",
                "server_tool_use",
            }
        ),
        _deepseek_chat,
    ),
    (
        "Gemini usageMetadata",
        frozenset(
            {"promptTokenCount", "candidatesTokenCount", "totalTokenCount", "prompt_token_count"}
        ),
        frozenset(
            {
                "promptTokenCount",
                "candidatesTokenCount",
                "totalTokenCount",
                "cachedContentTokenCount",
                "thoughtsTokenCount",
                "toolUsePromptTokenCount",
                "promptTokensDetails",
                "candidatesTokensDetails",
                "cacheTokensDetails",
                "toolUsePromptTokensDetails",
                "trafficType",
                "prompt_token_count",
                "candidates_token_count",
                "total_token_count",
                "cached_content_token_count",
                "thoughts_token_count",
                "tool_use_prompt_token_count",
                "prompt_tokens_details",
                "candidates_tokens_details",
                "cache_tokens_details",
                "tool_use_prompt_tokens_details",
                "traffic_type",
            }
        ),
        _google,
    ),
    (
        "Bedrock Converse",
        frozenset({"inputTokens", "outputTokens", "totalTokens"}),
        frozenset(
            {
                "inputTokens",
                "outputTokens",
                "totalTokens",
                "cacheReadInputTokens",
                "cacheWriteInputTokens",
                "cacheDetails",
            }
        ),
        _converse,
    ),
    (
        "Anthropic Messages",
        _ANTHROPIC_MARKS,
        _ANTHROPIC_MARKS | {"input_tokens", "output_tokens"},
        _anthropic,
    ),
    (
        "OpenAI Responses",
        frozenset({"input_tokens_details", "output_tokens_details"}),
        frozenset(
            {
                "input_tokens",
                "output_tokens",
                "total_tokens",
                "input_tokens_details",
                "output_tokens_details",
            }
        ),
        _responses,
    ),
)


def parse_usage(usage: Usage | Mapping[str, Any] | object) -> Usage:
    """A universal `Usage` from a `Usage`, or from any format's native usage object.

    Accepted: universal field names (a mapping or an object with `input_tokens`, ...);
    OpenAI Chat and Mistral ``usage`` (``prompt_tokens_details.cached_tokens``,
    ``completion_tokens_details.reasoning_tokens``); OpenAI Responses ``usage``; Anthropic
    ``usage`` (``input_tokens`` there counts uncached input, and is converted); Gemini
    ``usageMetadata``; Bedrock Converse ``usage``. Raises `InvalidUsageError` naming the keys
    it does not know, and for counts that are not non-negative integers.
    """
    if isinstance(usage, Usage):
        result = usage
    elif isinstance(usage, Mapping):
        result = _parse_mapping(usage)
    elif callable(getattr(usage, "model_dump", None)):  # an SDK's pydantic usage object
        result = _parse_mapping(usage.model_dump(exclude_none=True))  # type: ignore[attr-defined]
    else:
        result = _universal(
            {key: getattr(usage, key) for key in _UNIVERSAL_KEYS if hasattr(usage, key)}
        )
        if not any(hasattr(usage, key) for key in _UNIVERSAL_KEYS):
            raise InvalidUsageError(
                f"usage must be a Usage, a mapping or an object with input_tokens/output_tokens, "
                f"got {type(usage).__name__}"
            )
    _check_counts(result)
    return result


def _parse_mapping(usage: Mapping[str, Any]) -> Usage:
    keys = set(usage)
    if keys <= _UNIVERSAL_KEYS:
        return _universal(usage)
    for name, marks, known, reader in _NATIVE:
        if keys & marks:
            unknown = keys - known
            if unknown:
                raise InvalidUsageError(
                    f"usage looks like {name} but has unknown keys: {', '.join(sorted(unknown))}",
                    keys=sorted(unknown),
                )
            try:
                result = reader(usage)
            except LLMRouterError as exc:
                raise InvalidUsageError(f"{name} usage: {exc}") from None
            return Usage() if result is None else result
    strange = sorted(keys - _UNIVERSAL_KEYS)
    raise InvalidUsageError(
        f"unknown usage keys: {', '.join(strange)} (expected universal Usage fields such as "
        "input_tokens/output_tokens, or a provider's own usage object)",
        keys=strange,
    )


def _check_counts(usage: Usage) -> None:
    for key in sorted(_UNIVERSAL_KEYS):
        value = getattr(usage, key)
        if value is not None and (
            not isinstance(value, int) or isinstance(value, bool) or value < 0
        ):
            raise InvalidUsageError(
                f"usage field {key!r} must be a non-negative integer, got {value!r}", keys=[key]
            )


# --------------------------------------------------------------------------- streams


def _chat_event(event: StreamEvent, obj: Mapping[str, Any]) -> Mapping[str, Any] | None:
    usage = obj.get("usage")
    return usage if isinstance(usage, Mapping) else None


def _responses_event(event: StreamEvent, obj: Mapping[str, Any]) -> Mapping[str, Any] | None:
    response = obj.get("response")
    usage = response.get("usage") if isinstance(response, Mapping) else None
    return usage if isinstance(usage, Mapping) else None


def _anthropic_event(event: StreamEvent, obj: Mapping[str, Any]) -> Mapping[str, Any] | None:
    holder = obj.get("message") if obj.get("type") == "message_start" else obj
    usage = holder.get("usage") if isinstance(holder, Mapping) else None
    return usage if isinstance(usage, Mapping) else None


def _google_event(event: StreamEvent, obj: Mapping[str, Any]) -> Mapping[str, Any] | None:
    usage = obj.get("usageMetadata")
    return usage if isinstance(usage, Mapping) else None


def _converse_event(event: StreamEvent, obj: Mapping[str, Any]) -> Mapping[str, Any] | None:
    if event.event != "metadata":
        return None
    usage = obj.get("usage")
    return usage if isinstance(usage, Mapping) else None


_EVENT_USAGE: Final = {
    ProviderFormat.OPENAI: (_chat_event, _chat_response.parse_usage),
    ProviderFormat.MISTRAL: (_chat_event, _chat_response.parse_usage),
    ProviderFormat.RESPONSES: (_responses_event, _responses),
    ProviderFormat.ANTHROPIC: (_anthropic_event, _anthropic),
    ProviderFormat.GOOGLE: (_google_event, _google),
    ProviderFormat.CONVERSE: (_converse_event, _converse),
}


def usage_in_event(fmt: ProviderFormat, event: StreamEvent) -> Usage | None:
    """The usage one stream event of format `fmt` reports (cumulative), or None."""
    # Most events carry none: a byte search is far cheaper than decoding each one (one
    # search covers both `"usage"` and Gemini's `"usageMetadata"`; `find`, since a bytes `in`
    # first tries its operand as an integer and swallows the TypeError, at twice the cost).
    if event.data.find(b"usage") < 0:
        return None
    find, read = _EVENT_USAGE[fmt]
    try:
        obj = orjson.loads(event.data)
        if not isinstance(obj, dict):
            return None
        raw = find(event, obj)
        return None if raw is None else read(raw)
    except (orjson.JSONDecodeError, LLMRouterError, TypeError, ValueError, AttributeError):
        return None


class UsageMeter:
    """Accumulates the usage a stream reports, event by event (reports are cumulative)."""

    __slots__ = ("format", "usage")

    def __init__(self, fmt: ProviderFormat) -> None:
        self.format = fmt
        self.usage: Usage | None = None

    def observe(self, event: StreamEvent) -> None:
        if event.data.find(b"usage") < 0:  # `usage_in_event`'s own first test, without the call
            return
        report = usage_in_event(self.format, event)
        if report is not None:
            self.usage = report if self.usage is None else self.usage.merge(report)
