"""Record through the fake server as a proxy, replay byte for byte, and replay in any format.

The upstream is a second fake server standing in for the real provider.
"""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Any

import botocore.exceptions
import botocore.session
import httpx
import orjson
import pytest
import trio
from botocore.eventstream import EventStreamBuffer

from llm_router.auth import AwsSigV4
from llm_router.formats import get_format
from llm_router.types import ProviderFormat
from llm_router.universal import TextDelta, TextPart
from llm_router_testing.cli import main as fake_cli
from llm_router_testing.contract.streams import stream_reader
from llm_router_testing.fake import (
    FAKE_AWS_CREDENTIALS,
    FAKE_BOTOCORE_CREDENTIALS,
    FAKE_KEYS,
    open_fake_provider,
)
from llm_router_testing.proxy import ProxyError, RecordingProxy, bedrock_signer

PROMPT = "record this conversation once"
OPENAI = {"authorization": f"Bearer {FAKE_KEYS['openai']}"}
CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": PROMPT}]}
STREAM = {**CHAT, "stream": True, "stream_options": {"include_usage": True}}

# The same conversation in every other format: (path, headers, body, format, streamed).
OTHER_FORMATS: list[tuple[str, dict[str, str], dict[str, Any], ProviderFormat, bool]] = [
    (
        "/v1/messages",
        {"x-api-key": FAKE_KEYS["anthropic"], "anthropic-version": "2023-06-01"},
        {"model": "claude-sonnet-4-5", "max_tokens": 50,
         "messages": [{"role": "user", "content": PROMPT}]},
        ProviderFormat.ANTHROPIC,
        False,
    ),
    (
        "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
        {"x-goog-api-key": FAKE_KEYS["google"]},
        {"contents": [{"role": "user", "parts": [{"text": PROMPT}]}]},
        ProviderFormat.GOOGLE,
        True,
    ),
    (
        "/v1/responses",
        OPENAI,
        {"model": "gpt-4o-mini", "input": PROMPT, "stream": True},
        ProviderFormat.RESPONSES,
        True,
    ),
    (
        "/model/us.anthropic.claude-haiku-4-5-20251001-v1:0/converse-stream",
        {"authorization": f"Bearer {FAKE_KEYS['bedrock']}"},
        {"messages": [{"role": "user", "content": [{"text": PROMPT}]}]},
        ProviderFormat.CONVERSE,
        True,
    ),
]  # fmt: skip


async def _exchange(client: httpx.AsyncClient, body: dict[str, Any]) -> tuple[int, bytes]:
    response = await client.post("/v1/chat/completions", json=body, headers=OPENAI)
    return response.status_code, response.content


async def test_record_through_then_replay_byte_identical_and_in_every_format(
    tmp_path: Path,
) -> None:
    async with open_fake_provider() as upstream:
        proxy = RecordingProxy({"openai": upstream.url}, tmp_path)
        async with (
            open_fake_provider(proxy=proxy) as recorder,
            httpx.AsyncClient(base_url=recorder.url) as client,
        ):
            recorded = [await _exchange(client, CHAT), await _exchange(client, STREAM)]
            assert [entry.rule for entry in recorder.journal] == ["proxy", "proxy"]
        assert [entry.headers["authorization"] for entry in upstream.journal] == [
            "Bearer [redacted]"
        ] * 2
    cassette = (tmp_path / "openai.json").read_text()
    assert FAKE_KEYS["openai"] not in cassette
    assert '"t":' in cassette.replace(" ", "")  # the stream kept its chunk timing
    assert recorded[0][0] == 200 and b"You said: " + PROMPT.encode() in recorded[0][1]

    async with (
        open_fake_provider(fixtures=tmp_path) as replayer,
        httpx.AsyncClient(base_url=replayer.url) as client,
    ):
        assert [await _exchange(client, CHAT), await _exchange(client, STREAM)] == recorded
        expected = "You said: " + PROMPT
        for path, headers, body, fmt, streamed in OTHER_FORMATS:
            response = await client.post(path, json=body, headers=headers)
            assert response.status_code == 200, (fmt, response.text)
            assert _text(fmt, response.content, streamed) == expected, fmt
        assert [entry.rule for entry in replayer.journal][2:] == ["recording (translated)"] * len(
            OTHER_FORMATS
        )


def _text(fmt: ProviderFormat, content: bytes, streamed: bool) -> str:
    if not streamed:
        parsed = get_format(fmt).parse_response(orjson.loads(content))
        return "".join(p.text for p in parsed.content if isinstance(p, TextPart))
    reader = stream_reader(fmt)
    reader.feed(content)
    reader.finish()
    return "".join(d.text for d in reader.deltas() if isinstance(d, TextDelta))


