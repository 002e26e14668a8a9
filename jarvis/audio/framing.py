"""Cutting a stream of 16 kHz mono samples into fixed 80 ms frames.

Every stage after the audio source (wake word, voice activity, endpointing)
works on :class:`AudioFrame` objects of exactly ``FRAME_SAMPLES`` samples,
the frame size openWakeWord expects. Frame times come from sample counts, so
they are audio time since the source began, never wall-clock time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from jarvis.audio.convert import to_int16
from jarvis.errors import AudioFormatError

SAMPLE_RATE_HZ = 16_000
FRAME_SAMPLES = 1_280
FRAME_DURATION_S = FRAME_SAMPLES / SAMPLE_RATE_HZ

Int16Array = npt.NDArray[np.int16]


@dataclass(frozen=True, slots=True, eq=False)
class AudioFrame:
    """One frame of 16 kHz mono int16 audio.

    ``samples`` contains ``FRAME_SAMPLES`` samples when the frame comes from the
    standard framer. ``start_s`` is the audio time of the first sample, in
    seconds since the source began, computed from sample counts.
    """

    samples: Int16Array
    start_s: float

    def __post_init__(self) -> None:
        if self.samples.ndim != 1 or self.samples.dtype != np.int16:
            raise AudioFormatError(
                f"an audio frame needs 1-D int16 samples, got shape {self.samples.shape} of {self.samples.dtype}"
            )

    @property
    def duration_s(self) -> float:
        """Length of the frame at 16 kHz, in seconds."""
        return len(self.samples) / SAMPLE_RATE_HZ

    @property
    def end_s(self) -> float:
        """Audio time just after the last sample, in seconds."""
        return self.start_s + self.duration_s


class Framer:
    """Collect blocks of any size and return complete frames.

    Samples that do not yet fill a frame stay in the framer until the next
    :meth:`push` or :meth:`flush`, so no sample is lost or repeated.
    """

    def __init__(self, frame_samples: int = FRAME_SAMPLES, sample_rate_hz: int = SAMPLE_RATE_HZ) -> None:
        if frame_samples <= 0:
            raise ValueError(f"frame_samples must be positive, got {frame_samples}")
        if sample_rate_hz <= 0:
            raise ValueError(f"sample_rate_hz must be positive, got {sample_rate_hz}")
        self._frame_samples = frame_samples
        self._sample_rate_hz = sample_rate_hz
        self._pending: Int16Array = np.zeros(0, dtype=np.int16)
        self._frames_emitted = 0

    @property
    def pending_samples(self) -> int:
        """Number of samples waiting for the next frame."""
        return len(self._pending)

    @property
    def remainder(self) -> Int16Array:
        """A copy of the samples waiting for the next frame."""
        return self._pending.copy()

    def push(self, samples: npt.NDArray[np.generic]) -> list[AudioFrame]:
        """Append mono samples and return every frame that is now complete.

        Samples of another dtype are converted with :func:`to_int16`.
        """
        if samples.ndim != 1:
            raise AudioFormatError(f"the framer takes 1-D mono samples, got shape {samples.shape}")
        block = to_int16(samples)
        buffer = np.concatenate((self._pending, block)) if len(self._pending) else block

        complete = len(buffer) // self._frame_samples
        frames = [
            self._make_frame(buffer[i * self._frame_samples : (i + 1) * self._frame_samples]) for i in range(complete)
        ]
        self._pending = buffer[complete * self._frame_samples :].copy()
        return frames

    def flush(self, pad: bool) -> AudioFrame | None:
        """Return the last partial frame, zero-padded to full length when ``pad`` is true.

        Returns ``None`` when no samples are waiting. Without ``pad`` the
        frame is shorter than ``frame_samples``.
        """
        if not len(self._pending):
            return None
        samples = self._pending
        if pad:
            samples = np.concatenate((samples, np.zeros(self._frame_samples - len(samples), dtype=np.int16)))
        self._pending = np.zeros(0, dtype=np.int16)
        return self._make_frame(samples)

    def _make_frame(self, samples: Int16Array) -> AudioFrame:
        start_s = self._frames_emitted * self._frame_samples / self._sample_rate_hz
        self._frames_emitted += 1
        return AudioFrame(samples=np.array(samples, dtype=np.int16, copy=True), start_s=start_s)
