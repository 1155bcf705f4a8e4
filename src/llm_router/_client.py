"""The router's httpx client: `send` without the machinery the router never asks for.

`httpx.AsyncClient.send` runs an auth flow, a redirect loop, event hooks, a cookie jar update
(which builds a `urllib` request per answer) and wraps the body once more, for every request:
a quarter of the CPU of a short streamed call. The router builds its requests itself, signs
them itself (`llm_router.auth`), never follows redirects, installs no hooks and never sends a
cookie, so a streamed `send` on its own client goes straight to the transport. Anything else
(a request with credentials in its URL, which httpx turns into Basic auth; a per-call `auth`
or `follow_redirects`; a non-streamed send) takes httpx's own path unchanged.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx

__all__ = ["RouterClient"]

# httpx's own logger: its per-request INFO line is kept for those who turn it on.
_httpx_logger = logging.getLogger("httpx")
_DEFAULT: Any = httpx.USE_CLIENT_DEFAULT


class RouterClient(httpx.AsyncClient):
    """An `httpx.AsyncClient` over one transport, with a direct path for streamed sends."""

    def __init__(self, *, transport: httpx.AsyncBaseTransport, timeout: httpx.Timeout) -> None:
        super().__init__(transport=transport, timeout=timeout, follow_redirects=False)
        self._direct = transport
        self._timeouts = timeout.as_dict()

    async def send(
        self,
        request: httpx.Request,
        *,
        stream: bool = False,
        auth: Any = _DEFAULT,
        follow_redirects: Any = _DEFAULT,
    ) -> httpx.Response:
        url = request.url
        if (
            not stream
            or auth is not _DEFAULT
            or follow_redirects is not _DEFAULT
            or url.userinfo
            or self.is_closed
        ):
            return await super().send(
                request, stream=stream, auth=auth, follow_redirects=follow_redirects
            )
        if "timeout" not in request.extensions:
            request.extensions = {**request.extensions, "timeout": self._timeouts}
        response = await self._direct.handle_async_request(request)
        response.request = request
        if _httpx_logger.isEnabledFor(logging.INFO):
            _httpx_logger.info(
                'HTTP Request: %s %s "%s %d %s"',
                request.method,
                url,
                response.http_version,
                response.status_code,
                response.reason_phrase,
            )
        return response
