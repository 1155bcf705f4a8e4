"""Running contract checks against a gateway: configuration, per-format discovery, results.

A format is "claimed" by a gateway that serves its path. With every format selected (the
default), a format whose plain request is answered 404/405 without naming the model is
reported as skipped; a format asked for by name must be served, or its row fails. Realtime
protocols (`RealtimeFormat`: openai-realtime, responses-ws, gemini-live) are formats of the
same table, checked over WebSocket by `realtime.py`; an upgrade answered 404/405 (or the
bare 403/500 of a server with no WebSocket route) is "not served".
"""

from __future__ import annotations

import enum
import secrets
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import httpx

from llm_router.realtime import RealtimeFormat
from llm_router.types import ProviderFormat

from .checks import FORWARD_HINT, AdvisoryViolation, Check, CheckContext, SkipCheck
from .dialects import ContractViolation, Dialect, dialect_for
from .journal import FakeJournal
from .realtime import REALTIME_CHECKS, probe_realtime, run_realtime_check
from .realtime_dialects import realtime_dialect
from .suite import CHECKS, check_named

__all__ = [
    "ContractFormat",
    "CheckResult",
    "ContractConfig",
    "ContractReport",
    "Verdict",
    "probe_format",
    "run_check",
    "run_contract",
]


ContractFormat = ProviderFormat | RealtimeFormat
# A realtime protocol's key, when none is given for it, is that of its HTTP sibling.
_KEY_SIBLING = {
    RealtimeFormat.OPENAI_REALTIME: ProviderFormat.OPENAI,
    RealtimeFormat.RESPONSES_WS: ProviderFormat.RESPONSES,
    RealtimeFormat.GEMINI_LIVE: ProviderFormat.GOOGLE,
}


def parse_contract_format(value: ContractFormat | str) -> ContractFormat:
    """An HTTP format (`ProviderFormat.parse`) or a realtime protocol by name."""
    if isinstance(value, ProviderFormat | RealtimeFormat):
        return value
    try:
        return RealtimeFormat(value.strip().lower())
    except ValueError:
        pass
    try:
        return ProviderFormat.parse(value)
    except ValueError:
        known = [f.value for f in ProviderFormat] + [f.value for f in RealtimeFormat]
        raise ValueError(f"unknown format {value!r}; expected one of: {', '.join(known)}") from None


class Verdict(enum.StrEnum):
    PASS = "pass"
    FAIL = "fail"
    SKIP = "skip"
    WARN = "warn"
    """An advisory row fell short: reported, never failing the run."""


