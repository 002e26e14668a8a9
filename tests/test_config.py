"""Settings come from defaults, the user's TOML file and JARVIS_* variables, in that order."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from jarvis.config import Settings, load_settings, user_config_path
from jarvis.errors import ConfigError

pytestmark = pytest.mark.usefixtures("no_user_config")

REPO = Path(__file__).resolve().parents[1]


def test_defaults_without_file() -> None:
    settings = load_settings()
    assert settings.wake.threshold == 0.5
    assert settings.llm.backend == "llama_cpp"


def test_file_values_override_defaults(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[stt]\nlanguage = "fr"\n[endpoint]\nend_silence_s = 1.0\n')
    settings = load_settings(path)
    assert settings.stt.language == "fr"
    assert settings.endpoint.end_silence_s == 1.0
    assert settings.stt.beam_size == 1


def test_environment_overrides_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[stt]\nlanguage = "fr"\nbeam_size = 3\n')
    monkeypatch.setenv("JARVIS_STT__LANGUAGE", "de")
    settings = load_settings(path)
    assert settings.stt.language == "de"
    assert settings.stt.beam_size == 3


def test_user_file_found_in_platform_folder() -> None:
    path = user_config_path()
    path.parent.mkdir(parents=True)
    path.write_text("[wake]\nthreshold = 0.8\n")
    assert load_settings().wake.threshold == 0.8


def test_config_variable_names_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "elsewhere.toml"
    path.write_text("[tts]\nlength_scale = 1.2\n")
    monkeypatch.setenv("JARVIS_CONFIG", str(path))
    assert load_settings().tts.length_scale == 1.2


def test_out_of_range_names_field_and_range(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[wake]\nthreshold = 1.5\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    message = str(caught.value)
    assert "wake.threshold" in message
    assert "less than 1" in message
    assert str(path) in message


def test_unknown_field_rejected(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[wake]\nthreshhold = 0.5\n")
    with pytest.raises(ConfigError, match=r"wake\.threshhold: Extra inputs are not permitted"):
        load_settings(path)


def test_invalid_toml_reported(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[wake\nthreshold = ")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(path)


def test_missing_explicit_file_reported(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "nope.toml")


def test_settings_are_frozen() -> None:
    settings = load_settings()
    with pytest.raises(ValueError, match="frozen"):
        settings.wake.threshold = 0.1  # type: ignore[misc]


def test_shipped_default_file_matches_defaults() -> None:
    with (REPO / "config" / "default.toml").open("rb") as handle:
        shipped = tomllib.load(handle)
    defaults = json.loads(Settings().model_dump_json(exclude_none=True))
    assert shipped == defaults


def test_shipped_default_file_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings(REPO / "config" / "default.toml")
    assert settings == Settings()
