"""The contract checks: what a gateway in front of the fake provider server must do, per format.

Each check sends real HTTP requests in the caller's format and raises `ContractViolation`
(failed) or `SkipCheck` (not applicable) with a message a person can act on; on success it
returns a short detail. The fake server answers ``"You said: <last user text>"``, which makes
every answer predictable; faults are asked for with `x-fake-*` headers, which the gateway
must forward to its upstream. `retry_after` and `disconnect` read the fake server's journal.
"""

from __future__ import annotations

import email.utils
import secrets
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from llm_router.types import ProviderFormat

from .dialects import (
    ANSWER_SCHEMA,
    WEATHER_TOOL,
    ApiRequest,
    ContractViolation,
    Dialect,
    preview,
)
from .journal import REQUEST_ID_HEADER, FakeJournal, JournalRecord
from .streams import stream_reader

__all__ = ["CHECKS", "Check", "CheckContext", "SkipCheck", "check_named"]

RETRY_AFTER_TOLERANCE = 0.05  # seconds: the gateway may time its wait from sending the request
DISCONNECT_WORDS = 60
DISCONNECT_DELAY = 0.05  # seconds between the fake's stream events
FORWARD_HINT = "the gateway must forward x-fake-* request headers to its upstream"


class SkipCheck(Exception):
    """The check does not apply (e.g. it needs the fake server's journal and has none)."""


@dataclass(frozen=True, slots=True)
class CheckContext:
    """What a check needs: an HTTP client on the gateway, the format, model, key and journal."""

    client: httpx.AsyncClient
    dialect: Dialect
    model: str
    api_key: str | None = None
    journal: FakeJournal | None = None

    def prompt(self, label: str) -> str:
        """A fresh prompt, so that no cache between client and fake can answer it."""
        return f"Contract check {label} {secrets.token_hex(4)}"

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
    response = await ctx.post(ctx.dialect.request(ctx.model, ctx.prompt("error")), faults)
    status = response.status_code
    if 200 <= status < 300:
        raise ContractViolation(
            f"answered {status}, so the upstream fault never happened: {FORWARD_HINT}"
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
    if retry_after:
        value = response.headers.get("retry-after")
        if value is None:
            raise ContractViolation(f"{status} without a retry-after header")
        _parse_retry_after(value)
        detail += f", retry-after: {value}"
    return detail


def _parse_retry_after(value: str) -> None:
    try:
        float(value)
        return
    except ValueError:
        pass
    try:
        email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        raise ContractViolation(
            f"retry-after {value!r} is neither seconds nor an HTTP date"
        ) from None


async def check_error_429(ctx: CheckContext) -> str:
    # x-should-retry: false (as OpenAI and Anthropic send it) keeps a retrying gateway quick.
    faults = {"x-fake-status": "429", "x-fake-retry-after": "2", "x-fake-should-retry": "false"}
    return await _provider_error(ctx, faults, {429}, "rate_limit", retry_after=True)


async def check_error_400(ctx: CheckContext) -> str:
    return await _provider_error(ctx, {"x-fake-status": "400"}, {400}, "invalid_request")


async def check_error_overloaded(ctx: CheckContext) -> str:
    faults = {"x-fake-status": "529", "x-fake-should-retry": "false"}
    return await _provider_error(ctx, faults, {503, 529}, "overloaded")


def _journal(ctx: CheckContext) -> FakeJournal:
    if ctx.journal is None:
        raise SkipCheck("needs the fake server's journal: pass --fake-url")
    return ctx.journal


def _request_id() -> str:
    return f"contract-{secrets.token_hex(8)}"


async def check_retry_after(ctx: CheckContext) -> str:
    journal = _journal(ctx)
    request_id = _request_id()
    faults = {
        "x-fake-status": "429",
        "x-fake-fail-times": "1",
        "x-fake-retry-after": "1",
        REQUEST_ID_HEADER: request_id,
    }
    prompt = ctx.prompt("retry")
    response = await ctx.post(ctx.dialect.request(ctx.model, prompt), faults)
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
            + FORWARD_HINT
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
    prompt = " ".join(f"w{index:02d}" for index in range(DISCONNECT_WORDS))
    request = ctx.dialect.request(ctx.model, prompt, stream=True)
    faults = {"x-fake-inter-event-delay": f"{DISCONNECT_DELAY}s", REQUEST_ID_HEADER: request_id}
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
        raise ContractViolation(f"the fake saw no request tagged {request_id}: {FORWARD_HINT}")
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


CHECKS: tuple[Check, ...] = (
    Check("sync_text", "a plain request is answered with the fake's echo", check_sync_text),
    Check("stream_text", "a stream is framed correctly and carries the echo", check_stream_text),
    Check("tool_call", "a required tool choice yields a call with JSON arguments", check_tool_call),
    Check("structured_output", "a JSON schema yields JSON following it", check_structured_output),
    Check("error_429", "an upstream 429 reaches the client with retry-after", check_error_429),
    Check("error_400", "an upstream 400 reaches the client as a 400", check_error_400),
    Check(
        "error_overloaded", "an upstream 529 reaches the client as 503/529", check_error_overloaded
    ),
    Check("retry_after", "a retry waits for the upstream's retry-after", check_retry_after, True),
    Check("disconnect", "a client leaving mid-stream closes the upstream", check_disconnect, True),
)


def check_named(name: str) -> Check:
    for check in CHECKS:
        if check.name == name:
            return check
    known = ", ".join(check.name for check in CHECKS)
    raise ValueError(f"unknown contract check {name!r}; known checks: {known}")
