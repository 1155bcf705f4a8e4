"""Bedrock event streams follow the same commit rule as SSE ones, against the fake server:
an exception frame or a corrupt frame before the first event is a typed, retried error; after
it, `StreamError` carrying the typed error."""

from __future__ import annotations

import pytest

from llm_router import BedrockProvider, ProviderFormat, RetryPolicy, Router, errors
from llm_router_testing.fake import FAKE_KEYS, open_fake_provider

MODEL = "amazon.nova-micro-v1:0"
BODY = {"messages": [{"role": "user", "content": [{"text": "one two three four five"}]}]}
FAST_RETRY = RetryPolicy(max_attempts=3, initial_delay=0.001, max_delay=0.001)


def _router(url: str) -> Router:
    return (
        Router.builder()
        .add_provider("bedrock", BedrockProvider(base_url=url))
        .add_api_key("bedrock", FAKE_KEYS["bedrock"])
        .add_model_route(MODEL, "bedrock")
        .forward_headers("x-fake-")
        .with_retry_policy(FAST_RETRY)
        .build()
    )


async def _stream(headers: dict[str, str]) -> tuple[list[str | None], BaseException, int]:
    names: list[str | None] = []
    async with open_fake_provider() as fake:
        router = _router(fake.url)
        async with router:
            with pytest.raises(errors.LLMRouterError) as caught:
                async with router.stream(
                    BODY, ProviderFormat.CONVERSE, MODEL, headers=headers
                ) as events:
                    async for event in events:
                        names.append(event.event)
            assert router.statistics()["pool"]["in_use"] == 0
        attempts = len(fake.journal)
    return names, caught.value, attempts


@pytest.mark.parametrize(
    ("fault", "expected"),
    [("x-fake-stream-error", errors.ProviderError), ("x-fake-bad-crc", errors.UpstreamError)],
)
async def test_a_bad_frame_before_the_first_event_is_retried(
    fault: str, expected: type[errors.LLMRouterError]
) -> None:
    names, error, attempts = await _stream({fault: "0"})
    assert names == []
    assert isinstance(error, expected) and not isinstance(error, errors.StreamError)
    assert attempts == 3


@pytest.mark.parametrize("fault", ["x-fake-stream-error", "x-fake-bad-crc"])
async def test_a_bad_frame_after_commit_is_a_stream_error(fault: str) -> None:
    # One frame per write: the first events reach the caller before the bad one.
    names, error, attempts = await _stream({fault: "2", "x-fake-inter-event-delay": "5ms"})
    assert len(names) == 2 and names[0] == "messageStart"
    assert isinstance(error, errors.StreamError)
    assert isinstance(error.upstream_error, errors.ProviderError)
    assert attempts == 1
