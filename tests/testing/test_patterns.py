"""Bounded regular expressions: searches that cannot stall the server that runs them."""

from __future__ import annotations

import pytest

from llm_router_testing.patterns import (
    BoundedPattern,
    PatternError,
    PatternTimeoutError,
    compile_pattern,
)


def test_search_and_fullmatch_behave_like_re() -> None:
    pattern = compile_pattern(r"^claude-(\w+)", "match.model")
    found = pattern.search("claude-sonnet")
    assert found is not None and found.group(1) == "sonnet"
    assert pattern.search("gpt-4o") is None
    assert compile_pattern("a+b").fullmatch("aab") is not None
    assert compile_pattern("a+b").fullmatch("aabc") is None


def test_a_catastrophic_pattern_times_out_with_a_message_naming_it() -> None:
    pattern = BoundedPattern("^(a|aa)+$", "rules[0].match.model", timeout=0.01)
    with pytest.raises(PatternTimeoutError, match=r"rules\[0\]\.match\.model.*10 ms"):
        pattern.search("a" * 40 + "!")


def test_bad_patterns_and_timeouts_are_pattern_errors() -> None:
    with pytest.raises(PatternError, match=r"match\.path: bad regular expression"):
        compile_pattern("(unclosed", "match.path")
    with pytest.raises(PatternError, match="timeout must be positive"):
        compile_pattern("x", timeout=0)
