"""Build fixtures/: one cassette (format v1) per provider x scenario, plus fixtures/README.md.

Bodies come from the captured corpus in tests/corpus/captured (captured from the lingua
project's payload corpus (braintrustdata/lingua, MIT OR Apache-2.0)); the corpus keeps
bodies only, so URLs, redacted headers, ids and timings are filled in here, deterministically.
Error fixtures (400, 401, 429, 500, 529) and the two Bedrock scenarios the corpus lacks are
synthetic. Run `python scripts/build_fixtures.py` to regenerate, `--check` to verify.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import orjson

from llm_router.framing.eventstream import encode_event
from llm_router_testing.cassette_format import (
    Interaction,
    RequestRecord,
    ResponseRecord,
    body_fields,
    dump_cassette,
    stream_event,
    write_cassette,
)

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "corpus" / "captured"
FIXTURES = ROOT / "fixtures"
ATTRIBUTION = (
    "captured from the lingua project's payload corpus (braintrustdata/lingua, MIT OR Apache-2.0)"
)
RECORDED_AT = "2026-01-01T00:00:00+00:00"  # synthetic: the corpus records no times
# Synthetic pacing: chunks evenly spaced, at most 20 ms apart, a whole stream within 0.25 s
# (the fake server replays this pacing, so it must not make tests slow).
EVENT_GAP = 0.02
STREAM_SPAN = 0.25
SYNTHETIC = "synthetic"

SCENARIOS = (
    "simple_text",
    "system_prompt",
    "tools",
    "parallel_tool_calls",
    "structured_output",
    "reasoning",
    "images",
)
ERROR_STATUSES = (400, 401, 429, 500, 529)
# The corpus case of each scenario, and the exceptions for one provider.
CASES = {
    "simple_text": "simpleRequest",
    "system_prompt": "systemMessageArrayContent",
    "tools": "toolCallRequest",
    "parallel_tool_calls": "parallelToolCallsRequest",
    "structured_output": "jsonSchemaFormatParam",
    "reasoning": "reasoningWithOutput",
    "images": "multimodalRequest",
}
CASE_OVERRIDES = {
    ("responses", "reasoning"): "reasoningSummaryParam",
    ("anthropic", "reasoning"): "opus47AdaptiveThinkingReasoningEffortParam",
    ("google", "reasoning"): "reasoningSummaryParam",
    ("bedrock", "system_prompt"): SYNTHETIC,
    ("bedrock", "structured_output"): SYNTHETIC,
}
# Follow-up turns kept: the tool result sent back after the tool call.
WITH_FOLLOWUP = frozenset({"tools"})


def _digest(*parts: str) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Provider:
    """How one provider's exchanges look on the wire, around a corpus body."""

    name: str
    corpus: str  # the corpus format directory
    host: str
    request_headers: dict[str, str]
    response_headers: dict[str, str]
    stream_content_type: str
    path: Callable[[str | None, bool], str]
    frame: Callable[[Any], bytes]  # one decoded corpus stream event -> wire bytes
    closing: bytes = b""  # bytes after the last event (OpenAI's [DONE])
    stream_flag: bool = True  # streams are asked for with "stream": true in the body
    model_key: str | None = None  # a body key that belongs in the URL instead


def _sse(event: Any, *, named: bool = False, line_end: bytes = b"\n") -> bytes:
    head = b"event: " + str(event["type"]).encode() + line_end if named else b""
    return head + b"data: " + orjson.dumps(event) + line_end + line_end


def _bedrock_frame(event: Any) -> bytes:
    ((event_type, payload),) = event.items()
    return encode_event(event_type, orjson.dumps(payload))


def _bedrock_path(model: str | None, stream: bool) -> str:
    verb = "converse-stream" if stream else "converse"
    return f"/model/{quote(model or '', safe='')}/{verb}"


def _google_path(model: str | None, stream: bool) -> str:
    name = model or "gemini-2.5-flash"
    if stream:
        return f"/v1beta/models/{name}:streamGenerateContent?alt=sse"
    return f"/v1beta/models/{name}:generateContent"


_OPENAI_HEADERS = {
    "accept": "application/json",
    "authorization": "Bearer REDACTED",
    "content-type": "application/json",
    "user-agent": "OpenAI/Python 1.99.9",
    "x-stainless-lang": "python",
    "x-stainless-package-version": "1.99.9",
}
_OPENAI_RESPONSE = {"content-type": "application/json", "openai-version": "2020-10-01"}

