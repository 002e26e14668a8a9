"""Endpointing: decide where a spoken request starts and ends from per-frame speech probabilities.

:class:`Endpointer` is a pure state machine. It runs no model, reads no clock and
does no I/O: the caller feeds it one audio frame and that frame's voice activity
probability at a time, and audio time advances by ``frame_duration_s`` per frame.

Audio time is relative to :meth:`Endpointer.start`. Time 0.0 is the end of the
last pre-roll frame passed to ``start()``, which is also the start of the first
frame passed to :meth:`Endpointer.update`. Frame ``i`` of ``update()`` covers
``[i * frame_duration_s, (i + 1) * frame_duration_s)``.

Transitions::

    IDLE             -- start() -------------------------------------> WAITING
    WAITING          -- min_speech_frames speech frames -------------> SPEAKING
    WAITING          -- no_speech_timeout_s without speech ----------> DONE (NO_SPEECH)
    SPEAKING         -- a silence frame -----------------------------> TRAILING_SILENCE
    TRAILING_SILENCE -- a speech frame ------------------------------> SPEAKING
    TRAILING_SILENCE -- end_silence_s of silence --------------------> DONE (END_OF_SPEECH)
    SPEAKING, TRAILING_SILENCE -- max_request_s since speech start --> DONE (MAX_LENGTH)

Hysteresis: a frame is speech when its probability is at or above
``vad_threshold`` and silence when it is below ``vad_threshold - hysteresis``.
A frame in between keeps the current state: it extends speech while SPEAKING,
counts as silence while TRAILING_SILENCE, and while WAITING neither extends nor
breaks a run of speech frames.

Durations from the settings are rounded up to whole frames: at 80 ms per frame
an ``end_silence_s`` of 0.7 s takes 9 silence frames (0.72 s).
"""

from __future__ import annotations

import enum
import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from jarvis.config import EndpointSettings
from jarvis.errors import AudioFormatError

DEFAULT_HYSTERESIS = 0.15
DEFAULT_MIN_SPEECH_FRAMES = 2
DEFAULT_TAIL_S = 0.2

# Frame counts derived from durations tolerate float error such as 0.4 / 0.08 = 5.000000000000001.
_FRAME_COUNT_EPSILON = 1e-6


class EndpointState(enum.Enum):
    """Stage of the request that the endpointer is in."""

    IDLE = "idle"
    """``start()`` has not been called yet."""
    WAITING = "waiting"
    """Recording has begun and no speech has been heard yet."""
    SPEAKING = "speaking"
    """Speech is in progress."""
    TRAILING_SILENCE = "trailing_silence"
    """Silence after speech. A speech frame returns to SPEAKING."""
    DONE = "done"
    """The result was returned. ``start()`` begins the next request."""


class EndReason(enum.Enum):
    """Cause that ended the recording of a request."""

    END_OF_SPEECH = "end_of_speech"
    MAX_LENGTH = "max_length"
    NO_SPEECH = "no_speech"


@dataclass(frozen=True, eq=False)
class EndpointResult:
    """The recorded request, returned once per ``start()``.

    Times are audio times in seconds relative to ``start()`` (see the module docstring).
    """

    reason: EndReason
    audio: np.ndarray = field(repr=False)
    """Request audio as int16 mono: pre-roll, speech and a short silence tail; empty for NO_SPEECH."""
    speech_start_s: float | None
    """Start of the first speech frame; None for NO_SPEECH."""
    speech_end_s: float | None
    """End of the last frame counted as speech; None for NO_SPEECH."""
    decided_s: float
    """End of the frame on which the decision was made."""
    duration_s: float
    """Length of ``audio`` in seconds."""

    @property
    def endpoint_delay_s(self) -> float | None:
        """Audio time from the end of the last speech frame to the decision; None for NO_SPEECH."""
        if self.speech_end_s is None:
            return None
        return self.decided_s - self.speech_end_s


def _frames_for(duration_s: float, frame_duration_s: float) -> int:
    """Return the number of whole frames needed to cover ``duration_s``."""
    return max(1, math.ceil(duration_s / frame_duration_s - _FRAME_COUNT_EPSILON))


