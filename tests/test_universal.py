"""The universal value classes behave as ``@dataclass(frozen=True, slots=True)`` would make them
(minus the runtime assignment guard): the same fields, constructor, equality, hash, `repr`,
`replace`, pickling and slots, checked class by class against a real dataclass of the same
fields."""

from __future__ import annotations

import copy
import dataclasses
import inspect
import pickle
from typing import Any, ClassVar

import pytest

from llm_router import universal
from llm_router.universal import _value

VALUE_CLASSES = [
    value
    for value in vars(universal).values()
    if isinstance(value, type)
    and value.__module__ == universal.__name__
    and dataclasses.is_dataclass(value)
    and not value.__name__.startswith("_")
]


def reference_of(cls: type) -> type:
    """The class `dataclasses` itself makes from `cls`'s fields, docstring and methods."""
    own = {
        name: value
        for name, value in vars(cls).items()
        if isinstance(value, property) or name == "merge"
    }
    return dataclasses.make_dataclass(
        cls.__name__,
        [(f.name, f.type, dataclasses.field(default=f.default)) for f in dataclasses.fields(cls)],
        frozen=True,
        slots=True,
        namespace={"__doc__": cls.__doc__, "__qualname__": cls.__qualname__, **own},
    )


def sample_values(cls: type, salt: str) -> dict[str, Any]:
    """A distinct value per field (a string, or a tuple for tuple fields)."""
    return {
        f.name: (f"{salt}-{f.name}",) if isinstance(f.default, tuple) else f"{salt}-{f.name}"
        for f in dataclasses.fields(cls)
    }


def test_every_value_class_is_checked() -> None:
    assert len(VALUE_CLASSES) >= 30
    assert {universal.Usage, universal.TextPart, universal.Request} <= set(VALUE_CLASSES)


@pytest.mark.parametrize("cls", VALUE_CLASSES, ids=lambda c: c.__name__)
def test_the_class_matches_the_dataclass_of_its_fields(cls: type) -> None:
    ref = reference_of(cls)
    attributes = "name type default default_factory init repr hash compare metadata kw_only"
    assert [[getattr(f, a) for a in attributes.split()] for f in dataclasses.fields(cls)] == [
        [getattr(f, a) for a in attributes.split()] for f in dataclasses.fields(ref)
    ]
    assert cls.__slots__ == ref.__slots__  # type: ignore[attr-defined]
    assert cls.__match_args__ == ref.__match_args__  # type: ignore[attr-defined]
    assert cls.__doc__ == ref.__doc__
    params = cls.__dataclass_params__  # type: ignore[attr-defined]
    assert (params.repr, params.eq, params.order, params.frozen) == (True, True, False, True)
    ours = inspect.signature(cls).parameters.values()
    theirs = inspect.signature(ref).parameters.values()
    assert [(p.name, p.kind, p.default) for p in ours] == [
        (p.name, p.kind, p.default) for p in theirs
    ]
    assert cls.__init__.__qualname__ == f"{cls.__qualname__}.__init__"  # type: ignore[misc]


@pytest.mark.parametrize("cls", VALUE_CLASSES, ids=lambda c: c.__name__)
def test_instances_behave_as_the_dataclass_instances(cls: type) -> None:
    ref = reference_of(cls)
    values = sample_values(cls, "a")
    ours, theirs = cls(**values), ref(**values)
    positional = cls(*values.values())
    assert repr(ours) == repr(theirs)
    assert ours == positional and hash(ours) == hash(positional) == hash(theirs)
    assert ours != theirs  # another class never compares equal
    assert ours.__eq__(theirs) is NotImplemented
    assert dataclasses.astuple(ours) == dataclasses.astuple(theirs)
    assert dataclasses.asdict(ours) == dataclasses.asdict(theirs)
    assert ours.__getstate__() == theirs.__getstate__()
    for name in values:
        changed = dataclasses.replace(ours, **{name: "other"})
        assert getattr(changed, name) == "other"
        assert changed != ours
        assert changed == dataclasses.replace(changed)
        assert repr(changed) == repr(dataclasses.replace(theirs, **{name: "other"}))
    assert hasattr(cls, "__replace__") == hasattr(ref, "__replace__")  # Python 3.13 on
    for clone in (pickle.loads(pickle.dumps(ours)), copy.copy(ours), copy.deepcopy(ours)):
        assert clone == ours and clone is not ours
    assert not hasattr(ours, "__dict__") and not hasattr(ours, "__weakref__")
    with pytest.raises(AttributeError):
        ours.not_a_field = 1


def test_defaults_and_required_fields_are_those_declared() -> None:
    assert universal.ToolCallPart("c1", "f") == universal.ToolCallPart(
        id="c1", name="f", arguments="{}", item_id=None, signature=None, cache_control=None
    )
    with pytest.raises(TypeError):
        universal.ToolCallPart(id="c1")  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        universal.TextPart("a", sigil="b")  # type: ignore[call-arg]


def test_equality_and_hash_are_those_of_the_field_tuple() -> None:
    nan = float("nan")
    one = universal.BlockStop(nan)  # type: ignore[arg-type]
    assert one == universal.BlockStop(nan)  # type: ignore[arg-type]  # the same object inside
    assert hash(one) == hash((nan,))
    assert hash(universal.TextDelta(1, "x")) == hash((1, "x", None))


def test_a_recursive_value_shows_an_ellipsis_instead_of_recursing() -> None:
    data: dict[str, Any] = {}
    part = universal.ProviderPart("openai", data)
    data["self"] = part
    assert repr(part) == "ProviderPart(origin='openai', data={'self': ...})"


def test_a_class_the_decorator_cannot_make_faithfully_is_refused() -> None:
    with pytest.raises(TypeError, match="plain fields only"):

        @_value
        class WithClassVar:
            limit: ClassVar[int] = 3

    with pytest.raises(ValueError, match="mutable default"):

        @_value
        class WithList:
            items: list[int] = []

    with pytest.raises(TypeError, match="__eq__ generated"):

        @_value
        class WithEq:
            x: int

            def __eq__(self, other: object) -> bool:
                return True

    with pytest.raises(TypeError, match="plain fields only"):

        @_value
        class WithField:
            x: int = dataclasses.field(default=1)


def test_a_class_without_a_docstring_gets_its_signature_as_dataclasses_gives() -> None:
    @_value
    class Point:
        x: int
        y: int = 0

    assert Point.__doc__ == "Point(x, y=0)"
