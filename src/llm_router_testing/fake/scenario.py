"""Server-wide fault scenarios: defaults plus rules that pick requests and say what to do.

A scenario is JSON (a file for `--scenario`, the body of `POST /_fake/scenario`, or a mapping
given to `FakeProvider.set_scenario`)::

    {
      "defaults": {"latency": "50ms:0.97,3s:0.03"},
      "rules": [
        {"match": {"path": "/v1/messages$", "model": "^claude-", "method": "POST",
                   "provider": "anthropic", "headers": {"x-tenant": "^blue$"}},
         "status": 529, "times": 2},
        {"match": {"provider": "bedrock"}, "stream_error": 3, "probability": 0.1}
      ]
    }

Every key of a rule other than `match`, `times`, `probability` and `name` is a fault (see
`faults.py`); so are the keys of `defaults`. `match` patterns are regular expressions searched
in the request path, model and header values, each search bounded in time (see
`llm_router_testing.patterns`: a pattern that backtracks catastrophically fails the request
with a message naming it, instead of stalling the server); `method` and `provider` (openai, azure,
mistral, anthropic, vertex-anthropic, google, vertex-google, bedrock) compare exactly; an empty
`match` matches everything. The first rule that matches and is not exhausted applies: `times`
limits a rule to its first N matching requests (counted from the last reset), `probability`
applies it to that share of them (drawn from the server's seeded generator).

A rule with `respond` answers the request itself (see `actions.py`), and its `match` may also
look at what the request says (see `conversation.py`: `user_text`, `tool_result_for`, `turn`,
`system`, `tools`, `metadata`...). A `respond` list is consumed in order, one answer per
matching request; the rule is then used up. `"strict": true` makes a request that no scripted
rule answers a 404 naming the closest rule.

Precedence, field by field: `x-fake-*` request headers, then the matching rule, then
`defaults`, then the server options (`--latency`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeAlias

import orjson

from llm_router_testing.patterns import BoundedPattern, PatternError, compile_pattern

from .actions import Action
from .conversation import ContentMatch, Conversation
from .faults import Fault, FaultSpecError

__all__ = ["Match", "RequestFacts", "Rule", "Scenario", "ScenarioSource"]

_RULE_KEYS = {"match", "times", "probability", "name", "respond"}


@dataclass(frozen=True, slots=True)
class RequestFacts:
    """What rules look at in one request (the conversation only when a rule needs it)."""

    method: str
    path: str
    provider: str
    model: str
    headers: Mapping[str, str]
    conversation: Conversation | None = None


@dataclass(frozen=True, slots=True)
class Match:
    """Which requests a rule applies to; unset parts match anything."""

    path: BoundedPattern | None = None
    model: BoundedPattern | None = None
    method: str | None = None
    provider: str | None = None
    headers: tuple[tuple[str, BoundedPattern], ...] = ()
    content: ContentMatch = field(default_factory=ContentMatch)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> Match:
        unknown = (
            set(values)
            - {"path", "model", "method", "provider", "headers", "header"}
            - ContentMatch.KEYS
        )
        if unknown:
            raise FaultSpecError(f"unknown match keys: {sorted(unknown)}")
        headers = values.get("headers") or values.get("header") or {}
        if not isinstance(headers, Mapping):
            raise FaultSpecError("match.headers must be an object of header: pattern")
        return cls(
            path=_compile(values.get("path"), "match.path"),
            model=_compile(values.get("model"), "match.model"),
            method=str(values["method"]).upper() if values.get("method") else None,
            provider=str(values["provider"]) if values.get("provider") else None,
            headers=tuple(
                (
                    str(name).lower(),
                    _compile(pattern, f"match.headers.{name}") or compile_pattern(""),
                )
                for name, pattern in headers.items()
            ),
            content=ContentMatch.from_mapping(values),
        )

    def matches(self, request: RequestFacts) -> bool:
        if self.method is not None and self.method != request.method:
            return False
        if self.provider is not None and self.provider != request.provider:
            return False
        if self.path is not None and not self.path.search(request.path):
            return False
        if self.model is not None and not self.model.search(request.model):
            return False
        headers = request.headers
        if not all(name in headers and p.search(headers[name]) for name, p in self.headers):
            return False
        return not self.content.failures(request.conversation)

    def failures(self, request: RequestFacts) -> list[str]:
        """Why a request does not match, one phrase per failed condition (empty: it matches)."""
        failed: list[str] = []
        method, path, model, headers = request.method, request.path, request.model, request.headers
        if self.method is not None and self.method != method:
            failed.append(f"method {method}, not {self.method}")
        if self.provider is not None and self.provider != request.provider:
            failed.append(f"provider {request.provider}, not {self.provider}")
        if self.path is not None and not self.path.search(path):
            failed.append(f"path /{self.path.source}/ not found in {path!r}")
        if self.model is not None and not self.model.search(model):
            failed.append(f"model /{self.model.source}/ not found in {model!r}")
        for name, pattern in self.headers:
            if name not in headers or not pattern.search(headers[name]):
                failed.append(f"header {name} does not match /{pattern.source}/")
        return failed + self.content.failures(request.conversation)


@dataclass(frozen=True, slots=True)
class Rule:
    match: Match
    fault: Fault
    times: int | None = None
    probability: float | None = None
    name: str | None = None
    actions: tuple[Action, ...] = ()
    """Scripted answers; empty: a fault rule. One answer repeats; a list (`sequence`) is
    consumed in order, one per matching request, and the rule is used up after the last."""
    sequence: bool = False

    def action_for(self, use: int) -> Action | None:
        """The answer for the rule's `use`-th match (from 0); None once a sequence is used up."""
        if not self.actions:
            return None
        if not self.sequence:
            return self.actions[0]
        return self.actions[use] if use < len(self.actions) else None

    def label(self, index: int) -> str:
        """How the journal and errors name this rule: its name, else its position."""
        return self.name if self.name else f"rule #{index}"

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> Rule:
        match = values.get("match") or {}
        if not isinstance(match, Mapping):
            raise FaultSpecError("a rule's match must be an object")
        times = values.get("times")
        probability = values.get("probability")
        if times is not None and (not isinstance(times, int) or times < 0):
            raise FaultSpecError(f"times must be a non-negative integer, got {times!r}")
        if probability is not None and not (
            isinstance(probability, int | float) and 0 <= probability <= 1
        ):
            raise FaultSpecError(f"probability must be between 0 and 1, got {probability!r}")
        return cls(
            match=Match.from_mapping(match),
            fault=Fault.from_mapping({k: v for k, v in values.items() if k not in _RULE_KEYS}),
            times=times,
            probability=float(probability) if probability is not None else None,
            name=str(values["name"]) if values.get("name") else None,
            actions=_actions(values.get("respond")),
            sequence=isinstance(values.get("respond"), list),
        )


