"""Piper speaks speakable text; text with nothing to say gives no audio and no error."""

from __future__ import annotations

import numpy as np

from jarvis.stt import Transcriber, normalise_words
from jarvis.testing.speech import trim_silence
from jarvis.tts import Synthesizer


def test_sentence_spoken_at_voice_rate(synthesizer: Synthesizer) -> None:
    audio = synthesizer.synthesize("Good morning.")
    assert audio is not None
    assert audio.sample_rate_hz == 22_050
    assert audio.samples.dtype == np.int16
    assert 0.4 < audio.duration_s < 3.0
    assert np.abs(audio.samples).max() > 1000


def test_unspeakable_text_gives_no_audio(synthesizer: Synthesizer) -> None:
    assert synthesizer.synthesize("") is None
    assert synthesizer.synthesize("   ") is None
    assert synthesizer.synthesize("😀🎉") is None


def test_numbers_and_units_spoken_as_words(synthesizer: Synthesizer, transcriber: Transcriber) -> None:
    from jarvis.audio import SAMPLE_RATE_HZ
    from jarvis.audio.convert import resample

    audio = synthesizer.synthesize("It is 5 km away and costs $20.")
    assert audio is not None
    speech = trim_silence(resample(audio.samples, audio.sample_rate_hz, SAMPLE_RATE_HZ).astype(np.int16))
    words = normalise_words(transcriber.transcribe(speech).text)
    # Piper's sampling varies, and Whisper writes the unit either way.
    assert "kilomet" in words or "km" in words.split()
    assert "20" in words or "twenty" in words
    assert "dollars" in words or "$" in transcriber.transcribe(speech).text


def test_length_scale_slows_speech(synthesizer: Synthesizer) -> None:
    normal = synthesizer.synthesize("This sentence is spoken twice.")
    slow = synthesizer.synthesize("This sentence is spoken twice.", length_scale=1.5)
    assert normal is not None
    assert slow is not None
    assert slow.duration_s > normal.duration_s * 1.25
