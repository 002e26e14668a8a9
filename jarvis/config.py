"""Settings: frozen pydantic models read from TOML files and ``JARVIS_*`` variables.

Sources, highest priority first: keyword arguments, environment variables
(``JARVIS_STT__LANGUAGE=de`` sets ``stt.language``), the user's file (given
with ``--config``, ``JARVIS_CONFIG`` or found in the platform's config
directory), then the defaults below, which ``config/default.toml`` mirrors.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

import platformdirs
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_settings import BaseSettings, EnvSettingsSource, PydanticBaseSettingsSource, SettingsConfigDict

from jarvis.cloud.config import CloudSettings
from jarvis.cloud.keys import check_no_plaintext_keys
from jarvis.errors import ConfigError
from jarvis.redaction import redact_text

APP_NAME = "jarvis"


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class AudioSettings(_Section):
    """Sound devices and buffering."""

    input_device: str | int | None = Field(
        None, description="PortAudio input device name or index; empty for the system default."
    )
    output_device: str | int | None = Field(
        None, description="PortAudio output device name or index; empty for the system default."
    )
    input_block_ms: int = Field(
        40, ge=5, le=500, description="Block size the microphone stream delivers, in milliseconds."
    )
    input_queue_s: float = Field(
        4.0,
        gt=0,
        le=60,
        description="Audio buffered between the device and the pipeline before frames are dropped, in seconds.",
    )


class WakeSettings(_Section):
    """Wake word detection."""

    model: Path | None = Field(
        None, description="Path to an openWakeWord ONNX model; empty for the bundled hey_jarvis."
    )
    threshold: float = Field(
        0.5, gt=0, lt=1, description="Score at or above which the wake word counts as heard (0 to 1)."
    )
    refractory_s: float = Field(
        1.5, ge=0, le=30, description="Time after a detection during which further detections are ignored, in seconds."
    )
    speaking_cooldown_s: float = Field(
        0.8,
        ge=0,
        le=10,
        description="Time after JARVIS stops speaking before the wake word is heard again, in seconds.",
    )


class EndpointSettings(_Section):
    """Deciding where the spoken request starts and ends."""

    vad_threshold: float = Field(
        0.5, gt=0, lt=1, description="Voice activity probability at or above which a frame counts as speech (0 to 1)."
    )
    pre_roll_s: float = Field(0.4, ge=0, le=2, description="Audio kept from before the first speech frame, in seconds.")
    end_silence_s: float = Field(
        0.7,
        ge=0.1,
        le=5,
        description="Silence after speech that ends the request, in seconds; raise it if slow speakers get cut off.",
    )
    max_request_s: float = Field(
        12.0, ge=1, le=60, description="Longest request recorded before it is cut, in seconds."
    )
    no_speech_timeout_s: float = Field(
        4.0,
        ge=0.5,
        le=30,
        description="Time after the wake word with no speech before the turn is dropped, in seconds.",
    )
    early_transcription_s: float = Field(
        0.16,
        ge=0,
        le=5,
        description=(
            "Silence after speech at which transcription starts before the end is certain, in seconds; "
            "0 turns it off. The early result is used only if no more speech follows."
        ),
    )


class SttSettings(_Section):
    """Speech recognition with faster-whisper."""

    model: Path | None = Field(
        None, description="Path to a CTranslate2 Whisper model folder; empty for the bundled Whisper tiny."
    )
    language: str | None = Field("en", description="Spoken language code such as 'en'; empty to detect it per request.")
    compute_type: str = Field("int8", description="CTranslate2 compute type on the CPU, e.g. int8 or float32.")
    beam_size: int = Field(1, ge=1, le=10, description="Beam width; 1 is greedy decoding and fastest.")
    threads: int = Field(0, ge=0, le=64, description="CPU threads for decoding; 0 uses one per core, at most 4.")
    no_speech_prob_max: float = Field(
        0.6, gt=0, le=1, description="Segments whose no-speech probability is above this are dropped (0 to 1)."
    )
    avg_logprob_min: float = Field(
        -1.0, le=0, description="Segments whose average token log-probability is below this are dropped."
    )


class TtsSettings(_Section):
    """Speech synthesis with Piper."""

    voice: Path | None = Field(None, description="Path to a Piper .onnx voice; empty for the bundled en_US joe voice.")
    voice_config: Path | None = Field(
        None, description="Path to the voice's .onnx.json; empty to use the voice path plus '.json'."
    )
    length_scale: float = Field(1.0, gt=0.2, le=3, description="Speaking slowness: above 1 is slower, below 1 faster.")
    sentence_silence_s: float = Field(0.15, ge=0, le=2, description="Silence inserted between sentences, in seconds.")


class LlmSettings(_Section):
    """The local answer model."""

    backend: Literal["llama_cpp", "openai_compatible"] = Field(
        "llama_cpp", description="Run a GGUF file in-process, or call an OpenAI-compatible server."
    )
    model: Path | None = Field(None, description="Path to a GGUF file; empty for the bundled Gemma 3 270M base model.")
    prompt_style: Literal["auto", "completion", "chat"] = Field(
        "auto", description="'auto' uses chat when the GGUF carries a chat template, else a few-shot completion prompt."
    )
    server_url: str = Field(
        "http://127.0.0.1:8080/v1",
        description="Base URL of the OpenAI-compatible server when backend is openai_compatible.",
    )
    server_model: str = Field("local", description="Model name sent to the OpenAI-compatible server.")
    max_tokens: int = Field(48, ge=1, le=1024, description="Most tokens generated for one answer.")
    timeout_s: float = Field(8.0, gt=0, le=120, description="Longest time one local answer may take, in seconds.")
    temperature: float = Field(0.2, ge=0, le=2, description="Sampling temperature; 0 is greedy.")
    context_tokens: int = Field(
        1024, ge=256, le=32768, description="Context window allocated for the model, in tokens."
    )
    threads: int = Field(
        1,
        ge=1,
        le=64,
        description="CPU threads for generation; 1 keeps answers fast when other work needs a core too.",
    )
    system_prompt: str = Field(
        "You are JARVIS, a helpful voice assistant. Answer in one or two short spoken sentences.",
        max_length=2000,
        description="Instruction given to chat models; completion prompts use it as a header.",
    )


class LogSettings(_Section):
    """Logging."""

    level: Literal["debug", "info", "warning", "error"] = Field("info", description="Lowest level written.")
    format: Literal["auto", "json", "console"] = Field(
        "auto", description="'auto' is JSON when stderr is not a terminal."
    )


class Settings(BaseSettings):
    """Every setting of JARVIS."""

    model_config = SettingsConfigDict(
        frozen=True,
        extra="forbid",
        env_prefix="JARVIS_",
        env_nested_delimiter="__",
        nested_model_default_partial_update=True,
    )

    audio: AudioSettings = AudioSettings()
    wake: WakeSettings = WakeSettings()
    endpoint: EndpointSettings = EndpointSettings()
    stt: SttSettings = SttSettings()
    tts: TtsSettings = TtsSettings()
    llm: LlmSettings = LlmSettings()
    cloud: CloudSettings = CloudSettings()
    log: LogSettings = LogSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # load_settings merges the file and the environment itself, so that the
        # environment overrides the file and both arrive as keyword arguments.
        return (init_settings,)


def user_config_path() -> Path:
    """Return where the user's config file lives on this platform."""
    return Path(platformdirs.user_config_dir(APP_NAME)) / "config.toml"


