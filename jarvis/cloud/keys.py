"""Provider API keys: from environment variables first, then the OS keyring.

Keys travel as :class:`~pydantic.SecretStr` and are never logged, echoed or
written anywhere but the keyring. A keyring backend that stores secrets in
plain text or not at all is rejected: ``keyrings.alt``'s PlaintextKeyring,
the ``fail`` and ``null`` backends, and any backend whose priority is below
1, the level that keyring 25's ``KeyringBackend.priority`` docstring calls
recommended.
Environment variables still work without a keyring.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from typing import Any, Literal, Protocol

import structlog
from pydantic import SecretStr

from jarvis.cloud.secret_shapes import is_secret_name, looks_like_secret
from jarvis.cloud.types import PROVIDER_NAMES
from jarvis.errors import ConfigError

_log = structlog.get_logger(__name__)

KEYRING_SERVICE = "jarvis"
ENV_VARS: dict[str, str] = {
    "anthropic": "ANTHROPIC_API_KEY",
    "openai": "OPENAI_API_KEY",
    "gemini": "GEMINI_API_KEY",
}
KeySource = Literal["environment", "keyring", "missing"]

_MIN_PRIORITY = 1.0
_PLAINTEXT_BACKENDS = frozenset(
    {
        "keyrings.alt.file.PlaintextKeyring",
        "keyring.backends.fail.Keyring",
        "keyring.backends.null.Keyring",
    }
)


class _SecretBackend(Protocol):
    def get(self, provider: str) -> str | None: ...
    def set(self, provider: str, key: str) -> None: ...
    def delete(self, provider: str) -> bool: ...


class KeyStore:
    """Look up, store and delete provider keys without ever exposing them."""

    def __init__(self, environ: Mapping[str, str], backend: _SecretBackend) -> None:
        self._environ = environ
        self._backend = backend

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> KeyStore:
        """Return a store reading ``environ`` (the process environment by default), then the OS keyring."""
        return cls(os.environ if environ is None else environ, _KeyringBackend())

    @classmethod
    def in_memory(
        cls, mapping: Mapping[str, SecretStr | str] | None = None, environ: Mapping[str, str] | None = None
    ) -> KeyStore:
        """Return a store held in memory, for tests; its keys report their source as ``keyring``.

        ``environ`` stands for the environment variables, empty by default.
        """
        keys = {
            _checked_provider(provider): key.get_secret_value() if isinstance(key, SecretStr) else key
            for provider, key in (mapping or {}).items()
        }
        return cls(environ or {}, _MemoryBackend(keys))

    def __repr__(self) -> str:
        return f"KeyStore(status={self.status()!r})"

    def get(self, provider: str) -> SecretStr | None:
        """Return the key of ``provider``, or None when neither the environment nor the keyring has one."""
        provider = _checked_provider(provider)
        from_env = self._environ.get(ENV_VARS[provider], "").strip()
        if from_env:
            return SecretStr(from_env)
        stored = self._backend.get(provider)
        return SecretStr(stored) if stored else None

    def set(self, provider: str, key: SecretStr) -> None:
        """Store ``key`` for ``provider`` in the keyring.

        Raises:
            ConfigError: the key is empty or contains whitespace, the provider
                is unknown, or no secure keyring is available.
        """
        provider = _checked_provider(provider)
        value = key.get_secret_value().strip()
        if not value:
            raise ConfigError(f"the key for {provider} is empty; paste the whole key")
        if any(char.isspace() for char in value):
            raise ConfigError(f"the key for {provider} contains whitespace; paste it again as one line without spaces")
        self._backend.set(provider, value)

    def delete(self, provider: str) -> bool:
        """Delete the keyring entry of ``provider``; return False when there was none."""
        return self._backend.delete(_checked_provider(provider))

    def status(self) -> dict[str, str]:
        """Return where each provider's key comes from: ``environment``, ``keyring`` or ``missing``."""
        return {provider: self._source(provider) for provider in PROVIDER_NAMES}

    def _source(self, provider: str) -> KeySource:
        if self._environ.get(ENV_VARS[provider], "").strip():
            return "environment"
        return "keyring" if self._backend.get(provider) else "missing"


class _MemoryBackend:
    def __init__(self, keys: dict[str, str]) -> None:
        self._keys = keys

    def get(self, provider: str) -> str | None:
        return self._keys.get(provider)

    def set(self, provider: str, key: str) -> None:
        self._keys[provider] = key

    def delete(self, provider: str) -> bool:
        return self._keys.pop(provider, None) is not None


