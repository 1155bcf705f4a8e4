"""Answers no provider should give, over real loopback sockets: each is a typed upstream error
(retried before commit, rendered by the gateway in the caller's format), never a success, a
400 blaming the caller, or an untyped 500. Reads are bounded by `ReadLimits`."""

from __future__ import annotations

import gzip
from collections.abc import Callable, Sequence
from typing import Any

import httpx
import orjson
import pytest
import trio

from llm_router import (
    AnthropicProvider,
    GoogleProvider,
    OpenAIProvider,
    ProviderFormat,
    RetryPolicy,
    Router,
    errors,
)
from llm_router.framing.sse import SSEDecoder, encode_sse
from llm_router.providers.base import Provider
from llm_router.serve import open_gateway
from llm_router.translate import StreamTranslator

from ._raw_upstream import RawUpstream, Reply, Seen, open_raw_upstream

MODEL = "house-model"
CHAT = {"model": MODEL, "messages": [{"role": "user", "content": "ping"}]}
SSE = [("content-type", "text/event-stream")]
JSON = [("content-type", "application/json")]
#: Backoff negligible on real sockets: the tests check what happened, never how long it took.
FAST_RETRY = RetryPolicy(max_attempts=3, initial_delay=0.001, max_delay=0.001)

ANSWER = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1,
    "model": "m",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "pong"},
            "finish_reason": "stop",
        }
    ],
    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
}