@dataclass(frozen=True, slots=True)
class CheckResult:
    """The outcome of one check on one format; `seconds` is its wall-clock duration."""

    format: ContractFormat
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

    `formats` None means every format the gateway claims, realtime protocols included.
    `models` and `api_keys` override the per-format defaults (the key is sent in the format's
    usual header; a realtime protocol without one uses its HTTP sibling's: openai, responses,
    google). `fake_url` enables the checks that read the fake server's journal. `only`
    restricts the checks by name. `bad_key`: a key the gateway must refuse (realtime
    `keys_refused`); without it a random key is used for the formats given a key, and the
    check is skipped for the others.
    `embedding_models` overrides the embedding checks' models (text-embedding-3-small,
    mistral-embed, gemini-embedding-001).
    `timeout_bound` is the seconds within which the gateway answers when its upstream stalls
    (its first-byte and idle timeouts, retries included): the timeout checks wait that long
    and half again, plus a second, before reporting it hung.
    """

    base_url: str
    formats: tuple[ContractFormat, ...] | None = None
    fake_url: str | None = None
    models: Mapping[ContractFormat, str] = field(default_factory=dict)
    api_keys: Mapping[ContractFormat, str] = field(default_factory=dict)
    only: tuple[str, ...] = ()
    timeout: float = 30.0
    bad_key: str | None = None
    timeout_bound: float = 5.0
    embedding_models: Mapping[ContractFormat, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in self.only:
            if name not in REALTIME_CHECKS:
                check_named(name)  # fail early on a typo
        if not (0 < self.timeout_bound < 3600):
            raise ValueError(
                f"timeout_bound must be more than 0 and under 3600 seconds, got {self.timeout_bound}"
            )

    @property
    def selected_formats(self) -> tuple[ContractFormat, ...]:
        if self.formats is not None:
            return self.formats
        return (*ProviderFormat, *RealtimeFormat)

    @property
    def selected_checks(self) -> tuple[Check, ...]:
        if not self.only:
            return CHECKS
        return tuple(check for check in CHECKS if check.name in self.only)

    @property
    def selected_realtime_checks(self) -> tuple[str, ...]:
        return tuple(name for name in REALTIME_CHECKS if not self.only or name in self.only)

    def model_for(self, fmt: ContractFormat) -> str:
        if isinstance(fmt, RealtimeFormat):
            return self.models.get(fmt) or realtime_dialect(fmt).default_model
        return self.models.get(fmt) or dialect_for(fmt).default_model

    def key_for(self, fmt: ContractFormat) -> str | None:
        if isinstance(fmt, RealtimeFormat):
            return self.api_keys.get(fmt) or self.api_keys.get(_KEY_SIBLING[fmt])
        return self.api_keys.get(fmt)

    def bad_key_for(self, fmt: ContractFormat) -> str | None:
        if self.bad_key is not None:
            return self.bad_key
        return f"wrong-key-{secrets.token_hex(8)}" if self.key_for(fmt) else None


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
        timeout_bound=config.timeout_bound,
        embedding_model=config.embedding_models.get(fmt),
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
        return await _judged(check, ctx)
    finally:
        # The rules a check installed go with it, whatever happened (failure, cancellation).
        if ctx.journal is not None:
            await ctx.journal.remove_added()


async def _judged(check: Check, ctx: CheckContext) -> tuple[Verdict, str]:
    try:
        return Verdict.PASS, await check.run(ctx)
    except AdvisoryViolation as shortfall:
        return Verdict.WARN, str(shortfall)
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


async def _run_realtime_check(
    config: ContractConfig, fmt: RealtimeFormat, name: str
) -> CheckResult:
    result = await run_realtime_check(
        config.base_url,
        fmt,
        name,
        model=config.model_for(fmt),
        api_key=config.key_for(fmt),
        fake_url=config.fake_url,
        bad_key=config.bad_key_for(fmt),
        check_timeout=config.timeout,
    )
    return CheckResult(fmt, name, Verdict(result.status), result.detail, result.seconds)


async def _probe_realtime(config: ContractConfig, fmt: RealtimeFormat) -> str | None:
    return await probe_realtime(
        config.base_url,
        fmt,
        model=config.model_for(fmt),
        api_key=config.key_for(fmt),
        connect_timeout=config.timeout,
    )


async def _run_realtime_format(config: ContractConfig, fmt: RealtimeFormat) -> list[CheckResult]:
    names = config.selected_realtime_checks
    if not names:
        return []
    started = time.perf_counter()
    unserved = await _probe_realtime(config, fmt)
    if unserved is not None:
        verdict = Verdict.SKIP if config.formats is None else Verdict.FAIL
        return [CheckResult(fmt, "served", verdict, unserved, time.perf_counter() - started)]
    return [await _run_realtime_check(config, fmt, name) for name in names]


async def run_contract(config: ContractConfig) -> ContractReport:
    """Run the selected checks on every selected format, one after another."""
    results: list[CheckResult] = []
    async with _client(config) as client:
        for fmt in config.selected_formats:
            if isinstance(fmt, RealtimeFormat):
                results.extend(await _run_realtime_format(config, fmt))
            else:
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
    fmt: ContractFormat,
    name: str,
    probes: dict[tuple[str, ContractFormat], str | None] | None = None,
) -> CheckResult:
    """Run one check (for test frameworks); `probes` caches format discovery between calls."""
    if isinstance(fmt, RealtimeFormat):
        return await _run_one_realtime(config, fmt, name, probes)
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


async def _run_one_realtime(
    config: ContractConfig,
    fmt: RealtimeFormat,
    name: str,
    probes: dict[tuple[str, ContractFormat], str | None] | None,
) -> CheckResult:
    if name not in REALTIME_CHECKS:
        raise ValueError(
            f"{name!r} is not a realtime contract check ({', '.join(REALTIME_CHECKS)})"
        )
    started = time.perf_counter()
    key = (config.base_url, fmt)
    if probes is None or key not in probes:
        unserved = await _probe_realtime(config, fmt)
        if probes is not None:
            probes[key] = unserved
    else:
        unserved = probes[key]
    if unserved is not None:
        verdict = Verdict.SKIP if config.formats is None else Verdict.FAIL
        return CheckResult(fmt, name, verdict, unserved, time.perf_counter() - started)
    return await _run_realtime_check(config, fmt, name)
