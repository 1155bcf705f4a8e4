"""OpenAI Responses WebSocket mode: turns, the conversation they build, and resending it. Sans-IO.

Each turn is a client `response.create` carrying the `POST /v1/responses` body (without
`stream`); the server answers with the ordinary Responses stream events, ending the turn with
`response.completed`, `response.incomplete`, `response.failed` or `error`. A later turn may
continue with `previous_response_id`, but that state lives on the socket: when the socket is
lost between turns, `Conversation.resend` rewrites the next turn to carry the whole
conversation instead, so that a new socket can answer it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._fields import obj, objects, opt_str, string
from .events import RealtimeProtocolError, parse_frame

__all__ = ["TURN_END_EVENTS", "Conversation", "decode_client", "with_model"]

PROTOCOL = "responses-ws"
TURN_END_EVENTS = frozenset(
    {"response.completed", "response.incomplete", "response.failed", "error"}
)


def decode_client(frame: str | bytes | Mapping[str, Any]) -> Mapping[str, Any]:
    """A client `response.create` event (the only client event of this mode), validated."""
    message = parse_frame(frame, PROTOCOL)
    kind = string(message.get("type"), "type")
    if kind != "response.create":
        raise RealtimeProtocolError(
            f"responses-ws client events are response.create only, got {kind!r}", path="type"
        )
    if message.get("stream") is not None:
        raise RealtimeProtocolError(
            "responses-ws turns are always streamed: leave out `stream`", path="stream"
        )
    return message


def with_model(message: Mapping[str, Any], model: str) -> dict[str, Any]:
    return {**message, "model": model}


def _input_items(message: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    value = message.get("input")
    if value is None:
        return []
    if isinstance(value, str):
        return [{"type": "message", "role": "user", "content": value}]
    return objects(value, "input")


class Conversation:
    """What one Responses-WS session has said and heard, enough to replay it on a new socket."""

    def __init__(self) -> None:
        self._items: list[Mapping[str, Any]] = []
        self._pending: list[Mapping[str, Any]] = []
        self.last_response_id: str | None = None
        self.in_turn = False
        self.turns = 0

    def client_turn(self, message: Mapping[str, Any]) -> None:
        """Record a `response.create` about to be sent."""
        previous = opt_str(message.get("previous_response_id"), "previous_response_id")
        if previous is None:
            self._items = []  # a turn without previous_response_id starts from its own input
        self._pending = _input_items(message)
        self.in_turn = True

    def server_event(self, frame: str | bytes | Mapping[str, Any]) -> Mapping[str, Any]:
        """Record one server event (returned parsed); the turn ends on a terminal event."""
        event = parse_frame(frame, PROTOCOL)
        kind = event.get("type")
        if kind in TURN_END_EVENTS:
            self.in_turn = False
            self.turns += 1
            response = obj(event.get("response"), "response")
            if kind == "response.completed":
                self._items.extend(self._pending)
                self._items.extend(objects(response.get("output"), "response.output"))
                self.last_response_id = opt_str(response.get("id"), "response.id")
            self._pending = []
        return event

    def resend(self, message: Mapping[str, Any]) -> dict[str, Any]:
        """`message` rewritten for a new socket: the conversation so far replaces the
        `previous_response_id` that only the lost socket knew."""
        previous = opt_str(message.get("previous_response_id"), "previous_response_id")
        rewritten = {k: v for k, v in message.items() if k != "previous_response_id"}
        if previous is None:
            return rewritten
        if previous != self.last_response_id:
            raise RealtimeProtocolError(
                f"previous_response_id {previous!r} is not the last response of this session: "
                "its conversation cannot be resent on a new connection",
                path="previous_response_id",
            )
        rewritten["input"] = [*self._items, *_input_items(message)]
        return rewritten