def _chat_chunks() -> list[dict[str, Any]]:
    head = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m"}
    return [
        {**head, "choices": [{"index": 0, "delta": {"role": "assistant"}, "finish_reason": None}]},
        {**head, "choices": [{"index": 0, "delta": {"content": "po"}, "finish_reason": None}]},
        {**head, "choices": [{"index": 0, "delta": {"content": "ng"}, "finish_reason": None}]},
        {**head, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
    ]


def stream_bytes(fmt: ProviderFormat) -> list[bytes]:
    """A good stream in `fmt`, one SSE frame per list item."""
    if fmt is ProviderFormat.OPENAI:
        return [encode_sse(orjson.dumps(c)) for c in _chat_chunks()] + [encode_sse(b"[DONE]")]
    translator = StreamTranslator(ProviderFormat.OPENAI, fmt)
    events = [e for c in _chat_chunks() for e in translator.feed(c)] + translator.finish()
    return [e.to_sse() for e in events]


ERROR_EVENTS: dict[ProviderFormat, bytes] = {
    ProviderFormat.OPENAI: encode_sse(b'{"error":{"message":"boom","type":"server_error"}}'),
    ProviderFormat.ANTHROPIC: encode_sse(
        b'{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}',
        event="error",
    ),
    ProviderFormat.GOOGLE: encode_sse(
        b'{"error":{"code":503,"message":"overloaded","status":"UNAVAILABLE"}}'
    ),
    ProviderFormat.RESPONSES: encode_sse(
        b'{"type":"error","code":"server_error","message":"boom","param":null,"sequence_number":0}',
        event="error",
    ),
}


def provider_for(fmt: ProviderFormat, url: str) -> Provider:
    if fmt is ProviderFormat.ANTHROPIC:
        return AnthropicProvider(base_url=url)
    if fmt is ProviderFormat.GOOGLE:
        return GoogleProvider(base_url=url)
    return OpenAIProvider(base_url=url + "/v1")


def build(
    upstream: RawUpstream,
    fmt: ProviderFormat = ProviderFormat.OPENAI,
    *,
    limits: dict[str, int] | None = None,
    retry: RetryPolicy = FAST_RETRY,
) -> Router:
    builder = (
        Router.builder()
        .add_provider("up", provider_for(fmt, upstream.url))
        .add_api_key("up", "sk-test-key-0123456789")
        .add_model_route(MODEL, "up", "m")
        .with_retry_policy(retry)
    )
    if limits is not None:
        builder.with_read_limits(**limits)
    return builder.build()


def body_for(fmt: ProviderFormat, *, stream: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = dict(CHAT)
    if fmt is ProviderFormat.ANTHROPIC:
        body["max_tokens"] = 16
    if fmt is ProviderFormat.RESPONSES:
        body = {"model": MODEL, "input": "ping"}
    if stream:
        body["stream"] = True
    return body


def sequence(*replies: Reply) -> Callable[[Seen], Reply]:
    """Answer the n-th request with the n-th reply (the last one repeats)."""
    count = [0]

    def handle(seen: Seen) -> Reply:
        count[0] += 1
        return replies[min(count[0], len(replies)) - 1]

    return handle


async def drain(router: Router, fmt: ProviderFormat) -> list[bytes]:
    async with router.stream(body_for(fmt, stream=True), fmt) as events:
        return [event.data async for event in events]


async def assert_stream_released(router: Router) -> None:
    stats = router.statistics()
    assert stats["pool"]["in_use"] == 0
    assert stats["open_streams"] == stats["calls_in_flight"] == 0


# ----------------------------------------------------------------- §4 not what was asked for

NOT_A_STREAM: dict[str, Reply] = {
    "html": Reply(200, [("content-type", "text/html")], [b"<html><body>login</body></html>"]),
    "json": Reply(200, JSON, [orjson.dumps(ANSWER)]),
    "no-content": Reply(204),
    "redirect": Reply(302, [("location", "https://login.example.com/sso")]),
}


@pytest.mark.parametrize("case", sorted(NOT_A_STREAM))
async def test_a_stream_request_answered_with_something_else_is_a_retried_upstream_error(
    case: str,
) -> None:
    async with open_raw_upstream(sequence(NOT_A_STREAM[case])) as upstream:
        router = build(upstream)
        async with router:
            with pytest.raises(errors.UpstreamError) as caught:
                await drain(router, ProviderFormat.OPENAI)
            await assert_stream_released(router)
    assert caught.value.status == 502
    assert len(upstream.seen) == 3  # retried, as any 502 before commit


async def test_a_not_a_stream_answer_then_a_good_one_gives_the_good_stream() -> None:
    good = Reply(200, SSE, stream_bytes(ProviderFormat.OPENAI))
    async with (
        open_raw_upstream(sequence(NOT_A_STREAM["html"], good)) as upstream,
        build(upstream) as router,
    ):
        data = await drain(router, ProviderFormat.OPENAI)
    assert len(upstream.seen) == 2 and data[-1] == b"[DONE]" and len(data) == 5


@pytest.mark.parametrize("caller", [ProviderFormat.OPENAI, ProviderFormat.ANTHROPIC])
@pytest.mark.parametrize(
    "reply",
    [
        Reply(200, JSON, [b'{"id": "x", "choices": [']),
        Reply(200, [("content-type", "text/html")], [b"<html>maintenance</html>"]),
        Reply(204),
        Reply(302, [("location", "/elsewhere")]),
        Reply(200, JSON, [b"[1, 2, 3]"]),
    ],
    ids=["truncated-json", "html", "204", "302", "json-array"],
)
async def test_a_completion_that_is_not_json_is_a_retried_502(
    caller: ProviderFormat, reply: Reply
) -> None:
    async with open_raw_upstream(sequence(reply)) as upstream, build(upstream) as router:
        with pytest.raises(errors.UpstreamError) as caught:
            await router.complete(body_for(caller), caller)
    assert caught.value.status == 502
    assert not isinstance(caught.value, errors.InvalidRequestError)
    assert len(upstream.seen) == 3


async def test_the_gateway_answers_malformed_upstream_json_with_a_502_class_error() -> None:
    bad = Reply(200, JSON, [b'{"id": "x", "choices": ['])
    async with open_raw_upstream(sequence(bad)) as upstream:
        router = build(upstream, retry=RetryPolicy(max_attempts=1))
        async with open_gateway(router) as url, httpx.AsyncClient() as client:
            openai = await client.post(url + "/v1/chat/completions", json=CHAT)
            anthropic = await client.post(
                url + "/v1/messages", json=body_for(ProviderFormat.ANTHROPIC)
            )
    assert openai.status_code == 502 and openai.json()["error"]["type"] != "invalid_request_error"
    assert anthropic.status_code == 502 and anthropic.json()["error"]["type"] == "api_error"


async def test_a_gzip_compressed_stream_is_decoded() -> None:
    frames = stream_bytes(ProviderFormat.OPENAI)
    compressed = gzip.compress(b"".join(frames))
    reply = Reply(200, [*SSE, ("content-encoding", "gzip")], [compressed[:40], compressed[40:]])
    async with open_raw_upstream(sequence(reply)) as upstream, build(upstream) as router:
        data = await drain(router, ProviderFormat.OPENAI)
    assert data == _decode(b"".join(frames))


@pytest.mark.parametrize("streamed", [False, True], ids=["complete", "stream"])
async def test_an_invalid_gzip_body_is_a_typed_retried_error(streamed: bool) -> None:
    headers = [*(SSE if streamed else JSON), ("content-encoding", "gzip")]
    reply = Reply(200, headers, [b"this is not gzip at all" * 4])
    async with open_raw_upstream(sequence(reply)) as upstream, build(upstream) as router:
        with pytest.raises(errors.UpstreamError, match="content-encoding"):
            if streamed:
                await drain(router, ProviderFormat.OPENAI)
            else:
                await router.complete(CHAT, ProviderFormat.OPENAI)
        await assert_stream_released(router)
    assert len(upstream.seen) == 3


# ------------------------------------------------------------ §4 error as the first stream event


@pytest.mark.parametrize(
    "fmt",
    [
        ProviderFormat.OPENAI,
        ProviderFormat.ANTHROPIC,
        ProviderFormat.GOOGLE,
        ProviderFormat.RESPONSES,
    ],
    ids=lambda f: f.value,
)
async def test_an_error_as_the_first_stream_event_is_retried_for_every_provider(
    fmt: ProviderFormat,
) -> None:
    failing = Reply(200, SSE, [ERROR_EVENTS[fmt]])
    frames = stream_bytes(fmt)
    good = Reply(200, SSE, frames)
    async with (
        open_raw_upstream(sequence(failing, good)) as upstream,
        build(upstream, fmt) as router,
    ):
        data = await drain(router, fmt)
        await assert_stream_released(router)
    assert len(upstream.seen) == 2
    assert data == _decode(b"".join(frames))  # the failed attempt left nothing behind


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        (ProviderFormat.ANTHROPIC, errors.OverloadedError),
        (ProviderFormat.GOOGLE, errors.OverloadedError),
        (ProviderFormat.OPENAI, errors.UpstreamError),
        (ProviderFormat.RESPONSES, errors.UpstreamError),
    ],
    ids=lambda v: getattr(v, "value", getattr(v, "__name__", "")),
)
async def test_an_error_event_before_commit_keeps_its_type(
    fmt: ProviderFormat, expected: type[errors.ProviderError]
) -> None:
    # The preamble and the error arrive together: nothing reached the caller yet.
    first_two = stream_bytes(fmt)[:1]
    failing = Reply(200, SSE, [b"".join([*first_two, ERROR_EVENTS[fmt]])])
    async with open_raw_upstream(sequence(failing)) as upstream, build(upstream, fmt) as router:
        with pytest.raises(expected) as caught:
            await drain(router, fmt)
    assert caught.value.status >= 500
    assert len(upstream.seen) == 3


