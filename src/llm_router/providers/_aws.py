"""Bedrock wire details shared by the provider: HTTP error mapping and stream event decoding.

HTTP errors name their exception in the `x-amzn-ErrorType` header (`ThrottlingException:http://...`)
with `{"message": ...}` as body. Streams are AWS event-stream frames, decoded by
`llm_router.framing.eventstream` and turned into `StreamEvent`s here.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any, ClassVar

import orjson

from llm_router import errors
from llm_router._json import dumps
from llm_router.framing import DEFAULT_MAX_EVENT_BYTES
from llm_router.framing.eventstream import EventStreamDecoder, aws_error_class
from llm_router.providers.base import error_from_response, parse_error_body, retry_after_seconds
from llm_router.types import StreamEvent

__all__ = ["BedrockEventDecoder", "aws_error_type", "bedrock_error"]


def aws_error_type(headers: Mapping[str, str], body: Mapping[str, Any]) -> str:
    """The exception name from `x-amzn-ErrorType`, else from the body's `__type`."""
    lowered = {k.lower(): v for k, v in headers.items()}
    raw = lowered.get("x-amzn-errortype") or str(body.get("__type", ""))
    return raw.split(":", 1)[0].rsplit("#", 1)[-1].strip()


def bedrock_error(
    status: int, headers: Mapping[str, str], body: bytes, alias: str
) -> errors.LLMRouterError:
    """Map a Bedrock error answer to a typed error, keyed by its exception name."""
    parsed = parse_error_body(body)
    obj: Mapping[str, Any] = parsed if isinstance(parsed, dict) else {}
    kind = aws_error_type(headers, obj)
    known = aws_error_class(kind)
    cls = known[0] if known else None
    if cls is None or not issubclass(cls, errors.ProviderError):
        # ValidationException and unknown names: the status and message decide (context
        # window and content-filter messages hide behind ValidationException).
        return error_from_response(status, headers, body, alias, kind_override=kind)
    message = obj.get("message") or obj.get("Message") or ""
    text = f"{alias}: HTTP {status} {kind}" + (f": {message}" if message else "")
    hdrs = {k.lower(): v for k, v in headers.items()}
    if cls is errors.RateLimitError:
        return errors.RateLimitError(
            text,
            retry_after=retry_after_seconds(hdrs),
            status=status,
            body=body,
            provider=alias,
            headers=hdrs,
        )
    return cls(text, status=status, body=body, provider=alias, headers=hdrs)


class BedrockEventDecoder:
    """Event-stream bytes -> `StreamEvent`s.

    ConverseStream frames become `StreamEvent(<eventType>, <payload JSON>)`. For
    InvokeModelWithResponseStream (`invoke=True`) each `chunk` frame's base64 `bytes` hold one
    Anthropic stream event, which becomes `StreamEvent(<its type>, <its JSON>)`. In-stream
    exceptions raise typed errors (from the framing layer).
    """

    __slots__ = ("_frames", "_invoke")
    media_type: ClassVar[str] = "application/vnd.amazon.eventstream"

    def __init__(self, *, invoke: bool, max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES) -> None:
        self._frames = EventStreamDecoder(max_event_bytes=max_event_bytes)
        self._invoke = invoke

    def feed(self, data: bytes) -> list[StreamEvent]:
        out: list[StreamEvent] = []
        for event in self._frames.feed(data):
            for name, payload in event.items():
                if self._invoke and name == "chunk":
                    out.append(_invoke_chunk(payload))
                else:
                    out.append(StreamEvent(name, dumps(payload)))
        return out

    def finish(self) -> list[StreamEvent]:
        self._frames.finish()
        return []


def _invoke_chunk(payload: object) -> StreamEvent:
    encoded = payload.get("bytes") if isinstance(payload, dict) else None
    if not isinstance(encoded, str):
        raise errors.FramingError("Bedrock invoke stream: a chunk event without base64 `bytes`")
    try:
        raw = base64.b64decode(encoded, validate=True)
        event = orjson.loads(raw)
    except (binascii.Error, orjson.JSONDecodeError) as exc:
        raise errors.FramingError(
            f"Bedrock invoke stream: undecodable chunk ({type(exc).__name__})"
        ) from None
    kind = event.get("type") if isinstance(event, dict) else None
    return StreamEvent(kind if isinstance(kind, str) else None, raw)
