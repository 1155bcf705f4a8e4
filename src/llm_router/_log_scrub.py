"""A logging filter that keeps credentials out of httpx's and httpcore's own log records.

httpcore traces at DEBUG every response's headers as received (an upstream may echo the key
in them) and httpx logs each request's URL at INFO (a `?key=` query parameter). The router
cannot stop a dependency from logging, so it rewrites those records: each one is formatted
and scrubbed of every credential an in-flight request carries (`llm_router.scrub`), in every
form the scrubber knows. The filter only runs for records a logger actually emits: with
those loggers above DEBUG/INFO it costs nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from llm_router.scrub import Scrubber

__all__ = ["SCRUBBED_LOGGERS", "install_log_scrubber"]

#: The loggers of the HTTP stack under the router's transport (httpcore logs under its
#: module names; a filter on a parent logger does not see its children's records).
SCRUBBED_LOGGERS = (
    "httpx",
    "httpcore",
    "httpcore.connection",
    "httpcore.connection_pool",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
    "httpcore.socks",
)


class _CredentialFilter(logging.Filter):
    def __init__(self, scrubbers: Callable[[], Iterable[Scrubber]]) -> None:
        super().__init__("llm_router.credentials")
        self._scrubbers = scrubbers

    def filter(self, record: logging.LogRecord) -> bool:
        scrubbers = [s for s in self._scrubbers() if s]
        if not scrubbers:
            return True
        try:
            message = record.getMessage()
        except Exception:  # a broken record: let logging report it as it would have
            return True
        scrubbed = message
        for scrubber in scrubbers:
            scrubbed = scrubber.text(scrubbed)
        if scrubbed != message:
            record.msg, record.args = scrubbed, None
        return True


_installed: _CredentialFilter | None = None


def install_log_scrubber(scrubbers: Callable[[], Iterable[Scrubber]]) -> None:
    """Put the filter on every logger of `SCRUBBED_LOGGERS` (idempotent: once per process)."""
    global _installed
    if _installed is None:
        _installed = _CredentialFilter(scrubbers)
    for name in SCRUBBED_LOGGERS:
        logger = logging.getLogger(name)
        if _installed not in logger.filters:
            logger.addFilter(_installed)
