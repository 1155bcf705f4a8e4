"""Sans-IO byte framing for provider streams: SSE (`sse`) and AWS event-stream (`eventstream`)."""
