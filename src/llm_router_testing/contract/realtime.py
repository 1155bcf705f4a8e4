"""Contract checks for a gateway's realtime WebSocket endpoints, per protocol.

Put the gateway in front of the fake server and run the checks for each protocol it serves
(`openai-realtime`, `responses-ws`, `gemini-live`): as rows of the contract suite's table
(`llm-router-contract --format gemini-live`, `contract_tests(formats=[...])`), or on their own
with `run_realtime_checks(base_url, format=..., ...)`:

==================== ===================================================================
session_round_trip   the session opens as its protocol says (`session.created`, or
                     `setupComplete` after the setup), then a text turn is answered with the
                     fake's echo and usage (`response.done` / `response.completed` /
                     `usageMetadata`)
tool_call            a required tool yields a call of `get_weather` with JSON arguments
client_close         (needs fake_url) the client closing its socket closes the upstream one:
                     the fake's journal shows that session closed by its client
upstream_close       a provider closing with code 4000 after its first event reaches the
                     client with 4000 (faults by `x-fake-*` headers, and by a scenario rule
                     when fake_url is given)
keys_refused         (needs bad_key) a wrong key is refused before the upgrade (401 or 403;
                     Gemini Live also 400, as Google answers), in every place the protocol's
                     clients put it (Gemini: the `x-goog-api-key` header and `?key=`)
==================== ===================================================================
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx
import trio
from trio_websocket import (
    ConnectionClosed,
    ConnectionRejected,
    HandshakeError,
    open_websocket_url,
)

from llm_router.realtime import RealtimeFormat

from .realtime_dialects import RealtimeDialect, RealtimeViolation, realtime_dialect

__all__ = [
    "REALTIME_CHECKS",
    "RealtimeCheckResult",
    "probe_realtime",
    "run_realtime_check",
    "run_realtime_checks",
]

UPSTREAM_CLOSE_CODE = 4000


@dataclass(frozen=True, slots=True)
class RealtimeCheckResult:
    name: str
    status: str  # "pass", "fail" or "skip"
    detail: str
    format: RealtimeFormat = RealtimeFormat.OPENAI_REALTIME
    seconds: float = 0.0


class _Failed(Exception):
    pass


class _Skip(Exception):
    pass


@dataclass(frozen=True, slots=True)
class _Context:
    root: str  # ws(s)://host:port
    dialect: RealtimeDialect
    model: str
    headers: list[tuple[str, str]]
    fake_url: str | None
    bad_key: str | None
    timeout: float

    @property
    def url(self) -> str:
        return self.dialect.url(self.root, self.model)


def _marker() -> str:
    return f"rt-{secrets.token_hex(4)}"


def _headers(pairs: list[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    return [(k.encode("latin-1"), v.encode("latin-1")) for k, v in pairs]


async def check_session_round_trip(ctx: _Context) -> str:
    prompt = f"Contract check realtime {_marker()}"
    async with open_websocket_url(ctx.url, extra_headers=_headers(ctx.headers)) as ws:
        turn = await ctx.dialect.text_turn(ws, ctx.model, prompt)
    if turn.text != f"You said: {prompt}":
        raise _Failed(f"answer {turn.text[:80]!r}, expected the fake's echo 'You said: {prompt}'")
    if not turn.output_tokens:
        raise _Failed("the end of the turn carries no usage")
    return f"{turn.events} events, {turn.total_tokens} tokens"


async def check_tool_call(ctx: _Context) -> str:
    async with open_websocket_url(ctx.url, extra_headers=_headers(ctx.headers)) as ws:
        turn = await ctx.dialect.tool_turn(ws, ctx.model, f"weather? {_marker()}")
    if turn.tool_name != "get_weather":
        raise _Failed(f"no call of get_weather (called {turn.tool_name!r})")
    try:
        json.loads(turn.tool_arguments or "")
    except ValueError:
        raise _Failed(f"the arguments are not JSON: {turn.tool_arguments!r}") from None
    return f"called {turn.tool_name}({turn.tool_arguments})"


async def _journal(fake_url: str) -> list[dict[str, object]]:
    async with httpx.AsyncClient() as client:
        response = await client.get(fake_url + "/_fake/journal")
    if response.status_code != 200:
        raise _Failed(f"GET {fake_url}/_fake/journal answered {response.status_code}")
    entries: list[dict[str, object]] = response.json()
    return entries


async def check_client_close(ctx: _Context) -> str:
    if ctx.fake_url is None:
        raise _Skip("needs the fake server's journal: pass --fake-url")
    marker = _marker()
    async with open_websocket_url(ctx.url, extra_headers=_headers(ctx.headers)) as ws:
        await ctx.dialect.open(ws, ctx.model, marker)  # answered: the upstream got the marker
    with trio.move_on_after(ctx.timeout):
        while True:
            for entry in await _journal(ctx.fake_url):
                ours = entry.get("method") == "WEBSOCKET" and marker in json.dumps(
                    entry.get("body")
                )
                if ours and entry.get("ended_at") is not None:
                    if entry.get("closed_by") != "client":
                        raise _Failed(f"the upstream session was ended by {entry.get('closed_by')}")
                    return "the upstream session was closed by the gateway"
            await trio.sleep(0.05)
    raise _Failed("the upstream session was still open after the client left")


async def check_upstream_close(ctx: _Context) -> str:
    faults = [
        ("x-fake-close-code", str(UPSTREAM_CLOSE_CODE)),
        ("x-fake-drop-after-events", "1"),
    ]
    if ctx.fake_url is None:
        return await _upstream_close(ctx, faults)
    name = f"contract realtime close {_marker()}"
    rule = {
        "name": name,
        "match": {"path": ctx.dialect.path_pattern, "method": "GET"},
        "close_code": UPSTREAM_CLOSE_CODE,
        "drop_after_events": 1,
        "times": 1,
    }
    try:
        async with httpx.AsyncClient() as client:
            await client.post(ctx.fake_url + "/_fake/rules", json={"rules": [rule]})
        return await _upstream_close(ctx, faults)
    finally:  # the rule goes with the check, even on failure or cancellation
        with trio.CancelScope(shield=True) as scope:
            scope.deadline = trio.current_time() + 5
            async with httpx.AsyncClient() as client:
                try:
                    await client.request(
                        "DELETE", ctx.fake_url + "/_fake/rules", json={"names": [name]}
                    )
                except httpx.HTTPError:
                    pass


async def _upstream_close(ctx: _Context, faults: list[tuple[str, str]]) -> str:
    code: int | None = None
    headers = _headers([*ctx.headers, *faults])
    async with open_websocket_url(ctx.url, extra_headers=headers) as ws:
        try:
            await ctx.dialect.text_turn(ws, ctx.model, f"close me {_marker()}")
            while True:
                await ws.get_message()
        except ConnectionClosed as closed:
            code = closed.reason.code if closed.reason else None
    if code != UPSTREAM_CLOSE_CODE:
        raise _Failed(
            f"the client saw close code {code}, the provider closed with {UPSTREAM_CLOSE_CODE}"
        )
    return f"close code {UPSTREAM_CLOSE_CODE} reached the client"


async def check_keys_refused(ctx: _Context) -> str:
    if ctx.bad_key is None:
        raise _Skip("needs a key the gateway must refuse: pass --bad-key (or --api-key)")
    key_names = {"authorization", "x-goog-api-key", "x-api-key", "api-key"}
    base = [(k, v) for k, v in ctx.headers if k.lower() not in key_names]
    refused = []
    for url, key_headers in ctx.dialect.key_urls(ctx.root, ctx.model, ctx.bad_key):
        where = "?key=" if not key_headers else key_headers[0][0]
        try:
            async with open_websocket_url(url, extra_headers=_headers([*base, *key_headers])):
                pass
        except ConnectionRejected as rejected:
            allowed = ctx.dialect.refusal_statuses
            if rejected.status_code not in allowed:
                raise _Failed(
                    f"a wrong key in {where} was refused with {rejected.status_code},"
                    f" expected {' or '.join(map(str, allowed))}"
                ) from None
            refused.append(f"{where}: {rejected.status_code}")
            continue
        raise _Failed(f"the upgrade was accepted with a wrong key in {where}")
    return "refused before the upgrade (" + ", ".join(refused) + ")"


REALTIME_CHECKS: dict[str, Callable[[_Context], Awaitable[str]]] = {
    "session_round_trip": check_session_round_trip,
    "tool_call": check_tool_call,
    "client_close": check_client_close,
    "upstream_close": check_upstream_close,
    "keys_refused": check_keys_refused,
}

_FAILURES = (
    _Failed,
    RealtimeViolation,
    ConnectionRejected,
    ConnectionClosed,
    HandshakeError,
    OSError,
    httpx.HTTPError,
    ValueError,
    KeyError,
    TypeError,
    trio.TooSlowError,
)


def _root(base_url: str) -> str:
    root = base_url.rstrip("/")
    return root.replace("https://", "wss://", 1).replace("http://", "ws://", 1)


def _context(
    base_url: str,
    fmt: RealtimeFormat | str,
    model: str | None,
    api_key: str | None,
    fake_url: str | None,
    bad_key: str | None,
    timeout: float,
) -> _Context:
    dialect = realtime_dialect(RealtimeFormat(fmt))
    headers = dialect.key_headers(api_key) if api_key else []
    return _Context(
        _root(base_url),
        dialect,
        model or dialect.default_model,
        headers,
        fake_url,
        bad_key,
        timeout,
    )


async def probe_realtime(
    base_url: str,
    fmt: RealtimeFormat | str,
    *,
    model: str | None = None,
    api_key: str | None = None,
    connect_timeout: float = 10.0,
) -> str | None:
    """None when the gateway accepts the protocol's upgrade, else why it seems not to serve it."""
    timeout = connect_timeout
    ctx = _context(base_url, fmt, model, api_key, None, None, timeout)
    path = ctx.url.split("://", 1)[-1].split("/", 1)[-1].split("?")[0]
    try:
        with trio.fail_after(timeout):
            async with open_websocket_url(ctx.url, extra_headers=_headers(ctx.headers)):
                pass
    except ConnectionRejected as rejected:
        status = rejected.status_code
        if status in (404, 405, 426) or (status in (403, 500) and not _json_body(rejected)):
            # 403 or 500 without an error of its own: how ASGI servers answer an upgrade the
            # application does not handle
            return f"not served: the upgrade to /{path} was answered {status}"
        return None  # refused for another reason: the checks will say why
    except (HandshakeError, OSError, trio.TooSlowError) as error:
        return f"not served: the upgrade to /{path} failed: {_describe(error)}"
    return None


