"""Wire-format modules: one sans-IO module per `ProviderFormat`, all with the same interface.

Every format module (`openai`, `responses`, `anthropic`, `google`, `converse`, `mistral`)
exposes exactly these module-level names (checked by the `FormatModule` protocol)::

    parse_request(obj: Mapping[str, Any]) -> universal.Request
    render_request(req: universal.Request, *, default_max_tokens: int | None = None) -> dict
    parse_response(obj: Mapping[str, Any]) -> universal.Response
    render_response(resp: universal.Response) -> dict
    parse_error(status: int, obj: Any) -> universal.ErrorInfo
    render_error(err: universal.ErrorInfo) -> tuple[int, dict]
    class StreamParser:    # StreamParser() takes no required argument
        feed(event: Mapping[str, Any]) -> list[universal.StreamDelta]
        finish() -> list[universal.StreamDelta]
    class StreamRenderer:  # StreamRenderer() takes no required argument (options are
                           # keyword-only, e.g. openai's include_usage)
        feed(delta: universal.StreamDelta) -> list[StreamEvent]
        finish() -> list[StreamEvent]

Contract:
- Inputs are decoded JSON (what `orjson.loads` returns); outputs are plain dicts/lists ready
  for `orjson.dumps`. Nothing is deep-copied: schemas and other opaque objects are shared.
- `parse_*` validate types as they go and raise `TranslationError(path=...)` naming the field
  (``messages[1].content[0].type``); `translate.translate_request` re-raises those as
  `InvalidRequestError`. `parse_error` never raises: any body yields an `ErrorInfo`.
- `render_request` must produce a body the target accepts; `default_max_tokens` fills a
  max-tokens field the target requires (Anthropic) when the request has none.
- A stream event fed to `StreamParser.feed` is one decoded event: the SSE `data:` JSON for
  SSE formats, ``{"<eventType>": payload}`` for Converse. OpenAI's ``[DONE]`` is not fed:
  the caller calls `finish()` instead. `StreamRenderer` output is final: `StreamEvent.event`
  is the SSE event name (or the Converse event type) and `.data` the JSON bytes; renderers
  emit their end-of-stream events (``[DONE]``, ``message_stop``...) from `finish()` or when
  they see `Finish` + usage, whichever the format requires, and never twice.
- A stream that ends without `Finish` was cut upstream: renderers do not invent a clean end
  for it (no ``[DONE]``, no ``response.completed``) so the caller can tell.
- Opaque data (`ReasoningPart.origin`, `ProviderPart`, `ProviderTool`, `Request.extras`) is
  only rendered by the format named in its origin.
- Information the target cannot carry is dropped on purpose and listed in
  ``docs/translation.md``.

The helpers below (`get_str`, `get_int`, ...) are the shared, allocation-free field readers
every format module uses so that type errors carry the same path syntax everywhere.
"""

from __future__ import annotations

import _random  # the C core of `random`, without the imports of the Python module
import importlib
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, cast

from llm_router.errors import TranslationError
from llm_router.types import ProviderFormat, StreamEvent
from llm_router.universal import (
    ContentPart,
    ErrorInfo,
    Message,
    Request,
    Response,
    Role,
    StreamDelta,
    ToolResultPart,
)

__all__ = [
    "FormatModule",
    "append_user_turn",
    "StreamParser",
    "StreamRenderer",
    "get_format",
    "field_error",
    "get_bool",
    "get_float",
    "get_int",
    "get_list",
    "get_obj",
    "get_str",
    "join_path",
    "need_obj",
    "need_str",
    "random_hex",
    "read_fields",
    "scalar",
    "type_name",
]


class StreamParser(Protocol):
    def feed(self, event: Mapping[str, Any]) -> list[StreamDelta]: ...
    def finish(self) -> list[StreamDelta]: ...


class StreamRenderer(Protocol):
    def feed(self, delta: StreamDelta) -> list[StreamEvent]: ...
    def finish(self) -> list[StreamEvent]: ...


class FormatModule(Protocol):
    """What `get_format` returns: the module of one wire format."""

    def parse_request(self, obj: Mapping[str, Any]) -> Request: ...
    def render_request(
        self, req: Request, *, default_max_tokens: int | None = None
    ) -> dict[str, Any]: ...
    def parse_response(self, obj: Mapping[str, Any]) -> Response: ...
    def render_response(self, resp: Response) -> dict[str, Any]: ...
    def parse_error(self, status: int, obj: Any) -> ErrorInfo: ...
    def render_error(self, err: ErrorInfo) -> tuple[int, dict[str, Any]]: ...
    @property
    def StreamParser(self) -> Callable[[], StreamParser]: ...
    @property
    def StreamRenderer(self) -> Callable[[], StreamRenderer]: ...


_MODULES: dict[ProviderFormat, FormatModule] = {}


def get_format(fmt: ProviderFormat | str) -> FormatModule:
    """The module implementing `fmt` (imported on first use)."""
    # ProviderFormat is a StrEnum, so a plain string finds its member's entry too.
    module = _MODULES.get(fmt)  # type: ignore[arg-type]
    if module is None:
        fmt = ProviderFormat.parse(fmt)
        module = cast(FormatModule, importlib.import_module(f"{__name__}.{fmt.value}"))
        _MODULES[fmt] = module
    return module


