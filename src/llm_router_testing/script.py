"""Scripted conversations for tests: a builder that writes the fake server's scenario rules.

    script = fake.script()
    script.when(user_contains="weather", tool_result_for=None).call_tool(
        "get_weather", {"city": "Paris"}
    ).then().reply("It is sunny")

Each `when` starts a rule; the calls after it say what the rule answers; `then` starts the
next answer of the same rule (consumed in order, one per matching request). A rule with one
answer gives it every time. The script is installed on the fake after every change, as the
server's whole scenario (`to_json` gives the same rules as JSON for `POST /_fake/scenario`
or a scenario file). The same rules answer every provider's wire format.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import orjson

from .fake.conversation import UNSET
from .fake.scenario import Scenario

if TYPE_CHECKING:
    from .fake.server import FakeProvider

__all__ = ["RuleBuilder", "Script"]


class Script:
    """An ordered list of scripted rules, optionally installed on a running fake."""

    def __init__(
        self,
        fake: FakeProvider | None = None,
        *,
        strict: bool = False,
        defaults: Mapping[str, Any] | None = None,
    ) -> None:
        self._fake = fake
        self._strict = strict
        self._defaults = dict(defaults or {})
        self._rules: list[RuleBuilder] = []
        self._install()

    @property
    def strict(self) -> bool:
        """Whether a request no rule answers gets a 404 naming the closest rule."""
        return self._strict

    @strict.setter
    def strict(self, value: bool) -> None:
        self._strict = value
        self._install()

    @property
    def fake(self) -> FakeProvider | None:
        """The fake server this script is installed on (None: not installed)."""
        return self._fake

    def when(
        self,
        *,
        user_text: str | None = None,
        user_is: str | None = None,
        user_contains: str | None = None,
        tool_result_for: str | None = UNSET,
        tool_call_id: str | None = None,
        turn: int | None = None,
        system: str | None = None,
        tools: Sequence[str] | str | None = None,
        metadata: Mapping[str, Any] | None = None,
        model: str | None = None,
        provider: str | None = None,
        path: str | None = None,
        name: str | None = None,
        times: int | None = None,
    ) -> RuleBuilder:
        """A new rule matching requests that satisfy every condition given.

        user_text and system are regular expressions (searched); user_is is the exact last
        user text, user_contains a substring of it; tool_result_for a tool whose result the
        conversation carries (None: no tool result yet); turn the number of user turns;
        tools names that must all be offered; metadata key/values that must all be equal;
        model and path regular expressions; provider exact (openai, anthropic, google, ...).
        """
        match: dict[str, Any] = {}
        for key, value in (
            ("user_text", user_text),
            ("user_text_is", user_is),
            ("user_text_contains", user_contains),
            ("tool_call_id", tool_call_id),
            ("turn", turn),
            ("system", system),
            ("tools", [tools] if isinstance(tools, str) else list(tools) if tools else None),
            ("metadata", dict(metadata) if metadata else None),
            ("model", model),
            ("provider", provider),
            ("path", path),
        ):
            if value is not None:
                match[key] = value
        if tool_result_for is not UNSET:
            match["tool_result_for"] = tool_result_for
        rule = RuleBuilder(self, match, name=name, times=times)
        self._rules.append(rule)
        self._install()
        return rule

    def always(self) -> RuleBuilder:
        """A rule matching every request (put it last, as the fallback answer)."""
        return self.when()

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"rules": [rule.to_json() for rule in self._rules]}
        if self.strict:
            out["strict"] = True
        if self._defaults:
            out["defaults"] = self._defaults
        return out

    def to_scenario(self) -> Scenario:
        """The rules as a validated `Scenario` (raises `FaultSpecError` naming a bad value)."""
        return Scenario.from_mapping(self.to_json())

    def dumps(self) -> bytes:
        """The scenario JSON, for a file or `POST /_fake/scenario`."""
        return orjson.dumps(self.to_json(), option=orjson.OPT_INDENT_2)

    def _install(self) -> None:
        scenario = self.to_scenario()
        if self._fake is not None:
            self._fake.set_scenario(scenario)


class RuleBuilder:
    """One rule of a `Script`: its match and its answers, built by chained calls."""

    def __init__(
        self,
        script: Script,
        match: dict[str, Any],
        *,
        name: str | None = None,
        times: int | None = None,
    ) -> None:
        self._script = script
        self._match = match
        self._name = name
        self._times = times
        self._steps: list[dict[str, Any]] = [{}]
        self._faults: dict[str, Any] = {}

    # ------------------------------------------------------------------ answers

    def reply(self, text: str) -> RuleBuilder:
        """Answer with this text."""
        return self._set("text", text)

    def reply_json(self, value: Any) -> RuleBuilder:
        """Answer with this JSON value as the text (structured output)."""
        return self._set("json", value)

    def call_tool(
        self, name: str, arguments: Mapping[str, Any] | None = None, *, id: str | None = None
    ) -> RuleBuilder:
        """Call a tool; several calls in one answer are parallel tool calls."""
        call: dict[str, Any] = {"name": name, "arguments": dict(arguments or {})}
        if id is not None:
            call["id"] = id
        self._steps[-1].setdefault("tool_calls", []).append(call)
        return self._changed()

    def think(self, text: str) -> RuleBuilder:
        """Add a reasoning (thinking) block before the answer."""
        return self._set("reasoning", text)

    def refuse(self, text: str) -> RuleBuilder:
        """Answer with a refusal."""
        return self._set("refusal", text)

    def finish(self, reason: str) -> RuleBuilder:
        """Finish with this reason (stop, length, tool_calls, content_filter, refusal...)."""
        return self._set("finish_reason", reason)

    def usage(self, **counts: int) -> RuleBuilder:
        """Report these token counts (input_tokens, output_tokens, cache_read_tokens, ...)."""
        return self._set("usage", counts)

    def fail(self, status: int, message: str | None = None, **headers: Any) -> RuleBuilder:
        """Answer with the provider's error for `status`.

        Keyword arguments are fault keys sent with the error: retry_after="2",
        retry_after_ms=500, should_retry=False.
        """
        error: dict[str, Any] = {"status": status}
        if message is not None:
            error["message"] = message
        self._faults.update(headers)
        return self._set("error", error)

    def stream(
        self,
        *,
        ttfb: float | str | None = None,
        token_delay: float | str | None = None,
        delays: Sequence[float | str] = (),
    ) -> RuleBuilder:
        """Stream timing: delay before the first byte, between tokens, or per token."""
        timing: dict[str, Any] = {}
        if ttfb is not None:
            timing["ttfb"] = ttfb
        if token_delay is not None:
            timing["token_delay"] = token_delay
        if delays:
            timing["delays"] = list(delays)
        return self._set("stream", timing)

    def with_faults(self, **faults: Any) -> RuleBuilder:
        """Faults applied to every request this rule answers (latency="2s", stream_error=3...)."""
        self._faults.update(faults)
        return self._changed()

    def times(self, count: int) -> RuleBuilder:
        """Answer only the first `count` matching requests."""
        self._times = count
        return self._changed()

    def named(self, name: str) -> RuleBuilder:
        """Name the rule (the journal's `rule` and strict-mode errors use it)."""
        self._name = name
        return self._changed()

    # ------------------------------------------------------------------ structure

    def then(self) -> RuleBuilder:
        """Start the rule's next answer (for its next matching request)."""
        if not self._steps[-1]:
            raise ValueError("then() follows an answer: say what the previous step replies")
        self._steps.append({})
        return self._changed()

    def when(self, **conditions: Any) -> RuleBuilder:
        """Start another rule of the same script."""
        return self._script.when(**conditions)

    @property
    def script(self) -> Script:
        return self._script

    def to_json(self) -> dict[str, Any]:
        steps = [step for step in self._steps if step]
        out: dict[str, Any] = {"match": dict(self._match)}
        if self._name is not None:
            out["name"] = self._name
        if self._times is not None:
            out["times"] = self._times
        if len(steps) == 1:
            out["respond"] = steps[0]
        elif steps:
            out["respond"] = steps
        out.update(self._faults)
        return out

    def _set(self, key: str, value: Any) -> RuleBuilder:
        self._steps[-1][key] = value
        return self._changed()

    def _changed(self) -> RuleBuilder:
        self._script._install()
        return self
