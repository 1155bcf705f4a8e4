"""The captured corpus through every translation: each format to each format, for every body.

Every captured request, response and stream (`response-streaming.json`) of every case is
translated from its format to each of the six formats: the 30 directed pairs plus identity.

- Identity is passthrough: request and response bytes come back untouched, stream events too.
- Requests: the translated body validates against the target's own request type where one is
  installed (OpenAI `CompletionCreateParams`, `ResponseCreateParams`, Anthropic
  `MessageCreateParams`, google-genai `Content`/`Tool`/`ToolConfig`/`GenerationConfig`,
  botocore's Converse input shape; there is no Mistral SDK), and the round trip X -> Y -> X
  keeps every text, tool name, tool-call id, argument and result.
- Responses validate against the official SDK types (OpenAI `ChatCompletion` for openai and
  mistral, Responses `Response`, Anthropic `Message`, google-genai `GenerateContentResponse`,
  Converse output against botocore's shapes) with no undeclared field beyond `ALLOWED_EXTRAS`,
  and keep their text, reasoning, tool calls and finish reason.
- Stream events validate one by one (`ChatCompletionChunk` but for ``[DONE]``,
  `ResponseStreamEvent`, `RawMessageStreamEvent`, `GenerateContentResponse` per chunk, the
  ConverseStream event shapes) and the stream keeps its text, reasoning, calls and finish.

Mistral has no captures of its own: its corpus is the Chat Completions captures translated to
Mistral. Every pair runs every case (no cap): the module runs in well under a minute.

Exceptions, each asserted rather than skipped:
- `URL_REFUSALS`: requests with media given by http(s) or gs:// URL cannot go to Converse,
  which cannot fetch URLs; they raise `InvalidRequestError` naming the content part.
- `NOT_STREAMS`: four Vertex Anthropic "stream" captures hold one complete Message (the capture
  accumulated the stream); they are checked as responses instead.
- Documented rewrites the round trip and content checks account for (docs/translation.md):
  Mistral rewrites tool-call ids by a stable hash, Anthropic and Converse replace characters
  outside ``[A-Za-z0-9_-]``; Gemini sends a tool result that is not a JSON object as
  ``{"result": text}`` (``{"error": text}`` when it failed) and drops `is_error`, as do Chat,
  Mistral and Responses; Responses joins leading system messages into `instructions`;
  reasoning from another family is not replayed in requests; finish reasons collapse as each
  target's table says (`_strategies.COLLAPSED_FINISH`).
- The Responses request type requires an `id` on assistant message items, which the renderer
  leaves out on purpose (the API looks up the ids it is sent): validation fills a placeholder.
"""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Iterable
from functools import cache
from typing import Any

import orjson
import pytest
from anthropic.types import Message as AnthropicMessage
from anthropic.types import RawMessageStreamEvent
from anthropic.types.message_create_params import (
    MessageCreateParamsNonStreaming,
    MessageCreateParamsStreaming,
)
from google.genai import types as genai
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from openai.types.chat.completion_create_params import (
    CompletionCreateParamsNonStreaming,
    CompletionCreateParamsStreaming,
)
from openai.types.responses import Response as ResponsesResponse
from openai.types.responses import ResponseStreamEvent
from openai.types.responses.response_create_params import (
    ResponseCreateParamsNonStreaming,
    ResponseCreateParamsStreaming,
)
from pydantic import BaseModel, TypeAdapter

from _strategies import TOOL_IDS, expected_finish, gemini_result
from formats._botocore_shapes import converse_shape, shape_errors, stream_event_shape
from formats._captured import captured, stream_essence
from llm_router.errors import InvalidRequestError
from llm_router.formats import get_format
from llm_router.translate import StreamTranslator, translate_request, translate_response
from llm_router.types import ProviderFormat, StreamEvent
from llm_router.universal import (
    ContentPart,
    DocumentPart,
    Message,
    ReasoningPart,
    RefusalPart,
    Request,
    Response,
    Role,
    StreamDelta,
    TextPart,
    ToolCallPart,
    ToolResultPart,
    arguments_to_object,
)