def test_proxy_settings_are_checked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ProxyError, match="cannot proxy provider 'cohere'"):
        RecordingProxy({"cohere": "https://api.cohere.com"}, tmp_path)
    with pytest.raises(ProxyError, match="not an http"):
        RecordingProxy({"openai": "api.openai.com"}, tmp_path)
    assert fake_cli(["serve", "--record-to", str(tmp_path)]) == 2
    assert "--record-to and --upstream-for go together" in capsys.readouterr().err
    assert fake_cli(["serve", "--record-to", str(tmp_path), "--upstream-for", "openai"]) == 2
    assert "expected PROVIDER=URL" in capsys.readouterr().err


VCR_CASSETTE = """\
interactions:
- request:
    body: '{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "PROMPT_HERE"}]}'
    headers:
      Authorization:
      - Bearer sk-live-0123456789abcdef0123456789abcdef
      Content-Type:
      - application/json
    method: POST
    uri: https://api.openai.com/v1/chat/completions
  response:
    body:
      string: '{"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-4o-mini",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "From vcr."},
        "finish_reason": "stop"}], "usage": {"prompt_tokens": 3, "completion_tokens": 2,
        "total_tokens": 5}}'
    headers:
      Content-Type:
      - application/json
    status:
      code: 200
      message: OK
- request:
    body: '{"model": "gpt-4o-mini", "stream": true, "messages": [{"role": "user", "content": "PROMPT_HERE"}]}'
    headers:
      Authorization:
      - Bearer sk-live-0123456789abcdef0123456789abcdef
    method: POST
    uri: https://api.openai.com/v1/chat/completions
  response:
    body:
      string: "data: {\\"id\\":\\"c\\",\\"object\\":\\"chat.completion.chunk\\",\\"created\\":1,\\"model\\":\\"m\\",\\"choices\\":[{\\"index\\":0,\\"delta\\":{\\"content\\":\\"From \\"},\\"finish_reason\\":null}]}\\n\\ndata: {\\"id\\":\\"c\\",\\"object\\":\\"chat.completion.chunk\\",\\"created\\":1,\\"model\\":\\"m\\",\\"choices\\":[{\\"index\\":0,\\"delta\\":{\\"content\\":\\"vcr.\\"},\\"finish_reason\\":\\"stop\\"}]}\\n\\ndata: [DONE]\\n\\n"
    headers:
      Content-Type:
      - text/event-stream
    status:
      code: 200
      message: OK
version: 1
""".replace("PROMPT_HERE", PROMPT)


