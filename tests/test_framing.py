"""Cutting sample blocks into fixed frames."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jarvis.audio import FRAME_DURATION_S, FRAME_SAMPLES, SAMPLE_RATE_HZ
from jarvis.audio.framing import AudioFrame, Framer
from jarvis.errors import AudioFormatError


def test_constants_describe_80ms_frames() -> None:
    assert SAMPLE_RATE_HZ == 16_000
    assert FRAME_SAMPLES == 1_280
    assert FRAME_DURATION_S == 0.08


@settings(max_examples=200, deadline=None)
@given(
    block_sizes=st.lists(st.integers(min_value=0, max_value=4_000), max_size=30),
    frame_samples=st.sampled_from([13, 160, FRAME_SAMPLES]),
)
def test_framer_loses_and_repeats_nothing(block_sizes: list[int], frame_samples: int) -> None:
    total = sum(block_sizes)
    signal = (np.arange(total) % 65_536 - 32_768).astype(np.int16)
    framer = Framer(frame_samples)
    frames: list[AudioFrame] = []
    position = 0
    for size in block_sizes:
        frames.extend(framer.push(signal[position : position + size]))
        position += size

    pieces = [frame.samples for frame in frames] + [framer.remainder]
    assert np.array_equal(np.concatenate(pieces), signal)
    assert all(len(frame.samples) == frame_samples for frame in frames)
    assert framer.pending_samples < frame_samples
    assert [frame.start_s for frame in frames] == [i * frame_samples / SAMPLE_RATE_HZ for i in range(len(frames))]


def test_framer_times_frames_from_sample_count() -> None:
    framer = Framer()
    frames = framer.push(np.zeros(FRAME_SAMPLES * 3 + 5, dtype=np.int16))
    assert [frame.start_s for frame in frames] == [0.0, 0.08, 0.16]
    assert frames[2].end_s == pytest.approx(0.24)


def test_framer_keeps_counting_across_pushes() -> None:
    framer = Framer()
    framer.push(np.zeros(FRAME_SAMPLES + 100, dtype=np.int16))
    frames = framer.push(np.zeros(FRAME_SAMPLES, dtype=np.int16))
    assert [frame.start_s for frame in frames] == [0.08]


def test_framer_returns_nothing_for_short_block() -> None:
    framer = Framer()
    assert framer.push(np.ones(FRAME_SAMPLES - 1, dtype=np.int16)) == []
    assert framer.pending_samples == FRAME_SAMPLES - 1


def test_frames_do_not_share_memory_with_input() -> None:
    block = np.ones(FRAME_SAMPLES, dtype=np.int16)
    frame = Framer().push(block)[0]
    block[:] = 5
    assert frame.samples[0] == 1


def test_flush_pads_last_frame_with_zeros() -> None:
    framer = Framer()
    framer.push(np.full(FRAME_SAMPLES + 10, 7, dtype=np.int16))
    last = framer.flush(pad=True)
    assert last is not None
    assert len(last.samples) == FRAME_SAMPLES
    assert last.samples[:10].tolist() == [7] * 10
    assert not last.samples[10:].any()
    assert last.start_s == 0.08


def test_flush_without_pad_returns_short_frame() -> None:
    framer = Framer()
    framer.push(np.full(10, 3, dtype=np.int16))
    last = framer.flush(pad=False)
    assert last is not None
    assert last.samples.tolist() == [3] * 10


def test_flush_empty_returns_none() -> None:
    framer = Framer()
    framer.push(np.zeros(FRAME_SAMPLES, dtype=np.int16))
    assert framer.flush(pad=True) is None


def test_flush_empties_the_framer() -> None:
    framer = Framer()
    framer.push(np.zeros(10, dtype=np.int16))
    framer.flush(pad=True)
    assert framer.pending_samples == 0


def test_framer_converts_float_input() -> None:
    frames = Framer(frame_samples=2).push(np.array([0.5, -0.5], dtype=np.float32))
    assert frames[0].samples.tolist() == [16384, -16384]


def test_framer_rejects_stereo() -> None:
    with pytest.raises(AudioFormatError, match="mono"):
        Framer().push(np.zeros((10, 2), dtype=np.int16))


def test_framer_rejects_zero_frame_size() -> None:
    with pytest.raises(ValueError, match="frame_samples"):
        Framer(frame_samples=0)


def test_frame_rejects_float_samples() -> None:
    with pytest.raises(AudioFormatError, match="int16"):
        AudioFrame(samples=np.zeros(FRAME_SAMPLES, dtype=np.float32), start_s=0.0)  # type: ignore[arg-type]


def test_frame_is_immutable() -> None:
    frame = AudioFrame(samples=np.zeros(FRAME_SAMPLES, dtype=np.int16), start_s=0.0)
    with pytest.raises(AttributeError):
        frame.start_s = 1.0  # type: ignore[misc]


def test_frame_duration_is_80ms() -> None:
    frame = AudioFrame(samples=np.zeros(FRAME_SAMPLES, dtype=np.int16), start_s=0.0)
    assert frame.duration_s == FRAME_DURATION_S