FORMATS = [f.value for f in ProviderFormat]
#: Captured directory -> the format of its bodies (Bedrock and Vertex Anthropic bodies are
#: Messages bodies, Vertex Gemini bodies generateContent bodies).
SOURCES = {
    "chat-completions": "openai",
    "responses": "responses",
    "anthropic": "anthropic",
    "bedrock-anthropic": "anthropic",
    "vertex-anthropic": "anthropic",
    "google": "google",
    "vertex-google": "google",
    "bedrock": "converse",
}
#: Requests whose media Converse cannot fetch (http(s) and gs:// URLs); in each, the refused
#: part is the second part of the first message.
URL_REFUSALS = {
    ("chat-completions", "chatCompletionsGcsBackedVideoFileParam/request"),
    ("chat-completions", "chatCompletionsUrlBackedVideoFileParam/request"),
    ("chat-completions", "imageUrlMimeTypeFallbackParam/request"),
    ("chat-completions", "imageUrlMimeTypeFallbackParam/followup-request"),
    ("chat-completions", "multimodalRequest/request"),
    ("chat-completions", "multimodalRequest/followup-request"),
    ("mistral", "chatCompletionsGcsBackedVideoFileParam/request"),
    ("mistral", "chatCompletionsUrlBackedVideoFileParam/request"),
    ("mistral", "imageUrlMimeTypeFallbackParam/request"),
    ("mistral", "imageUrlMimeTypeFallbackParam/followup-request"),
    ("mistral", "multimodalRequest/request"),
    ("mistral", "multimodalRequest/followup-request"),
    ("responses", "multimodalRequest/request"),
    ("responses", "multimodalRequest/followup-request"),
    ("responses", "responsesInputFileUrlParam/request"),
    ("responses", "responsesInputFileUrlParam/followup-request"),
    ("google", "imageUrlMimeTypeFallbackParam/request"),
    ("vertex-google", "chatCompletionsGcsBackedVideoFileParam/request"),
}
REFUSED_PART = "messages[0].content[1]"
NOT_STREAMS = {
    ("vertex-anthropic", "simpleRequest/response-streaming"),
    ("vertex-anthropic", "simpleRequest/followup-response-streaming"),
    ("vertex-anthropic", "toolCallRequest/response-streaming"),
    ("vertex-anthropic", "toolCallRequest/followup-response-streaming"),
}
#: Undeclared fields the SDK types keep as extras: `reasoning_content` is the documented
#: non-standard Chat field for reasoning; the Responses renderer also names the function in
#: `function_call_arguments.done` events, a field the SDK type does not declare.
ALLOWED_EXTRAS = {
    ("ChatCompletionMessage", "reasoning_content"),
    ("ChoiceDelta", "reasoning_content"),
    ("ResponseFunctionCallArgumentsDoneEvent", "name"),
}

# --------------------------------------------------------------------------- corpus


@cache
def corpus(kind: str) -> list[tuple[str, str, str, Any]]:
    """(directory, body name, format, decoded body) of every capture of `kind`, Mistral derived."""
    out = []
    for directory, fmt in SOURCES.items():
        for name, body in captured(directory, kind):
            out.append((directory, name.removesuffix(".json"), fmt, body))
    for _, name, _, body in [c for c in out if c[0] == "chat-completions"]:
        out.append(("mistral", name, "mistral", _to_mistral(kind, body)))
    return out


def _to_mistral(kind: str, body: Any) -> Any:
    if kind == "request":
        return orjson.loads(translate_request(orjson.dumps(body), "openai", "mistral"))
    if kind == "response":
        return orjson.loads(translate_response(orjson.dumps(body), "openai", "mistral"))
    translator = StreamTranslator("openai", "mistral")
    events = [e for event in body for e in translator.feed(event)] + translator.finish()
    return [orjson.loads(e.data) for e in events if e.data != b"[DONE]"]


def _params(kind: str, skip: Iterable[tuple[str, str]] = ()) -> list[Any]:
    left_out = set(skip)
    return [
        pytest.param(directory, name, fmt, target, body, id=f"{fmt}->{target}:{directory}/{name}")
        for directory, name, fmt, body in corpus(kind)
        if (directory, name) not in left_out
        for target in FORMATS
    ]


