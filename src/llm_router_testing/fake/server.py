"""Running the fake server: in a Trio task (`open_fake_provider`), in a thread, or forever (`serve`).

The server is hypercorn on Trio over the raw ASGI app, bound to loopback (a free port by
default). With `fast_http1=True` (`--fast-http1`), HTTP/1.1 is served by the fake's own
listener (`http1_server`: some four times the requests per CPU-second, for load tests that
use the fake as their upstream), WebSocket upgrades and HTTP/2 still by hypercorn. Base URLs follow each SDK's convention: `fake.url` for Anthropic, Gemini, Vertex,
Bedrock and Azure; `fake.url + "/v1"` for OpenAI and OpenAI-compatible clients;
`fake.url + "/mistral/v1"` (or `/v1` with the Mistral key) for Mistral.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, TypedDict, Unpack, cast

import hypercorn.trio
import trio
from hypercorn.config import Config

from llm_router._concurrency import open_nursery, require_trio, sole_exception

from .app import FakeApp
from .http1_server import serve_http

if TYPE_CHECKING:
    from hypercorn.typing import ASGIFramework

    from ..proxy import RecordingProxy
    from ..script import Script
from .auth import FakeCredentials
from .faults import LatencyMixture
from .fixtures import Fixtures
from .journal import Journal
from .scenario import Scenario, ScenarioSource
from .state import DEFAULT_MODELS, FakeState

__all__ = [
    "DEFAULT_BACKLOG",
    "FakeOptions",
    "FakeProvider",
    "FakeProviderThread",
    "open_fake_provider",
    "run_fake_provider_in_thread",
    "serve",
]

logger = logging.getLogger("llm_router_testing.fake")


class FakeOptions(TypedDict, total=False):
    """Options of `open_fake_provider`, `FakeProviderThread` and `serve`.

    host/port: where to listen (default 127.0.0.1, a free port). backlog: the listen queue
    (default `DEFAULT_BACKLOG`, 1,024; the kernel caps it at its `somaxconn`, and a queue too
    short refuses connections under load). credentials: what to accept
    (default `FakeCredentials()`); require_auth=False accepts anything. scenario: faults (see
    `scenario.py`). latency: a server-wide latency mixture such as "50ms:0.97,3s:0.03". seed:
    seeds latency draws and rule probabilities. fixtures: a cassette directory or `Fixtures`.
    models: what `GET /v1/models` lists. journal_limit: entries kept. proxy: a
    `llm_router_testing.proxy.RecordingProxy` sending some providers upstream, recorded.
    strict_models: refuse every model id the real provider would refuse, not only impossible
    ones (see `llm_router_testing.model_ids`). serve_as: the formats (names such as "google",
    "converse") a recording may be served in besides its own; None: every format.
    fast_http1: serve HTTP/1.1 with the fake's own listener instead of hypercorn's (same
    bytes on the wire, about four times the requests per CPU-second; default False).
    """

    host: str
    port: int
    backlog: int
    credentials: FakeCredentials
    require_auth: bool
    scenario: ScenarioSource
    latency: str | LatencyMixture | None
    seed: int | None
    fixtures: str | Path | Fixtures | None
    models: Sequence[str]
    journal_limit: int
    proxy: RecordingProxy | None
    strict_models: bool
    serve_as: Sequence[str] | None
    fast_http1: bool


@dataclass(eq=False)
class FakeProvider:
    """A running fake server: its URL, journal and controls."""

    url: str
    state: FakeState

    @property
    def journal(self) -> Journal:
        return self.state.journal

    @property
    def credentials(self) -> FakeCredentials:
        return self.state.credentials

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def set_scenario(self, scenario: ScenarioSource) -> Scenario:
        """Replace the server's scenario (a `Scenario`, mapping, JSON text or file path)."""
        return self.state.set_scenario(scenario)

    def reset(self) -> None:
        """Clear the journal and every counter (attempts, rule uses, fixture positions)."""
        self.state.reset()

    def script(self, *, strict: bool = False) -> Script:
        """A new scripted conversation, installed as this server's scenario as it is built.

        ``fake.script().when(user_contains="weather").call_tool("get_weather", {...})
        .then().reply("It is sunny")``; `strict`: requests no rule answers get a 404.
        """
        from ..script import Script

        return Script(self, strict=strict)


