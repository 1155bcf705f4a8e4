"""Token usage and cost of realtime sessions, read from the provider's own frames. Sans-IO.

`UsageMeter.feed(frame)` reads the usage a provider reports: OpenAI Realtime `response.done`
(`response.usage` with its text/audio/cached details), Responses WebSocket mode
`response.completed` / `.incomplete` / `.failed` (`response.usage`, text only), Gemini Live
`usageMetadata` (per-modality `promptTokensDetails` / `responseTokensDetails`). A report that
is malformed (a negative count, a string, details adding up to more than the total) never
breaks the session: it is left out and the usage is marked partial, with the reason.

`price(usage, spec)` prices it at the catalog's text and audio prices; whatever cannot be
priced (audio on a model without an audio price, tokens whose modality the provider did not
say, partial usage) makes the cost None with the reason, never 0 or a text-priced guess.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from ..catalog import ModelSpec
from ..universal import Usage
from .events import RealtimeFormat

__all__ = ["RealtimeCost", "RealtimeUsage", "UsageMeter", "price"]

_COUNTS = (
    "input_text_tokens",
    "input_audio_tokens",
    "cached_text_tokens",
    "cached_audio_tokens",
    "input_other_tokens",
    "output_text_tokens",
    "output_audio_tokens",
    "output_other_tokens",
    "reasoning_tokens",
)


@dataclass(frozen=True, slots=True)
class RealtimeUsage:
    """Tokens of one response, or of a whole session (`responses` then lists each one).

    Input counts include their cached part (`cached_*` are a subset of `input_*`, as OpenAI
    counts them); `reasoning_tokens` are a subset of `output_text_tokens`. `*_other_tokens`
    are tokens of a modality the catalog has no price for (image, video) or whose modality
    the provider did not report. `problems` says why the usage is `partial`: a report was
    malformed or missing, so the counts are a lower bound.
    """

    input_text_tokens: int = 0
    input_audio_tokens: int = 0
    cached_text_tokens: int = 0
    cached_audio_tokens: int = 0
    input_other_tokens: int = 0
    output_text_tokens: int = 0
    output_audio_tokens: int = 0
    output_other_tokens: int = 0
    reasoning_tokens: int = 0
    response_id: str | None = None
    responses: tuple[RealtimeUsage, ...] = ()
    problems: tuple[str, ...] = ()

    @property
    def input_tokens(self) -> int:
        return self.input_text_tokens + self.input_audio_tokens + self.input_other_tokens

    @property
    def output_tokens(self) -> int:
        return self.output_text_tokens + self.output_audio_tokens + self.output_other_tokens

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    @property
    def cached_tokens(self) -> int:
        return self.cached_text_tokens + self.cached_audio_tokens

    @property
    def partial(self) -> bool:
        """Some usage was malformed or never reported: the counts are a lower bound."""
        return bool(self.problems)

    def to_usage(self) -> Usage:
        """The universal `Usage` (what hooks, spans and rate limits of HTTP calls carry)."""
        return Usage(
            input_tokens=self.input_tokens,
            output_tokens=self.output_tokens,
            cache_read_tokens=self.cached_tokens,
            reasoning_tokens=self.reasoning_tokens,
            total_tokens=self.total_tokens,
        )

    def __add__(self, other: RealtimeUsage) -> RealtimeUsage:
        counts = {name: getattr(self, name) + getattr(other, name) for name in _COUNTS}
        return RealtimeUsage(**counts, problems=self.problems + other.problems)


@dataclass(frozen=True, slots=True)
class RealtimeCost:
    """Dollars at catalog prices; `dollars` is None when they cannot be known (`reason` says why)."""

    dollars: float | None
    reason: str | None = None


class _Malformed(Exception):
    pass


def _count(value: Any, path: str, *, required: bool = False) -> int:
    if value is None and not required:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        shown = orjson.dumps(value).decode()[:40] if _jsonable(value) else type(value).__name__
        raise _Malformed(f"{path} must be a non-negative integer, got {shown}")
    return value


def _jsonable(value: Any) -> bool:
    try:
        orjson.dumps(value)
    except TypeError:
        return False
    return True


def _mapping(value: Any, path: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise _Malformed(f"{path} must be an object")
    return value


def _split(total: int, text: int, audio: int, path: str) -> tuple[int, int, int]:
    """(text, audio, other) of `total` tokens whose text and audio parts were reported."""
    if text + audio > total:
        raise _Malformed(f"{path}: text ({text}) + audio ({audio}) tokens exceed {total}")
    return text, audio, total - text - audio


def parse_openai_usage(usage: Any, response_id: str | None) -> RealtimeUsage:
    """OpenAI Realtime `response.usage`; input/output details split text and audio."""
    usage = _mapping(usage, "response.usage")
    total_in = _count(usage.get("input_tokens"), "usage.input_tokens", required=True)
    total_out = _count(usage.get("output_tokens"), "usage.output_tokens", required=True)
    inputs = usage.get("input_token_details")
    outputs = usage.get("output_token_details")
    if inputs is None:
        text_in, audio_in, other_in = 0, 0, total_in
        cached_text = cached_audio = 0
    else:
        inputs = _mapping(inputs, "usage.input_token_details")
        path = "usage.input_token_details"
        text_in, audio_in, other_in = _split(
            total_in,
            _count(inputs.get("text_tokens"), f"{path}.text_tokens"),
            _count(inputs.get("audio_tokens"), f"{path}.audio_tokens"),
            path,
        )
        cached = _count(inputs.get("cached_tokens"), f"{path}.cached_tokens")
        details = _mapping(inputs.get("cached_tokens_details"), f"{path}.cached_tokens_details")
        cached_text = _count(
            details.get("text_tokens"), f"{path}.cached_tokens_details.text_tokens"
        )
        cached_audio = _count(
            details.get("audio_tokens"), f"{path}.cached_tokens_details.audio_tokens"
        )
        if not details and cached:
            if audio_in == 0 and other_in == 0:
                cached_text = cached  # a text-only input: its cached part is text
            elif text_in == 0 and other_in == 0:
                cached_audio = cached
            else:
                raise _Malformed(
                    f"{path}.cached_tokens ({cached}) of a text and audio input came without "
                    "cached_tokens_details: cannot tell the cached text from the cached audio"
                )
        if cached_text > text_in or cached_audio > audio_in:
            raise _Malformed(f"{path}: cached tokens exceed the tokens they are part of")
    if outputs is None:
        text_out, audio_out, other_out = 0, 0, total_out
    else:
        outputs = _mapping(outputs, "usage.output_token_details")
        path = "usage.output_token_details"
        text_out, audio_out, other_out = _split(
            total_out,
            _count(outputs.get("text_tokens"), f"{path}.text_tokens"),
            _count(outputs.get("audio_tokens"), f"{path}.audio_tokens"),
            path,
        )
    return RealtimeUsage(
        input_text_tokens=text_in,
        input_audio_tokens=audio_in,
        cached_text_tokens=cached_text,
        cached_audio_tokens=cached_audio,
        input_other_tokens=other_in,
        output_text_tokens=text_out,
        output_audio_tokens=audio_out,
        output_other_tokens=other_out,
        response_id=response_id,
    )


def parse_responses_usage(usage: Any, response_id: str | None) -> RealtimeUsage:
    """Responses `response.usage`: this mode is text only, reasoning part of the output."""
    usage = _mapping(usage, "response.usage")
    total_in = _count(usage.get("input_tokens"), "usage.input_tokens", required=True)
    total_out = _count(usage.get("output_tokens"), "usage.output_tokens", required=True)
    inputs = _mapping(usage.get("input_tokens_details"), "usage.input_tokens_details")
    outputs = _mapping(usage.get("output_tokens_details"), "usage.output_tokens_details")
    cached = _count(inputs.get("cached_tokens"), "usage.input_tokens_details.cached_tokens")
    reasoning = _count(
        outputs.get("reasoning_tokens"), "usage.output_tokens_details.reasoning_tokens"
    )
    if cached > total_in or reasoning > total_out:
        raise _Malformed("usage: cached or reasoning tokens exceed the tokens they are part of")
    return RealtimeUsage(
        input_text_tokens=total_in,
        cached_text_tokens=cached,
        output_text_tokens=total_out,
        reasoning_tokens=reasoning,
        response_id=response_id,
    )


def _modalities(value: Any, path: str) -> dict[str, int]:
    if value is None:
        return {}
    if not isinstance(value, Sequence) or isinstance(value, str | bytes):
        raise _Malformed(f"{path} must be an array")
    counts: dict[str, int] = {}
    for index, item in enumerate(value):
        item = _mapping(item, f"{path}[{index}]")
        modality = item.get("modality")
        if not isinstance(modality, str):
            raise _Malformed(f"{path}[{index}].modality must be a string")
        tokens = _count(
            _get(item, "tokenCount", "token_count"), f"{path}[{index}].tokenCount", required=True
        )
        key = modality.upper()
        counts[key] = counts.get(key, 0) + tokens
    return counts


def _get(value: Mapping[str, Any], camel: str, snake: str) -> Any:
    return value.get(camel, value.get(snake))


def parse_gemini_usage(usage: Any) -> RealtimeUsage:
    """Gemini Live `usageMetadata`: counts per modality; thoughts are output apart."""
    usage = _mapping(usage, "usageMetadata")
    prompt = _count(_get(usage, "promptTokenCount", "prompt_token_count"), "promptTokenCount")
    response = _count(
        _get(usage, "responseTokenCount", "response_token_count"), "responseTokenCount"
    )
    thoughts = _count(
        _get(usage, "thoughtsTokenCount", "thoughts_token_count"), "thoughtsTokenCount"
    )
    tool_prompt = _count(
        _get(usage, "toolUsePromptTokenCount", "tool_use_prompt_token_count"),
        "toolUsePromptTokenCount",
    )
    cached = _count(
        _get(usage, "cachedContentTokenCount", "cached_content_token_count"),
        "cachedContentTokenCount",
    )
    prompt_by = _modalities(
        _get(usage, "promptTokensDetails", "prompt_tokens_details"), "promptTokensDetails"
    )
    cached_by = _modalities(
        _get(usage, "cacheTokensDetails", "cache_tokens_details"), "cacheTokensDetails"
    )
    response_by = _modalities(
        _get(usage, "responseTokensDetails", "response_tokens_details"), "responseTokensDetails"
    )
    text_in, audio_in, other_in = _split(
        prompt, prompt_by.get("TEXT", 0), prompt_by.get("AUDIO", 0), "promptTokensDetails"
    )
    if cached_by:
        cached_text, cached_audio = cached_by.get("TEXT", 0), cached_by.get("AUDIO", 0)
    elif cached and audio_in == 0 and other_in == 0:
        cached_text, cached_audio = cached, 0
    elif cached and text_in == 0 and other_in == 0:
        cached_text, cached_audio = 0, cached
    elif cached:
        raise _Malformed(
            f"cachedContentTokenCount ({cached}) of a mixed prompt came without "
            "cacheTokensDetails: cannot tell the cached text from the cached audio"
        )
    else:
        cached_text = cached_audio = 0
    if cached_text > text_in or cached_audio > audio_in:
        raise _Malformed("cacheTokensDetails exceed the prompt tokens they are part of")
    text_out, audio_out, other_out = _split(
        response,
        response_by.get("TEXT", 0),
        response_by.get("AUDIO", 0),
        "responseTokensDetails",
    )
    return RealtimeUsage(
        input_text_tokens=text_in + tool_prompt,
        input_audio_tokens=audio_in,
        cached_text_tokens=cached_text,
        cached_audio_tokens=cached_audio,
        input_other_tokens=other_in,
        output_text_tokens=text_out + thoughts,
        output_audio_tokens=audio_out,
        output_other_tokens=other_out,
        reasoning_tokens=thoughts,
    )


_RESPONSES_DONE = frozenset({"response.completed", "response.incomplete", "response.failed"})


class UsageMeter:
    """Adds up the usage one session's provider reports (see the module docstring).

    Gemini reports usage apart from the end of a turn: the last report before `turnComplete`
    (or a tool call) is the turn's. Every frame is parsed: orjson reads a 32 KB audio delta
    faster than a substring search could rule it out.
    """

    def __init__(self, protocol: RealtimeFormat) -> None:
        self.protocol = protocol
        self._responses: list[RealtimeUsage] = []
        self._pending: RealtimeUsage | None = None  # Gemini: the current turn's last report
        self._turns = 0
        self.last_error: str | None = None
        """The `error.type` of the provider's last OpenAI `error` event (`server_error`...)."""
        self._started: dict[str, None] = {}  # responses begun and not yet done (OpenAI)
        self._answering = False  # a Gemini turn is under way
        self._unfinished: tuple[str, ...] = ()

    def finish(self) -> None:
        """The socket is gone: a response it was still giving never reports its usage."""
        if self._started:
            names = ", ".join(self._started)
            self._unfinished = (f"response(s) {names} ended without reporting usage",)
        elif self._answering and self._pending is None:
            self._unfinished = (f"turn {self._turns + 1} ended without usageMetadata",)
        self._started.clear()
        self._answering = False

    def feed(self, frame: str | bytes) -> None:
        """Read one provider frame; never raises (a bad report is a recorded problem)."""
        try:
            message = orjson.loads(frame)
        except orjson.JSONDecodeError:
            return  # the session itself refuses frames that are not JSON
        if not isinstance(message, dict):
            return
        if self.protocol == RealtimeFormat.GEMINI_LIVE:
            self._gemini(message)
        else:
            self._openai(message)

    def _openai(self, message: Mapping[str, Any]) -> None:
        kind = message.get("type")
        if kind == "error":
            error = message.get("error")
            detail = error.get("type") if isinstance(error, Mapping) else None
            self.last_error = detail if isinstance(detail, str) else "error"
            return
        if kind == "response.created":
            created = message.get("response")
            rid = created.get("id") if isinstance(created, Mapping) else None
            self._started[rid if isinstance(rid, str) else "(no id)"] = None
            return
        realtime = self.protocol == RealtimeFormat.OPENAI_REALTIME
        if kind != "response.done" if realtime else kind not in _RESPONSES_DONE:
            return
        response = message.get("response")
        response = response if isinstance(response, Mapping) else {}
        rid = response.get("id") if isinstance(response.get("id"), str) else None
        self._started.pop(rid or "(no id)", None)
        usage = response.get("usage")
        name = rid or f"response {len(self._responses) + 1}"
        if usage is None:
            self._responses.append(
                RealtimeUsage(response_id=rid, problems=(f"{name} reported no usage",))
            )
            return
        parse = parse_openai_usage if realtime else parse_responses_usage
        try:
            self._responses.append(parse(usage, rid))
        except _Malformed as bad:
            self._responses.append(
                RealtimeUsage(response_id=rid, problems=(f"{name}: malformed usage: {bad}",))
            )

    def _gemini(self, message: Mapping[str, Any]) -> None:
        usage = _get(message, "usageMetadata", "usage_metadata")
        if usage is not None:
            try:
                self._pending = parse_gemini_usage(usage)
            except _Malformed as bad:
                self._pending = RealtimeUsage(
                    problems=(f"turn {self._turns + 1}: malformed usageMetadata: {bad}",)
                )
        content = _get(message, "serverContent", "server_content")
        if isinstance(content, Mapping) and _get(content, "modelTurn", "model_turn") is not None:
            self._answering = True
        ends = isinstance(content, Mapping) and bool(_get(content, "turnComplete", "turn_complete"))
        if ends or _get(message, "toolCall", "tool_call") is not None:
            self._end_turn()

    def _end_turn(self) -> None:
        self._turns += 1
        self._answering = False
        if self._pending is not None:
            self._responses.append(self._pending)
            self._pending = None

    @property
    def usage(self) -> RealtimeUsage:
        """The session's usage so far: the sum of its responses, each listed in `responses`."""
        responses = list(self._responses)
        if self._pending is not None:
            responses.append(self._pending)  # a report whose turn has not ended yet
        total = RealtimeUsage()
        for response in responses:
            total = total + response
        problems = total.problems + self._unfinished
        if self.protocol == RealtimeFormat.GEMINI_LIVE and self._turns and not responses:
            problems += (f"{self._turns} turn(s) ended without any usageMetadata",)
        return dataclasses.replace(total, responses=tuple(responses), problems=problems)