async def test_a_stream_that_ends_without_an_event_is_a_retried_error() -> None:
    async with (
        open_raw_upstream(sequence(Reply(200, SSE, [b": keep-alive\n\n"]))) as upstream,
        build(upstream) as router,
    ):
        with pytest.raises(errors.UpstreamError, match="without a single event"):
            await drain(router, ProviderFormat.OPENAI)
    assert len(upstream.seen) == 3


# -------------------------------------------------------- §4 one behaviour for mid-stream faults


#: Frames of `stream_bytes(fmt)` up to and including the first content event: OpenAI's
#: role-only chunk and Anthropic's `message_start` / empty `content_block_start` are preamble.
COMMIT_FRAMES = {ProviderFormat.OPENAI: 2, ProviderFormat.ANTHROPIC: 3}


@pytest.mark.parametrize("fault", ["error-event", "dropped-connection", "malformed-event"])
@pytest.mark.parametrize(
    "fmt", [ProviderFormat.OPENAI, ProviderFormat.ANTHROPIC], ids=lambda f: f.value
)
async def test_a_failure_after_commit_raises_stream_error_after_the_events_before_it(
    fault: str, fmt: ProviderFormat
) -> None:
    gate = trio.Event()
    frames = stream_bytes(fmt)
    head = COMMIT_FRAMES[fmt]  # through the first content event: the commit point
    tail = {
        "error-event": [ERROR_EVENTS[fmt]],
        "dropped-connection": [frames[head]],
        "malformed-event": [b'data: {"choices": [\n\n'],
    }[fault]
    reply = Reply(
        200, SSE, [b"".join(frames[:head]), *tail], cut=fault == "dropped-connection", gate=gate
    )
    received: list[bytes] = []
    async with open_raw_upstream(sequence(reply)) as upstream, build(upstream, fmt) as router:
        with pytest.raises(errors.StreamError) as caught:
            async with router.stream(body_for(fmt, stream=True), fmt) as events:
                async for event in events:
                    received.append(event.data)
                    gate.set()  # the caller has seen output: the stream is committed
        await assert_stream_released(router)
    delivered = frames[: head + 1] if fault == "dropped-connection" else frames[:head]
    assert received == _decode(b"".join(delivered))
    assert len(upstream.seen) == 1  # never retried after commit
    if fault == "error-event":
        assert isinstance(caught.value.upstream_error, errors.ProviderError)
        assert caught.value.status >= 500
    assert f"interrupted after {len(delivered)} events" in str(caught.value)


