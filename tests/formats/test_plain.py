"""The plain readers and writers agree with the general path, byte for byte.

A reader may decline a body (None: the general path takes it), but whenever it reads one, the
writer of every target must give the bytes `render_request(parse_request(body))` gives, and it
must decline every body the general path rejects, so that errors always come from the general
path. Checked on the captured corpus, on every field of it replaced by values of each JSON type
or left out, and on generated bodies.
"""

from __future__ import annotations

import functools
from typing import Any

import orjson
import pytest
from _captured import captured
from _mutations import TRICKY, paths, removed, replaced
from hypothesis import given, settings
from hypothesis import strategies as st

from llm_router.errors import InvalidRequestError
from llm_router.formats import _plain, get_format
from llm_router.translate import translate_request
from llm_router.types import ProviderFormat

SOURCES = ("openai", "mistral", "anthropic", "google", "converse", "responses")
TARGETS = ("openai", "mistral", "anthropic", "google", "converse", "responses")
PAIRS = [(s, t) for s in SOURCES for t in TARGETS if s != t]
CAPTURED = {
    "openai": ("chat-completions",),
    "anthropic": ("anthropic", "bedrock-anthropic", "vertex-anthropic"),
    "google": ("google", "vertex-google"),
    "converse": ("bedrock",),
    "responses": ("responses",),
}


@functools.cache
def _corpus(fmt: str) -> list[Any]:
    if fmt == "mistral":  # no captures of its own: the Chat ones, translated
        return [orjson.loads(translate_request(orjson.dumps(b), "openai", fmt)) for b in _corpus("openai")]  # fmt: skip
    return [body for d in CAPTURED[fmt] for _, body in captured(d, "request")]


def _general(body: Any, source: str, target: str, default_max_tokens: int | None) -> bytes:
    request = get_format(source).parse_request(body)
    return orjson.dumps(get_format(target).render_request(request, default_max_tokens=default_max_tokens))  # fmt: skip


def agrees(source: str, target: str, body: Any) -> bool:
    """Assert agreement on `body`; True when the plain reader took it."""
    read = _plain.reader(ProviderFormat(source))
    write = _plain.writer(ProviderFormat(target))
    assert read is not None and write is not None
    plain = read(body) if type(body) is dict else None
    for default_max_tokens in (None, 1000):
        try:
            expected = _general(body, source, target, default_max_tokens)
        except Exception:  # the general path's error, whatever it is: the reader must decline
            assert plain is None, "the plain reader accepted a body the general path rejects"
            return False
        if plain is not None:
            assert orjson.dumps(write(plain, default_max_tokens)) == expected
    return plain is not None


@pytest.mark.parametrize(("source", "target"), PAIRS)
def test_plain_path_takes_and_agrees_on_the_corpus(source: str, target: str) -> None:
    taken = sum(agrees(source, target, body) for body in _corpus(source))
    assert taken > 0  # the captured plain bodies do take it


@pytest.mark.parametrize("source", SOURCES)
def test_plain_path_agrees_with_every_field_replaced(source: str) -> None:
    read = _plain.reader(ProviderFormat(source))
    assert read is not None
    for body in _corpus(source):
        if read(body) is None:
            continue  # a body the reader declines: mutations of it say little
        for path in paths(body):
            if len(path) > 5:
                continue
            bodies = [replaced(body, path, value) for value in TRICKY]
            if path:
                bodies.append(removed(body, path))
            for changed in bodies:
                for target in TARGETS:
                    if target != source:
                        agrees(source, target, changed)


