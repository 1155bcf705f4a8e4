"""Which model ids each provider would accept, judged by their form (no network, no key).

Two levels. `impossible` ids no provider of that kind could ever accept, whatever account:
an empty id or one with whitespace, a gateway's provider prefix leaked upstream
(`openai/gpt-4o`, `bedrock/anthropic.claude...`), a Bedrock inference profile of nothing
(`us.claude-sonnet-4-5`: the part after the region must itself be a model id), a Gemini
model path with characters no model name has. `strict` adds the real providers' naming:
Bedrock ids are `vendor.model` of a known vendor, optionally behind one inference-profile
region (`us.`, `eu.`, `apac.`, `global.`, ...) or an ARN; OpenAI ids belong to its model
families (or fine-tunes `ft:...`); Anthropic ids start `claude-`; Gemini ids `gemini-`,
`gemma-` or `learnlm-`. Ids in `known` (the fake's model list) always pass.

The fake server refuses impossible ids always and, with `strict_models`, strict ones too;
the contract suite judges what reached the fake with the strict rules.
"""

from __future__ import annotations

import re
from collections.abc import Collection

__all__ = ["BEDROCK_INVALID_MODEL", "refusal_reason"]

BEDROCK_INVALID_MODEL = "The provided model identifier is invalid."

BEDROCK_VENDORS = frozenset(
    {
        "ai21", "amazon", "anthropic", "cohere", "deepseek", "luma", "meta", "mistral",
        "openai", "qwen", "stability", "twelvelabs", "writer",
    }
)  # fmt: skip
BEDROCK_PROFILE_REGIONS = frozenset({"us", "eu", "apac", "global", "us-gov", "ca", "jp", "au"})
_GATEWAY_PREFIXES = (
    "openai/", "azure/", "anthropic/", "bedrock/", "gemini/", "google/", "vertex_ai/",
    "vertex/", "mistral/", "converse/",
)  # fmt: skip
_BEDROCK_ID = re.compile(r"^[a-z0-9-]+\.[A-Za-z0-9._:-]+$")
_BEDROCK_ARN = re.compile(r"^arn:aws[a-z-]*:bedrock:[a-z0-9-]*:\d*:[a-z-]+/\S+$")
_GEMINI_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_OPENAI_FAMILIES = re.compile(
    r"^(gpt-|o\d|chatgpt-|ft:|text-|davinci|babbage|codex-|computer-use-|omni-|whisper|tts-|dall-e)"
)


def refusal_reason(
    provider: str, model: str, *, strict: bool, known: Collection[str] = ()
) -> str | None:
    """Why `provider` would refuse `model` (None: it would accept the id's form).

    `provider` is the fake's provider name (openai, azure, mistral, anthropic,
    vertex-anthropic, google, vertex-google, bedrock); unknown providers accept anything.
    """
    if model in known:
        return None
    if not model or any(char.isspace() for char in model):
        return "the id is empty or has whitespace"
    if model.lower().startswith(_GATEWAY_PREFIXES) and not model.startswith("arn:"):
        return f"{model.split('/', 1)[0]}/ is a gateway's provider prefix, not part of the id"
    if provider == "bedrock":
        return _bedrock(model, strict=strict)
    if provider in ("google", "vertex-google"):
        if not _GEMINI_NAME.match(model):
            return "not a model name (letters, digits, '.', '_' and '-' only)"
        if strict and not model.startswith(("gemini-", "gemma-", "learnlm-")):
            return "not a Gemini model (gemini-..., gemma-..., learnlm-...)"
        return None
    if provider in ("anthropic", "vertex-anthropic"):
        if strict and not model.startswith("claude-"):
            return "not an Anthropic model (claude-...)"
        return None
    if provider == "openai" and strict and not _OPENAI_FAMILIES.match(model):
        return "not an OpenAI model id"
    return None


def _bedrock(model: str, *, strict: bool) -> str | None:
    if model.startswith("arn:"):
        return None if _BEDROCK_ARN.match(model) else "a malformed ARN"
    head, dot, rest = model.partition(".")
    if dot and head in BEDROCK_PROFILE_REGIONS:
        if not _BEDROCK_ID.match(rest) or rest.split(".", 1)[0] in BEDROCK_PROFILE_REGIONS:
            return f"an inference profile ({head}.) of {rest!r}, which is not a model id"
        head = rest.split(".", 1)[0]
    elif not strict:
        return None  # lenient: a bare name may be a custom or imported model's
    elif not _BEDROCK_ID.match(model):
        return "neither a model id (vendor.model) nor an inference profile of one"
    if strict and head not in BEDROCK_VENDORS:
        return f"{head!r} is not a Bedrock model vendor"
    return None
