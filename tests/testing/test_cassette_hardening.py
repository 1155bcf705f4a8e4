"""Cassettes under pressure: split and encoded echoes, concurrent writers, file modes, killed
saves, wrongly typed fields and absurd timings."""

from __future__ import annotations

import base64
import os
import stat
import threading
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from llm_router_testing.cassette import Cassette, CassetteError
from llm_router_testing.cassette_format import Interaction, chunk_bytes, dump_cassette
from llm_router_testing.redact import Redaction

SECRET = "sk-live-0123456789abcdef"
URL = "https://api.example.test/v1/chat/completions"


def streamed(chunks: list[str]) -> Interaction:
    return {
        "request": {
            "method": "POST",
            "url": URL,
            "headers": {"authorization": f"Bearer {SECRET}"},
            "body": {"model": "m"},
        },
        "response": {
            "status": 200,
            "headers": {"content-type": "text/event-stream"},
            "stream": {
                "kind": "sse",
                "events": [{"t": 0.1 * i, "data": chunk} for i, chunk in enumerate(chunks)],
            },
        },
        "recorded_at": "2026-01-01T00:00:00+00:00",
    }


@pytest.mark.parametrize("split", [3, 10, len(SECRET) - 1])
def test_a_key_echoed_across_two_stream_chunks_is_redacted(split: int) -> None:
    echo = f'data: {{"error": "bad key {SECRET}"}}\n\n'
    at = echo.index(SECRET) + split
    redacted = Redaction().apply(streamed([echo[:at], echo[at:], "data: [DONE]\n\n"]))
    events = redacted["response"]["stream"]["events"]
    joined = b"".join(chunk_bytes(event) for event in events)
    assert SECRET.encode() not in joined
    assert joined == b'data: {"error": "bad key REDACTED"}\n\ndata: [DONE]\n\n'
    assert [event["t"] for event in events] == [0.0, 0.1, 0.2]


@pytest.mark.parametrize("prefix", ["", "x", "xy"])
def test_base64_echoes_of_a_key_are_redacted(prefix: str) -> None:
    token = base64.b64encode(f"{prefix}{SECRET}:".encode()).decode()
    urlsafe = base64.urlsafe_b64encode(f"{prefix}user:{SECRET}".encode()).decode()
    interaction = streamed([f"data: {token}\n\n"])
    interaction["response"]["headers"]["x-echo"] = urlsafe
    redacted = Redaction().apply(interaction)
    stored = dump_cassette([redacted]).decode()
    for alignment in range(3):  # no run of the key's base64 core survives at any alignment
        core = base64.b64encode(b"\0" * alignment + SECRET.encode()).decode()[4:-4]
        assert core not in stored
        assert core.replace("+", "-").replace("/", "_") not in stored


def test_a_json_escaped_echo_is_redacted() -> None:
    escaped = "".join(f"\\u{ord(c):04x}" for c in SECRET)
    redacted = Redaction().apply(streamed([f'data: {{"echo": "{escaped}"}}\n\n']))
    assert escaped not in dump_cassette([redacted]).decode()


def upstream(label: str) -> httpx.MockTransport:
    return httpx.MockTransport(lambda request: httpx.Response(200, json={"by": label}))


def record(cassette: Cassette, label: str) -> None:
    with httpx.Client(transport=cassette.transport(upstream(label))) as client:
        assert client.post(URL, json={"writer": label}).json() == {"by": label}


def test_two_writers_in_mode_new_keep_both_recordings(tmp_path: Path) -> None:
    path = tmp_path / "shared.json"
    first = Cassette.open(path, "new")
    record(first, "seed")
    first.save()
    writers = [Cassette.open(path, "new") for _ in range(2)]
    for index, cassette in enumerate(writers):
        record(cassette, f"writer-{index}")
    saves = [threading.Thread(target=cassette.save) for cassette in writers]
    for thread in saves:
        thread.start()
    for thread in saves:
        thread.join(timeout=30)
    stored = orjson.loads(path.read_bytes())["interactions"]
    writers_seen = sorted(i["request"]["body"]["writer"] for i in stored)
    assert writers_seen == ["seed", "writer-0", "writer-1"]
    writers[0].save()  # saving again adds nothing twice
    assert len(orjson.loads(path.read_bytes())["interactions"]) == 3


def test_save_keeps_the_file_mode(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_bytes(dump_cassette([]))
    path.chmod(0o644)
    cassette = Cassette.open(path, "new")
    record(cassette, "a")
    assert cassette.save()
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    fresh = tmp_path / "fresh.json"
    cassette = Cassette.open(fresh, "once")
    record(cassette, "b")
    cassette.save()
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o666 & ~umask


def test_a_save_killed_midway_leaves_nothing_behind_after_the_next(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    leftover = tmp_path / ".c.json.4242.tmp"  # what a writer killed with SIGKILL leaves
    leftover.write_bytes(b"x" * 1_000_000)
    cassette = Cassette.open(path, "new")
    record(cassette, "a")
    cassette.save()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.json"]


def interaction_with(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = orjson.loads(orjson.dumps(streamed(["data: {}\n\n"])))
    for dotted, value in changes.items():
        target = base
        *parents, last = dotted.split("__")
        for name in parents:
            target = target[int(name)] if isinstance(target, list) else target[name]
        target[int(last) if isinstance(target, list) else last] = value
    return base


@pytest.mark.parametrize(
    ("changes", "where"),
    [
        ({"response__status": "200"}, r"interactions\[0\]\.response\.status must be an integer"),
        ({"response__status": True}, r"response\.status must be an integer"),
        ({"response__status": 42}, r"response\.status must be an HTTP status"),
        ({"response__headers__x-n": 5}, r"response\.headers\['x-n'\] must be a string"),
        ({"request__body_text": 7, "request__body": None}, None),
        ({"response__elapsed": "fast"}, r"response\.elapsed must be a number of seconds"),
        ({"response__stream__events__0__t": "0.1"}, r"events\[0\]\.t must be a number"),
        ({"response__stream__events__0__t": 1e300}, r"events\[0\]\.t must be between 0 and"),
        ({"response__stream__events__0__t": -1}, r"events\[0\]\.t must be between 0 and"),
        ({"response__stream__events__0__data": 3}, r"events\[0\]\.data must be a string"),
        ({"response__stream__truncated": "yes"}, r"stream\.truncated must be true or false"),
        ({"recorded_at": 5}, r"interactions\[0\]\.recorded_at must be a string"),
    ],
)
def test_wrongly_typed_fields_are_rejected_with_their_path(
    tmp_path: Path, changes: dict[str, Any], where: str | None
) -> None:
    interaction = interaction_with(**changes)
    if where is None:  # a request with two body fields, one of the wrong type
        del interaction["request"]["body"]
        where = r"request\.body_text must be a string"
    path = tmp_path / "c.json"
    path.write_bytes(orjson.dumps({"version": 1, "interactions": [interaction]}))
    with pytest.raises(CassetteError, match=where):
        Cassette.open(path, realtime=True)
