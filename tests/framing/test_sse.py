"""SSE decoder/encoder: spec line endings, fields, BOM, [DONE], and chunking independence."""

from __future__ import annotations

import dataclasses
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llm_router.errors import ResponseTooLargeError
from llm_router.framing.sse import (
    SSEDecoder,
    SSEMessage,
    StreamEventDecoder,
    encode_comment,
    encode_sse,
)
from llm_router.types import StreamEvent


def decode_all(chunks: list[bytes]) -> list[SSEMessage]:
    decoder = SSEDecoder()
    out: list[SSEMessage] = []
    for chunk in chunks:
        out.extend(decoder.feed(chunk))
    out.extend(decoder.finish())
    return out


def test_basic_events_with_names_and_ids() -> None:
    stream = b'event: ping\ndata: {"a":1}\nid: 7\n\ndata: second\n\n'
    messages = decode_all([stream])
    assert messages == [
        SSEMessage(b'{"a":1}', "ping", "7", None),
        SSEMessage(b"second", None, "7", None),  # the last id persists
    ]


def test_line_endings_crlf_cr_lf_mixed() -> None:
    stream = b"data: a\r\n\r\ndata: b\r\rdata: c\n\ndata: d\r\n\n"
    assert [m.data for m in decode_all([stream])] == [b"a", b"b", b"c", b"d"]


def test_crlf_split_across_chunks_is_one_line_ending() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: x\r") == []
    # If the CR and LF were taken as two endings, this LF would dispatch an event here.
    assert decoder.feed(b"\n") == []
    assert [m.data for m in decoder.feed(b"\r\n")] == [b"x"]


def test_multiline_data_comments_and_field_parsing() -> None:
    stream = b": keep-alive\ndata: line one\ndata:line two\ndata\nretry: 1500\nunknown: ignored\n\n"
    (message,) = decode_all([stream])
    assert message.data == b"line one\nline two\n"
    assert message.retry == 1500


def test_event_without_data_is_not_dispatched_and_name_resets() -> None:
    messages = decode_all([b"event: lonely\n\ndata: x\n\n"])
    assert messages == [SSEMessage(b"x")]


def test_bom_is_stripped_even_when_split() -> None:
    assert [m.data for m in decode_all([b"\xef", b"\xbb", b"\xbfdata: a\n\n"])] == [b"a"]
    # Only a leading BOM is framing: later, it makes the field name unknown (ignored).
    assert [m.data for m in decode_all([b"data: a\n\n\xef\xbb\xbfdata: b\n\n"])] == [b"a"]


def test_done_sentinel_is_flagged() -> None:
    decoder = SSEDecoder()
    messages = decoder.feed(b"data: {}\n\ndata: [DONE]\n\n")
    assert [m.is_done for m in messages] == [False, True]
    assert decoder.done


def test_finish_flushes_unterminated_event() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: tail") == []
    assert decoder.finish() == [SSEMessage(b"tail")]
    assert decoder.finish() == []


def test_encoder_round_trips_through_decoder() -> None:
    frames = [
        encode_sse(b'{"x":1}'),
        encode_sse(b"two\nlines", event="delta", id="9", retry=10),
        encode_comment("ping"),
        SSEMessage(b"last", "done").encode(),
    ]
    messages = decode_all([b"".join(frames)])
    assert messages == [
        SSEMessage(b'{"x":1}'),
        SSEMessage(b"two\nlines", "delta", "9", 10),
        SSEMessage(b"last", "done", "9"),
    ]


def test_encoder_rejects_line_breaks_in_fields() -> None:
    try:
        encode_sse(b"x", event="a\nb")
    except ValueError as exc:
        assert "line breaks" in str(exc)
    else:
        raise AssertionError("expected ValueError")


_text = st.text(
    alphabet=st.characters(blacklist_characters="\r\n", blacklist_categories=("Cs",)), max_size=20
)
_events = st.lists(
    st.tuples(st.one_of(st.none(), _text.filter(lambda s: s.strip() != "")), _text),
    min_size=1,
    max_size=8,
)


@settings(max_examples=150, deadline=None)
@given(
    events=_events,
    ending=st.sampled_from([b"\n", b"\r\n", b"\r"]),
    cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=12),
)
def test_same_events_whatever_the_chunk_boundaries(
    events: list[tuple[str | None, str]], ending: bytes, cuts: list[int]
) -> None:
    stream = b""
    for name, data in events:
        if name is not None:
            stream += b"event: " + name.encode() + ending
        stream += b"data: " + data.encode() + ending + ending
    whole = decode_all([stream])
    points = sorted({c % (len(stream) + 1) for c in cuts})
    chunks = [stream[a:b] for a, b in zip([0, *points], [*points, len(stream)], strict=True)]
    assert decode_all(chunks) == whole
    assert [(m.event, m.text) for m in whole] == events


