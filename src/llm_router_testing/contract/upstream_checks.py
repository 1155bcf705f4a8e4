"""Contract check on what reached the upstream, read from the fake server's journal.

`upstream_valid`: one plain and one streamed request each reach the upstream exactly once,
the fake accepted them, the model id is one the real provider would accept (the strict rules
of `llm_router_testing.model_ids`: e.g. a Bedrock id must be a model id or an inference
profile of one) and the body has the provider's own shape (Bedrock Converse and Gemini
bodies name no model; Anthropic on Bedrock or Vertex carries its `anthropic_version`...).
"""

from __future__ import annotations

from typing import Any

from llm_router_testing.model_ids import refusal_reason

from .checks import CheckContext, _journal, _json_body, _read_stream
from .dialects import ContractViolation, preview
from .journal import JournalRecord

__all__ = ["check_upstream_valid", "body_problem"]

_ANTHROPIC_VERSIONS = {"bedrock": "bedrock-2023-05-31", "vertex-anthropic": "vertex-2023-10-16"}


def body_problem(entry: JournalRecord) -> str | None:
    """What is wrong with the request body for its provider and format (None: nothing)."""
    body, provider, fmt = entry.body, entry.provider or "", entry.format or ""
    if not isinstance(body, dict):
        return f"the body is not a JSON object: {preview(body)}"
    invoke = provider == "bedrock" and fmt == "anthropic"
    if provider == "bedrock" and not invoke and "model" in body:
        return "a Converse body names a model (the path does; Bedrock refuses the key)"
    if provider in ("google", "vertex-google"):
        if "model" in body:
            return "a Gemini body names a model (the path does)"
        if not isinstance(body.get("contents"), list):
            return "a Gemini body without a contents list"
    if provider == "vertex-anthropic" or invoke:
        wanted = _ANTHROPIC_VERSIONS["bedrock" if invoke else provider]
        if body.get("anthropic_version") != wanted:
            return f"anthropic_version is {body.get('anthropic_version')!r}, expected {wanted!r}"
        if "model" in body:
            return "the body names a model (the path does)"
    elif fmt == "anthropic" and not isinstance(body.get("max_tokens"), int):
        return "an Anthropic body without max_tokens"
    path_names_model = invoke or provider == "vertex-anthropic"
    body_names_model = fmt in ("openai", "mistral", "responses", "anthropic")
    if body_names_model and not path_names_model and not isinstance(body.get("model"), str):
        return "the body names no model"
    if fmt in ("openai", "mistral", "anthropic", "converse") and not isinstance(
        body.get("messages"), list
    ):
        return "the body has no messages list"
    if fmt == "responses" and "input" not in body:
        return "a Responses body without input"
    if fmt == "mistral" and "max_completion_tokens" in body:
        return "a Mistral body with max_completion_tokens (Mistral takes max_tokens)"
    return None


def _judge(entries: list[JournalRecord], kind: str) -> str:
    if not entries:
        raise ContractViolation(f"{kind}: the fake saw no request carrying the check's marker")
    if len(entries) > 1:
        raise ContractViolation(
            f"{kind}: {len(entries)} attempts reached the upstream for one successful request"
        )
    entry = entries[0]
    where = f"{entry.path} ({entry.provider})"
    if entry.status != 200:
        raise ContractViolation(
            f"{kind}: the upstream refused what the gateway sent to {where}:"
            f" {entry.status} {entry.error or ''}".rstrip()
        )
    reason = refusal_reason(entry.provider or "", entry.model or "", strict=True)
    if reason is not None:
        raise ContractViolation(
            f"{kind}: model id {entry.model!r} reached {where}; the provider refuses it: {reason}"
        )
    problem = body_problem(entry)
    if problem is not None:
        raise ContractViolation(f"{kind}: {where}: {problem}")
    return f"{entry.model} at {entry.path}"


async def check_upstream_valid(ctx: CheckContext) -> str:
    journal = _journal(ctx)
    marker, prompt = ctx.tagged("upstream")
    _json_body(await ctx.post(ctx.dialect.request(ctx.model, prompt)))
    plain = await journal.wait_for(marker, _settled, within=2.0)
    marker, prompt = ctx.tagged("upstream stream")
    await _read_stream(ctx, ctx.dialect.request(ctx.model, prompt, stream=True))
    streamed = await journal.wait_for(marker, _settled, within=2.0)
    return f"once each, valid: {_judge(plain, 'plain')}; streamed {_judge(streamed, 'stream')}"


def _settled(found: Any) -> bool:
    return bool(found) and all(entry.done for entry in found)