class _KeyringBackend:
    """The OS keyring through ``keyring``, skipping plain-text and low-priority backends."""

    def get(self, provider: str) -> str | None:
        import keyring.errors

        backends = secure_backends()
        for backend in backends:
            try:
                value = backend.get_password(KEYRING_SERVICE, provider)
            except keyring.errors.KeyringError as err:
                _log.warning("keyring_read_failed", provider=provider, backend=_backend_name(backend), error=str(err))
                continue
            if value:
                return str(value)
        return None

    def set(self, provider: str, key: str) -> None:
        import keyring.errors

        backend = self._writable_backend()
        try:
            backend.set_password(KEYRING_SERVICE, provider, key)
        except keyring.errors.KeyringError as err:
            raise ConfigError(
                f"the keyring ({_backend_name(backend)}) could not store the key for {provider}: "
                f"{type(err).__name__}; unlock the keyring or use the {ENV_VARS[provider]} environment variable"
            ) from None

    def delete(self, provider: str) -> bool:
        import keyring.errors

        deleted = False
        for backend in secure_backends():
            try:
                if backend.get_password(KEYRING_SERVICE, provider) is None:
                    continue
                backend.delete_password(KEYRING_SERVICE, provider)
            except keyring.errors.PasswordDeleteError:
                continue
            except keyring.errors.KeyringError as err:
                raise ConfigError(
                    f"the keyring ({_backend_name(backend)}) could not delete the key for {provider}: "
                    f"{type(err).__name__}"
                ) from None
            deleted = True
        return deleted

    @staticmethod
    def _writable_backend() -> Any:
        backends = secure_backends()
        if not backends:
            raise ConfigError(no_secure_keyring_message())
        return backends[0]


def secure_backends() -> list[Any]:
    """Return the active keyring backends that do not store secrets in plain text, best first.

    A chainer backend is opened up and only its secure members are kept.
    """
    import keyring
    import keyring.backends.chainer

    active = keyring.get_keyring()
    members = list(active.backends) if isinstance(active, keyring.backends.chainer.ChainerBackend) else [active]
    return [backend for backend in members if _is_secure(backend)]


def no_secure_keyring_message() -> str:
    """Return the explanation shown when no secure keyring backend is available."""
    import keyring

    return (
        f"no secure keyring is available (the active backend, {_backend_name(keyring.get_keyring())}, "
        "stores secrets in plain text or cannot store them). Install and unlock a system keyring "
        "(GNOME Keyring or KWallet through Secret Service, macOS Keychain, Windows Credential Manager), "
        f"or set the key in an environment variable: {', '.join(ENV_VARS.values())}"
    )


def _is_secure(backend: Any) -> bool:
    if _backend_name(backend) in _PLAINTEXT_BACKENDS or "plaintext" in type(backend).__name__.lower():
        return False
    try:
        priority = float(backend.priority)
    except Exception:  # a backend that cannot state its priority is not used
        return False
    return priority >= _MIN_PRIORITY


def _backend_name(backend: Any) -> str:
    backend_type = type(backend)
    return f"{backend_type.__module__}.{backend_type.__name__}"


def _checked_provider(provider: str) -> str:
    if provider not in PROVIDER_NAMES:
        raise ConfigError(f"unknown provider '{provider}'; expected one of {', '.join(PROVIDER_NAMES)}")
    return provider


def check_no_plaintext_keys(raw_config: Mapping[str, Any], source: str = "the config file") -> None:
    """Raise ConfigError when ``raw_config`` contains anything that looks like a key.

    A field named like a key, token, secret or password counts, at any depth,
    and so does any string value shaped like a credential. The message names
    each place and where keys belong instead, never the value.
    """
    places = sorted(set(_secret_places(raw_config, "")))
    if not places:
        return
    providers = [provider for provider in PROVIDER_NAMES if any(provider in place for place in places)]
    if len(providers) == 1:
        where = (
            f"`jarvis keys set {providers[0]}` (stored in the system keyring) or the {ENV_VARS[providers[0]]} variable"
        )
    else:
        where = (
            f"`jarvis keys set PROVIDER` (stored in the system keyring) or the {', '.join(ENV_VARS.values())} variables"
        )
    raise ConfigError(
        f"{source} contains what looks like an API key or other secret at {', '.join(places)}. "
        f"Keys never go in the config file: remove the entry and store the key with {where}."
    )


def _secret_places(value: object, path: str) -> Iterator[str]:
    if isinstance(value, Mapping):
        for name, item in value.items():
            child = f"{path}.{name}" if path else str(name)
            if isinstance(name, str) and is_secret_name(name):
                yield child
            else:
                yield from _secret_places(item, child)
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from _secret_places(item, f"{path}[{index}]")
    elif isinstance(value, str) and looks_like_secret(value):
        yield path or "the top level"
