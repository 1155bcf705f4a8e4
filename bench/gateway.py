"""The gateway (`llm-router serve`) against LiteLLM's proxy (`litellm --config`), same upstream.

A tiny upstream (raw HTTP/1.1 on Trio sockets, in a process of its own) answers Anthropic
Messages requests: a JSON body, or a 100-event stream in one write when the request asks to
stream. In front of it, each in a process of its own with one worker:

- `llm-router serve --config` (an Anthropic provider at the upstream, access log off);
- LiteLLM's proxy, `litellm --config` with `LITELLM_MASTER_KEY` set and no database, from the
  environment `make bench` installs in bench/.litellm-proxy-venv.

The load comes from this process over keep-alive loopback connections, written as raw
HTTP/1.1 on Trio sockets so the client's own cost stays small: OpenAI Chat Completions
requests (`/v1/chat/completions`, translated to Anthropic by both), non-streamed and
streamed. The direct row sends the Anthropic request straight to the upstream: the
latency a gateway adds is its p50/p99 minus the direct one. At each concurrency level,
rounds of `--seconds` alternate direct, gateway and LiteLLM; printed are medians over rounds.
Writes bench/results/gateway.txt and gateway.json (read by bench/plot.py).

    .venv/bin/python bench/gateway.py [--levels 1,8,32,64] [--rounds 3] [--seconds 2]
        [--litellm-proxy bench/.litellm-proxy-venv/bin/litellm]

Not run by the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson
import trio
from _util import ServerProcess, percentile, serve_http_upstream, text_table
from fake_server import _read_response
from stream_floor import anthropic_events

HERE = Path(__file__).parent
RESULTS = HERE / "results"
MODEL = "bench-model"
MASTER_KEY = "sk-bench-master"
LITELLM_PROXY = HERE / ".litellm-proxy-venv" / "bin" / "litellm"
ANSWER = orjson.dumps(
    {
        "id": "msg_bench",
        "type": "message",
        "role": "assistant",
        "model": "claude-bench",
        "content": [{"type": "text", "text": "Hello! How can I help you today?"}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 12, "output_tokens": 9},
    }
)


# -- the upstream (run with --serve-upstream in its own process) ----------------------------------
async def serve_upstream() -> None:
    plain = (
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
        b"content-length: " + str(len(ANSWER)).encode() + b"\r\n\r\n" + ANSWER
    )
    body = b"".join(anthropic_events())
    streamed = (
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
        b"content-length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )

    async def respond(stream: trio.SocketStream, request: bytes) -> None:
        wants_stream = orjson.loads(request).get("stream") is True
        await stream.send_all(streamed if wants_stream else plain)

    await serve_http_upstream(respond)


# -- the two gateways ------------------------------------------------------------------------------
def gateway_config(upstream: str, directory: Path) -> Path:
    path = directory / "router.toml"
    path.write_text(
        f"""[gateway]
access_log = false
backlog = 4096

[providers.up]
kind = "anthropic"
base_url = "{upstream}"
api_key_env = "BENCH_UPSTREAM_KEY"

[models.{MODEL}]
routes = [{{ provider = "up", model = "claude-bench" }}]
"""
    )
    return path


def litellm_config(upstream: str, directory: Path) -> Path:
    path = directory / "litellm.yaml"
    path.write_text(
        f"""model_list:
  - model_name: {MODEL}
    litellm_params:
      model: anthropic/claude-bench
      api_base: {upstream}
      api_key: sk-bench
litellm_settings:
  drop_params: true
