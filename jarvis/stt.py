"""Speech recognition with faster-whisper, and the guard against invented text.

Whisper writes fluent sentences for audio that holds no speech ("Thank you.",
"Thanks for watching!"). Four checks stand between it and a reply: heavily
clipped audio is rejected before decoding; Silero VAD inside faster-whisper
drops non-speech; each segment is dropped when Whisper itself rates it as
no speech or low confidence; and a transcript made only of known stock phrases
is dropped.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import structlog

from jarvis.audio import SAMPLE_RATE_HZ
from jarvis.config import SttSettings
from jarvis.errors import ModelError, TranscriptionError
from jarvis.models import ModelStore

log = structlog.get_logger(__name__)

RejectReason = Literal["too_short", "clipped", "no_speech", "low_confidence", "stock_phrase"]

# Share of samples at or near full scale above which audio is too distorted to trust.
_CLIPPED_SHARE_MAX = 0.05
_CLIP_LEVEL = 32_000
_MIN_AUDIO_S = 0.3

# Phrases Whisper is known to produce from silence or noise, compared after normalisation.
_STOCK_PHRASES = frozenset(
    {
        "you",
        "thank you",
        "thanks",
        "thank you very much",
        "thanks for watching",
        "thank you for watching",
        "thanks for listening",
        "please subscribe",
        "subscribe",
        "like and subscribe",
        "bye",
        "okay",
        "so",
        "oh",
        "hmm",
        "music",
        "applause",
        "silence",
        "the end",
    }
)


@dataclass(frozen=True, slots=True)
class Transcript:
    """What was heard: ``text`` is empty when the guard rejected the audio, with ``rejected`` saying why."""

    text: str
    language: str | None
    audio_duration_s: float
    rejected: RejectReason | None = None


def normalise_words(text: str) -> str:
    """Lower-case ``text``, drop punctuation and collapse spaces, for comparing transcripts."""
    return " ".join(re.findall(r"[a-z0-9']+", text.lower()))


def clipped_share(samples: npt.NDArray[np.int16]) -> float:
    """Return the share of samples at or near full scale."""
    if samples.size == 0:
        return 0.0
    return float(np.count_nonzero(np.abs(samples.astype(np.int32)) >= _CLIP_LEVEL)) / samples.size


class Transcriber:
    """A loaded faster-whisper model on the CPU.

    Not thread-safe: one instance is used from one worker thread.
    """

    def __init__(self, model_path: Path, settings: SttSettings) -> None:
        try:
            from faster_whisper import WhisperModel
        except ImportError as err:
            raise ModelError(f"faster-whisper is not installed ({err}); run pip install faster-whisper") from err
        try:
            self._model = WhisperModel(
                str(model_path),
                device="cpu",
                compute_type=settings.compute_type,
                cpu_threads=settings.threads or min(4, os.cpu_count() or 1),
                local_files_only=True,
            )
        except (RuntimeError, ValueError, OSError) as err:
            raise ModelError(f"Whisper model {model_path} failed to load: {err}") from err
        self._settings = settings

    @classmethod
    def from_store(cls, store: ModelStore, settings: SttSettings) -> Transcriber:
        """Load the configured model folder, or the bundled Whisper tiny."""
        return cls(store.resolve("stt", settings.model), settings)

    def transcribe(self, samples: npt.NDArray[np.int16]) -> Transcript:
        """Transcribe 16 kHz mono int16 audio, returning an empty transcript for non-speech.

        Raises:
            TranscriptionError: the model failed on this audio.
        """
        duration_s = len(samples) / SAMPLE_RATE_HZ
        if duration_s < _MIN_AUDIO_S:
            return Transcript("", None, duration_s, rejected="too_short")
        if clipped_share(samples) > _CLIPPED_SHARE_MAX:
            return Transcript("", None, duration_s, rejected="clipped")

        audio = samples.astype(np.float32) / 32768.0
        try:
            segments, info = self._model.transcribe(
                audio,
                language=self._settings.language,
                beam_size=self._settings.beam_size,
                temperature=0.0,
                condition_on_previous_text=False,
                without_timestamps=True,
                vad_filter=True,
            )
            kept, dropped = self._keep_confident(list(segments))
        except (RuntimeError, ValueError) as err:
            raise TranscriptionError(f"speech recognition failed on {duration_s:.1f} s of audio: {err}") from err

        text = " ".join(segment.text.strip() for segment in kept).strip()
        language = info.language if info else None
        if not text:
            return Transcript("", language, duration_s, rejected="low_confidence" if dropped else "no_speech")
        if normalise_words(text) in _STOCK_PHRASES:
            return Transcript("", language, duration_s, rejected="stock_phrase")
        return Transcript(text, language, duration_s)

    def _keep_confident(self, segments: list[Any]) -> tuple[list[Any], int]:
        kept: list[Any] = []
        for segment in segments:
            no_speech = float(getattr(segment, "no_speech_prob", 0.0))
            logprob = float(getattr(segment, "avg_logprob", 0.0))
            if no_speech > self._settings.no_speech_prob_max and logprob < self._settings.avg_logprob_min:
                continue
            if logprob < self._settings.avg_logprob_min - 0.5:
                continue
            kept.append(segment)
        return kept, len(segments) - len(kept)
