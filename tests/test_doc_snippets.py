"""Every Python example in README.md and docs/ stays true to the API it shows.

Each fenced ``python`` block must compile (top-level ``await`` allowed, ``...`` standing for
the parts left out), every ``from llm_router... import`` in it must resolve, and every method
it calls on a known object (the builder chain from ``Router.builder()``, ``router``, the fake
server, scripts, cassettes, realtime sessions) must exist there, with the keyword arguments it
passes accepted by that method. A renamed method or argument fails here before a reader finds
it.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from llm_router import Router
from llm_router.builder import RouterBuilder
from llm_router.realtime.session import RealtimeSession
from llm_router_testing.cassette import Cassette
from llm_router_testing.fake.server import FakeProvider
from llm_router_testing.script import RuleBuilder, Script

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)

#: What a snippet's variable names stand for.
OBJECTS: dict[str, type[Any]] = {
    "Router": Router,
    "Cassette": Cassette,
    "router": Router,
    "fake": FakeProvider,
    "script": Script,
    "llm_script": Script,
    "cassette": Cassette,
    "llm_cassette": Cassette,
    "session": RealtimeSession,
    "s": RealtimeSession,
}

#: What the methods whose results snippets chain on return.
RETURNS: dict[tuple[type[Any], str], type[Any]] = {
    (FakeProvider, "script"): Script,
    (Script, "when"): RuleBuilder,
}


def _blocks() -> Iterator[tuple[str, str]]:
    for document in DOCUMENTS:
        text = document.read_text(encoding="utf-8")
        for match in BLOCK.finditer(text):
            line = text.count("\n", 0, match.start()) + 2
            yield f"{document.name}:{line}", match.group(1)


BLOCKS = list(_blocks())


def _parse(source: str) -> ast.Module:
    tree = compile(source, "<snippet>", "exec", ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    assert isinstance(tree, ast.Module)
    return tree


def _chain_root(node: ast.expr) -> ast.expr:
    while isinstance(node, ast.Call | ast.Attribute):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node


def _on_builder(node: ast.expr) -> bool:
    """Whether `node` is a value of the chain that starts at ``Router.builder()``."""
    while isinstance(node, ast.Call | ast.Attribute):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "builder"
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "Router"
        ):
            return True
        node = node.func if isinstance(node, ast.Call) else node.value
    return False


def _receiver(call: ast.Call) -> tuple[type[Any], str] | None:
    """The class a method call's receiver is known to be, and the method name."""
    func = call.func
    if not isinstance(func, ast.Attribute):
        return None
    if _on_builder(func.value):
        return RouterBuilder, func.attr
    if isinstance(func.value, ast.Name) and func.value.id in OBJECTS:
        return OBJECTS[func.value.id], func.attr
    if isinstance(func.value, ast.Call):
        inner = _receiver(func.value)
        if inner is not None and inner in RETURNS:
            return RETURNS[inner], func.attr
    return None


def _check_keywords(where: str, owner: type[Any], name: str, call: ast.Call) -> list[str]:
    method = getattr(owner, name)
    if isinstance(method, property) or not callable(method):
        return []
    try:
        signature = inspect.signature(method)
    except (TypeError, ValueError):
        return []
    parameters = signature.parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return []
    accepted = {p.name for p in parameters if p.kind is not inspect.Parameter.POSITIONAL_ONLY}
    return [
        f"{where}: {owner.__name__}.{name}() takes no keyword {keyword.arg!r}"
        for keyword in call.keywords
        if keyword.arg is not None and keyword.arg not in accepted
    ]


def _problems(where: str, source: str) -> list[str]:
    tree = _parse(source)
    problems: list[str] = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.ImportFrom)
            and node.module
            and node.module.startswith("llm_router")
        ):
            module = importlib.import_module(node.module)
            problems += [
                f"{where}: {node.module} has no {alias.name!r}"
                for alias in node.names
                if not hasattr(module, alias.name)
                and not _is_submodule(node.module + "." + alias.name)
            ]
        elif isinstance(node, ast.Call):
            known = _receiver(node)
            if known is None:
                continue
            owner, name = known
            if not hasattr(owner, name):
                problems.append(f"{where}: {owner.__name__} has no {name!r}")
                continue
            problems += _check_keywords(where, owner, name, node)
    return problems


@pytest.mark.parametrize(("where", "source"), BLOCKS, ids=[where for where, _ in BLOCKS])
def test_snippet_matches_the_api(where: str, source: str) -> None:
    assert _problems(where, source) == []


def _is_submodule(name: str) -> bool:
    try:
        importlib.import_module(name)
    except ImportError:
        return False
    return True


def test_the_documents_have_examples_to_check() -> None:
    # The pattern finds the blocks (an edit of the fences would silently skip them all).
    assert len(BLOCKS) >= 12
    checked = [
        node
        for _, source in BLOCKS
        for node in ast.walk(_parse(source))
        if isinstance(node, ast.Call) and _receiver(node) is not None
    ]
    assert len(checked) >= 50


def test_a_renamed_method_or_keyword_is_caught() -> None:
    source = (
        "router = Router.builder().add_providr('openai', OpenAIProvider()).build()\n"
        "await router.complete(body, 'openai', callr=key)\n"
        "fake.script(strikt=True).when(user_contains='x').replie('y')\n"
    )
    assert sorted(_problems("example", source)) == [
        "example: FakeProvider.script() takes no keyword 'strikt'",
        "example: Router.complete() takes no keyword 'callr'",
        "example: RouterBuilder has no 'add_providr'",
        "example: RuleBuilder has no 'replie'",
    ]
