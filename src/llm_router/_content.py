"""Decoding an answer's `content-encoding` in bounded pieces.

httpx decodes each network chunk whole: one 64 KiB gzip chunk of zeros expands to some 64 MiB
before any read limit sees it. Here every decompressor is asked for at most `PIECE` bytes at
a time (zlib's `max_length`), and the next piece is produced only when the reader asks for
it, so a reader that stops at its limit has decoded at most one piece past it.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

import httpx

__all__ = ["PIECE", "decoded_chunks"]

#: The most a decoder hands out at once.
PIECE = 64 * 1024
#: Input slice fed at once to a decoder without an output bound (brotli, zstd via httpx).
_UNBOUNDED_SLICE = 256


class _Zlib:
    """gzip or deflate (zlib-wrapped, or raw as some servers send it)."""

    def __init__(self, encoding: str) -> None:
        self._encoding = encoding
        self._gzip = encoding in ("gzip", "x-gzip")
        wbits = zlib.MAX_WBITS | 16 if self._gzip else zlib.MAX_WBITS
        self._obj: Any = zlib.decompressobj(wbits)
        self._first = True

    def feed(self, data: bytes) -> Iterator[bytes]:
        first, self._first = self._first, False
        try:
            yield from self._pieces(data)
        except zlib.error as exc:
            if not first or self._gzip:
                raise httpx.DecodingError(f"{self._encoding}: {exc}") from None
            self._obj = zlib.decompressobj(-zlib.MAX_WBITS)  # raw deflate
            try:
                yield from self._pieces(data)
            except zlib.error as again:
                raise httpx.DecodingError(f"{self._encoding}: {again}") from None

    def _pieces(self, data: bytes) -> Iterator[bytes]:
        obj = self._obj
        while data and not obj.eof:
            out = obj.decompress(data, PIECE)
            data = obj.unconsumed_tail
            if out:
                yield out

    def flush(self) -> Iterator[bytes]:
        try:
            rest = self._obj.flush()
        except zlib.error as exc:
            raise httpx.DecodingError(f"{self._encoding}: {exc}") from None
        for start in range(0, len(rest), PIECE):
            yield rest[start : start + PIECE]


class _Other:
    """An encoding httpx decodes (brotli, zstd when installed), fed in small input slices."""

    def __init__(self, decoder: Any) -> None:
        self._decoder = decoder

    def feed(self, data: bytes) -> Iterator[bytes]:
        for start in range(0, len(data), _UNBOUNDED_SLICE):
            out = self._decoder.decode(data[start : start + _UNBOUNDED_SLICE])
            if out:
                yield out

    def flush(self) -> Iterator[bytes]:
        out = self._decoder.flush()
        if out:
            yield out


_Decoder = _Zlib | _Other


def _decoders(header: str) -> list[_Decoder]:
    """Decoders in decoding order (the last encoding applied is undone first)."""
    out: list[_Decoder] = []
    supported: dict[str, Any] = httpx._decoders.SUPPORTED_DECODERS
    for name in reversed([part.strip().lower() for part in header.split(",")]):
        if name in ("gzip", "x-gzip", "deflate"):
            out.append(_Zlib(name))
        elif name and name != "identity" and name in supported:
            out.append(_Other(supported[name]()))
        # An encoding nobody knows is passed through as httpx does: the body is what it is.
    return out


def _through(decoders: Sequence[_Decoder], data: bytes) -> Iterator[bytes]:
    if not decoders:
        if data:
            yield data
        return
    for piece in decoders[0].feed(data):
        yield from _through(decoders[1:], piece)


def _finish(decoders: Sequence[_Decoder]) -> Iterator[bytes]:
    for index, decoder in enumerate(decoders):
        for piece in decoder.flush():
            yield from _through(decoders[index + 1 :], piece)


async def decoded_chunks(response: httpx.Response) -> AsyncIterator[bytes]:
    """The body of `response`, decoded, in pieces of at most `PIECE` bytes for compressed
    bodies (raw network chunks otherwise). Raises `httpx.DecodingError` like httpx."""
    try:
        content = response.content  # read already (a response built from bytes): decoded
    except httpx.ResponseNotRead:
        pass
    else:
        for start in range(0, len(content), PIECE):
            yield content[start : start + PIECE]
        return
    decoders = _decoders(response.headers.get("content-encoding", ""))
    async for raw in response.aiter_raw():
        for piece in _through(decoders, raw):
            yield piece
    for piece in _finish(decoders):
        yield piece