def _describe(error: BaseException) -> str:
    """The error and, when it says nothing itself (trio-websocket's HandshakeError), its cause."""
    if isinstance(error, _Failed | RealtimeViolation):
        return str(error)  # the check's own words
    text = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    cause = error.__cause__ or error.__context__
    if not str(error) and cause is not None:
        text += f" ({type(cause).__name__}: {cause})"
    return text


def _json_body(rejected: ConnectionRejected) -> bool:
    try:
        return isinstance(json.loads(rejected.body or b""), dict)
    except ValueError:
        return False


async def run_realtime_check(
    base_url: str,
    fmt: RealtimeFormat | str,
    name: str,
    *,
    model: str | None = None,
    api_key: str | None = None,
    fake_url: str | None = None,
    bad_key: str | None = None,
    check_timeout: float = 10.0,
) -> RealtimeCheckResult:
    """Run the realtime check `name` for protocol `fmt`, bounded by `check_timeout` seconds."""
    check = REALTIME_CHECKS.get(name)
    if check is None:
        known = ", ".join(REALTIME_CHECKS)
        raise ValueError(f"unknown realtime contract check {name!r} (known: {known})")
    ctx = _context(base_url, fmt, model, api_key, fake_url, bad_key, check_timeout)
    started = time.perf_counter()
    try:
        with trio.fail_after(check_timeout):
            detail = await check(ctx)
        status = "pass"
    except _Skip as skip:
        status, detail = "skip", str(skip)
    except _FAILURES as failure:
        status, detail = "fail", _describe(failure)
    return RealtimeCheckResult(
        name, status, detail, ctx.dialect.format, time.perf_counter() - started
    )


async def run_realtime_checks(
    base_url: str,
    *,
    format: RealtimeFormat | str = RealtimeFormat.OPENAI_REALTIME,
    model: str | None = None,
    api_key: str | None = None,
    fake_url: str | None = None,
    bad_key: str | None = None,
    check_timeout: float = 10.0,
) -> list[RealtimeCheckResult]:
    """Run every realtime check of protocol `format` against the gateway at `base_url` (http
    or ws scheme); each check is bounded by `check_timeout` seconds."""
    return [
        await run_realtime_check(
            base_url,
            format,
            name,
            model=model,
            api_key=api_key,
            fake_url=fake_url,
            bad_key=bad_key,
            check_timeout=check_timeout,
        )
        for name in REALTIME_CHECKS
    ]
