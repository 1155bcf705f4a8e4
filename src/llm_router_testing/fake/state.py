"""The fake server's mutable state: configuration, scenario, attempt counters, journal, fixtures."""

from __future__ import annotations

import hashlib
import random
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .actions import Action
from .auth import FakeCredentials
from .batches import BatchStore
from .conversation import Conversation
from .crossformat import parse_serve_as
from .faults import Fault, LatencyMixture
from .fixtures import Fixtures
from .journal import Journal
from .scenario import RequestFacts, Scenario, ScenarioSource

if TYPE_CHECKING:
    from ..proxy import RecordingProxy

__all__ = ["DEFAULT_MODELS", "Decision", "FakeState"]

DEFAULT_MODELS = ("gpt-4o-mini", "claude-sonnet-4-5", "gemini-2.5-flash", "mistral-small-latest")


@dataclass(frozen=True, slots=True)
class Decision:
    """How one attempt is answered: its fault, its number, and the scripted rule if any.

    `unmatched` (strict scenarios only) says why no scripted rule answered: the closest
    rule and the conditions it failed.
    """

    fault: Fault | None
    attempt: int = 1
    rule: str | None = None
    action: Action | None = None
    unmatched: str | None = None


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
        proxy: RecordingProxy | None = None,
        strict_models: bool = False,
        serve_as: Sequence[str] | None = None,
    ) -> None:
        self.credentials = credentials or FakeCredentials()
        self.require_auth = require_auth
        self.journal = Journal(journal_limit)
        if isinstance(latency, str):
            latency = LatencyMixture.parse(latency)
        self.server_fault = Fault(latency=latency) if latency is not None else None
        self.rng = random.Random(seed)
        self.fixtures = fixtures or Fixtures()
        self.fixtures.by_content.serve_as = parse_serve_as(serve_as)
        self.models = tuple(models)
        self.scenario = Scenario.load(scenario)
        self.proxy = proxy
        self.strict_models = strict_models
        """Refuse model ids the real provider would (not only impossible ones): `model_ids`."""
        self.batches = BatchStore()
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

    def add_rules(self, source: ScenarioSource) -> Scenario:
        """Put the rules of `source` before the current ones (their counters kept)."""
        added = Scenario.load(source)
        with self._lock:
            current = self.scenario
            self.scenario = Scenario(
                current.defaults, added.rules + current.rules, current.strict or added.strict
            )
            shift = len(added.rules)
            self._rule_uses = {index + shift: uses for index, uses in self._rule_uses.items()}
        return added

    def remove_rules(self, names: Sequence[str]) -> int:
        """Drop the rules named `names` (the other rules keep their counters); how many went."""
        wanted = set(names)
        with self._lock:
            current = self.scenario
            kept = [
                (index, rule) for index, rule in enumerate(current.rules) if rule.name not in wanted
            ]
            self.scenario = Scenario(
                current.defaults, tuple(rule for _, rule in kept), current.strict
            )
            self._rule_uses = {
                position: self._rule_uses[index]
                for position, (index, _) in enumerate(kept)
                if index in self._rule_uses
            }
        return len(current.rules) - len(kept)

    def reset(self) -> None:
        """Forget the journal, attempt counters, rule counters and fixture positions."""
        with self._lock:
            self._attempts = {}
            self._rule_uses = {}
            self.fixtures.rewind()
        self.journal.clear()

    def fault_for(self, **request: Any) -> tuple[Fault | None, int]:
        """`decide` (same keywords) for callers that need only the fault and the attempt."""
        decision = self.decide(**request)
        return decision.fault, decision.attempt

    def decide(
        self,
        *,
        method: str,
        path: str,
        provider: str,
        model: str,
        headers: Mapping[str, str],
        body: bytes,
        header_fault: Fault | None,
        conversation: Conversation | None = None,
    ) -> Decision:
        """Pick the rule for one attempt: its fault layered over the defaults, its answer."""
        scenario = self.scenario
        fault = header_fault
        label: str | None = None
        action: Action | None = None
        unmatched: str | None = None
        if not scenario.is_empty:
            facts = RequestFacts(method, path, provider, model, headers, conversation)
            found = self._matching_rule(facts)
            rule_fault = None
            if found is not None:
                index, use = found
                rule = scenario.rules[index]
                label = rule.label(index)
                rule_fault = rule.fault
                action = rule.action_for(use)
            if scenario.strict and action is None:
                unmatched = self._closest_rule(facts)
            layered = rule_fault.over(scenario.defaults) if rule_fault else scenario.defaults
            fault = fault.over(layered) if fault else layered
        if self.server_fault is not None:
            fault = fault.over(self.server_fault) if fault else self.server_fault
        if fault is None or fault == Fault():
            return Decision(None, 1, label, action, unmatched)
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
        return Decision(fault, attempt, label, action, unmatched)

    def _matching_rule(self, request: RequestFacts) -> tuple[int, int] | None:
        """(index, use number) of the first matching rule that is not used up."""
        for index, rule in enumerate(self.scenario.rules):
            if not rule.match.matches(request):
                continue
            used = self._rule_uses.get(index, 0)
            if rule.times is not None and used >= rule.times:
                continue
            if rule.sequence and used >= len(rule.actions):
                continue
            if rule.probability is not None and self.rng.random() >= rule.probability:
                continue
            self._rule_uses[index] = used + 1
            return index, used
        return None

    def _closest_rule(self, request: RequestFacts) -> str:
        """The scripted rule with the fewest failed conditions, and what it failed."""
        best: tuple[int, int, list[str]] | None = None
        for index, rule in enumerate(self.scenario.rules):
            if not rule.actions:
                continue
            failed = rule.match.failures(request)
            used = self._rule_uses.get(index, 0)
            if not failed and rule.sequence and used >= len(rule.actions):
                failed = [f"all {len(rule.actions)} scripted answers were used"]
            elif not failed and rule.times is not None and used >= rule.times:
                failed = [f"used its {rule.times} times"]
            if best is None or len(failed) < len(best[2]):
                best = (index, used, failed)
        if best is None:
            return "the scenario is strict and has no scripted rule"
        index, _, failed = best
        label = self.scenario.rules[index].label(index)
        return f"closest is {label}: " + "; ".join(failed or ["probability draw missed"])