# ---------------------------------------------------------------------------- §4 odd values


async def test_an_absurd_retry_after_is_ignored_not_fatal() -> None:
    limited = Reply(429, [*JSON, ("retry-after", "1e308")], [b'{"error":{"message":"slow down"}}'])
    good = Reply(200, JSON, [orjson.dumps(ANSWER)])
    async with open_raw_upstream(sequence(limited, good)) as upstream, build(upstream) as router:
        result = await router.complete(CHAT, ProviderFormat.OPENAI)
    assert orjson.loads(result.body)["choices"][0]["message"]["content"] == "pong"


async def test_the_gateway_renders_a_rate_limit_with_an_absurd_retry_after() -> None:
    limited = Reply(429, [*JSON, ("retry-after", "1e308")], [b'{"error":{"message":"slow down"}}'])
    async with open_raw_upstream(sequence(limited)) as upstream:
        router = build(upstream, retry=RetryPolicy(max_attempts=1))
        async with open_gateway(router) as url, httpx.AsyncClient() as client:
            response = await client.post(
                url + "/v1/messages", json=body_for(ProviderFormat.ANTHROPIC)
            )
    assert response.status_code == 429
    assert response.json()["error"]["type"] == "rate_limit_error"
    assert "retry-after" not in response.headers


def _deep(levels: int) -> Any:
    value: Any = 1
    for _ in range(levels):
        value = {"a": value}
    return value


async def test_an_answer_nested_too_deep_to_re_serialise_is_an_upstream_error() -> None:
    # A tool call whose arguments must be written back as a JSON string for an OpenAI caller.
    body = (
        b'{"id":"msg_1","type":"message","role":"assistant","model":"m","content":[{"type":'
        b'"tool_use","id":"t1","name":"f","input":'
        + b'{"a":' * 300
        + b"1"
        + b"}" * 300
        + b'}],"stop_reason":"tool_use","usage":{"input_tokens":1,"output_tokens":1}}'
    )
    reply = Reply(200, JSON, [body])
    async with (
        open_raw_upstream(sequence(reply)) as upstream,
        build(upstream, ProviderFormat.ANTHROPIC) as router,
    ):
        with pytest.raises(errors.UpstreamError) as caught:
            await router.complete(CHAT, ProviderFormat.OPENAI)
    assert caught.value.status == 502