# --------------------------------------------------------------------------- field readers
# Paths are only formatted when an error is raised, so the happy path allocates nothing.


def join_path(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, str):
        return "string"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def field_error(path: str, key: str | int, expected: str, value: Any) -> TranslationError:
    full = join_path(path, key)
    return TranslationError(f"{full}: expected {expected}, got {type_name(value)}", path=full)


def need_obj(value: Any, path: str) -> Mapping[str, Any]:
    """`value` itself must be an object; `path` is its full path."""
    if isinstance(value, dict):
        return value
    raise TranslationError(f"{path or 'body'}: expected object, got {type_name(value)}", path=path)


def get_str(obj: Mapping[str, Any], key: str, path: str) -> str | None:
    value = obj.get(key)
    if value is None or type(value) is str:
        return value
    raise field_error(path, key, "string", value)


def need_str(obj: Mapping[str, Any], key: str, path: str) -> str:
    value = obj.get(key)
    if type(value) is str:
        return value
    if value is None:
        full = join_path(path, key)
        raise TranslationError(f"{full}: required string is missing", path=full)
    raise field_error(path, key, "string", value)


# Integral floats read as integers only within int64: JSON writers (orjson) refuse larger ints.
_INT64_LIMIT = float(2**63)
_INT64_MIN = -_INT64_LIMIT


def get_int(obj: Mapping[str, Any], key: str, path: str) -> int | None:
    value = obj.get(key)
    if value is None or type(value) is int:
        return value
    if type(value) is float and value.is_integer() and _INT64_MIN <= value < _INT64_LIMIT:
        return int(value)
    raise field_error(path, key, "integer", value)


def get_float(obj: Mapping[str, Any], key: str, path: str) -> float | None:
    value = obj.get(key)
    if value is None or type(value) is float:
        return value
    if type(value) is int:
        return float(value)
    raise field_error(path, key, "number", value)


def get_bool(obj: Mapping[str, Any], key: str, path: str) -> bool | None:
    value = obj.get(key)
    if value is None or type(value) is bool:
        return value
    raise field_error(path, key, "boolean", value)


def get_list(obj: Mapping[str, Any], key: str, path: str) -> list[Any]:
    """A list field; missing or null reads as empty."""
    value = obj.get(key)
    if type(value) is list:
        return value
    if value is None:
        return []
    raise field_error(path, key, "array", value)


def get_obj(obj: Mapping[str, Any], key: str, path: str) -> Mapping[str, Any] | None:
    value = obj.get(key)
    if value is None or type(value) is dict:
        return value
    raise field_error(path, key, "object", value)


def scalar(value: Any, kind: str, path: str, key: str) -> Any:
    """`value` (not None) checked as `kind` like the `get_*` readers do ("string", "integer",
    "number", "boolean" or "object"); integral floats read as integers, integers as floats."""
    t = type(value)
    if kind == "string":
        ok = t is str
    elif kind == "number":
        if t is int:
            return float(value)
        ok = t is float
    elif kind == "integer":
        if t is float and value.is_integer() and _INT64_MIN <= value < _INT64_LIMIT:
            return int(value)
        ok = t is int
    elif kind == "boolean":
        ok = t is bool
    else:
        ok = t is dict
    if not ok:
        raise field_error(path, key, kind, value)
    return value


def read_fields(
    obj: Mapping[str, Any],
    fields: Mapping[str, tuple[str, str] | tuple[str, str, type]],
    path: str,
    out: dict[str, Any],
) -> None:
    """Type-check the fields of `obj` named in `fields` into `out`.

    `fields` maps a wire key to ``(name in out, kind)`` (kinds as for `scalar`; more items
    may follow, for the caller's own use); a null reads as absent. One pass over the keys present: bodies carry a few of the many known fields.
    """
    for key, value in obj.items():
        spec = fields.get(key)
        if spec is not None and value is not None:
            out[spec[0]] = scalar(value, spec[1], path, key)


# Ids the formats invent (answers, output items) must be unique, not secret: a private
# generator seeded from the OS, and reseeded in a forked child so that parent and child never
# share a sequence, draws them for a third of an `os.urandom` call.
_ids = _random.Random()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_ids.seed)
_getrandbits = _ids.getrandbits


def random_hex(nbytes: int) -> str:
    """`nbytes` random bytes as hex, for an invented id."""
    return _getrandbits(nbytes * 8).to_bytes(nbytes, "big").hex()


def append_user_turn(parts: Sequence[ContentPart], out: list[Message]) -> None:
    """Append a user turn of a format that mixes tool results into user turns (Anthropic,
    Gemini, Converse): universal keeps tool results in turns of their own, so each run of
    them becomes a `Role.TOOL` message and each run of other parts a `Role.USER` one."""
    run: list[ContentPart] = []
    run_is_tool = False
    for part in parts:
        is_tool = type(part) is ToolResultPart
        if run and is_tool != run_is_tool:
            out.append(Message(Role.TOOL if run_is_tool else Role.USER, tuple(run)))
            run = []
        run.append(part)
        run_is_tool = is_tool
    out.append(Message(Role.TOOL if run_is_tool else Role.USER, tuple(run)))
