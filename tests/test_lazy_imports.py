"""The package root loads its public names on first use, and a router for one provider does
not import the others (checked in fresh interpreters, by the modules they end up holding)."""

from __future__ import annotations

import subprocess
import sys

import orjson
import pytest

import llm_router
import llm_router.providers


def modules_after(statement: str) -> set[str]:
    code = f"import sys, json; {statement}; print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(orjson.loads(done.stdout))


def test_importing_the_package_imports_none_of_its_parts() -> None:
    loaded = modules_after("import llm_router")
    assert {"httpx", "trio", "llm_router.router", "llm_router.providers"}.isdisjoint(loaded)


def test_a_router_for_one_provider_leaves_the_others_unloaded() -> None:
    loaded = modules_after("from llm_router import Router, OpenAIProvider")
    assert {"llm_router.router", "llm_router.providers.openai"} <= loaded
    others = {
        f"llm_router.providers.{name}"
        for name in ("anthropic", "azure", "bedrock", "compat", "google", "mistral", "vertex")
    }
    assert others.isdisjoint(loaded)
    assert not any(name.split(".")[0] == "botocore" for name in loaded)


@pytest.mark.parametrize("package", [llm_router, llm_router.providers], ids=lambda p: p.__name__)
def test_every_public_name_resolves_and_unknown_names_fail_plainly(package: object) -> None:
    names = package.__all__  # type: ignore[attr-defined]
    assert all(getattr(package, name) is not None for name in names)
    assert set(names) <= set(dir(package))
    with pytest.raises(AttributeError, match="has no attribute 'NoSuchThing'"):
        getattr(package, "NoSuchThing")  # noqa: B009
