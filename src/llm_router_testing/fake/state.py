"""The fake server's mutable state: configuration, scenario, attempt counters, journal, fixtures."""

from __future__ import annotations

import hashlib
import random
import threading
from collections.abc import Mapping, Sequence

from .auth import FakeCredentials
from .faults import Fault, LatencyMixture
from .fixtures import Fixtures
from .journal import Journal
from .scenario import Scenario, ScenarioSource

__all__ = ["DEFAULT_MODELS", "FakeState"]

DEFAULT_MODELS = ("gpt-4o-mini", "claude-sonnet-4-5", "gemini-2.5-flash", "mistral-small-latest")


class FakeState:
    """Shared by the ASGI app (in the server's Trio run) and the `FakeProvider` handle.

    The handle may live in another thread (`FakeProviderThread`), so whole-state changes
    (`set_scenario`, `reset`) take a lock; per-request bookkeeping runs in the server's run.
    """

    def __init__(
        self,
        *,
        credentials: FakeCredentials | None = None,
        require_auth: bool = True,
        scenario: ScenarioSource = None,
        latency: str | LatencyMixture | None = None,
        seed: int | None = None,
        fixtures: Fixtures | None = None,
        models: Sequence[str] = DEFAULT_MODELS,
        journal_limit: int = 10_000,
    ) -> None:
        self.credentials = credentials or FakeCredentials()
        self.require_auth = require_auth
        self.journal = Journal(journal_limit)
        if isinstance(latency, str):
            latency = LatencyMixture.parse(latency)
        self.server_fault = Fault(latency=latency) if latency is not None else None
        self.rng = random.Random(seed)
        self.fixtures = fixtures or Fixtures()
        self.models = tuple(models)
        self.scenario = Scenario.load(scenario)
        self._attempts: dict[str, int] = {}
        self._rule_uses: dict[int, int] = {}
        self._lock = threading.Lock()

    def set_scenario(self, source: ScenarioSource) -> Scenario:
        """Replace the scenario (and restart its rules' `times` counters)."""
        scenario = Scenario.load(source)
        with self._lock:
            self.scenario = scenario
            self._rule_uses = {}
        return scenario

    def reset(self) -> None:
        """Forget the journal, attempt counters, rule counters and fixture positions."""
        with self._lock:
            self._attempts = {}
            self._rule_uses = {}
            self.fixtures.rewind()
        self.journal.clear()

    def fault_for(
        self,
        *,
        method: str,
        path: str,
        provider: str,
        model: str,
        headers: Mapping[str, str],
        body: bytes,
        header_fault: Fault | None,
    ) -> tuple[Fault | None, int]:
        """The fault for one attempt and the attempt's number (1 when not counted)."""
        scenario = self.scenario
        fault = header_fault
        if not scenario.is_empty:
            rule_fault = self._matching_rule(method, path, provider, model, headers)
            layered = rule_fault.over(scenario.defaults) if rule_fault else scenario.defaults
            fault = fault.over(layered) if fault else layered
        if self.server_fault is not None:
            fault = fault.over(self.server_fault) if fault else self.server_fault
        if fault is None or fault == Fault():
            return None, 1
        attempt = 1
        request_id = headers.get("x-fake-request-id")
        if fault.fail_times is not None or request_id is not None:
            key = (
                request_id
                or hashlib.sha1(
                    method.encode() + b" " + path.encode() + b"\n" + body, usedforsecurity=False
                ).hexdigest()
            )
            attempt = self._attempts.get(key, 0) + 1
            self._attempts[key] = attempt
        if fault.fail_times is not None:
            fault = fault.failing() if attempt <= fault.fail_times else fault.succeeding()
        return fault, attempt

    def _matching_rule(
        self, method: str, path: str, provider: str, model: str, headers: Mapping[str, str]
    ) -> Fault | None:
        for index, rule in enumerate(self.scenario.rules):
            if not rule.match.matches(
                method=method, path=path, provider=provider, model=model, headers=headers
            ):
                continue
            used = self._rule_uses.get(index, 0)
            if rule.times is not None and used >= rule.times:
                continue
            if rule.probability is not None and self.rng.random() >= rule.probability:
                continue
            self._rule_uses[index] = used + 1
            return rule.fault
        return None
