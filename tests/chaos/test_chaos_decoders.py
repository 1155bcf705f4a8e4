"""Fuzzed upstream bytes through every stream decoder, exactly as an upstream answer is read.

Bytes (random, or SSE and AWS event-stream framings of near-valid provider events, with
random corruption and random chunk boundaries) are served as an httpx response body and read
by `UpstreamStream`: the provider's event decoder (SSE, Bedrock ConverseStream, Bedrock
InvokeModel), then `StreamTranslator` into every caller format. Whatever the bytes, reading
ends normally or with a typed `llm_router` error, and every translated event handed on is
a well-formed JSON object.
"""

from __future__ import annotations

import base64
import itertools
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import trio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llm_router import LLMRouterError, ProviderFormat
from llm_router.framing.eventstream import encode_frame
from llm_router.providers import AnthropicProvider, BedrockProvider, GoogleProvider, OpenAIProvider
from llm_router.providers.base import Provider
from llm_router.routing import Route
from llm_router.upstream import UpstreamStream

#: The upstream formats and the provider whose decoder reads each.
UPSTREAMS: list[tuple[Provider, ProviderFormat]] = [
    (OpenAIProvider(), ProviderFormat.OPENAI),
    (OpenAIProvider(), ProviderFormat.RESPONSES),
    (AnthropicProvider(), ProviderFormat.ANTHROPIC),
    (GoogleProvider(), ProviderFormat.GOOGLE),
    (BedrockProvider(), ProviderFormat.CONVERSE),
    (BedrockProvider(), ProviderFormat.ANTHROPIC),  # InvokeModelWithResponseStream
]
CALLERS = list(ProviderFormat)

#: Field names and event types of every format, so fuzzed events reach deep into the parsers.
KEYS = [
    "type",
    "index",
    "delta",
    "text",
    "content",
    "choices",
    "finish_reason",
    "role",
    "id",
    "model",
    "usage",
    "message",
    "content_block",
    "tool_calls",
    "function",
    "arguments",
    "name",
    "input",
    "partial_json",
    "stop_reason",
    "candidates",
    "parts",
    "finishReason",
    "usageMetadata",
    "contentBlockIndex",
    "contentBlockDelta",
    "contentBlockStart",
    "messageStart",
    "messageStop",
    "metadata",
    "toolUse",
    "stopReason",
    "item",
    "output_index",
    "response",
    "output",
    "error",
    "sequence_number",
    "thinking",
    "signature",
    "bytes",
]
EVENT_TYPES = [
    "message_start",
    "content_block_start",
    "content_block_delta",
    "content_block_stop",
    "message_delta",
    "message_stop",
    "ping",
    "error",
    "response.created",
    "response.output_text.delta",
    "response.completed",
    "response.output_item.added",
    "messageStart",
    "contentBlockDelta",
    "contentBlockStart",
    "contentBlockStop",
    "messageStop",
    "metadata",
    "chunk",
    "throttlingException",
    "internalServerException",
]

_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=12)
    | st.sampled_from(EVENT_TYPES)
)
json_values = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=6), inner, max_size=5)
    ),
    max_leaves=25,
)
json_events = st.dictionaries(st.sampled_from(KEYS), json_values, max_size=6)


@st.composite
def sse_bytes(draw: st.DrawFn) -> bytes:
    out = b""
    for _ in range(draw(st.integers(0, 6))):
        if draw(st.booleans()):
            out += b"event: " + draw(st.sampled_from(EVENT_TYPES)).encode() + b"\n"
        data = orjson.dumps(draw(json_events))
        if draw(st.integers(0, 9)) == 0:
            data = draw(st.binary(max_size=20))
        newline = draw(st.sampled_from([b"\n", b"\r\n", b"\r"]))
        out += b"data: " + data + newline + newline
    if draw(st.booleans()):
        out += b"data: [DONE]\n\n"
    return out


