"""How the contract suite speaks each wire format as a client: paths, bodies, auth, answer readers.

The readers are written from the providers' public wire formats, independently of
`llm_router.formats`, so that a gateway is judged by what its clients would see and not by the
code under test. A reader raises `ContractViolation` naming what it expected and what it got.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import orjson

from llm_router.errors import LLMRouterError
from llm_router.types import ProviderFormat

__all__ = [
    "ANSWER_SCHEMA",
    "DIALECTS",
    "WEATHER_TOOL",
    "ApiRequest",
    "ContractViolation",
    "Dialect",
    "ErrorSeen",
    "ToolCall",
    "ToolSpec",
    "dialect_for",
    "parse_arguments",
    "preview",
]


class ContractViolation(LLMRouterError):
    """The gateway's answer broke the contract; the message says what was expected and seen."""


@dataclass(frozen=True, slots=True)
class ToolSpec:
    name: str
    description: str
    schema: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A tool call as the client saw it: the tool's name and its parsed JSON arguments."""

    name: str
    arguments: Any


@dataclass(frozen=True, slots=True)
class ErrorSeen:
    """An error answer in the caller's format: its machine-readable kind and its message."""

    kind: str | None
    message: str


@dataclass(frozen=True, slots=True)
class ApiRequest:
    """One client request: the path (with query), the JSON body, format-specific headers."""

    path: str
    body: dict[str, Any]
    headers: Mapping[str, str] = field(default_factory=dict)


WEATHER_TOOL = ToolSpec(
    "get_weather",
    "Get the current weather for a city.",
    {
        "type": "object",
        "properties": {"city": {"type": "string", "description": "The city name."}},
        "required": ["city"],
    },
)

ANSWER_SCHEMA: Mapping[str, Any] = {
    "type": "object",
    "properties": {"answer": {"type": "string"}, "confidence": {"type": "number"}},
    "required": ["answer", "confidence"],
    "additionalProperties": False,
}


def _object(value: object, what: str) -> dict[str, Any]:
    if value is None:
        raise ContractViolation(f"{what} is missing")
    if not isinstance(value, dict):
        raise ContractViolation(f"{what}: expected a JSON object, got {preview(value)}")
    return value


def _list(value: object, what: str) -> list[Any]:
    if value is None:
        raise ContractViolation(f"{what} is missing")
    if not isinstance(value, list):
        raise ContractViolation(f"{what}: expected a JSON array, got {preview(value)}")
    return value


def preview(value: object, limit: int = 160) -> str:
    text = orjson.dumps(value).decode() if not isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def parse_arguments(raw: object, what: str) -> Any:
    """Tool arguments: a JSON object, or a string holding one (OpenAI-style)."""
    if isinstance(raw, str):
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise ContractViolation(f"{what}: arguments are not JSON: {raw!r}") from None
    return raw


class Dialect:
    """The client side of one wire format. Subclasses fill in the format's details."""

    format: ProviderFormat
    default_model: str
    #: the error kinds acceptable per situation; an empty set means "not checked"
    error_kinds: Mapping[str, frozenset[str]] = {}

    def path(self, model: str, *, stream: bool) -> str:
        raise NotImplementedError

    def body(
        self,
        model: str,
        prompt: str,
        *,
        stream: bool,
        tool: ToolSpec | None,
        schema: Mapping[str, Any] | None,
    ) -> dict[str, Any]:
        raise NotImplementedError

    def auth_headers(self, api_key: str) -> dict[str, str]:
        return {"authorization": f"Bearer {api_key}"}

    def extra_headers(self) -> dict[str, str]:
        return {}

    def request(
        self,
        model: str,
        prompt: str,
        *,
        stream: bool = False,
        tool: ToolSpec | None = None,
        schema: Mapping[str, Any] | None = None,
    ) -> ApiRequest:
        return ApiRequest(
            self.path(model, stream=stream),
            self.body(model, prompt, stream=stream, tool=tool, schema=schema),
            self.extra_headers(),
        )

    def read_text(self, body: Any) -> str:
        raise NotImplementedError

    def read_tool_calls(self, body: Any) -> list[ToolCall]:
        raise NotImplementedError

    def read_error(self, body: Any, headers: Mapping[str, str]) -> ErrorSeen:
        raise NotImplementedError


