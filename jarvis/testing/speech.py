"""Generate spoken requests with known timings, for tests and benchmarks.

Speech comes from the bundled Piper voice (at several speeds) and, when the
``espeak-ng`` program is installed, from eSpeak NG as a second, very different
voice. Everything is returned as 16 kHz mono int16 with the positions of each
part, so a test knows exactly where the wake word and the request end.
"""

from __future__ import annotations

import shutil
import subprocess  # runs only the local espeak-ng program  # nosec B404
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from jarvis.audio import SAMPLE_RATE_HZ
from jarvis.audio.convert import resample
from jarvis.audio.wav import load_wav_mono16k
from jarvis.tts import Synthesizer

Int16Array = npt.NDArray[np.int16]


@dataclass(frozen=True, slots=True)
class Segment:
    """Where one part of a composed recording lies, in seconds from its start."""

    label: str
    start_s: float
    end_s: float


@dataclass(frozen=True, slots=True, eq=False)
class Recording:
    """Composed 16 kHz mono audio and the segments it was built from."""

    samples: Int16Array
    segments: tuple[Segment, ...]

    @property
    def duration_s(self) -> float:
        return len(self.samples) / SAMPLE_RATE_HZ

    def segment(self, label: str) -> Segment:
        return next(segment for segment in self.segments if segment.label == label)

    def all(self, label: str) -> list[Segment]:
        return [segment for segment in self.segments if segment.label == label]


def trim_silence(samples: Int16Array, level: int = 200) -> Int16Array:
    """Cut leading and trailing samples quieter than ``level``."""
    loud = np.flatnonzero(np.abs(samples.astype(np.int32)) > level)
    if loud.size == 0:
        return samples[:0]
    return samples[loud[0] : loud[-1] + 1]


def piper_speech(synthesizer: Synthesizer, text: str, length_scale: float = 1.0) -> Int16Array:
    """Speak ``text`` with Piper at 16 kHz, trimmed of leading and trailing silence."""
    audio = synthesizer.synthesize(text, length_scale=length_scale)
    if audio is None:
        raise ValueError(f"Piper produced no audio for {text!r}")
    resampled = resample(audio.samples, audio.sample_rate_hz, SAMPLE_RATE_HZ)
    return trim_silence(np.asarray(resampled, dtype=np.int16))


def espeak_available() -> bool:
    return shutil.which("espeak-ng") is not None


def espeak_speech(text: str, words_per_minute: int = 160, voice: str = "en-us") -> Int16Array:
    """Speak ``text`` with eSpeak NG at 16 kHz; requires the ``espeak-ng`` program."""
    program = shutil.which("espeak-ng")
    if program is None:
        raise FileNotFoundError("espeak-ng is not installed (Debian: apt-get install espeak-ng)")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "speech.wav"
        subprocess.run(  # noqa: S603 - fixed program path and arguments, no shell  # nosec B603
            [program, "-v", voice, "-s", str(words_per_minute), "-w", str(path), text], check=True, timeout=30
        )
        return trim_silence(load_wav_mono16k(path))


def silence(duration_s: float) -> Int16Array:
    return np.zeros(round(duration_s * SAMPLE_RATE_HZ), dtype=np.int16)


def noise(duration_s: float, level_dbfs: float, seed: int = 0) -> Int16Array:
    """White noise at ``level_dbfs`` RMS (e.g. -50 for a quiet room)."""
    rng = np.random.default_rng(seed)
    rms = 32768 * 10 ** (level_dbfs / 20)
    values = rng.normal(0.0, rms, round(duration_s * SAMPLE_RATE_HZ))
    clipped: Int16Array = np.clip(values, -32768, 32767).astype(np.int16)
    return clipped


def add_noise(samples: Int16Array, level_dbfs: float, seed: int = 0) -> Int16Array:
    """Mix white noise at ``level_dbfs`` RMS into ``samples``."""
    mixed = samples.astype(np.int32) + noise(len(samples) / SAMPLE_RATE_HZ, level_dbfs, seed)[: len(samples)]
    clipped: Int16Array = np.clip(mixed, -32768, 32767).astype(np.int16)
    return clipped


def compose(parts: list[tuple[str, Int16Array]]) -> Recording:
    """Join labelled parts end to end and record where each one lies."""
    segments: list[Segment] = []
    position = 0
    for label, samples in parts:
        segments.append(Segment(label, position / SAMPLE_RATE_HZ, (position + len(samples)) / SAMPLE_RATE_HZ))
        position += len(samples)
    joined = np.concatenate([samples for _, samples in parts]) if parts else silence(0)
    return Recording(joined.astype(np.int16), tuple(segments))
