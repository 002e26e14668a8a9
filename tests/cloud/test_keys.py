"""Key store: environment first, secure keyrings only, no key ever shown; config files without keys."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import ClassVar

import keyring
import keyring.backend
import keyring.backends.chainer
import keyring.backends.fail
import keyring.backends.null
import keyring.core
import keyring.errors
import pytest
from pydantic import SecretStr

from jarvis.cloud.keys import KEYRING_SERVICE, KeyStore, check_no_plaintext_keys, secure_backends
from jarvis.config import load_settings
from jarvis.errors import ConfigError

ANTHROPIC_KEY = "sk-ant-keytest-" + "a" * 24
OPENAI_KEY = "sk-keytest-" + "b" * 24
GEMINI_KEY = "AIza-keytest-" + "c" * 30
ALL_KEYS = (ANTHROPIC_KEY, OPENAI_KEY, GEMINI_KEY)


class MemoryKeyring(keyring.backend.KeyringBackend):
    """A keyring that keeps entries in a dict and claims to store them securely.

    ``viable = False`` keeps keyring's own backend discovery from ever choosing it.
    """

    priority = 5  # type: ignore[assignment]
    viable = False  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if (service, username) not in self.entries:
            raise keyring.errors.PasswordDeleteError("not found")
        del self.entries[(service, username)]


class LowPriorityKeyring(MemoryKeyring):
    """Stands for keyrings.alt's file backends, which declare a priority below 1."""

    priority = 0.5  # type: ignore[assignment]


class PlaintextKeyring(MemoryKeyring):
    """A backend named like keyrings.alt's PlaintextKeyring, even though it claims a high priority."""

    priority = 9  # type: ignore[assignment]


class LockedKeyring(MemoryKeyring):
    """A secure keyring that is locked: every operation fails."""

    def get_password(self, service: str, username: str) -> str | None:
        raise keyring.errors.KeyringLocked("locked")

    def set_password(self, service: str, username: str, password: str) -> None:
        raise keyring.errors.KeyringLocked("locked")


class UnknownPriorityKeyring(MemoryKeyring):
    """A backend whose priority cannot be determined."""

    @property  # type: ignore[misc]
    def priority(self) -> float:  # type: ignore[override]
        raise RuntimeError("no priority")


def chainer_of(*members: keyring.backend.KeyringBackend) -> keyring.backend.KeyringBackend:
    class FixedChainer(keyring.backends.chainer.ChainerBackend):
        backends: ClassVar[list[keyring.backend.KeyringBackend]] = list(members)  # type: ignore[misc]

    return FixedChainer()


@pytest.fixture
def use_keyring(monkeypatch: pytest.MonkeyPatch) -> object:
    """Return a function that installs a keyring backend for this test only."""
    monkeypatch.setattr(keyring.core, "_keyring_backend", None)

    def install(backend: keyring.backend.KeyringBackend) -> keyring.backend.KeyringBackend:
        keyring.set_keyring(backend)
        return backend

    return install


@pytest.fixture
def secure(use_keyring) -> MemoryKeyring:  # type: ignore[no-untyped-def]
    return use_keyring(MemoryKeyring())  # type: ignore[no-any-return]


def assert_no_key_in(*texts: str) -> None:
    for text in texts:
        for key in ALL_KEYS:
            assert key not in text
            assert key[-16:] not in text


# --- lookup order -------------------------------------------------------------------------------


def test_environment_comes_first(secure: MemoryKeyring) -> None:
    secure.set_password(KEYRING_SERVICE, "anthropic", "sk-ant-keytest-other" + "z" * 20)
    store = KeyStore.from_environment({"ANTHROPIC_API_KEY": ANTHROPIC_KEY})
    key = store.get("anthropic")
    assert key is not None
    assert key.get_secret_value() == ANTHROPIC_KEY


def test_keyring_is_used_without_environment(secure: MemoryKeyring) -> None:
    secure.set_password(KEYRING_SERVICE, "openai", OPENAI_KEY)
    key = KeyStore.from_environment({}).get("openai")
    assert key is not None
    assert key.get_secret_value() == OPENAI_KEY


def test_missing_key_is_none(secure: MemoryKeyring) -> None:
    assert KeyStore.from_environment({}).get("gemini") is None


def test_blank_environment_value_is_ignored(secure: MemoryKeyring) -> None:
    secure.set_password(KEYRING_SERVICE, "gemini", GEMINI_KEY)
    key = KeyStore.from_environment({"GEMINI_API_KEY": "   "}).get("gemini")
    assert key is not None
    assert key.get_secret_value() == GEMINI_KEY


