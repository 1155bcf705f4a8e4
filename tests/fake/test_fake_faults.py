"""Fault parsing (headers, durations, latency mixtures) and scenario rules, without a server."""

from __future__ import annotations

import random
import statistics

import pytest

from llm_router_testing.fake import Fault, FaultSpecError, LatencyMixture, Scenario, parse_duration
from llm_router_testing.fake.state import FakeState


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("50ms", 0.05), ("3s", 3.0), ("1.5s", 1.5), ("2m", 120.0), ("250us", 0.00025), ("0.2", 0.2)],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "fast", "5h", "-3s", "ms"])
def test_parse_duration_rejects_nonsense(text: str) -> None:
    with pytest.raises(FaultSpecError, match="duration"):
        parse_duration(text)


def test_latency_mixture_normalises_weights() -> None:
    mixture = LatencyMixture.parse("50ms:0.97, 3s:0.03")
    assert mixture.components == (
        (0.05, 0.05, pytest.approx(0.97)),
        (3.0, 3.0, pytest.approx(0.03)),
    )
    assert mixture.mean == pytest.approx(0.05 * 0.97 + 3 * 0.03)
    assert LatencyMixture.parse("10ms,30ms").components[0][2] == pytest.approx(0.5)


def test_latency_mixture_draws_match_the_weights_and_are_reproducible() -> None:
    mixture = LatencyMixture.parse("50ms:0.9,10ms-20ms:0.1")
    draws = [mixture.draw(random.Random(7)) for _ in range(3)]
    assert len(set(draws)) == 1  # same seed, same draw
    rng = random.Random(1)
    sample = [mixture.draw(rng) for _ in range(5000)]
    slow_share = sum(value == 0.05 for value in sample) / len(sample)
    assert slow_share == pytest.approx(0.9, abs=0.03)
    uniform = [value for value in sample if value != 0.05]
    assert all(0.01 <= value <= 0.02 for value in uniform)
    assert statistics.mean(uniform) == pytest.approx(0.015, abs=0.001)


@pytest.mark.parametrize("spec", ["", "50ms:x", "50ms:-1", "2s-1s", "50ms:0"])
def test_latency_mixture_rejects_bad_specs(spec: str) -> None:
    with pytest.raises(FaultSpecError):
        LatencyMixture.parse(spec)


def test_fault_from_headers_reads_every_field() -> None:
    fault = Fault.from_headers(
        {
            "x-fake-status": "429",
            "x-fake-retry-after": "2",
            "x-fake-retry-after-ms": "150",
            "x-fake-should-retry": "false",
            "x-fake-latency": "5ms",
            "x-fake-ttfb": "1s",
            "x-fake-tokens-per-second": "20",
            "x-fake-drop-after-events": "3",
            "x-fake-malformed-event": "1",
            "x-fake-bad-crc": "true",
            "x-fake-stream-error": "2",
            "x-fake-fail-times": "1",
            "x-fake-answer": "caf\xc3\xa9",  # UTF-8 bytes as the server sees them (latin-1)
            "x-fake-request-id": "abc",
            "authorization": "Bearer x",
        }
    )
    assert fault is not None
    assert (fault.status, fault.retry_after, fault.retry_after_ms) == (429, "2", 150)
    assert fault.should_retry is False
    assert fault.latency == LatencyMixture(((0.005, 0.005, 1.0),))
    assert (fault.ttfb, fault.inter_event_delay) == (1.0, pytest.approx(0.05))
    assert (fault.drop_after_events, fault.malformed_event, fault.bad_crc) == (3, 1, 0)
    assert (fault.stream_error, fault.fail_times, fault.answer) == (2, 1, "café")


def test_no_fake_headers_means_no_fault() -> None:
    assert Fault.from_headers({"authorization": "Bearer x"}) is None


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({"x-fake-status": "abc"}, "status"),
        ({"x-fake-status": "99"}, "status"),
        ({"x-fake-drop-after-events": "-1"}, "negative"),
        ({"x-fake-colour": "red"}, "unknown fault"),
        ({"x-fake-should-retry": "maybe"}, r"^x-fake-should-retry: expected true or false"),
    ],
)
def test_bad_fault_headers_name_the_problem(headers: dict[str, str], message: str) -> None:
    with pytest.raises(FaultSpecError, match=message):
        Fault.from_headers(headers)


def test_fault_layers_merge_field_by_field() -> None:
    top = Fault(status=503)
    base = Fault(status=429, retry_after="1", ttfb=0.5)
    assert top.over(base) == Fault(status=503, retry_after="1", ttfb=0.5)
    assert top.over(None) is top