async def test_a_caller_body_nested_too_deep_is_the_callers_error() -> None:
    body = (
        b'{"model":"house-model","messages":[],"metadata":'
        + b'{"a":' * 300
        + b"1"
        + b"}" * 300
        + b"}"
    )
    async with (
        open_raw_upstream(sequence(Reply(200, JSON, [orjson.dumps(ANSWER)]))) as upstream,
        build(upstream) as router,
    ):
        with pytest.raises(errors.InvalidRequestError, match="254 levels"):
            await router.complete(body, ProviderFormat.OPENAI)
        with pytest.raises(errors.InvalidRequestError):
            await router.complete({**CHAT, "metadata": _deep(300)}, ProviderFormat.OPENAI)
    assert upstream.seen == []


# ---------------------------------------------------------------------------- §3 read limits


async def test_an_error_body_is_read_only_up_to_its_limit_and_keeps_its_meaning() -> None:
    huge = [b'{"error":{"message":"' + b"x" * 65536] * 200  # 13 MiB, never ends properly
    reply = Reply(429, JSON, huge, cut=True)
    async with open_raw_upstream(sequence(reply)) as upstream:
        router = build(
            upstream, limits={"max_error_body": 64 * 1024}, retry=RetryPolicy(max_attempts=1)
        )
        async with router:
            with pytest.raises(errors.RateLimitError) as caught:
                await router.complete(CHAT, ProviderFormat.OPENAI)
            assert router.statistics()["pool"]["in_use"] == 0
    assert caught.value.body is not None and len(caught.value.body) <= 64 * 1024
    assert "cut at 65536 bytes" in str(caught.value)


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
async def test_an_answer_over_max_response_body_raises_the_named_limit(declared: bool) -> None:
    blob = orjson.dumps({**ANSWER, "padding": "p" * 2_000_000})
    chunks = [blob] if declared else [blob[i : i + 65536] for i in range(0, len(blob), 65536)]
    headers = [*JSON, ("content-length", str(len(blob)))] if declared else JSON
    good = Reply(200, JSON, [orjson.dumps(ANSWER)])
    async with open_raw_upstream(sequence(Reply(200, headers, chunks), good)) as upstream:
        router = build(upstream, limits={"max_response_body": 1024 * 1024})
        async with router:
            with pytest.raises(errors.ResponseTooLargeError) as caught:
                await router.complete(CHAT, ProviderFormat.OPENAI)
    assert caught.value.limit == "max_response_body" and caught.value.limit_bytes == 1024 * 1024
    assert "max_response_body" in str(caught.value)
    assert len(upstream.seen) == 1  # not retried on the same route: an answer that big is no blip


async def test_an_unterminated_stream_line_raises_max_event_bytes_before_commit() -> None:
    line = [b"data: " + b"x" * 65536] + [b"x" * 65536] * 40
    async with open_raw_upstream(sequence(Reply(200, SSE, line))) as upstream:
        router = build(upstream, limits={"max_event_bytes": 1024 * 1024})
        async with router:
            with pytest.raises(errors.ResponseTooLargeError) as caught:
                await drain(router, ProviderFormat.OPENAI)
            await assert_stream_released(router)
    assert caught.value.limit == "max_event_bytes"


def test_read_limits_are_validated_on_the_builder() -> None:
    with pytest.raises(errors.ConfigurationError, match="max_event_bytes"):
        (
            Router.builder()
            .add_provider("up", OpenAIProvider())
            .add_api_key("up", "k" * 10)
            .with_read_limits(max_event_bytes=0)
            .build()
        )


