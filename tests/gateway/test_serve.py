"""`llm-router serve` as a real process: config file, SIGTERM drain with a grace period, exit 0."""

from __future__ import annotations

import sys
from pathlib import Path

import httpx
import trio

from llm_router.cli_serve import snippets
from llm_router_testing.fake import FAKE_KEYS, FakeProvider, open_fake_provider

from ._process import run_serve

BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hello"}]}


def config_file(tmp_path: Path, fake: FakeProvider, gateway: str = "") -> Path:
    path = tmp_path / "router.toml"
    path.write_text(
        f"""
[gateway]
forward_headers = ["x-fake-"]
{gateway}

[providers.openai]
kind = "openai"
base_url = "{fake.url}/v1"
api_key_env = "GW_OPENAI_KEY"

[providers.anthropic]
kind = "anthropic"
base_url = "{fake.url}"
api_key_env = "GW_ANTHROPIC_KEY_UNSET"
"""
    )
    return path


async def test_sigterm_lets_in_flight_calls_finish_then_exits_0(tmp_path: Path) -> None:
    async with open_fake_provider() as fake:
        args = ["--config", str(config_file(tmp_path, fake))]
        async with (
            run_serve(args, {"GW_OPENAI_KEY": FAKE_KEYS["openai"]}) as served,
            httpx.AsyncClient(timeout=30) as client,
        ):
            responses: list[httpx.Response] = []

            async def call() -> None:
                responses.append(
                    await client.post(
                        served.url + "/v1/chat/completions",
                        json=BODY,
                        headers={"x-fake-latency": "1s"},
                    )
                )

            async with trio.open_nursery() as nursery:
                nursery.start_soon(call)
                await fake.journal.wait_for(lambda e: e.path == "/v1/chat/completions")
                served.terminate()
            status = await served.wait()
    assert status == 0
    assert responses[0].status_code == 200
    stderr = served.stderr.decode()
    assert "provider 'anthropic' left out: GW_ANTHROPIC_KEY_UNSET is not set" in stderr
    assert "SIGTERM received, draining" in stderr
    assert FAKE_KEYS["openai"] not in stderr


async def test_calls_still_running_after_the_grace_period_are_cancelled(tmp_path: Path) -> None:
    async with open_fake_provider() as fake:
        args = ["--config", str(config_file(tmp_path, fake, "shutdown_grace = 0.2"))]
        async with (
            run_serve(args, {"GW_OPENAI_KEY": FAKE_KEYS["openai"]}) as served,
            httpx.AsyncClient(timeout=30) as client,
        ):
            failures: list[Exception] = []

            async def call() -> None:
                try:
                    await client.post(
                        served.url + "/v1/chat/completions",
                        json=BODY,
                        headers={"x-fake-latency": "60s"},
                    )
                except httpx.HTTPError as exc:
                    failures.append(exc)

            async with trio.open_nursery() as nursery:
                nursery.start_soon(call)
                await fake.journal.wait_for(lambda e: e.path == "/v1/chat/completions")
                served.terminate()
                status = await served.wait()
                cut = await fake.journal.wait_for_disconnect()
    assert status == 0
    assert cut.path == "/v1/chat/completions" and cut.status is None
    assert len(failures) == 1 and isinstance(failures[0], httpx.RemoteProtocolError)


async def test_a_bad_config_file_exits_2_naming_the_key(tmp_path: Path) -> None:
    path = tmp_path / "router.toml"
    path.write_text("[gateway]\nport = 'eighty'\n")
    result = await trio.run_process(
        [*_cli(), "serve", "--config", str(path)],
        capture_stdout=True,
        capture_stderr=True,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.decode().strip() == (
        f"llm-router: error: {path}: [gateway] port: must be int, got 'eighty'"
    )


def _cli() -> list[str]:
    return [sys.executable, "-m", "llm_router.cli"]


async def test_demo_serve_leaves_a_gateway_on_fake_upstreams_running() -> None:
    async with run_serve(["--serve"], command="demo") as served, httpx.AsyncClient() as client:
        answer = await client.post(
            served.url + "/v1/chat/completions",
            json={"model": "claude-haiku-4-5", "messages": [{"role": "user", "content": "hello"}]},
        )
        served.terminate()
        status = await served.wait()
    assert answer.status_code == 200
    assert answer.json()["choices"][0]["message"]["content"] == "You said: hello"
    assert answer.headers["x-llm-router-provider"] == "anthropic"
    assert status == 0


def test_the_demo_snippets_point_at_the_gateway() -> None:
    text = snippets("http://127.0.0.1:8123")
    assert "curl -s http://127.0.0.1:8123/v1/chat/completions" in text
    assert "openai.OpenAI(base_url='http://127.0.0.1:8123/v1'" in text
    assert "anthropic.Anthropic(base_url='http://127.0.0.1:8123'" in text
