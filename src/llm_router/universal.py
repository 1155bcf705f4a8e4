"""The universal intermediate representation every wire format translates to and from.

Owns the value types only (requests, responses, content parts, stream deltas, errors); it knows
no wire format. Each `formats/<name>.py` module maps its JSON to and from these types.
"""

from __future__ import annotations

import copy
import dataclasses
import enum
import inspect
import operator
import reprlib
import sys
from collections.abc import Callable, Mapping
from typing import Any, TypeAlias, TypeVar, cast, dataclass_transform

import orjson

__all__ = [
    "AudioPart",
    "BlockStop",
    "ContentPart",
    "DocumentPart",
    "ErrorInfo",
    "ErrorType",
    "Finish",
    "FinishReason",
    "FinishReasonMap",
    "ImagePart",
    "JSONObject",
    "Message",
    "MessageStart",
    "ProviderPart",
    "ProviderTool",
    "ReasoningConfig",
    "ReasoningDelta",
    "ReasoningMode",
    "ReasoningPart",
    "ReasoningSignatureDelta",
    "RefusalDelta",
    "RefusalPart",
    "Request",
    "Response",
    "ResponseFormat",
    "ResponseFormatType",
    "Role",
    "StreamDelta",
    "StreamErrorDelta",
    "TextDelta",
    "TextPart",
    "Tool",
    "ToolCallDelta",
    "ToolCallPart",
    "ToolCallStart",
    "ToolChoice",
    "ToolChoiceMode",
    "ToolResultPart",
    "Usage",
    "UsageDelta",
    "arguments_to_object",
    "budget_for_effort",
    "data_url",
    "effort_for_budget",
    "object_to_arguments",
    "split_data_url",
]

JSONObject: TypeAlias = Mapping[str, Any]
"""A decoded JSON object, kept as received (never deep-copied)."""

_T = TypeVar("_T")


@dataclasses.dataclass(frozen=True, slots=True, init=False)
class _Plain:
    """The dataclass `_value` makes its classes' fields and parameters after."""

    field: object = None


_PLAIN_FIELD = dataclasses.fields(_Plain)[0]
_PLAIN_PARAMS = _Plain.__dataclass_params__  # type: ignore[attr-defined]
_GENERATED = ("__init__", "__repr__", "__eq__", "__hash__", "__getstate__", "__setstate__")
_NOT_COPIED = frozenset({"__dict__", "__weakref__"})


@dataclass_transform(frozen_default=True)
def _value(cls: type[_T]) -> type[_T]:
    """A slotted dataclass that is immutable by contract and as cheap to build as a plain class.

    Every translation builds one of these per message and content part, so construction is
    the hot path. A frozen dataclass guards every assignment at runtime, which turns each
    field store in `__init__` into an ``object.__setattr__`` call: three to four times the cost
    of a plain slot store, and a third of the time of a whole request translation. So the
    runtime guard is left out, and immutability is enforced where it costs nothing: type
    checkers see these classes as frozen (`dataclass_transform(frozen_default=True)`) and
    reject any assignment, and changes are made with `dataclasses.replace`.

    The class is what ``@dataclass(frozen=True, slots=True)`` makes, minus that guard: the
    same fields (`dataclasses.fields`, `replace`, `asdict` work), slots, `__match_args__`,
    equality, hash, `repr` and pickling. It is assembled here rather than by `dataclasses`,
    whose general machinery (a field inspection and five generated functions per class, then
    the class built a second time for its slots) costs about ten times as much: a tenth of a
    second's worth of start-up across this module's classes. Only the plain annotated fields
    these classes use are accepted; anything else raises TypeError instead of being
    half-supported.
    """
    own = cls.__dict__
    if cls.__bases__ != (object,) or "__slots__" in own:
        raise TypeError(f"{cls.__name__}: a value class has no base class and no own __slots__")
    for method in _GENERATED:
        if method in own:
            raise TypeError(f"{cls.__name__}: a value class gets {method} generated")
    annotations: dict[str, str] = own.get("__annotations__", {})
    names = tuple(annotations)
    namespace = {k: v for k, v in own.items() if k not in _NOT_COPIED and k not in annotations}
    fields: dict[str, dataclasses.Field[Any]] = {}
    init_globals: dict[str, Any] = {}
    params: list[str] = []
    body: list[str] = []
    for name in names:
        annotation = annotations[name]
        default = own.get(name, dataclasses.MISSING)
        if (
            "ClassVar" in annotation
            or "InitVar" in annotation
            or isinstance(default, dataclasses.Field)
        ):
            raise TypeError(f"{cls.__name__}.{name}: a value class has plain fields only")
        if default.__class__.__hash__ is None:
            raise ValueError(
                f"mutable default {type(default)} for field {name} is not allowed: "
                "use default_factory"
            )
        field = copy.copy(_PLAIN_FIELD)
        field.name = name
        field.type = annotation
        field.default = default
        fields[name] = field
        if default is dataclasses.MISSING:
            params.append(name)
        else:
            init_globals[f"_default_{name}"] = default
            params.append(f"{name}=_default_{name}")
        body.append(f"self.{name} = {name}")
    source = f"def __init__(self, {', '.join(params)}):\n    " + "\n    ".join(body or ["pass"])
    exec(source, init_globals)  # the same technique `dataclasses` itself uses
    namespace.update(
        __slots__=names,
        __match_args__=names,
        __dataclass_fields__=fields,
        __dataclass_params__=_PLAIN_PARAMS,
        __init__=init_globals["__init__"],
        **_value_methods(names),
    )
    if sys.version_info >= (3, 13):  # where dataclasses support `copy.replace`
        namespace["__replace__"] = _replace
    made = type(cls.__name__, (object,), namespace)
    for method in _GENERATED:
        vars(made)[method].__qualname__ = f"{cls.__qualname__}.{method}"
    if not made.__doc__:  # as `dataclasses` does: the signature stands in for a docstring
        made.__doc__ = made.__name__ + str(inspect.signature(made)).replace(" -> None", "")
    return cast("type[_T]", made)