class _ChatDialect(Dialect):
    """OpenAI Chat Completions (and Mistral, which differs only in details)."""

    format = ProviderFormat.OPENAI
    default_model = "gpt-4o-mini"
    required_choice: str = "required"

    def path(self, model: str, *, stream: bool) -> str:
        return "/v1/chat/completions"

    def body(
        self,
        model: str,
        prompt: str,
        *,
        stream: bool,
        tool: ToolSpec | None,
        schema: Mapping[str, Any] | None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": prompt}]}
        if stream:
            body["stream"] = True
        if tool is not None:
            function = {
                "name": tool.name,
                "description": tool.description,
                "parameters": tool.schema,
            }
            body["tools"] = [{"type": "function", "function": function}]
            body["tool_choice"] = self.required_choice
        if schema is not None:
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "answer", "schema": schema, "strict": True},
            }
        return body

    def _message(self, body: Any) -> dict[str, Any]:
        choices = _list(_object(body, "response").get("choices"), "response.choices")
        if not choices:
            raise ContractViolation("response.choices is empty")
        return _object(_object(choices[0], "choices[0]").get("message"), "choices[0].message")

    def read_text(self, body: Any) -> str:
        content = self._message(body).get("content")
        if not isinstance(content, str):
            raise ContractViolation(f"choices[0].message.content is {preview(content)}")
        return content

    def read_tool_calls(self, body: Any) -> list[ToolCall]:
        calls = self._message(body).get("tool_calls") or []
        seen = []
        for index, call in enumerate(_list(calls, "choices[0].message.tool_calls")):
            where = f"tool_calls[{index}].function"
            function = _object(_object(call, f"tool_calls[{index}]").get("function"), where)
            name = function.get("name")
            if not isinstance(name, str):
                raise ContractViolation(f"{where}.name is {preview(name)}")
            seen.append(ToolCall(name, parse_arguments(function.get("arguments"), where)))
        return seen

    def read_error(self, body: Any, headers: Mapping[str, str]) -> ErrorSeen:
        error = _object(_object(body, "error body").get("error"), "error body .error")
        message = error.get("message")
        if not isinstance(message, str):
            raise ContractViolation(f"error.message is {preview(message)}")
        kind = error.get("code") or error.get("type")
        return ErrorSeen(str(kind) if kind is not None else None, message)


class OpenAIDialect(_ChatDialect):
    pass


class MistralDialect(_ChatDialect):
    format = ProviderFormat.MISTRAL
    default_model = "mistral-small-latest"
    required_choice = "any"

    def path(self, model: str, *, stream: bool) -> str:
        return "/mistral/v1/chat/completions"

    def read_error(self, body: Any, headers: Mapping[str, str]) -> ErrorSeen:
        error = _object(body, "error body")
        if "detail" in error:  # 422 validation failures
            return ErrorSeen("validation_error", preview(error["detail"]))
        if error.get("object") != "error" or not isinstance(error.get("message"), str):
            raise ContractViolation(
                f'expected Mistral\'s {{"object": "error", "message": ...}}, got {preview(body)}'
            )
        kind = error.get("type")
        return ErrorSeen(str(kind) if kind is not None else None, error["message"])


class ResponsesDialect(Dialect):
    format = ProviderFormat.RESPONSES
    default_model = "gpt-4.1-mini"

    def path(self, model: str, *, stream: bool) -> str:
        return "/v1/responses"

    def body(
        self,
        model: str,
        prompt: str,
        *,
        stream: bool,
        tool: ToolSpec | None,
        schema: Mapping[str, Any] | None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"model": model, "input": prompt}
        if stream:
            body["stream"] = True
        if tool is not None:
            body["tools"] = [
                {
                    "type": "function",
                    "name": tool.name,
                    "description": tool.description,
                    "parameters": tool.schema,
                }
            ]
            body["tool_choice"] = "required"
        if schema is not None:
            body["text"] = {
                "format": {
                    "type": "json_schema",
                    "name": "answer",
                    "schema": schema,
                    "strict": True,
                }
            }
        return body

    def _output(self, body: Any) -> list[dict[str, Any]]:
        items = _list(_object(body, "response").get("output"), "response.output")
        return [_object(item, "output item") for item in items]

    def read_text(self, body: Any) -> str:
        texts = [
            str(part.get("text", ""))
            for item in self._output(body)
            if item.get("type") == "message"
            for part in _list(item.get("content"), "message.content")
            if isinstance(part, dict) and part.get("type") == "output_text"
        ]
        if not texts:
            raise ContractViolation(f"no output_text in response.output: {preview(body)}")
        return "".join(texts)

    def read_tool_calls(self, body: Any) -> list[ToolCall]:
        return [
            ToolCall(str(item.get("name")), parse_arguments(item.get("arguments"), "function_call"))
            for item in self._output(body)
            if item.get("type") == "function_call"
        ]

    def read_error(self, body: Any, headers: Mapping[str, str]) -> ErrorSeen:
        return OpenAIDialect().read_error(body, headers)


