"""OpenAI Files and Batch endpoints: the official SDK creates, polls and fetches a batch."""

from __future__ import annotations

import io
import json
from typing import Any

import httpx
import openai
import pytest
import trio

from llm_router_testing.fake import FAKE_KEYS, FakeProvider


def _lines(*items: dict[str, Any]) -> bytes:
    return b"".join(json.dumps(item).encode() + b"\n" for item in items)


def _chat(custom_id: str, text: str) -> dict[str, Any]:
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}]}
    return {"custom_id": custom_id, "method": "POST", "url": "/v1/chat/completions", "body": body}


async def test_sdk_creates_polls_and_fetches_a_batch(fake: FakeProvider) -> None:
    fake.script().when(user_is="scripted").reply("From the script.")
    client = openai.OpenAI(base_url=fake.url + "/v1", api_key=FAKE_KEYS["openai"])
    upload = _lines(_chat("a", "hello batch"), _chat("b", "scripted"))

    def run() -> tuple[list[str], Any, list[Any], Any]:
        uploaded = client.files.create(file=("in.jsonl", io.BytesIO(upload)), purpose="batch")
        assert uploaded.bytes == len(upload) and uploaded.status == "processed"
        batch = client.batches.create(
            input_file_id=uploaded.id,
            endpoint="/v1/chat/completions",
            completion_window="24h",
            metadata={"run": "nightly"},
        )
        statuses = [batch.status]
        while batch.status not in ("completed", "failed", "cancelled"):
            batch = client.batches.retrieve(batch.id)
            statuses.append(batch.status)
        assert batch.output_file_id is not None
        output = client.files.content(batch.output_file_id).text
        listed = client.batches.list().data
        return statuses, batch, [json.loads(line) for line in output.splitlines()], listed

    statuses, batch, results, listed = await trio.to_thread.run_sync(run)
    assert statuses == ["validating", "in_progress", "completed"]
    assert batch.request_counts.total == 2 and batch.request_counts.completed == 2
    assert batch.metadata == {"run": "nightly"} and batch.error_file_id is None
    answers = {
        r["custom_id"]: r["response"]["body"]["choices"][0]["message"]["content"] for r in results
    }
    assert answers == {"a": "You said: hello batch", "b": "From the script."}
    assert all(r["response"]["status_code"] == 200 for r in results)
    assert [b.id for b in listed] == [batch.id]
    # Each line was answered by the fake itself, so the journal shows it.
    assert fake.journal.called(path="/v1/chat/completions", user_is="scripted")


async def test_bad_batches_and_files_are_refused_like_openai(
    fake: FakeProvider, client: httpx.AsyncClient
) -> None:
    openai_headers = {"authorization": f"Bearer {FAKE_KEYS['openai']}"}
    missing = await client.get("/v1/batches/batch_nope", headers=openai_headers)
    assert missing.status_code == 404 and "batch_nope" in missing.json()["error"]["message"]
    unauthenticated = await client.get("/v1/files", headers={"authorization": "Bearer wrong"})
    assert unauthenticated.status_code == 401
    uploaded = await client.post(
        "/v1/files",
        headers=openai_headers,
        files={"file": ("in.jsonl", b"not json\n")},
        data={"purpose": "batch"},
    )
    file_id = uploaded.json()["id"]
    wrong_endpoint = await client.post(
        "/v1/batches",
        headers=openai_headers,
        json={"input_file_id": file_id, "endpoint": "/v1/nope", "completion_window": "24h"},
    )
    assert wrong_endpoint.status_code == 400
    assert wrong_endpoint.json()["error"]["param"] == "endpoint"
    created = await client.post(
        "/v1/batches",
        headers=openai_headers,
        json={"input_file_id": file_id, "endpoint": "/v1/chat/completions",
              "completion_window": "24h"},
    )  # fmt: skip
    batch_id = created.json()["id"]
    for _ in range(2):
        batch = (await client.get(f"/v1/batches/{batch_id}", headers=openai_headers)).json()
    assert batch["status"] == "completed" and batch["request_counts"]["failed"] == 1
    errors = await client.get(f"/v1/files/{batch['error_file_id']}/content", headers=openai_headers)
    assert "line 1 is not a batch request object" in errors.text


@pytest.mark.parametrize("purpose", ["", "batch"])
async def test_upload_needs_file_and_purpose(client: httpx.AsyncClient, purpose: str) -> None:
    headers = {"authorization": f"Bearer {FAKE_KEYS['openai']}"}
    if purpose:
        reply = await client.post("/v1/files", headers=headers, data={"purpose": purpose})
        assert reply.json()["error"]["param"] == "file"
    else:
        reply = await client.post("/v1/files", headers=headers, files={"file": ("x", b"{}")})
        assert reply.json()["error"]["param"] == "purpose"
    assert reply.status_code == 400