def test_process_environment_is_default(secure: MemoryKeyring, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    assert KeyStore.from_environment().status()["openai"] == "environment"


def test_get_returns_secret_str(secure: MemoryKeyring) -> None:
    key = KeyStore.from_environment({"OPENAI_API_KEY": OPENAI_KEY}).get("openai")
    assert isinstance(key, SecretStr)
    assert_no_key_in(str(key), repr(key))


def test_unknown_provider_is_rejected(secure: MemoryKeyring) -> None:
    with pytest.raises(ConfigError, match="unknown provider 'mistral'"):
        KeyStore.from_environment({}).get("mistral")


# --- set, delete, status ------------------------------------------------------------------------


def test_set_stores_in_keyring(secure: MemoryKeyring) -> None:
    KeyStore.from_environment({}).set("anthropic", SecretStr(ANTHROPIC_KEY))
    assert secure.entries[(KEYRING_SERVICE, "anthropic")] == ANTHROPIC_KEY


def test_set_strips_surrounding_whitespace(secure: MemoryKeyring) -> None:
    KeyStore.from_environment({}).set("anthropic", SecretStr(f"  {ANTHROPIC_KEY}\n"))
    assert secure.entries[(KEYRING_SERVICE, "anthropic")] == ANTHROPIC_KEY


def test_set_rejects_empty_key(secure: MemoryKeyring) -> None:
    with pytest.raises(ConfigError, match="empty"):
        KeyStore.from_environment({}).set("openai", SecretStr("  "))


def test_set_rejects_inner_whitespace_without_echo(secure: MemoryKeyring) -> None:
    with pytest.raises(ConfigError, match="whitespace") as caught:
        KeyStore.from_environment({}).set("openai", SecretStr(OPENAI_KEY[:10] + " " + OPENAI_KEY[10:]))
    assert_no_key_in(str(caught.value))


def test_delete_removes_entry(secure: MemoryKeyring) -> None:
    secure.set_password(KEYRING_SERVICE, "gemini", GEMINI_KEY)
    assert KeyStore.from_environment({}).delete("gemini") is True
    assert (KEYRING_SERVICE, "gemini") not in secure.entries


def test_delete_of_missing_key_returns_false(secure: MemoryKeyring) -> None:
    assert KeyStore.from_environment({}).delete("gemini") is False


def test_status_names_sources(secure: MemoryKeyring) -> None:
    secure.set_password(KEYRING_SERVICE, "openai", OPENAI_KEY)
    status = KeyStore.from_environment({"ANTHROPIC_API_KEY": ANTHROPIC_KEY}).status()
    assert status == {"anthropic": "environment", "openai": "keyring", "gemini": "missing"}


def test_status_and_repr_never_show_keys(secure: MemoryKeyring) -> None:
    secure.set_password(KEYRING_SERVICE, "openai", OPENAI_KEY)
    store = KeyStore.from_environment({"ANTHROPIC_API_KEY": ANTHROPIC_KEY})
    assert_no_key_in(str(store.status()), repr(store), str(store))


def test_in_memory_store_round_trip() -> None:
    store = KeyStore.in_memory({"anthropic": SecretStr(ANTHROPIC_KEY), "openai": OPENAI_KEY})
    anthropic_key = store.get("anthropic")
    assert anthropic_key is not None
    assert anthropic_key.get_secret_value() == ANTHROPIC_KEY
    assert store.status() == {"anthropic": "keyring", "openai": "keyring", "gemini": "missing"}
    store.set("gemini", SecretStr(GEMINI_KEY))
    assert store.delete("openai") is True
    assert store.status() == {"anthropic": "keyring", "openai": "missing", "gemini": "keyring"}


def test_in_memory_rejects_unknown_provider() -> None:
    with pytest.raises(ConfigError, match="unknown provider"):
        KeyStore.in_memory({"acme": "x"})


# --- insecure keyrings --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "backend",
    [
        LowPriorityKeyring(),
        PlaintextKeyring(),
        keyring.backends.fail.Keyring(),
        keyring.backends.null.Keyring(),
        UnknownPriorityKeyring(),
    ],
    ids=["low-priority", "plaintext-name", "fail", "null", "unknown-priority"],
)
def test_insecure_backend_is_refused(use_keyring, backend: keyring.backend.KeyringBackend) -> None:  # type: ignore[no-untyped-def]
    use_keyring(backend)
    store = KeyStore.from_environment({})
    with pytest.raises(ConfigError, match="no secure keyring") as caught:
        store.set("openai", SecretStr(OPENAI_KEY))
    assert "OPENAI_API_KEY" in str(caught.value)
    assert_no_key_in(str(caught.value))


def test_plaintext_backend_is_never_read(use_keyring) -> None:  # type: ignore[no-untyped-def]
    backend = use_keyring(LowPriorityKeyring())
    backend.set_password(KEYRING_SERVICE, "openai", OPENAI_KEY)
    store = KeyStore.from_environment({})
    assert store.get("openai") is None
    assert store.status()["openai"] == "missing"


