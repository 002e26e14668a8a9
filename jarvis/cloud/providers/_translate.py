"""Shared pieces of translating provider replies into :mod:`jarvis.errors` types.

Messages are built from the status code and from short machine-readable
fields (an error type or code). They never quote the provider's free text, the
request or its headers, so no key or prompt can end up in an error or a log.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime

from jarvis.cloud.types import ProviderName
from jarvis.errors import (
    AuthenticationError,
    BadRequestError,
    MalformedReplyError,
    ProviderError,
    ProviderUnavailableError,
    RateLimitedError,
    StreamInterruptedError,
)
from jarvis.redaction import redact_text

_SAFE_CODE = re.compile(r"^[A-Za-z][A-Za-z0-9_.\-]{0,47}$")

TRANSIENT_STATUSES = frozenset({408, 409, 429})
"""Client-error statuses worth retrying; every 5xx (and Anthropic's 529) is too."""


def safe_code(value: object) -> str | None:
    """Return ``value`` when it looks like a machine code such as ``rate_limit_error``, else None.

    A value shaped like a credential is dropped too, in case a proxy echoes a key back as the error type.
    """
    if isinstance(value, str) and _SAFE_CODE.match(value) and redact_text(value) == value:
        return value
    return None


def parse_retry_after_s(headers: Mapping[str, str] | None, *, now_s: float | None = None) -> float | None:
    """Read the wait a provider requested from ``retry-after-ms`` or ``Retry-After``, in seconds.

    ``Retry-After`` may be a number of seconds or an HTTP date; a date in the
    past gives 0. Unreadable or negative values are ignored.
    """
    if headers is None:
        return None
    lowered = {key.lower(): value for key, value in headers.items()}
    milliseconds = _parse_number(lowered.get("retry-after-ms"))
    if milliseconds is not None:
        return milliseconds / 1000
    raw = lowered.get("retry-after")
    if raw is None:
        return None
    seconds = _parse_number(raw)
    if seconds is not None:
        return seconds
    return _parse_http_date_delay_s(raw, time.time() if now_s is None else now_s)


def _parse_number(raw: str | None) -> float | None:
    if raw is None:
        return None
    try:
        value = float(raw.strip())
    except ValueError:
        return None
    if not math.isfinite(value) or value < 0:
        return None
    return value


def _parse_http_date_delay_s(raw: str, now_s: float) -> float | None:
    try:
        moment = parsedate_to_datetime(raw.strip())
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        return None
    return max(0.0, moment.timestamp() - now_s)


def error_for_status(
    provider: ProviderName,
    status: int,
    *,
    code: str | None = None,
    retry_after_s: float | None = None,
    quota_exhausted: bool = False,
) -> ProviderError:
    """Map an HTTP error status to the matching :class:`ProviderError`.

    ``code`` is the provider's machine-readable error type. ``quota_exhausted``
    marks a 429 that reports an exhausted spend or quota limit, because waiting
    a few seconds does not fix that.
    """
    detail = f" ({code})" if code else ""
    if status in (401, 403):
        return AuthenticationError(
            f"{provider} rejected the API key with HTTP {status}{detail}; "
            f"check it with `jarvis keys set {provider}` or the provider's console",
            provider=provider,
            status=status,
        )
    if status == 429:
        if quota_exhausted:
            return RateLimitedError(
                f"{provider} reports the account's quota or credit is used up (HTTP 429{detail}); "
                "check the plan and billing in the provider's console",
                provider=provider,
                status=status,
                transient=False,
                retry_after_s=retry_after_s,
            )
        return RateLimitedError(
            f"{provider} is rate limiting requests (HTTP 429{detail})",
            provider=provider,
            status=status,
            retry_after_s=retry_after_s,
        )
    if status in TRANSIENT_STATUSES or status >= 500:
        return ProviderUnavailableError(
            f"{provider} is unavailable (HTTP {status}{detail})",
            provider=provider,
            status=status,
            retry_after_s=retry_after_s,
        )
    return BadRequestError(
        f"{provider} rejected the request with HTTP {status}{detail}; check the model name and settings",
        provider=provider,
        status=status,
    )


def timeout_error(provider: ProviderName) -> ProviderUnavailableError:
    return ProviderUnavailableError(f"the request to {provider} timed out", provider=provider)


def connection_error(provider: ProviderName) -> ProviderUnavailableError:
    return ProviderUnavailableError(f"could not connect to {provider}", provider=provider)


def malformed_reply(provider: ProviderName, what: str) -> MalformedReplyError:
    return MalformedReplyError(f"{provider} sent a malformed reply: {what}", provider=provider)


def interrupted(provider: ProviderName, what: str, *, code: str | None = None) -> StreamInterruptedError:
    detail = f" ({code})" if code else ""
    return StreamInterruptedError(f"{provider} stream broke: {what}{detail}", provider=provider)
