"""Credentials headers, sample bodies and SSE parsing shared by the fake server's tests."""

from __future__ import annotations

from typing import Any

import orjson

from llm_router_testing.fake import FAKE_KEYS

OPENAI = {"authorization": f"Bearer {FAKE_KEYS['openai']}"}
ANTHROPIC = {"x-api-key": FAKE_KEYS["anthropic"], "anthropic-version": "2023-06-01"}
GOOGLE = {"x-goog-api-key": FAKE_KEYS["google"]}
VERTEX = {"authorization": f"Bearer {FAKE_KEYS['vertex']}"}
BEDROCK = {"authorization": f"Bearer {FAKE_KEYS['bedrock']}"}
AZURE = {"api-key": FAKE_KEYS["azure"]}
MISTRAL = {"authorization": f"Bearer {FAKE_KEYS['mistral']}"}
CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hello fake world"}]}


def sse_data(text: str) -> list[Any]:
    """The JSON payloads of an SSE body (`[DONE]` kept as the string)."""
    payloads: list[Any] = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        for line in block.splitlines():
            if line.startswith("data: "):
                data = line[len("data: ") :]
                payloads.append(data if data == "[DONE]" else orjson.loads(data))
    return payloads


def sse_names(text: str) -> list[str]:
    return [line[len("event: ") :] for line in text.splitlines() if line.startswith("event: ")]