# Fields a plain body may have, or that a reader must see to decline, per source: added to
# every captured body the reader takes, with each value.
ADDED: dict[str, list[tuple[str, ...]]] = {
    "openai": [
        ("model",), ("max_tokens",), ("max_completion_tokens",), ("temperature",), ("top_p",),
        ("stop",), ("seed",), ("random_seed",), ("presence_penalty",), ("frequency_penalty",),
        ("stream",), ("n",), ("messages", 0, "name"), ("messages", 0, "refusal"),
        ("messages", 0, "tool_calls"), ("messages", 0, "cache_control"), ("response_format",),
        ("response_format", "type"), ("response_format", "json_schema"),
        ("response_format", "json_schema", "schema"), ("response_format", "json_schema", "name"),
        ("response_format", "json_schema", "strict"), ("reasoning_effort",), ("tools",),
        ("tool_choice",), ("parallel_tool_calls",), ("tools", 0, "type"), ("tools", 0, "function"),
        ("tools", 0, "function", "name"), ("tools", 0, "function", "parameters"),
        ("tools", 0, "function", "strict"), ("tool_choice", "type"), ("tool_choice", "function"),
    ],
    "anthropic": [
        ("model",), ("max_tokens",), ("system",), ("temperature",), ("top_p",), ("top_k",),
        ("stop_sequences",), ("anthropic_version",), ("stream",), ("metadata",),
        ("messages", 0, "cache_control"), ("output_config",), ("output_config", "format"),
        ("output_config", "effort"), ("output_config", "format", "type"),
        ("output_config", "format", "schema"), ("output_format",), ("thinking",),
        ("thinking", "type"), ("thinking", "budget_tokens"), ("thinking", "display"), ("tools",),
        ("tools", 0, "name"), ("tools", 0, "input_schema"), ("tools", 0, "type"),
        ("tools", 0, "cache_control"), ("tool_choice",), ("tool_choice", "type"),
        ("tool_choice", "name"), ("tool_choice", "disable_parallel_tool_use"),
    ],
    "google": [
        ("model",), ("systemInstruction",), ("generationConfig",),
        ("generationConfig", "maxOutputTokens"), ("generationConfig", "temperature"),
        ("generationConfig", "topP"), ("generationConfig", "topK"), ("generationConfig", "seed"),
        ("generationConfig", "presencePenalty"), ("generationConfig", "frequencyPenalty"),
        ("generationConfig", "stopSequences"), ("generationConfig", "candidateCount"),
        ("generationConfig", "max_output_tokens"), ("contents", 0, "role"),
        ("generationConfig", "responseMimeType"), ("generationConfig", "responseJsonSchema"),
        ("generationConfig", "responseSchema"), ("generationConfig", "thinkingConfig"),
        ("generationConfig", "thinkingConfig", "thinkingBudget"),
        ("generationConfig", "thinkingConfig", "thinkingLevel"),
        ("generationConfig", "thinkingConfig", "includeThoughts"), ("tools",), ("toolConfig",),
        ("tools", 0, "functionDeclarations"), ("tools", 0, "googleSearch"),
        ("toolConfig", "functionCallingConfig"), ("toolConfig", "functionCallingConfig", "mode"),
        ("toolConfig", "functionCallingConfig", "allowedFunctionNames"),
    ],
    "converse": [
        ("modelId",), ("system",), ("inferenceConfig",), ("inferenceConfig", "maxTokens"),
        ("inferenceConfig", "temperature"), ("inferenceConfig", "topP"),
        ("inferenceConfig", "stopSequences"), ("inferenceConfig", "other"), ("toolConfig",),
        ("toolConfig", "tools"), ("toolConfig", "toolChoice"), ("toolConfig", "tools", 0, "toolSpec"),
        ("messages", 0, "role"),
    ],
}  # fmt: skip
ADDED["responses"] = [
    ("tool_choice",),
    ("parallel_tool_calls",),
    ("tools", 0, "type"),
    ("tools", 0, "name"),
    ("tools", 0, "parameters"),
    ("tools", 0, "strict"),
    ("tool_choice", "type"),
    ("tool_choice", "name"),
    ("model",),
    ("instructions",),
    ("max_output_tokens",),
    ("temperature",),
    ("top_p",),
    ("text",),
    ("text", "format"),
    ("text", "verbosity"),
    ("text", "format", "type"),
    ("reasoning",),
    ("reasoning", "effort"),
    ("reasoning", "summary"),
    ("reasoning", "other"),
    ("input",),
    ("input", 0, "type"),
    ("input", 0, "role"),
    ("input", 0, "id"),
    ("input", 0, "content"),
    ("stream",),
    ("tools",),
    ("user",),
]
ADDED["mistral"] = ADDED["openai"]