def _state(options: FakeOptions) -> FakeState:
    fixtures = options.get("fixtures")
    if fixtures is not None and not isinstance(fixtures, Fixtures):
        fixtures = Fixtures.load(fixtures)
    return FakeState(
        credentials=options.get("credentials"),
        require_auth=options.get("require_auth", True),
        scenario=options.get("scenario"),
        latency=options.get("latency"),
        seed=options.get("seed"),
        fixtures=fixtures,
        models=options.get("models", DEFAULT_MODELS),
        journal_limit=options.get("journal_limit", 10_000),
        proxy=options.get("proxy"),
        strict_models=options.get("strict_models", False),
        serve_as=options.get("serve_as"),
    )


#: Listen queue of the fake server: hypercorn's own default of 100 refuses connections when
#: hundreds of clients connect at once (a load test opening 500 streams).
DEFAULT_BACKLOG = 1024


def _config(host: str, port: int, backlog: int = DEFAULT_BACKLOG) -> Config:
    if backlog < 1:
        raise ValueError(f"backlog must be at least 1, got {backlog!r}")
    config = Config()
    config.bind = [f"{host}:{port}"]
    config.backlog = backlog
    config.accesslog = None
    config.errorlog = logger
    config.graceful_timeout = 0.5
    # Load tests and gateways keep connections for long runs; hypercorn closes after 1,000.
    config.keep_alive_max_requests = 1 << 30
    config.include_server_header = False
    return config


@asynccontextmanager
async def open_fake_provider(**options: Unpack[FakeOptions]) -> AsyncIterator[FakeProvider]:
    """Serve the fake provider for the duration of the block; yields its handle."""
    require_trio("open_fake_provider")
    state = _state(options)
    config = _config(
        options.get("host", "127.0.0.1"),
        options.get("port", 0),
        options.get("backlog", DEFAULT_BACKLOG),
    )
    async with open_nursery() as nursery:
        try:
            app = FakeApp(state)
            if options.get("fast_http1", False):
                binds = await nursery.start(partial(serve_http, app, config))
            else:
                framework = cast("ASGIFramework", app)
                binds = await nursery.start(partial(hypercorn.trio.serve, framework, config))
        except BaseException as startup_error:
            # A port already taken may fail inside a nursery: show the cause.
            error = sole_exception(startup_error)
            if error is startup_error:
                raise
            raise error from None
        try:
            yield FakeProvider(binds[0], state)
        finally:
            nursery.cancel_scope.cancel()


async def serve(
    *, on_ready: Callable[[FakeProvider], None] | None = None, **options: Unpack[FakeOptions]
) -> None:
    """Serve until cancelled; `on_ready` gets the handle once the port is bound."""
    async with open_fake_provider(**options) as fake:
        if on_ready is not None:
            on_ready(fake)
        await trio.sleep_forever()


class FakeProviderThread:
    """The fake server in a background thread (its own `trio.run`), for synchronous tests.

    ``with FakeProviderThread(seed=1) as fake: ...`` yields the same `FakeProvider` handle;
    its journal has blocking waits (`wait_for_blocking`, `wait_for_disconnect_blocking`).
    """

    def __init__(self, **options: Unpack[FakeOptions]) -> None:
        self._options = options
        self._ready = threading.Event()
        self._provider: FakeProvider | None = None
        self._error: BaseException | None = None
        self._token: trio.lowlevel.TrioToken | None = None
        self._stop: trio.Event | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> FakeProvider:
        self._thread = threading.Thread(
            target=trio.run, args=(self._main,), name="fake-provider", daemon=True
        )
        self._thread.start()
        if not self._ready.wait(timeout=30):
            raise RuntimeError("the fake provider did not start within 30 s")
        if self._provider is None:
            raise RuntimeError("the fake provider failed to start") from self._error
        return self._provider

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._token is not None and self._stop is not None:
            try:
                trio.from_thread.run_sync(self._stop.set, trio_token=self._token)
            except trio.RunFinishedError:
                pass
        if self._thread is not None:
            self._thread.join(timeout=30)

    async def _main(self) -> None:
        self._token = trio.lowlevel.current_trio_token()
        self._stop = trio.Event()
        try:
            async with open_fake_provider(**self._options) as fake:
                self._provider = fake
                self._ready.set()
                await self._stop.wait()
        except BaseException as error:
            self._error = error
            raise
        finally:
            self._ready.set()


@contextmanager
def run_fake_provider_in_thread(**options: Unpack[FakeOptions]) -> Iterator[FakeProvider]:
    """`FakeProviderThread` as a function: ``with run_fake_provider_in_thread() as fake: ...``."""
    with FakeProviderThread(**options) as fake:
        yield fake
