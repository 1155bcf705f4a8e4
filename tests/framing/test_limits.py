"""Bounded, linear framing: oversized lines, events and frames raise the limit that they hit,
and arbitrary bytes decode the same however they are chunked."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llm_router.errors import LLMRouterError, ResponseTooLargeError
from llm_router.framing import DEFAULT_MAX_EVENT_BYTES
from llm_router.framing.eventstream import EventStreamDecoder, encode_event
from llm_router.framing.sse import SSEDecoder, SSEMessage, encode_sse


def test_a_long_unterminated_line_fed_in_small_chunks_raises_the_event_limit() -> None:
    decoder = SSEDecoder(max_event_bytes=1024 * 1024)
    decoder.feed(b"data: ")
    chunk = b"x" * 4096
    fed = 0
    with pytest.raises(ResponseTooLargeError) as caught:
        while fed < 64 * 1024 * 1024:  # the 64 MiB line of the original report
            decoder.feed(chunk)
            fed += len(chunk)
    assert caught.value.limit == "max_event_bytes"
    assert caught.value.limit_bytes == 1024 * 1024
    assert "max_event_bytes" in str(caught.value)
    assert fed <= 1024 * 1024  # raised as soon as the line passed the limit, not at the end


def test_the_default_limit_is_eight_mebibytes() -> None:
    assert DEFAULT_MAX_EVENT_BYTES == 8 * 1024 * 1024
    decoder = SSEDecoder()
    with pytest.raises(ResponseTooLargeError):
        decoder.feed(b"data: " + b"y" * DEFAULT_MAX_EVENT_BYTES)


def test_an_event_of_many_short_data_lines_is_bounded_too() -> None:
    decoder = SSEDecoder(max_event_bytes=1000)
    with pytest.raises(ResponseTooLargeError, match="an event exceeds max_event_bytes"):
        for _ in range(200):
            decoder.feed(b"data: 0123456789\n")


def test_events_up_to_the_limit_pass_and_the_count_resets_per_event() -> None:
    decoder = SSEDecoder(max_event_bytes=100)
    frame = encode_sse(b"z" * 90)
    messages = [m for _ in range(50) for m in decoder.feed(frame)]
    assert messages == [SSEMessage(b"z" * 90)] * 50


def test_a_line_completed_across_chunks_is_checked_against_the_limit() -> None:
    decoder = SSEDecoder(max_event_bytes=100)
    decoder.feed(b": " + b"c" * 90)
    with pytest.raises(ResponseTooLargeError):
        decoder.feed(b"c" * 20 + b"\ndata: x\n\n")


def test_an_oversized_event_stream_frame_raises_once_its_prelude_arrives() -> None:
    frame = encode_event("chunk", b'{"bytes":"' + b"A" * 5000 + b'"}')
    decoder = EventStreamDecoder(max_event_bytes=4096)
    with pytest.raises(ResponseTooLargeError) as caught:
        decoder.feed(frame[:12])  # only the prelude: the declared length is enough
    assert caught.value.limit == "max_event_bytes"


def test_a_large_frame_fed_byte_chunks_decodes() -> None:
    payload = b'{"text":"' + b"w" * 200_000 + b'"}'
    frame = encode_event("contentBlockDelta", payload)
    decoder = EventStreamDecoder()
    events = []
    for i in range(0, len(frame), 1000):
        events += decoder.feed(frame[i : i + 1000])
    decoder.finish()
    assert events == [{"contentBlockDelta": {"text": "w" * 200_000}}]


def _outcome(decoder_feed: list[bytes], make: type[SSEDecoder]) -> tuple[list[SSEMessage], str]:
    decoder = make(max_event_bytes=64)
    out: list[SSEMessage] = []
    try:
        for chunk in decoder_feed:
            out += decoder.feed(chunk)
        out += decoder.finish()
    except LLMRouterError as exc:
        return out, type(exc).__name__
    return out, ""


_sse_bytes = st.lists(
    st.sampled_from(
        [b"data: ", b"data:", b"event: e", b"id: 1", b"retry: 5", b": c", b"\n", b"\r", b"\r\n"]
        + [b"x" * n for n in (1, 7, 40)]
        + [b"\xef\xbb\xbf", b"[DONE]"]
    ),
    max_size=40,
).map(b"".join)


@settings(max_examples=300, deadline=None)
@given(stream=_sse_bytes, cuts=st.lists(st.integers(min_value=0, max_value=4000), max_size=15))
def test_sse_same_events_and_same_limit_error_whatever_the_chunking(
    stream: bytes, cuts: list[int]
) -> None:
    points = sorted({c % (len(stream) + 1) for c in cuts})
    chunks = [stream[a:b] for a, b in zip([0, *points], [*points, len(stream)], strict=True)]
    whole_events, whole_error = _outcome([stream], SSEDecoder)
    events, error = _outcome(chunks, SSEDecoder)
    assert error == whole_error
    if not error:
        assert events == whole_events
    else:  # events before the failure are a prefix of the whole stream's
        assert events[: len(whole_events)] == whole_events[: len(events)]


@settings(max_examples=200, deadline=None)
@given(noise=st.binary(max_size=300), cuts=st.lists(st.integers(0, 300), max_size=10))
def test_event_stream_garbage_raises_only_typed_errors(noise: bytes, cuts: list[int]) -> None:
    data = encode_event("messageStart", b'{"role":"assistant"}') + noise
    decoder = EventStreamDecoder(max_event_bytes=1024)
    points = sorted({c % (len(data) + 1) for c in cuts})
    try:
        for a, b in zip([0, *points], [*points, len(data)], strict=True):
            decoder.feed(data[a:b])
        decoder.finish()
    except LLMRouterError:
        pass