# --------------------------------------------------------------------------- SDK validation


@cache
def _adapter(kind: Any) -> TypeAdapter[Any]:
    return TypeAdapter(kind)


_RESPONSE_TYPES: dict[str, Any] = {
    "openai": ChatCompletion,
    "mistral": ChatCompletion,
    "responses": ResponsesResponse,
    "anthropic": AnthropicMessage,
    "google": genai.GenerateContentResponse,
}
_EVENT_TYPES: dict[str, Any] = {
    "openai": ChatCompletionChunk,
    "mistral": ChatCompletionChunk,
    "responses": ResponseStreamEvent,
    "anthropic": RawMessageStreamEvent,
    "google": genai.GenerateContentResponse,
}
_REQUEST_TYPES: dict[str, tuple[Any, Any]] = {
    "openai": (CompletionCreateParamsNonStreaming, CompletionCreateParamsStreaming),
    "responses": (ResponseCreateParamsNonStreaming, ResponseCreateParamsStreaming),
    "anthropic": (MessageCreateParamsNonStreaming, MessageCreateParamsStreaming),
}
_GEMINI_FIELDS: dict[str, Any] = {
    "contents": list[genai.Content],
    "systemInstruction": genai.Content,
    "tools": list[genai.Tool],
    "toolConfig": genai.ToolConfig,
    "generationConfig": genai.GenerationConfig,
    "safetySettings": list[genai.SafetySetting],
    "cachedContent": str,
    "labels": dict[str, str],
}


def undeclared(model: Any, path: str = "$") -> list[str]:
    """Fields an SDK model kept as extras (beyond `ALLOWED_EXTRAS`), recursively."""
    found: list[str] = []
    if isinstance(model, BaseModel):
        name = type(model).__name__
        found += [f"{path}.{k}" for k in model.model_extra or {} if (name, k) not in ALLOWED_EXTRAS]
        for key in type(model).model_fields:
            found += undeclared(getattr(model, key), f"{path}.{key}")
    elif isinstance(model, list):
        for i, item in enumerate(model):
            found += undeclared(item, f"{path}[{i}]")
    return found


def validate_request(target: str, body: dict[str, Any]) -> None:
    if target == "converse":
        assert shape_errors(body, converse_shape("input")) == []
    elif target == "google":
        for key, value in body.items():
            assert key in _GEMINI_FIELDS, f"unknown generateContent field {key!r}"
            _adapter(_GEMINI_FIELDS[key]).validate_python(value)
    elif target in _REQUEST_TYPES:
        if target == "responses":
            body = {**body, "input": [_with_item_id(i) for i in body["input"]]}
        plain, streaming = _REQUEST_TYPES[target]
        # Bodies from formats with the model in the URL carry none.
        _adapter(streaming if body.get("stream") else plain).validate_python(
            {"model": "model-x", **body}
        )


def _with_item_id(item: dict[str, Any]) -> dict[str, Any]:
    if item.get("type") == "message" and item.get("role") == "assistant" and "id" not in item:
        return {**item, "id": "msg_placeholder"}
    return item


def validate_response(target: str, body: dict[str, Any]) -> None:
    if target == "converse":
        assert shape_errors(body, converse_shape("output")) == []
        return
    model = _adapter(_RESPONSE_TYPES[target]).validate_python(body)
    assert undeclared(model) == []


def validate_event(target: str, event: StreamEvent) -> None:
    payload = orjson.loads(event.data)
    if target == "converse":
        assert event.event is not None
        assert shape_errors(payload, stream_event_shape(event.event)) == []
        return
    model = _adapter(_EVENT_TYPES[target]).validate_python(payload)
    assert undeclared(model) == []
    if target in ("anthropic", "responses"):
        assert event.event == payload["type"]


# --------------------------------------------------------------------------- what must survive


