"""llm_router_testing: fake provider server, cassettes, pytest plugin and contract suite.

The main entry points import from the package root::

    from llm_router_testing import open_fake_provider, FAKE_KEYS, Cassette

They load on first use: pytest imports this package for its plugin in every run, and the
fake server (hypercorn) or the cassette machinery should cost nothing until a test wants them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from llm_router_testing.cassette import (
        Cassette,
        CassetteError,
        CassetteFormatError,
        CassetteMismatchError,
        CassetteMissError,
        RecordMode,
        Redaction,
    )
    from llm_router_testing.fake import (
        FAKE_AWS_CREDENTIALS,
        FAKE_BOTOCORE_CREDENTIALS,
        FAKE_KEYS,
        FakeCredentials,
        FakeProvider,
        FakeProviderThread,
        Fault,
        FaultSpecError,
        Journal,
        JournalEntry,
        Scenario,
        open_fake_provider,
        run_fake_provider_in_thread,
    )
    from llm_router_testing.patterns import BoundedPattern, PatternError, compile_pattern

__all__ = [
    "FAKE_AWS_CREDENTIALS",
    "FAKE_BOTOCORE_CREDENTIALS",
    "FAKE_KEYS",
    "BoundedPattern",
    "Cassette",
    "CassetteError",
    "CassetteFormatError",
    "CassetteMismatchError",
    "CassetteMissError",
    "FakeCredentials",
    "FakeProvider",
    "FakeProviderThread",
    "Fault",
    "FaultSpecError",
    "Journal",
    "JournalEntry",
    "PatternError",
    "RecordMode",
    "Redaction",
    "Scenario",
    "compile_pattern",
    "open_fake_provider",
    "run_fake_provider_in_thread",
]

_HOME = {
    **dict.fromkeys(
        (
            "Cassette",
            "CassetteError",
            "CassetteFormatError",
            "CassetteMismatchError",
            "CassetteMissError",
            "RecordMode",
            "Redaction",
        ),
        "llm_router_testing.cassette",
    ),
    **dict.fromkeys(
        ("BoundedPattern", "PatternError", "compile_pattern"), "llm_router_testing.patterns"
    ),
}


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module 'llm_router_testing' has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOME.get(name, "llm_router_testing.fake")), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
