"""A compression bomb cannot inflate past the read limits: bodies are decoded in bounded
pieces (`llm_router._content`), so a 64 KiB gzip chunk that expands to 64 MiB costs at most
about one piece more than the limit, for whole answers, error bodies and streams alike."""

from __future__ import annotations

import gzip
import tracemalloc
import zlib
from collections.abc import AsyncIterator

import httpx
import pytest

from llm_router import ProviderFormat, RetryPolicy, errors
from llm_router._content import PIECE, decoded_chunks

from ._raw_upstream import Reply, open_raw_upstream
from .test_upstream_faults import CHAT, JSON, SSE, assert_stream_released, build, drain, sequence

LIMIT = 1024 * 1024
#: 64 MiB of zeros, gzip-compressed to some 64 KiB, sent as one chunk.
BOMB = gzip.compress(b"\0" * (64 * 1024 * 1024), compresslevel=9)
#: Python allocations allowed at peak: the limit, one piece, the server's copy of the bomb
#: and the machinery's own, far below the 64 MiB one chunk used to become.
PEAK_ALLOWED = 2 * LIMIT + 4 * PIECE + 4 * len(BOMB) + 4 * 1024 * 1024


@pytest.mark.parametrize("case", ["complete", "error-body", "stream"])
async def test_a_gzip_bomb_is_stopped_near_the_limit(case: str) -> None:
    assert len(BOMB) < 100 * 1024
    status = 500 if case == "error-body" else 200
    headers = [*(SSE if case == "stream" else JSON), ("content-encoding", "gzip")]
    reply = Reply(status, headers, [BOMB])
    limits = {"max_response_body": LIMIT, "max_event_bytes": LIMIT, "max_error_body": LIMIT}
    async with open_raw_upstream(sequence(reply)) as upstream:
        router = build(upstream, limits=limits, retry=RetryPolicy(max_attempts=1))
        async with router:
            tracemalloc.start()
            try:
                if case == "stream":
                    with pytest.raises(errors.ResponseTooLargeError) as caught:
                        await drain(router, ProviderFormat.OPENAI)
                    assert caught.value.limit == "max_event_bytes"
                elif case == "complete":
                    with pytest.raises(errors.ResponseTooLargeError) as caught:
                        await router.complete(CHAT, ProviderFormat.OPENAI)
                    assert caught.value.limit == "max_response_body"
                else:
                    with pytest.raises(errors.UpstreamError) as failed:
                        await router.complete(CHAT, ProviderFormat.OPENAI)
                    assert "cut at" in str(failed.value)
                _, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
            await assert_stream_released(router)
    # Error bodies too: one that large is not parsed (JSON parsing takes some twelve times a
    # body's size; it peaked at 14x the limit), only quoted by its first bytes.
    assert peak < PEAK_ALLOWED, f"peak {peak} bytes"


async def _body(chunks: list[bytes]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "raw-deflate", "gzip, deflate"])
async def test_decoded_pieces_are_bounded_and_exact(encoding: str) -> None:
    payload = bytes(range(256)) * 4096 + b"\0" * (3 * 1024 * 1024)
    if encoding == "gzip":
        body = gzip.compress(payload)
    elif encoding == "deflate":
        body = zlib.compress(payload)
    elif encoding == "raw-deflate":
        squeeze = zlib.compressobj(wbits=-zlib.MAX_WBITS)
        body = squeeze.compress(payload) + squeeze.flush()
        encoding = "deflate"
    else:  # gzip applied first, then deflate: decoded in the reverse order
        body = zlib.compress(gzip.compress(payload))
    chunks = [body[i : i + 1000] for i in range(0, len(body), 1000)]
    response = httpx.Response(200, headers={"content-encoding": encoding}, content=_body(chunks))
    pieces = [piece async for piece in decoded_chunks(response)]
    assert b"".join(pieces) == payload
    assert max(map(len, pieces)) <= PIECE


async def test_a_broken_gzip_body_is_a_decoding_error() -> None:
    body = _body([b"not gzip" * 9])
    response = httpx.Response(200, headers={"content-encoding": "gzip"}, content=body)
    with pytest.raises(httpx.DecodingError):
        _ = [piece async for piece in decoded_chunks(response)]


async def test_a_response_read_already_is_served_from_its_content() -> None:
    # MockTransport answers built from bytes arrive read (and decoded) already.
    payload = b"y" * (3 * PIECE + 5)
    response = httpx.Response(
        200, headers={"content-encoding": "gzip"}, content=gzip.compress(payload)
    )
    pieces = [piece async for piece in decoded_chunks(response)]
    assert b"".join(pieces) == payload and max(map(len, pieces)) <= PIECE


async def test_a_huge_json_error_is_quoted_in_part_and_a_long_message_is_cut() -> None:
    huge = b'{"error": {"message": "' + b"x" * (LIMIT - 64) + b'", "type": "server_error"}}'
    long = b'{"error": {"message": "' + b"y" * 20_000 + b'", "type": "server_error"}}'
    replies = [Reply(500, JSON, [huge]), Reply(500, JSON, [long])]
    async with open_raw_upstream(sequence(*replies)) as upstream:
        router = build(upstream, retry=RetryPolicy(max_attempts=1))
        async with router:
            with pytest.raises(errors.UpstreamError) as first:
                await router.complete(CHAT, ProviderFormat.OPENAI)
            with pytest.raises(errors.UpstreamError) as second:
                await router.complete(CHAT, ProviderFormat.OPENAI)
            await assert_stream_released(router)
    assert len(str(first.value)) < 1000  # the first bytes of an unparsed body
    assert first.value.status == 500 and len(first.value.body or b"") == len(huge)
    assert str(second.value).endswith(" more characters)") and len(str(second.value)) < 8300
    assert "server_error" in str(second.value)  # a body this size is still parsed
