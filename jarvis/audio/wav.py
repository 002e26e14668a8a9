"""Reading and writing RIFF/WAVE files without the stdlib ``wave`` module.

``wave`` rejects IEEE float and some WAVE_FORMAT_EXTENSIBLE files, so the
reader walks the RIFF chunks itself. It accepts PCM with 8-, 16-, 24- or
32-bit samples, IEEE float with 32 or 64 bits, plain or extensible headers,
any channel count and rates from 4 kHz to 384 kHz. Unknown chunks are
skipped and the pad byte after an odd-sized chunk is honoured.

A data chunk whose declared size runs past the end of the file (a
recording cut off before its writer fixed the header) is accepted: the
samples that are present are returned and a ``wav_data_truncated`` warning
is logged. Compressed formats (mu-law, A-law, ADPCM, MP3 in WAV) are
rejected with a message that gives the command to convert the file.

The writer produces 16-bit PCM only.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO

import numpy as np
import numpy.typing as npt
import structlog

from jarvis.audio.convert import resample, to_float32, to_int16, to_mono
from jarvis.audio.framing import SAMPLE_RATE_HZ
from jarvis.errors import AudioError, AudioFormatError

log = structlog.get_logger(__name__)

CONVERT_HINT = "convert it with: sox in.wav -r 16000 -c 1 -b 16 out.wav"
MIN_SAMPLE_RATE_HZ = 4_000
MAX_SAMPLE_RATE_HZ = 384_000

_FORMAT_PCM = 0x0001
_FORMAT_IEEE_FLOAT = 0x0003
_FORMAT_EXTENSIBLE = 0xFFFE
# The last 14 bytes of every standard KSDATAFORMAT_SUBTYPE GUID; the first
# two bytes carry the plain format tag.
_SUBFORMAT_GUID_TAIL = b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
_COMPRESSED_FORMATS = {
    0x0002: "Microsoft ADPCM",
    0x0006: "A-law",
    0x0007: "mu-law",
    0x0011: "IMA ADPCM",
    0x0031: "GSM 6.10",
    0x0050: "MPEG audio",
    0x0055: "MP3",
}
_RIFF_HEADER_BYTES = 12
_CHUNK_HEADER_BYTES = 8
_MAX_DATA_BYTES = 0xFFFFFFFF - 36
_RATE_RANGE = f"{MIN_SAMPLE_RATE_HZ}-{MAX_SAMPLE_RATE_HZ} Hz"


@dataclass(frozen=True, slots=True)
class _Format:
    format_tag: int
    channels: int
    sample_rate_hz: int
    block_align: int
    bits_per_sample: int


def read_wav(path: str | Path) -> tuple[npt.NDArray[np.float32], int]:
    """Read a WAV file into float32 samples of shape ``(frames, channels)`` and its rate in Hz.

    Raises:
        AudioFormatError: the file is missing, unreadable, not a WAV file,
            corrupt or in a format listed as unsupported above.
    """
    path = Path(path)
    content = _read_bytes(path)
    fmt_bytes, data = _find_chunks(path, content)
    fmt = _parse_format(path, fmt_bytes)
    return _decode(path, fmt, data), fmt.sample_rate_hz


def load_wav_mono16k(path: str | Path) -> npt.NDArray[np.int16]:
    """Read a WAV file and convert it to 16 kHz mono int16, the pipeline's input format."""
    samples, sample_rate_hz = read_wav(path)
    mono = np.ascontiguousarray(to_mono(samples))
    return to_int16(resample(mono, sample_rate_hz, SAMPLE_RATE_HZ))


def write_wav(path: str | Path, samples_int16: npt.NDArray[Any], sample_rate_hz: int) -> None:
    """Write samples of shape ``(n,)`` or ``(n, channels)`` as a 16-bit PCM WAV file.

    Samples of another dtype are converted with :func:`to_int16` first.
    """
    samples = to_int16(np.asarray(samples_int16))
    channels = 1 if samples.ndim == 1 else samples.shape[1]
    if samples.ndim > 2 or channels < 1:
        raise AudioFormatError(
            f"cannot write {path}: samples must have shape (n,) or (n, channels), got {samples.shape}"
        )
    _check_write_rate(path, sample_rate_hz)
    payload = np.ascontiguousarray(samples, dtype="<i2").tobytes()
    if len(payload) > _MAX_DATA_BYTES:
        raise AudioFormatError(f"cannot write {path}: {len(payload)} bytes of audio exceed the 4 GiB WAV limit")
    try:
        with Path(path).open("wb") as handle:
            handle.write(_header(sample_rate_hz, channels, len(payload)))
            handle.write(payload)
    except OSError as err:
        raise AudioError(f"cannot write WAV file {path}: {err.strerror}") from err


