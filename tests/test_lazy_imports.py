"""The package root loads its public names on first use, and a router for one provider does
not import the others (checked in fresh interpreters, by the modules they end up holding)."""

from __future__ import annotations

import subprocess
import sys

import orjson
import pytest

import llm_router
import llm_router.auth
import llm_router.providers
import llm_router.resilience
import llm_router.state


def modules_after(statement: str) -> set[str]:
    code = f"import sys, json\n{statement}\nprint(json.dumps(sorted(sys.modules)))"
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


#: The call path: reading answers and streams, translation, every wire format and the
#: universal types. A router's calls import it (a same-format call never translates); the
#: import line does not.
CALL_PATH = {
    "llm_router.upstream",
    "llm_router.answer",
    "llm_router.stream_progress",
    "llm_router.usage",
    "llm_router.translate",
    "llm_router.universal",
    "llm_router.formats",
    "llm_router.formats.openai",
    "llm_router.formats._chat_request",
    "llm_router.formats._chat_response",
    "llm_router.formats._chat_content",
}

#: What a router for one OpenAI-format provider does not need until it is used: the call
#: path, the other formats' wire modules, embeddings, the resilience engine, its policies, log
#: and state, limits and their state backends (Redis above all), token counting, Google
#: service accounts, and the connection pool with httpcore, h11 and h2 (loaded when a router
#: is opened).
NOT_YET_NEEDED = CALL_PATH | {
    "llm_router.formats._anthropic_wire",
    "llm_router.formats._converse_wire",
    "llm_router.formats._google_wire",
    "llm_router.formats._responses_items",
    "llm_router.formats.embeddings",
    "llm_router.resilience.engine",
    "llm_router.resilience.policy",
    "llm_router.resilience.log",
    "llm_router.ratelimit",
    "llm_router.resilience.state",
    "llm_router.resilience.breaker",
    "llm_router.limiting",
    "llm_router.state.memory",
    "llm_router.state.redis",
    "llm_router.counting",
    "llm_router._google_auth",
    "llm_router.transport",
    "llm_router._pool",
    "llm_router.builder",
    "llm_router.gateway",
    "llm_router.realtime",
    "llm_router.tracing",
    "httpcore",
    "h11",
    "h2",
    "difflib",
}


def test_the_basic_import_line_leaves_the_unneeded_parts_unloaded() -> None:
    floor = modules_after("import httpx, trio, orjson")
    loaded = modules_after("from llm_router import Router, OpenAIProvider")
    assert NOT_YET_NEEDED - floor, "the floor already holds every module this test watches"
    assert NOT_YET_NEEDED & (loaded - floor) == set()
    assert not any(
        name.startswith(("llm_router.realtime", "llm_router.gateway")) for name in loaded
    )


def test_opening_a_router_loads_its_pool_and_a_call_loads_the_format_it_needs() -> None:
    loaded = modules_after(
        "import trio\n"
        "from llm_router import Router, OpenAIProvider\n"
        "from llm_router.usage import parse_usage\n"
        "parse_usage({'input_tokens': 3, 'output_tokens': 1, 'cache_read_input_tokens': 2})\n"
        "router = (Router.builder().add_provider('openai', OpenAIProvider())\n"
        "          .add_keys_from_env({'OPENAI_API_KEY': 'sk-test'}).build())\n"
        "async def opened():\n"
        "    async with router:\n"
        "        pass\n"
        "trio.run(opened)"
    )
    assert {"llm_router.transport", "httpcore", "llm_router.formats._anthropic_wire"} <= loaded
    assert CALL_PATH - {"llm_router.answer"} <= loaded  # answers are read by calls only


def test_the_package_root_and_the_catalog_leave_the_call_path_unloaded() -> None:
    floor = modules_after("import httpx, trio, orjson")
    for statement in (
        "import llm_router",
        "from llm_router import Catalog, ProviderFormat, RetryPolicy, AuthConfig",
        "from llm_router import Router, OpenAIProvider, AnthropicProvider, RouterStream",
    ):
        assert CALL_PATH & (modules_after(statement) - floor) == set(), statement


@pytest.mark.parametrize(
    "package",
    [llm_router, llm_router.providers, llm_router.auth, llm_router.resilience, llm_router.state],
    ids=lambda p: p.__name__,
)
def test_every_public_name_resolves_and_unknown_names_fail_plainly(package: object) -> None:
    names = package.__all__  # type: ignore[attr-defined]
    assert all(getattr(package, name) is not None for name in names)
    assert set(names) <= set(dir(package))
    with pytest.raises(AttributeError, match="has no attribute 'NoSuchThing'"):
        getattr(package, "NoSuchThing")  # noqa: B009


def test_the_command_line_loads_the_gateway_and_router_only_for_the_commands_using_them() -> None:
    # `llm-router --help`, `models`, `show` and `cost` need neither (0.4 s of imports before).
    loaded = modules_after("import llm_router.cli")
    heavy = {"llm_router.gateway", "llm_router.router", "llm_router.translate", "trio"}
    assert heavy.isdisjoint(loaded), sorted(heavy & loaded)