def price(usage: RealtimeUsage, spec: ModelSpec | None, model: str) -> RealtimeCost:
    """Dollars for `usage` at `spec`'s prices (`model` names it in reasons)."""
    if usage.partial:
        return RealtimeCost(None, "usage is partial: " + "; ".join(usage.problems))
    if spec is None:
        return RealtimeCost(None, f"model {model!r} is not in the catalog: no price is known")
    if usage.input_other_tokens or usage.output_other_tokens:
        return RealtimeCost(
            None,
            f"{usage.input_other_tokens} input and {usage.output_other_tokens} output tokens "
            "are of a modality the provider did not report or the catalog has no price for",
        )
    parts = (
        (usage.input_text_tokens - usage.cached_text_tokens, "input_cost_per_mil_tokens", None),
        (
            usage.cached_text_tokens,
            "cache_read_cost_per_mil_tokens",
            "input_cost_per_mil_tokens",
        ),
        (
            usage.input_audio_tokens - usage.cached_audio_tokens,
            "input_audio_cost_per_mil_tokens",
            None,
        ),
        (
            usage.cached_audio_tokens,
            "audio_cache_read_cost_per_mil_tokens",
            "input_audio_cost_per_mil_tokens",
        ),
        (usage.output_text_tokens, "output_cost_per_mil_tokens", None),
        (usage.output_audio_tokens, "output_audio_cost_per_mil_tokens", None),
    )
    total = 0.0
    for tokens, field, fallback in parts:
        if not tokens:
            continue
        rate = getattr(spec, field)
        if rate is None and fallback is not None:
            rate = getattr(spec, fallback)
        if rate is None:
            return RealtimeCost(
                None, f"model {spec.name!r} has no {field} in the catalog ({tokens} tokens used)"
            )
        total += tokens * rate
    return RealtimeCost(total / 1_000_000)
