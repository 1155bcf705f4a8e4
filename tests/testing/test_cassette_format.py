"""The cassette file format: body encodings, validation errors, and atomic writes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llm_router_testing.cassette import Cassette, CassetteFormatError
from llm_router_testing.cassette_format import (
    Interaction,
    ResponseRecord,
    body_bytes,
    body_fields,
    chunk_bytes,
    chunk_fields,
    dump_cassette,
    load_cassette,
    write_cassette,
)


def minimal(**response: Any) -> Interaction:
    return {
        "request": {"method": "GET", "url": "https://h.test/x", "headers": {}},
        "response": {"status": 200, "headers": {}, **response},
        "recorded_at": "2025-01-01T00:00:00+00:00",
    }


@pytest.mark.parametrize(
    ("content", "content_type", "expected"),
    [
        (b"", "application/json", {}),
        (b'{"a": [1, 2]}', "application/json", {"body": {"a": [1, 2]}}),
        (b'{"a": 1}', "application/problem+json; charset=utf-8", {"body": {"a": 1}}),
        (b'{"a": 1}', None, {"body": {"a": 1}}),
        (b"{not json", "application/json", {"body_text": "{not json"}),
        (
            b"grant_type=x&y=z",
            "application/x-www-form-urlencoded",
            {"body_text": "grant_type=x&y=z"},
        ),
        (b"caf\xc3\xa9", "text/plain", {"body_text": "café"}),
        (b"\xff\xfe", "text/plain", {"body_b64": "//4="}),
        (b"abc", "application/octet-stream", {"body_b64": "YWJj"}),
    ],
)
def test_body_fields_choose_the_most_readable_form(
    content: bytes, content_type: str | None, expected: dict[str, Any]
) -> None:
    assert body_fields(content, content_type) == expected


@settings(max_examples=100)
@given(content=st.binary(max_size=64), content_type=st.sampled_from([None, "text/plain", "a/b"]))
def test_non_json_bodies_round_trip_exactly(content: bytes, content_type: str | None) -> None:
    fields = body_fields(content, content_type)
    if "body" in fields:
        assert orjson.loads(body_bytes(fields)) == orjson.loads(content)  # type: ignore[arg-type]
    else:
        assert body_bytes(fields) == content  # type: ignore[arg-type]


@settings(max_examples=100)
@given(chunk=st.binary(max_size=32), textual=st.booleans())
def test_stream_chunks_round_trip_exactly(chunk: bytes, textual: bool) -> None:
    fields = chunk_fields(chunk, textual)
    assert chunk_bytes({"t": 0.0, **fields}) == chunk  # type: ignore[typeddict-item]
    if not textual:
        assert "data_b64" in fields


def test_split_utf8_character_falls_back_to_base64() -> None:
    assert chunk_fields("é".encode()[:1], textual=True) == {"data_b64": "ww=="}


def test_write_then_load_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "dir" / "c.json"
    interactions = [minimal(body={"x": 1}), minimal(stream={"kind": "sse", "events": []})]
    write_cassette(path, interactions)
    assert load_cassette(path) == interactions
    assert path.read_bytes() == dump_cassette(interactions)
    assert path.read_bytes().startswith(b'{\n  "version": 1,')
    assert [p.name for p in path.parent.iterdir()] == ["c.json"]  # no temp file left


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (b"{", "is not valid JSON"),
        (b"[]", "expected a JSON object"),
        (b'{"version": 2, "interactions": []}', "unsupported version 2"),
        (b'{"version": 1}', "'interactions' must be a list"),
        (b'{"version": 1, "interactions": [{}]}', r"interactions\[0\].request must be an object"),
        (
            b'{"version": 1, "interactions": [{"request": {"method": "GET", "url": 1, "headers": {}}}]}',
            r"interactions\[0\].request.url must be a str",
        ),
    ],
)
def test_invalid_documents_are_rejected_clearly(
    tmp_path: Path, document: bytes, message: str
) -> None:
    path = tmp_path / "c.json"
    path.write_bytes(document)
    with pytest.raises(CassetteFormatError, match=message):
        load_cassette(path)


@pytest.mark.parametrize(
    ("response", "message"),
    [
        ({"body": {}, "body_text": ""}, "more than one body field: body, body_text"),
        ({"stream": {"kind": "sse", "events": []}, "body_b64": ""}, "both a stream and a body_b64"),
        ({"stream": {"kind": "websocket", "events": []}}, "kind must be 'sse' or 'bytes'"),
        (
            {"stream": {"kind": "sse", "events": [{"data": "x"}]}},
            r"events\[0\]\.t must be a number",
        ),
    ],
)
def test_invalid_responses_are_rejected(
    tmp_path: Path, response: dict[str, Any], message: str
) -> None:
    path = tmp_path / "c.json"
    path.write_bytes(dump_cassette([minimal(**response)]))
    with pytest.raises(CassetteFormatError, match=message):
        Cassette.open(path)


def test_interaction_without_response_needs_an_error(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    interaction: Any = minimal()
    del interaction["response"]
    path.write_bytes(dump_cassette([interaction]))
    with pytest.raises(CassetteFormatError, match="needs a 'response' or an 'error'"):
        load_cassette(path)
    interaction["error"] = {"type": "ConnectError", "message": "refused"}
    path.write_bytes(dump_cassette([interaction]))
    assert load_cassette(path)[0]["error"]["type"] == "ConnectError"


def test_json_body_is_reserialised_compactly() -> None:
    record: ResponseRecord = {"status": 200, "headers": {}, "body": {"a": [1, {"b": None}]}}
    assert body_bytes(record) == b'{"a":[1,{"b":null}]}'
