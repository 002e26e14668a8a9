"""Speech synthesis with Piper, one sentence at a time."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt
import structlog

from jarvis.config import TtsSettings
from jarvis.errors import ModelError, SynthesisError
from jarvis.models import ModelStore
from jarvis.speech_text import make_speakable

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True, eq=False)
class SpokenAudio:
    """Synthesised speech for one piece of text: int16 mono samples at ``sample_rate_hz``."""

    samples: npt.NDArray[np.int16]
    sample_rate_hz: int

    @property
    def duration_s(self) -> float:
        return len(self.samples) / self.sample_rate_hz


class Synthesizer:
    """A loaded Piper voice.

    Not thread-safe: one instance is used from one worker thread.
    """

    def __init__(self, voice_path: Path, config_path: Path, settings: TtsSettings) -> None:
        try:
            from piper import PiperVoice, SynthesisConfig
        except ImportError as err:
            raise ModelError(f"piper-tts is not installed ({err}); run pip install piper-tts") from err
        try:
            self._voice = PiperVoice.load(voice_path, config_path=config_path)
        except (OSError, ValueError, RuntimeError) as err:
            raise ModelError(f"Piper voice {voice_path} failed to load: {err}") from err
        self._config = SynthesisConfig(length_scale=settings.length_scale)
        self._silence = np.zeros(int(settings.sentence_silence_s * self.sample_rate_hz), dtype=np.int16)

    @classmethod
    def from_store(cls, store: ModelStore, settings: TtsSettings) -> Synthesizer:
        """Load the configured voice, or the bundled en_US joe voice."""
        voice = store.resolve("tts_voice", settings.voice)
        if settings.voice is None:
            config = voice.with_name(voice.name + ".json")
        else:
            config = store.resolve("tts_voice", settings.voice_config or voice.with_name(voice.name + ".json"))
        return cls(voice, config, settings)

    @property
    def sample_rate_hz(self) -> int:
        return int(self._voice.config.sample_rate)

    def synthesize(self, text: str, length_scale: float | None = None) -> SpokenAudio | None:
        """Speak ``text`` after making it speakable; None when nothing in it can be spoken.

        ``length_scale`` overrides the configured speaking slowness for this call.

        Raises:
            SynthesisError: Piper failed on this text.
        """
        speakable = make_speakable(text)
        if not speakable:
            return None
        config = self._config if length_scale is None else replace(self._config, length_scale=length_scale)
        try:
            chunks = [chunk.audio_int16_array for chunk in self._voice.synthesize(speakable, syn_config=config)]
        except (RuntimeError, ValueError, KeyError) as err:
            raise SynthesisError(f"speech synthesis failed for a {len(speakable)}-character sentence: {err}") from err
        if not chunks:
            return None
        pieces: list[npt.NDArray[np.int16]] = []
        for chunk in chunks:
            pieces.extend((chunk.astype(np.int16, copy=False), self._silence))
        return SpokenAudio(np.concatenate(pieces), self.sample_rate_hz)
