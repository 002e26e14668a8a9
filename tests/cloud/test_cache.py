"""Answer cache: keys, expiry, LRU eviction and which answers may be cached."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import SecretStr

from jarvis.cloud.cache import ResponseCache, cacheable, make_key
from jarvis.cloud.config import CacheSettings
from jarvis.cloud.types import CloudAnswer, Message, Usage

MESSAGES = (Message("user", "What is the capital of France?"),)
PARAMS = {"temperature": 0.0, "max_output_tokens": 400}


class ManualClock:
    def __init__(self) -> None:
        self.now_s = 100.0

    def __call__(self) -> float:
        return self.now_s


def answer(text: str = "Paris.") -> CloudAnswer:
    return CloudAnswer(text=text, provider="openai", model="gpt-4.1-mini", usage=Usage(10, 2), cost_usd=Decimal("0.01"))


def key(**changes: object) -> str:
    values: dict[str, object] = {
        "provider": "openai",
        "model": "gpt-4.1-mini",
        "system": "Be brief.",
        "messages": MESSAGES,
        "params": PARAMS,
    }
    values.update(changes)
    return make_key(**values)  # type: ignore[arg-type]


# --- keys ---------------------------------------------------------------------------------------


def test_key_is_sha256_hex() -> None:
    digest = key()
    assert len(digest) == 64
    assert int(digest, 16) >= 0


def test_key_is_stable() -> None:
    assert key() == key()


def test_key_ignores_parameter_order() -> None:
    assert key(params={"max_output_tokens": 400, "temperature": 0.0}) == key()


def test_mapping_messages_match_message_objects() -> None:
    assert key(messages=[{"role": "user", "content": "What is the capital of France?"}]) == key()


@pytest.mark.parametrize(
    "change",
    [
        {"provider": "anthropic"},
        {"model": "gpt-4.1"},
        {"system": "Be verbose."},
        {"messages": (Message("user", "What is the capital of Spain?"),)},
        {"messages": (Message("assistant", "What is the capital of France?"),)},
        {"params": {"temperature": 0.5, "max_output_tokens": 400}},
        {"params": {"temperature": 0.0, "max_output_tokens": 100}},
        {"params": {**PARAMS, "untrusted": [["web page", "some text"]]}},
    ],
)
def test_key_changes_with_input(change: dict[str, object]) -> None:
    assert key(**change) != key()


def test_key_ignores_secret_parameters() -> None:
    with_secrets = {**PARAMS, "api_key": "sk-test-" + "s" * 24, "auth": SecretStr("x"), "headers": {"x-api-key": "k"}}
    plain = {**PARAMS, "headers": {}}
    assert key(params=with_secrets) == key(params=plain)


def test_key_accepts_decimal_parameters() -> None:
    assert key(params={**PARAMS, "budget": Decimal("0.5")}) != key()


# --- storage ------------------------------------------------------------------------------------


def test_get_returns_stored_answer() -> None:
    cache = ResponseCache(max_entries=4, ttl_s=60)
    cache.put("k", answer())
    hit = cache.get("k")
    assert hit is not None
    assert hit.text == "Paris."


def test_hit_is_marked_cached_and_free() -> None:
    cache = ResponseCache(max_entries=4, ttl_s=60)
    cache.put("k", answer())
    hit = cache.get("k")
    assert hit is not None
    assert hit.cached is True
    assert hit.cost_usd == 0


def test_missing_key_returns_none() -> None:
    assert ResponseCache(max_entries=4, ttl_s=60).get("absent") is None


def test_entry_expires_after_ttl() -> None:
    clock = ManualClock()
    cache = ResponseCache(max_entries=4, ttl_s=10, clock=clock)
    cache.put("k", answer())
    clock.now_s += 9.9
    assert cache.get("k") is not None
    clock.now_s += 0.1
    assert cache.get("k") is None
    assert len(cache) == 0


def test_put_refreshes_ttl() -> None:
    clock = ManualClock()
    cache = ResponseCache(max_entries=4, ttl_s=10, clock=clock)
    cache.put("k", answer("old"))
    clock.now_s += 8
    cache.put("k", answer("new"))
    clock.now_s += 8
    hit = cache.get("k")
    assert hit is not None
    assert hit.text == "new"


def test_least_recently_used_is_evicted() -> None:
    cache = ResponseCache(max_entries=2, ttl_s=60)
    cache.put("a", answer("A"))
    cache.put("b", answer("B"))
    cache.get("a")  # "b" is now the least recently used
    cache.put("c", answer("C"))
    assert cache.get("b") is None
    assert cache.get("a") is not None
    assert cache.get("c") is not None


def test_size_never_exceeds_max() -> None:
    cache = ResponseCache(max_entries=3, ttl_s=60)
    for index in range(10):
        cache.put(str(index), answer())
    assert len(cache) == 3


def test_clear_empties_cache() -> None:
    cache = ResponseCache(max_entries=3, ttl_s=60)
    cache.put("a", answer())
    cache.clear()
    assert cache.get("a") is None


def test_invalid_sizes_are_rejected() -> None:
    with pytest.raises(ValueError, match="max_entries"):
        ResponseCache(max_entries=0, ttl_s=60)


# --- what may be cached -------------------------------------------------------------------------


def test_zero_temperature_is_cacheable() -> None:
    assert cacheable(0.0, CacheSettings())


def test_sampled_answer_is_not_cacheable_by_default() -> None:
    assert not cacheable(0.7, CacheSettings())


def test_sampled_answer_is_cacheable_when_enabled() -> None:
    assert cacheable(0.7, CacheSettings(cache_sampled=True))


def test_disabled_cache_caches_nothing() -> None:
    assert not cacheable(0.0, CacheSettings(enabled=False))


def test_cacheable_is_available_on_class() -> None:
    assert ResponseCache.cacheable(0.0, CacheSettings())


def test_hit_path_on_full_cache_works() -> None:
    cache = ResponseCache(max_entries=512, ttl_s=3600)
    keys = [key(system=f"prompt {index}") for index in range(512)]
    for cache_key in keys:
        cache.put(cache_key, answer())
    assert all(cache.get(cache_key) is not None for cache_key in keys)
