"""Values shared by the fake server's wire renderers: what a request asks for, what it gets.

A renderer reads a provider body into a `Prompt`, `answers.derive_answer` turns that into an
`Answer`, and the renderer writes the `Answer` back in its own wire format.
"""

from __future__ import annotations

import enum
import itertools
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

__all__ = [
    "Answer",
    "ErrorReply",
    "FinishReason",
    "Prompt",
    "RejectedRequest",
    "RenderContext",
    "Template",
    "ToolCall",
    "ToolChoice",
    "ToolSpec",
    "as_dict",
    "default_message",
    "as_list",
    "text_of",
]

JSONObject = dict[str, Any]


class FinishReason(enum.Enum):
    """Why the fake model stopped; each renderer maps it to its own vocabulary."""

    STOP = "stop"
    LENGTH = "length"
    TOOL_CALL = "tool_call"


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A function tool offered by the request: its name and JSON schema for the arguments."""

    name: str
    schema: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class ToolChoice:
    """`auto` (may answer in text), `none`, `required` (any tool) or `named` (that one tool)."""

    mode: str = "auto"
    name: str | None = None


@dataclass(frozen=True, slots=True)
class Prompt:
    """The format-independent reading of a request that the canonical answer depends on."""

    model: str
    last_text: str = ""
    input_words: int = 0
    tools: tuple[ToolSpec, ...] = ()
    tool_choice: ToolChoice = ToolChoice()
    max_tokens: int | None = None
    json_schema: Mapping[str, Any] | None = None
    json_mode: bool = False
    stream: bool = False


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A tool call: the arguments are pre-serialised JSON cut into >= 2 stream fragments."""

    id: str
    name: str
    arguments: str
    fragments: tuple[str, ...]

    def arguments_object(self) -> JSONObject:
        value = orjson.loads(self.arguments)
        return value if isinstance(value, dict) else {}


@dataclass(frozen=True, slots=True)
class Answer:
    """The canonical answer: text pieces (one stream delta each) or one tool call, and usage."""

    pieces: tuple[str, ...]
    tool_call: ToolCall | None
    finish: FinishReason
    input_tokens: int
    output_tokens: int

    @property
    def text(self) -> str:
        return "".join(self.pieces)

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


_ids = itertools.count(1)
_ID_PREFIX = os.urandom(4).hex()


def _new_id() -> str:
    return f"{_ID_PREFIX}{next(_ids):012x}"


@dataclass(frozen=True, slots=True)
class RenderContext:
    """Per-response values a renderer needs: the model to echo, ids, a timestamp, the request.

    `provider` is the serving surface (``bedrock`` for InvokeModel, ...) for the few fields
    that differ between surfaces of one format; `request` is the parsed body, for echoes.
    """

    model: str
    provider: str = ""
    request: Mapping[str, Any] = field(default_factory=dict)
    id: str = field(default_factory=_new_id)
    created: int = field(default_factory=lambda: int(time.time()))


@dataclass(frozen=True, slots=True)
class ErrorReply:
    """A complete error answer: status, body in the provider's format, extra headers."""

    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()


class RejectedRequest(Exception):
    """A request the real provider would refuse (missing field, bad version header, ...)."""

    def __init__(self, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


_DEFAULT_MESSAGES = {
    400: "Invalid request.",
    401: "Invalid authentication credentials.",
    403: "Permission denied.",
    404: "Not found.",
    408: "Request timed out.",
    409: "Conflict.",
    413: "Request too large.",
    422: "Unprocessable request.",
    429: "Rate limit exceeded.",
    500: "Internal server error.",
    502: "Bad gateway.",
    503: "Service unavailable.",
    504: "Gateway timeout.",
    529: "Overloaded.",
}


def default_message(status: int) -> str:
    """The message an injected error of `status` carries."""
    text = _DEFAULT_MESSAGES.get(status, f"Error {status}.")
    return f"{text} (injected by the fake provider)"


_SLOT = "\x00slot\x00"
_SLOT_JSON = orjson.dumps(_SLOT)


@dataclass(frozen=True, slots=True)
class Template:
    """A JSON document pre-serialised around one string slot: streams fill it per delta.

    Rendering a long stream is mostly the same envelope with a different text each time;
    splicing the JSON-encoded text into the serialised envelope avoids rebuilding it.
    """

    before: bytes
    after: bytes

    @classmethod
    def of(cls, build: Callable[[str], Any]) -> Template:
        before, after = orjson.dumps(build(_SLOT)).split(_SLOT_JSON)
        return cls(before, after)

    def fill(self, text: str) -> bytes:
        return self.before + orjson.dumps(text) + self.after


def as_dict(value: object) -> JSONObject:
    """`value` if it is a JSON object, else an empty one (bodies are untrusted input)."""
    return value if isinstance(value, dict) else {}


def as_list(value: object) -> list[Any]:
    """`value` if it is a JSON array, else an empty one."""
    return value if isinstance(value, list) else []


def text_of(content: object, *, text_keys: tuple[str, ...] = ("text",)) -> str:
    """Join the text of a content value: a string, or a list of parts carrying `text_keys`."""
    if isinstance(content, str):
        return content
    texts: list[str] = []
    for part in as_list(content):
        if isinstance(part, str):
            texts.append(part)
            continue
        for key in text_keys:
            value = as_dict(part).get(key)
            if isinstance(value, str):
                texts.append(value)
                break
    return " ".join(texts)
