"""How `llm-router chat` shows an answer: text as it is, reasoning dimmed (labelled when the
output is not a terminal), tool calls as `name(arguments)` while their arguments stream,
refusals labelled; the finish reason is kept for the summary line.

Fed universal stream deltas (`delta`) or a whole answer's parts (`part`); it knows nothing
of wire formats.
"""

from __future__ import annotations

from typing import TextIO

from llm_router.universal import (
    ContentPart,
    Finish,
    FinishReason,
    ReasoningDelta,
    ReasoningPart,
    RefusalDelta,
    RefusalPart,
    StreamDelta,
    TextDelta,
    TextPart,
    ToolCallDelta,
    ToolCallPart,
    ToolCallStart,
)

__all__ = ["AnswerPrinter"]

_DIM, _RESET = "\x1b[2m", "\x1b[0m"


class AnswerPrinter:
    """Writes an answer's pieces to `out`, one kind per line; `color` dims the reasoning."""

    def __init__(self, out: TextIO, *, color: bool = False) -> None:
        self.out = out
        self.color = color
        self.finish: FinishReason | None = None
        self.tool_calls: list[tuple[str, str]] = []  # (name, arguments) as shown
        self._kind: str | None = None  # what the current line shows
        self._tool: int | None = None  # index of the tool call being shown
        self._names: dict[int, str] = {}
        self._arguments: dict[int, list[str]] = {}

    # -- a stream -------------------------------------------------------------------------
    def delta(self, delta: StreamDelta) -> None:
        if isinstance(delta, TextDelta) and delta.text:
            self._write("text", delta.text)
        elif isinstance(delta, ReasoningDelta) and delta.text:
            self._write("reasoning", delta.text)
        elif isinstance(delta, RefusalDelta) and delta.text:
            self._write("refusal", delta.text)
        elif isinstance(delta, ToolCallStart):
            self._names[delta.index] = delta.name
            self._arguments[delta.index] = []
            self._open_tool(delta.index)
        elif isinstance(delta, ToolCallDelta) and delta.arguments:
            if delta.index not in self._names:
                self._names[delta.index] = "?"
                self._arguments[delta.index] = []
            if self._tool != delta.index:
                self._open_tool(delta.index)
            self._arguments[delta.index].append(delta.arguments)
            self._emit(delta.arguments)
        elif isinstance(delta, Finish):
            self.finish = delta.reason

    # -- a whole answer -------------------------------------------------------------------
    def part(self, part: ContentPart) -> None:
        if isinstance(part, TextPart) and part.text:
            self._write("text", part.text)
        elif isinstance(part, ReasoningPart) and (part.text or part.summary):
            self._write("reasoning", part.text or "\n".join(part.summary))
        elif isinstance(part, RefusalPart) and part.text:
            self._write("refusal", part.text)
        elif isinstance(part, ToolCallPart):
            index = len(self._names)
            self._names[index] = part.name
            self._arguments[index] = [part.arguments]
            self._open_tool(index)
            self._emit(part.arguments)

    def close(self) -> None:
        """End the last line (and record the tool calls shown)."""
        self._end_line()
        self.tool_calls = [
            (self._names[i], "".join(self._arguments[i])) for i in sorted(self._names)
        ]
        self.out.flush()

    # -- lines ----------------------------------------------------------------------------
    def _write(self, kind: str, text: str) -> None:
        if self._kind != kind:
            self._end_line()
            self._kind = kind
            if kind == "reasoning":
                self._emit(_DIM if self.color else "thinking: ")
            elif kind == "refusal":
                self._emit("refusal: ")
        self._emit(text)

    def _open_tool(self, index: int) -> None:
        self._end_line()
        self._kind, self._tool = "tool", index
        self._emit(f"→ {self._names[index]}(")

    def _end_line(self) -> None:
        if self._kind is None:
            return
        if self._kind == "tool":
            self._emit(")")
        elif self._kind == "reasoning" and self.color:
            self._emit(_RESET)
        self._emit("\n")
        self._kind = self._tool = None

    def _emit(self, text: str) -> None:
        self.out.write(text)
        self.out.flush()
