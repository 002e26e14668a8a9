"""In-memory answer cache with a time to live and least-recently-used eviction."""

from __future__ import annotations

import hashlib
import json
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, is_dataclass, replace
from decimal import Decimal

from pydantic import SecretStr

from jarvis.cloud.config import CacheSettings
from jarvis.cloud.secret_shapes import is_secret_name
from jarvis.cloud.types import CloudAnswer, Message


def make_key(
    provider: str,
    model: str,
    system: str,
    messages: Sequence[Message | Mapping[str, object]],
    params: Mapping[str, object],
) -> str:
    """Return the SHA-256 hex digest of a canonical JSON form of everything that shapes the answer.

    ``params`` holds every request parameter that changes the answer
    (temperature, output cap, untrusted blocks...). Parameters named like a
    secret and :class:`SecretStr` values are left out: a key never changes the
    answer and must never reach a cache key.
    """
    document = {
        "provider": provider,
        "model": model,
        "system": system,
        "messages": [_message_fields(message) for message in messages],
        "params": _without_secrets(params),
    }
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_json_default)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def cacheable(temperature: float, settings: CacheSettings) -> bool:
    """Tell whether an answer sampled at ``temperature`` may be cached under ``settings``.

    Caching must be enabled; then temperature 0 always qualifies and any other
    temperature only with ``cache_sampled``.
    """
    return settings.enabled and (temperature == 0 or settings.cache_sampled)


class ResponseCache:
    """Answers by key, each valid for ``ttl_s`` seconds of ``clock``, at most ``max_entries`` kept.

    Not thread-safe; use it from one event loop.
    """

    def __init__(self, max_entries: int, ttl_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        if max_entries < 1 or ttl_s <= 0:
            raise ValueError("max_entries must be at least 1 and ttl_s above 0")
        self._max_entries = max_entries
        self._ttl_s = ttl_s
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, CloudAnswer]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str) -> CloudAnswer | None:
        """Return the answer stored under ``key`` marked as cached, or None when absent or expired."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires_at_s, answer = entry
        if self._clock() >= expires_at_s:
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return answer

    def put(self, key: str, answer: CloudAnswer) -> None:
        """Store ``answer`` under ``key``, evicting the least recently used entries beyond the limit."""
        stored = replace(answer, cached=True, cost_usd=Decimal(0))
        self._entries[key] = (self._clock() + self._ttl_s, stored)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        """Drop every entry."""
        self._entries.clear()

    cacheable = staticmethod(cacheable)


def _without_secrets(value: object, depth: int = 0) -> object:
    """Return ``value`` with secret-named fields and SecretStr values removed at every depth."""
    if isinstance(value, SecretStr) or depth > 16:
        return None
    if isinstance(value, Mapping):
        return {
            str(name): _without_secrets(item, depth + 1)
            for name, item in value.items()
            if not (isinstance(name, str) and is_secret_name(name)) and not isinstance(item, SecretStr)
        }
    if isinstance(value, (list, tuple)):
        return [_without_secrets(item, depth + 1) for item in value]
    return value


def _message_fields(message: Message | Mapping[str, object]) -> dict[str, object]:
    if isinstance(message, Message):
        return {"role": message.role, "content": message.content}
    return dict(message)


def _json_default(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value)
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=repr)
    return repr(value)
