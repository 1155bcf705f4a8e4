"""A new user's project: the built wheel, the `testing` extra, no `trio_mode`, root imports.

The wheel is built from a copy of the sources and installed without dependencies into a fresh
virtual environment; the dependencies come from this environment (appended to the new one's
path), so the test needs no network. What the `testing` extra promises is checked against
the wheel's own metadata.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]

NEW_USER_TESTS = """
import httpx
import pytest
import trio

import llm_router
import llm_router_testing
from llm_router import AwsSigV4
from llm_router_testing import FAKE_AWS_CREDENTIALS, FAKE_KEYS, Cassette, open_fake_provider

CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hello"}]}
OPENAI = {"authorization": "Bearer " + FAKE_KEYS["openai"]}


def test_installed_from_the_wheel():
    assert "site-packages" in llm_router_testing.__file__
    assert "site-packages" in llm_router.__file__


async def test_the_plugin_fixture_serves_an_async_test_without_trio_mode(fake_provider):
    await trio.sleep(0)  # really running under Trio
    async with httpx.AsyncClient(base_url=fake_provider.url) as client:
        response = await client.post("/v1/chat/completions", json=CHAT, headers=OPENAI)
    assert response.status_code == 200
    assert "hello" in response.json()["choices"][0]["message"]["content"]


@pytest.mark.trio
async def test_open_fake_provider_from_the_package_root():
    async with open_fake_provider() as fake:
        async with httpx.AsyncClient(base_url=fake.url) as client:
            response = await client.post("/v1/chat/completions", json=CHAT, headers=OPENAI)
    assert response.status_code == 200


def test_cassette_and_aws_credentials_from_the_package_root(tmp_path):
    cassette = Cassette.open(tmp_path / "c.json", "once")
    assert cassette.transport() is not None
    auth = AwsSigV4(**FAKE_AWS_CREDENTIALS, region="us-east-1")
    assert "us-east-1" in repr(auth)
"""


def _copy_sources(target: Path) -> None:
    target.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, target / name)
    shutil.copytree(
        ROOT / "src", target / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
    )


def _run(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "PYTEST"))}
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("wheel")
    _copy_sources(base / "source")
    built = _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(base / "dist"), str(base / "source")],
        cwd=base,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr[-2000:]
    (found,) = (base / "dist").glob("llm_router-*.whl")
    return found


def test_the_testing_extra_names_what_the_plugin_needs(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        (metadata,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        lines = archive.read(metadata).decode().splitlines()
        entry_points = archive.read(metadata.replace("METADATA", "entry_points.txt")).decode()
    requirements = [
        Requirement(line.split(": ", 1)[1]) for line in lines if line.startswith("Requires-Dist: ")
    ]
    testing = {r.name for r in requirements if r.marker and r.marker.evaluate({"extra": "testing"})}
    base = {r.name for r in requirements if r.marker is None}
    assert {"pytest", "pytest-trio"} <= testing
    assert {"trio", "httpx", "hypercorn", "regex"} <= base
    assert "llm_router_testing = llm_router_testing.pytest_plugin" in entry_points


def test_a_new_project_runs_async_tests_with_the_plugin_from_the_wheel(
    wheel: Path, tmp_path: Path
) -> None:
    venv = tmp_path / "venv"
    created = _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    python = venv / "bin" / "python"
    installed = _run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q",
         str(wheel)],
        cwd=tmp_path,
    )  # fmt: skip
    assert installed.returncode == 0, installed.stderr[-2000:]
    # The dependencies, from this environment: a path line in a .pth is appended after the new
    # environment's own site-packages, so the wheel's modules win over the editable checkout.
    site = Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], cwd=tmp_path).stdout.strip())  # fmt: skip
    (site / "deps.pth").write_text(sysconfig.get_path("purelib") + "\n")

    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text('[project]\nname = "new-user"\nversion = "0"\n')
    (project / "test_new_user.py").write_text(NEW_USER_TESTS)
    result = _run([str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=project)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "4 passed" in result.stdout
