"""Shapes of credentials that must never leave in a request or reach the speaker.

Extends the shapes of :mod:`jarvis.redaction` (which only logs use) with more
providers' key formats, JSON web tokens and PEM private keys, and counts what it
removes. :func:`jarvis.redaction.redact_text` runs last as a safety net, so a
shape added there is honoured here too.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from jarvis.redaction import REDACTED, redact_text

# Each pattern's group 1, when present, is a label kept in front of the removed value.
SECRET_SHAPES: tuple[re.Pattern[str], ...] = (
    re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|\Z)", re.DOTALL),
    re.compile(r"sk-ant-[A-Za-z0-9_\-]{8,}"),  # Anthropic
    re.compile(r"sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{16,}"),  # OpenAI
    re.compile(r"AIza[0-9A-Za-z_\-]{30,}"),  # Google
    re.compile(r"(?:AKIA|ASIA)[0-9A-Z]{16}"),  # AWS access key ids
    re.compile(r"gh[pousr]_[A-Za-z0-9]{30,}"),  # GitHub tokens
    re.compile(r"github_pat_[A-Za-z0-9_]{30,}"),
    re.compile(r"xox[abprs]-[A-Za-z0-9\-]{10,}"),  # Slack tokens
    re.compile(r"[rs]k_(?:live|test)_[A-Za-z0-9]{16,}"),  # Stripe keys
    re.compile(r"eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}"),  # JSON web tokens
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/\-]{8,}=*"),
    re.compile(
        r"(?i)((?:x-api-key|x-goog-api-key|api[_-]?key|access[_-]?token|auth[_-]?token|secret|password|passwd)"
        r"[\"']?\s*[:=]\s*[\"']?)[^\s\"',}]{6,}"
    ),
)

# Text that may be followed, after whitespace, by the value of a secret: a stream
# must not be cut between the two.
SECRET_LABEL_TAIL = re.compile(
    r"(?i)(?:\bbearer|\bbasic|x-api-key|x-goog-api-key|api[_-]?key|access[_-]?token|auth[_-]?token|\btoken"
    r"|\bsecret|\bpassword|\bpasswd|authorization)[\"']?\s*[:=]?\s*[\"']?\s*\Z"
)

# A PEM block that opened and did not close yet.
PEM_BEGIN = re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----")
PEM_END = re.compile(r"-----END [A-Z0-9 ]*PRIVATE KEY-----")


# Whole words of a field name that mark it as secret; "tokens" (a count) is not among them.
_SECRET_WORDS = frozenset(
    {"key", "apikey", "token", "secret", "password", "passwd", "credential", "credentials", "authorization", "bearer"}
)
_NAME_WORDS = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")


def is_secret_name(name: str) -> bool:
    """Tell whether a field called ``name`` (snake, kebab or camel case) names a key, token, secret or password."""
    words = {word.lower() for word in _NAME_WORDS.findall(name)}
    return bool(words & _SECRET_WORDS)


def remove_secrets(text: str, replacement: str = REDACTED) -> tuple[str, int]:
    """Replace every credential-shaped substring of ``text`` and return the text and the count replaced."""
    count = 0
    for pattern in SECRET_SHAPES:
        text, replaced = pattern.subn(_replacer(pattern, replacement), text)
        count += replaced
    checked = redact_text(text)
    if checked != text:
        count += max(1, checked.count(REDACTED) - text.count(REDACTED))
        text = checked.replace(REDACTED, replacement) if replacement != REDACTED else checked
    return text, count


def looks_like_secret(text: str) -> bool:
    """Tell whether ``text`` contains anything shaped like a credential."""
    return any(pattern.search(text) for pattern in SECRET_SHAPES) or redact_text(text) != text


def _replacer(pattern: re.Pattern[str], replacement: str) -> str | Callable[[re.Match[str]], str]:
    if pattern.groups == 0:
        return replacement
    return lambda match: f"{match.group(1)}{replacement}"
