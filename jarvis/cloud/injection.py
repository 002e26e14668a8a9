"""Score text for known prompt-injection patterns.

Each rule has a weight between 0 and 1: roughly the chance that text matching
it is an attack rather than an honest request. Scores of different rules
combine as independent evidence, ``1 - prod(1 - weight)``, so two weak signals
add up while one rule matched twice counts once. The weights are judgement
calls, not measured rates.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable
from dataclasses import dataclass

from jarvis.cloud.text_clean import skeleton

_GAP = r"[\W_]+(?:\w+[\W_]+){0,4}?"  # a separator and up to four filler words

# Rules read the lower-case skeleton of the text (look-alikes folded, "1gn0re" read as "ignore").
_RULES: tuple[tuple[str, float, re.Pattern[str]], ...] = (
    (
        "ignore_instructions",
        0.9,
        re.compile(
            r"\b(?:ignore|disregard|forget|override|bypass|abandon|neglect|discard)"
            + _GAP
            + r"(?:previous|prior|preceding|above|earlier|former|original|initial|system|all|every|your)[\W_]+"
            r"(?:\w+[\W_]+){0,3}?(?:instructions?|prompts?|rules|directions|guidelines|directives|commands"
            r"|context|constraints|restrictions|polic(?:y|ies)|programming|guardrails)\b"
        ),
    ),
    (
        "new_instructions",
        0.6,
        re.compile(r"\b(?:new|updated|revised|real|actual|secret)\s+(?:system\s+)?instructions?\s*:"),
    ),
    ("system_override", 0.7, re.compile(r"\bsystem\s+(?:override|update|notice|message|command)\s*:")),
    ("role_change", 0.5, re.compile(r"\byou\s+are\s+(?:now|no\s+longer)\b")),
    ("role_change_later", 0.3, re.compile(r"\bfrom\s+now\s+on[\W_]+(?:\w+[\W_]+){0,3}?(?:you|act|behave|pretend)\b")),
    (
        "roleplay_jailbreak",
        0.75,
        re.compile(
            r"\b(?:act|behave|respond|answer)\s+(?:as|like)\s+(?:an?\s+)?(?:unrestricted|unfiltered|uncensored|evil"
            r"|jailbroken|rogue|amoral|dan)\b"
            r"|\b(?:pretend|imagine)\s+(?:that\s+)?you\s+(?:are|have|were)\s+(?:no|not\s+bound|an?\s+(?:unrestricted"
            r"|unfiltered|uncensored|evil|jailbroken|rogue|amoral))"
            r"|\brole[\s-]?play\b.{0,80}\b(?:no|without)\s+(?:any\s+)?(?:rules|restrictions|limits|filters|guidelines)"
        ),
    ),
    (
        "jailbreak_mode",
        0.75,
        re.compile(r"\b(?:do\s+anything\s+now|developer\s+mode|god\s+mode|dan\s+mode|jailbr(?:eak|oken)\w*)\b"),
    ),
    (
        "no_limits",
        0.35,
        re.compile(
            r"\b(?:without|no|free\s+(?:of|from))\s+(?:any\s+)?(?:restrictions|filters|censorship|guidelines"
            r"|limitations|safety\s+(?:rules|guidelines|filters))\b"
        ),
    ),
    (
        "prompt_reveal",
        0.85,
        re.compile(
            r"\b(?:reveal|show|print|repeat|output|display|tell|give|leak|dump|disclose|share|recite|spell\s+out"
            r"|write\s+out|what\s+(?:is|are|was|were))"
            + _GAP
            + r"(?:system|initial|hidden|original|secret|internal|developer|pre-?)\s*"
            r"(?:prompts?|instructions?|message|rules|guidelines|configuration)\b"
        ),
    ),
    (
        "context_dump",
        0.7,
        re.compile(
            r"\b(?:repeat|print|output|recite|copy)[\W_]+(?:\w+[\W_]+){0,3}?(?:everything|all|text|words)\s+"
            r"(?:above|before\s+this|so\s+far)"
        ),
    ),
    (
        "role_tag",
        0.9,
        re.compile(
            r"<\|\s*(?:im_start|im_end|system|user|assistant|endoftext|begin_of_text|end_of_text|start_header_id"
            r"|end_header_id|eot_id)\s*\|>|\[/?(?:inst|sys)\]|<</?sys>>"
            r"|<\s*/?\s*(?:system|assistant|developer|instructions?)\s*>"
        ),
    ),
    (
        "role_heading",
        0.8,
        re.compile(r"(?m)^\s*#{1,6}\s*(?:system|assistant|developer|instructions?)\b\s*:?"),
    ),
    ("role_prefix", 0.6, re.compile(r"(?m)^\s*(?:system|assistant|developer)\s*:")),
    ("encoded_payload_request", 0.4, re.compile(r"\b(?:decode|base64)\b.{0,80}\b(?:follow|execute|obey|run|do)\b")),
)

# Phrases written with their letters spaced or punctuated apart ("i g n o r e").
_COLLAPSED = re.compile(
    r"(?:ignore|disregard|forget)(?:all)?(?:the)?(?:previous|prior|above|your)(?:instructions|rules|prompt)"
    r"|(?:reveal|print|show)(?:your|the)?systemprompt"
)
_BASE64_RUN = re.compile(r"[A-Za-z0-9+/_-]{24,}={0,2}")
_ENCODED_WEIGHT = 0.9
_MAX_BLOBS = 8


@dataclass(frozen=True, slots=True)
class InjectionScore:
    """Result of the injection check: a score from 0 to 1 and the rules that matched."""

    score: float
    rules: tuple[str, ...]


def score_injection(text: str, *, decode_blobs: bool = True) -> InjectionScore:
    """Score ``text`` for prompt-injection patterns, reading base64 blobs inside it as well."""
    shape = skeleton(text)
    weights: dict[str, float] = {}
    for name, weight, pattern in _RULES:
        if pattern.search(shape):
            weights[name] = weight

    collapsed = _COLLAPSED.search(re.sub(r"[\W\d_]+", "", shape))
    if collapsed is not None:
        name = "prompt_reveal" if collapsed.group(0).endswith("systemprompt") else "ignore_instructions"
        weights[name] = max(weights.get(name, 0.0), 0.9)

    if decode_blobs and _encoded_instructions(text):
        weights["encoded_instructions"] = _ENCODED_WEIGHT

    return InjectionScore(score=_combine(weights.values()), rules=tuple(sorted(weights)))


def _combine(weights: Iterable[float]) -> float:
    remaining = 1.0
    for weight in weights:
        remaining *= 1.0 - weight
    return round(1.0 - remaining, 4)


def _encoded_instructions(text: str) -> bool:
    """Tell whether a base64 blob in ``text`` decodes to text that itself scores as an injection."""
    for blob in _BASE64_RUN.findall(text)[:_MAX_BLOBS]:
        decoded = _decode_base64_text(blob)
        if decoded and score_injection(decoded, decode_blobs=False).score >= 0.5:
            return True
    return False


def _decode_base64_text(blob: str) -> str | None:
    padded = blob + "=" * (-len(blob) % 4)
    try:
        raw = base64.b64decode(padded, altchars=b"-_" if ("-" in blob or "_" in blob) else None, validate=True)
        decoded = raw.decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    printable = sum(char.isprintable() or char.isspace() for char in decoded)
    return decoded if decoded and printable / len(decoded) > 0.9 else None
