"""A cassette save killed with SIGKILL, for real: a child process saves a large cassette and
is killed while writing its temporary file, or between writing it and renaming it over the
cassette. The child says where it is through a pipe (no timing), the parent kills it there.
The cassette on disk stays the one before the save, and the hidden temporary file the kill
left is gone after the next load or save."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import orjson
import pytest

from llm_router_testing.cassette import Cassette

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL and flock are POSIX")

#: The child: record one large exchange in mode `new`, then save; `stage` says where the save
#: stops to tell the parent (which kills it there): in the middle of writing the temporary
#: file, or once it is written, just before it replaces the cassette.
CHILD = r"""
import os, sys, time
import httpx
from llm_router_testing import cassette_format
from llm_router_testing.cassette import Cassette

path, stage = sys.argv[1], sys.argv[2]

def parked():
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    time.sleep(3600)  # killed here

class HalfWriter:
    def __init__(self, out):
        self.out = out
    def __enter__(self):
        return self
    def __exit__(self, *exc):
        self.out.close()
    def write(self, data):
        self.out.write(data[: len(data) // 2])
        self.out.flush()
        parked()

real_fdopen, real_replace = os.fdopen, os.replace
if stage == "writing":
    cassette_format.os.fdopen = lambda fd, mode: HalfWriter(real_fdopen(fd, mode))
else:
    def replace(src, dst):
        parked()
    cassette_format.os.replace = replace

big = "x" * (8 * 1024 * 1024)
transport = httpx.MockTransport(lambda request: httpx.Response(200, json={"big": big}))
cassette = Cassette.open(path, "new")
with httpx.Client(transport=cassette.transport(transport)) as client:
    client.post("https://api.example.test/v1/chat/completions", json={"model": "late"})
cassette.save()
sys.stdout.write("saved\n")
"""


def _seed(path: Path) -> bytes:
    seed = Cassette.open(path, "new")
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json={"answer": "seed"}))
    with httpx.Client(transport=seed.transport(transport)) as client:
        client.post("https://api.example.test/v1/chat/completions", json={"model": "seed"})
    seed.save()
    return path.read_bytes()


def _kill_mid_save(path: Path, stage: str) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path), stage],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        assert line == b"ready\n", (line, child.stderr.read() if child.stderr else b"")
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait()
        if child.stdout is not None:
            child.stdout.close()
        if child.stderr is not None:
            child.stderr.close()
    assert child.returncode == -signal.SIGKILL


def _hidden(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.startswith("."))


@pytest.mark.parametrize("stage", ["writing", "renaming"])
@pytest.mark.parametrize("next_step", ["load", "save"])
def test_a_save_killed_mid_way_keeps_the_cassette_and_its_leftover_goes(
    tmp_path: Path, stage: str, next_step: str
) -> None:
    path = tmp_path / "c.json"
    before = _seed(path)
    _kill_mid_save(path, stage)
    assert path.read_bytes() == before  # the cassette is the one before the killed save
    leftovers = _hidden(tmp_path)
    assert len(leftovers) == 1 and leftovers[0].startswith(".c.json.")  # the kill's leftover
    assert (tmp_path / leftovers[0]).stat().st_size > 1024 * 1024
    cassette = Cassette.open(path, "new")
    assert len(cassette.interactions) == 1  # it loads, with the seed's recording
    if next_step == "save":
        upstream = httpx.MockTransport(lambda request: httpx.Response(200, json={"n": 2}))
        with httpx.Client(transport=cassette.transport(upstream)) as client:
            client.post("https://api.example.test/v1/chat/completions", json={"model": "next"})
        assert cassette.save()
        stored = orjson.loads(path.read_bytes())["interactions"]
        assert [i["request"]["body"]["model"] for i in stored] == ["seed", "next"]
    assert _hidden(tmp_path) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.json"]
