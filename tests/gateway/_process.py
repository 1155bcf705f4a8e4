"""`llm-router serve` as a real subprocess: start it, read its URL, signal it, collect its output."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import trio


@dataclass
class ServeProcess:
    process: trio.Process
    url: str
    stderr: bytearray = field(default_factory=bytearray)
    stderr_closed: trio.Event = field(default_factory=trio.Event)

    def terminate(self) -> None:
        self.process.send_signal(signal.SIGTERM)

    async def wait(self) -> int:
        """The exit status, once the process has ended and its stderr is read to the end."""
        status = await self.process.wait()
        await self.stderr_closed.wait()
        return status


@asynccontextmanager
async def run_serve(
    args: Sequence[str], env: Mapping[str, str] | None = None, *, command: str = "serve"
) -> AsyncIterator[ServeProcess]:
    """`llm-router COMMAND ARGS --port 0` until the block ends (killed then if still running)."""
    environment = {**os.environ, **(env or {})}
    process = await trio.lowlevel.open_process(
        [sys.executable, "-m", "llm_router.cli", command, *args, "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=environment,
    )
    assert process.stdout is not None and process.stderr is not None
    stdout, stderr = process.stdout, process.stderr
    try:
        async with trio.open_nursery() as nursery:
            errors = bytearray()
            closed = trio.Event()

            async def drain_stderr() -> None:
                async for chunk in stderr:
                    errors.extend(chunk)
                closed.set()

            nursery.start_soon(drain_stderr)
            line = b""
            with trio.fail_after(30):  # a safety bound on start-up, not a measurement
                while b"\n" not in line:
                    chunk = await stdout.receive_some()
                    if not chunk:
                        raise AssertionError(f"serve exited early: {bytes(errors).decode()}")
                    line += chunk
            url = line.decode().split(" on ", 1)[1].split()[0]
            yield ServeProcess(process, url, errors, closed)
            if process.returncode is None:
                process.kill()
    finally:
        if process.returncode is None:
            process.kill()
            with trio.CancelScope(shield=True):
                await process.wait()
