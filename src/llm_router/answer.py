"""What a finished call reports besides its bytes: usage, cost and text, read at most once.

A translated answer was parsed into the universal `Response` on its way through, so its
usage and text come for free. A passed-through body was never parsed: it is read here the
first time someone asks (the result's `usage`, `cost` or `text`, or a hook that wants usage),
never on the hot path of a caller who does not.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from llm_router.errors import LLMRouterError
from llm_router.translate import parse_response
from llm_router.types import ProviderFormat
from llm_router.universal import Response, TextPart, Usage

if TYPE_CHECKING:
    from llm_router.catalog import Catalog

__all__ = ["Answer", "Pricer", "text_of"]


class Pricer:
    """Prices usage for one route: the first of `names` the catalog knows, at its prices."""

    __slots__ = ("_catalog", "_names")

    def __init__(self, catalog: Catalog, names: Sequence[str]) -> None:
        self._catalog = catalog
        self._names = tuple(names)

    def cost(self, usage: Usage | None) -> float | None:
        """Dollars for `usage`; None without usage, or when the catalog has no price for it."""
        if usage is None:
            return None
        for name in self._names:
            spec = self._catalog.find(name)
            if spec is not None:
                try:
                    return self._catalog.cost(spec, usage)
                except LLMRouterError:  # a price the catalog lacks: unknown, not zero
                    return None
        return None


_UNREAD = object()


class Answer:
    """One complete answer: its bytes in the caller's format, and what they say, read lazily."""

    __slots__ = ("_cost", "_parsed", "_pricer", "body", "format", "headers")

    def __init__(
        self,
        body: bytes,
        fmt: ProviderFormat,
        parsed: Response | None,
        pricer: Pricer,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.body = body
        self.format = fmt
        self.headers: Mapping[str, str] = headers if headers is not None else {}
        self._parsed: object = _UNREAD if parsed is None else parsed
        self._pricer = pricer
        self._cost: object = _UNREAD

    @property
    def response(self) -> Response | None:
        """The universal answer (None if the body cannot be read as the format says)."""
        if self._parsed is _UNREAD:
            try:
                self._parsed = parse_response(self.body, self.format)
            except LLMRouterError:
                self._parsed = None
        return self._parsed  # type: ignore[return-value]

    @property
    def usage(self) -> Usage | None:
        response = self.response
        return None if response is None else response.usage

    @property
    def cost(self) -> float | None:
        if self._cost is _UNREAD:
            self._cost = self._pricer.cost(self.usage)
        return self._cost  # type: ignore[return-value]

    @property
    def text(self) -> str:
        response = self.response
        return "" if response is None else text_of(response)


def text_of(response: Response) -> str:
    """The answer's text parts, concatenated (no reasoning, no tool calls)."""
    return "".join(part.text for part in response.content if isinstance(part, TextPart))