def essence(messages: Iterable[Message]) -> list[tuple[Any, ...]]:
    """Texts, tool calls and tool results in order, system and developer texts first.

    Anthropic, Gemini and Converse hoist system prompts out of the conversation, so their
    position is not compared. Plain-text documents and refusals count as texts: formats
    without those parts send them as text.
    """
    ordered = [m for m in messages if m.role in (Role.SYSTEM, Role.DEVELOPER)]
    ordered += [m for m in messages if m.role not in (Role.SYSTEM, Role.DEVELOPER)]
    out: list[tuple[Any, ...]] = []
    for part in (p for m in ordered for p in m.content):
        text = _text_of(part)
        if text:
            out.append(("text", text))
        elif isinstance(part, ToolCallPart):
            out.append(("call", part.id, part.name, arguments_to_object(part.arguments)))
        elif isinstance(part, ToolResultPart):
            texts = tuple(t for c in part.content if (t := _text_of(c)))
            out.append(("result", part.call_id, texts, part.is_error))
    return out


def _text_of(part: ContentPart) -> str | None:
    if isinstance(part, TextPart | RefusalPart):
        return part.text
    if isinstance(part, DocumentPart):
        if part.text is None and part.data is not None and part.media_type == "text/plain":
            return base64.b64decode(part.data).decode()  # Anthropic sends these as text
        return part.text
    return None


def expected_round_trip(req: Request, via: str, home: str) -> Request:
    """`req` as it comes back from a trip through `via`: the documented rewrites applied."""
    rename = TOOL_IDS.get(via, str)
    back = TOOL_IDS.get(home, str)
    messages = []
    for m in req.messages:
        parts: list[ContentPart] = []
        for p in m.content:
            if isinstance(p, ToolCallPart):
                p = dataclasses.replace(p, id=back(rename(p.id)))
            elif isinstance(p, ToolResultPart):
                p = _result_via(p, via, back(rename(p.call_id)))
            parts.append(p)
        messages.append(dataclasses.replace(m, content=tuple(parts)))
    if via == "responses":
        messages = _leading_system_joined(messages)
    return dataclasses.replace(req, messages=tuple(messages))


def _result_via(p: ToolResultPart, via: str, call_id: str) -> ToolResultPart:
    if via == "google":
        text = "".join(t for c in p.content if (t := _text_of(c)))
        p = dataclasses.replace(p, content=(TextPart(gemini_result(text, p.is_error)),))
    if via not in ("anthropic", "converse"):
        p = dataclasses.replace(p, is_error=False)  # no such flag on the wire
    return dataclasses.replace(p, call_id=call_id)


def _leading_system_joined(messages: list[Message]) -> list[Message]:
    """Responses sends the leading system messages as one `instructions` string."""
    lead = 0
    while lead < len(messages) and messages[lead].role is Role.SYSTEM:
        lead += 1
    if lead == 0:
        return messages
    texts = [p.text for m in messages[:lead] for p in m.content if isinstance(p, TextPart)]
    joined = Message(Role.SYSTEM, (TextPart("\n\n".join(texts)),))
    return [joined, *messages[lead:]]


def answer_essence(resp: Response, target: str | None = None) -> dict[str, Any]:
    """Text, reasoning paragraphs and calls of an answer; `target` applies its rewrites."""
    rename = TOOL_IDS.get(target or "", str)
    refusal_is_text = target in ("mistral", "anthropic", "google", "converse")
    text = "".join(
        p.text
        for p in resp.content
        if isinstance(p, TextPart) or (refusal_is_text and isinstance(p, RefusalPart))
    )
    refusal = "".join(p.text for p in resp.content if isinstance(p, RefusalPart))
    reasoning = [
        r for p in resp.content if isinstance(p, ReasoningPart) and (r := p.text or "\n\n".join(p.summary))
    ]  # fmt: skip
    calls = [
        (rename(p.id), p.name, arguments_to_object(p.arguments))
        for p in resp.content
        if isinstance(p, ToolCallPart)
    ]
    return {
        "text": text,
        "refusal": "" if refusal_is_text else refusal,
        "reasoning": "\n\n".join(reasoning),
        "calls": calls,
    }


# --------------------------------------------------------------------------- requests


