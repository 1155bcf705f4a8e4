"""What an upstream stream has shown so far: whether its answer has begun (the commit point)
and whether it ended the way its format ends a complete answer.

Sans-IO: fed each decoded provider event (and its parsed JSON) in order, it knows nothing of
sockets, callers or retries; `llm_router.upstream` decides what to do with its answers.

- **Content.** Preamble events say only that an answer is coming: Anthropic `message_start`,
  `ping` and an empty `content_block_start`, OpenAI's role-only first chunk, Responses
  `response.created` / `in_progress` / `output_item.added` / `content_part.added`, Bedrock
  `messageStart`, a usage-only chunk. The first event whose universal deltas carry anything
  else (text, reasoning, a refusal, a tool call, a finish reason) is the first content event.
- **Complete.** Each format's own end-of-answer signal (`END_SIGNALS`): a stream whose body
  ends before it was cut short, however cleanly the connection closed. Trailers after the
  signal (OpenAI's usage chunk and `[DONE]` after a finish reason, Bedrock's `metadata` after
  `messageStop`) are not required: compatible hosts omit them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from llm_router.errors import LLMRouterError
from llm_router.formats import StreamParser, get_format
from llm_router.types import ProviderFormat, StreamEvent
from llm_router.universal import BlockStop, MessageStart, StreamErrorDelta, UsageDelta

__all__ = ["END_SIGNALS", "StreamProgress", "ends_answer"]

#: Deltas that are not content: an event producing only these is preamble (or trailer).
_NOT_CONTENT = (MessageStart, UsageDelta, BlockStop, StreamErrorDelta)
_SHAPE_ERRORS = (KeyError, IndexError, TypeError, ValueError, AttributeError)

#: What ends a complete answer in each format, as named in a truncation error.
END_SIGNALS: dict[ProviderFormat, str] = {
    ProviderFormat.OPENAI: "a finish_reason (or [DONE])",
    ProviderFormat.MISTRAL: "a finish_reason (or [DONE])",
    ProviderFormat.RESPONSES: "response.completed (or response.incomplete)",
    ProviderFormat.ANTHROPIC: "message_stop",
    ProviderFormat.GOOGLE: "a finishReason (or promptFeedback.blockReason)",
    ProviderFormat.CONVERSE: "messageStop",
}


class StreamProgress:
    """Watches one provider stream in format `fmt`; call `observe` with every event."""

    __slots__ = ("_fmt", "_parser", "complete", "ends", "has_content")

    def __init__(self, fmt: ProviderFormat) -> None:
        self._fmt = fmt
        #: Whether one event (and its payload, as for `observe`) ends a complete answer: what
        #: `observe` asks once the first content event was seen (callers past that point
        #: may ask it directly).
        self.ends = _ENDS_ANSWER.get(fmt, _ends_chat)
        self._parser: StreamParser | None = get_format(fmt).StreamParser()
        self.has_content = False  # the first content event has been observed
        self.complete = False  # the format's end-of-answer signal has been observed

    @property
    def missing(self) -> str:
        """The end-of-answer signal a stream ending now would lack."""
        return END_SIGNALS.get(self._fmt, "its end-of-answer event")

    def observe(self, event: StreamEvent, payload: Any) -> None:
        """One provider event: `payload` is its parsed JSON (Bedrock: `{type: payload}`),
        None for OpenAI's `[DONE]`."""
        if not self.complete:
            self.complete = self.ends(event, payload)
        if self._parser is not None:
            self._classify(payload)

    def _classify(self, payload: Any) -> None:
        assert self._parser is not None
        if payload is None:  # [DONE]: the answer is over, whatever came before it
            self._content_seen()
            return
        try:
            deltas = self._parser.feed(payload)
        except (LLMRouterError, *_SHAPE_ERRORS):
            # An event this format's parser cannot read is not preamble it knows: commit
            # rather than hold it (passthrough callers get it as it was before).
            self._content_seen()
            return
        if any(not isinstance(delta, _NOT_CONTENT) for delta in deltas):
            self._content_seen()

    def _content_seen(self) -> None:
        self.has_content = True
        self._parser = None  # no more parsing: the commit point is behind us

    def content_by_size(self) -> None:
        """Treat the stream as begun without content (a preamble too large to hold)."""
        self._content_seen()


def _ends_converse(event: StreamEvent, payload: Any) -> bool:
    return event.event == "messageStop"


def _ends_anthropic(event: StreamEvent, payload: Any) -> bool:
    return isinstance(payload, dict) and payload.get("type") == "message_stop"


def _ends_responses(event: StreamEvent, payload: Any) -> bool:
    return isinstance(payload, dict) and payload.get("type") in (
        "response.completed",
        "response.incomplete",
    )


def _ends_google(event: StreamEvent, payload: Any) -> bool:
    if not isinstance(payload, dict):
        return False
    feedback = payload.get("promptFeedback")
    if isinstance(feedback, dict) and feedback.get("blockReason"):
        return True
    return _any_field(payload.get("candidates"), "finishReason")


def _ends_chat(event: StreamEvent, payload: Any) -> bool:
    """OpenAI Chat and Mistral: a finish reason, or the `[DONE]` sentinel (payload None)."""
    if payload is None:
        return True
    return isinstance(payload, dict) and _any_field(payload.get("choices"), "finish_reason")


#: Whether one event (and its parsed payload; None for `[DONE]`) ends a complete answer.
_ENDS_ANSWER = {
    ProviderFormat.CONVERSE: _ends_converse,
    ProviderFormat.ANTHROPIC: _ends_anthropic,
    ProviderFormat.RESPONSES: _ends_responses,
    ProviderFormat.GOOGLE: _ends_google,
    ProviderFormat.OPENAI: _ends_chat,
    ProviderFormat.MISTRAL: _ends_chat,
}


def _any_field(items: Any, name: str) -> bool:
    if not isinstance(items, list):
        return False
    return any(isinstance(item, dict) and item.get(name) for item in items)


def ends_answer(fmt: ProviderFormat) -> Callable[[StreamEvent, Any], bool]:
    """The test of whether one event (and its parsed payload; None for `[DONE]`) ends a
    complete answer in `fmt`."""
    return _ENDS_ANSWER.get(fmt, _ends_chat)
