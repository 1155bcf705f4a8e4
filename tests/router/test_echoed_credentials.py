"""An upstream that echoes every credential it received, in every encoding, never gets one
back to the caller: not in the typed error (message, repr, body, headers, chain), not in logs,
not in what the gateway renders to its own client. End to end over loopback, for every way
the router authenticates."""

from __future__ import annotations

import base64
import json
import logging
import re
import urllib.parse
from collections.abc import Callable

import httpx
import pytest

from llm_router import RetryPolicy, errors
from llm_router.auth import ApiKey, AuthConfig, AwsSigV4, Custom
from llm_router.providers import (
    AnthropicProvider,
    AzureProvider,
    BedrockProvider,
    GoogleProvider,
    OpenAIProvider,
    Provider,
)
from llm_router.router import Router
from llm_router.scrub import Scrubber
from llm_router.serve import open_gateway
from llm_router.types import ProviderFormat

from ._raw_upstream import Reply, Seen, open_raw_upstream

CANARY = "canary-7f3c91d0-never-print-me"
MODEL = "house-model"
BODY = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}


class QueryKey(AuthConfig):
    """Gemini's other way of sending a key: `?key=` on the URL."""

    def __init__(self, key: str) -> None:
        self._key = key

    async def apply(self, request: httpx.Request) -> None:
        request.url = request.url.copy_add_param("key", self._key)


def _cases(url: str) -> list[tuple[str, Provider, AuthConfig]]:
    key = f"sk-{CANARY}"
    basic = base64.b64encode(f"gateway-user:{key}".encode()).decode()
    return [
        ("openai-bearer", OpenAIProvider(base_url=url + "/v1"), ApiKey(key)),
        ("anthropic-x-api-key", AnthropicProvider(base_url=url), ApiKey(key, "x-api-key", "")),
        (
            "bedrock-sigv4-session",
            BedrockProvider(base_url=url),
            AwsSigV4(f"AKIA{CANARY}", f"secret-{CANARY}", f"token-{CANARY}", region="us-east-1"),
        ),
        (
            "azure-api-key",
            AzureProvider(url, "2024-10-21"),
            ApiKey(key, "api-key", ""),
        ),
        ("google-header", GoogleProvider(base_url=url), ApiKey(key, "x-goog-api-key", "")),
        ("google-query", GoogleProvider(base_url=url), QueryKey(key)),
        ("custom-basic", OpenAIProvider(base_url=url + "/v1"), Custom({"authorization": f"Basic {basic}"})),
    ]  # fmt: skip


CASE_NAMES = [name for name, _, _ in _cases("http://x")]


def _encodings(value: str) -> list[str]:
    raw = value.encode()
    return [
        value,
        "".join(f"\\u{ord(c):04x}" for c in value),  # JSON unicode escapes, every character
        value[:3] + "".join(f"\\u{ord(c):04x}" for c in value[3:8]) + value[8:],  # mixed
        urllib.parse.quote(value, safe=""),
        "".join(f"%{b:02X}" for b in raw),
        base64.b64encode(raw).decode(),
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
        base64.b64encode(b"x:" + raw).decode(),  # basic-auth style, another alignment
        base64.b64encode(b"user:" + raw + b"!").decode(),
    ]


def _credentials(seen: Seen) -> list[str]:
    values = [v for k, v in seen.headers if k not in ("host", "content-length", "content-type")]
    values += [v for _, v in urllib.parse.parse_qsl(seen.query)]
    return values


def _echo_body(seen: Seen) -> bytes:
    # Raw text with the escapes written literally: a JSON parser would decode the \u forms.
    forms = [form for value in _credentials(seen) for form in _encodings(value)]
    message = " | ".join(forms).replace('"', "'")
    return ('{"error": {"message": "bad credentials: ' + message + '", "type": "x"}}').encode()


def _echo_headers(seen: Seen) -> list[tuple[str, str]]:
    out = [("content-type", "application/json")]
    for index, value in enumerate(_credentials(seen)):
        safe = value.replace('"', "'")
        out.append(
            ("www-authenticate", f'Bearer realm="api", error="invalid_token", token="{safe}"')
        )
        out.append((f"x-echo-{index}", safe))
        out.append((f"x-echo-{index}-b64", base64.b64encode(value.encode()).decode()))
    return out


def _reveals(value: str) -> bool:
    """Whether a credential as sent carries the canary (basic auth hides it in base64)."""
    token = value.rpartition(" ")[2]
    try:
        decoded = base64.b64decode(token + "=" * (-len(token) % 4)).decode("latin-1")
    except ValueError:
        decoded = ""
    return CANARY in value or CANARY in decoded


def rejecting(status: int) -> Callable[[Seen], Reply]:
    def handle(seen: Seen) -> Reply:
        return Reply(status, _echo_headers(seen), [_echo_body(seen)])

    return handle


_B64 = re.compile(r"[A-Za-z0-9+/_-]{8,}={0,2}")