def _replace(self: Any, /, **changes: Any) -> Any:
    return dataclasses.replace(self, **changes)


def _value_methods(names: tuple[str, ...]) -> dict[str, Callable[..., Any]]:
    """`repr`, equality, hash and pickling state for a value class whose fields are `names`.

    Each compares, hashes and pickles the tuple of the field values, exactly as the functions
    `dataclasses` generates do; `operator.attrgetter` reads the tuple in C, so no function has
    to be compiled per class.
    """
    values: Callable[[Any], tuple[Any, ...]]
    if len(names) > 1:
        values = operator.attrgetter(*names)
    elif names:
        read = operator.attrgetter(names[0])

        def values(self: Any) -> tuple[Any, ...]:
            return (read(self),)

    else:

        def values(self: Any) -> tuple[Any, ...]:
            return ()

    @reprlib.recursive_repr()
    def __repr__(self: Any) -> str:
        shown = ", ".join(
            [f"{name}={value!r}" for name, value in zip(names, values(self), strict=True)]
        )
        return f"{self.__class__.__qualname__}({shown})"

    def __eq__(self: Any, other: object) -> bool:
        if other.__class__ is self.__class__:
            return values(self) == values(other)
        return NotImplemented

    def __hash__(self: Any) -> int:
        return hash(values(self))

    def __getstate__(self: Any) -> list[Any]:
        return list(values(self))

    def __setstate__(self: Any, state: list[Any]) -> None:
        for name, value in zip(names, state, strict=False):  # as `dataclasses`
            object.__setattr__(self, name, value)

    return {
        "__repr__": __repr__,
        "__eq__": __eq__,
        "__hash__": __hash__,
        "__getstate__": __getstate__,
        "__setstate__": __setstate__,
    }


# --------------------------------------------------------------------------- roles and parts


class Role(enum.StrEnum):
    SYSTEM = "system"
    DEVELOPER = "developer"
    USER = "user"
    ASSISTANT = "assistant"
    TOOL = "tool"
    """Messages carrying `ToolResultPart`s (plus, rarely, other parts sent alongside them)."""


@_value
class TextPart:
    """Plain text."""

    text: str
    cache_control: JSONObject | None = None
    """Anthropic-style prompt-cache marker, e.g. ``{"type": "ephemeral"}``."""
    signature: str | None = None
    """Opaque provider signature attached to this part (Gemini `thoughtSignature`)."""
    annotations: tuple[JSONObject, ...] = ()
    """Citations on this text, each flat as OpenAI Responses spells them, e.g.
    ``{"type": "url_citation", "url", "title", "start_index", "end_index"}``."""


@_value
class ImagePart:
    """An image by URL (`url`, may be a ``data:`` URL) or inline base64 (`data`)."""

    url: str | None = None
    data: str | None = None
    """Base64 text, never decoded here."""
    media_type: str | None = None
    detail: str | None = None
    """OpenAI `detail` (auto/low/high)."""
    file_id: str | None = None
    cache_control: JSONObject | None = None