@pytest.mark.parametrize(("directory", "name", "source", "target", "body"), _params("request"))
def test_request(directory: str, name: str, source: str, target: str, body: Any) -> None:
    raw = orjson.dumps(body)
    if source == target:
        assert translate_request(raw, source, target) is raw
        return
    if target == "converse" and (directory, name) in URL_REFUSALS:
        with pytest.raises(InvalidRequestError, match="Converse cannot fetch") as info:
            translate_request(raw, source, target)
        assert info.value.path == REFUSED_PART
        return
    out = translate_request(raw, source, target)
    validate_request(target, orjson.loads(out))
    home = get_format(source)
    back = home.parse_request(orjson.loads(translate_request(out, target, source)))
    expected = expected_round_trip(home.parse_request(body), target, source)
    assert essence(back.messages) == essence(expected.messages)
    tool_names = [t.name for t in expected.tools if hasattr(t, "name")]
    assert [t.name for t in back.tools if hasattr(t, "name")] == tool_names


# --------------------------------------------------------------------------- responses


@pytest.mark.parametrize(("directory", "name", "source", "target", "body"), _params("response"))
def test_response(directory: str, name: str, source: str, target: str, body: Any) -> None:
    raw = orjson.dumps(body)
    if source == target:
        assert translate_response(raw, source, target) is raw
        return
    out = orjson.loads(translate_response(raw, source, target))
    validate_response(target, out)
    before = get_format(source).parse_response(body)
    after = get_format(target).parse_response(out)
    assert answer_essence(after) == answer_essence(before, target)
    calls = any(isinstance(p, ToolCallPart) for p in before.content)
    assert after.finish_reason is expected_finish(before.finish_reason, target, calls)


# --------------------------------------------------------------------------- streams


def _translate_stream(events: list[Any], source: str, target: str) -> list[StreamEvent]:
    translator = StreamTranslator(source, target)
    out = [e for event in events for e in translator.feed(orjson.dumps(event))]
    return out + translator.finish()


def _parse_stream(events: Iterable[Any], fmt: str) -> list[StreamDelta]:
    parser = get_format(fmt).StreamParser()
    return [d for event in events for d in parser.feed(event)] + parser.finish()


@pytest.mark.parametrize(
    ("directory", "name", "source", "target", "events"),
    _params("response-streaming", skip=NOT_STREAMS),
)
def test_stream(directory: str, name: str, source: str, target: str, events: Any) -> None:
    out = _translate_stream(events, source, target)
    if source == target:
        payloads = [orjson.loads(e.data) for e in out if e.data != b"[DONE]"]
        if target == "converse":
            payloads = [{e.event: p} for e, p in zip(out, payloads, strict=True)]
        assert payloads == events
        assert (out[-1].data == b"[DONE]") is (target in ("openai", "mistral"))
        return
    for event in out:
        if event.data != b"[DONE]":
            validate_event(target, event)
    decoded = [orjson.loads(e.data) for e in out if e.data != b"[DONE]"]
    if target == "converse":
        decoded = [{e.event: d} for e, d in zip(out, decoded, strict=True)]
    before = stream_essence(_parse_stream(events, source))
    after = stream_essence(_parse_stream(decoded, target))
    rename = TOOL_IDS.get(target, str)
    assert after["text"] == before["text"]
    assert after["reasoning"] == before["reasoning"]
    assert after["calls"] == [(rename(i), n, a) for i, n, a in before["calls"]]
    if before["finish"] is not None:
        calls = bool(before["calls"])
        assert after["finish"] is expected_finish(before["finish"], target, calls)


@pytest.mark.parametrize(("directory", "name"), sorted(NOT_STREAMS))
def test_not_streams_are_whole_messages(directory: str, name: str) -> None:
    """The listed "stream" captures are complete Messages, and translate as responses."""
    [events] = [b for d, n, _, b in corpus("response-streaming") if (d, n) == (directory, name)]
    [message] = events
    assert message["type"] == "message"
    for target in FORMATS:
        if target != "anthropic":
            validate_response(
                target, orjson.loads(translate_response(message, "anthropic", target))
            )
