"""Running contract checks against a gateway: configuration, per-format discovery, results.

A format is "claimed" by a gateway that serves its path. With every format selected (the
default), a format whose plain request is answered 404/405 without naming the model is
reported as skipped; a format asked for by name must be served, or its row fails.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import httpx

from llm_router.types import ProviderFormat

from .checks import CHECKS, FORWARD_HINT, Check, CheckContext, SkipCheck, check_named
from .dialects import ContractViolation, Dialect, dialect_for
from .journal import FakeJournal

__all__ = [
    "CheckResult",
    "ContractConfig",
    "ContractReport",
    "Verdict",
    "probe_format",
    "run_check",
    "run_contract",
]


class Verdict(enum.StrEnum):
    PASS = "pass"
    FAIL = "fail"
    SKIP = "skip"


@dataclass(frozen=True, slots=True)
class CheckResult:
    """The outcome of one check on one format; `seconds` is its wall-clock duration."""

    format: ProviderFormat
    check: str
    verdict: Verdict
    detail: str
    seconds: float

    @property
    def name(self) -> str:
        return f"{self.format.value}/{self.check}"


@dataclass(frozen=True, slots=True)
class ContractConfig:
    """Where the gateway is and what to check.

    `formats` None means every format the gateway claims. `models` and `api_keys` override the
    per-format defaults (the key is sent in the format's usual header). `fake_url` enables the
    checks that read the fake server's journal. `only` restricts the checks by name.
    """

    base_url: str
    formats: tuple[ProviderFormat, ...] | None = None
    fake_url: str | None = None
    models: Mapping[ProviderFormat, str] = field(default_factory=dict)
    api_keys: Mapping[ProviderFormat, str] = field(default_factory=dict)
    only: tuple[str, ...] = ()
    timeout: float = 30.0

    def __post_init__(self) -> None:
        for name in self.only:
            check_named(name)  # fail early on a typo

    @property
    def selected_formats(self) -> tuple[ProviderFormat, ...]:
        return self.formats if self.formats is not None else tuple(ProviderFormat)

    @property
    def selected_checks(self) -> tuple[Check, ...]:
        if not self.only:
            return CHECKS
        return tuple(check for check in CHECKS if check.name in self.only)

    def model_for(self, fmt: ProviderFormat) -> str:
        return self.models.get(fmt) or dialect_for(fmt).default_model


@dataclass(frozen=True, slots=True)
class ContractReport:
    results: tuple[CheckResult, ...]

    @property
    def failures(self) -> tuple[CheckResult, ...]:
        return tuple(r for r in self.results if r.verdict is Verdict.FAIL)

    @property
    def ok(self) -> bool:
        """No failure, and at least one check passed (an all-skipped run proves nothing)."""
        passed = any(r.verdict is Verdict.PASS for r in self.results)
        return passed and not self.failures


def _context(
    config: ContractConfig, fmt: ProviderFormat, client: httpx.AsyncClient
) -> CheckContext:
    journal = FakeJournal(client, config.fake_url) if config.fake_url else None
    return CheckContext(
        client=client,
        dialect=dialect_for(fmt),
        model=config.model_for(fmt),
        api_key=config.api_keys.get(fmt),
        journal=journal,
    )


def _client(config: ContractConfig) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=config.base_url, timeout=config.timeout)


async def probe_format(ctx: CheckContext) -> str | None:
    """None when the gateway serves the format's path, else why it seems not to."""
    dialect: Dialect = ctx.dialect
    request = dialect.request(ctx.model, ctx.prompt("probe"))
    try:
        response = await ctx.post(request)
    except httpx.HTTPError as error:
        return f"POST {request.path} failed: {error!r}"
    if response.status_code in (404, 405) and ctx.model not in response.text:
        return f"not served: POST {request.path} answered {response.status_code}"
    return None


async def _run_one(check: Check, ctx: CheckContext) -> tuple[Verdict, str]:
    if check.needs_journal and ctx.journal is None:
        return Verdict.SKIP, "needs the fake server's journal: pass --fake-url"
    try:
        return Verdict.PASS, await check.run(ctx)
    except ContractViolation as violation:
        return Verdict.FAIL, str(violation)
    except SkipCheck as skip:
        return Verdict.SKIP, str(skip)
    except httpx.HTTPError as error:
        return Verdict.FAIL, f"HTTP failure: {error!r}"
    except Exception as error:  # every failure is a row of the report, never a crash
        return Verdict.FAIL, f"the check itself failed: {type(error).__name__}: {error}"


def _root_cause(detail: str) -> str | None:
    """The part of a failure that other checks of the format would repeat, if any."""
    for cause in (FORWARD_HINT, "is --fake-url the fake server?"):
        if cause in detail:
            return cause
    return None


async def _run_format(
    config: ContractConfig, fmt: ProviderFormat, checks: Iterable[Check], client: httpx.AsyncClient
) -> list[CheckResult]:
    ctx = _context(config, fmt, client)
    started = time.perf_counter()
    unserved = await probe_format(ctx)
    if unserved is not None:
        verdict = Verdict.SKIP if config.formats is None else Verdict.FAIL
        return [CheckResult(fmt, "served", verdict, unserved, time.perf_counter() - started)]
    results = []
    causes: dict[str, str] = {}
    for check in checks:
        started = time.perf_counter()
        verdict, detail = await _run_one(check, ctx)
        cause = _root_cause(detail) if verdict is Verdict.FAIL else None
        if cause is not None and cause in causes:
            # One root cause is reported once; its first row says what was seen.
            verdict, detail = Verdict.SKIP, f"same cause as {causes[cause]}"
        elif cause is not None:
            causes[cause] = f"{fmt.value}/{check.name}"
        results.append(CheckResult(fmt, check.name, verdict, detail, time.perf_counter() - started))
    return results


async def run_contract(config: ContractConfig) -> ContractReport:
    """Run the selected checks on every selected format, one after another."""
    results: list[CheckResult] = []
    async with _client(config) as client:
        for fmt in config.selected_formats:
            results.extend(await _run_format(config, fmt, config.selected_checks, client))
    if config.formats is None and not any(r.check != "served" for r in results):
        results.append(
            CheckResult(
                config.selected_formats[0],
                "served",
                Verdict.FAIL,
                f"the gateway at {config.base_url} serves none of the formats",
                0.0,
            )
        )
    return ContractReport(tuple(results))


async def run_check(
    config: ContractConfig,
    fmt: ProviderFormat,
    name: str,
    probes: dict[tuple[str, ProviderFormat], str | None] | None = None,
) -> CheckResult:
    """Run one check (for test frameworks); `probes` caches format discovery between calls."""
    check = check_named(name)
    async with _client(config) as client:
        ctx = _context(config, fmt, client)
        started = time.perf_counter()
        key = (config.base_url, fmt)
        if probes is None or key not in probes:
            unserved = await probe_format(ctx)
            if probes is not None:
                probes[key] = unserved
        else:
            unserved = probes[key]
        if unserved is not None:
            verdict = Verdict.SKIP if config.formats is None else Verdict.FAIL
            return CheckResult(fmt, name, verdict, unserved, time.perf_counter() - started)
        verdict, detail = await _run_one(check, ctx)
        return CheckResult(fmt, name, verdict, detail, time.perf_counter() - started)
