"""The canonical answer of the fake model, derived deterministically from a `Prompt`.

Rules (the same in every wire format, so tests can predict any answer):

- Text: ``"You said: <last text>"`` where the last text is the text of the final message of the
  conversation (a user turn, or the output of the tool results it carries). A conversation
  without text is answered ``"Hello from the fake provider."``. ``x-fake-answer`` replaces it.
- Tools: when tools are offered and the tool choice requires one (OpenAI ``required`` or a
  named function, Anthropic ``any``/``tool``, Gemini ``ANY``, Bedrock ``any``/``tool``), the
  answer is one call of the named (else the first) tool, with the minimal arguments object
  valid against its schema (`minimal_json`). With ``auto`` the model answers in text.
- Structured output: a JSON schema (``json_schema``, ``output_config.format``,
  ``responseSchema``) is answered with `minimal_json` of it; bare JSON mode with
  ``{"answer": "You said: ..."}``.
- Tokens: one token per whitespace-separated word of prose (the whitespace that follows a word
  belongs to it) and one per started 8 characters of JSON (structured answers, tool-call
  arguments). Each token is one stream delta, and tool arguments always stream in at least two
  fragments. Input tokens are the words of every text in the request (at least 1), output
  tokens the tokens of the answer; totals are always input + output.
- Truncation: a text answer longer than the request's max tokens is cut to that many tokens
  (at least one) and finishes with the format's length reason. Tool calls are never cut.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

import orjson

from .wire import Answer, FinishReason, Prompt, ToolCall, ToolSpec, _new_id

__all__ = ["DEFAULT_TEXT", "derive_answer", "json_slices", "minimal_json", "split_words"]

DEFAULT_TEXT = "Hello from the fake provider."
JSON_SLICE = 8
_WORD = re.compile(r"\s*\S+\s*")


def split_words(text: str) -> tuple[str, ...]:
    """Cut prose into tokens: each word keeps the whitespace after it; joined they give `text`."""
    pieces = tuple(_WORD.findall(text))
    if not pieces:
        return (text,) if text else ()
    return pieces


def json_slices(text: str, *, minimum: int = 1) -> tuple[str, ...]:
    """Cut JSON text into 8-character slices, at least `minimum` of them (for >= 2 fragments)."""
    size = JSON_SLICE
    if minimum > 1 and len(text) < size * minimum:
        size = max(1, len(text) // minimum)
    pieces = tuple(text[i : i + size] for i in range(0, len(text), size))
    return pieces or ("",)


def derive_answer(prompt: Prompt, *, forced_text: str | None = None) -> Answer:
    """The answer a request gets unless a fixture or fault says otherwise."""
    input_tokens = max(1, prompt.input_words)
    tool = None if forced_text is not None else _chosen_tool(prompt)
    if tool is not None:
        arguments = _minimal_arguments(tool.schema)
        fragments = json_slices(arguments, minimum=2)
        call = ToolCall(id=_new_id(), name=tool.name, arguments=arguments, fragments=fragments)
        return Answer((), call, FinishReason.TOOL_CALL, input_tokens, len(fragments))

    if forced_text is not None:
        pieces = split_words(forced_text)
    elif prompt.json_schema is not None:
        schema = prompt.json_schema
        pieces = json_slices(orjson.dumps(minimal_json(schema, schema)).decode())
    elif prompt.json_mode:
        pieces = json_slices(orjson.dumps({"answer": _echo(prompt)}).decode())
    else:
        pieces = split_words(_echo(prompt))
    finish = FinishReason.STOP
    if prompt.max_tokens is not None and len(pieces) > max(1, prompt.max_tokens):
        pieces = pieces[: max(1, prompt.max_tokens)]
        finish = FinishReason.LENGTH
    return Answer(pieces, None, finish, input_tokens, max(1, len(pieces)))


def _echo(prompt: Prompt) -> str:
    return f"You said: {prompt.last_text}" if prompt.last_text.strip() else DEFAULT_TEXT


def _chosen_tool(prompt: Prompt) -> ToolSpec | None:
    choice = prompt.tool_choice
    if not prompt.tools or choice.mode not in ("required", "named"):
        return None
    if choice.mode == "named":
        for tool in prompt.tools:
            if tool.name == choice.name:
                return tool
        return ToolSpec(choice.name or prompt.tools[0].name, {"type": "object"})
    return prompt.tools[0]


def _minimal_arguments(schema: Mapping[str, Any]) -> str:
    value = minimal_json(schema, schema)
    return orjson.dumps(value if isinstance(value, dict) else {}).decode()


_STRING_FORMATS = {
    "date-time": "1970-01-01T00:00:00Z",
    "date": "1970-01-01",
    "time": "00:00:00Z",
    "email": "user@example.com",
    "uri": "https://example.com/",
    "url": "https://example.com/",
    "uuid": "00000000-0000-0000-0000-000000000000",
    "ipv4": "127.0.0.1",
}


def minimal_json(schema: Mapping[str, Any], root: Mapping[str, Any], depth: int = 0) -> Any:
    """A small JSON value valid against `schema`: required properties only, minimal sizes.

    Understands the JSON Schema subset providers accept (types, also Gemini's upper-case
    ones, `properties`/`required`, `items`/`prefixItems`/`minItems`, `enum`/`const`,
    `anyOf`/`oneOf`/`allOf`, local `$ref`, numeric bounds, `minLength`, common `format`s).
    `pattern` is not solved.
    """
    if depth > 32:
        return None
    if "$ref" in schema:
        return minimal_json(_resolve_ref(str(schema["$ref"]), root), root, depth + 1)
    if "const" in schema:
        return schema["const"]
    enum = schema.get("enum")
    if isinstance(enum, list) and enum:
        return enum[0]
    for key in ("anyOf", "oneOf"):
        branches = [b for b in schema.get(key) or () if isinstance(b, Mapping)]
        if branches:
            non_null = [b for b in branches if _type_of(b) != "null"]
            return minimal_json((non_null or branches)[0], root, depth + 1)
    all_of = [b for b in schema.get("allOf") or () if isinstance(b, Mapping)]
    if all_of:
        return minimal_json(_merge_all_of(schema, all_of, root), root, depth + 1)

    kind = _type_of(schema)
    if kind == "object":
        properties = schema.get("properties")
        properties = properties if isinstance(properties, Mapping) else {}
        return {
            name: minimal_json(_as_schema(properties.get(name)), root, depth + 1)
            for name in schema.get("required") or ()
            if isinstance(name, str)
        }
    if kind == "array":
        return _minimal_array(schema, root, depth)
    if kind == "string":
        text = _STRING_FORMATS.get(str(schema.get("format")), "")
        return text + "x" * max(0, int(schema.get("minLength") or 0) - len(text))
    if kind in ("integer", "number"):
        return _minimal_number(schema, integer=kind == "integer")
    if kind == "boolean":
        return False
    return None


def _type_of(schema: Mapping[str, Any]) -> str | None:
    kind = schema.get("type")
    if isinstance(kind, list):
        named = [str(k).lower() for k in kind if str(k).lower() != "null"]
        return named[0] if named else "null"
    if isinstance(kind, str):
        return kind.lower()
    if "properties" in schema or "required" in schema:
        return "object"
    if "items" in schema or "prefixItems" in schema:
        return "array"
    return None


def _as_schema(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _resolve_ref(ref: str, root: Mapping[str, Any]) -> Mapping[str, Any]:
    if not ref.startswith("#"):
        return {}
    node: object = root
    for part in ref.lstrip("#").strip("/").split("/"):
        if not part:
            continue
        node = _as_schema(node).get(part.replace("~1", "/").replace("~0", "~"))
    return _as_schema(node)


def _merge_all_of(
    schema: Mapping[str, Any], branches: list[Mapping[str, Any]], root: Mapping[str, Any]
) -> dict[str, Any]:
    merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
    properties: dict[str, Any] = dict(_as_schema(merged.get("properties")))
    required: list[Any] = list(merged.get("required") or ())
    for branch in branches:
        if "$ref" in branch:
            branch = _resolve_ref(str(branch["$ref"]), root)
        for key, value in branch.items():
            if key == "properties":
                properties.update(_as_schema(value))
            elif key == "required":
                required.extend(value or ())
            else:
                merged.setdefault(key, value)
    if properties:
        merged["properties"] = properties
    if required:
        merged["required"] = list(dict.fromkeys(required))
    return merged


def _minimal_array(schema: Mapping[str, Any], root: Mapping[str, Any], depth: int) -> list[Any]:
    prefix = [p for p in schema.get("prefixItems") or () if isinstance(p, Mapping)]
    items = _as_schema(schema.get("items"))
    count = int(schema.get("minItems") or 0)
    values = []
    for index in range(count):
        item_schema = prefix[index] if index < len(prefix) else items
        values.append(minimal_json(item_schema, root, depth + 1))
    return values


def _minimal_number(schema: Mapping[str, Any], *, integer: bool) -> int | float:
    def bound(key: str) -> float | None:
        value = schema.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        return float(value)

    value = 0.0
    minimum, maximum = bound("minimum"), bound("maximum")
    above, below = bound("exclusiveMinimum"), bound("exclusiveMaximum")
    if minimum is not None and value < minimum:
        value = float(math.ceil(minimum)) if integer else minimum
    if above is not None and value <= above:
        value = float(math.floor(above) + 1) if integer else above + 0.5
    if maximum is not None and value > maximum:
        value = float(math.floor(maximum)) if integer else maximum
    if below is not None and value >= below:
        value = float(math.ceil(below) - 1) if integer else below - 0.5
    return int(value) if integer or value.is_integer() else value
