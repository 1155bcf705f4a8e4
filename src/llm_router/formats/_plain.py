"""Plain requests, read and written without building the universal objects.

Most requests are plain: turns of one text each, a model, a max-tokens, maybe a temperature,
an output format, a reasoning effort or tools. For those, building a `Request` with a `Message` and a
`TextPart` per turn, and reading every field of it back, costs more than reading and writing
the JSON around them. So each format has a reader, from its wire body to a `Plain` (the turns
and settings as tuples), and a writer, from a `Plain` to the body its `render_request` writes
for the `Request` its `parse_request` reads from the same body. It stays hub-and-spoke: a
`Plain` is a lighter form of the universal request, with one reader and one writer per format
(`_plain_read`, `_plain_write`), never a converter per pair.

A reader returns None for every body it cannot vouch for — any other field, shape or value
type, and so every malformed body — and the general path then reads the body and raises the
typed error naming the fault, so errors are the general path's alone. tests/formats/
test_plain.py checks that every writer gives the general path's bytes on the captured corpus,
on every field of it replaced by each JSON type or left out, on fields added, and on generated
bodies.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from llm_router.formats._chat_request import ChatDialect
from llm_router.types import ProviderFormat
from llm_router.universal import (
    ProviderTool,
    ReasoningConfig,
    ResponseFormat,
    Role,
    Tool,
    ToolChoice,
)

__all__ = ["Plain", "PlainReader", "PlainWriter", "Tooling", "reader", "writer"]

Turns = list[tuple[Role, str]]
"""(role, text) of each turn, in order: system and developer turns, user and assistant turns."""
Settings = tuple[
    float | None,  # temperature
    float | None,  # top_p
    int | None,  # top_k
    tuple[str, ...],  # stop
    int | None,  # seed
    float | None,  # presence_penalty
    float | None,  # frequency_penalty
    ResponseFormat | None,  # response_format
    ReasoningConfig | None,  # reasoning
]
"""The other `Request` fields a plain body may set, by position; the rest are at their defaults."""
Tooling = tuple[tuple[Tool | ProviderTool, ...], ToolChoice | None, bool | None] | None
"""`tools`, `tool_choice` and `parallel_tool_calls`, or None when none is set."""
Plain = tuple[Turns, str | None, int | None, Settings | None, Tooling]
"""Turns, `model`, `max_tokens`, the other settings (None when none is set: the common case)
and the tools."""
PlainReader = Callable[[dict[str, Any]], Plain | None]
PlainWriter = Callable[[Plain, int | None], dict[str, Any]]


def reader(fmt: ProviderFormat) -> PlainReader | None:
    """The plain reader of `fmt`, or None when it has none."""
    from llm_router.formats import _plain_read as read

    if fmt is ProviderFormat.OPENAI or fmt is ProviderFormat.MISTRAL:
        return read.chat_reader(_dialect(fmt))
    factory = {
        ProviderFormat.ANTHROPIC: read.anthropic_reader,
        ProviderFormat.GOOGLE: read.google_reader,
        ProviderFormat.CONVERSE: read.converse_reader,
        ProviderFormat.RESPONSES: read.responses_reader,
    }.get(fmt)
    return None if factory is None else factory()


def writer(fmt: ProviderFormat) -> PlainWriter | None:
    """The plain writer of `fmt`, or None when it has none."""
    from llm_router.formats import _plain_write as write

    if fmt is ProviderFormat.OPENAI or fmt is ProviderFormat.MISTRAL:
        return write.chat_writer(_dialect(fmt))
    factory = {
        ProviderFormat.ANTHROPIC: write.anthropic_writer,
        ProviderFormat.GOOGLE: write.google_writer,
        ProviderFormat.CONVERSE: write.converse_writer,
        ProviderFormat.RESPONSES: write.responses_writer,
    }.get(fmt)
    return None if factory is None else factory()


def _dialect(fmt: ProviderFormat) -> ChatDialect:
    from llm_router.formats import get_format

    dialect: ChatDialect = get_format(fmt).DIALECT  # type: ignore[attr-defined]
    return dialect