@_value
class AudioPart:
    """Audio input, base64 text in a named format."""

    data: str
    """Base64 text."""
    format: str | None = None
    """Short format name as OpenAI sends it (`wav`, `mp3`)."""
    media_type: str | None = None


@_value
class DocumentPart:
    """A document/file (PDF, text, video...) by URL, inline base64, plain text or file id."""

    url: str | None = None
    data: str | None = None
    """Base64 text, never decoded here."""
    text: str | None = None
    """Plain-text document body (Anthropic `source.type == "text"`)."""
    file_id: str | None = None
    media_type: str | None = None
    name: str | None = None
    """File name or document title."""
    cache_control: JSONObject | None = None
    citations: JSONObject | None = None


@_value
class ToolCallPart:
    """A tool call made by the assistant.

    `arguments` is canonically the JSON *text* of the arguments object, exactly as the model
    produced it (it may be partial or invalid JSON: it is never re-validated). Formats that
    carry an object (Anthropic, Gemini, Converse) convert with `object_to_arguments` /
    `arguments_to_object`.
    """

    id: str
    name: str
    arguments: str = "{}"
    item_id: str | None = None
    """OpenAI Responses `function_call` item id (`fc_...`), distinct from the call id."""
    signature: str | None = None
    """Opaque signature bound to this call (Gemini `thoughtSignature`)."""
    cache_control: JSONObject | None = None


@_value
class ToolResultPart:
    """The result of the tool call `call_id`, sent back to the model."""

    call_id: str
    content: tuple[ContentPart, ...] = ()
    """Text, image or document parts; a plain string result is one `TextPart`."""
    name: str | None = None
    """The called tool's name, when the format says (Gemini needs it)."""
    is_error: bool = False
    cache_control: JSONObject | None = None


@_value
class ReasoningPart:
    """Model reasoning ("thinking"), plain or opaque.

    `text` is the reasoning text (Anthropic `thinking`, Gemini thought text, Responses
    `reasoning_text`); `summary` the Responses summary paragraphs. The opaque fields are only
    meaningful to the provider family named by `origin` (a `ProviderFormat` value):
    `signature` (Anthropic thinking signature, Gemini thought signature), `encrypted`
    (OpenAI `encrypted_content`, Anthropic `redacted_thinking.data` when `redacted`), `id`
    (OpenAI reasoning item id). Renderers drop opaque data from another family.
    """

    text: str = ""
    summary: tuple[str, ...] = ()
    signature: str | None = None
    encrypted: str | None = None
    redacted: bool = False
    id: str | None = None
    origin: str | None = None


@_value
class RefusalPart:
    """The model's refusal to answer, as text."""

    text: str


@_value
class ProviderPart:
    """A provider-native item with no universal meaning, kept as received.

    Examples: Responses `web_search_call` items, Anthropic `server_tool_use` blocks. Only a
    renderer for `origin` (a `ProviderFormat` value) emits it; others drop it.
    """

    origin: str
    data: JSONObject


ContentPart: TypeAlias = (
    TextPart
    | ImagePart
    | AudioPart
    | DocumentPart
    | ToolCallPart
    | ToolResultPart
    | ReasoningPart
    | RefusalPart
    | ProviderPart
)


@_value
class Message:
    """One conversation turn.

    System and developer instructions stay in `Request.messages` at their position (formats
    with a separate system field hoist them). Tool results are `Role.TOOL` messages holding
    `ToolResultPart`s; formats that send results inside a user turn merge consecutive tool and
    user messages when rendering and split them when parsing.
    """

    role: Role
    content: tuple[ContentPart, ...]
    name: str | None = None
    id: str | None = None
    """Item id of the message where the format has one (Responses `msg_...`)."""


# --------------------------------------------------------------------------- tools and config


@_value
class Tool:
    """A function tool; `parameters` is its JSON schema, kept as received."""

    name: str
    description: str | None = None
    parameters: JSONObject | None = None
    strict: bool | None = None
    cache_control: JSONObject | None = None


@_value
class ProviderTool:
    """A provider-native tool (web search, code interpreter...) passed through as-is.

    Only a renderer for `origin` (a `ProviderFormat` value) emits it; others drop it.
    """

    origin: str
    spec: JSONObject


