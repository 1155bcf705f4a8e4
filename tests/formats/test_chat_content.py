"""Chat content parts: text parts read directly agree with the general part reader."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from llm_router.errors import TranslationError
from llm_router.formats._chat_content import _parse_part, parse_parts

_ABSENT = object()


def _key(values: list[Any]) -> st.SearchStrategy[Any]:
    return st.sampled_from([_ABSENT, *values])


_parts = st.one_of(
    st.fixed_dictionaries(
        {
            "type": _key(["text", "refusal", "nope", None, ["x"]]),
            "text": _key(["hi", "", None, 4]),
            "refusal": _key(["no"]),
            "cache_control": _key([None, {"type": "ephemeral"}, "x", 1]),
        }
    ).map(lambda d: {k: v for k, v in d.items() if v is not _ABSENT}),
    st.sampled_from([None, "x", 3, []]),
)


def _outcome(fn: Any) -> Any:
    try:
        return fn()
    except TranslationError as exc:
        return ("error", exc.message, exc.path)


@settings(max_examples=500)
@given(_parts, st.sampled_from([None, "openai", "mistral"]))
def test_text_parts_read_as_the_general_part_reader_reads_them(
    part: Any, origin: str | None
) -> None:
    got = _outcome(lambda: parse_parts([part], "messages[0]", origin))
    assert got == _outcome(lambda: (_parse_part(part, "messages[0].content[0]", origin),))
