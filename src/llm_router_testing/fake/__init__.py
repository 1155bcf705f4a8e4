"""The fake LLM provider server: every provider's paths and wire formats, scripted faults.

``async with open_fake_provider() as fake:`` serves on a free loopback port; point an SDK or a
gateway at ``fake.url`` (``fake.url + "/v1"`` for OpenAI-style clients), read what arrived in
``fake.journal``, inject faults with ``x-fake-*`` headers or ``fake.set_scenario(...)``.
Answers are derived from the request (see `answers`), faults are listed in `faults`, scenario
files in `scenario`, cassettes in `fixtures`.
"""

from __future__ import annotations

from .answers import derive_answer, minimal_json
from .auth import FAKE_AWS_CREDENTIALS, FAKE_BOTOCORE_CREDENTIALS, FAKE_KEYS, FakeCredentials
from .faults import Fault, FaultSpecError, LatencyMixture, parse_duration
from .fixtures import FixtureError, Fixtures
from .journal import Journal, JournalEntry
from .scenario import Scenario
from .server import (
    FakeOptions,
    FakeProvider,
    FakeProviderThread,
    open_fake_provider,
    run_fake_provider_in_thread,
    serve,
)

__all__ = [
    "FAKE_AWS_CREDENTIALS",
    "FAKE_BOTOCORE_CREDENTIALS",
    "FAKE_KEYS",
    "FakeCredentials",
    "FakeOptions",
    "FakeProvider",
    "FakeProviderThread",
    "Fault",
    "FaultSpecError",
    "FixtureError",
    "Fixtures",
    "Journal",
    "JournalEntry",
    "LatencyMixture",
    "Scenario",
    "derive_answer",
    "minimal_json",
    "open_fake_provider",
    "parse_duration",
    "run_fake_provider_in_thread",
    "serve",
]
