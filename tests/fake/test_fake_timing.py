"""Delays and disconnects in virtual time: the ASGI app driven directly under MockClock."""

from __future__ import annotations

import itertools
from typing import Any

import orjson
import pytest
import trio
import trio.testing

from llm_router_testing.fake import FAKE_KEYS, Fault
from llm_router_testing.fake.app import FakeApp
from llm_router_testing.fake.state import FakeState

CHAT = {"model": "m", "stream": True, "messages": [{"role": "user", "content": "a b c"}]}


class Call:
    """One ASGI request: what was sent, when, and a switch to make the client disconnect."""

    def __init__(self) -> None:
        self.messages: list[tuple[float, dict[str, Any]]] = []
        self.disconnect_at: float | None = None

    async def run(self, app: FakeApp, body: dict[str, Any], headers: dict[str, str]) -> None:
        delivered = False

        async def receive() -> dict[str, Any]:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": orjson.dumps(body), "more_body": False}
            if self.disconnect_at is None:
                await trio.sleep_forever()
            else:
                await trio.sleep_until(self.disconnect_at)
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            self.messages.append((trio.current_time(), message))

        scope = {
            "type": "http",
            "method": "POST",
            "path": "/v1/chat/completions",
            "raw_path": b"/v1/chat/completions",
            "query_string": b"",
            "headers": [(k.encode(), v.encode()) for k, v in headers.items()],
        }
        await app(scope, receive, send)

    @property
    def start_time(self) -> float:
        return next(t for t, m in self.messages if m["type"] == "http.response.start")

    @property
    def body_times(self) -> list[float]:
        return [t for t, m in self.messages if m["type"] == "http.response.body"]


def _headers(**faults: str) -> dict[str, str]:
    headers = {"authorization": f"Bearer {FAKE_KEYS['openai']}"}
    headers.update({f"x-fake-{name.replace('_', '-')}": value for name, value in faults.items()})
    return headers


async def test_latency_ttfb_and_inter_event_delay(autojump_clock: trio.testing.MockClock) -> None:
    app = FakeApp(FakeState(seed=1))
    call = Call()
    begin = trio.current_time()
    await call.run(app, CHAT, _headers(latency="2s", ttfb="1s", inter_event_delay="250ms"))
    assert call.start_time - begin == pytest.approx(2.0)
    times = call.body_times
    assert times[0] - call.start_time == pytest.approx(1.0)
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert gaps == pytest.approx([0.25] * len(gaps))
    entry = app.state.journal[-1]
    assert entry.first_byte_at == pytest.approx(begin + 2.0)
    assert entry.first_event_at == pytest.approx(begin + 3.0)
    assert entry.events_sent == len(times) and not entry.disconnected
    assert entry.faults == ("latency", "ttfb", "inter_event_delay")


async def test_tokens_per_second_paces_the_stream(autojump_clock: trio.testing.MockClock) -> None:
    app = FakeApp(FakeState())
    call = Call()
    await call.run(app, CHAT, _headers(tokens_per_second="10"))
    times = call.body_times
    assert times[-1] - times[0] == pytest.approx(0.1 * (len(times) - 1))


async def test_server_latency_mixture_is_drawn_per_attempt_with_the_seed(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def delays(seed: int) -> list[float]:
        app = FakeApp(FakeState(seed=seed, latency="10ms:0.5,1s:0.5"))
        result = []
        for _ in range(20):
            call = Call()
            begin = trio.current_time()
            await call.run(app, {**CHAT, "stream": False}, _headers())
            result.append(round(call.start_time - begin, 6))
        return result

    first = await delays(4)
    assert first == await delays(4)
    assert set(first) == {0.01, 1.0}


async def test_client_disconnect_mid_stream_is_recorded_promptly(
    autojump_clock: trio.testing.MockClock,
) -> None:
    app = FakeApp(FakeState())
    call = Call()
    call.disconnect_at = trio.current_time() + 1.1
    await call.run(app, CHAT, _headers(inter_event_delay="500ms"))
    entry = app.state.journal[-1]
    assert entry.disconnected
    assert entry.events_sent == 3  # events at 0, 0.5 and 1.0 s; the client left at 1.1 s
    assert entry.ended_at == pytest.approx(call.disconnect_at)


async def test_client_leaving_during_latency_is_recorded(
    autojump_clock: trio.testing.MockClock,
) -> None:
    app = FakeApp(FakeState())
    call = Call()
    call.disconnect_at = trio.current_time() + 0.3
    await call.run(app, {**CHAT, "stream": False}, _headers(latency="5s"))
    entry = app.state.journal[-1]
    assert entry.disconnected and entry.status is None
    assert call.messages == []


async def test_scenario_latency_applies_without_headers(
    autojump_clock: trio.testing.MockClock,
) -> None:
    state = FakeState()
    state.set_scenario({"rules": [{"match": {"model": "^slow"}, "latency": "3s"}]})
    app = FakeApp(state)
    slow, fast = Call(), Call()
    begin = trio.current_time()
    await slow.run(app, {**CHAT, "model": "slow-model"}, _headers())
    assert slow.start_time - begin == pytest.approx(3.0)
    begin = trio.current_time()
    await fast.run(app, CHAT, _headers())
    assert fast.start_time == pytest.approx(begin)
    assert state.scenario.rules[0].fault == Fault.from_mapping({"latency": "3s"})