class ToolChoiceMode(enum.StrEnum):
    AUTO = "auto"
    NONE = "none"
    REQUIRED = "required"
    """The model must call some tool (Anthropic/Mistral `any`, Gemini `ANY`)."""
    NAMED = "named"
    """The model must call the tool `ToolChoice.name`."""


@_value
class ToolChoice:
    """Which tools the model may or must call."""

    mode: ToolChoiceMode
    name: str | None = None
    allowed: tuple[str, ...] = ()
    """Restrict to these tool names (Gemini `allowedFunctionNames`, OpenAI `allowed_tools`)."""


class ResponseFormatType(enum.StrEnum):
    TEXT = "text"
    JSON_OBJECT = "json_object"
    JSON_SCHEMA = "json_schema"


@_value
class ResponseFormat:
    """The shape the answer must take: plain text, any JSON object, or a JSON schema."""

    type: ResponseFormatType
    name: str | None = None
    schema: JSONObject | None = None
    strict: bool | None = None
    description: str | None = None


class ReasoningMode(enum.StrEnum):
    ENABLED = "enabled"
    DISABLED = "disabled"
    ADAPTIVE = "adaptive"
    """The model decides how much to think (Anthropic `adaptive`, Gemini budget -1)."""


@_value
class ReasoningConfig:
    """Reasoning request knobs; None means "not specified, provider default".

    `effort` keeps the source's word (minimal/low/medium/high/xhigh/max/none); renderers
    clamp it to what the target accepts.
    """

    mode: ReasoningMode | None = None
    effort: str | None = None
    budget_tokens: int | None = None
    summary: str | None = None
    """Responses `reasoning.summary` (auto/concise/detailed); Gemini `includeThoughts`."""


# --------------------------------------------------------------------------- usage and finish


@_value
class Usage:
    """Token counts; None means "not reported".

    Canonical meanings (OpenAI's): `input_tokens` counts *all* prompt tokens, cached reads and
    cache writes included; `output_tokens` counts all generated tokens, reasoning included.
    Formats that count differently (Anthropic excludes cache tokens from `input_tokens`,
    Gemini excludes thoughts from `candidatesTokenCount`) convert when parsing and rendering.
    `Catalog.cost` uses the same convention: the uncached input is
    ``input_tokens - cache_read_tokens - cache_write_tokens``, so cache tokens are billed
    once, at their own prices.
    """

    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_read_tokens: int | None = None
    cache_write_tokens: int | None = None
    reasoning_tokens: int | None = None
    total_tokens: int | None = None

    @property
    def total(self) -> int:
        """`total_tokens` when reported, else input + output."""
        if self.total_tokens is not None:
            return self.total_tokens
        return (self.input_tokens or 0) + (self.output_tokens or 0)

    def merge(self, newer: Usage) -> Usage:
        """Combine two cumulative reports: a field of `newer` wins unless it is None."""
        return Usage(
            self.input_tokens if newer.input_tokens is None else newer.input_tokens,
            self.output_tokens if newer.output_tokens is None else newer.output_tokens,
            self.cache_read_tokens if newer.cache_read_tokens is None else newer.cache_read_tokens,
            self.cache_write_tokens
            if newer.cache_write_tokens is None
            else newer.cache_write_tokens,
            self.reasoning_tokens if newer.reasoning_tokens is None else newer.reasoning_tokens,
            self.total_tokens if newer.total_tokens is None else newer.total_tokens,
        )


class FinishReason(enum.StrEnum):
    STOP = "stop"
    """Natural end of turn."""
    STOP_SEQUENCE = "stop_sequence"
    """A caller-given stop sequence matched (`Response.stop_sequence` says which)."""
    LENGTH = "length"
    """The max-tokens limit was hit."""
    CONTEXT_WINDOW = "context_window"
    """The model's context window was exhausted."""
    TOOL_CALLS = "tool_calls"
    CONTENT_FILTER = "content_filter"
    REFUSAL = "refusal"
    PAUSE = "pause"
    """The provider paused a long turn (Anthropic `pause_turn`)."""
    MALFORMED_TOOL_CALL = "malformed_tool_call"
    ERROR = "error"
    OTHER = "other"


_OTHER = FinishReason.OTHER  # read once: a member looked up through its class costs ~70 ns


