"""Removing our own credentials from what an upstream sends back, in any encoding it uses.

Some upstreams echo the credential they rejected: raw, JSON-escaped (``\\u0073\\u006b...``),
percent-encoded, base64 (alone or inside ``user:key`` basic auth), in the body, in headers
such as ``www-authenticate``. A `Scrubber` knows the secrets one request carried and replaces
every such form by ``[redacted]``: in bytes, text, header mappings and whole exceptions (their
message, `body`, `headers` and every exception they chain to). Pure: no I/O.
"""

from __future__ import annotations

import base64
import functools
import re
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

import httpx

__all__ = ["REDACTED", "Scrubber", "request_secrets"]

REDACTED = "[redacted]"
_E = TypeVar("_E", bound=BaseException)
_MIN_SECRET_LEN = 8  # shorter values (a user name, "true") would redact ordinary text

#: Headers that carry a credential whoever set them (a provider's `headers=` included).
CREDENTIAL_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "api-key",
        "x-api-key",
        "x-goog-api-key",
        "x-amz-security-token",
        "cookie",
    }
)
#: Query parameters that carry a credential (Gemini's `?key=`, signed URLs).
CREDENTIAL_PARAMS = frozenset(
    {"key", "api_key", "api-key", "apikey", "access_token", "token", "sig", "signature"}
)
#: Headers a signer sets that are not secret (redacting a timestamp helps nobody).
_PUBLIC_SIGNED_HEADERS = frozenset({"x-amz-date", "x-amz-content-sha256", "content-length"})


def request_secrets(request: httpx.Request, before: Mapping[str, str] | None = None) -> list[str]:
    """The credentials `request` carries: values of credential headers and query parameters,
    and every header that auth added or changed (`before` is the header set before auth)."""
    found: list[str] = []
    for name, value in request.headers.items():
        lowered = name.lower()
        changed = before is not None and before.get(lowered) != value
        if lowered in CREDENTIAL_HEADERS or (changed and lowered not in _PUBLIC_SIGNED_HEADERS):
            found += _header_tokens(value)
    for name, value in request.url.params.multi_items():
        if name.lower() in CREDENTIAL_PARAMS:
            found.append(value)
    return found


def _header_tokens(value: str) -> list[str]:
    """A header value and the secrets inside it (the token after a scheme, the password of
    basic auth, the key id and signature of SigV4)."""
    tokens = [value]
    scheme, _, rest = value.partition(" ")
    if not rest:
        return tokens
    tokens.append(rest.strip())
    lowered = scheme.lower()
    if lowered == "basic":
        try:
            user_pass = base64.b64decode(rest.strip(), validate=True).decode("utf-8")
        except ValueError:
            return tokens
        tokens.append(user_pass)
        tokens.append(user_pass.partition(":")[2])
    elif lowered.startswith("aws4-"):
        for field in rest.split(","):
            key, _, item = field.strip().partition("=")
            if key == "Credential":
                tokens.append(item.split("/", 1)[0])
            elif key == "Signature":
                tokens.append(item)
    return tokens


class Scrubber:
    """Replaces every known encoding of a set of secrets by ``[redacted]``."""

    __slots__ = ("_secrets",)

    def __init__(self, secrets: Iterable[str]) -> None:
        # Nothing is compiled until something needs scrubbing (the error path): building the
        # patterns costs far more than a request, and the same keys recur, so it is cached.
        self._secrets = tuple(
            sorted({s for s in secrets if len(s) >= _MIN_SECRET_LEN}, key=len, reverse=True)
        )

    def __bool__(self) -> bool:
        return bool(self._secrets)

    @property
    def _text(self) -> re.Pattern[str] | None:
        return _patterns(self._secrets)[0]

    @property
    def _bytes(self) -> re.Pattern[bytes] | None:
        return _patterns(self._secrets)[1]

    def __repr__(self) -> str:
        return "Scrubber(**********)"

    def text(self, value: str) -> str:
        return value if self._text is None else self._text.sub(REDACTED, value)

    def bytes(self, value: bytes) -> bytes:
        return value if self._bytes is None else self._bytes.sub(REDACTED.encode(), value)

    def headers(self, headers: Mapping[str, str]) -> dict[str, str]:
        return {name.lower(): self.text(value) for name, value in headers.items()}

    def error(self, exc: _E) -> _E:
        """Scrub `exc` in place (message, args, `body`, `headers`) and every exception it
        chains to; returns `exc`."""
        if self._text is None:
            return exc
        seen: set[int] = set()
        current: BaseException | None = exc
        while current is not None and id(current) not in seen:
            seen.add(id(current))
            self._scrub_one(current)
            current = current.__cause__ or current.__context__
        return exc

    def _scrub_one(self, exc: BaseException) -> None:
        exc.args = tuple(self._value(arg) for arg in exc.args)
        for name in ("message", "body", "headers"):
            try:
                value = getattr(exc, name)
            except AttributeError:
                continue
            try:
                setattr(exc, name, self._value(value))
            except AttributeError:  # a read-only attribute of a foreign exception
                pass

    def _value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, bytes | bytearray):
            return self.bytes(bytes(value))
        if isinstance(value, httpx.Headers):
            return httpx.Headers(self.headers(value))
        if isinstance(value, Mapping) and all(isinstance(v, str) for v in value.values()):
            return self.headers(value)
        return value


@functools.lru_cache(maxsize=256)
def _patterns(
    secrets: tuple[str, ...],
) -> tuple[re.Pattern[str] | None, re.Pattern[bytes] | None]:
    alternatives = [form for secret in secrets for form in _forms(secret)]
    if not alternatives:
        return None, None
    pattern = "|".join(alternatives)
    return re.compile(pattern), re.compile(pattern.encode("utf-8"))


def _forms(secret: str) -> list[str]:
    """Regex alternatives matching `secret` raw or escaped character by character (JSON
    ``\\uXXXX``, percent, ``\\xXX``, HTML entities, mixed freely), and its base64/base64url
    encodings at each of the three byte alignments it may have inside a larger encoded
    value (so ``base64("user:" + secret)`` is caught too)."""
    chars = "".join(_char_pattern(c) for c in secret)
    forms = [chars]
    raw = secret.encode("utf-8")
    for shift in range(3):
        usable = (len(raw) - shift) // 3 * 3
        if usable < 6:
            continue
        core = raw[shift : shift + usable]
        for encoded in (base64.b64encode(core), base64.urlsafe_b64encode(core)):
            forms.append(re.escape(encoded.decode("ascii")))
    forms.append(f"(?i:{raw.hex()})")
    return list(dict.fromkeys(forms))


def _char_pattern(char: str) -> str:
    code = ord(char)
    options = [re.escape(char)]
    if char == "/":
        options.append(r"\\/")
    if char == " ":
        options.append(r"\+")
    options.append("".join(f"%{b:02x}" for b in char.encode("utf-8")))
    if code <= 0xFFFF:
        options.append(f"\\\\u{code:04x}")
    if code <= 0xFF:
        options.append(f"\\\\x{code:02x}")
    options.append(f"&#0*{code};")
    options.append(f"&#x0*{code:x};")
    return "(?i:" + "|".join(options) + ")" if len(options) > 1 else options[0]
