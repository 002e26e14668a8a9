"""Whisper transcribes speech; silence, noise and clipped audio give no transcript."""

from __future__ import annotations

import numpy as np
import pytest

from jarvis.audio import SAMPLE_RATE_HZ
from jarvis.stt import Transcriber, clipped_share, normalise_words
from jarvis.testing.speech import add_noise, noise, piper_speech, silence
from jarvis.tts import Synthesizer


def test_speech_transcribed(transcriber: Transcriber, synthesizer: Synthesizer) -> None:
    audio = np.concatenate([silence(0.3), piper_speech(synthesizer, "Turn on the kitchen lights."), silence(0.3)])
    transcript = transcriber.transcribe(audio)
    assert transcript.rejected is None
    assert {"turn", "on", "kitchen", "lights"} <= set(normalise_words(transcript.text).split())
    assert transcript.audio_duration_s == pytest.approx(len(audio) / SAMPLE_RATE_HZ)


def test_noisy_speech_transcribed(transcriber: Transcriber, synthesizer: Synthesizer) -> None:
    audio = add_noise(piper_speech(synthesizer, "What is the weather like tomorrow?", 1.1), level_dbfs=-35, seed=5)
    words = set(normalise_words(transcriber.transcribe(audio).text).split())
    assert {"weather", "tomorrow"} <= words


def test_silence_gives_no_transcript(transcriber: Transcriber) -> None:
    transcript = transcriber.transcribe(silence(3.0))
    assert transcript.text == ""
    assert transcript.rejected == "no_speech"


@pytest.mark.parametrize("level_dbfs", [-60.0, -30.0, -15.0])
def test_noise_gives_no_transcript(transcriber: Transcriber, level_dbfs: float) -> None:
    transcript = transcriber.transcribe(noise(3.0, level_dbfs, seed=2))
    assert transcript.text == ""
    assert transcript.rejected is not None


def test_clipped_audio_gives_no_transcript(transcriber: Transcriber, synthesizer: Synthesizer) -> None:
    speech = piper_speech(synthesizer, "Set a timer for ten minutes.").astype(np.int32)
    clipped = np.clip(speech * 40, -32768, 32767).astype(np.int16)
    assert clipped_share(clipped) > 0.05
    transcript = transcriber.transcribe(clipped)
    assert transcript.text == ""
    assert transcript.rejected == "clipped"


def test_too_short_audio_rejected(transcriber: Transcriber) -> None:
    transcript = transcriber.transcribe(noise(0.1, -20, seed=1))
    assert transcript.rejected == "too_short"


def test_clipped_share_counts_full_scale() -> None:
    samples = np.array([0, 32767, -32768, 100, 32000], dtype=np.int16)
    assert clipped_share(samples) == pytest.approx(3 / 5)
    assert clipped_share(np.zeros(0, dtype=np.int16)) == 0.0


@pytest.mark.parametrize(
    ("text", "expected"),
    [("Hello, World!", "hello world"), ("It's 9:45 a.m.", "it's 9 45 a m"), ("  ", "")],
)
def test_normalise_words(text: str, expected: str) -> None:
    assert normalise_words(text) == expected
