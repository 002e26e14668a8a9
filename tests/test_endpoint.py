"""Tests for the endpointing state machine, driven by synthetic speech probabilities."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jarvis.audio.endpoint import Endpointer, EndpointResult, EndpointState, EndReason
from jarvis.config import EndpointSettings
from jarvis.errors import AudioFormatError

FRAME = 1280
FRAME_S = 0.08
SPEECH = 0.9
SILENCE = 0.05
BAND = 0.4  # between the default silence threshold 0.35 and speech threshold 0.5


def make_endpointer(min_speech_frames: int = 2, **overrides: Any) -> Endpointer:
    return Endpointer(EndpointSettings(**overrides), min_speech_frames=min_speech_frames)


def frame_of(value: int) -> np.ndarray:
    """Return a frame whose every sample is ``value``, so frames can be identified in the output."""
    return np.full(FRAME, value, dtype=np.int16)


def feed(endpointer: Endpointer, probs: Sequence[float], first_value: int = 0) -> tuple[EndpointResult | None, int]:
    """Feed frames valued ``first_value``, ``first_value + 1``, ... and return the result and frames fed."""
    for offset, prob in enumerate(probs):
        result = endpointer.update(frame_of(first_value + offset), prob)
        if result is not None:
            return result, offset + 1
    return None, len(probs)


def frame_values(audio: np.ndarray) -> list[int]:
    """Return the value of each whole frame in ``audio``, checking each frame is uniform."""
    values = []
    for start in range(0, audio.shape[0] - audio.shape[0] % FRAME, FRAME):
        chunk = audio[start : start + FRAME]
        assert np.all(chunk == chunk[0]), f"frame at sample {start} mixes values"
        values.append(int(chunk[0]))
    return values


def test_end_of_speech_after_exact_silence_window() -> None:
    endpointer = make_endpointer(end_silence_s=0.8)  # 10 frames
    endpointer.start()

    result, _ = feed(endpointer, [SILENCE] * 3 + [SPEECH] * 5 + [SILENCE] * 9)
    assert result is None
    assert endpointer.state is EndpointState.TRAILING_SILENCE

    result = endpointer.update(frame_of(17), SILENCE)
    assert result is not None
    assert result.reason is EndReason.END_OF_SPEECH
    assert endpointer.state is EndpointState.DONE


def test_end_of_speech_times() -> None:
    endpointer = make_endpointer(end_silence_s=0.8)
    endpointer.start()

    result, fed = feed(endpointer, [SILENCE] * 3 + [SPEECH] * 5 + [SILENCE] * 20)

    assert result is not None
    assert fed == 18
    assert result.speech_start_s == pytest.approx(3 * FRAME_S)
    assert result.speech_end_s == pytest.approx(8 * FRAME_S)
    assert result.decided_s == pytest.approx(18 * FRAME_S)
    assert result.endpoint_delay_s == pytest.approx(0.8)


def test_silence_window_rounds_up_to_whole_frames() -> None:
    endpointer = make_endpointer(end_silence_s=0.7)  # 8.75 frames -> 9
    endpointer.start()

    result, fed = feed(endpointer, [SPEECH] * 2 + [SILENCE] * 20)

    assert result is not None
    assert fed == 2 + 9


def test_last_speech_end_tracks_speech() -> None:
    endpointer = make_endpointer()
    endpointer.start()
    assert endpointer.last_speech_end_s is None

    feed(endpointer, [SILENCE, SPEECH, SPEECH, SPEECH, SILENCE])

    assert endpointer.last_speech_end_s == pytest.approx(4 * FRAME_S)
    assert endpointer.elapsed_s == pytest.approx(5 * FRAME_S)


def test_pre_roll_keeps_frames_before_speech() -> None:
    endpointer = make_endpointer(pre_roll_s=0.4, end_silence_s=0.16)  # 5 frames of pre-roll, 2 of silence
    endpointer.start([frame_of(-3), frame_of(-2), frame_of(-1)])

    result, _ = feed(endpointer, [SILENCE] * 4 + [SPEECH] * 3 + [SILENCE] * 2)

    assert result is not None
    assert frame_values(result.audio)[:5] == [-1, 0, 1, 2, 3]
    assert frame_values(result.audio)[5:8] == [4, 5, 6]


def test_pre_roll_from_start_when_speech_is_immediate() -> None:
    endpointer = make_endpointer(pre_roll_s=0.4, end_silence_s=0.16)
    endpointer.start([frame_of(value) for value in range(-8, 0)])

    result, _ = feed(endpointer, [SPEECH] * 2 + [SILENCE] * 2)

    assert result is not None
    assert frame_values(result.audio)[:7] == [-5, -4, -3, -2, -1, 0, 1]


def test_pre_roll_shorter_when_history_is_short() -> None:
    endpointer = make_endpointer(pre_roll_s=0.4, end_silence_s=0.16, min_speech_frames=1)
    endpointer.start([frame_of(-1)])

    result, _ = feed(endpointer, [SPEECH] + [SILENCE] * 2)

    assert result is not None
    assert frame_values(result.audio)[:2] == [-1, 0]
    assert result.audio.shape[0] == 2 * FRAME + 2 * FRAME  # pre-roll, speech, whole 0.16 s silence (< 0.2 s tail)


def test_pre_roll_cut_at_sample_resolution() -> None:
    endpointer = make_endpointer(pre_roll_s=0.1, end_silence_s=0.16, min_speech_frames=1)  # 1600 samples
    history = np.arange(-3 * FRAME, 0, dtype=np.int16)
    endpointer.start([history[:FRAME], history[FRAME : 2 * FRAME], history[2 * FRAME :]])

    result, _ = feed(endpointer, [SPEECH] + [SILENCE] * 2)

    assert result is not None
    assert np.array_equal(result.audio[:1600], history[-1600:])
    assert np.all(result.audio[1600 : 1600 + FRAME] == 0)


def test_zero_pre_roll_starts_at_speech() -> None:
    endpointer = make_endpointer(pre_roll_s=0.0, end_silence_s=0.16)
    endpointer.start([frame_of(-1)])

    result, _ = feed(endpointer, [SILENCE, SPEECH, SPEECH, SILENCE, SILENCE])

    assert result is not None
    assert frame_values(result.audio)[:2] == [1, 2]


def test_short_click_does_not_start_speech() -> None:
    endpointer = make_endpointer()
    endpointer.start()

    result, _ = feed(endpointer, [SILENCE, SPEECH, SILENCE, SILENCE])

    assert result is None
    assert endpointer.state is EndpointState.WAITING
    assert endpointer.last_speech_end_s is None


def test_click_ends_in_no_speech() -> None:
    endpointer = make_endpointer(no_speech_timeout_s=1.0)
    endpointer.start()

    result, _ = feed(endpointer, [SILENCE, SPEECH] + [SILENCE] * 20)

    assert result is not None
    assert result.reason is EndReason.NO_SPEECH


def test_min_speech_frames_is_configurable() -> None:
    endpointer = make_endpointer(min_speech_frames=3)
    endpointer.start()

    feed(endpointer, [SPEECH, SPEECH])
    assert endpointer.state is EndpointState.WAITING

    endpointer.update(frame_of(2), SPEECH)
    assert endpointer.state is EndpointState.SPEAKING


def test_speech_start_is_first_frame_of_run() -> None:
    endpointer = make_endpointer(min_speech_frames=3, end_silence_s=0.16)
    endpointer.start()

    result, _ = feed(endpointer, [SILENCE, SILENCE, SPEECH, SPEECH, SPEECH, SILENCE, SILENCE])

    assert result is not None
    assert result.speech_start_s == pytest.approx(2 * FRAME_S)


def test_band_frame_holds_speech_run_while_waiting() -> None:
    endpointer = make_endpointer()
    endpointer.start()

    feed(endpointer, [SPEECH, BAND])
    assert endpointer.state is EndpointState.WAITING

    endpointer.update(frame_of(2), SPEECH)
    assert endpointer.state is EndpointState.SPEAKING


def test_silence_frame_breaks_speech_run() -> None:
    endpointer = make_endpointer()
    endpointer.start()

    feed(endpointer, [SPEECH, SILENCE, SPEECH])

    assert endpointer.state is EndpointState.WAITING


def test_max_length_cut() -> None:
    endpointer = make_endpointer(max_request_s=1.0, pre_roll_s=0.16)  # 13 frames of speech, 2 of pre-roll
    endpointer.start([frame_of(-2), frame_of(-1)])

    result, fed = feed(endpointer, [SPEECH] * 40)

    assert result is not None
    assert result.reason is EndReason.MAX_LENGTH
    assert fed == 13
    assert frame_values(result.audio) == list(range(-2, 13))
    assert result.duration_s == pytest.approx(15 * FRAME_S)


def test_max_length_counts_pauses() -> None:
    endpointer = make_endpointer(max_request_s=1.0, end_silence_s=0.4)
    endpointer.start()

    result, fed = feed(endpointer, ([SPEECH] * 3 + [SILENCE] * 3) * 10)

    assert result is not None
    assert result.reason is EndReason.MAX_LENGTH
    assert fed == 13


def test_no_speech_timeout() -> None:
    endpointer = make_endpointer(no_speech_timeout_s=1.0)  # 13 frames
    endpointer.start([frame_of(-1)])

    result, fed = feed(endpointer, [SILENCE] * 40)

    assert result is not None
    assert result.reason is EndReason.NO_SPEECH
    assert fed == 13
    assert result.audio.shape == (0,)
    assert result.audio.dtype == np.int16
    assert result.speech_start_s is None
    assert result.speech_end_s is None
    assert result.endpoint_delay_s is None
    assert result.duration_s == 0.0


def test_speech_on_last_waiting_frame_beats_timeout() -> None:
    endpointer = make_endpointer(no_speech_timeout_s=1.0)
    endpointer.start()

    result, _ = feed(endpointer, [SILENCE] * 11 + [SPEECH, SPEECH])

    assert result is None
    assert endpointer.state is EndpointState.SPEAKING


def test_band_frames_keep_speaking() -> None:
    endpointer = make_endpointer(end_silence_s=0.16)
    endpointer.start()

    result, _ = feed(endpointer, [SPEECH] * 2 + [BAND] * 10)

    assert result is None
    assert endpointer.state is EndpointState.SPEAKING
    assert endpointer.last_speech_end_s == pytest.approx(12 * FRAME_S)


def test_band_frames_keep_trailing_silence() -> None:
    endpointer = make_endpointer(end_silence_s=0.4)  # 5 frames
    endpointer.start()

    result, fed = feed(endpointer, [SPEECH] * 2 + [SILENCE] + [BAND] * 10)

    assert result is not None
    assert result.reason is EndReason.END_OF_SPEECH
    assert fed == 2 + 5


def test_speech_resumes_after_short_pause() -> None:
    endpointer = make_endpointer(end_silence_s=0.4, pre_roll_s=0.0)
    endpointer.start()

    result, _ = feed(endpointer, [SPEECH] * 2 + [SILENCE] * 4 + [SPEECH] * 2 + [SILENCE] * 5)

    assert result is not None
    assert result.speech_end_s == pytest.approx(8 * FRAME_S)
    assert frame_values(result.audio)[:8] == list(range(8))


def test_trailing_silence_trimmed_to_tail() -> None:
    endpointer = make_endpointer(end_silence_s=0.8, pre_roll_s=0.0)
    endpointer.start()
    probs = [SPEECH] * 3 + [SILENCE] * 10
    stream = np.arange(len(probs) * FRAME, dtype=np.int16)

    result = None
    for index, prob in enumerate(probs):
        result = endpointer.update(stream[index * FRAME : (index + 1) * FRAME], prob)

    assert result is not None
    assert result.audio.shape[0] == 3 * FRAME + 3200  # 0.2 s tail at 16 kHz
    assert np.array_equal(result.audio, stream[: 3 * FRAME + 3200])


def test_low_threshold_keeps_silence_reachable() -> None:
    endpointer = make_endpointer(vad_threshold=0.2, end_silence_s=0.16)
    endpointer.start()

    result, _ = feed(endpointer, [0.3, 0.3, 0.09, 0.09])

    assert result is not None
    assert result.reason is EndReason.END_OF_SPEECH


def test_update_after_done_raises() -> None:
    endpointer = make_endpointer(no_speech_timeout_s=0.5)
    endpointer.start()
    feed(endpointer, [SILENCE] * 7)
    assert endpointer.state is EndpointState.DONE

    with pytest.raises(RuntimeError, match=r"after the request ended; call start\(\)"):
        endpointer.update(frame_of(0), SILENCE)


def test_update_before_start_raises() -> None:
    endpointer = make_endpointer()

    assert endpointer.state is EndpointState.IDLE
    with pytest.raises(RuntimeError, match=r"before start\(\)"):
        endpointer.update(frame_of(0), SILENCE)


def test_start_again_begins_new_request() -> None:
    endpointer = make_endpointer(no_speech_timeout_s=0.5, end_silence_s=0.16, pre_roll_s=0.0)
    endpointer.start()
    feed(endpointer, [SILENCE] * 7)

    endpointer.start()
    result, _ = feed(endpointer, [SPEECH, SPEECH, SILENCE, SILENCE], first_value=100)

    assert endpointer.elapsed_s == pytest.approx(4 * FRAME_S)
    assert result is not None
    assert frame_values(result.audio)[:2] == [100, 101]


@pytest.mark.parametrize(
    "samples",
    [
        np.zeros(FRAME - 1, dtype=np.int16),
        np.zeros(FRAME, dtype=np.float32),
        np.zeros((FRAME, 2), dtype=np.int16),
    ],
    ids=["short", "float32", "stereo"],
)
def test_bad_frame_rejected(samples: np.ndarray) -> None:
    endpointer = make_endpointer()
    endpointer.start()

    with pytest.raises(AudioFormatError, match="frame"):
        endpointer.update(samples, SILENCE)


def test_bad_pre_roll_rejected() -> None:
    endpointer = make_endpointer()

    with pytest.raises(AudioFormatError, match="pre-roll"):
        endpointer.start([np.zeros(FRAME, dtype=np.float64)])


@pytest.mark.parametrize("prob", [-0.1, 1.5, math.nan])
def test_bad_probability_rejected(prob: float) -> None:
    endpointer = make_endpointer()
    endpointer.start()

    with pytest.raises(ValueError, match="speech_prob"):
        endpointer.update(frame_of(0), prob)


def test_frame_duration_must_fit_sample_rate() -> None:
    with pytest.raises(ValueError, match="whole number of samples"):
        Endpointer(EndpointSettings(), frame_duration_s=0.00001)


def test_recorded_frames_are_copied() -> None:
    endpointer = make_endpointer(end_silence_s=0.16, pre_roll_s=0.0)
    endpointer.start()
    buffer = frame_of(7)

    endpointer.update(buffer, SPEECH)
    endpointer.update(buffer, SPEECH)
    buffer[:] = 0
    endpointer.update(buffer, SILENCE)
    result = endpointer.update(buffer, SILENCE)

    assert result is not None
    assert frame_values(result.audio)[:2] == [7, 7]


# Small durations so that random sequences reach every state within 40 frames.
_SMALL = {"pre_roll_s": 0.2, "end_silence_s": 0.24, "max_request_s": 1.0, "no_speech_timeout_s": 0.8}
_PRE_ROLL_FRAMES = 4
_MAX_FRAMES = 40


def _run_stream(probs: list[float]) -> tuple[EndpointResult, np.ndarray, int]:
    endpointer = make_endpointer(**_SMALL)
    stream = (np.arange((_PRE_ROLL_FRAMES + _MAX_FRAMES) * FRAME) % 30_000).astype(np.int16)
    frames = [stream[i * FRAME : (i + 1) * FRAME] for i in range(_PRE_ROLL_FRAMES + _MAX_FRAMES)]
    endpointer.start(frames[:_PRE_ROLL_FRAMES])
    for index, prob in enumerate(probs):
        result = endpointer.update(frames[_PRE_ROLL_FRAMES + index], prob)
        if result is not None:
            return result, stream, index + 1
    raise AssertionError(f"no decision after {len(probs)} frames")


_probabilities = st.lists(
    st.one_of(st.sampled_from([SILENCE, BAND, SPEECH]), st.floats(0.0, 1.0)), min_size=_MAX_FRAMES, max_size=_MAX_FRAMES
)


@settings(max_examples=150, deadline=None)
@given(_probabilities)
def test_decision_within_timeout_plus_max_length(probs: list[float]) -> None:
    _, _, fed = _run_stream(probs)

    assert fed <= 10 + 13  # no_speech_timeout_s 0.8 s = 10 frames, max_request_s 1.0 s = 13 frames


@settings(max_examples=150, deadline=None)
@given(_probabilities)
def test_request_audio_is_contiguous_and_bounded(probs: list[float]) -> None:
    result, stream, _ = _run_stream(probs)

    if result.reason is EndReason.NO_SPEECH:
        assert result.audio.shape[0] == 0
        return
    assert result.speech_start_s is not None
    pre_roll_samples = 3200
    speech_start_sample = (_PRE_ROLL_FRAMES + round(result.speech_start_s / FRAME_S)) * FRAME
    first = speech_start_sample - pre_roll_samples
    assert np.array_equal(result.audio, stream[first : first + result.audio.shape[0]])
    assert result.audio.shape[0] <= pre_roll_samples + 13 * FRAME
    assert result.duration_s == pytest.approx(result.audio.shape[0] / 16_000)


@settings(max_examples=150, deadline=None)
@given(_probabilities)
def test_request_ends_at_most_one_tail_after_speech(probs: list[float]) -> None:
    result, _, _ = _run_stream(probs)

    if result.reason is EndReason.NO_SPEECH:
        return
    assert result.speech_start_s is not None
    assert result.speech_end_s is not None
    speech_samples = round((result.speech_end_s - result.speech_start_s) * 16_000)
    assert result.audio.shape[0] >= 3200 + speech_samples
    assert result.audio.shape[0] <= 3200 + speech_samples + 3200


def test_request_audio_so_far_matches_final_audio() -> None:
    """Audio taken during the silence window equals the final request audio when speech does not resume."""
    endpointer = Endpointer(EndpointSettings(pre_roll_s=0.16, end_silence_s=0.48))
    endpointer.start([np.full(1280, 1, dtype=np.int16)] * 3)
    assert endpointer.request_audio_so_far().size == 0
    for value in range(2, 8):
        assert endpointer.update(np.full(1280, value, dtype=np.int16), 0.9) is None
    early = None
    result = None
    for _ in range(6):
        result = endpointer.update(np.zeros(1280, dtype=np.int16), 0.0)
        if result is None and endpointer.trailing_silence_s >= 0.24 and early is None:
            early = endpointer.request_audio_so_far()
    assert result is not None
    assert early is not None
    assert np.array_equal(early, result.audio)
    assert endpointer.trailing_silence_s == 0.0