"""
    )
    return path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class LiteLLMProxy:
    """`litellm --config` in a process of its own; ready once /health/liveliness answers."""

    def __init__(self, executable: str, config: Path) -> None:
        self._command = [executable, "--config", str(config), "--host", "127.0.0.1"]
        self._port = free_port()
        self._command += ["--port", str(self._port), "--num_workers", "1"]
        self.url = f"http://127.0.0.1:{self._port}"
        self._process: trio.Process | None = None

    async def __aenter__(self) -> LiteLLMProxy:
        env = dict(os.environ, LITELLM_MASTER_KEY=MASTER_KEY, LITELLM_LOCAL_MODEL_COST_MAP="True")
        env.pop("DATABASE_URL", None)
        self._process = await trio.lowlevel.open_process(
            self._command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        async with httpx.AsyncClient() as client:
            with trio.fail_after(180):
                while True:
                    if self._process.poll() is not None:
                        raise RuntimeError("LiteLLM's proxy exited before answering")
                    try:
                        ready = await client.get(self.url + "/health/liveliness")
                        if ready.status_code == 200:
                            return self
                    except httpx.TransportError:
                        pass
                    await trio.sleep(0.5)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._process is not None
        self._process.terminate()
        with trio.CancelScope(shield=True):
            with trio.move_on_after(15):
                await self._process.wait()
            if self._process.poll() is None:
                self._process.kill()
                await self._process.wait()


# -- the load --------------------------------------------------------------------------------------
def chat_request(host: str, stream: bool, key: str | None) -> bytes:
    body = {"model": MODEL, "messages": [{"role": "user", "content": "hello"}], "stream": stream}
    payload = orjson.dumps(body)
    auth = f"authorization: Bearer {key}\r\n" if key else ""
    return (
        f"POST /v1/chat/completions HTTP/1.1\r\nhost: {host}\r\n{auth}"
        f"content-type: application/json\r\ncontent-length: {len(payload)}\r\n\r\n"
    ).encode() + payload


def anthropic_request(host: str, stream: bool) -> bytes:
    body = {"model": "claude-bench", "max_tokens": 256, "stream": stream}
    payload = orjson.dumps({**body, "messages": [{"role": "user", "content": "hello"}]})
    return (
        f"POST /v1/messages HTTP/1.1\r\nhost: {host}\r\nx-api-key: sk-bench\r\n"
        f"anthropic-version: 2023-06-01\r\ncontent-type: application/json\r\n"
        f"content-length: {len(payload)}\r\n\r\n"
    ).encode() + payload


@dataclass
class Run:
    requests: int
    failed: int
    seconds: float
    latencies: list[float]

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


async def load(url: str, request: bytes, concurrency: int, seconds: float) -> Run:
    host, port = url.removeprefix("http://").split(":")
    latencies: list[float] = []
    failed = 0
    deadline = trio.current_time() + seconds

    async def worker() -> None:
        nonlocal failed
        while trio.current_time() < deadline:
            # A server may close a keep-alive connection (hypercorn after 1,000 requests, by
            # default): like any client, open another and go on.
            stream = await trio.open_tcp_stream(host, int(port))
            buffer = bytearray()
            async with stream:
                while trio.current_time() < deadline:
                    started = time.perf_counter()
                    try:
                        await stream.send_all(request)
                        response = await _read_response(stream, buffer)
                    except (ConnectionError, trio.BrokenResourceError):
                        break
                    if not response.startswith(b"HTTP/1.1 200"):
                        failed += 1
                        continue
                    latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    async with trio.open_nursery() as nursery:
        for _ in range(concurrency):
            nursery.start_soon(worker)
    return Run(len(latencies), failed, time.perf_counter() - started, sorted(latencies))


Results = dict[str, dict[str, dict[int, list[Run]]]]  # mode -> client -> level -> runs


async def measure(args: argparse.Namespace) -> Results:
    levels = [int(x) for x in args.levels.split(",")]
    results: Results = {}
    proxy = args.litellm_proxy
    upstream_command = [sys.executable, __file__, "--serve-upstream"]
    with tempfile.TemporaryDirectory() as scratch:
        directory = Path(scratch)
        async with ServerProcess(upstream_command, "the bench upstream") as upstream:
            config = gateway_config(upstream.url, directory)
            gateway_command = [sys.executable, "-m", "llm_router.cli", "serve", "--config"]
            gateway_command += [str(config), "--port", "0"]
            os.environ["BENCH_UPSTREAM_KEY"] = "sk-bench"
            async with ServerProcess(gateway_command, "the gateway") as gateway:
                targets = {"direct": upstream.url, "llm-router": gateway.url}
                if proxy is None:
                    await measure_targets(targets, levels, results, args)
                else:
                    async with LiteLLMProxy(proxy, litellm_config(upstream.url, directory)) as lp:
                        targets["LiteLLM proxy"] = lp.url
                        await measure_targets(targets, levels, results, args)
    return results


async def measure_targets(
    targets: dict[str, str], levels: list[int], results: Results, args: argparse.Namespace
) -> None:
    for mode, stream in (("non-streamed", False), ("streamed", True)):
        requests = {}
        for client, url in targets.items():
            host = url.removeprefix("http://")
            if client == "direct":
                requests[client] = anthropic_request(host, stream)
            else:
                key = MASTER_KEY if client == "LiteLLM proxy" else None
                requests[client] = chat_request(host, stream, key)
            await load(url, requests[client], max(levels), 1.0)  # warm up
        for level in levels:
            for _ in range(args.rounds):
                for client, url in targets.items():
                    run = await load(url, requests[client], level, args.seconds)
                    by_level = results.setdefault(mode, {}).setdefault(client, {})
                    by_level.setdefault(level, []).append(run)
            print(f"  {mode}, concurrency {level} done", file=sys.stderr, flush=True)


def summarise(results: Results) -> dict[str, dict[str, dict[int, dict[str, float]]]]:
    out: dict[str, dict[str, dict[int, dict[str, float]]]] = {}
    for mode, clients in results.items():
        for client, levels in clients.items():
            for level, runs in levels.items():
                usable = [r for r in runs if r.latencies]
                out.setdefault(mode, {}).setdefault(client, {})[level] = {
                    "requests_per_second": statistics.median(r.rate for r in runs),
                    "p50_ms": statistics.median(percentile(r.latencies, 50) for r in usable) * 1e3
                    if usable
                    else float("nan"),
                    "p99_ms": statistics.median(percentile(r.latencies, 99) for r in usable) * 1e3
                    if usable
                    else float("nan"),
                    "failed": sum(r.failed for r in runs),
                }
    return out


def report(
    summary: dict[str, dict[str, dict[int, dict[str, float]]]], args: argparse.Namespace
) -> str:
    headers = ["mode", "concurrency", "client", "requests/s", "p50", "p99", "added p50"]
    headers += ["added p99", "failed", "vs LiteLLM proxy"]
    rows = []
    for mode, clients in summary.items():
        direct = clients["direct"]
        theirs = clients.get("LiteLLM proxy", {})
        for level in sorted(direct):
            for client in ("direct", "llm-router", "LiteLLM proxy"):
                s = clients.get(client, {}).get(level)
                if s is None:
                    continue
                base = direct[level]
                other = theirs.get(level)
                rows.append(
                    [
                        mode,
                        str(level),
                        "upstream direct" if client == "direct" else client,
                        f"{s['requests_per_second']:,.0f}",
                        f"{s['p50_ms']:.2f} ms",
                        f"{s['p99_ms']:.2f} ms",
                        "-" if client == "direct" else f"{s['p50_ms'] - base['p50_ms']:.2f} ms",
                        "-" if client == "direct" else f"{s['p99_ms'] - base['p99_ms']:.2f} ms",
                        str(int(s["failed"])),
                        f"{s['requests_per_second'] / other['requests_per_second']:.1f}x"
                        if other and client == "llm-router"
                        else "-",
                    ]
                )
    title = (
        f"{args.rounds} rounds x {args.seconds:g} s per client and level (direct, gateway, "
        f"LiteLLM proxy alternating); medians over rounds; OpenAI Chat caller, Anthropic upstream; "
        f"streams of 100 upstream events; Python {sys.version.split()[0]}"
    )
    return title + "\n" + text_table(headers, rows)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--levels", default="1,8,32,64")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=2.0, help="length of each round")
    parser.add_argument("--litellm-proxy", default=str(LITELLM_PROXY))
    parser.add_argument("--serve-upstream", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_upstream:
        trio.run(serve_upstream)
        return
    if not Path(args.litellm_proxy).exists():
        print(f"no LiteLLM proxy at {args.litellm_proxy} (make bench): measuring without it")
        args.litellm_proxy = None
    summary = summarise(trio.run(measure, args))
    text = report(summary, args)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "gateway.txt").write_text(text + "\n")
    (RESULTS / "gateway.json").write_text(json.dumps(summary, indent=1) + "\n")
    print(text)


if __name__ == "__main__":
    main()