class AnthropicDialect(Dialect):
    format = ProviderFormat.ANTHROPIC
    default_model = "claude-sonnet-4-5"
    error_kinds = {
        "rate_limit": frozenset({"rate_limit_error"}),
        "invalid_request": frozenset({"invalid_request_error"}),
        "overloaded": frozenset({"overloaded_error", "api_error"}),
    }

    def path(self, model: str, *, stream: bool) -> str:
        return "/v1/messages"

    def auth_headers(self, api_key: str) -> dict[str, str]:
        return {"x-api-key": api_key}

    def extra_headers(self) -> dict[str, str]:
        return {"anthropic-version": "2023-06-01"}

    def body(
        self,
        model: str,
        prompt: str,
        *,
        stream: bool,
        tool: ToolSpec | None,
        schema: Mapping[str, Any] | None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": model,
            "max_tokens": 1024,
            "messages": [{"role": "user", "content": prompt}],
        }
        if stream:
            body["stream"] = True
        if tool is not None:
            body["tools"] = [
                {"name": tool.name, "description": tool.description, "input_schema": tool.schema}
            ]
            body["tool_choice"] = {"type": "any"}
        if schema is not None:
            body["output_config"] = {"format": {"type": "json_schema", "schema": schema}}
        return body

    def _content(self, body: Any) -> list[dict[str, Any]]:
        message = _object(body, "response")
        if message.get("type") != "message":
            raise ContractViolation(f'expected "type": "message", got {preview(body)}')
        return [_object(b, "content block") for b in _list(message.get("content"), "content")]

    def read_text(self, body: Any) -> str:
        texts = [str(b.get("text", "")) for b in self._content(body) if b.get("type") == "text"]
        if not texts:
            raise ContractViolation(f"no text block in content: {preview(body)}")
        return "".join(texts)

    def read_tool_calls(self, body: Any) -> list[ToolCall]:
        return [
            ToolCall(str(block.get("name")), block.get("input"))
            for block in self._content(body)
            if block.get("type") == "tool_use"
        ]

    def read_error(self, body: Any, headers: Mapping[str, str]) -> ErrorSeen:
        envelope = _object(body, "error body")
        error = _object(envelope.get("error"), "error body .error")
        if envelope.get("type") != "error" or not isinstance(error.get("message"), str):
            raise ContractViolation(
                'expected Anthropic\'s {"type": "error", "error": {"type", "message"}}, got '
                + preview(body)
            )
        kind = error.get("type")
        return ErrorSeen(str(kind) if kind is not None else None, error["message"])


class GoogleDialect(Dialect):
    format = ProviderFormat.GOOGLE
    default_model = "gemini-2.5-flash"
    error_kinds = {
        "rate_limit": frozenset({"RESOURCE_EXHAUSTED"}),
        "invalid_request": frozenset({"INVALID_ARGUMENT", "FAILED_PRECONDITION"}),
        "overloaded": frozenset({"UNAVAILABLE", "INTERNAL"}),
    }

    def path(self, model: str, *, stream: bool) -> str:
        model_part = quote(model, safe="")
        if stream:
            return f"/v1beta/models/{model_part}:streamGenerateContent?alt=sse"
        return f"/v1beta/models/{model_part}:generateContent"

    def auth_headers(self, api_key: str) -> dict[str, str]:
        return {"x-goog-api-key": api_key}

    def body(
        self,
        model: str,
        prompt: str,
        *,
        stream: bool,
        tool: ToolSpec | None,
        schema: Mapping[str, Any] | None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"contents": [{"role": "user", "parts": [{"text": prompt}]}]}
        if tool is not None:
            declaration = {
                "name": tool.name,
                "description": tool.description,
                "parameters": tool.schema,
            }
            body["tools"] = [{"functionDeclarations": [declaration]}]
            body["toolConfig"] = {"functionCallingConfig": {"mode": "ANY"}}
        if schema is not None:
            body["generationConfig"] = {
                "responseMimeType": "application/json",
                "responseJsonSchema": schema,
            }
        return body

    def parts(self, body: Any) -> list[dict[str, Any]]:
        candidates = _list(_object(body, "response").get("candidates"), "response.candidates")
        if not candidates:
            raise ContractViolation(f"no candidates in {preview(body)}")
        content = _object(_object(candidates[0], "candidates[0]").get("content"), "content")
        return [_object(part, "part") for part in _list(content.get("parts"), "content.parts")]

    def read_text(self, body: Any) -> str:
        texts = [
            str(part["text"])
            for part in self.parts(body)
            if isinstance(part.get("text"), str) and not part.get("thought")
        ]
        if not texts:
            raise ContractViolation(f"no text part in {preview(body)}")
        return "".join(texts)

    def read_tool_calls(self, body: Any) -> list[ToolCall]:
        calls = []
        for part in self.parts(body):
            call = part.get("functionCall")
            if isinstance(call, dict):
                calls.append(ToolCall(str(call.get("name")), call.get("args", {})))
        return calls

    def read_error(self, body: Any, headers: Mapping[str, str]) -> ErrorSeen:
        error = _object(_object(body, "error body").get("error"), "error body .error")
        if not isinstance(error.get("code"), int) or not isinstance(error.get("message"), str):
            raise ContractViolation(
                f'expected Google\'s {{"error": {{"code", "message", "status"}}}}, got {preview(body)}'
            )
        kind = error.get("status")
        return ErrorSeen(str(kind) if kind is not None else None, error["message"])


