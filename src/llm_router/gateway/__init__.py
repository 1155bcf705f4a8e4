"""The deployable gateway: an ASGI app in front of a Router, speaking every provider's paths.

`app` holds the ASGI application and its caller paths; `errors` renders router errors in the
caller's format; `asgi` has the small ASGI message helpers the other modules share.
"""

from llm_router.gateway.app import Gateway
from llm_router.gateway.errors import error_info, render_error

__all__ = ["Gateway", "error_info", "render_error"]