class FinishReasonMap:
    """A format's two-way finish-reason table.

    `parse` maps wire values (unknown ones to `OTHER`); `render` maps universal reasons, using
    `fallbacks` for reasons the format has no word for (then `default`).
    """

    __slots__ = ("_default", "_from_wire", "_to_wire")

    def __init__(
        self,
        pairs: Mapping[str, FinishReason],
        *,
        render_overrides: Mapping[FinishReason, str] | None = None,
        default: str,
    ) -> None:
        self._from_wire: dict[str, FinishReason] = dict(pairs)
        to_wire: dict[FinishReason, str] = {}
        for wire, reason in pairs.items():
            to_wire.setdefault(reason, wire)
        to_wire.update(render_overrides or {})
        self._to_wire = to_wire
        self._default = default

    def parse(self, value: str | None) -> FinishReason | None:
        if value is None:
            return None
        return self._from_wire.get(value, _OTHER)

    def render(self, reason: FinishReason | None) -> str:
        if reason is None:
            return self._default
        return self._to_wire.get(reason, self._default)


# --------------------------------------------------------------------------- request / response


@_value
class Request:
    """A whole generation request.

    `extras` holds top-level fields of the source body the universal form has no slot for;
    only a renderer for `extras_origin` (a `ProviderFormat` value) merges them back.
    """

    messages: tuple[Message, ...]
    model: str | None = None
    tools: tuple[Tool | ProviderTool, ...] = ()
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool | None = None
    response_format: ResponseFormat | None = None
    reasoning: ReasoningConfig | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    stop: tuple[str, ...] = ()
    seed: int | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    n: int | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = None
    user: str | None = None
    metadata: JSONObject | None = None
    store: bool | None = None
    service_tier: str | None = None
    prompt_cache_key: str | None = None
    stream: bool = False
    stream_include_usage: bool | None = None
    extras: JSONObject | None = None
    extras_origin: str | None = None


@_value
class Response:
    """A complete (non-streaming) answer: one assistant turn."""

    content: tuple[ContentPart, ...]
    id: str | None = None
    model: str | None = None
    created: int | None = None
    """Unix seconds."""
    finish_reason: FinishReason | None = None
    stop_sequence: str | None = None
    usage: Usage | None = None
    extras: JSONObject | None = None
    extras_origin: str | None = None


# --------------------------------------------------------------------------- errors


class ErrorType(enum.StrEnum):
    INVALID_REQUEST = "invalid_request"
    AUTHENTICATION = "authentication"
    PERMISSION = "permission"
    NOT_FOUND = "not_found"
    RATE_LIMIT = "rate_limit"
    OVERLOADED = "overloaded"
    TIMEOUT = "timeout"
    CONTEXT_WINDOW = "context_window"
    CONTENT_FILTER = "content_filter"
    SERVER = "server"

    @property
    def default_status(self) -> int:
        return _DEFAULT_STATUS[self]

    @classmethod
    def from_status(cls, status: int) -> ErrorType:
        """Best guess of the error kind from an HTTP status alone."""
        if status == 401:
            return cls.AUTHENTICATION
        if status == 403:
            return cls.PERMISSION
        if status == 404:
            return cls.NOT_FOUND
        if status == 429:
            return cls.RATE_LIMIT
        if status in (408, 504):
            return cls.TIMEOUT
        if status in (503, 529):
            return cls.OVERLOADED
        if 400 <= status < 500:
            return cls.INVALID_REQUEST
        return cls.SERVER


_DEFAULT_STATUS: dict[ErrorType, int] = {
    ErrorType.INVALID_REQUEST: 400,
    ErrorType.AUTHENTICATION: 401,
    ErrorType.PERMISSION: 403,
    ErrorType.NOT_FOUND: 404,
    ErrorType.RATE_LIMIT: 429,
    ErrorType.OVERLOADED: 529,
    ErrorType.TIMEOUT: 504,
    ErrorType.CONTEXT_WINDOW: 400,
    ErrorType.CONTENT_FILTER: 400,
    ErrorType.SERVER: 500,
}


@_value
class ErrorInfo:
    """An error body in universal form; `provider_type` keeps the wire's own type string."""

    type: ErrorType
    message: str
    status: int | None = None
    code: str | None = None
    param: str | None = None
    provider_type: str | None = None

    @property
    def http_status(self) -> int:
        return self.status if self.status is not None else self.type.default_status


# --------------------------------------------------------------------------- stream deltas
#
# A universal stream is: MessageStart, then content deltas addressed by block `index` (the
# block's position in the answer, in order of first appearance), then Finish and UsageDelta
# (either order), or a StreamErrorDelta. A text/reasoning/refusal block starts with its first
# delta; a tool-call block with ToolCallStart. Parsers emit BlockStop when the wire says so;
# renderers must also close open blocks themselves on Finish or when a new block starts.