class ConverseDialect(Dialect):
    format = ProviderFormat.CONVERSE
    default_model = "us.anthropic.claude-haiku-4-5-20251001-v1:0"
    error_kinds = {
        "rate_limit": frozenset({"ThrottlingException"}),
        "invalid_request": frozenset({"ValidationException"}),
        "overloaded": frozenset(
            {"ServiceUnavailableException", "ModelNotReadyException", "InternalServerException"}
        ),
    }

    def path(self, model: str, *, stream: bool) -> str:
        # botocore percent-encodes the model id (':' included) in the path.
        verb = "converse-stream" if stream else "converse"
        return f"/model/{quote(model, safe='')}/{verb}"

    def body(
        self,
        model: str,
        prompt: str,
        *,
        stream: bool,
        tool: ToolSpec | None,
        schema: Mapping[str, Any] | None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "messages": [{"role": "user", "content": [{"text": prompt}]}],
            "inferenceConfig": {"maxTokens": 1024},
        }
        if tool is not None:
            spec = {
                "name": tool.name,
                "description": tool.description,
                "inputSchema": {"json": tool.schema},
            }
            body["toolConfig"] = {"tools": [{"toolSpec": spec}], "toolChoice": {"any": {}}}
        if schema is not None:
            definition = {"name": "answer", "schema": orjson.dumps(schema).decode()}
            body["outputConfig"] = {
                "textFormat": {"type": "json_schema", "structure": {"jsonSchema": definition}}
            }
        return body

    def _content(self, body: Any) -> list[dict[str, Any]]:
        output = _object(_object(body, "response").get("output"), "response.output")
        message = _object(output.get("message"), "output.message")
        return [_object(b, "content block") for b in _list(message.get("content"), "content")]

    def read_text(self, body: Any) -> str:
        texts = [str(b["text"]) for b in self._content(body) if isinstance(b.get("text"), str)]
        if not texts:
            raise ContractViolation(f"no text block in output.message: {preview(body)}")
        return "".join(texts)

    def read_tool_calls(self, body: Any) -> list[ToolCall]:
        calls = []
        for block in self._content(body):
            use = block.get("toolUse")
            if isinstance(use, dict):
                calls.append(ToolCall(str(use.get("name")), use.get("input")))
        return calls

    def read_error(self, body: Any, headers: Mapping[str, str]) -> ErrorSeen:
        error = _object(body, "error body")
        message = error.get("message", error.get("Message"))
        if not isinstance(message, str):
            raise ContractViolation(f'expected Bedrock\'s {{"message": ...}}, got {preview(body)}')
        # botocore takes the error code from this header, else from the body's "__type".
        kind = headers.get("x-amzn-errortype") or error.get("__type")
        if not isinstance(kind, str):
            raise ContractViolation("Bedrock error without an x-amzn-ErrorType header or __type")
        return ErrorSeen(kind.split(":", 1)[0].split("#")[-1], message)


DIALECTS: Mapping[ProviderFormat, Dialect] = {
    dialect.format: dialect
    for dialect in (
        OpenAIDialect(),
        ResponsesDialect(),
        AnthropicDialect(),
        GoogleDialect(),
        ConverseDialect(),
        MistralDialect(),
    )
}


def dialect_for(fmt: ProviderFormat | str) -> Dialect:
    return DIALECTS[ProviderFormat.parse(fmt)]
