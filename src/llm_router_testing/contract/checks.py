"""The contract checks: what a gateway in front of the fake provider server must do, per format.

Each check sends real HTTP requests in the caller's format and raises `ContractViolation`
(failed) or `SkipCheck` (not applicable) with a message a person can act on; on success it
returns a short detail. The fake server answers ``"You said: <last user text>"``, which makes
every answer predictable. Each check's request carries a unique marker in its prompt (and as
the `x-fake-request-id` header). Faults and scripted answers are installed on the fake
server as scenario rules matching that marker (with `--fake-url`), so nothing depends on the
gateway forwarding headers; `x-fake-*` headers are sent too, as the fast path for gateways
that do forward them (and the only way without `--fake-url`). Checks marked `needs_journal`
read the fake server's journal.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import trio

from llm_router.errors import LLMRouterError
from llm_router.formats import get_format
from llm_router.types import ProviderFormat
from llm_router.universal import TextDelta, ToolCallDelta, ToolCallStart, Usage

from .dialects import (
    ANSWER_SCHEMA,
    WEATHER_TOOL,
    ApiRequest,
    ContractViolation,
    Dialect,
    preview,
)
from .journal import REQUEST_ID_HEADER, FakeJournal, JournalRecord
from .retry_hints import (
    UPSTREAM_RETRY_AFTER,
    UPSTREAM_RETRY_AFTER_MS,
    retry_after_detail,
    retry_after_ms_shortfall,
)
from .streams import stream_reader

__all__ = ["CORE_CHECKS", "AdvisoryViolation", "Check", "CheckContext", "SkipCheck"]

RETRY_AFTER_TOLERANCE = 0.05  # seconds: the gateway may time its wait from sending the request
DISCONNECT_WORDS = 60
DISCONNECT_DELAY = 0.05  # seconds between the fake's stream events
FORWARD_HINT = "the gateway must forward x-fake-* request headers to its upstream"
SCENARIO_HINT = "pass --fake-url so faults are injected through the fake's scenario instead"
NON_RETRYABLE = (400, 401, 403, 404, 422)
SCRIPTED_USAGE = {"input_tokens": 17, "output_tokens": 9}
SYNC_DISCONNECT_AFTER = 0.3  # seconds the client waits for a slow non-streaming answer


class SkipCheck(Exception):
    """The check does not apply (e.g. it needs the fake server's journal and has none)."""


class AdvisoryViolation(ContractViolation):
    """An advisory row fell short: reported as a warning, never failing the run."""


@dataclass(frozen=True, slots=True)
class CheckContext:
    """What a check needs: an HTTP client on the gateway, the format, model, key and journal."""

    client: httpx.AsyncClient
    dialect: Dialect
    model: str
    api_key: str | None = None
    journal: FakeJournal | None = None
    timeout_bound: float = 5.0
    """Seconds within which the gateway answers when its upstream stalls (its configured
    first-byte and idle timeouts, retries included)."""
    embedding_model: str | None = None
    """The embedding model the embedding checks ask for (None: the format's default)."""

    def prompt(self, label: str) -> str:
        """A fresh prompt, so that no cache between client and fake can answer it."""
        return f"Contract check {label} {secrets.token_hex(4)}"

    def tagged(self, label: str) -> tuple[str, str]:
        """A fresh marker and a prompt carrying it: (marker, prompt)."""
        marker = _request_id()
        return marker, f"Contract check {label} {marker}"

    @property
    def hint(self) -> str:
        """What to do when an injected fault never happened."""
        if self.journal is None:
            return f"{FORWARD_HINT}, or {SCENARIO_HINT}"
        return "the fake's scenario rule for this request's marker never matched"

    async def inject(
        self,
        marker: str,
        faults: Mapping[str, str] = {},
        respond: Mapping[str, Any] | None = None,
    ) -> dict[str, str]:
        """Ask for faults (and a scripted answer) for requests carrying `marker`.

        Returns the headers to send (the fast path); with the journal, also installs a
        scenario rule matching the marker in the request's content.
        """
        if self.journal is not None and (faults or respond):
            rule: dict[str, Any] = {
                "name": f"contract {marker}",
                "match": {"user_text_contains": marker},
            }
            rule.update((name.removeprefix("x-fake-"), value) for name, value in faults.items())
            if respond is not None:
                rule["respond"] = dict(respond)
            await self.journal.add_rule(rule)
        return {**faults, REQUEST_ID_HEADER: marker}

    def headers(self, request: ApiRequest, faults: Mapping[str, str] = {}) -> dict[str, str]:
        headers = {"content-type": "application/json", **request.headers, **faults}
        if self.api_key is not None:
            headers.update(self.dialect.auth_headers(self.api_key))
        return headers

    async def post(self, request: ApiRequest, faults: Mapping[str, str] = {}) -> httpx.Response:
        return await self.client.post(
            request.path, content=orjson.dumps(request.body), headers=self.headers(request, faults)
        )


CheckFunction = Callable[[CheckContext], Awaitable[str]]


@dataclass(frozen=True, slots=True)
class Check:
    """One named check; `needs_journal` checks are skipped without the fake server's URL."""

    name: str
    description: str
    run: CheckFunction
    needs_journal: bool = False


def _echo(prompt: str) -> str:
    return f"You said: {prompt}"


def _json_body(response: httpx.Response, expected_status: int = 200) -> Any:
    where = f"POST {response.request.url.raw_path.decode()}"
    if response.status_code != expected_status:
        raise ContractViolation(
            f"{where} answered {response.status_code}, expected {expected_status}: "
            + preview(response.text)
        )
    try:
        return orjson.loads(response.content)
    except orjson.JSONDecodeError:
        raise ContractViolation(
            f"{where}: the body is not JSON: {preview(response.text)}"
        ) from None


def _expect_echo(text: str, prompt: str) -> None:
    if text != _echo(prompt):
        raise ContractViolation(f"answer {text!r}, expected the fake's echo {_echo(prompt)!r}")


async def check_sync_text(ctx: CheckContext) -> str:
    prompt = ctx.prompt("sync")
    response = await ctx.post(ctx.dialect.request(ctx.model, prompt))
    text = ctx.dialect.read_text(_json_body(response))
    _expect_echo(text, prompt)
    return f"200, {text!r}"


def _stream_content_type(ctx: CheckContext) -> str:
    converse = ctx.dialect.format is ProviderFormat.CONVERSE
    return "application/vnd.amazon.eventstream" if converse else "text/event-stream"


async def check_stream_text(ctx: CheckContext) -> str:
    prompt = ctx.prompt("stream")
    request = ctx.dialect.request(ctx.model, prompt, stream=True)
    reader = stream_reader(ctx.dialect.format)
    async with ctx.client.stream(
        "POST", request.path, content=orjson.dumps(request.body), headers=ctx.headers(request)
    ) as response:
        if response.status_code != 200:
            await response.aread()
            _json_body(response)
        content_type = response.headers.get("content-type", "")
        expected_type = _stream_content_type(ctx)
        if not content_type.startswith(expected_type):
            raise ContractViolation(f"content-type {content_type!r}, expected {expected_type}")
        async for chunk in response.aiter_bytes():
            reader.feed(chunk)
    text = reader.finish()
    _expect_echo(text, prompt)
    return f"{reader.events} events, {text!r}"


async def check_tool_call(ctx: CheckContext) -> str:
    request = ctx.dialect.request(ctx.model, ctx.prompt("tools"), tool=WEATHER_TOOL)
    body = _json_body(await ctx.post(request))
    calls = ctx.dialect.read_tool_calls(body)
    if not calls:
        raise ContractViolation(f"no tool call although one was required: {preview(body)}")
    call = calls[0]
    if call.name != WEATHER_TOOL.name:
        raise ContractViolation(f"called {call.name!r}, expected {WEATHER_TOOL.name!r}")
    if not isinstance(call.arguments, dict):
        raise ContractViolation(f"arguments are not a JSON object: {preview(call.arguments)}")
    missing = [key for key in WEATHER_TOOL.schema["required"] if key not in call.arguments]
    if missing:
        raise ContractViolation(f"arguments {preview(call.arguments)} lack required {missing}")
    return f"{call.name}({orjson.dumps(call.arguments).decode()})"


async def check_structured_output(ctx: CheckContext) -> str:
    prompt = ctx.prompt("schema")
    request = ctx.dialect.request(ctx.model, prompt, schema=ANSWER_SCHEMA)
    response = await ctx.post(request, {REQUEST_ID_HEADER: _request_id()})
    text = ctx.dialect.read_text(_json_body(response))
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise ContractViolation(f"the answer is not JSON: {text!r}") from None
    if not isinstance(value, dict):
        raise ContractViolation(f"the answer is not a JSON object: {text!r}")
    if not isinstance(value.get("answer"), str) or not isinstance(
        value.get("confidence"), int | float
    ):
        raise ContractViolation(f"the answer does not follow the schema: {text!r}")
    return text


async def _provider_error(
    ctx: CheckContext,
    faults: Mapping[str, str],
    statuses: Collection[int],
    kind: str,
    *,
    retry_after: bool = False,
) -> str:
    """One upstream error reaching the client. With `retry_after`, the upstream's error
    carries both retry hints: `retry-after` must reach the client (required) and
    `retry-after-ms` should (advisory: an `AdvisoryViolation` once the rest passed)."""
    marker, prompt = ctx.tagged("error")
    if retry_after:
        faults = {
            **faults,
            "x-fake-retry-after": UPSTREAM_RETRY_AFTER,
            "x-fake-retry-after-ms": str(UPSTREAM_RETRY_AFTER_MS),
        }
    headers = await ctx.inject(marker, faults)
    response = await ctx.post(ctx.dialect.request(ctx.model, prompt), headers)
    status = response.status_code
    if 200 <= status < 300:
        raise ContractViolation(
            f"answered {status}, so the upstream fault never happened: {ctx.hint}"
        )
    if status not in statuses:
        wanted = " or ".join(map(str, sorted(statuses)))
        raise ContractViolation(f"answered {status}, expected {wanted}: {preview(response.text)}")
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        raise ContractViolation(
            f"the {status} body is not JSON: {preview(response.text)}"
        ) from None
    seen = ctx.dialect.read_error(body, response.headers)
    kinds = ctx.dialect.error_kinds.get(kind)
    if kinds and seen.kind not in kinds:
        raise ContractViolation(f"error kind {seen.kind!r}, expected one of {sorted(kinds)}")
    detail = f"{status} {seen.kind or ''}".rstrip()
    if not retry_after:
        return detail
    upstream = int(faults["x-fake-status"])
    detail += ", " + retry_after_detail(response, upstream)
    shortfall = retry_after_ms_shortfall(response)
    if shortfall is not None:
        raise AdvisoryViolation(f"{detail}, but {shortfall}")
    return (
        detail
        + f", retry-after-ms: {response.headers.get('retry-after-ms') or response.headers.get('x-ms-retry-after-ms')}"
    )


async def check_error_429(ctx: CheckContext) -> str:
    # x-should-retry: false (as OpenAI and Anthropic send it) keeps a retrying gateway quick.
    faults = {"x-fake-status": "429", "x-fake-should-retry": "false"}
    return await _provider_error(ctx, faults, {429}, "rate_limit", retry_after=True)


async def check_error_400(ctx: CheckContext) -> str:
    return await _provider_error(ctx, {"x-fake-status": "400"}, {400}, "invalid_request")


async def check_error_overloaded(ctx: CheckContext) -> str:
    faults = {"x-fake-status": "529", "x-fake-should-retry": "false"}
    return await _provider_error(ctx, faults, {503, 529}, "overloaded")


async def check_error_503(ctx: CheckContext) -> str:
    faults = {"x-fake-status": "503", "x-fake-should-retry": "false"}
    return await _provider_error(ctx, faults, {503, 529}, "overloaded", retry_after=True)


async def _attempts(
    ctx: CheckContext, status: int, extra: Mapping[str, str]
) -> tuple[int, list[JournalRecord]]:
    """(status the client saw, attempts that reached the upstream) for one failing request."""
    journal = _journal(ctx)
    marker, prompt = ctx.tagged(f"attempts {status}")
    headers = await ctx.inject(marker, {"x-fake-status": str(status), **extra})
    response = await ctx.post(ctx.dialect.request(ctx.model, prompt), headers)
    if 200 <= response.status_code < 300:
        raise ContractViolation(
            f"answered {response.status_code}, so the upstream {status} never happened: {ctx.hint}"
        )
    entries = await journal.wait_for(marker, lambda found: all(e.done for e in found), within=1.0)
    return response.status_code, entries


def _judge_attempts(status: int, entries: list[JournalRecord], why: str, *, failover: bool) -> str:
    """At most one attempt per upstream path; other paths only when `failover` is fine."""
    paths: dict[str, int] = {}
    for entry in entries:
        paths[entry.path] = paths.get(entry.path, 0) + 1
    repeated = {path: count for path, count in paths.items() if count > 1}
    if repeated:
        path, count = next(iter(repeated.items()))
        raise ContractViolation(f"{count} attempts reached {path} {why}")
    if len(paths) > 1 and not failover:
        raise ContractViolation(
            f"{len(entries)} attempts reached the upstream {why}: {list(paths)}"
        )
    if len(paths) > 1:
        return f"one attempt per route, failed over to {list(paths)[1:]}"
    return "one attempt"


async def check_should_retry_false(ctx: CheckContext) -> str:
    status, entries = await _attempts(ctx, 503, {"x-fake-should-retry": "false"})
    why = "although its 503 said x-should-retry: false"
    return _judge_attempts(503, entries, why, failover=True) + f", {status} to the client"


async def check_non_retryable_once(ctx: CheckContext) -> str:
    seen = []
    for status in NON_RETRYABLE:
        answered, entries = await _attempts(ctx, status, {})
        # 401/403/404 may concern one route only (its key, its deployment): failing over to
        # another route is fine; a malformed (400) or invalid (422) request fails everywhere.
        why = f"for a non-retryable {status} (the client got {answered})"
        outcome = _judge_attempts(status, entries, why, failover=status in (401, 403, 404))
        seen.append(f"{status}->{answered}" + ("" if outcome == "one attempt" else " (failover)"))
    return "each reached an upstream route once: " + ", ".join(seen)


def _journal(ctx: CheckContext) -> FakeJournal:
    if ctx.journal is None:
        raise SkipCheck("needs the fake server's journal: pass --fake-url")
    return ctx.journal


def _request_id() -> str:
    return f"contract-{secrets.token_hex(8)}"


async def check_retry_after(ctx: CheckContext) -> str:
    journal = _journal(ctx)
    request_id, prompt = ctx.tagged("retry")
    faults = {"x-fake-status": "429", "x-fake-fail-times": "1", "x-fake-retry-after": "1"}
    headers = await ctx.inject(request_id, faults)
    response = await ctx.post(ctx.dialect.request(ctx.model, prompt), headers)
    if response.status_code == 429:
        value = response.headers.get("retry-after")
        if value is None:
            raise ContractViolation("not retried, and the 429 carries no retry-after header")
        return f"not retried: 429 passed on with retry-after: {value}"
    _expect_echo(ctx.dialect.read_text(_json_body(response)), prompt)
    entries = await journal.wait_for(
        request_id, lambda found: len(found) >= 2 and found[1].started_at > 0, within=1.0
    )
    if len(entries) < 2:
        raise ContractViolation(
            f"answered 200 but the fake saw {len(entries)} attempt(s) tagged {request_id}: "
            + ctx.hint
        )
    first, second = entries[0], entries[1]
    if first.status != 429:
        raise ContractViolation(f"the first attempt got {first.status}, expected the 429")
    gap = second.started_at - (first.first_byte_at or first.started_at)
    if gap >= 1.0 - RETRY_AFTER_TOLERANCE:
        return f"retried {gap:.2f} s after the 429 (retry-after: 1)"
    if second.path != first.path:
        return f"failed over to {second.path} after {gap:.2f} s (retry-after binds that route only)"
    raise ContractViolation(f"retried {first.path} {gap:.2f} s after a 429 with retry-after: 1")


async def check_disconnect(ctx: CheckContext) -> str:
    journal = _journal(ctx)
    request_id = _request_id()
    prompt = " ".join(f"w{index:02d}" for index in range(DISCONNECT_WORDS)) + f" {request_id}"
    request = ctx.dialect.request(ctx.model, prompt, stream=True)
    faults = await ctx.inject(request_id, {"x-fake-inter-event-delay": f"{DISCONNECT_DELAY}s"})
    reader = stream_reader(ctx.dialect.format)
    # A client of its own: closing it drops the connection, as a departing user would.
    async with (
        httpx.AsyncClient(base_url=ctx.client.base_url, timeout=ctx.client.timeout) as own,
        own.stream(
            "POST",
            request.path,
            content=orjson.dumps(request.body),
            headers=ctx.headers(request, faults),
        ) as response,
    ):
        if response.status_code != 200:
            await response.aread()
            _json_body(response)
        async for chunk in response.aiter_bytes():
            if reader.feed(chunk):
                break
        else:
            raise ContractViolation("the stream ended before its first event")
    if not await journal.wait_for(request_id, bool, within=2.0):
        raise ContractViolation(f"the fake saw no request tagged {request_id}: {ctx.hint}")
    # Each word of the echoed answer is one event at least; the whole stream would take this.
    full_stream = (DISCONNECT_WORDS + 2) * DISCONNECT_DELAY
    entries = await journal.wait_for(
        request_id, lambda found: all(e.done for e in found), within=full_stream + 2
    )
    return _judge_disconnect(entries)


def _judge_disconnect(entries: list[JournalRecord]) -> str:
    for entry in entries:
        if not entry.done:
            raise ContractViolation(
                f"the upstream stream was still open after the client left ({entry.events_sent} events sent)"
            )
        if not entry.disconnected:
            raise ContractViolation(
                f"the upstream stream ran to completion ({entry.events_sent} events) after the client left"
            )
        if entry.events_sent > DISCONNECT_WORDS // 2:
            raise ContractViolation(
                f"the upstream was closed late: {entry.events_sent} of {DISCONNECT_WORDS + 2}+ events sent"
            )
    sent = max(entry.events_sent for entry in entries)
    return f"upstream closed after {sent} of {DISCONNECT_WORDS + 2}+ events"


async def _read_stream(
    ctx: CheckContext,
    request: ApiRequest,
    headers: Mapping[str, str] = {},
    *,
    seen_headers: dict[str, httpx.Headers] | None = None,
) -> Any:
    reader = stream_reader(ctx.dialect.format)
    async with ctx.client.stream(
        "POST",
        request.path,
        content=orjson.dumps(request.body),
        headers=ctx.headers(request, headers),
    ) as response:
        if seen_headers is not None:
            seen_headers["headers"] = response.headers
        if response.status_code != 200:
            await response.aread()
            _json_body(response)
        async for chunk in response.aiter_bytes():
            reader.feed(chunk)
    reader.finish()
    return reader


async def check_stream_tool_call(ctx: CheckContext) -> str:
    request = ctx.dialect.request(
        ctx.model, ctx.prompt("stream tools"), tool=WEATHER_TOOL, stream=True
    )
    reader = await _read_stream(ctx, request)
    names: dict[int, str] = {}
    arguments: dict[int, str] = {}
    for delta in reader.deltas():
        if isinstance(delta, ToolCallStart):
            names[delta.index] = delta.name
        elif isinstance(delta, ToolCallDelta):
            arguments[delta.index] = arguments.get(delta.index, "") + delta.arguments
    if not names:
        raise ContractViolation(f"the stream carried no tool call ({reader.events} events)")
    index, name = next(iter(sorted(names.items())))
    if name != WEATHER_TOOL.name:
        raise ContractViolation(f"streamed a call of {name!r}, expected {WEATHER_TOOL.name!r}")
    text = arguments.get(index, "")
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise ContractViolation(f"the streamed arguments are not JSON: {text!r}") from None
    missing = [key for key in WEATHER_TOOL.schema["required"] if key not in value]
    if not isinstance(value, dict) or missing:
        raise ContractViolation(f"streamed arguments {text!r} lack required {missing}")
    return f"{name}({text}) in {reader.events} events"


async def check_stream_structured_output(ctx: CheckContext) -> str:
    request = ctx.dialect.request(
        ctx.model, ctx.prompt("stream schema"), schema=ANSWER_SCHEMA, stream=True
    )
    reader = await _read_stream(ctx, request)
    text = "".join(d.text for d in reader.deltas() if isinstance(d, TextDelta))
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise ContractViolation(f"the streamed answer is not JSON: {text!r}") from None
    if not isinstance(value, dict) or not isinstance(value.get("answer"), str):
        raise ContractViolation(f"the streamed answer does not follow the schema: {text!r}")
    return f"{text} in {reader.events} events"


def _usage_of(fmt: ProviderFormat, body: Any) -> Usage | None:
    try:
        return get_format(fmt).parse_response(body).usage
    except (LLMRouterError, ValueError, TypeError, KeyError) as error:
        raise ContractViolation(f"the answer does not parse as {fmt}: {error}") from None


def _judge_usage(usage: Usage | None) -> str:
    wanted = SCRIPTED_USAGE
    if usage is None:
        raise ContractViolation(f"no usage reported; the upstream reported {wanted}")
    seen = {"input_tokens": usage.input_tokens, "output_tokens": usage.output_tokens}
    if seen != wanted:
        raise ContractViolation(f"usage {seen}, but the upstream reported {wanted}")
    return f"{usage.input_tokens} in, {usage.output_tokens} out"


async def check_usage_exact(ctx: CheckContext) -> str:
    _journal(ctx)
    marker, prompt = ctx.tagged("usage")
    respond = {"text": "Counted.", "usage": SCRIPTED_USAGE}
    headers = await ctx.inject(marker, respond=respond)
    body = _json_body(await ctx.post(ctx.dialect.request(ctx.model, prompt), headers))
    plain = _judge_usage(_usage_of(ctx.dialect.format, body))
    marker, prompt = ctx.tagged("usage stream")
    headers = await ctx.inject(marker, respond=respond)
    request = ctx.dialect.request(ctx.model, prompt, stream=True)
    if ctx.dialect.format in (ProviderFormat.OPENAI, ProviderFormat.MISTRAL):
        request.body["stream_options"] = {"include_usage": True}
    reader = await _read_stream(ctx, request, headers)
    usage = Usage()
    for delta in reader.deltas():
        if type(delta).__name__ == "UsageDelta":
            usage = usage.merge(delta.usage)  # type: ignore[union-attr]
    streamed = _judge_usage(usage if usage != Usage() else None)
    return f"{plain}; streamed {streamed}"


async def check_sync_disconnect(ctx: CheckContext) -> str:
    journal = _journal(ctx)
    marker, prompt = ctx.tagged("sync disconnect")
    headers = await ctx.inject(marker, {"x-fake-latency": "0.8s"})
    request = ctx.dialect.request(ctx.model, prompt)
    async with httpx.AsyncClient(base_url=ctx.client.base_url, timeout=ctx.client.timeout) as own:
        with trio.move_on_after(SYNC_DISCONNECT_AFTER):
            await own.post(
                request.path,
                content=orjson.dumps(request.body),
                headers=ctx.headers(request, headers),
            )
            raise ContractViolation("the slow answer arrived before the client gave up")
    entries = await journal.wait_for(
        marker, lambda found: bool(found) and all(e.done for e in found), within=2.5
    )
    if not entries:
        raise ContractViolation(f"the fake saw no request carrying {marker}")
    if any(not entry.disconnected for entry in entries):
        ran = "still open" if any(not e.done for e in entries) else "ran to completion"
        raise ContractViolation(
            f"the upstream call {ran} after the client left a non-streaming request"
        )
    return f"upstream cancelled ({len(entries)} attempt(s))"


CORE_CHECKS: tuple[Check, ...] = (
    Check("sync_text", "a plain request is answered with the fake's echo", check_sync_text),
    Check("stream_text", "a stream is framed correctly and carries the echo", check_stream_text),
    Check("tool_call", "a required tool choice yields a call with JSON arguments", check_tool_call),
    Check("structured_output", "a JSON schema yields JSON following it", check_structured_output),
    Check(
        "error_429",
        "an upstream 429 reaches the client with retry-after (retry-after-ms: advisory)",
        check_error_429,
    ),
    Check("error_400", "an upstream 400 reaches the client as a 400", check_error_400),
    Check(
        "error_overloaded", "an upstream 529 reaches the client as 503/529", check_error_overloaded
    ),
    Check(
        "error_503",
        "an upstream 503 reaches the client as 503/529 with retry-after (-ms: advisory)",
        check_error_503,
    ),
    Check(
        "stream_tool_call",
        "a streamed tool call carries its name and JSON arguments",
        check_stream_tool_call,
    ),
    Check(
        "stream_structured_output",
        "a streamed JSON-schema answer is JSON following it",
        check_stream_structured_output,
    ),
    Check("retry_after", "a retry waits for the upstream's retry-after", check_retry_after, True),
    Check(
        "should_retry_false",
        "x-should-retry: false on a 503 is honoured (one attempt)",
        check_should_retry_false,
        True,
    ),
    Check(
        "non_retryable_once",
        "400/401/403/404/422 reach the upstream exactly once",
        check_non_retryable_once,
        True,
    ),
    Check(
        "usage_exact", "the upstream's usage reaches the client exactly", check_usage_exact, True
    ),
    Check("disconnect", "a client leaving mid-stream closes the upstream", check_disconnect, True),
    Check(
        "sync_disconnect",
        "a client leaving a non-streaming request cancels the upstream",
        check_sync_disconnect,
        True,
    ),
)
