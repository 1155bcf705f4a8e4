"""The contract suite: checks a downstream team runs against its own LLM gateway.

Put the gateway in front of the fake provider server (``llm-router-fake serve --port 8123``;
point every provider the gateway uses at it) and run::

    llm-router-contract --base-url http://127.0.0.1:8080 --format all \\
        --fake-url http://127.0.0.1:8123

Faults: each check's request carries a unique marker in its prompt; with ``--fake-url`` the
suite installs a scenario rule on the fake matching that marker (``POST /_fake/rules``), so
the gateway needs to forward nothing. The same faults are also sent as ``x-fake-*`` request
headers, the fast path for gateways that forward them (``llm-router serve --forward x-fake-``)
and the only way without ``--fake-url``.

Checks, for every format (OpenAI chat, Responses, Anthropic, Gemini, Converse, Mistral), each
over real HTTP in that format's client wire format:

================== =======================================================================
sync_text          the answer parses and is the fake's echo ``"You said: <prompt>"``
stream_text        the stream's framing is right (OpenAI/Mistral ``[DONE]``, Anthropic
                   ``message_start`` .. ``message_stop``, Responses increasing
                   ``sequence_number``, Gemini ``data:`` lines, Converse event-stream
                   frames) and it reassembles the same echo
tool_call          tools with a required tool choice yield a call of that tool, JSON arguments
structured_output  a JSON schema yields JSON that follows it
error_429          an upstream 429 reaches the client as 429, in the client's error format,
                   with a ``retry-after`` header (``retry-after-ms``: advisory)
error_400          an upstream 400 reaches the client as 400, in the client's error format
error_overloaded   an upstream 529 reaches the client as 503 or 529 (overloaded)
retry_after        (needs --fake-url) after a 429 with ``retry-after: 1`` the gateway either
                   retries no earlier than 1 s later (on the same route), or passes the 429
                   on with its ``retry-after``; the detail says which
error_503          an upstream 503 reaches the client as 503 or 529 (overloaded), with the
                   upstream's ``retry-after`` (``retry-after-ms``: advisory)
stream_tool_call   a streamed tool call (read by the library's parser for the format)
                   carries the tool's name and JSON arguments
stream_structured  (``stream_structured_output``) a streamed JSON-schema answer is JSON
                   following the schema
should_retry_false (needs --fake-url) a 503 with ``x-should-retry: false`` reaches each
                   upstream route once
non_retryable_once (needs --fake-url) 400/401/403/404/422 reach each upstream route once
                   (400/422 one route only); attempts are counted in the fake's journal
usage_exact        (needs --fake-url) a scripted usage reaches the client exactly, plain
                   and streamed
disconnect         (needs --fake-url) a client leaving mid-stream closes the upstream
                   stream: the fake's journal shows it disconnected early
sync_disconnect    (needs --fake-url) a client leaving a slow non-streaming request cancels
                   the upstream call
ratelimit_headers  (advisory) the upstream's ``x-ratelimit-*`` / ``anthropic-ratelimit-*``
                   headers reach the client, plain and streamed
request_id         answers and errors carry the format's request id header (required for
                   OpenAI, Responses, Anthropic, Converse; advisory for Gemini, Mistral)
first_byte_timeout an upstream silent before its first byte: a retry's answer or a timeout
                   error within ``--timeout-bound``; "hung" fails (see `timeouts`)
idle_timeout       a stream stalled after five events ends with the format's error event
                   within the bound
upstream_valid     (needs --fake-url) what reached the upstream is valid: one attempt, a
                   model id the provider accepts, a body of its shape
================== =======================================================================

Realtime protocols are formats of the same table (``--format openai-realtime,responses-ws,
gemini-live``, included in ``all``), checked over WebSocket (see `realtime`):

================== ================================================================
session_round_trip the session opens as its protocol says (``session.created``, or
                   ``setupComplete`` after the setup) and a text turn is answered with the
                   fake's echo and usage
tool_call          a required tool yields a call of ``get_weather`` with JSON arguments
client_close       (needs --fake-url) the client closing its socket closes the upstream
                   session: the fake's journal shows it closed by its client
upstream_close     the provider closing with 4000 after its first event reaches the client
                   with 4000
keys_refused       a wrong key (``--bad-key``, else a random one when ``--api-key`` is given)
                   is refused before the upgrade, in every place the protocol puts keys
================== =======================================================================
=======
Advisory rows that fall short are ``warn`` rows, never failures. The rules a check installs
on the fake are removed after it, even on failure or cancellation.

Keep-alives (Anthropic ``ping`` events anywhere, SSE comments) are ignored, as SDKs do. Every
failure is a row (a ``--fake-url`` that is not the fake server too), and one root cause is
reported once: later checks failing for it read ``same cause as <format>/<check>``.

The error checks send ``x-fake-should-retry: false`` (as OpenAI and Anthropic do) so that a
retrying gateway answers quickly. They make the upstream fail on purpose: a gateway with
circuit breakers should tolerate about five consecutive failures per route. Default models
per format are in `dialects` (``--model FORMAT=MODEL`` overrides); ``--api-key`` is sent in
each format's usual header. ``--format all`` skips formats whose path the gateway does not
serve (404/405); a format named explicitly must be served.

As pytest tests, one per format and check, in a test module of your own::

    import pytest
    from llm_router_testing.contract import contract_tests

    @pytest.fixture(scope="session")
    def gateway_url() -> str:
        return "http://127.0.0.1:8080"

    @pytest.fixture(scope="session")
    def contract_fake_url() -> str:  # optional; without it the journal checks are skipped
        return "http://127.0.0.1:8123"

    test_gateway_contract = contract_tests(formats=["openai", "anthropic"])

From Trio code: ``report = await run_contract(ContractConfig(base_url=...))``, then
``report.ok``, ``report.results`` and ``render_table(report)``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .checks import Check, CheckContext
from .dialects import DIALECTS, ContractViolation, Dialect, dialect_for
from .realtime import REALTIME_CHECKS, run_realtime_checks
from .report import render_table
from .runner import (
    CheckResult,
    ContractConfig,
    ContractFormat,
    ContractReport,
    Verdict,
    run_check,
    run_contract,
)
from .suite import CHECKS

if TYPE_CHECKING:
    from .pytest_suite import contract_tests

__all__ = [
    "CHECKS",
    "DIALECTS",
    "REALTIME_CHECKS",
    "Check",
    "CheckContext",
    "CheckResult",
    "ContractConfig",
    "ContractFormat",
    "ContractReport",
    "ContractViolation",
    "Dialect",
    "Verdict",
    "contract_tests",
    "dialect_for",
    "render_table",
    "run_check",
    "run_contract",
    "run_realtime_checks",
]


def __getattr__(name: str) -> Any:
    # pytest is imported only by those who ask for the pytest entry point.
    if name == "contract_tests":
        from .pytest_suite import contract_tests

        return contract_tests
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
