"""Remove secrets from text and from structured log events.

Two rules apply everywhere: a value under a secret-sounding field name is
replaced whole, and any substring shaped like a known credential is replaced
wherever it appears (free text, exception messages, nested containers).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, MutableMapping
from typing import Any

REDACTED = "[REDACTED]"

# Field names whose values are always secret, matched case-insensitively as substrings.
_SECRET_FIELD_PARTS = ("api_key", "apikey", "secret", "password", "passwd", "token", "authorization", "credential")

# Shapes of credentials that must never be printed, wherever they appear.
_SECRET_PATTERNS = (
    re.compile(r"sk-ant-[A-Za-z0-9_\-]{8,}"),  # Anthropic keys
    re.compile(r"sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{16,}"),  # OpenAI keys
    re.compile(r"AIza[0-9A-Za-z_\-]{30,}"),  # Google API keys
    re.compile(r"(?i)bearer\s+[A-Za-z0-9._~+/\-]{8,}=*"),  # bearer tokens in headers
    re.compile(r"(?i)(x-api-key|x-goog-api-key|api[_-]?key)([\"']?\s*[:=]\s*[\"']?)[^\s\"',}]{8,}"),
)

_MAX_DEPTH = 8


def redact_text(text: str) -> str:
    """Replace every credential-shaped substring of ``text`` with ``[REDACTED]``."""
    for pattern in _SECRET_PATTERNS:
        if pattern.groups >= 2:
            text = pattern.sub(lambda match: f"{match.group(1)}{match.group(2)}{REDACTED}", text)
        else:
            text = pattern.sub(REDACTED, text)
    return text


def is_secret_field(name: str) -> bool:
    """Tell whether a field called ``name`` holds a secret by its name alone.

    Names that end in a unit or a count (``first_token_s``, ``max_tokens``,
    ``token_count``) are measurements, not secrets.
    """
    lowered = name.lower()
    if re.search(r"(?:_s|_ms|_tokens|tokens|_count|_total|_usd)$", lowered):
        return False
    return any(part in lowered for part in _SECRET_FIELD_PARTS)


def redact_value(value: Any, depth: int = 0) -> Any:
    """Return ``value`` with secrets removed from strings and nested containers."""
    if depth > _MAX_DEPTH:
        return REDACTED
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {
            key: REDACTED if isinstance(key, str) and is_secret_field(key) else redact_value(item, depth + 1)
            for key, item in value.items()
        }
    if isinstance(value, (list, tuple)):
        return type(value)(redact_value(item, depth + 1) for item in value)
    if isinstance(value, (int, float, bool)) or value is None:
        return value
    # Unknown objects are logged by their repr, which may carry a secret.
    return redact_text(repr(value))


def redact_event(_logger: object, _method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: redact secrets by field name and by value shape."""
    for key in list(event_dict):
        if is_secret_field(key):
            event_dict[key] = REDACTED
        else:
            event_dict[key] = redact_value(event_dict[key])
    return event_dict