def _added(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    """`value` with `new` set at `path` (missing objects on the way made), or None."""
    head, rest = path[0], path[1:]
    if isinstance(value, list):
        if not isinstance(head, int) or head >= len(value) or not rest:
            return None
        inner = _added(value[head], rest, new)
        return None if inner is None else [inner if i == head else v for i, v in enumerate(value)]
    if not isinstance(value, dict) or isinstance(head, int):
        return None
    if not rest:
        return {**value, head: new}
    inner = _added(value.get(head, {}), rest, new)
    return None if inner is None else {**value, head: inner}


@pytest.mark.parametrize("source", SOURCES)
def test_plain_path_agrees_with_fields_added(source: str) -> None:
    read = _plain.reader(ProviderFormat(source))
    assert read is not None
    for body in _corpus(source):
        if read(body) is None:
            continue
        for path in ADDED[source]:
            for value in TRICKY:
                changed = _added(body, path, value)
                if changed is not None:
                    for target in TARGETS:
                        if target != source:
                            agrees(source, target, changed)


def test_a_bad_plain_looking_body_gets_the_general_paths_error() -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "temperature": "hot"}
    with pytest.raises(InvalidRequestError) as caught:
        translate_request(orjson.dumps(body), "openai", "anthropic")
    assert caught.value.path == "temperature"


# --------------------------------------------------------------------------- generated bodies

# Tool lists and choices of each format's shapes (and of the others').
TOOLISH: list[Any] = [
    [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
    [{"type": "function", "name": "f", "parameters": {"type": "object"}, "strict": True}],
    [{"name": "f", "input_schema": {"type": "object"}}],
    [{"type": "web_search_20250305", "name": "web_search"}],
    [{"functionDeclarations": [{"name": "f", "parametersJsonSchema": {"type": "object"}}]}],
    {"tools": [{"toolSpec": {"name": "f", "inputSchema": {"json": {"type": "object"}}}}]},
    "auto", "none", "required", "any",
    {"type": "function", "function": {"name": "f"}},
    {"type": "function", "name": "f"},
    {"type": "auto"}, {"type": "any", "disable_parallel_tool_use": True}, {"type": "tool", "name": "f"},
    {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["f"]}},
]  # fmt: skip
_VALUES = st.one_of(
    st.sampled_from(TOOLISH),
    st.sampled_from(TRICKY),
    st.integers(-3, 10**6),
    st.floats(-2, 2, allow_nan=False),
    st.text(max_size=4),
    st.lists(st.text(max_size=3), max_size=3),
)
_TEXTS = st.one_of(st.sampled_from(["", "hi", "there"]), st.text(max_size=5))
_MAYBE = st.one_of(_TEXTS, _VALUES)  # mostly a text, sometimes anything