def assert_no_canary(text: str | bytes, where: str) -> None:
    """No form of the canary: raw, JSON-unescaped, percent-decoded, or base64-decoded."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    views = [text, urllib.parse.unquote(text)]
    try:
        views.append(json.loads(f'"{text}"'))
    except ValueError:
        views.append(text.encode().decode("unicode_escape", "replace"))
    for view in list(views):
        for token in _B64.findall(view):
            for decode in (base64.b64decode, base64.urlsafe_b64decode):
                try:
                    views.append(decode(token + "=" * (-len(token) % 4)).decode("latin-1"))
                except ValueError:
                    pass
    for view in views:
        assert CANARY not in view, f"canary in {where}: {view[:300]!r}"


def assert_error_clean(exc: BaseException) -> None:
    seen: BaseException | None = exc
    while seen is not None:
        assert_no_canary(str(seen), "str(exc)")
        assert_no_canary(repr(seen), "repr(exc)")
        assert_no_canary(getattr(seen, "body", None) or b"", "exc.body")
        headers: dict[str, str] = getattr(seen, "headers", None) or {}
        assert_no_canary("\n".join(f"{k}: {v}" for k, v in headers.items()), "exc.headers")
        seen = seen.__cause__ or seen.__context__


def _router(alias: str, provider: Provider, auth: AuthConfig) -> Router:
    return (
        Router.builder()
        .add_provider(alias, provider, auth=auth)
        .add_model_route(MODEL, alias, "some-model")
        .with_retry_policy(RetryPolicy(max_attempts=2, initial_delay=0.001, max_delay=0.001))
        .build()
    )


@pytest.mark.parametrize("case", CASE_NAMES)
@pytest.mark.parametrize("status", [401, 429, 500])
async def test_an_echoing_upstream_gets_no_credential_to_the_caller(
    case: str, status: int, caplog: pytest.LogCaptureFixture
) -> None:
    async with open_raw_upstream(rejecting(status)) as upstream:
        name, provider, auth = next(c for c in _cases(upstream.url) if c[0] == case)
        router = _router(name, provider, auth)
        # httpcore's own DEBUG traces show response headers as received: what it logs is
        # outside the library; everything llm_router logs is checked.
        with caplog.at_level(logging.DEBUG, logger="llm_router"):
            async with router:
                with pytest.raises(errors.LLMRouterError) as caught:
                    await router.complete(BODY, ProviderFormat.OPENAI)
    # The upstream did receive the credential, and echoed it: the checks are not vacuous.
    assert any(_reveals(v) for v in _credentials(upstream.seen[0]))
    assert "bad credentials" in str(caught.value)
    assert_error_clean(caught.value)
    for cause in getattr(caught.value, "errors", []):
        assert_error_clean(cause)
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("llm_router")]
    assert_no_canary("\n".join(ours), "logs")


@pytest.mark.parametrize("case", CASE_NAMES)
async def test_the_gateway_renders_an_echoed_credential_nowhere(case: str) -> None:
    async with open_raw_upstream(rejecting(401)) as upstream:
        name, provider, auth = next(c for c in _cases(upstream.url) if c[0] == case)
        async with (
            open_gateway(_router(name, provider, auth)) as url,
            httpx.AsyncClient() as client,
        ):
            plain = await client.post(url + "/v1/chat/completions", json=BODY)
            streamed = await client.post(
                url + "/v1/messages", json={**BODY, "max_tokens": 5, "stream": True}
            )
    for response in (plain, streamed):
        assert response.status_code == 401
        assert "bad credentials" in response.text
        assert_no_canary(response.content, "gateway body")
        assert_no_canary("\n".join(f"{k}: {v}" for k, v in response.headers.items()), "headers")


def _echoing_stream(seen: Seen) -> Reply:
    """A 200 stream whose first event is an error echoing the credentials (Anthropic shape)."""
    forms = " | ".join(f for v in _credentials(seen) for f in _encodings(v)).replace('"', "'")
    data = '{"type":"error","error":{"type":"overloaded_error","message":"' + forms + '"}}'
    return Reply(
        200, [("content-type", "text/event-stream")], [f"event: error\ndata: {data}\n\n".encode()]
    )


async def test_an_error_event_echoing_the_key_is_scrubbed_too() -> None:
    async with open_raw_upstream(_echoing_stream) as upstream:
        name, provider, auth = _cases(upstream.url)[1]  # anthropic, x-api-key
        router = _router(name, provider, auth)
        async with router:
            with pytest.raises(errors.LLMRouterError) as caught:
                async with router.stream({**BODY, "max_tokens": 5}, ProviderFormat.ANTHROPIC):
                    pass
    assert len(upstream.seen) == 2  # an error before the first event is retried
    assert_error_clean(caught.value)
    for cause in getattr(caught.value, "errors", []):
        assert_error_clean(cause)


def test_the_scrubber_catches_every_encoding_and_leaves_other_text() -> None:
    secret = f"sk-{CANARY}/+="
    scrubber = Scrubber([secret, "short"])
    for form in _encodings(secret):
        out = scrubber.text(f"before {form} after")
        assert out.startswith("before ") and out.endswith(" after")
        assert_no_canary(out, form)
    assert scrubber.text("short and ordinary") == "short and ordinary"  # too short to be a key
    assert "sk-" not in repr(scrubber) and CANARY not in repr(scrubber)


def test_scrubbing_an_exception_reaches_its_chain_and_attributes() -> None:
    secret = f"sk-{CANARY}"
    inner = ValueError(f"inner {secret}")
    outer = errors.AuthenticationError(
        f"outer {secret}", body=secret.encode(), headers={"www-authenticate": secret}
    )
    outer.__cause__ = inner
    Scrubber([secret]).error(outer)
    assert_error_clean(outer)
    assert CANARY not in str(inner)
