"""Shared fixtures: real models loaded once per test session."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from jarvis.config import Settings
from jarvis.models import ModelStore

if TYPE_CHECKING:
    from jarvis.stt import Transcriber
    from jarvis.tts import Synthesizer


@pytest.fixture(scope="session")
def settings() -> Settings:
    return Settings()


@pytest.fixture(scope="session")
def model_store() -> ModelStore:
    return ModelStore()


@pytest.fixture(scope="session")
def synthesizer(model_store: ModelStore, settings: Settings) -> Synthesizer:
    from jarvis.tts import Synthesizer

    return Synthesizer.from_store(model_store, settings.tts)


@pytest.fixture(scope="session")
def transcriber(model_store: ModelStore, settings: Settings) -> Transcriber:
    from jarvis.stt import Transcriber

    return Transcriber.from_store(model_store, settings.stt)


@pytest.fixture
def no_user_config(tmp_path, monkeypatch) -> None:
    """Point the platform directories at an empty folder so the user's own files are never read."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.delenv("JARVIS_CONFIG", raising=False)