async def test_vcr_cassettes_import_redacted_and_serve_in_every_format(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "test_chat.yaml"
    source.write_text(VCR_CASSETTE)
    (tmp_path / "fixtures").mkdir()
    destination = tmp_path / "fixtures" / "test_chat.json"
    assert fake_cli(["import-vcr", str(source), str(destination)]) == 0
    assert "imported 2 interaction(s)" in capsys.readouterr().out
    assert "sk-live-0123456789abcdef" not in destination.read_text()
    async with (
        open_fake_provider(fixtures=tmp_path / "fixtures") as fake,
        httpx.AsyncClient(base_url=fake.url) as client,
    ):
        plain = await client.post("/v1/chat/completions", json=CHAT, headers=OPENAI)
        assert plain.json()["choices"][0]["message"]["content"] == "From vcr."
        stream = {**CHAT, "stream": True}
        streamed = await client.post("/v1/chat/completions", json=stream, headers=OPENAI)
        assert _text(ProviderFormat.OPENAI, streamed.content, True) == "From vcr."
        for path, headers, body, fmt, is_stream in OTHER_FORMATS:
            response = await client.post(path, json=body, headers=headers)
            assert _text(fmt, response.content, is_stream) == "From vcr.", fmt
    bad = tmp_path / "bad.yaml"
    bad.write_text("interactions: [{request: {method: POST}}]")
    assert fake_cli(["import-vcr", str(bad), str(tmp_path / "x.json")]) == 2
    assert "interactions[0] needs a request and a response" in capsys.readouterr().err


BEDROCK = {"authorization": f"Bearer {FAKE_KEYS['bedrock']}"}
CLAUDE_ON_BEDROCK = "/model/us.anthropic.claude-haiku-4-5-20251001-v1:0"
INVOKE = {
    "anthropic_version": "bedrock-2023-05-31",
    "max_tokens": 50,
    "messages": [{"role": "user", "content": PROMPT}],
}
GEMINI = {"contents": [{"role": "user", "parts": [{"text": PROMPT}]}]}


async def _record_openai(directory: Path) -> None:
    async with open_fake_provider() as upstream:
        proxy = RecordingProxy({"openai": upstream.url}, directory)
        async with (
            open_fake_provider(proxy=proxy) as recorder,
            httpx.AsyncClient(base_url=recorder.url) as client,
        ):
            await _exchange(client, CHAT)
            await _exchange(client, STREAM)


def _invoke_stream_text(content: bytes) -> str:
    buffer = EventStreamBuffer()
    buffer.add_data(content)
    text = []
    for message in buffer:
        assert message.headers[":event-type"] == "chunk"
        event = orjson.loads(base64.b64decode(orjson.loads(message.payload)["bytes"]))
        if event["type"] == "content_block_delta":
            text.append(event["delta"]["text"])
    return "".join(text)


async def test_a_recording_replays_as_gemini_json_array_and_bedrock_invoke(tmp_path: Path) -> None:
    await _record_openai(tmp_path)
    expected = "You said: " + PROMPT
    async with (
        open_fake_provider(fixtures=tmp_path) as replayer,
        httpx.AsyncClient(base_url=replayer.url) as client,
    ):
        array = await client.post(
            "/v1beta/models/gemini-2.5-flash:streamGenerateContent",
            json=GEMINI,
            headers={"x-goog-api-key": FAKE_KEYS["google"]},
        )
        invoked = await client.post(f"{CLAUDE_ON_BEDROCK}/invoke", json=INVOKE, headers=BEDROCK)
        streamed = await client.post(
            f"{CLAUDE_ON_BEDROCK}/invoke-with-response-stream", json=INVOKE, headers=BEDROCK
        )
        rules = [entry.rule for entry in replayer.journal]

    assert rules == ["recording (translated)"] * 3
    chunks = array.json()
    assert isinstance(chunks, list) and len(chunks) > 1
    parts = [p["text"] for c in chunks for p in c["candidates"][0]["content"]["parts"]]
    assert "".join(parts) == expected
    assert _text(ProviderFormat.ANTHROPIC, invoked.content, False) == expected
    assert streamed.headers["content-type"] == "application/vnd.amazon.eventstream"
    assert _invoke_stream_text(streamed.content) == expected


async def test_serve_as_limits_the_formats_a_recording_answers_in(tmp_path: Path) -> None:
    await _record_openai(tmp_path)
    async with (
        open_fake_provider(fixtures=tmp_path, serve_as=["gemini"]) as replayer,
        httpx.AsyncClient(base_url=replayer.url) as client,
    ):
        await client.post(
            "/v1beta/models/gemini-2.5-flash:generateContent",
            json=GEMINI,
            headers={"x-goog-api-key": FAKE_KEYS["google"]},
        )
        await client.post(f"{CLAUDE_ON_BEDROCK}/invoke", json=INVOKE, headers=BEDROCK)
        rules = [entry.rule for entry in replayer.journal]

    # Bedrock is not served from the recording: the fake's own answer (no rule) instead.
    assert rules == ["recording (translated)", None]


def test_serve_as_is_checked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert fake_cli(["serve", "--serve-as", "google"]) == 2
    assert "--serve-as serves recordings: give them with --fixtures DIR" in capsys.readouterr().err
    assert fake_cli(["serve", "--fixtures", str(tmp_path), "--serve-as", "klingon"]) == 2
    err = capsys.readouterr().err
    assert "unknown format 'klingon' to serve as; known: anthropic, bedrock, chat" in err


async def _record_from_fake(directory: Path, path: str, body: dict[str, Any]) -> None:
    """A cassette of one exchange with a fake server standing in for the provider."""
    from llm_router_testing.cassette import Cassette

    cassette = Cassette.open(directory / "recorded.json", "all")
    async with open_fake_provider() as upstream:
        transport = cassette.async_transport()
        async with httpx.AsyncClient(base_url=upstream.url, transport=transport) as client:
            response = await client.post(path, json=body, headers=BEDROCK)
            await response.aread()
            assert response.status_code == 200
    cassette.save()


@pytest.mark.parametrize("streamed", [False, True])
async def test_an_invoke_model_recording_replays_as_openai(tmp_path: Path, streamed: bool) -> None:
    operation = "invoke-with-response-stream" if streamed else "invoke"
    await _record_from_fake(tmp_path, f"{CLAUDE_ON_BEDROCK}/{operation}", INVOKE)
    async with (
        open_fake_provider(fixtures=tmp_path) as replayer,
        httpx.AsyncClient(base_url=replayer.url) as client,
    ):
        response = await client.post(
            "/v1/chat/completions", json=STREAM if streamed else CHAT, headers=OPENAI
        )
        (entry,) = replayer.journal

    assert entry.rule == "recording (translated)"
    assert _text(ProviderFormat.OPENAI, response.content, streamed) == "You said: " + PROMPT


CLAUDE = "us.anthropic.claude-haiku-4-5-20251001-v1:0"
#: What the caller signs with: credentials the upstream has never heard of.
CALLER_AWS = {"aws_access_key_id": "AKIDCALLEREXAMPLE", "aws_secret_access_key": "caller-secret-0"}


def _converse(url: str, **credentials: str) -> Any:
    client = botocore.session.get_session().create_client(
        "bedrock-runtime", region_name="us-east-1", endpoint_url=url, **credentials
    )
    messages = [{"role": "user", "content": [{"text": PROMPT}]}]
    return client.converse(modelId=CLAUDE, messages=messages)


async def test_bedrock_records_through_signed_again_for_the_upstream(tmp_path: Path) -> None:
    # The caller's SigV4 signature covers the proxy's host; the proxy signs again, with its own
    # credentials, for the upstream's, which verifies it as Bedrock would.
    aws = AwsSigV4(**FAKE_AWS_CREDENTIALS, region="us-east-1")
    async with open_fake_provider() as upstream:
        proxy = RecordingProxy({"bedrock": upstream.url}, tmp_path, aws=aws)
        async with open_fake_provider(proxy=proxy) as recorder:
            answer = await trio.to_thread.run_sync(lambda: _converse(recorder.url, **CALLER_AWS))
        (entry,) = list(upstream.journal)
    assert answer["output"]["message"]["content"] == [{"text": "You said: " + PROMPT}]
    assert entry.status == 200 and entry.path == f"/model/{CLAUDE}/converse"
    cassette = (tmp_path / "bedrock.json").read_text()
    assert "AKIDCALLEREXAMPLE" not in cassette  # the caller's signature went nowhere
    assert re.search(r"Signature=[0-9a-f]{16}", cassette) is None  # nor the proxy's
    assert FAKE_AWS_CREDENTIALS["secret_key"] not in cassette
    recorded = orjson.loads(cassette)["interactions"][0]
    assert recorded["request"]["url"].startswith(upstream.url)

    async with open_fake_provider(fixtures=tmp_path) as replayer:
        replayed = await trio.to_thread.run_sync(
            lambda: _converse(replayer.url, **FAKE_BOTOCORE_CREDENTIALS)
        )
    assert replayed["output"] == answer["output"]


async def test_bedrock_without_proxy_credentials_refuses_sigv4_and_passes_api_keys(
    tmp_path: Path,
) -> None:
    async with open_fake_provider() as upstream:
        proxy = RecordingProxy({"bedrock": upstream.url}, tmp_path)
        async with (
            open_fake_provider(proxy=proxy) as recorder,
            httpx.AsyncClient(base_url=recorder.url) as client,
        ):
            with pytest.raises(botocore.exceptions.ClientError) as refused:
                await trio.to_thread.run_sync(lambda: _converse(recorder.url, **CALLER_AWS))
            body = {"messages": [{"role": "user", "content": [{"text": PROMPT}]}]}
            keyed = await client.post(
                f"/model/{CLAUDE}/converse",
                json=body,
                headers={"authorization": f"Bearer {FAKE_KEYS['bedrock']}"},
            )
        assert len(upstream.journal) == 1  # only the API-key request went upstream
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 502
    assert keyed.status_code == 200


def test_the_bedrock_signing_region_comes_from_the_host_or_must_be_named(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDPROXYEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "proxy-secret")
    signer = bedrock_signer("https://bedrock-runtime.eu-west-3.amazonaws.com")
    assert signer is not None and signer.region == "eu-west-3"
    assert "proxy-secret" not in repr(signer)
    with pytest.raises(ProxyError, match="--aws-region"):
        bedrock_signer("http://127.0.0.1:9")
    assert bedrock_signer("http://127.0.0.1:9", "us-west-2").region == "us-west-2"  # type: ignore[union-attr]
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    assert bedrock_signer("http://127.0.0.1:9", "us-west-2") is None
