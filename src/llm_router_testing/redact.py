"""Secret redaction for cassettes: credentials never reach a cassette file.

Built-in rules replace credential headers, query parameters and JSON/form fields with
``"REDACTED"``; user rules add header names, body regexes and hook callables. Every
credential value found on the way is then scrubbed wherever else it appears (an error body
echoing the key, a stream chunk, a WebSocket frame), so a secret is removed even from places
no rule names.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import orjson

from llm_router_testing.cassette_format import (
    Interaction,
    RequestRecord,
    ResponseRecord,
    WebSocketRecord,
)

__all__ = [
    "DEFAULT_HEADERS",
    "DEFAULT_JSON_KEYS",
    "DEFAULT_QUERY_PARAMS",
    "REDACTED",
    "RedactHook",
    "RedactRule",
    "Redaction",
    "scrub_secrets",
]

REDACTED = "REDACTED"

DEFAULT_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "x-api-key",
        "api-key",
        "x-goog-api-key",
        "x-amz-security-token",
        "cookie",
        "set-cookie",
    }
)
# Compared case-insensitively; covers Gemini's ?key=, presigned AWS URLs and Azure SAS.
DEFAULT_QUERY_PARAMS = frozenset(
    {
        "key",
        "api_key",
        "api-key",
        "access_token",
        "sig",
        "x-amz-signature",
        "x-amz-credential",
        "x-amz-security-token",
    }
)
# OAuth token exchanges (Vertex service accounts, Entra) carry these in JSON or form bodies.
DEFAULT_JSON_KEYS = frozenset(
    {
        "access_token",
        "refresh_token",
        "id_token",
        "client_secret",
        "assertion",
        "private_key",
        "private_key_id",
    }
)

# Secrets shorter than this are not scrubbed literally: replacing every "abc" would mangle
# the cassette, and real credentials are far longer.
_MIN_LITERAL_SECRET = 8
_SCHEMES = ("bearer", "basic", "token")
_AWS_CREDENTIAL = re.compile(r"(Credential=)([^/,\s]+)")
_AWS_SIGNATURE = re.compile(r"(Signature=)([0-9A-Fa-f]+)")

RedactHook = Callable[[dict[str, Any]], dict[str, Any]]
RedactRule = str | re.Pattern[str] | RedactHook


@dataclass(frozen=True)
class Redaction:
    """What to scrub from interactions before they are stored.

    Names (header names, query parameters, JSON/form keys) compare case-insensitively and
    always include the built-in defaults: they cannot be switched off. `body_patterns` apply
    to every text in bodies and stream chunks: a pattern with groups has each group replaced,
    one without groups its whole match. `hooks` run last, on the interaction as a plain dict,
    and return it (possibly a new dict).
    """

    headers: frozenset[str] = DEFAULT_HEADERS
    query_params: frozenset[str] = DEFAULT_QUERY_PARAMS
    json_keys: frozenset[str] = DEFAULT_JSON_KEYS
    body_patterns: tuple[re.Pattern[str], ...] = ()
    hooks: tuple[RedactHook, ...] = ()

    def __post_init__(self) -> None:
        # A frozen dataclass normalises its own fields through object.__setattr__.
        for name, defaults in (
            ("headers", DEFAULT_HEADERS),
            ("query_params", DEFAULT_QUERY_PARAMS),
            ("json_keys", DEFAULT_JSON_KEYS),
        ):
            given: frozenset[str] = getattr(self, name)
            object.__setattr__(self, name, defaults | {n.lower() for n in given})

    @classmethod
    def from_rules(cls, rules: Iterable[RedactRule] | Redaction = ()) -> Redaction:
        """Defaults plus user rules: a str is a header name, a compiled regex a body pattern,
        a callable a hook."""
        if isinstance(rules, Redaction):
            return rules
        headers: set[str] = set()
        patterns: list[re.Pattern[str]] = []
        hooks: list[RedactHook] = []
        for rule in rules:
            if isinstance(rule, str):
                headers.add(rule)
            elif isinstance(rule, re.Pattern):
                patterns.append(rule)
            elif callable(rule):
                hooks.append(rule)
            else:
                raise TypeError(f"unsupported redaction rule {rule!r}")
        return cls(headers=frozenset(headers), body_patterns=tuple(patterns), hooks=tuple(hooks))

    def redact_request(self, request: RequestRecord) -> list[str]:
        """Redact a request record in place; return the credential values removed."""
        secrets: list[str] = []
        self._redact_headers(request["headers"], secrets)
        request["url"] = self._redact_url(request["url"], secrets)
        self._redact_body(request, secrets)
        return secrets

    def apply(self, interaction: Interaction, known_secrets: set[str] | None = None) -> Interaction:
        """Redact a whole interaction (in place where possible) and return it.

        Credential values found are added to `known_secrets` (when given), and every known
        secret is scrubbed from the interaction: a key seen in one exchange is removed from
        all of them.
        """
        secrets = self.redact_request(interaction["request"])
        response = interaction.get("response")
        if response is not None:
            self._redact_headers(response["headers"], secrets)
            self._redact_body(response, secrets)
            stream = response.get("stream")
            if stream is not None and self.body_patterns:
                for event in stream["events"]:
                    if "data" in event:
                        event["data"] = self._scrub_patterns(event["data"])
        session = interaction.get("websocket")
        if session is not None:
            self._redact_frames(session, secrets)
        result = cast(dict[str, Any], interaction)
        for hook in self.hooks:
            result = hook(result)
        if known_secrets is None:
            known_secrets = set()
        known_secrets.update(secrets)
        return cast(Interaction, scrub_secrets(result, known_secrets))

    def _redact_headers(self, headers: dict[str, str], secrets: list[str]) -> None:
        for name in list(headers):
            if name.lower() in self.headers and headers[name] != REDACTED:
                value = headers[name]
                masked, found = _mask_credential(value)
                headers[name] = masked
                secrets.extend(found)

    def _redact_url(self, url: str, secrets: list[str]) -> str:
        parts = urlsplit(url)
        netloc = parts.netloc
        if "@" in netloc:
            userinfo, _, hostport = netloc.rpartition("@")
            user, sep, password = userinfo.partition(":")
            if sep:
                secrets.append(password)
                netloc = f"{user}:{REDACTED}@{hostport}"
        query = parts.query
        if query:
            pairs = parse_qsl(query, keep_blank_values=True)
            if any(k.lower() in self.query_params for k, _ in pairs):
                redacted_pairs = []
                for key, value in pairs:
                    if key.lower() in self.query_params:
                        secrets.append(value)
                        value = REDACTED
                    redacted_pairs.append((key, value))
                query = urlencode(redacted_pairs, safe="/:")
        if netloc == parts.netloc and query == parts.query:
            return url
        return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))

    def _redact_body(self, record: RequestRecord | ResponseRecord, secrets: list[str]) -> None:
        if "body" in record:
            record["body"] = self._redact_json(record["body"], secrets)
        elif "body_text" in record:
            text = record["body_text"]
            content_type = _header(record["headers"], "content-type") or ""
            if "x-www-form-urlencoded" in content_type.lower():
                text = self._redact_form(text, secrets)
            record["body_text"] = self._scrub_patterns(text)

    def _redact_json(self, value: Any, secrets: list[str]) -> Any:
        if isinstance(value, dict):
            redacted: dict[str, Any] = {}
            for key, item in value.items():
                if key.lower() in self.json_keys and item != REDACTED:
                    if isinstance(item, str):
                        secrets.append(item)
                    redacted[key] = REDACTED
                else:
                    redacted[key] = self._redact_json(item, secrets)
            return redacted
        if isinstance(value, list):
            return [self._redact_json(item, secrets) for item in value]
        if isinstance(value, str):
            return self._scrub_patterns(value)
        return value

    def _redact_frames(self, session: WebSocketRecord, secrets: list[str]) -> None:
        """JSON messages (text, or binary frames holding JSON as Gemini Live sends them) get
        the JSON-field rules; text frames the body patterns. A frame is rewritten only when a
        rule changed it, so the others keep their exact bytes."""
        for frame in session["frames"]:
            if "text" in frame:
                text = frame["text"]
                redacted = self._redact_json_text(text, secrets)
                frame["text"] = self._scrub_patterns(redacted if redacted is not None else text)
            elif "data_b64" in frame:
                try:
                    raw = base64.b64decode(frame["data_b64"], validate=True)
                    text = raw.decode("utf-8")
                except (binascii.Error, UnicodeDecodeError):
                    continue
                redacted = self._redact_json_text(text, secrets)
                scrubbed = self._scrub_patterns(redacted if redacted is not None else text)
                if scrubbed != text:
                    frame["data_b64"] = base64.b64encode(scrubbed.encode("utf-8")).decode("ascii")

    def _redact_json_text(self, text: str, secrets: list[str]) -> str | None:
        """`text` re-serialised with the JSON-field rules applied, or None when it is not JSON
        or no rule applied."""
        if text.lstrip()[:1] not in ("{", "["):
            return None
        try:
            value = orjson.loads(text)
        except orjson.JSONDecodeError:
            return None
        found: list[str] = []
        redacted = self._redact_json(value, found)
        if redacted == value:
            return None
        secrets.extend(found)
        return orjson.dumps(redacted).decode("utf-8")

    def _redact_form(self, text: str, secrets: list[str]) -> str:
        names = self.json_keys | self.query_params
        pairs = parse_qsl(text, keep_blank_values=True)
        if not any(k.lower() in names for k, _ in pairs):
            return text
        redacted = []
        for key, value in pairs:
            if key.lower() in names:
                secrets.append(value)
                value = REDACTED
            redacted.append((key, value))
        return urlencode(redacted)

    def _scrub_patterns(self, text: str) -> str:
        for pattern in self.body_patterns:
            text = pattern.sub(_pattern_replacer, text)
        return text


def _pattern_replacer(match: re.Match[str]) -> str:
    if not match.re.groups:
        return REDACTED
    whole = match.group(0)
    start = match.start(0)
    pieces: list[str] = []
    cursor = 0
    for index in range(1, match.re.groups + 1):
        group_start, group_end = match.span(index)
        if group_start < 0 or group_start < start + cursor:
            continue  # unmatched or nested group
        pieces.append(whole[cursor : group_start - start])
        pieces.append(REDACTED)
        cursor = group_end - start
    pieces.append(whole[cursor:])
    return "".join(pieces)


def _mask_credential(value: str) -> tuple[str, list[str]]:
    """Mask a credential header, keeping its scheme (and AWS's signed-header list) readable."""
    if value.startswith("AWS4-HMAC-SHA256"):
        found = [m.group(2) for m in _AWS_CREDENTIAL.finditer(value)]
        found += [m.group(2) for m in _AWS_SIGNATURE.finditer(value)]
        masked = _AWS_CREDENTIAL.sub(lambda m: m.group(1) + REDACTED, value)
        masked = _AWS_SIGNATURE.sub(lambda m: m.group(1) + REDACTED, masked)
        return masked, found
    scheme, sep, token = value.partition(" ")
    if sep and scheme.lower() in _SCHEMES and token.strip():
        return f"{scheme} {REDACTED}", [token.strip()]
    found = [value]
    if "=" in value:  # cookies: scrub each value on its own too
        for part in value.split(";"):
            _, eq, cookie_value = part.partition("=")
            if eq:
                found.append(cookie_value.strip())
    return REDACTED, found


def _header(headers: dict[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


def scrub_secrets(value: Any, secrets: Iterable[str]) -> Any:
    """A copy of a JSON-like value with every occurrence of `secrets` replaced by REDACTED.

    Each secret is looked for as it is, JSON-escaped (``\\u0073\\u006b...``) and base64-encoded
    at any alignment (inside text, and inside ``*_b64`` fields once decoded); a stream's
    chunks are searched joined, so an echo split across two chunks is found too. Values
    shorter than 8 characters are left alone.
    """
    literals = sorted({s for s in secrets if len(s) >= _MIN_LITERAL_SECRET}, key=len, reverse=True)
    if not literals:
        return value
    forms = sorted({form for s in literals for form in _encoded_forms(s)}, key=len, reverse=True)
    return _scrub(value, forms)


def _encoded_forms(secret: str) -> list[str]:
    """`secret` as written, JSON-escaped and base64-encoded (standard and URL-safe alphabets).

    Base64 of text holding the secret contains, at one of three alignments, the characters
    that encode only the secret's own bits: those cores are what we look for.
    """
    raw = secret.encode("utf-8")
    forms = [secret, "".join(f"\\u{ord(char):04x}" for char in secret)]
    for pad in range(3):
        encoded = base64.b64encode(b"\0" * pad + raw).decode("ascii")
        core = encoded[-(-8 * pad // 6) : 8 * (pad + len(raw)) // 6]
        if len(core) >= _MIN_LITERAL_SECRET:
            forms += [core, core.replace("+", "-").replace("/", "_")]
    return forms


def _scrub(value: Any, forms: list[str], key: str | None = None) -> Any:
    if isinstance(value, dict):
        if key == "stream" and isinstance(value.get("events"), list):
            return {**value, "events": _scrub_stream(value["events"], forms)}
        if key == "websocket" and isinstance(value.get("frames"), list):
            rest = {k: _scrub(v, forms, k) for k, v in value.items() if k != "frames"}
            return {**rest, "frames": _scrub_frames(value["frames"], forms)}
        return {k: _scrub(v, forms, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(item, forms) for item in value]
    if isinstance(value, str):
        if key is not None and key.endswith("_b64"):
            return _scrub_base64(value, forms)
        return _scrub_text(value, forms)
    return value


def _scrub_text(text: str, forms: list[str]) -> str:
    for form in forms:
        if form in text:
            text = text.replace(form, REDACTED)
    return text


def _scrub_base64(text: str, forms: list[str]) -> str:
    try:
        raw = base64.b64decode(text, validate=True)
    except ValueError:
        return _scrub_text(text, forms)
    scrubbed = _scrub_bytes(raw, forms)
    if scrubbed == raw:
        return text
    return base64.b64encode(scrubbed).decode("ascii")


def _scrub_bytes(raw: bytes, forms: list[str]) -> bytes:
    for form in forms:
        raw = raw.replace(form.encode("utf-8"), REDACTED.encode("ascii"))
    return raw


def _scrub_stream(events: list[Any], forms: list[str]) -> list[Any]:
    """Scrub the chunks of a recorded stream as one text, keeping the chunk boundaries.

    A match that spans chunks is replaced in the chunk where it starts and removed from the
    chunks it runs into; every event keeps its time and its encoding.
    """
    chunks: list[bytes] = []
    for event in events:
        if not isinstance(event, dict):
            return events
        if "data" in event and isinstance(event["data"], str):
            chunks.append(event["data"].encode("utf-8"))
        elif "data_b64" in event and isinstance(event["data_b64"], str):
            try:
                chunks.append(base64.b64decode(event["data_b64"], validate=True))
            except ValueError:
                return events
        else:
            chunks.append(b"")
    pieces = _scrub_joined(chunks, forms)
    if pieces is None:
        return [_scrub(event, forms) for event in events]
    scrubbed = []
    for event, piece in zip(events, pieces, strict=True):
        event = dict(event)
        if "data" in event:
            try:
                event["data"] = piece.decode("utf-8")
            except UnicodeDecodeError:
                del event["data"]
                event["data_b64"] = base64.b64encode(piece).decode("ascii")
        elif "data_b64" in event:
            event["data_b64"] = base64.b64encode(piece).decode("ascii")
        scrubbed.append(event)
    return scrubbed


def _scrub_frames(frames: list[Any], forms: list[str]) -> list[Any]:
    """Scrub a WebSocket session's messages, each direction's joined as one text (a secret
    split across two messages is found), keeping every message's time and frame type."""
    scrubbed = list(frames)
    for sender in ("client", "server"):
        indices: list[int] = []
        chunks: list[bytes] = []
        for index, frame in enumerate(frames):
            if not isinstance(frame, dict) or frame.get("from") != sender:
                continue
            if isinstance(frame.get("text"), str):
                chunk = frame["text"].encode("utf-8")
            elif isinstance(frame.get("data_b64"), str):
                try:
                    chunk = base64.b64decode(frame["data_b64"], validate=True)
                except ValueError:
                    continue  # not loadable anyway; the validator names it
            else:
                continue
            indices.append(index)
            chunks.append(chunk)
        pieces = _scrub_joined(chunks, forms)
        if pieces is None:
            continue
        for index, piece in zip(indices, pieces, strict=True):
            frame = dict(frames[index])
            if "text" in frame:
                # Text frames are whole UTF-8 and the forms are too: cuts land on characters.
                frame["text"] = piece.decode("utf-8", errors="replace")
            else:
                frame["data_b64"] = base64.b64encode(piece).decode("ascii")
            scrubbed[index] = frame
    return scrubbed


def _scrub_joined(chunks: list[bytes], forms: list[str]) -> list[bytes] | None:
    """The chunks with every form found in their concatenation cut out (replaced in the
    chunk where it starts, removed from those it runs into); None when nothing was found."""
    joined = b"".join(chunks)
    spans = _find_spans(joined, [form.encode("utf-8") for form in forms])
    if not spans:
        return None
    pieces: list[bytearray] = [bytearray() for _ in chunks]
    owner: list[int] = []
    for index, chunk in enumerate(chunks):
        owner += [index] * len(chunk)
    position = 0
    for start, end in [*spans, (len(joined), len(joined))]:
        for offset in range(position, start):
            pieces[owner[offset]].append(joined[offset])
        if start < end:
            pieces[owner[start]] += REDACTED.encode("ascii")
        position = end
    return [bytes(piece) for piece in pieces]


def _find_spans(data: bytes, forms: list[bytes]) -> list[tuple[int, int]]:
    """Non-overlapping (start, end) of every form in `data`, leftmost first, longest on ties."""
    found: list[tuple[int, int]] = []
    for form in forms:
        start = data.find(form)
        while start >= 0:
            found.append((start, start + len(form)))
            start = data.find(form, start + 1)
    found.sort(key=lambda span: (span[0], -span[1]))
    spans: list[tuple[int, int]] = []
    for start, end in found:
        if spans and start < spans[-1][1]:
            continue
        spans.append((start, end))
    return spans
