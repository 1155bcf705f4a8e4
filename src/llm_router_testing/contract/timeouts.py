"""Contract checks on stalled upstreams: a gateway answers within its bound, never hangs.

The fake server stalls (its scenario rule, matched by the check's marker, so nothing needs
forwarding) far longer than the gateway's bound (`CheckContext.timeout_bound`, the
`--timeout-bound` option); each check waits the bound and half again, plus a second, and
reports "hung" when nothing came by then.

- `first_byte_timeout`: the first attempt sends nothing (plain: no response at all; streamed:
  headers, then no event). Passing answers: a retry's good answer, or a timeout error in the
  caller's format (408, 500, 502, 503, 504 or 529; plain or as the stream's error event). With
  the journal, the stalled attempt must also have been abandoned (the fake saw it disconnect).
  Without `--fake-url` the stall comes through `x-fake-*` headers on every attempt, so only an
  error can pass.
- `idle_timeout`: the stream stalls after five events, past every format's preamble
  (Responses sends four events before its first text; a gateway may hold a preamble until
  the first content event, its commit point). Once content went out a stream is committed, so the gateway must end it with the format's own error event (a stream that
  simply stops, or ends as if complete, fails: clients could not tell); a gateway that had
  not sent anything yet may answer an error status instead.
"""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import trio

from .checks import CheckContext, _expect_echo
from .dialects import ApiRequest, ContractViolation, preview
from .journal import REQUEST_ID_HEADER
from .streams import StreamErrorEvent, stream_reader

__all__ = ["check_first_byte_timeout", "check_idle_timeout"]

TIMEOUT_STATUSES = frozenset({408, 500, 502, 503, 504, 529})
IDLE_AFTER_EVENTS = 5


def _stall(ctx: CheckContext) -> float:
    return max(30.0, 4 * ctx.timeout_bound)


def _deadline(ctx: CheckContext) -> float:
    return ctx.timeout_bound * 1.5 + 1.0


async def _stall_faults(
    ctx: CheckContext, marker: str, faults: dict[str, Any], *, first_attempt_only: bool
) -> dict[str, str]:
    """Install the stall for `marker`: a scenario rule with the journal, else headers."""
    if ctx.journal is None:
        return {
            **{f"x-fake-{k.replace('_', '-')}": str(v) for k, v in faults.items()},
            REQUEST_ID_HEADER: marker,
        }
    rule: dict[str, Any] = {"name": f"contract {marker}", "match": {"user_text_contains": marker}}
    rule.update(faults)
    if first_attempt_only:
        rule["times"] = 1
    await ctx.journal.add_rule(rule)
    return {REQUEST_ID_HEADER: marker}


def _hung(ctx: CheckContext, what: str) -> ContractViolation:
    return ContractViolation(
        f"hung: no answer within {_deadline(ctx):.1f} s although the upstream {what} for"
        f" {_stall(ctx):.0f} s (the gateway's bound: {ctx.timeout_bound:g} s)"
    )


def _judge_error(ctx: CheckContext, response: httpx.Response, body: bytes) -> str:
    status = response.status_code
    if status not in TIMEOUT_STATUSES:
        raise ContractViolation(
            f"answered {status} to an upstream that stalled; expected a timeout error"
            f" ({', '.join(map(str, sorted(TIMEOUT_STATUSES)))}): {preview(body.decode(errors='replace'))}"
        )
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise ContractViolation(f"the {status} body is not JSON: {preview(body)}") from None
    seen = ctx.dialect.read_error(parsed, response.headers)
    return f"{status} {seen.kind or ''}".rstrip()


async def _send(
    ctx: CheckContext, request: ApiRequest, prompt: str, headers: dict[str, str], what: str
) -> str:
    """Send `request` on a client of its own (leaving drops the connection); judge the answer."""
    stream = bool(request.body.get("stream")) or "stream" in request.path.lower()
    async with httpx.AsyncClient(base_url=ctx.client.base_url, timeout=_deadline(ctx) + 5) as own:
        with trio.move_on_after(_deadline(ctx)):
            async with own.stream(
                "POST",
                request.path,
                content=orjson.dumps(request.body),
                headers=ctx.headers(request, headers),
            ) as response:
                if response.status_code != 200:
                    return "error " + _judge_error(ctx, response, await response.aread())
                if not stream:
                    body = await response.aread()
                    _expect_echo(ctx.dialect.read_text(orjson.loads(body)), prompt)
                    return "answered after a retry"
                reader = stream_reader(ctx.dialect.format)
                try:
                    async for chunk in response.aiter_bytes():
                        reader.feed(chunk)
                    reader.finish()
                except StreamErrorEvent as event:
                    return f"the stream's error event ({preview(str(event), 80)})"
                except (ContractViolation, httpx.HTTPError) as cut:
                    raise ContractViolation(
                        f"the stream ended without an error event after the upstream {what}"
                        f" ({cut}): clients cannot tell the answer is cut short"
                    ) from None
                return f"streamed after a retry ({reader.events} events)"
    raise _hung(ctx, what)


async def _abandoned(ctx: CheckContext, marker: str) -> str:
    """With the journal: the stalled attempt was dropped by the gateway, not left waiting."""
    if ctx.journal is None:
        return ""
    entries = await ctx.journal.wait_for(
        marker, lambda found: bool(found) and found[0].done, within=2.0
    )
    if not entries:
        raise ContractViolation(f"the fake saw no request carrying {marker}: {ctx.hint}")
    first = entries[0]
    if not first.done:
        raise ContractViolation(
            "the stalled upstream attempt was still open after the gateway answered"
        )
    if not first.disconnected:
        raise ContractViolation(
            "the stalled upstream attempt ran to its end: the stall never applied"
        )
    return f", stalled attempt dropped ({len(entries)} attempt(s))"


async def check_first_byte_timeout(ctx: CheckContext) -> str:
    stall = f"{_stall(ctx)}s"
    results: dict[str, str] = {}
    failures: list[ContractViolation] = []

    async def one(kind: str) -> None:
        streamed = kind == "stream"
        marker, prompt = ctx.tagged(f"first byte {kind}")
        faults = {"ttfb": stall} if streamed else {"latency": stall}
        headers = await _stall_faults(ctx, marker, faults, first_attempt_only=True)
        request = ctx.dialect.request(ctx.model, prompt, stream=streamed)
        what = "sent headers but no event" if streamed else "sent nothing"
        try:
            outcome = await _send(ctx, request, prompt, headers, what)
            results[kind] = outcome + await _abandoned(ctx, marker)
        except ContractViolation as violation:
            failures.append(ContractViolation(f"{kind}: {violation}"))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(one, "plain")
        nursery.start_soon(one, "stream")
    if failures:
        raise ContractViolation("; ".join(str(f) for f in failures))
    return f"plain: {results['plain']}; stream: {results['stream']}"


async def check_idle_timeout(ctx: CheckContext) -> str:
    marker, prompt = ctx.tagged("idle")
    faults = {"stall_after_events": IDLE_AFTER_EVENTS, "stall_for": f"{_stall(ctx)}s"}
    headers = await _stall_faults(ctx, marker, faults, first_attempt_only=False)
    request = ctx.dialect.request(ctx.model, prompt, stream=True)
    what = f"stalled after {IDLE_AFTER_EVENTS} events"
    outcome = await _send(ctx, request, prompt, headers, what)
    if outcome.startswith("streamed"):
        raise ContractViolation(
            f"the stream completed although the upstream stalled after {IDLE_AFTER_EVENTS}"
            f" events: {ctx.hint}"
        )
    return outcome + await _abandoned(ctx, marker)