class Endpointer:
    """Find the start and end of one spoken request in a stream of scored frames.

    The caller keeps the most recent frames before the wake decision and passes
    them to :meth:`start`: at least ``settings.pre_roll_s`` worth, because speech
    that begins on the first frame after ``start()`` needs that much history for
    its pre-roll. Extra history is dropped. The pre-roll usually contains the end
    of the wake word itself, so a transcript of the request may begin with the
    wake word's last syllable.

    Args:
        settings: thresholds and durations.
        frame_duration_s: duration of every frame passed to :meth:`update`.
        sample_rate_hz: sample rate of the frames; with ``frame_duration_s`` it
            fixes the frame length that :meth:`update` accepts.
        min_speech_frames: speech frames needed in one run before speech starts,
            so that a click or a short knock does not open a request. A silence
            frame breaks the run, and a frame in the hysteresis band does not.
        hysteresis: width of the band below ``vad_threshold`` in which a frame
            keeps the current state. It is narrowed to half the threshold when the
            threshold is lower than ``2 * hysteresis``, so silence stays reachable.
        tail_s: silence kept after the last speech frame in the request audio.
    """

    def __init__(
        self,
        settings: EndpointSettings,
        frame_duration_s: float = 0.08,
        *,
        sample_rate_hz: int = 16_000,
        min_speech_frames: int = DEFAULT_MIN_SPEECH_FRAMES,
        hysteresis: float = DEFAULT_HYSTERESIS,
        tail_s: float = DEFAULT_TAIL_S,
    ) -> None:
        self._validate_arguments(frame_duration_s, sample_rate_hz, min_speech_frames, hysteresis, tail_s)
        self._frame_duration_s = frame_duration_s
        self._sample_rate_hz = sample_rate_hz
        self._frame_samples = round(frame_duration_s * sample_rate_hz)
        self._min_speech_frames = min_speech_frames
        self._speech_threshold = settings.vad_threshold
        self._silence_threshold = settings.vad_threshold - min(hysteresis, settings.vad_threshold / 2)
        self._pre_roll_samples = round(settings.pre_roll_s * sample_rate_hz)
        self._tail_samples = round(tail_s * sample_rate_hz)
        self._end_silence_frames = _frames_for(settings.end_silence_s, frame_duration_s)
        self._max_request_frames = _frames_for(settings.max_request_s, frame_duration_s)
        self._no_speech_timeout_frames = _frames_for(settings.no_speech_timeout_s, frame_duration_s)
        self._state = EndpointState.IDLE
        self._reset_request()

    @staticmethod
    def _validate_arguments(
        frame_duration_s: float, sample_rate_hz: int, min_speech_frames: int, hysteresis: float, tail_s: float
    ) -> None:
        if not frame_duration_s > 0:
            raise ValueError(f"frame_duration_s must be positive, got {frame_duration_s}")
        if sample_rate_hz <= 0:
            raise ValueError(f"sample_rate_hz must be positive, got {sample_rate_hz}")
        frame_samples = frame_duration_s * sample_rate_hz
        if abs(frame_samples - round(frame_samples)) > _FRAME_COUNT_EPSILON or round(frame_samples) == 0:
            raise ValueError(
                f"frame_duration_s={frame_duration_s} at {sample_rate_hz} Hz is not a whole number of samples"
            )
        if min_speech_frames < 1:
            raise ValueError(f"min_speech_frames must be at least 1, got {min_speech_frames}")
        if not 0 <= hysteresis < 1:
            raise ValueError(f"hysteresis must be in [0, 1), got {hysteresis}")
        if tail_s < 0:
            raise ValueError(f"tail_s must not be negative, got {tail_s}")

    def _reset_request(self) -> None:
        self._frame_index = 0
        # Audio before the current speech candidate, bounded to what the pre-roll can use.
        self._history: deque[np.ndarray] = deque()
        self._history_samples = 0
        # Frames from the first speech frame of a not yet confirmed speech run.
        self._candidate: list[np.ndarray] = []
        self._candidate_start_index = 0
        self._candidate_speech_frames = 0
        # Confirmed request audio up to the last speech frame, then the silence after it.
        self._speech: list[np.ndarray] = []
        self._silence: list[np.ndarray] = []
        self._speech_started = False
        self._speech_start_index = 0
        self._speech_end_index = 0

    @property
    def state(self) -> EndpointState:
        """Current state."""
        return self._state

    @property
    def elapsed_s(self) -> float:
        """Audio time since ``start()``: the end of the last frame passed to ``update()``."""
        return self._frame_index * self._frame_duration_s

    @property
    def last_speech_end_s(self) -> float | None:
        """Audio time at the end of the last frame counted as speech; None before speech starts."""
        if not self._speech_started:
            return None
        return self._speech_end_index * self._frame_duration_s

    @property
    def trailing_silence_s(self) -> float:
        """Silence heard since the last speech frame while in TRAILING_SILENCE; 0.0 in other states."""
        if self._state is not EndpointState.TRAILING_SILENCE:
            return 0.0
        return len(self._silence) * self._frame_duration_s

    def request_audio_so_far(self) -> np.ndarray:
        """Return the request audio as it would be if the request ended now; empty before speech starts.

        The assistant transcribes this early, during the end-of-speech silence window,
        and uses the result only if no more speech follows.
        """
        if not self._speech_started or self._state is EndpointState.DONE:
            return np.zeros(0, dtype=np.int16)
        return self._request_audio()

    @property
    def frame_samples(self) -> int:
        """Length in samples of every frame that :meth:`update` accepts."""
        return self._frame_samples

    def start(self, pre_roll: Sequence[np.ndarray] = ()) -> None:
        """Begin a new request.

        ``pre_roll`` contains the frames just before the wake decision, oldest first,
        as 1-D int16 arrays of any length. Calling ``start()`` again discards any
        request in progress.
        """
        self._reset_request()
        for chunk in pre_roll:
            self._append_history(_checked_int16(chunk, "pre-roll frame"))
        self._state = EndpointState.WAITING

    def update(self, samples: np.ndarray, speech_prob: float) -> EndpointResult | None:
        """Advance by one frame and return the result once the request ends, else None.

        Raises:
            RuntimeError: ``start()`` was not called, or the request has already ended.
            AudioFormatError: ``samples`` is not a 1-D int16 frame of ``frame_samples`` samples.
            ValueError: ``speech_prob`` is not a number between 0 and 1.
        """
        self._check_can_update()
        frame = self._checked_frame(samples)
        if not 0.0 <= speech_prob <= 1.0:  # also rejects NaN
            raise ValueError(f"speech_prob must be between 0 and 1, got {speech_prob}")

        index = self._frame_index
        self._frame_index += 1
        if self._state is EndpointState.WAITING:
            return self._update_waiting(frame, speech_prob, index)
        return self._update_recording(frame, speech_prob, index)

    def _check_can_update(self) -> None:
        if self._state is EndpointState.IDLE:
            raise RuntimeError("Endpointer.update() called before start(); call start() when the wake word is heard")
        if self._state is EndpointState.DONE:
            raise RuntimeError("Endpointer.update() called after the request ended; call start() for the next request")

    def _checked_frame(self, samples: np.ndarray) -> np.ndarray:
        frame = _checked_int16(samples, "frame")
        if frame.shape[0] != self._frame_samples:
            raise AudioFormatError(
                f"frame has {frame.shape[0]} samples, expected {self._frame_samples} "
                f"({self._frame_duration_s * 1000:g} ms at {self._sample_rate_hz} Hz); "
                "split the audio into frames of that length"
            )
        return frame

    def _update_waiting(self, frame: np.ndarray, speech_prob: float, index: int) -> EndpointResult | None:
        if speech_prob >= self._speech_threshold:
            if not self._candidate:
                self._candidate_start_index = index
            self._candidate.append(frame)
            self._candidate_speech_frames += 1
        elif speech_prob < self._silence_threshold:
            self._drop_candidate()
            self._append_history(frame)
        elif self._candidate:
            # In the hysteresis band: the frame neither extends nor breaks the speech run.
            self._candidate.append(frame)
        else:
            self._append_history(frame)

        if self._candidate_speech_frames >= self._min_speech_frames:
            self._begin_speech(index)
            return self._check_max_length(index)
        if self._frame_index >= self._no_speech_timeout_frames:
            return self._finish(EndReason.NO_SPEECH)
        return None

    def _update_recording(self, frame: np.ndarray, speech_prob: float, index: int) -> EndpointResult | None:
        if self._state is EndpointState.SPEAKING:
            if speech_prob < self._silence_threshold:
                self._state = EndpointState.TRAILING_SILENCE
                self._silence.append(frame)
            else:
                self._speech.append(frame)
                self._speech_end_index = index + 1
        elif speech_prob >= self._speech_threshold:
            self._state = EndpointState.SPEAKING
            self._speech.extend(self._silence)
            self._silence.clear()
            self._speech.append(frame)
            self._speech_end_index = index + 1
        else:
            self._silence.append(frame)

        if len(self._silence) >= self._end_silence_frames:
            return self._finish(EndReason.END_OF_SPEECH)
        return self._check_max_length(index)

    def _check_max_length(self, index: int) -> EndpointResult | None:
        if index + 1 - self._speech_start_index >= self._max_request_frames:
            return self._finish(EndReason.MAX_LENGTH)
        return None

    def _append_history(self, chunk: np.ndarray) -> None:
        self._history.append(chunk)
        self._history_samples += chunk.shape[0]
        # Drop the oldest chunks while the rest still covers the pre-roll.
        while self._history and self._history_samples - self._history[0].shape[0] >= self._pre_roll_samples:
            self._history_samples -= self._history.popleft().shape[0]

    def _drop_candidate(self) -> None:
        """Move the frames of an unconfirmed speech run back into the history."""
        for chunk in self._candidate:
            self._append_history(chunk)
        self._candidate.clear()
        self._candidate_speech_frames = 0

    def _begin_speech(self, index: int) -> None:
        self._state = EndpointState.SPEAKING
        self._speech_started = True
        self._speech_start_index = self._candidate_start_index
        self._speech_end_index = index + 1
        self._speech = [self._pre_roll_audio(), *self._candidate]
        self._candidate = []
        self._candidate_speech_frames = 0
        self._history.clear()
        self._history_samples = 0

    def _pre_roll_audio(self) -> np.ndarray:
        if self._pre_roll_samples == 0 or not self._history:
            return np.zeros(0, dtype=np.int16)
        history = np.concatenate(list(self._history))
        return history[-self._pre_roll_samples :]

    def _request_audio(self) -> np.ndarray:
        """Join pre-roll and speech, keeping at most ``tail_s`` of the silence after the last speech frame."""
        tail = np.concatenate(self._silence)[: self._tail_samples] if self._silence else np.zeros(0, dtype=np.int16)
        return np.concatenate([*self._speech, tail])

    def _finish(self, reason: EndReason) -> EndpointResult:
        self._state = EndpointState.DONE
        audio = self._request_audio() if self._speech_started else np.zeros(0, dtype=np.int16)
        # Free the buffers. The indices stay readable until the next start().
        self._history.clear()
        self._candidate = []
        self._speech = []
        self._silence = []
        return EndpointResult(
            reason=reason,
            audio=audio,
            speech_start_s=self._speech_start_index * self._frame_duration_s if self._speech_started else None,
            speech_end_s=self.last_speech_end_s,
            decided_s=self.elapsed_s,
            duration_s=audio.shape[0] / self._sample_rate_hz,
        )


def _checked_int16(samples: np.ndarray, label: str) -> np.ndarray:
    """Return a copy of ``samples`` after checking that it is 1-D int16 audio."""
    if not isinstance(samples, np.ndarray) or samples.dtype != np.int16 or samples.ndim != 1:
        shape = getattr(samples, "shape", None)
        dtype = getattr(samples, "dtype", type(samples).__name__)
        raise AudioFormatError(
            f"{label} must be a 1-D int16 numpy array of mono samples, got {dtype} with shape {shape}"
        )
    # A copy, so that a caller reusing its buffer cannot change audio already recorded.
    return samples.copy()
