"""What a request says, read the same way in every wire format, and rules matching on it.

`Conversation.read` parses a provider body through the library's format modules (so a rule
written once matches OpenAI, Anthropic, Gemini, Converse... requests alike) into the few
things scripted rules look at: the last user text, the tool results carried, the user turn
count, the system prompt, the model, the tools offered and the metadata.

Patterns are `llm_router_testing.patterns.BoundedPattern`s: a search that backtracks too long
raises `PatternTimeoutError` instead of stalling the server.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from llm_router.errors import LLMRouterError
from llm_router.formats import get_format
from llm_router.types import ProviderFormat
from llm_router.universal import Request, Role, TextPart, ToolCallPart, ToolResultPart

from ..patterns import BoundedPattern, PatternError, compile_pattern
from .faults import FaultSpecError

__all__ = [
    "ContentMatch",
    "Conversation",
    "UNSET",
]


def _pattern(value: object, where: str) -> BoundedPattern | None:
    if value is None:
        return None
    try:
        return compile_pattern(value, where)
    except PatternError as error:
        raise FaultSpecError(str(error)) from None


class _Unset:
    __slots__ = ()

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()
"""A match key that was not given (distinct from an explicit null)."""


@dataclass(frozen=True, slots=True)
class Conversation:
    """The format-independent reading of one request that scripted rules match on."""

    model: str
    last_user_text: str
    user_turns: int
    system: str
    tool_results: tuple[tuple[str, str | None], ...]
    """(call id, tool name) of every tool result, oldest first; the name is None if unknown."""
    tools: tuple[str, ...]
    metadata: Mapping[str, Any]
    input_words: int

    @classmethod
    def read(cls, fmt: ProviderFormat, body: Mapping[str, Any], model: str) -> Conversation | None:
        """Read `body` in format `fmt`; None when the format module cannot parse it."""
        try:
            request = get_format(fmt).parse_request(body)
        except (LLMRouterError, ValueError, TypeError, KeyError, AttributeError):
            return None
        return cls.of(request, model or request.model or "")

    @classmethod
    def of(cls, request: Request, model: str) -> Conversation:
        names: dict[str, str] = {}
        results: list[tuple[str, str | None]] = []
        system: list[str] = []
        last_user = ""
        turns = 0
        words = 0
        for message in request.messages:
            texts = [part.text for part in message.content if isinstance(part, TextPart)]
            words += sum(len(text.split()) for text in texts)
            if message.role in (Role.SYSTEM, Role.DEVELOPER):
                system.extend(texts)
            elif message.role is Role.USER and texts:
                turns += 1
                last_user = "\n".join(texts)
            for part in message.content:
                if isinstance(part, ToolCallPart):
                    names[part.id] = part.name
                elif isinstance(part, ToolResultPart):
                    results.append((part.call_id, part.name or names.get(part.call_id)))
        offered = tuple(getattr(tool, "name", "") for tool in request.tools)
        return cls(
            model=model,
            last_user_text=last_user,
            user_turns=turns,
            system="\n".join(system),
            tool_results=tuple(results),
            tools=tuple(name for name in offered if name),
            metadata=dict(request.metadata or {}),
            input_words=words,
        )


@dataclass(frozen=True, slots=True)
class ContentMatch:
    """Conditions on what the request says; UNSET conditions match anything.

    user_text: regex searched in the last user message's text; user_text_is: that
    text exactly; user_text_contains: a substring of it. tool_result_for: a tool whose result
    the conversation carries (None: no tool result at all); tool_call_id: the call id of a
    result carried. turn: the number of user turns. system: regex over the system
    prompt. tools: names that must all be offered. metadata: key -> value, all equal.
    """

    user_text: BoundedPattern | None = None
    user_text_is: str | None = None
    user_text_contains: str | None = None
    tool_result_for: Any = UNSET
    tool_call_id: str | None = None
    turn: int | None = None
    system: BoundedPattern | None = None
    tools: tuple[str, ...] = ()
    metadata: tuple[tuple[str, Any], ...] = ()

    KEYS = frozenset(
        {
            "user_text",
            "user_text_is",
            "user_text_contains",
            "tool_result_for",
            "tool_call_id",
            "turn",
            "system",
            "tools",
            "metadata",
        }
    )

    @property
    def is_empty(self) -> bool:
        return self == ContentMatch()

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> ContentMatch:
        turn = values.get("turn")
        if turn is not None and (isinstance(turn, bool) or not isinstance(turn, int)):
            raise FaultSpecError(f"match.turn must be an integer, got {turn!r}")
        tools = values.get("tools") or ()
        if isinstance(tools, str):
            tools = (tools,)
        metadata = values.get("metadata") or {}
        if not isinstance(metadata, Mapping):
            raise FaultSpecError("match.metadata must be an object of key: value")
        tool_result_for = values.get("tool_result_for", UNSET)
        if tool_result_for is not UNSET and tool_result_for is not None:
            tool_result_for = str(tool_result_for)
        return cls(
            user_text=_pattern(values.get("user_text"), "match.user_text"),
            user_text_is=_optional_str(values.get("user_text_is")),
            user_text_contains=_optional_str(values.get("user_text_contains")),
            tool_result_for=tool_result_for,
            tool_call_id=_optional_str(values.get("tool_call_id")),
            turn=turn,
            system=_pattern(values.get("system"), "match.system"),
            tools=tuple(str(name) for name in tools),
            metadata=tuple((str(k), v) for k, v in metadata.items()),
        )

    def failures(self, conversation: Conversation | None) -> list[str]:
        """Why the conversation does not match, one phrase per failed condition (empty: it does)."""
        if self.is_empty:
            return []
        if conversation is None:
            return ["the request body could not be read as a conversation"]
        failed: list[str] = []
        text = conversation.last_user_text
        shown = _shorten(text)
        if self.user_text is not None and not self.user_text.search(text):
            failed.append(f"user_text /{self.user_text.source}/ not found in {shown}")
        if self.user_text_is is not None and text != self.user_text_is:
            failed.append(f"user text is {shown}, not {self.user_text_is!r}")
        if self.user_text_contains is not None and self.user_text_contains not in text:
            failed.append(f"user text {shown} does not contain {self.user_text_contains!r}")
        names = [name for _, name in conversation.tool_results]
        if self.tool_result_for is None and conversation.tool_results:
            failed.append(f"tool results are present (for {names})")
        elif isinstance(self.tool_result_for, str) and self.tool_result_for not in names:
            failed.append(f"no tool result for {self.tool_result_for!r} (results for {names})")
        if self.tool_call_id is not None and self.tool_call_id not in {
            call_id for call_id, _ in conversation.tool_results
        }:
            failed.append(f"no tool result for call id {self.tool_call_id!r}")
        if self.turn is not None and conversation.user_turns != self.turn:
            failed.append(f"user turn {conversation.user_turns}, not {self.turn}")
        if self.system is not None and not self.system.search(conversation.system):
            failed.append(
                f"system /{self.system.source}/ not found in {_shorten(conversation.system)}"
            )
        missing = [name for name in self.tools if name not in conversation.tools]
        if missing:
            failed.append(f"tools {missing} not offered (offered {list(conversation.tools)})")
        for key, value in self.metadata:
            if conversation.metadata.get(key, UNSET) != value:
                failed.append(f"metadata {key}={conversation.metadata.get(key)!r}, not {value!r}")
        return failed

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.user_text is not None:
            out["user_text"] = self.user_text.source
        if self.user_text_is is not None:
            out["user_text_is"] = self.user_text_is
        if self.user_text_contains is not None:
            out["user_text_contains"] = self.user_text_contains
        if self.tool_result_for is not UNSET:
            out["tool_result_for"] = self.tool_result_for
        if self.tool_call_id is not None:
            out["tool_call_id"] = self.tool_call_id
        if self.turn is not None:
            out["turn"] = self.turn
        if self.system is not None:
            out["system"] = self.system.source
        if self.tools:
            out["tools"] = list(self.tools)
        if self.metadata:
            out["metadata"] = dict(self.metadata)
        return out


def _optional_str(value: object) -> str | None:
    return None if value is None else str(value)


def _shorten(text: str, limit: int = 60) -> str:
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")