PROVIDERS = (
    Provider(
        "openai",
        "chat-completions",
        "https://api.openai.com",
        _OPENAI_HEADERS,
        _OPENAI_RESPONSE,
        "text/event-stream; charset=utf-8",
        lambda model, stream: "/v1/chat/completions",
        _sse,
        closing=b"data: [DONE]\n\n",
    ),
    Provider(
        "responses",
        "responses",
        "https://api.openai.com",
        _OPENAI_HEADERS,
        _OPENAI_RESPONSE,
        "text/event-stream; charset=utf-8",
        lambda model, stream: "/v1/responses",
        lambda event: _sse(event, named=True),
    ),
    Provider(
        "anthropic",
        "anthropic",
        "https://api.anthropic.com",
        {
            "accept": "application/json",
            "anthropic-version": "2023-06-01",
            "content-type": "application/json",
            "user-agent": "Anthropic/Python 0.64.0",
            "x-api-key": "REDACTED",
        },
        {"content-type": "application/json"},
        "text/event-stream; charset=utf-8",
        lambda model, stream: "/v1/messages",
        lambda event: _sse(event, named=True),
    ),
    Provider(
        "google",
        "google",
        "https://generativelanguage.googleapis.com",
        {
            "content-type": "application/json",
            "user-agent": "google-genai-sdk/1.33.0 gl-python/3.11.9",
            "x-goog-api-client": "google-genai-sdk/1.33.0 gl-python/3.11.9",
            "x-goog-api-key": "REDACTED",
        },
        {"content-type": "application/json; charset=UTF-8", "server": "scaffolding on HTTPServer2"},
        "text/event-stream",
        _google_path,
        lambda event: _sse(event, line_end=b"\r\n"),
        stream_flag=False,
        model_key="model",
    ),
    Provider(
        "bedrock",
        "bedrock",
        "https://bedrock-runtime.us-east-1.amazonaws.com",
        {
            "authorization": (
                "AWS4-HMAC-SHA256 Credential=REDACTED/20260101/us-east-1/bedrock/aws4_request,"
                " SignedHeaders=content-type;host;x-amz-date, Signature=REDACTED"
            ),
            "content-type": "application/json",
            "user-agent": "Boto3/1.40.0 md/Botocore#1.40.0 ua/2.1 os/linux lang/python#3.11.9",
            "x-amz-date": "20260101T000000Z",
        },
        {"content-type": "application/json"},
        "application/vnd.amazon.eventstream",
        _bedrock_path,
        _bedrock_frame,
        stream_flag=False,
        model_key="modelId",
    ),
)


def _id_headers(provider: Provider, seed: str) -> dict[str, str]:
    token = _digest(provider.name, seed)
    if provider.name in ("openai", "responses"):
        return {"x-request-id": f"req_{token[:32]}", "openai-processing-ms": "412"}
    if provider.name == "anthropic":
        return {"request-id": f"req_011C{token[:20]}"}
    if provider.name == "bedrock":
        return {
            "x-amzn-requestid": f"{token[:8]}-{token[8:12]}-{token[12:16]}-{token[16:20]}-{token[20:32]}"
        }
    return {}