def test_decoder_throughput() -> None:
    frame = encode_sse(
        b'{"id":"c1","object":"chat.completion.chunk","choices":[{"delta":{"content":"hi"}}]}'
    )
    blob = frame * 20_000
    decoder = SSEDecoder()
    start = time.perf_counter()
    count = 0
    for i in range(0, len(blob), 4096):
        count += len(decoder.feed(blob[i : i + 4096]))
    elapsed = time.perf_counter() - start
    assert count == 20_000
    # Generous floor for shared CI machines; locally this runs at several hundred thousand/s.
    assert count / elapsed > 50_000


# -- the one-match path for plain events and the line-by-line path agree ---------------------------
#: Pieces of SSE streams, well-formed or not: field spellings with and without the space,
#: comments, ids, retries, unknown fields, every line ending, a BOM, the [DONE] sentinel.
_PIECES = [
    b"event: ",
    b"event:",
    b"data: ",
    b"data:",
    b"data",
    b"id: ",
    b"id:",
    b"retry: ",
    b"retry:12",
    b": keep-alive",
    b":",
    b"x",
    b'{"a":1}',
    b" ",
    b"\xef\xbb\xbf",
    b"[DONE]",
    b"\x00",
    b"eventx: 1",
    b"\n",
    b"\n",
    b"\n",
    b"\r\n",
    b"\r",
    b"event: a\ndata: 1\n\n",
    b"data: [DONE]\n\n",
]


def _decoded(chunks: list[bytes], limit: int) -> tuple[list[object], bool]:
    decoder = SSEDecoder(max_event_bytes=limit)
    out: list[object] = []
    try:
        for chunk in chunks:
            out += decoder.feed(chunk)
        out += decoder.finish()
    except ResponseTooLargeError as exc:
        out.append(str(exc))
    return out, decoder.done


def _relayed(chunks: list[bytes], limit: int) -> tuple[list[object], bool]:
    decoder = StreamEventDecoder(max_event_bytes=limit)
    out: list[object] = []
    try:
        for chunk in chunks:
            out += decoder.feed(chunk)
        out += decoder.finish()
    except ResponseTooLargeError as exc:
        out.append(str(exc))
    return out, decoder.done


def _agree(whole: tuple[list[object], bool], split: tuple[list[object], bool]) -> None:
    """Whole reads and byte-by-byte reads give the same messages; a limit is checked per read,
    so past one, the whole read may stop before events a line-by-line read got out first."""
    if any(isinstance(m, str) for m in split[0]):
        *before, error = whole[0]
        assert error == split[0][-1] and split[0][: len(before)] == before
    else:
        assert whole == split


@settings(max_examples=400, deadline=None)
@given(
    pieces=st.lists(st.sampled_from(_PIECES), max_size=40),
    limit=st.sampled_from([2, 5, 10, 30, 1_000]),
)
def test_whole_reads_decode_as_byte_by_byte_reads_do(pieces: list[bytes], limit: int) -> None:
    # Fed a byte at a time, every line is parsed on its own; fed whole, plain events take the
    # one-match path. Both give the same messages, ids, [DONE] flag and limit errors.
    stream = b"".join(pieces)
    one_by_one = [stream[i : i + 1] for i in range(len(stream))]
    messages, done = _decoded(one_by_one, limit)
    _agree(_decoded([stream], limit), (messages, done))
    expected: list[object] = [
        StreamEvent(m.event, m.data) if isinstance(m, SSEMessage) else m
        for m in messages
        if not isinstance(m, SSEMessage) or m.data
    ]
    assert _relayed(one_by_one, limit) == (expected, done)
    _agree(_relayed([stream], limit), (expected, done))


def test_plain_events_keep_the_last_id_and_names() -> None:
    stream = (
        b"id: 4\ndata: a\n\nevent: e\ndata: b\n\nevent:f\ndata:c\n\nevent:  g\ndata: [DONE]\n\n"
    )
    decoder = SSEDecoder()
    assert decoder.feed(stream) == [
        SSEMessage(b"a", None, "4", None),
        SSEMessage(b"b", "e", "4", None),
        SSEMessage(b"c", "f", "4", None),
        SSEMessage(b"[DONE]", " g", "4", None),
    ]
    assert decoder.done


def test_an_event_begun_in_one_read_ends_in_the_next() -> None:
    decoder = StreamEventDecoder()
    assert decoder.feed(b"event: a\n") == []
    assert decoder.feed(b"data: 1\n\ndata: 2\n\n") == [
        StreamEvent("a", b"1"),
        StreamEvent(None, b"2"),
    ]


def test_messages_and_events_stay_immutable() -> None:
    message, event = SSEMessage(b"x", "e"), StreamEvent("e", b"x")
    for value, name in ((message, "data"), (event, "data"), (event, "event")):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(value, name, b"y")
    assert message == SSEMessage(b"x", "e", None, None) and hash(event) == hash(
        StreamEvent("e", b"x")
    )
    assert dataclasses.replace(event, data=b"z") == StreamEvent("e", b"z")