def _settings(keys: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    return st.dictionaries(st.sampled_from(keys), _VALUES, max_size=3)


def _chat_turn() -> st.SearchStrategy[dict[str, Any]]:
    base = st.fixed_dictionaries(
        {
            "role": st.sampled_from(["user", "system", "developer", "assistant", "tool", "x"]),
            "content": _MAYBE,
        }
    )
    extra = _settings(["name", "refusal", "annotations", "tool_calls", "reasoning", "audio"])
    return st.builds(lambda b, e: {**b, **e}, base, extra)


def _anthropic_content() -> st.SearchStrategy[Any]:
    block = st.fixed_dictionaries({"type": st.sampled_from(["text", "image"]), "text": _MAYBE})
    return st.one_of(_MAYBE, st.lists(block, max_size=2))


def _gemini_content() -> st.SearchStrategy[Any]:
    part = st.one_of(st.fixed_dictionaries({"text": _MAYBE}), st.sampled_from(TRICKY))
    return st.fixed_dictionaries(
        {"parts": st.lists(part, max_size=2)},
        optional={"role": st.sampled_from(["user", "model", "function", "", "x", None])},
    )


def _converse_content() -> st.SearchStrategy[Any]:
    block = st.one_of(st.fixed_dictionaries({"text": _MAYBE}), st.sampled_from(TRICKY))
    return st.lists(block, max_size=2)


_CHAT_SETTINGS = [
    "model", "max_tokens", "max_completion_tokens", "temperature", "top_p", "stop", "seed",
    "random_seed", "presence_penalty", "frequency_penalty", "stream", "n", "tools", "tool_choice",
    "parallel_tool_calls",
]  # fmt: skip
GENERATED: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    "openai": st.builds(
        lambda turns, rest: {"messages": turns, **rest},
        st.lists(_chat_turn(), max_size=4),
        _settings(_CHAT_SETTINGS),
    ),
    "anthropic": st.builds(
        lambda turns, system, rest: {"messages": turns, **system, **rest},
        st.lists(
            st.fixed_dictionaries(
                {
                    "role": st.sampled_from(["user", "assistant", "system", "x"]),
                    "content": _anthropic_content(),
                }
            ),
            max_size=4,
        ),
        st.dictionaries(st.just("system"), _anthropic_content(), max_size=1),
        _settings(
            [
                "model",
                "max_tokens",
                "temperature",
                "top_p",
                "top_k",
                "stop_sequences",
                "anthropic_version",
                "stream",
                "metadata",
            ]
        ),
    ),
    "google": st.builds(
        lambda contents, system, gen, rest: {
            "contents": contents,
            **system,
            **({"generationConfig": gen} if gen else {}),
            **rest,
        },
        st.lists(_gemini_content(), max_size=4),
        st.dictionaries(
            st.just("systemInstruction"), st.one_of(_gemini_content(), _MAYBE), max_size=1
        ),
        _settings(
            [
                "maxOutputTokens",
                "temperature",
                "topP",
                "topK",
                "seed",
                "presencePenalty",
                "frequencyPenalty",
                "stopSequences",
                "candidateCount",
            ]
        ),
        _settings(["model", "tools", "toolConfig"]),
    ),
    "converse": st.builds(
        lambda turns, system, inference, rest: {
            "messages": turns,
            **system,
            **({"inferenceConfig": inference} if inference else {}),
            **rest,
        },
        st.lists(
            st.fixed_dictionaries(
                {
                    "role": st.sampled_from(["user", "assistant", "x"]),
                    "content": _converse_content(),
                }
            ),
            max_size=4,
        ),
        st.dictionaries(st.just("system"), _converse_content(), max_size=1),
        _settings(["maxTokens", "temperature", "topP", "stopSequences", "other"]),
        _settings(["modelId", "toolConfig"]),
    ),
}
GENERATED["responses"] = st.builds(
    lambda items, rest: {"input": items, **rest},
    st.one_of(
        _MAYBE,
        st.lists(
            st.builds(
                lambda item, extra: {**item, **extra},
                st.fixed_dictionaries(
                    {
                        "role": st.sampled_from(["user", "assistant", "system", "developer", "x"]),
                        "content": _MAYBE,
                    }
                ),
                _settings(["type", "id"]),
            ),
            max_size=4,
        ),
    ),
    _settings(
        ["model", "instructions", "max_output_tokens", "temperature", "top_p", "text",
         "reasoning", "stream", "tools", "tool_choice", "parallel_tool_calls"]
    ),
)  # fmt: skip
GENERATED["mistral"] = GENERATED["openai"]


@pytest.mark.parametrize("source", SOURCES)
@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_plain_path_agrees_on_generated_bodies(source: str, data: st.DataObject) -> None:
    body = data.draw(GENERATED[source])
    for target in TARGETS:
        if target != source:
            agrees(source, target, body)