def _js_buffers_to_base64(value: Any) -> Any:
    """The corpus keeps Bedrock image bytes as a JS Buffer; on the wire they are base64."""
    if isinstance(value, dict):
        if value.get("type") == "Buffer" and isinstance(value.get("data"), list):
            return base64.b64encode(bytes(value["data"])).decode("ascii")
        return {key: _js_buffers_to_base64(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_js_buffers_to_base64(item) for item in value]
    return value


def _request(provider: Provider, body: dict[str, Any], *, stream: bool) -> RequestRecord:
    body = _js_buffers_to_base64(dict(body))
    model = str(body.pop(provider.model_key)) if provider.model_key in body else None
    if stream and provider.stream_flag:
        body["stream"] = True
    headers = dict(provider.request_headers)
    if stream and provider.name != "bedrock":
        headers["accept"] = "text/event-stream"
    record: RequestRecord = {
        "method": "POST",
        "url": provider.host + provider.path(model, stream),
        "headers": headers,
    }
    record.update(body_fields(orjson.dumps(body), "application/json"))  # type: ignore[typeddict-item]
    return record


def _response(provider: Provider, body: Any, seed: str, status: int = 200) -> ResponseRecord:
    if isinstance(body, dict):
        body = {key: value for key, value in body.items() if key != "$metadata"}
    headers = {**provider.response_headers, **_id_headers(provider, seed)}
    record: ResponseRecord = {"status": status, "headers": headers, "elapsed": 0.412}
    record.update(body_fields(orjson.dumps(body), "application/json"))  # type: ignore[typeddict-item]
    return record


def _stream_response(provider: Provider, events: list[Any], seed: str) -> ResponseRecord:
    chunks = [provider.frame(event) for event in events]
    if provider.closing:
        chunks.append(provider.closing)
    textual = provider.name != "bedrock"
    gap = min(EVENT_GAP, STREAM_SPAN / len(chunks))
    headers = {
        **provider.response_headers,
        "content-type": provider.stream_content_type,
        **_id_headers(provider, seed),
    }
    return {
        "status": 200,
        "headers": headers,
        "elapsed": 0.298,
        "stream": {
            "kind": "sse" if textual else "bytes",
            "events": [
                stream_event(index * gap, chunk, textual) for index, chunk in enumerate(chunks)
            ],
        },
    }


def _load(case: str, provider: Provider, name: str) -> Any:
    return orjson.loads((CORPUS / case / provider.corpus / name).read_bytes())


def _exchange(provider: Provider, case: str, turn: str, *, stream: bool) -> Interaction:
    prefix = "followup-" if turn == "followup" else ""
    body = _load(case, provider, f"{prefix}request.json")
    seed = f"{case}/{turn}/{stream}"
    if not stream:
        answer = _load(case, provider, f"{prefix}response.json")
        request = _request(provider, body, stream=False)
        return {
            "request": request,
            "response": _response(provider, answer, seed),
            "recorded_at": RECORDED_AT,
        }
    events = _load(case, provider, f"{prefix}response-streaming.json")
    if provider.name == "openai" and any(event.get("usage") for event in events):
        body = {**body, "stream_options": {"include_usage": True}}
    request = _request(provider, body, stream=True)
    response = _stream_response(provider, events, seed)
    return {"request": request, "response": response, "recorded_at": RECORDED_AT}


# --------------------------------------------------------------------------- synthetic bodies

_ANALYST = (
    "You are a helpful data analyst. The default data source is project_logs with id abc-123."
)
_TIMESTAMP_SCHEMA = {
    "type": "object",
    "properties": {"created_at": {"type": "string", "format": "date-time"}},
    "required": ["created_at"],
    "additionalProperties": False,
}
_BEDROCK_MODEL = "us.anthropic.claude-haiku-4-5-20251001-v1:0"


def _bedrock_synthetic(scenario: str) -> tuple[dict[str, Any], list[str]]:
    """A Converse request and the answer's text pieces, for scenarios the corpus lacks."""
    if scenario == "system_prompt":
        body: dict[str, Any] = {
            "modelId": _BEDROCK_MODEL,
            "system": [{"text": _ANALYST}],
            "messages": [{"role": "user", "content": [{"text": "What errors occurred recently?"}]}],
            "inferenceConfig": {"maxTokens": 300},
        }
        return body, [
            "I don't have access to project_logs (abc-123) from here. ",
            "Share an export of recent entries and I'll summarise the errors by type and frequency.",
        ]
    schema = orjson.dumps(_TIMESTAMP_SCHEMA).decode()
    body = {
        "modelId": _BEDROCK_MODEL,
        "messages": [
            {
                "role": "user",
                "content": [{"text": "Return JSON with an ISO 8601 timestamp in created_at."}],
            }
        ],
        "outputConfig": {
            "textFormat": {
                "type": "json_schema",
                "structure": {"jsonSchema": {"name": "timestamp_response", "schema": schema}},
            }
        },
    }
    return body, ['{"created_at":', '"2026-01-01T00:00:00Z"}']


def _bedrock_synthetic_exchange(scenario: str, *, stream: bool) -> Interaction:
    body, pieces = _bedrock_synthetic(scenario)
    provider = _provider("bedrock")
    usage = {"inputTokens": 31, "outputTokens": 24, "totalTokens": 55}
    seed = f"{SYNTHETIC}/{scenario}/{stream}"
    request = _request(provider, body, stream=stream)
    if not stream:
        answer = {
            "output": {"message": {"role": "assistant", "content": [{"text": "".join(pieces)}]}},
            "stopReason": "end_turn",
            "usage": usage,
            "metrics": {"latencyMs": 812},
        }
        return {
            "request": request,
            "response": _response(provider, answer, seed),
            "recorded_at": RECORDED_AT,
        }
    events: list[Any] = [{"messageStart": {"role": "assistant"}}]
    events += [
        {"contentBlockDelta": {"delta": {"text": p}, "contentBlockIndex": 0}} for p in pieces
    ]
    events += [
        {"contentBlockStop": {"contentBlockIndex": 0}},
        {"messageStop": {"stopReason": "end_turn"}},
        {"metadata": {"usage": usage, "metrics": {"latencyMs": 812}}},
    ]
    response = _stream_response(provider, events, seed)
    return {"request": request, "response": response, "recorded_at": RECORDED_AT}


# Per provider and status: the error kind and message. 529 is Anthropic's own overloaded
# status; the others get their overloaded error with it, as a proxy in front of them might.
_ERROR_TABLE = """
openai 400 invalid_request_error Invalid value: 'usr'. Supported values are: 'system', 'assistant', 'user', 'function', 'tool', and 'developer'.
openai 401 invalid_request_error Incorrect API key provided: REDACTED. You can find your API key at https://platform.openai.com/account/api-keys.
openai 429 tokens Rate limit reached for gpt-5-nano on tokens per min (TPM): Limit 200000, Used 199500, Requested 1200. Please try again in 210ms. Visit https://platform.openai.com/account/rate-limits to learn more.
openai 500 server_error The server had an error while processing your request. Sorry about that!
openai 529 server_error The engine is currently overloaded, please try again later.
anthropic 400 invalid_request_error messages: roles must alternate between "user" and "assistant", but found multiple "user" roles in a row
anthropic 401 authentication_error invalid x-api-key
anthropic 429 rate_limit_error This request would exceed the rate limit for your organization of 50,000 input tokens per minute. Please reduce the prompt length or the maximum tokens requested, or try again later.
anthropic 500 api_error Internal server error
anthropic 529 overloaded_error Overloaded
google 400 INVALID_ARGUMENT * GenerateContentRequest.contents: contents is not specified
google 401 UNAUTHENTICATED Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.
google 429 RESOURCE_EXHAUSTED You exceeded your current quota, please check your plan and billing details.
google 500 INTERNAL An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting
google 529 UNAVAILABLE The model is overloaded. Please try again later.
bedrock 400 ValidationException A conversation must start with a user message. Try again with a conversation that starts with a user message.
bedrock 401 UnrecognizedClientException The security token included in the request is invalid.
bedrock 429 ThrottlingException Too many requests, please wait before trying again.
bedrock 500 InternalServerException The system encountered an unexpected error during processing. Try your request again.
bedrock 529 ServiceUnavailableException Bedrock is unable to process your request.
"""
_ERRORS: dict[str, dict[int, tuple[str, str]]] = {}
for _line in _ERROR_TABLE.strip().splitlines():
    _name, _status, _kind, _message = _line.split(" ", 3)
    _ERRORS.setdefault(_name, {})[int(_status)] = (_kind, _message)
_ERRORS["responses"] = _ERRORS["openai"]
_OPENAI_CODES = {401: "invalid_api_key", 429: "rate_limit_exceeded"}


def _error_body(provider: str, status: int) -> tuple[Any, dict[str, str]]:
    kind, message = _ERRORS[provider][status]
    headers: dict[str, str] = {}
    if status == 429:
        headers["retry-after"] = "1" if provider != "google" else "19"
    if provider in ("openai", "responses"):
        body: Any = {
            "error": {
                "message": message,
                "type": kind,
                "param": None,
                "code": _OPENAI_CODES.get(status),
            }
        }
        if status == 429:
            headers.update(
                {"x-ratelimit-limit-tokens": "200000", "x-ratelimit-remaining-tokens": "500"}
            )
    elif provider == "anthropic":
        body = {"type": "error", "error": {"type": kind, "message": message}}
        if status in (429, 529, 500):
            headers["x-should-retry"] = "true"
    elif provider == "google":
        error: dict[str, Any] = {"code": status, "message": message, "status": kind}
        if status == 429:
            error["details"] = [
                {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "19s"}
            ]
        body = {"error": error}
    else:
        body = {"message": message}
        headers["x-amzn-errortype"] = f"{kind}:http://internal.amazon.com/coral/com.amazon.bedrock/"
    return body, headers


def _error_exchange(provider: Provider, status: int) -> Interaction:
    request = _request(
        provider, _load(CASES["simple_text"], provider, "request.json"), stream=False
    )
    body, extra = _error_body(provider.name, status)
    response = _response(provider, body, f"error/{status}", status)
    response["headers"].update(extra)
    return {"request": request, "response": response, "recorded_at": RECORDED_AT}


# --------------------------------------------------------------------------- the whole set


@dataclass(frozen=True, slots=True)
class Fixture:
    provider: str
    scenario: str
    source: str
    interactions: list[Interaction]

    @property
    def path(self) -> Path:
        return FIXTURES / self.provider / f"{self.scenario}.json"


def _provider(name: str) -> Provider:
    return next(p for p in PROVIDERS if p.name == name)


def build() -> Iterator[Fixture]:
    """Every fixture, in a fixed order."""
    for provider in PROVIDERS:
        for scenario in SCENARIOS:
            case = CASE_OVERRIDES.get((provider.name, scenario), CASES[scenario])
            for stream in (False, True):
                name = f"{scenario}_stream" if stream else scenario
                if case == SYNTHETIC:
                    interactions = [_bedrock_synthetic_exchange(scenario, stream=stream)]
                else:
                    turns = ("first", "followup") if scenario in WITH_FOLLOWUP else ("first",)
                    interactions = [_exchange(provider, case, t, stream=stream) for t in turns]
                yield Fixture(provider.name, name, case, interactions)
        for status in ERROR_STATUSES:
            yield Fixture(
                provider.name, f"error_{status}", SYNTHETIC, [_error_exchange(provider, status)]
            )


def readme(fixtures: list[Fixture]) -> str:
    rows = "\n".join(
        f"| {f.provider} | {f.scenario} | [{f.provider}/{f.scenario}.json]({f.provider}/{f.scenario}.json) | {f.source} |"
        for f in fixtures
    )
    return f"""# Recorded provider exchanges

One cassette (format version 1, see docs/cassettes.md) per provider and scenario: the request
as the official SDK sends it (real path, redacted headers) and the provider's answer, streams
as their SSE chunks or, for Bedrock, base64 AWS event-stream frames. Load one with
`Cassette.open(path, mode="none")`.

Bodies are {ATTRIBUTION};
the source case of each file is named below. The corpus keeps bodies only, so URLs, headers,
ids, `recorded_at` and chunk timings are filled in by `scripts/build_fixtures.py` (synthetic and
deterministic; stream chunks are evenly spaced, at most 20 ms apart). Rows whose source is `synthetic` have no captured case: the error
fixtures (each provider's error body and headers for 400, 401, 429, 500 and 529; 529 is
Anthropic's overloaded status, the others get their overloaded error with it) and Bedrock's
system prompt and structured output.

Regenerate with `python scripts/build_fixtures.py`; `--check` fails when a file is stale.

| provider | scenario | file | source case |
|---|---|---|---|
{rows}
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if fixtures/ is out of date")
    args = parser.parse_args(argv)
    fixtures = list(build())
    readme_path, readme_text = FIXTURES / "README.md", readme(fixtures).encode()
    stale = [f for f in fixtures if _differs(f.path, dump_cassette(f.interactions))]
    readme_stale = _differs(readme_path, readme_text)
    if args.check:
        for path in [f.path for f in stale] + ([readme_path] if readme_stale else []):
            print(f"stale: {path.relative_to(ROOT)}", file=sys.stderr)
        return 1 if stale or readme_stale else 0
    for fixture in stale:
        write_cassette(fixture.path, fixture.interactions)
    if readme_stale:
        readme_path.write_bytes(readme_text)
    print(f"{len(fixtures)} fixtures, {len(stale) + readme_stale} files written")
    return 0


def _differs(path: Path, data: bytes) -> bool:
    return not path.exists() or path.read_bytes() != data


if __name__ == "__main__":
    sys.exit(main())