async def test_one_stream_of_many_buffered_events_lets_other_tasks_run() -> None:
    head = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m"}
    chunk = {**head, "choices": [{"index": 0, "delta": {"content": "x"}, "finish_reason": None}]}
    end = {**head, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
    # Arrives in few reads, decodes to 2000 events (and the end of the answer).
    blob = encode_sse(orjson.dumps(chunk)) * 1999 + encode_sse(orjson.dumps(end))
    ticks = 0
    seen_ticks: list[int] = []

    async def other_work() -> None:
        nonlocal ticks
        while True:
            await trio.lowlevel.checkpoint()
            ticks += 1

    async with (
        open_raw_upstream(sequence(Reply(200, SSE, [blob]))) as upstream,
        build(upstream) as router,
        trio.open_nursery() as nursery,
    ):
        nursery.start_soon(other_work)
        async with router.stream(body_for(ProviderFormat.OPENAI, stream=True), "openai") as events:
            async for _ in events:
                seen_ticks.append(ticks)
        nursery.cancel_scope.cancel()
    assert len(seen_ticks) == 2000
    # Between consecutive events served from one buffer, the other task still got turns.
    runs = [seen_ticks[i + 100] - seen_ticks[i] for i in range(0, 1800, 100)]
    assert all(run > 0 for run in runs)


def _decode(data: bytes) -> Sequence[bytes]:
    decoder = SSEDecoder()
    return [m.data for m in decoder.feed(data) + decoder.finish()]


async def test_the_gateway_reports_a_mid_stream_error_event_with_the_upstreams_kind() -> None:
    gate = trio.Event()
    frames = stream_bytes(ProviderFormat.ANTHROPIC)
    reply = Reply(
        200, SSE, [b"".join(frames[:3]), ERROR_EVENTS[ProviderFormat.ANTHROPIC]], gate=gate
    )
    body = {**body_for(ProviderFormat.ANTHROPIC), "stream": True}
    received = b""
    async with open_raw_upstream(sequence(reply)) as upstream:
        router = build(upstream, ProviderFormat.ANTHROPIC)
        async with (
            open_gateway(router) as url,
            httpx.AsyncClient() as client,
            client.stream("POST", url + "/v1/messages", json=body) as response,
        ):
            async for chunk in response.aiter_bytes():
                received += chunk
                gate.set()  # the client has the first events: the stream is committed
    events = [(name, orjson.loads(data)) for name, data in _named(received)]
    assert [name for name, _ in events] == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "error",
    ]
    assert events[-1][1]["error"]["type"] == "overloaded_error"
    assert len(upstream.seen) == 1


def _named(data: bytes) -> list[tuple[str | None, bytes]]:
    decoder = SSEDecoder()
    return [(m.event, m.data) for m in decoder.feed(data) + decoder.finish()]


async def test_tool_arguments_nested_too_deep_to_write_back_are_typed_both_ways() -> None:
    deep_args = '{"a":' * 300 + "1" + "}" * 300
    call = {"id": "t1", "type": "function", "function": {"name": "f", "arguments": deep_args}}
    answer = {
        **ANSWER,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": None, "tool_calls": [call]},
                "finish_reason": "tool_calls",
            }
        ],
    }
    reply = Reply(200, JSON, [orjson.dumps(answer)])
    history = {
        **CHAT,
        "messages": [
            {"role": "user", "content": "ping"},
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": "t1", "content": "done"},
        ],
    }
    async with open_raw_upstream(sequence(reply)) as upstream:
        async with build(upstream) as router:  # an OpenAI route
            with pytest.raises(errors.UpstreamError) as caught:
                await router.complete(body_for(ProviderFormat.ANTHROPIC), ProviderFormat.ANTHROPIC)
        assert caught.value.status == 502
        async with build(upstream, ProviderFormat.ANTHROPIC) as router:
            seen = len(upstream.seen)
            with pytest.raises(errors.InvalidRequestError):
                await router.complete(history, ProviderFormat.OPENAI)
        assert len(upstream.seen) == seen  # the caller's body never left
