"""Sans-IO byte framing for provider streams: SSE (`sse`) and AWS event-stream (`eventstream`).

Both decoders are linear in their input however it is chunked, and bound what they buffer:
one SSE event (or one unterminated line) or one event-stream frame may hold at most
`max_event_bytes` bytes, else `ResponseTooLargeError` names the limit.
"""

DEFAULT_MAX_EVENT_BYTES = 8 * 1024 * 1024
"""The default bound on one SSE event or one event-stream frame (8 MiB)."""
