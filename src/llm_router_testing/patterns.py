"""Regular expressions that cannot stall a server: every search gives up after a time limit.

Test authors write the patterns (scenario rules, scripted conversations), and one careless
pattern such as ``^(a|aa)+$`` backtracks for minutes on a 40-character subject, freezing
every request the fake server is answering. Python's `re` cannot be interrupted, so patterns
compile with the `regex` package, whose matcher checks a deadline while it backtracks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import regex

__all__ = [
    "DEFAULT_TIMEOUT",
    "BoundedPattern",
    "PatternError",
    "PatternTimeoutError",
    "compile_pattern",
]

DEFAULT_TIMEOUT = 0.05
"""Seconds one search may take; a sane pattern on a request-sized subject needs microseconds."""


class PatternError(ValueError):
    """A pattern does not compile, or a search with it ran out of time; the message names it."""


class PatternTimeoutError(PatternError):
    """A search ran longer than its time limit (the pattern backtracks catastrophically)."""


@dataclass(frozen=True, slots=True)
class BoundedPattern:
    """A compiled pattern whose searches take at most `timeout` seconds each."""

    source: str
    where: str = "pattern"
    timeout: float = DEFAULT_TIMEOUT
    _compiled: regex.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.timeout > 0:
            raise PatternError(f"{self.where}: timeout must be positive, got {self.timeout!r}")
        try:
            compiled = regex.compile(self.source)
        except regex.error as error:
            raise PatternError(
                f"{self.where}: bad regular expression {self.source!r}: {error}"
            ) from None
        object.__setattr__(self, "_compiled", compiled)

    def search(self, text: str) -> regex.Match[str] | None:
        """The first match anywhere in `text`, or None; raises `PatternTimeoutError`."""
        return self._bounded(self._compiled.search, text)

    def fullmatch(self, text: str) -> regex.Match[str] | None:
        """A match of the whole of `text`, or None; raises `PatternTimeoutError`."""
        return self._bounded(self._compiled.fullmatch, text)

    def _bounded(
        self, method: Callable[..., regex.Match[str] | None], text: str
    ) -> regex.Match[str] | None:
        try:
            return method(text, timeout=self.timeout)
        except TimeoutError:
            raise PatternTimeoutError(
                f"{self.where}: regular expression {self.source!r} took longer than "
                f"{self.timeout * 1000:g} ms on a {len(text)}-character subject "
                "(it backtracks catastrophically; simplify it)"
            ) from None


def compile_pattern(
    pattern: object, where: str = "pattern", *, timeout: float = DEFAULT_TIMEOUT
) -> BoundedPattern:
    """Compile `pattern` (any value, converted with `str`); `where` names it in errors."""
    return BoundedPattern(str(pattern), where, timeout)
