"""What one request did (`Exchange`), and the structured access log: one JSON line each.

An exchange records the path without its query (Gemini callers may put a key there), never a
header or a body, so a log line cannot carry a secret. It also makes sure every answer the
gateway gives -- proxied or its own refusal -- carries a request id under the name the caller's
SDK reads, and logs that same id.
"""

from __future__ import annotations

import secrets
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

import orjson
import trio

from llm_router.gateway.asgi import Send
from llm_router.gateway.passthrough import ROUTER_REQUEST_ID, request_id_headers
from llm_router.types import ProviderFormat

__all__ = ["AccessLog", "Exchange"]


@dataclass(slots=True)
class Exchange:
    """One request as the gateway handled it; filled in while it runs."""

    method: str
    path: str
    started: float
    operation: str = "other"  # generate, models, count_tokens, embed, health, metrics...
    format: str | None = None
    model: str | None = None
    stream: bool = False
    provider: str | None = None
    route_model: str | None = None
    status: int | None = None
    first_byte_at: float | None = None
    ended: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost: float | None = None
    attempts: int = 0
    disconnected: bool = False
    complete: bool = False  # the whole response went out
    error: str | None = None  # error class name
    #: The id answered to the caller: the upstream's when an answer handed one on, else ours.
    request_id: str = field(default_factory=lambda: f"req_{secrets.token_hex(12)}")

    @property
    def latency(self) -> float | None:
        return None if self.ended is None else self.ended - self.started

    @property
    def ttfb(self) -> float | None:
        return None if self.first_byte_at is None else self.first_byte_at - self.started

    def recording(self, send: Send) -> Send:
        """`send`, noting the status and the moment the first body bytes go out."""

        async def recorded(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                self.status = int(message["status"])
                message = {**message, "headers": self._with_request_id(message["headers"])}
            elif message["type"] == "http.response.body":
                if self.first_byte_at is None and message.get("body"):
                    self.first_byte_at = trio.current_time()
                if not message.get("more_body", False):
                    self.complete = True
            await send(message)

        return recorded

    def _with_request_id(self, headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
        """`headers` with the request id: the one already there (a proxied answer's), or ours
        under the caller format's own name (every SDK's name when the format is unknown)."""
        for name, value in headers:
            if name.lower() == ROUTER_REQUEST_ID.encode():
                self.request_id = value.decode("latin-1")
                return headers
        fmt = _format(self.format)
        present = {name.lower() for name, _ in headers}
        added = [
            (name.encode(), value.encode())
            for name, value in request_id_headers(self.request_id, fmt).items()
            if name.encode() not in present
        ]
        return [*headers, *added]

    def to_json(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "method": self.method,
            "path": self.path,
            "operation": self.operation,
            "format": self.format,
            "model": self.model,
            "stream": self.stream,
            "route": None if self.provider is None else f"{self.provider}/{self.route_model}",
            "status": 499 if self.disconnected and self.status is None else self.status,
            "latency_ms": _ms(self.latency),
            "ttfb_ms": _ms(self.ttfb),
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cost_usd": self.cost,
            "attempts": self.attempts,
            "disconnected": self.disconnected,
            "error": self.error,
        }


def _format(value: str | None) -> ProviderFormat | None:
    try:
        return None if value is None else ProviderFormat(value)
    except ValueError:
        return None


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 3)


class AccessLog:
    """Writes one JSON object per request, on one line, to `write` (default: stdout)."""

    def __init__(self, write: Callable[[str], None] | None = None) -> None:
        self._write = write or _stdout_line

    def record(self, exchange: Exchange) -> None:
        self._write(orjson.dumps(exchange.to_json()).decode())


def _stdout_line(line: str, stream: TextIO | None = None) -> None:
    out = stream or sys.stdout
    out.write(line + "\n")
    out.flush()
