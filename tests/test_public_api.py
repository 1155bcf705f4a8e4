"""The public surface DESIGN promises imports from the package root, and the README quick start
builds and runs (against the fake server instead of the real providers)."""

from __future__ import annotations

import orjson

import llm_router
from llm_router_testing.fake import FAKE_KEYS, open_fake_provider

DOCUMENTED = [
    "Router", "ProviderFormat", "RetryPolicy", "HedgePolicy", "AuthConfig", "OpenAIProvider",
    "AnthropicProvider", "GoogleProvider", "VertexProvider", "BedrockProvider", "AzureProvider",
    "MistralProvider", "OpenAICompatibleProvider", "translate_request", "translate_response",
    "StreamTranslator", "translate_error", "StreamEvent", "TimeoutPolicy", "Hooks",
]  # fmt: skip


def test_documented_names_are_exported() -> None:
    missing = [name for name in DOCUMENTED if not hasattr(llm_router, name)]
    assert missing == []
    assert set(DOCUMENTED) <= set(llm_router.__all__)
    assert all(hasattr(llm_router, name) for name in llm_router.__all__)


async def test_readme_quick_start_runs() -> None:
    from llm_router import (
        AnthropicProvider,
        HedgePolicy,
        OpenAIProvider,
        ProviderFormat,
        RetryPolicy,
        Router,
    )

    async with open_fake_provider() as fake:
        router = (
            Router.builder()
            .load_models()
            .add_provider("openai", OpenAIProvider(base_url=fake.url + "/v1"))
            .add_provider("anthropic", AnthropicProvider(base_url=fake.url))
            .add_keys_from_env(
                {"OPENAI_API_KEY": FAKE_KEYS["openai"], "ANTHROPIC_API_KEY": FAKE_KEYS["anthropic"]}
            )
            .with_retry_policy(RetryPolicy(max_attempts=3))
            .with_hedge_policy(HedgePolicy(delay=0.5))
            .build()
        )
        async with router:
            body = orjson.dumps(
                {"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": "Hello"}]}
            )
            result = await router.complete(body, ProviderFormat.OPENAI)
            assert result.provider == "anthropic"
            assert result.json()["choices"][0]["message"]["content"] == "You said: Hello"

            body = orjson.dumps(
                {"model": "gpt-4o-mini", "max_tokens": 200, "stream": True,
                 "messages": [{"role": "user", "content": "Count to five"}]}
            )  # fmt: skip
            async with router.stream(body, ProviderFormat.ANTHROPIC) as events:
                names = [event.event async for event in events]
            assert names[0] == "message_start" and names[-1] == "message_stop"


def test_testing_package_root_exports_its_entry_points_lazily() -> None:
    import subprocess
    import sys

    import llm_router_testing
    from llm_router_testing import FAKE_KEYS as root_keys
    from llm_router_testing import Cassette, open_fake_provider
    from llm_router_testing.cassette import Cassette as cassette_class
    from llm_router_testing.fake import open_fake_provider as fake_opener

    assert (Cassette, open_fake_provider, root_keys) == (cassette_class, fake_opener, FAKE_KEYS)
    assert all(hasattr(llm_router_testing, name) for name in llm_router_testing.__all__)
    # pytest imports the package for its plugin in every run: the root alone stays light.
    probe = "import sys, llm_router_testing; print('hypercorn' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert result.stdout.strip() == "False"
