"""pytest plugin of llm_router_testing: cassette fixtures, record modes and the fake provider.

- ``--llm-record-mode={none,once,new,all}``: when cassettes may record (default ``none``).
  Given on the command line it wins over every marker, so ``--llm-record-mode=all``
  re-records a whole suite.
- ini ``llm_cassette_dir`` (default ``cassettes``): where cassettes live, relative to each
  test file: ``<test dir>/<llm_cassette_dir>/<module>/<test name>.json``.
- marker ``@pytest.mark.llm_cassette(path=None, mode=None, **options)``: per-test cassette
  path (relative to the test file), record mode, and `Cassette.open` options
  (``match_on``, ``ignore_body_keys``, ``ignore_message_keys``, ``allow_playback_repeats``,
  ``realtime``, ``redact``).
- fixture ``llm_cassette``: the test's `Cassette`, saved at teardown when it recorded. A
  request without a recording fails the test even if the code under test swallowed the error.
  HTTP goes through ``.async_transport()`` / ``.transport()``, the router's realtime sessions
  through ``.websocket_connector()`` (`RouterBuilder.with_websocket_connector`).
- fixture ``llm_cassette_options``: override in a conftest.py for project-wide defaults.
- fixtures ``fake_provider`` / ``fake_provider_url``: a fake provider server running in a
  background thread for the whole session, reset before each test; usable from sync and
  Trio tests alike.
- fixture ``llm_script``: a scripted conversation (`llm_router_testing.script.Script`) on
  that fake server, e.g. ``llm_script.when(user_contains="hi").reply("hello")``;
  ``llm_script.fake`` is the server.
- marker ``@pytest.mark.llm_block_network(allow=())`` or option ``--llm-block-network``:
  the test may only reach loopback (the fake server) and the allowed hosts
  (``--llm-allow-host HOST``, repeatable); any other host raises
  `llm_router_testing.network.NetworkBlockedError` naming it, and fails the test even if
  the code under test swallowed the error. ``llm_block_network(False)`` exempts a test.

Async tests that use these fixtures run under Trio (through pytest-trio, installed with the
``testing`` extra) even where the project has not set ``trio_mode = true``; for other async
tests set that one line in the pytest configuration, or mark them ``@pytest.mark.trio``.
Tests marked for asyncio or anyio, and projects running pytest-asyncio in auto mode, are left
to their own loop.

Heavy imports happen inside the fixtures: this module is loaded into every pytest run.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from llm_router_testing.cassette import Cassette
    from llm_router_testing.fake import FakeProvider
    from llm_router_testing.script import Script

__all__ = [
    "fake_provider",
    "fake_provider_url",
    "llm_cassette",
    "llm_cassette_options",
    "llm_record_mode",
    "llm_script",
]

RECORD_MODES = ("none", "once", "new", "all")
_UNSAFE_FILENAME = re.compile(r'[\\/:*?"<>|\s]+')
_REPORTS = pytest.StashKey[dict[str, pytest.TestReport]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("llm_router_testing", "llm-router cassettes and fake provider")
    group.addoption(
        "--llm-record-mode",
        action="store",
        choices=RECORD_MODES,
        default=None,
        help=(
            "when llm_cassette fixtures may record: none (replay only, the default), once"
            " (record missing cassettes), new (record requests not in the cassette), all"
            " (re-record everything). Overrides the mode given in markers."
        ),
    )
    group.addoption(
        "--llm-block-network",
        action="store_true",
        default=False,
        help="block network access except loopback (the fake server) in every test",
    )
    group.addoption(
        "--llm-allow-host",
        action="append",
        default=[],
        metavar="HOST",
        help="a host tests may reach while the network is blocked (repeatable)",
    )
    parser.addini(
        "llm_cassette_dir",
        help="directory of cassettes, relative to each test file (default: cassettes)",
        default="cassettes",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "llm_cassette(path=None, mode=None, **options): the cassette of this test for the"
        " llm_cassette fixture (path relative to the test file; options go to Cassette.open)",
    )
    config.addinivalue_line(
        "markers",
        "llm_block_network(enabled=True, allow=()): only loopback and the allowed hosts may be"
        " reached; other hosts raise NetworkBlockedError",
    )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    marker = item.get_closest_marker("llm_block_network")
    enabled = bool(item.config.getoption("--llm-block-network"))
    allow: list[str] = list(item.config.getoption("--llm-allow-host") or ())
    if marker is not None:
        enabled = bool(marker.args[0]) if marker.args else bool(marker.kwargs.get("enabled", True))
        allow += list(marker.kwargs.get("allow", ()))
    if not enabled:
        return (yield)
    from llm_router_testing.network import block_network

    with block_network(allow) as attempts:
        result = yield
    if attempts:
        # The code under test may have caught the error: the attempt still fails the test.
        raise attempts[0]
    return result


_PLUGIN_FIXTURES = frozenset(
    {
        "llm_cassette",
        "llm_cassette_options",
        "llm_record_mode",
        "fake_provider",
        "fake_provider_url",
    }
)
_LOOP_MARKERS = ("trio", "asyncio", "anyio")


def _ini(config: pytest.Config, name: str) -> object:
    try:
        return config.getini(name)
    except ValueError:  # the plugin that declares it is not installed
        return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run async tests that use this plugin's fixtures under Trio, without `trio_mode`."""
    if _ini(config, "trio_mode") or _ini(config, "asyncio_mode") == "auto":
        return
    for item in items:
        if not isinstance(item, pytest.Function) or not _PLUGIN_FIXTURES & set(item.fixturenames):
            continue
        test = getattr(getattr(item.obj, "hypothesis", None), "inner_test", item.obj)
        if not inspect.iscoroutinefunction(test):
            continue
        if any(item.get_closest_marker(name) is not None for name in _LOOP_MARKERS):
            continue
        if not config.pluginmanager.has_plugin("trio"):
            raise pytest.UsageError(
                f"{item.nodeid} is an async test using llm_router_testing fixtures, and runs"
                " under Trio through pytest-trio, which is not installed: pip install"
                " 'llm-router[testing]'"
            )
        item.add_marker(pytest.mark.trio)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    item.stash.setdefault(_REPORTS, {})[report.when] = report
    return report