def state_dir() -> Path:
    """Return the platform's state directory for JARVIS (ledgers, caches)."""
    return Path(platformdirs.user_state_dir(APP_NAME))


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"config file {path} is not valid TOML: {err}") from err
    except OSError as err:
        raise ConfigError(f"cannot read config file {path}: {err.strerror}") from err


def describe_validation_error(err: ValidationError, source: str) -> str:
    """Turn a pydantic error into lines that name each field and what it accepts."""
    lines = [f"invalid settings in {source}:"]
    for issue in err.errors(include_url=False):
        field = ".".join(str(part) for part in issue["loc"])
        value = issue.get("input")
        # Show the rejected value only when it is short and scalar, with anything key-shaped removed.
        got = ""
        if isinstance(value, (int, float, bool)) or (isinstance(value, str) and len(value) <= 40):
            got = f" (got {redact_text(str(value))!r})"
        description = _field_description(issue["loc"])
        hint = f" [{description}]" if description else ""
        lines.append(f"  {field}: {issue['msg']}{got}{hint}")
    lines.append("Fix the values above in the config file or the JARVIS_* environment variable and try again.")
    return "\n".join(lines)


def _field_description(location: tuple[int | str, ...]) -> str | None:
    """Return the description of the settings field at ``location``, if there is one."""
    model: type[BaseModel] | None = Settings
    description = None
    for part in location:
        if model is None or not isinstance(part, str) or part not in model.model_fields:
            return None
        field = model.model_fields[part]
        description = field.description
        annotation = field.annotation
        model = annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
    return description


def load_settings(path: Path | None = None, **overrides: Any) -> Settings:
    """Load settings from ``path`` (or ``JARVIS_CONFIG``, or the user's file) and the environment.

    Raises:
        ConfigError: the file is unreadable or a value is invalid; the message
            names each invalid field and the accepted range.
    """
    explicit = path or (Path(os.environ["JARVIS_CONFIG"]) if os.environ.get("JARVIS_CONFIG") else None)
    if explicit is not None and not explicit.is_file():
        raise ConfigError(f"config file {explicit} not found; check the path given with --config or JARVIS_CONFIG")
    candidate = explicit or user_config_path()
    file_values = _read_toml(candidate) if candidate.is_file() else {}
    check_no_plaintext_keys(file_values, source=f"config file {candidate}")
    source = f"{candidate} or the JARVIS_* environment" if file_values else "the JARVIS_* environment"
    env_values = EnvSettingsSource(Settings)()
    try:
        return Settings(**_merge(_merge(file_values, env_values), overrides))
    except ValidationError as err:
        raise ConfigError(describe_validation_error(err, source)) from None


def _merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged
