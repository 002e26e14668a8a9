"""Sample format, channel and rate conversion.

Float audio is scaled to [-1.0, 1.0]. Integer audio uses its full range:
int16 full scale is 32768, int32 full scale is 2**31. 24-bit samples are
expected left-justified in int32 (the 24 bits in the top three bytes, as
:func:`jarvis.audio.wav.read_wav` and most audio libraries store them), so
they scale exactly like int32.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import soxr

from jarvis.errors import AudioFormatError

_INT16_SCALE = 32768.0
_INT32_SCALE = 2147483648.0
_STREAM_DTYPES = (np.dtype(np.float32), np.dtype(np.float64), np.dtype(np.int16))


def to_mono(data: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """Average the channels of ``data`` (shape ``(n,)`` or ``(n, channels)``) into shape ``(n,)``.

    The dtype is kept: integer averages are rounded to the nearest integer.
    """
    if data.ndim == 1:
        return data
    if data.ndim != 2:
        raise AudioFormatError(f"audio must have shape (samples,) or (samples, channels), got {data.shape}")
    if data.shape[1] == 0:
        raise AudioFormatError("audio has zero channels")
    if data.shape[1] == 1:
        return data[:, 0]

    averaged: npt.NDArray[np.float64] = data.mean(axis=1, dtype=np.float64)
    if not np.issubdtype(data.dtype, np.floating):
        averaged = np.rint(averaged)
    return averaged.astype(data.dtype)


def to_float32(data: npt.NDArray[Any]) -> npt.NDArray[np.float32]:
    """Convert samples of any supported dtype to float32 in [-1.0, 1.0].

    Supported: int8, uint8 (offset binary, 128 is silence), int16, int32
    (including left-justified 24-bit), float32 and float64. Float values
    outside [-1, 1] are clipped and NaN becomes 0.
    """
    kind = data.dtype
    if kind == np.float32 or kind == np.float64:
        floats = np.nan_to_num(data.astype(np.float32), nan=0.0, posinf=1.0, neginf=-1.0)
        return np.clip(floats, -1.0, 1.0)
    if kind == np.int16:
        return (data.astype(np.float32) / _INT16_SCALE).astype(np.float32)
    if kind == np.int32:
        return (data.astype(np.float64) / _INT32_SCALE).astype(np.float32)
    if kind == np.int8:
        return (data.astype(np.float32) / 128.0).astype(np.float32)
    if kind == np.uint8:
        return ((data.astype(np.float32) - 128.0) / 128.0).astype(np.float32)
    raise AudioFormatError(_unsupported_dtype(kind))


def to_int16(data: npt.NDArray[Any]) -> npt.NDArray[np.int16]:
    """Convert samples of any supported dtype to int16, clipping at full scale.

    Floats are multiplied by 32768, rounded and clipped to [-32768, 32767].
    int32 keeps its top 16 bits; 8-bit input moves to the top 8 bits.
    """
    kind = data.dtype
    if kind == np.int16:
        return data
    if kind == np.float32 or kind == np.float64:
        scaled = np.rint(np.nan_to_num(data.astype(np.float64), nan=0.0, posinf=1.0, neginf=-1.0) * _INT16_SCALE)
        return np.clip(scaled, -32768, 32767).astype(np.int16)
    if kind == np.int32:
        return (data >> 16).astype(np.int16)
    if kind == np.int8:
        return (data.astype(np.int16) << 8).astype(np.int16)
    if kind == np.uint8:
        return ((data.astype(np.int16) - 128) << 8).astype(np.int16)
    raise AudioFormatError(_unsupported_dtype(kind))


def resample(samples: npt.NDArray[Any], from_hz: int, to_hz: int) -> npt.NDArray[Any]:
    """Resample a whole signal in one call with soxr (high quality).

    ``samples`` has shape ``(n,)`` or ``(n, channels)``. float32, float64 and
    int16 keep their dtype; other dtypes come back as float32. Equal rates
    return the input unchanged.
    """
    _check_rates(from_hz, to_hz)
    if from_hz == to_hz:
        return samples
    if samples.dtype not in _STREAM_DTYPES:
        samples = to_float32(samples)
    if len(samples) == 0:
        return samples.copy()
    result: npt.NDArray[Any] = soxr.resample(samples, from_hz, to_hz)
    return result


class StreamResampler:
    """Resample a continuous mono stream block by block with soxr.

    soxr keeps its filter state between calls, so the joined output equals a
    one-shot resample of the joined input and block edges make no clicks. The
    output lags the input by the filter delay; :meth:`flush` returns the rest.
    """

    def __init__(self, from_hz: int, to_hz: int, dtype: npt.DTypeLike = np.float32) -> None:
        _check_rates(from_hz, to_hz)
        self._dtype = np.dtype(dtype)
        if self._dtype not in _STREAM_DTYPES:
            raise AudioFormatError(f"stream resampling supports float32, float64 and int16, not {self._dtype}")
        self.from_hz = from_hz
        self.to_hz = to_hz
        self._stream: Any = None
        if from_hz != to_hz:
            self._stream = soxr.ResampleStream(from_hz, to_hz, 1, dtype=self._dtype.name)

    def process(self, chunk: npt.NDArray[Any]) -> npt.NDArray[Any]:
        """Feed one mono block and return the output samples ready so far."""
        if chunk.ndim != 1:
            raise AudioFormatError(f"the stream resampler takes 1-D mono blocks, got shape {chunk.shape}")
        block = self._as_dtype(chunk)
        if self._stream is None:
            return block
        result: npt.NDArray[Any] = self._stream.resample_chunk(block, last=False)
        return result

    def flush(self) -> npt.NDArray[Any]:
        """Return the samples still held in the filter and reset for a new stream."""
        if self._stream is None:
            return np.zeros(0, dtype=self._dtype)
        tail: npt.NDArray[Any] = self._stream.resample_chunk(np.zeros(0, dtype=self._dtype), last=True)
        self._stream.clear()
        return tail

    def _as_dtype(self, chunk: npt.NDArray[Any]) -> npt.NDArray[Any]:
        if chunk.dtype == self._dtype:
            return chunk
        if self._dtype == np.int16:
            return to_int16(chunk)
        return to_float32(chunk).astype(self._dtype)


def _check_rates(from_hz: int, to_hz: int) -> None:
    if from_hz <= 0 or to_hz <= 0:
        raise AudioFormatError(f"sample rates must be positive, got {from_hz} Hz to {to_hz} Hz")


def _unsupported_dtype(kind: np.dtype[Any]) -> str:
    return f"unsupported sample type {kind}: use int8, uint8, int16, int32, float32 or float64"
