"""Sample format, channel and rate conversion."""

from __future__ import annotations

import numpy as np
import pytest

from jarvis.audio.convert import StreamResampler, resample, to_float32, to_int16, to_mono
from jarvis.errors import AudioFormatError


def sine(frequency_hz: float, rate_hz: int, duration_s: float, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(round(rate_hz * duration_s)) / rate_hz
    return (amplitude * np.sin(2 * np.pi * frequency_hz * t)).astype(np.float32)


def peak_frequency_hz(samples: np.ndarray, rate_hz: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.fft.rfftfreq(len(samples), 1 / rate_hz)[np.argmax(spectrum)])


# to_mono


def test_mono_keeps_1d_input() -> None:
    data = np.array([1, 2, 3], dtype=np.int16)
    assert to_mono(data) is data


def test_mono_takes_single_column() -> None:
    data = np.array([[1], [2], [3]], dtype=np.int16)
    assert to_mono(data).tolist() == [1, 2, 3]


def test_mono_averages_int16_channels_with_rounding() -> None:
    data = np.array([[100, 201], [-32768, -32768], [32767, 32767]], dtype=np.int16)
    mono = to_mono(data)
    assert mono.dtype == np.int16
    assert mono.tolist() == [150, -32768, 32767]


def test_mono_averages_float_channels() -> None:
    data = np.array([[0.5, -0.5, 0.0], [1.0, 0.5, 0.0]], dtype=np.float32)
    mono = to_mono(data)
    assert mono.dtype == np.float32
    np.testing.assert_allclose(mono, [0.0, 0.5])


def test_mono_rejects_three_dimensions() -> None:
    with pytest.raises(AudioFormatError, match="shape"):
        to_mono(np.zeros((4, 2, 2), dtype=np.float32))


def test_mono_rejects_zero_channels() -> None:
    with pytest.raises(AudioFormatError, match="zero channels"):
        to_mono(np.zeros((4, 0), dtype=np.float32))


# to_float32


@pytest.mark.parametrize(
    ("dtype", "values", "expected"),
    [
        (np.int8, [-128, 0, 64, 127], [-1.0, 0.0, 0.5, 127 / 128]),
        (np.uint8, [0, 128, 192, 255], [-1.0, 0.0, 0.5, 127 / 128]),
        (np.int16, [-32768, 0, 16384, 32767], [-1.0, 0.0, 0.5, 32767 / 32768]),
        (np.int32, [-(2**31), 0, 2**30, 2**31 - 1], [-1.0, 0.0, 0.5, 1.0]),
        (np.float32, [-1.0, 0.0, 0.25, 1.0], [-1.0, 0.0, 0.25, 1.0]),
        (np.float64, [-1.0, 0.0, 0.25, 1.0], [-1.0, 0.0, 0.25, 1.0]),
    ],
)
def test_float32_scales_each_dtype(dtype: type, values: list[float], expected: list[float]) -> None:
    result = to_float32(np.array(values, dtype=dtype))
    assert result.dtype == np.float32
    np.testing.assert_allclose(result, expected, atol=1e-7)


def test_float32_reads_left_justified_int24() -> None:
    int24 = np.array([-(2**23), 2**22, 2**23 - 1], dtype=np.int32)
    result = to_float32(int24 << 8)
    np.testing.assert_allclose(result, [-1.0, 0.5, (2**23 - 1) / 2**23], atol=1e-7)


def test_float32_clips_out_of_range_floats() -> None:
    result = to_float32(np.array([-3.0, 1.5, 0.5], dtype=np.float64))
    assert result.tolist() == [-1.0, 1.0, 0.5]


def test_float32_turns_nan_into_silence() -> None:
    result = to_float32(np.array([np.nan, np.inf, -np.inf], dtype=np.float32))
    assert result.tolist() == [0.0, 1.0, -1.0]


@pytest.mark.parametrize("dtype", [np.bool_, np.complex64, np.uint16, np.int64])
def test_float32_rejects_unsupported_dtype(dtype: type) -> None:
    with pytest.raises(AudioFormatError, match="unsupported sample type"):
        to_float32(np.zeros(3, dtype=dtype))


# to_int16


@pytest.mark.parametrize(
    ("dtype", "values", "expected"),
    [
        (np.int8, [-128, 0, 1, 127], [-32768, 0, 256, 32512]),
        (np.uint8, [0, 128, 129, 255], [-32768, 0, 256, 32512]),
        (np.int32, [-(2**31), 0, 2**30, 2**31 - 1], [-32768, 0, 16384, 32767]),
        (np.float32, [-1.0, 0.0, 0.5, 1.0], [-32768, 0, 16384, 32767]),
        (np.float64, [-0.25, 1e-9, 0.999, -1.0], [-8192, 0, 32735, -32768]),
    ],
)
def test_int16_scales_each_dtype(dtype: type, values: list[float], expected: list[int]) -> None:
    result = to_int16(np.array(values, dtype=dtype))
    assert result.dtype == np.int16
    assert result.tolist() == expected


def test_int16_returns_int16_input_unchanged() -> None:
    data = np.array([1, -2], dtype=np.int16)
    assert to_int16(data) is data


def test_int16_clips_loud_floats() -> None:
    result = to_int16(np.array([2.0, -2.0, 1.0001], dtype=np.float32))
    assert result.tolist() == [32767, -32768, 32767]


def test_int16_turns_nan_into_silence() -> None:
    assert to_int16(np.array([np.nan], dtype=np.float64)).tolist() == [0]


def test_int16_float_round_trip_is_exact() -> None:
    original = np.arange(-32768, 32768, 7, dtype=np.int16)
    assert np.array_equal(to_int16(to_float32(original)), original)


def test_int16_rejects_unsupported_dtype() -> None:
    with pytest.raises(AudioFormatError, match="int8, uint8, int16"):
        to_int16(np.zeros(3, dtype=np.uint32))


# resample


def test_resample_length_follows_rate_ratio() -> None:
    result = resample(np.zeros(44_100, dtype=np.float32), 44_100, 16_000)
    assert len(result) == 16_000


def test_resample_keeps_sine_frequency() -> None:
    result = resample(sine(1_000, 48_000, 1.0), 48_000, 16_000)
    assert peak_frequency_hz(result, 16_000) == pytest.approx(1_000, abs=2)


def test_resample_upsamples_sine() -> None:
    result = resample(sine(440, 8_000, 1.0), 8_000, 22_050)
    assert len(result) == 22_050
    assert peak_frequency_hz(result, 22_050) == pytest.approx(440, abs=2)


def test_resample_keeps_int16_dtype() -> None:
    result = resample(to_int16(sine(300, 16_000, 0.5)), 16_000, 8_000)
    assert result.dtype == np.int16


def test_resample_converts_other_dtypes_to_float32() -> None:
    result = resample(np.full(800, 128, dtype=np.uint8), 8_000, 16_000)
    assert result.dtype == np.float32


def test_resample_handles_stereo() -> None:
    stereo = np.stack([sine(500, 32_000, 0.5), sine(1_500, 32_000, 0.5)], axis=1)
    result = resample(stereo, 32_000, 16_000)
    assert result.shape == (8_000, 2)
    assert peak_frequency_hz(result[:, 1], 16_000) == pytest.approx(1_500, abs=4)


def test_resample_same_rate_is_identity() -> None:
    data = sine(100, 16_000, 0.1)
    assert resample(data, 16_000, 16_000) is data


def test_resample_empty_input() -> None:
    assert len(resample(np.zeros(0, dtype=np.float32), 44_100, 16_000)) == 0


def test_resample_rejects_zero_rate() -> None:
    with pytest.raises(AudioFormatError, match="positive"):
        resample(np.zeros(10, dtype=np.float32), 0, 16_000)


# StreamResampler


def stream_in_blocks(resampler: StreamResampler, signal: np.ndarray, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    parts, position = [], 0
    while position < len(signal):
        size = int(rng.integers(1, 2_500))
        parts.append(resampler.process(signal[position : position + size]))
        position += size
    parts.append(resampler.flush())
    return np.concatenate(parts)


@pytest.mark.parametrize(("from_hz", "to_hz"), [(44_100, 16_000), (48_000, 16_000), (22_050, 48_000), (8_000, 16_000)])
def test_stream_matches_one_shot(from_hz: int, to_hz: int) -> None:
    signal = sine(440, from_hz, 1.0)
    streamed = stream_in_blocks(StreamResampler(from_hz, to_hz), signal, seed=from_hz)
    one_shot = resample(signal, from_hz, to_hz)
    assert len(streamed) == len(one_shot)
    np.testing.assert_allclose(streamed, one_shot, atol=1e-5)


def test_stream_has_no_jump_at_block_joins() -> None:
    signal = sine(440, 44_100, 1.0)
    streamed = stream_in_blocks(StreamResampler(44_100, 16_000), signal, seed=7)
    # The steepest step a 0.5-amplitude 440 Hz sine takes between 16 kHz samples.
    max_step = 0.5 * 2 * np.pi * 440 / 16_000
    assert np.abs(np.diff(streamed[100:-100])).max() <= max_step * 1.05


def test_stream_same_rate_is_identity() -> None:
    resampler = StreamResampler(16_000, 16_000)
    block = sine(200, 16_000, 0.1)
    assert np.array_equal(resampler.process(block), block)
    assert len(resampler.flush()) == 0


def test_stream_int16_dtype_converts_floats() -> None:
    resampler = StreamResampler(16_000, 16_000, np.int16)
    result = resampler.process(np.array([0.5, -0.5], dtype=np.float32))
    assert result.dtype == np.int16
    assert result.tolist() == [16384, -16384]


def test_stream_int16_resamples() -> None:
    resampler = StreamResampler(48_000, 16_000, np.int16)
    signal = to_int16(sine(440, 48_000, 0.5))
    result = np.concatenate([resampler.process(signal), resampler.flush()])
    assert result.dtype == np.int16
    assert len(result) == 8_000


def test_stream_can_restart_after_flush() -> None:
    resampler = StreamResampler(44_100, 16_000)
    first = np.concatenate([resampler.process(sine(440, 44_100, 0.5)), resampler.flush()])
    second = np.concatenate([resampler.process(sine(440, 44_100, 0.5)), resampler.flush()])
    np.testing.assert_allclose(first, second, atol=1e-6)


def test_stream_rejects_stereo_block() -> None:
    with pytest.raises(AudioFormatError, match="mono"):
        StreamResampler(44_100, 16_000).process(np.zeros((10, 2), dtype=np.float32))


def test_stream_rejects_unsupported_dtype() -> None:
    with pytest.raises(AudioFormatError, match="float32, float64 and int16"):
        StreamResampler(44_100, 16_000, np.int32)