class WavWriter:
    """Append int16 mono blocks to a WAV file; the header sizes are fixed on :meth:`close`.

    Until ``close()`` runs, the header declares zero data bytes, so a file
    left by a crash contains the samples but reads as empty.
    """

    def __init__(self, path: str | Path, sample_rate_hz: int) -> None:
        self.path = Path(path)
        _check_write_rate(self.path, sample_rate_hz)
        self.sample_rate_hz = sample_rate_hz
        self._data_bytes = 0
        try:
            self._handle: BinaryIO | None = self.path.open("wb")
            self._handle.write(_header(sample_rate_hz, 1, 0))
        except OSError as err:
            raise AudioError(f"cannot write WAV file {self.path}: {err.strerror}") from err

    @property
    def frames_written(self) -> int:
        """Number of samples written so far."""
        return self._data_bytes // 2

    @property
    def duration_s(self) -> float:
        """Length of the audio written so far, in seconds."""
        return self.frames_written / self.sample_rate_hz

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` has run."""
        return self._handle is None

    def write(self, samples: npt.NDArray[Any]) -> None:
        """Append one mono block; other dtypes are converted with :func:`to_int16`."""
        if self._handle is None:
            raise AudioError(f"cannot write to {self.path}: the WAV writer is closed")
        block = to_int16(np.asarray(samples))
        if block.ndim != 1:
            raise AudioFormatError(f"the WAV writer takes 1-D mono blocks, got shape {block.shape}")
        payload = np.ascontiguousarray(block, dtype="<i2").tobytes()
        if self._data_bytes + len(payload) > _MAX_DATA_BYTES:
            raise AudioFormatError(f"cannot write {self.path}: the audio would exceed the 4 GiB WAV limit")
        try:
            self._handle.write(payload)
        except OSError as err:
            raise AudioError(f"cannot write WAV file {self.path}: {err.strerror}") from err
        self._data_bytes += len(payload)

    def close(self) -> None:
        """Write the final sizes into the header and close the file; calling it again does nothing."""
        handle, self._handle = self._handle, None
        if handle is None:
            return
        try:
            handle.seek(0)
            handle.write(_header(self.sample_rate_hz, 1, self._data_bytes))
        except OSError as err:
            raise AudioError(f"cannot finish WAV file {self.path}: {err.strerror}") from err
        finally:
            handle.close()

    def __enter__(self) -> WavWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()


def _read_bytes(path: Path) -> bytes:
    if path.is_dir():
        raise AudioFormatError(f"{path} is a directory, not a WAV file; give the path of a .wav file")
    try:
        return path.read_bytes()
    except FileNotFoundError as err:
        raise AudioFormatError(f"WAV file {path} not found; check the path") from err
    except OSError as err:
        raise AudioFormatError(f"cannot read WAV file {path}: {err.strerror}") from err


def _find_chunks(path: Path, content: bytes) -> tuple[bytes, bytes]:
    """Return the payloads of the ``fmt `` and ``data`` chunks."""
    _check_riff_header(path, content)
    fmt_bytes: bytes | None = None
    data: bytes | None = None
    offset = _RIFF_HEADER_BYTES
    while offset + _CHUNK_HEADER_BYTES <= len(content):
        chunk_id = content[offset : offset + 4]
        (size,) = struct.unpack_from("<I", content, offset + 4)
        start = offset + _CHUNK_HEADER_BYTES
        end = start + size

        if chunk_id == b"data" and data is None:
            if end > len(content):
                log.warning(
                    "wav_data_truncated", path=str(path), declared_bytes=size, present_bytes=len(content) - start
                )
            data = content[start:end]
        elif chunk_id == b"fmt " and fmt_bytes is None:
            if end > len(content):
                raise AudioFormatError(f"{path}: the fmt chunk is cut off, so the file is corrupt; {CONVERT_HINT}")
            fmt_bytes = content[start:end]
        if end >= len(content):
            break
        offset = end + (size & 1)

    if fmt_bytes is None:
        raise AudioFormatError(
            f"{path}: no fmt chunk, so the sample format is unknown and the file is corrupt; {CONVERT_HINT}"
        )
    if data is None:
        raise AudioFormatError(f"{path}: missing data chunk, so the file contains no audio; record or export it again")
    return fmt_bytes, data


def _check_riff_header(path: Path, content: bytes) -> None:
    magic = content[:4]
    if magic == b"RIFX":
        raise AudioFormatError(f"{path}: big-endian RIFX files are not supported; {CONVERT_HINT}")
    if magic == b"RF64":
        raise AudioFormatError(f"{path}: RF64 (WAV over 4 GiB) is not supported; {CONVERT_HINT}")
    if len(content) < _RIFF_HEADER_BYTES or magic != b"RIFF" or content[8:12] != b"WAVE":
        raise AudioFormatError(f"{path} is not a WAV file (no RIFF/WAVE header); {CONVERT_HINT}")


def _parse_format(path: Path, fmt_bytes: bytes) -> _Format:
    if len(fmt_bytes) < 16:
        raise AudioFormatError(
            f"{path}: the fmt chunk has {len(fmt_bytes)} bytes, fewer than 16, so the file is corrupt"
        )
    format_tag, channels, sample_rate_hz, _byte_rate, block_align, bits = struct.unpack_from("<HHIIHH", fmt_bytes)
    if format_tag == _FORMAT_EXTENSIBLE:
        format_tag = _extensible_subformat(path, fmt_bytes)

    if format_tag in _COMPRESSED_FORMATS:
        raise AudioFormatError(
            f"{path}: {_COMPRESSED_FORMATS[format_tag]} compressed audio is not supported; {CONVERT_HINT}"
        )
    if format_tag not in (_FORMAT_PCM, _FORMAT_IEEE_FLOAT):
        raise AudioFormatError(f"{path}: WAV format tag 0x{format_tag:04x} is not supported; {CONVERT_HINT}")
    if channels == 0:
        raise AudioFormatError(f"{path}: the header declares zero channels, so the file is corrupt")
    if not MIN_SAMPLE_RATE_HZ <= sample_rate_hz <= MAX_SAMPLE_RATE_HZ:
        raise AudioFormatError(f"{path}: sample rate {sample_rate_hz} Hz is outside {_RATE_RANGE}; {CONVERT_HINT}")
    block_align = _effective_block_align(path, format_tag, channels, block_align, bits)
    return _Format(format_tag, channels, sample_rate_hz, block_align, bits)


def _extensible_subformat(path: Path, fmt_bytes: bytes) -> int:
    if len(fmt_bytes) < 40:
        raise AudioFormatError(
            f"{path}: the extensible fmt chunk has {len(fmt_bytes)} bytes, fewer than 40, so it is corrupt"
        )
    guid = fmt_bytes[24:40]
    if guid[2:] != _SUBFORMAT_GUID_TAIL:
        raise AudioFormatError(
            f"{path}: the extensible sub-format {guid.hex()} is not PCM or IEEE float; {CONVERT_HINT}"
        )
    tag: int = struct.unpack_from("<H", guid)[0]
    return tag


def _effective_block_align(path: Path, format_tag: int, channels: int, block_align: int, bits: int) -> int:
    """Return the bytes per frame, trusting the header's block align when it is consistent.

    Extensible headers may put fewer valid bits in a wider container, and
    some writers store the valid bits in ``bits_per_sample``. The container
    width from the block align therefore decides how the data is laid out.
    """
    allowed_widths = (1, 2, 3, 4) if format_tag == _FORMAT_PCM else (4, 8)
    if block_align and block_align % channels == 0 and block_align // channels in allowed_widths:
        width = block_align // channels
        if bits <= width * 8:
            return block_align
    width = (bits + 7) // 8
    if width in allowed_widths and bits > 0:
        return width * channels
    kind = "PCM" if format_tag == _FORMAT_PCM else "IEEE float"
    raise AudioFormatError(
        f"{path}: {kind} with {bits} bits per sample and block align {block_align} is not supported; {CONVERT_HINT}"
    )


def _decode(path: Path, fmt: _Format, data: bytes) -> npt.NDArray[np.float32]:
    frame_count = len(data) // fmt.block_align
    if frame_count == 0:
        raise AudioFormatError(f"{path}: the data chunk is empty (no complete sample), so there is no audio to read")
    if len(data) % fmt.block_align:
        log.warning("wav_partial_frame_dropped", path=str(path), extra_bytes=len(data) % fmt.block_align)
    data = data[: frame_count * fmt.block_align]

    width = fmt.block_align // fmt.channels
    if fmt.format_tag == _FORMAT_IEEE_FLOAT:
        raw: npt.NDArray[Any] = np.frombuffer(data, dtype="<f4" if width == 4 else "<f8")
    elif width == 1:
        raw = np.frombuffer(data, dtype=np.uint8)
    elif width == 2:
        raw = np.frombuffer(data, dtype="<i2")
    elif width == 3:
        raw = _unpack_int24(data)
    else:
        raw = np.frombuffer(data, dtype="<i4")
    samples = to_float32(raw.astype(raw.dtype.newbyteorder("=")))
    return samples.reshape(frame_count, fmt.channels)


def _unpack_int24(data: bytes) -> npt.NDArray[np.int32]:
    """Place packed little-endian 24-bit samples in the top three bytes of int32."""
    packed = np.frombuffer(data, dtype=np.uint8).reshape(-1, 3)
    widened = np.zeros((len(packed), 4), dtype=np.uint8)
    widened[:, 1:] = packed
    return widened.view("<i4").reshape(-1).astype(np.int32)


def _header(sample_rate_hz: int, channels: int, data_bytes: int) -> bytes:
    block_align = 2 * channels
    return struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF",
        36 + data_bytes,
        b"WAVE",
        b"fmt ",
        16,
        _FORMAT_PCM,
        channels,
        sample_rate_hz,
        sample_rate_hz * block_align,
        block_align,
        16,
        b"data",
        data_bytes,
    )


def _check_write_rate(path: str | Path, sample_rate_hz: int) -> None:
    if not MIN_SAMPLE_RATE_HZ <= sample_rate_hz <= MAX_SAMPLE_RATE_HZ:
        raise AudioFormatError(f"cannot write {path}: sample rate {sample_rate_hz} Hz is outside {_RATE_RANGE}")