@pytest.fixture
def llm_cassette_options() -> dict[str, Any]:
    """Default `Cassette.open` options (and ``mode``) for every test; override it in a
    conftest.py. Markers override these."""
    return {}


@pytest.fixture
def llm_record_mode(request: pytest.FixtureRequest, llm_cassette_options: dict[str, Any]) -> str:
    """This test's record mode: command line, else marker, else options fixture, else none."""
    option = request.config.getoption("--llm-record-mode")
    if option is not None:
        return str(option)
    marker = request.node.get_closest_marker("llm_cassette")
    if marker is not None and marker.kwargs.get("mode") is not None:
        return str(marker.kwargs["mode"])
    return str(llm_cassette_options.get("mode") or "none")


def default_cassette_path(request: pytest.FixtureRequest) -> Path:
    """``<test dir>/<llm_cassette_dir>/<module>/<Class.>test[params].json``."""
    test_file = Path(str(request.node.path))
    directory = Path(str(request.config.getini("llm_cassette_dir")))
    name = request.node.name
    if request.cls is not None:
        name = f"{request.cls.__name__}.{name}"
    filename = _UNSAFE_FILENAME.sub("_", name) + ".json"
    return test_file.parent / directory / test_file.stem / filename


@pytest.fixture
def llm_cassette(
    request: pytest.FixtureRequest, llm_record_mode: str, llm_cassette_options: dict[str, Any]
) -> Iterator[Cassette]:
    """The test's cassette: replay with ``.async_transport()`` / ``.transport()``."""
    from llm_router_testing.cassette import Cassette

    marker = request.node.get_closest_marker("llm_cassette")
    options = {**llm_cassette_options, **(marker.kwargs if marker else {})}
    options.pop("mode", None)
    path_option = options.pop("path", None)
    if path_option is None and marker is not None and marker.args:
        path_option = marker.args[0]
    if path_option is None:
        path = default_cassette_path(request)
    else:
        path = Path(str(request.node.path)).parent / Path(path_option)
    cassette = Cassette.open(path, llm_record_mode, **options)
    yield cassette
    cassette.save()
    reports = request.node.stash.get(_REPORTS, {})
    call = reports.get("call")
    if cassette.misses and call is not None and call.passed:
        count = len(cassette.misses)
        pytest.fail(
            f"llm_cassette: {count} request(s) had no recording (the code under test may"
            f" have swallowed the error); the first:\n{cassette.misses[0]}",
            pytrace=False,
        )


@pytest.fixture(scope="session")
def _llm_fake_provider_server() -> Iterator[FakeProvider]:
    from llm_router_testing.fake import FakeProviderThread

    with FakeProviderThread() as server:
        yield server


@pytest.fixture
def fake_provider(_llm_fake_provider_server: FakeProvider) -> FakeProvider:
    """The session's fake provider server (in a background thread), reset for this test:
    empty journal, no scenario. Sync tests use its journal's ``*_blocking`` waits."""
    _llm_fake_provider_server.reset()
    _llm_fake_provider_server.set_scenario(None)
    return _llm_fake_provider_server


@pytest.fixture
def llm_script(fake_provider: FakeProvider) -> Script:
    """A scripted conversation installed on the (reset) session fake server."""
    return fake_provider.script()


@pytest.fixture
def fake_provider_url(fake_provider: FakeProvider) -> str:
    """Base URL of the fake provider (``+ "/v1"`` for OpenAI-style providers)."""
    return fake_provider.url
