"""Every provider's model listing on the fake, read by the official SDKs."""

from __future__ import annotations

from typing import Any

import anthropic
import botocore.session
import openai
import pytest
import trio
from botocore.exceptions import ClientError
from google import genai
from google.genai import errors as genai_errors
from google.genai import types as genai_types

from llm_router_testing.fake import FAKE_BOTOCORE_CREDENTIALS, FAKE_KEYS, FakeProvider
from llm_router_testing.fake.state import DEFAULT_MODELS


async def in_thread(function: Any, *args: Any) -> Any:
    return await trio.to_thread.run_sync(lambda: function(*args))


async def test_openai_and_anthropic_list_models(fake: FakeProvider) -> None:
    oai = openai.OpenAI(api_key=FAKE_KEYS["openai"], base_url=fake.url + "/v1")
    claude = anthropic.Anthropic(api_key=FAKE_KEYS["anthropic"], base_url=fake.url)

    listed = await in_thread(lambda: [m.id for m in oai.models.list()])
    claude_listed = await in_thread(lambda: [m.id for m in claude.models.list()])

    assert listed == claude_listed == list(DEFAULT_MODELS)


async def test_google_genai_lists_and_gets_models(fake: FakeProvider) -> None:
    client = genai.Client(
        api_key=FAKE_KEYS["google"], http_options=genai_types.HttpOptions(base_url=fake.url)
    )

    names = await in_thread(lambda: [m.name for m in client.models.list()])
    one = await in_thread(lambda: client.models.get(model="gemini-2.5-flash"))

    assert names == [f"models/{m}" for m in DEFAULT_MODELS]
    assert one.name == "models/gemini-2.5-flash"
    with pytest.raises(genai_errors.ClientError) as missing:
        await in_thread(lambda: client.models.get(model="gemini-0"))
    assert missing.value.code == 404


async def test_botocore_lists_foundation_models(fake: FakeProvider) -> None:
    client = botocore.session.get_session().create_client(
        "bedrock", region_name="us-east-1", endpoint_url=fake.url, **FAKE_BOTOCORE_CREDENTIALS
    )

    listed = await in_thread(client.list_foundation_models)

    assert [m["modelId"] for m in listed["modelSummaries"]] == list(DEFAULT_MODELS)
    unsigned = botocore.session.get_session().create_client(
        "bedrock",
        region_name="us-east-1",
        endpoint_url=fake.url,
        aws_access_key_id="AKIDWRONG",
        aws_secret_access_key="wrong",
    )
    with pytest.raises(ClientError):
        await in_thread(unsigned.list_foundation_models)
