"""The contract checks as pytest tests, one per format and check (see the package docstring).

`contract_tests()` builds a parametrised test function; assign it to a `test_*` name in a test
module. It asks pytest for a `gateway_url` fixture (required) and `contract_fake_url`
(optional: without it the journal checks are skipped). Each test runs in its own `trio.run`,
so it is a plain synchronous test and needs no async plugin.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Mapping
from functools import partial

import pytest
import trio

from llm_router.realtime import RealtimeFormat
from llm_router.types import ProviderFormat

from .realtime import REALTIME_CHECKS
from .runner import ContractConfig, ContractFormat, Verdict, parse_contract_format, run_check
from .suite import CHECKS, check_named

__all__ = ["ContractAdvisory", "contract_tests"]


class ContractAdvisory(UserWarning):
    """An advisory contract row fell short (the test passes; pytest lists the warning)."""


def contract_tests(
    formats: Iterable[ContractFormat | str] | None = None,
    checks: Iterable[str] | None = None,
    *,
    models: Mapping[ContractFormat | str, str] | None = None,
    api_keys: Mapping[ContractFormat | str, str] | None = None,
    bad_key: str | None = None,
    timeout: float = 30.0,
    timeout_bound: float = 5.0,
) -> Callable[..., None]:
    """A test function running every (format, check) pair as its own test case.

    `formats` None means every format (realtime protocols included), skipping those the
    gateway does not serve; named formats must be served. `checks` None means every check, in
    the suite's order; a format gets the checks that apply to it (HTTP or realtime).
    `bad_key`: a key the gateway must refuse (see `ContractConfig`).
    `timeout_bound`: seconds within which the gateway answers a stalled upstream. An
    advisory row that falls short passes with a `ContractAdvisory` warning.
    """
    chosen_formats = None if formats is None else tuple(parse_contract_format(f) for f in formats)
    http_names = tuple(check.name for check in CHECKS)
    realtime_names = tuple(REALTIME_CHECKS)
    names = tuple(dict.fromkeys(checks)) if checks is not None else None
    for name in names or ():
        if name not in REALTIME_CHECKS:
            check_named(name)
    model_map = {parse_contract_format(k): v for k, v in (models or {}).items()}
    key_map = {parse_contract_format(k): v for k, v in (api_keys or {}).items()}
    every: tuple[ContractFormat, ...] = (*ProviderFormat, *RealtimeFormat)
    cases = []
    for fmt in chosen_formats or every:
        applicable = realtime_names if isinstance(fmt, RealtimeFormat) else http_names
        cases += [(fmt, name) for name in names or applicable if name in applicable]
    probes: dict[tuple[str, ContractFormat], str | None] = {}

    @pytest.mark.parametrize(
        "contract_case", cases, ids=[f"{fmt.value}-{name}" for fmt, name in cases]
    )
    def test_gateway_contract(
        contract_case: tuple[ContractFormat, str], request: pytest.FixtureRequest
    ) -> None:
        fmt, name = contract_case
        config = ContractConfig(
            base_url=str(request.getfixturevalue("gateway_url")),
            formats=chosen_formats,
            fake_url=_optional_fixture(request, "contract_fake_url"),
            models=model_map,
            api_keys=key_map,
            timeout=timeout,
            bad_key=bad_key,
            timeout_bound=timeout_bound,
        )
        result = trio.run(partial(run_check, config, fmt, name, probes))
        if result.verdict is Verdict.SKIP:
            pytest.skip(result.detail)
        if result.verdict is Verdict.FAIL:
            pytest.fail(f"{result.name}: {result.detail}", pytrace=False)
        if result.verdict is Verdict.WARN:
            warnings.warn(ContractAdvisory(f"{result.name}: {result.detail}"), stacklevel=1)

    return test_gateway_contract


def _optional_fixture(request: pytest.FixtureRequest, name: str) -> str | None:
    try:
        value = request.getfixturevalue(name)
    except pytest.FixtureLookupError:
        return None
    return None if value is None else str(value)
