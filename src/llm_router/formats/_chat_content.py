"""Chat Completions content parts <-> universal parts, for every Chat dialect."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from llm_router.errors import TranslationError
from llm_router.formats import field_error, get_obj, get_str, need_obj, need_str
from llm_router.universal import (
    AudioPart,
    ContentPart,
    DocumentPart,
    ImagePart,
    ReasoningPart,
    RefusalPart,
    TextPart,
    data_url,
    split_data_url,
)

if TYPE_CHECKING:
    from llm_router.formats._chat_request import ChatDialect

__all__ = [
    "parse_parts",
    "render_text",
    "render_user_content",
    "text_content",
]


def parse_parts(content: Any, path: str, origin: str | None = None) -> tuple[ContentPart, ...]:
    if type(content) is str:
        return (TextPart(content),)
    if content is None:
        return ()
    if type(content) is not list:
        raise field_error(path, "content", "string or array", content)
    parts: list[ContentPart] = []
    for i, p in enumerate(content):
        if type(p) is dict and p.get("type") == "text":
            # Text, the common part, is read here; anything else (or a malformed text part)
            # by `_parse_part`, which names what is wrong.
            text = p.get("text")
            cache = p.get("cache_control")
            if type(text) is str and (cache is None or type(cache) is dict):
                parts.append(TextPart(text, cache))
                continue
        parts.append(_parse_part(p, f"{path}.content[{i}]", origin))
    return tuple(parts)


def _parse_part(raw: Any, ppath: str, origin: str | None) -> ContentPart:
    p = need_obj(raw, ppath)
    kind = p.get("type")
    if kind == "text":
        return TextPart(need_str(p, "text", ppath), get_obj(p, "cache_control", ppath))
    if kind == "image_url":
        image = p.get("image_url")
        if type(image) is str:  # Mistral also accepts the bare URL
            image = {"url": image}
        image = need_obj(image, f"{ppath}.image_url")
        return image_from_url(
            need_str(image, "url", f"{ppath}.image_url"),
            get_str(image, "detail", f"{ppath}.image_url"),
            get_obj(p, "cache_control", ppath),
        )
    if kind == "input_audio":
        audio = need_obj(p.get("input_audio"), f"{ppath}.input_audio")
        fmt = get_str(audio, "format", f"{ppath}.input_audio")
        return AudioPart(need_str(audio, "data", f"{ppath}.input_audio"), fmt)
    if kind == "file":
        return parse_file(need_obj(p.get("file"), f"{ppath}.file"), f"{ppath}.file")
    if kind == "document_url":  # Mistral
        return DocumentPart(
            url=need_str(p, "document_url", ppath), name=get_str(p, "document_name", ppath)
        )
    if kind == "refusal":
        return RefusalPart(need_str(p, "refusal", ppath))
    if kind == "thinking":  # Mistral reasoning chunks
        return ReasoningPart(text=thinking_text(p.get("thinking"), ppath), origin=origin)
    raise TranslationError(
        f"{ppath}.type: unsupported content part type {kind!r}", path=f"{ppath}.type"
    )


def thinking_text(thinking: Any, path: str) -> str:
    if type(thinking) is str:
        return thinking
    chunks = [need_obj(c, f"{path}.thinking[{i}]") for i, c in enumerate(thinking or ())]
    return "".join(c.get("text") or "" for c in chunks)


def image_from_url(url: str, detail: str | None, cache: Mapping[str, Any] | None) -> ImagePart:
    inline = split_data_url(url)
    if inline is None:
        return ImagePart(url=url, detail=detail, cache_control=cache)
    return ImagePart(data=inline[1], media_type=inline[0], detail=detail, cache_control=cache)


def parse_file(f: Mapping[str, Any], path: str) -> DocumentPart:
    raw = get_str(f, "file_data", path)
    name = get_str(f, "filename", path)
    file_id = get_str(f, "file_id", path)
    if raw is None:
        return DocumentPart(file_id=file_id, name=name)
    inline = split_data_url(raw)
    if inline is None:  # not a data URL: the provider decides whether it accepts it
        return DocumentPart(url=raw, file_id=file_id, name=name)
    return DocumentPart(data=inline[1], media_type=inline[0], file_id=file_id, name=name)


def text_content(parts: tuple[ContentPart, ...], d: ChatDialect) -> str | list[dict[str, Any]]:
    """String content from text parts (other kinds cannot ride in these messages)."""
    texts = [p for p in parts if isinstance(p, TextPart)]
    if len(texts) == 1 and (texts[0].cache_control is None or not d.cache_control):
        return texts[0].text
    if not texts:
        return ""
    return [render_text(p, d) for p in texts]


def render_text(p: TextPart, d: ChatDialect) -> dict[str, Any]:
    if p.cache_control is None or not d.cache_control:
        return {"type": "text", "text": p.text}
    return {"type": "text", "text": p.text, "cache_control": p.cache_control}


def render_user_content(
    parts: tuple[ContentPart, ...], d: ChatDialect
) -> str | list[dict[str, Any]]:
    if len(parts) == 1:
        only = parts[0]
        if isinstance(only, TextPart) and (only.cache_control is None or not d.cache_control):
            return only.text
    out: list[dict[str, Any]] = []
    for p in parts:
        if isinstance(p, TextPart):
            out.append(render_text(p, d))
        elif isinstance(p, ImagePart):
            image = render_image(p)
            if image is not None:
                out.append(image)
        elif isinstance(p, AudioPart):
            fmt = p.format or (p.media_type or "audio/wav").rpartition("/")[2]
            out.append(
                {
                    "type": "input_audio",
                    "input_audio": {"data": p.data, "format": _AUDIO_FORMATS.get(fmt, fmt)},
                }
            )
        elif isinstance(p, DocumentPart):
            document = render_document(p, d)
            if document is not None:
                out.append(document)
    return out or ""


_AUDIO_FORMATS = {"mpeg": "mp3", "x-wav": "wav", "wave": "wav"}


def render_image(p: ImagePart) -> dict[str, Any] | None:
    if p.data is not None:
        url = data_url(p.media_type or "image/jpeg", p.data)
    elif p.url is not None:
        url = p.url
    else:
        return None  # a file-id-only image has no Chat Completions spelling
    image: dict[str, Any] = {"url": url}
    if p.detail is not None:
        image["detail"] = p.detail
    return {"type": "image_url", "image_url": image}


def render_document(p: DocumentPart, d: ChatDialect) -> dict[str, Any] | None:
    if p.text is not None:
        return {"type": "text", "text": p.text}
    if d.document_url:
        if p.data is not None:
            url = data_url(p.media_type or "application/pdf", p.data)
        elif p.url is not None:
            url = p.url
        else:
            return None  # file ids are not portable to this dialect
        document: dict[str, Any] = {"type": "document_url", "document_url": url}
        if p.name is not None:
            document["document_name"] = p.name
        return document
    f: dict[str, Any] = {}
    if p.data is not None:
        f["file_data"] = data_url(p.media_type or "application/pdf", p.data)
    elif p.url is not None:
        f["file_data"] = p.url
    if p.file_id is not None:
        f["file_id"] = p.file_id
    if p.name is not None:
        f["filename"] = p.name
    return {"type": "file", "file": f}