@dataclass(frozen=True, slots=True)
class Scenario:
    """Defaults and ordered rules; `Scenario()` injects nothing."""

    defaults: Fault = field(default_factory=Fault)
    rules: tuple[Rule, ...] = ()
    strict: bool = False
    """A request no scripted rule answers gets a 404 naming the closest rule."""

    @property
    def is_empty(self) -> bool:
        return not self.rules and self.defaults == Fault() and not self.strict

    @property
    def reads_content(self) -> bool:
        """Whether a rule needs the request read as a conversation (or strict mode explains)."""
        return self.strict or any(
            rule.actions or not rule.match.content.is_empty for rule in self.rules
        )

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> Scenario:
        unknown = set(values) - {"defaults", "rules", "description", "strict"}
        if unknown:
            raise FaultSpecError(f"unknown scenario keys: {sorted(unknown)}")
        defaults = values.get("defaults") or {}
        rules = values.get("rules") or []
        if not isinstance(defaults, Mapping) or not isinstance(rules, list):
            raise FaultSpecError("scenario: defaults must be an object and rules a list")
        for rule in rules:
            if not isinstance(rule, Mapping):
                raise FaultSpecError("scenario: each rule must be an object")
        strict = values.get("strict", False)
        if not isinstance(strict, bool):
            raise FaultSpecError("scenario: strict must be true or false")
        return cls(Fault.from_mapping(defaults), tuple(Rule.from_mapping(r) for r in rules), strict)

    @classmethod
    def load(cls, source: ScenarioSource) -> Scenario:
        """From a Scenario, a mapping, JSON text or bytes, a file path, or None (empty)."""
        if source is None:
            return cls()
        if isinstance(source, Scenario):
            return source
        if isinstance(source, Mapping):
            return cls.from_mapping(source)
        if isinstance(source, str) and not source.lstrip().startswith(("{", "[")):
            source = Path(source)
        if isinstance(source, Path):
            try:
                source = source.read_bytes()
            except OSError as error:
                raise FaultSpecError(
                    f"cannot read scenario file {str(source)!r}: {error}"
                ) from None
        try:
            data = orjson.loads(source)
        except orjson.JSONDecodeError as error:
            raise FaultSpecError(f"scenario is not valid JSON: {error}") from None
        if not isinstance(data, Mapping):
            raise FaultSpecError("a scenario must be a JSON object")
        return cls.from_mapping(data)


ScenarioSource: TypeAlias = Scenario | Mapping[str, Any] | str | bytes | Path | None


def _compile(pattern: object, where: str) -> BoundedPattern | None:
    if pattern is None:
        return None
    try:
        return compile_pattern(pattern, where)
    except PatternError as error:
        raise FaultSpecError(str(error)) from None


def _actions(value: object) -> tuple[Action, ...]:
    if value is None:
        return ()
    if isinstance(value, Mapping):
        return (Action.from_mapping(value),)
    if not isinstance(value, list) or not value:
        raise FaultSpecError("respond must be an object or a non-empty list of them")
    for step in value:
        if not isinstance(step, Mapping):
            raise FaultSpecError("each step of respond must be an object")
    return tuple(Action.from_mapping(step, f"respond[{i}]") for i, step in enumerate(value))