def test_fail_times_gates_failures_but_keeps_delays() -> None:
    fault = Fault(fail_times=2, ttfb=0.1)
    assert fault.failing().status == 500
    assert Fault(fail_times=1, stream_error=2).failing().status is None
    succeeding = Fault(fail_times=1, status=429, ttfb=0.1).succeeding()
    assert succeeding == Fault(ttfb=0.1)


def _state(scenario: object) -> FakeState:
    return FakeState(scenario=scenario, seed=3)  # type: ignore[arg-type]


def _fault_for(
    state: FakeState,
    *,
    path: str = "/v1/messages",
    model: str = "claude-x",
    headers: dict[str, str] | None = None,
) -> tuple[Fault | None, int]:
    decision = state.decide(
        method="POST",
        path=path,
        provider="anthropic",
        model=model,
        headers=headers or {},
        body=b"{}",
        header_fault=Fault.from_headers(headers or {}),
    )
    return decision.fault, decision.attempt


def test_scenario_rules_match_and_run_out_after_times() -> None:
    state = _state(
        {
            "defaults": {"ttfb": "10ms"},
            "rules": [
                {
                    "match": {"path": "/v1/messages$", "model": "^claude-"},
                    "status": 529,
                    "times": 2,
                },
                {"match": {"headers": {"x-tenant": "^blue$"}}, "status": 503},
            ],
        }
    )
    statuses = [_fault_for(state)[0] for _ in range(3)]
    assert [f.status if f else None for f in statuses] == [529, 529, None]
    assert all(f is not None and f.ttfb == 0.01 for f in statuses)
    blue, _ = _fault_for(state, headers={"x-tenant": "blue"})
    assert blue is not None and blue.status == 503
    other_model, _ = _fault_for(state, model="gpt-4o")
    assert other_model is not None and other_model.status is None
    state.reset()
    assert _fault_for(state)[0].status == 529  # type: ignore[union-attr]


def test_headers_win_over_rules_and_defaults_over_server_latency() -> None:
    state = FakeState(scenario={"rules": [{"status": 500, "retry_after": "9"}]}, latency="1s")
    fault, _ = _fault_for(state, headers={"x-fake-status": "429"})
    assert fault is not None
    assert (fault.status, fault.retry_after) == (429, "9")
    assert fault.latency is not None and fault.latency.mean == 1.0


def test_probability_rules_use_the_seeded_generator() -> None:
    def share(seed: int) -> list[bool]:
        state = FakeState(scenario={"rules": [{"status": 500, "probability": 0.25}]}, seed=seed)
        return [(_fault_for(state)[0] or Fault()).status == 500 for _ in range(400)]

    assert share(5) == share(5)
    assert sum(share(5)) / 400 == pytest.approx(0.25, abs=0.07)


def test_fail_times_counts_attempts_by_request_id_or_fingerprint() -> None:
    state = _state(None)
    by_id = {"x-fake-fail-times": "2", "x-fake-status": "429", "x-fake-request-id": "r1"}
    outcomes = [_fault_for(state, headers=by_id) for _ in range(3)]
    assert [(f.status if f else None, n) for f, n in outcomes] == [(429, 1), (429, 2), (None, 3)]
    fingerprint = {"x-fake-fail-times": "1"}
    first, second = _fault_for(state, headers=fingerprint), _fault_for(state, headers=fingerprint)
    assert first[0] is not None and first[0].status == 500
    assert second[0] is not None and second[0].status is None and second[1] == 2


@pytest.mark.parametrize(
    "document",
    [
        '{"rules": [{"match": {"path": "("}}]}',
        '{"rules": [{"times": -1}]}',
        '{"rules": [{"probability": 2}]}',
        '{"rules": [{"match": {"colour": "red"}}]}',
        '{"extra": 1}',
        "[1, 2]",
        "{not json",
    ],
)
def test_bad_scenarios_are_rejected(document: str) -> None:
    with pytest.raises(FaultSpecError):
        Scenario.load(document)


def test_scenario_loads_from_a_file(tmp_path: object) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "scenario.json"
    path.write_text('{"defaults": {"latency": "5ms"}, "rules": [{"status": 429}]}')
    scenario = Scenario.load(path)
    assert scenario.rules[0].fault.status == 429
    assert Scenario.load(str(path)) == scenario
    assert Scenario.load(None).is_empty
