"""Check decoded Bedrock JSON against botocore's `bedrock-runtime` service model shapes.

A small recursive validator: required members present, no unknown members, unions with
exactly one member, scalar types and enums as the model declares them. Blobs travel as base64
strings in JSON; members bound to the URI or headers are not part of the body.
"""

from __future__ import annotations

import base64
import binascii
from functools import cache
from typing import Any

import botocore.session

__all__ = ["converse_shape", "shape_errors", "stream_event_shape"]


@cache
def _service_model() -> Any:
    return botocore.session.get_session().get_service_model("bedrock-runtime")


def converse_shape(which: str) -> Any:
    """The Converse operation's `"input"` or `"output"` shape."""
    operation = _service_model().operation_model("Converse")
    return operation.input_shape if which == "input" else operation.output_shape


def stream_event_shape(event_type: str) -> Any:
    """The shape of one ConverseStream event payload (`messageStart`, `metadata`, ...)."""
    stream = _service_model().operation_model("ConverseStream").output_shape.members["stream"]
    return stream.members[event_type]


def shape_errors(value: Any, shape: Any, path: str = "$") -> list[str]:
    """Every way `value` breaks `shape`, each naming its JSON path (empty when valid)."""
    kind = shape.type_name
    if kind == "structure":
        return _structure_errors(value, shape, path)
    if kind == "list":
        if not isinstance(value, list):
            return [f"{path}: expected a list, got {type(value).__name__}"]
        return [
            err
            for i, item in enumerate(value)
            for err in shape_errors(item, shape.member, f"{path}[{i}]")
        ]
    if kind == "map":
        if not isinstance(value, dict):
            return [f"{path}: expected a map, got {type(value).__name__}"]
        return [
            err
            for k, item in value.items()
            for err in shape_errors(item, shape.value, f"{path}.{k}")
        ]
    return _scalar_errors(value, shape, path)


def _structure_errors(value: Any, shape: Any, path: str) -> list[str]:
    if shape.metadata.get("document"):
        return []  # free-form JSON
    if not isinstance(value, dict):
        return [f"{path}: expected an object, got {type(value).__name__}"]
    body_members = {
        name: member
        for name, member in shape.members.items()
        if member.serialization.get("location") not in ("uri", "header", "headers", "querystring")
    }
    errors = [f"{path}: unknown member {name!r}" for name in value if name not in body_members]
    errors += [
        f"{path}: missing required member {name!r}"
        for name in shape.required_members
        if name in body_members and name not in value
    ]
    if shape.metadata.get("union") and len(value) != 1:
        errors.append(f"{path}: union must set exactly one member, got {sorted(value)}")
    for name, item in value.items():
        if name in body_members:
            errors += shape_errors(item, body_members[name], f"{path}.{name}")
    return errors


def _scalar_errors(value: Any, shape: Any, path: str) -> list[str]:
    kind = shape.type_name
    if kind == "string":
        if not isinstance(value, str):
            return [f"{path}: expected a string, got {type(value).__name__}"]
        if shape.enum and value not in shape.enum:
            return [f"{path}: {value!r} is not one of {shape.enum}"]
        return []
    if kind in ("integer", "long"):
        ok = isinstance(value, int) and not isinstance(value, bool)
        return [] if ok else [f"{path}: expected an integer, got {value!r}"]
    if kind in ("float", "double"):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return [] if ok else [f"{path}: expected a number, got {value!r}"]
    if kind == "boolean":
        return [] if isinstance(value, bool) else [f"{path}: expected a boolean, got {value!r}"]
    if kind == "blob":
        try:
            base64.b64decode(value, validate=True)
        except (binascii.Error, TypeError, ValueError):
            return [f"{path}: expected base64 text for a blob, got {value!r:.40}"]
        return []
    if kind == "timestamp":
        ok = isinstance(value, str | int | float) and not isinstance(value, bool)
        return [] if ok else [f"{path}: expected a timestamp, got {value!r}"]
    return [f"{path}: shape type {kind!r} is not handled by this validator"]