@st.composite
def eventstream_bytes(draw: st.DrawFn) -> bytes:
    out = b""
    for _ in range(draw(st.integers(0, 5))):
        kind = draw(st.sampled_from(["event", "event", "event", "exception", "error"]))
        name = draw(st.sampled_from(EVENT_TYPES))
        payload = orjson.dumps(draw(json_events))
        if name == "chunk" and draw(st.booleans()):  # InvokeModel: base64 of an Anthropic event
            inner = orjson.dumps(draw(json_events)) if draw(st.booleans()) else draw(st.binary())
            payload = orjson.dumps({"bytes": base64.b64encode(inner).decode()})
        headers = [(":message-type", kind)]
        headers.append(
            (":event-type" if kind == "event" else ":exception-type", name)
            if kind != "error"
            else (":error-code", name)
        )
        out += encode_frame(headers, payload)
    return out


@st.composite
def upstream_bytes(draw: st.DrawFn) -> list[bytes]:
    """Some bytes, possibly corrupted, cut into chunks at random boundaries."""
    data = draw(st.one_of(st.binary(max_size=300), sse_bytes(), eventstream_bytes()))
    if data and draw(st.integers(0, 3)) == 0:
        at = draw(st.integers(0, len(data) - 1))
        data = data[:at] + bytes([data[at] ^ draw(st.integers(1, 255))]) + data[at + 1 :]
    if data and draw(st.integers(0, 3)) == 0:
        data = data[: draw(st.integers(0, len(data) - 1))]  # truncated
    cuts = sorted(draw(st.lists(st.integers(0, len(data)), max_size=6)))
    bounds = [0, *cuts, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds) if b > a]


class _Chunks(httpx.AsyncByteStream):
    def __init__(self, chunks: list[bytes]) -> None:
        self._chunks = chunks

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self._chunks:
            yield chunk


async def _read(chunks: list[bytes], upstream: tuple[Provider, ProviderFormat], caller: Any) -> int:
    """Read the whole stream; the number of events handed on."""
    provider, fmt = upstream
    handed_on = 0
    route = Route("fuzzed", provider, fmt, "some-model", None)
    response = httpx.Response(200, stream=_Chunks(chunks))
    stream = UpstreamStream(response, route, caller)
    try:
        while (event := await stream.next_event()) is not None:
            # A passthrough stream hands on the upstream's events untouched: whether their
            # data must be checked is the garbage suite's "malformed-events" case.
            handed_on += 1
            if fmt is not caller and event.data != b"[DONE]":
                assert isinstance(orjson.loads(event.data), dict), event
    except LLMRouterError:
        pass
    finally:
        await stream.aclose()
    return handed_on


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    chunks=upstream_bytes(),
    upstream=st.sampled_from(UPSTREAMS),
    caller=st.sampled_from(CALLERS),
)
def test_fuzzed_upstream_bytes_end_cleanly_in_every_decoder(
    chunks: list[bytes], upstream: tuple[Provider, ProviderFormat], caller: ProviderFormat
) -> None:
    trio.run(_read, chunks, upstream, caller)


def test_the_reader_hands_on_valid_events() -> None:
    """The property above is not vacuous: well-formed bytes do come out as events."""
    sse = b"".join(
        b"data: " + orjson.dumps(e) + b"\n\n"
        for e in (
            {"choices": [{"index": 0, "delta": {"role": "assistant", "content": "hi"}}]},
            {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
        )
    )
    for caller in CALLERS:
        assert trio.run(_read, [sse[:7], sse[7:]], UPSTREAMS[0], caller) > 0
    frames = encode_frame(
        [(":message-type", "event"), (":event-type", "contentBlockDelta")],
        b'{"contentBlockIndex": 0, "delta": {"text": "hi"}}',
    )
    assert trio.run(_read, [frames], UPSTREAMS[4], ProviderFormat.OPENAI) > 0