@_value
class MessageStart:
    """The stream's first event: the answer's id, model and creation time where known."""

    id: str | None = None
    model: str | None = None
    created: int | None = None


@_value
class TextDelta:
    """A fragment of the text of block `index`."""

    index: int
    text: str
    signature: str | None = None
    """Gemini `thoughtSignature` riding on this text chunk."""


@_value
class RefusalDelta:
    """A fragment of the refusal text of block `index`."""

    index: int
    text: str


@_value
class ReasoningDelta:
    """A fragment of the reasoning text of block `index` (or of one of its summaries)."""

    index: int
    text: str
    summary: bool = False
    """True for summary text (Responses `reasoning_summary_text`), False for reasoning text."""
    summary_index: int = 0
    """Which summary paragraph the text belongs to (Responses `summary_index`)."""


@_value
class ReasoningSignatureDelta:
    """Opaque reasoning data for block `index`; see `ReasoningPart` for the fields."""

    index: int
    signature: str | None = None
    encrypted: str | None = None
    redacted: bool = False
    id: str | None = None
    origin: str | None = None


@_value
class ToolCallStart:
    """A tool call begins in block `index`: its id and the tool's name."""

    index: int
    id: str
    name: str
    item_id: str | None = None
    signature: str | None = None


@_value
class ToolCallDelta:
    """A fragment of the arguments of the tool call in block `index`."""

    index: int
    arguments: str
    """A fragment of the arguments' JSON text; fragments concatenate."""


@_value
class BlockStop:
    """The content block at `index` is complete."""

    index: int


@_value
class Finish:
    """The answer ended, for `reason` (and the stop sequence that ended it, if one did)."""

    reason: FinishReason
    stop_sequence: str | None = None


@_value
class UsageDelta:
    """Cumulative usage so far; merge into earlier reports with `Usage.merge`."""

    usage: Usage


@_value
class StreamErrorDelta:
    """The upstream reported an error mid-stream; nothing follows it."""

    error: ErrorInfo


StreamDelta: TypeAlias = (
    MessageStart
    | TextDelta
    | RefusalDelta
    | ReasoningDelta
    | ReasoningSignatureDelta
    | ToolCallStart
    | ToolCallDelta
    | BlockStop
    | Finish
    | UsageDelta
    | StreamErrorDelta
)


# --------------------------------------------------------------------------- helpers


def object_to_arguments(obj: Any) -> str:
    """Serialise a tool-call arguments object (from an object-carrying format) to JSON text."""
    return orjson.dumps(obj).decode()


def arguments_to_object(arguments: str) -> Any:
    """Parse arguments JSON text for an object-carrying format.

    Empty text means no arguments (`{}`). Text that is not JSON — models sometimes emit it —
    is returned wrapped as ``{"_raw": text}`` rather than failing the whole translation.
    """
    if not arguments or arguments.isspace():
        return {}
    try:
        return orjson.loads(arguments)
    except orjson.JSONDecodeError:
        return {"_raw": arguments}


def split_data_url(url: str) -> tuple[str, str] | None:
    """``(media_type, base64_data)`` of a base64 ``data:`` URL; None for any other URL."""
    if not url.startswith("data:"):
        return None
    comma = url.find(",", 5)
    if comma < 0:
        return None
    header = url[5:comma]
    if not header.endswith(";base64"):
        return None
    return header[:-7] or "application/octet-stream", url[comma + 1 :]


def data_url(media_type: str, data: str) -> str:
    """A base64 ``data:`` URL."""
    return f"data:{media_type};base64,{data}"


# Thinking-token budgets standing in for effort words (and back), for formats that only take
# one of the two. The thresholds follow the providers' own documented presets.
_EFFORT_BUDGET: dict[str, int] = {
    "minimal": 1024,
    "low": 2048,
    "medium": 8192,
    "high": 24576,
    "xhigh": 32768,
    "max": 32768,
}


def budget_for_effort(effort: str) -> int | None:
    """A thinking budget for an effort word; 0 for ``none``, None for an unknown word."""
    if effort == "none":
        return 0
    return _EFFORT_BUDGET.get(effort)


def effort_for_budget(budget: int) -> str:
    """The effort word closest to a thinking budget (``none`` for 0)."""
    if budget <= 0:
        return "none"
    if budget <= _EFFORT_BUDGET["low"]:
        return "low"
    if budget <= _EFFORT_BUDGET["medium"]:
        return "medium"
    return "high"
