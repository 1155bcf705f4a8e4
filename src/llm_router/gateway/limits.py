"""Request limits: the body's size (refused from `content-length` before reading, or as soon
as the bytes read pass the limit) and the time the whole body may take to arrive."""

from __future__ import annotations

from collections.abc import Mapping

import trio

from llm_router.gateway.asgi import Receive

__all__ = ["BodyTimeout", "BodyTooLarge", "ClientGone", "read_body"]


class BodyTooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"request body exceeds the gateway's limit of {limit} bytes")
        self.limit = limit


class BodyTimeout(Exception):
    def __init__(self, timeout: float) -> None:
        super().__init__(f"request body did not arrive within {timeout:g} s")


class ClientGone(Exception):
    """The client disconnected before its request body was complete."""


async def read_body(
    receive: Receive, headers: Mapping[str, str], *, max_bytes: int, time_limit: float
) -> bytes:
    """The whole request body, within `max_bytes` and `time_limit` seconds."""
    declared = headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise BodyTooLarge(max_bytes)
    chunks: list[bytes] = []
    size = 0
    with trio.move_on_after(time_limit) as deadline:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ClientGone()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > max_bytes:
                raise BodyTooLarge(max_bytes)
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)
    assert deadline.cancelled_caught
    raise BodyTimeout(time_limit)