def test_environment_works_without_secure_keyring(use_keyring) -> None:  # type: ignore[no-untyped-def]
    use_keyring(keyring.backends.fail.Keyring())
    key = KeyStore.from_environment({"GEMINI_API_KEY": GEMINI_KEY}).get("gemini")
    assert key is not None
    assert key.get_secret_value() == GEMINI_KEY


def test_chainer_uses_only_secure_members(use_keyring) -> None:  # type: ignore[no-untyped-def]
    plaintext, good = LowPriorityKeyring(), MemoryKeyring()
    use_keyring(chainer_of(plaintext, good))
    plaintext.set_password(KEYRING_SERVICE, "gemini", GEMINI_KEY)
    store = KeyStore.from_environment({})
    assert store.get("gemini") is None
    store.set("anthropic", SecretStr(ANTHROPIC_KEY))
    assert (KEYRING_SERVICE, "anthropic") in good.entries
    assert (KEYRING_SERVICE, "anthropic") not in plaintext.entries


def test_chainer_of_plaintext_only_is_refused(use_keyring) -> None:  # type: ignore[no-untyped-def]
    use_keyring(chainer_of(LowPriorityKeyring(), PlaintextKeyring()))
    assert secure_backends() == []
    with pytest.raises(ConfigError, match="no secure keyring"):
        KeyStore.from_environment({}).set("openai", SecretStr(OPENAI_KEY))


def test_locked_keyring_read_counts_as_missing(use_keyring, caplog: pytest.LogCaptureFixture, cloud_log) -> None:  # type: ignore[no-untyped-def]
    use_keyring(LockedKeyring())
    caplog.set_level(logging.DEBUG)
    assert KeyStore.from_environment({}).get("openai") is None
    assert "keyring_read_failed" in cloud_log.getvalue()


def test_locked_keyring_write_is_config_error(use_keyring) -> None:  # type: ignore[no-untyped-def]
    use_keyring(LockedKeyring())
    with pytest.raises(ConfigError, match="could not store") as caught:
        KeyStore.from_environment({}).set("openai", SecretStr(OPENAI_KEY))
    assert_no_key_in(str(caught.value))
    assert caught.value.__cause__ is None


# --- keys in config files -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "place"),
    [
        ({"cloud": {"anthropic": {"api_key": ANTHROPIC_KEY}}}, "cloud.anthropic.api_key"),
        ({"cloud": {"openai": {"apiKey": "anything"}}}, "cloud.openai.apiKey"),
        ({"cloud": {"gemini": {"key": ""}}}, "cloud.gemini.key"),
        ({"token": "abc"}, "token"),
        ({"cloud": {"secret": {"nested": 1}}}, "cloud.secret"),
        ({"llm": {"password": "hunter2"}}, "llm.password"),
        ({"llm": {"x-api-key": "v"}}, "llm.x-api-key"),
        ({"cloud": {"openai": {"base_url": OPENAI_KEY}}}, "cloud.openai.base_url"),
        ({"llm": {"system_prompt": f"use {GEMINI_KEY} please"}}, "llm.system_prompt"),
        ({"extra": [{"name": "a"}, {"credentials": "b"}]}, "extra[1].credentials"),
    ],
)
def test_key_in_config_is_rejected(raw: dict[str, object], place: str) -> None:
    with pytest.raises(ConfigError) as caught:
        check_no_plaintext_keys(raw)
    message = str(caught.value)
    assert place in message
    assert "jarvis keys set" in message
    assert_no_key_in(message)


def test_rejection_names_provider_command() -> None:
    with pytest.raises(ConfigError) as caught:
        check_no_plaintext_keys({"cloud": {"anthropic": {"api_key": ANTHROPIC_KEY}}})
    assert "`jarvis keys set anthropic`" in str(caught.value)
    assert "ANTHROPIC_API_KEY" in str(caught.value)


@pytest.mark.parametrize(
    "raw",
    [
        {},
        {"cloud": {"openai": {"tokens_per_minute": 5000, "requests_per_minute": 10, "model": "gpt-4.1"}}},
        {"cloud": {"max_output_tokens": 300, "guard": {"max_input_chars": 1000}}},
        {"llm": {"max_tokens": 48, "context_tokens": 1024, "system_prompt": "Be brief."}},
        {"wake": {"threshold": 0.5}, "log": {"level": "debug"}},
    ],
)
def test_ordinary_config_passes(raw: dict[str, object]) -> None:
    check_no_plaintext_keys(raw)


def test_load_settings_rejects_key_in_file(no_user_config: None, tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(f'[cloud.anthropic]\napi_key = "{ANTHROPIC_KEY}"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    assert "cloud.anthropic.api_key" in str(caught.value)
    assert str(path) in str(caught.value)
    assert_no_key_in(str(caught.value))


def test_load_settings_accepts_file_without_keys(no_user_config: None, tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[cloud.openai]\ntokens_per_minute = 5000\n", encoding="utf-8")
    assert load_settings(path).cloud.openai.tokens_per_minute == 5000
