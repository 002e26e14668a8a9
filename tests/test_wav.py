"""Reading and writing WAV files, including odd and broken ones built byte by byte."""

from __future__ import annotations

import struct
import wave
from pathlib import Path

import numpy as np
import pytest
from structlog.testing import capture_logs

from jarvis.audio.wav import WavWriter, load_wav_mono16k, read_wav, write_wav
from jarvis.errors import AudioError, AudioFormatError

PCM = 0x0001
FLOAT = 0x0003
EXTENSIBLE = 0xFFFE
GUID_TAIL = b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"


# Building WAV files by hand


def chunk(chunk_id: bytes, payload: bytes, *, declared_size: int | None = None) -> bytes:
    size = len(payload) if declared_size is None else declared_size
    pad = b"\x00" if len(payload) % 2 else b""
    return chunk_id + struct.pack("<I", size) + payload + pad


def fmt_payload(tag: int, channels: int, rate_hz: int, bits: int, *, block_align: int | None = None) -> bytes:
    align = block_align if block_align is not None else channels * ((bits + 7) // 8)
    return struct.pack("<HHIIHH", tag, channels, rate_hz, rate_hz * align, align, bits)


def extensible_payload(subformat: int, channels: int, rate_hz: int, container_bits: int, valid_bits: int) -> bytes:
    base = fmt_payload(EXTENSIBLE, channels, rate_hz, container_bits)
    guid = struct.pack("<H", subformat) + GUID_TAIL
    return base + struct.pack("<HHI", 22, valid_bits, 0x3) + guid


def riff(*chunks: bytes, magic: bytes = b"RIFF", form: bytes = b"WAVE") -> bytes:
    body = form + b"".join(chunks)
    return magic + struct.pack("<I", len(body)) + body


def encode(reference: np.ndarray, tag: int, bits: int) -> bytes:
    """Encode float samples in [-1, 1) as little-endian PCM or IEEE float of ``bits`` bits."""
    if tag == FLOAT:
        return reference.astype("<f4" if bits == 32 else "<f8").tobytes()
    if bits == 8:
        return np.clip(np.round(reference * 128 + 128), 0, 255).astype(np.uint8).tobytes()
    scale = 2.0 ** (bits - 1)
    ints = np.clip(np.round(reference * scale), -scale, scale - 1).astype("<i4")
    if bits == 16:
        return ints.astype("<i2").tobytes()
    if bits == 24:
        return ints.view(np.uint8).reshape(-1, 4)[:, :3].tobytes()
    return ints.tobytes()


def reference_signal(frames: int, channels: int) -> np.ndarray:
    """Interleaved test signal of shape (frames, channels): a different sine per channel, plus full-scale peaks."""
    t = np.arange(frames) / frames
    columns = [0.6 * np.sin(2 * np.pi * (3 + channel) * t) for channel in range(channels)]
    signal = np.stack(columns, axis=1)
    signal[0, 0] = -1.0
    signal[1, 0] = 0.99
    return signal


def write_bytes(tmp_path: Path, content: bytes, name: str = "clip.wav") -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


# Reading every supported layout


@pytest.mark.parametrize(
    ("tag", "bits", "channels", "rate_hz"),
    [
        (PCM, 8, 1, 8_000),
        (PCM, 16, 1, 16_000),
        (PCM, 16, 2, 44_100),
        (PCM, 24, 1, 48_000),
        (PCM, 24, 2, 96_000),
        (PCM, 32, 1, 22_050),
        (PCM, 32, 6, 48_000),
        (FLOAT, 32, 1, 16_000),
        (FLOAT, 32, 2, 192_000),
        (FLOAT, 64, 1, 11_025),
        (FLOAT, 64, 3, 32_000),
        (PCM, 8, 2, 22_050),
    ],
)
def test_read_plain_formats(tmp_path: Path, tag: int, bits: int, channels: int, rate_hz: int) -> None:
    reference = reference_signal(1_000, channels)
    content = riff(
        chunk(b"fmt ", fmt_payload(tag, channels, rate_hz, bits)), chunk(b"data", encode(reference, tag, bits))
    )
    samples, read_rate_hz = read_wav(write_bytes(tmp_path, content))
    assert read_rate_hz == rate_hz
    assert samples.dtype == np.float32
    assert samples.shape == (1_000, channels)
    tolerance = 1e-6 if tag == FLOAT else 1.01 / 2 ** (bits - 1)
    np.testing.assert_allclose(samples, reference, atol=tolerance)


@pytest.mark.parametrize(
    ("subformat", "container_bits", "valid_bits", "channels"),
    [(PCM, 16, 16, 2), (PCM, 24, 24, 1), (PCM, 32, 24, 2), (FLOAT, 32, 32, 4), (FLOAT, 64, 64, 1)],
)
def test_read_extensible(tmp_path: Path, subformat: int, container_bits: int, valid_bits: int, channels: int) -> None:
    reference = reference_signal(500, channels)
    payload = extensible_payload(subformat, channels, 48_000, container_bits, valid_bits)
    content = riff(chunk(b"fmt ", payload), chunk(b"data", encode(reference, subformat, container_bits)))
    samples, rate_hz = read_wav(write_bytes(tmp_path, content))
    assert rate_hz == 48_000
    assert samples.shape == (500, channels)
    np.testing.assert_allclose(samples, reference, atol=1.01 / 2 ** (min(valid_bits, 24) - 1))


def test_read_unsigned_8bit_silence_is_zero(tmp_path: Path) -> None:
    content = riff(chunk(b"fmt ", fmt_payload(PCM, 1, 8_000, 8)), chunk(b"data", bytes([128] * 10)))
    samples, _ = read_wav(write_bytes(tmp_path, content))
    assert not samples.any()


def test_read_24bit_sign(tmp_path: Path) -> None:
    packed = bytes([0x00, 0x00, 0x80, 0xFF, 0xFF, 0x7F, 0x00, 0x00, 0x40])
    content = riff(chunk(b"fmt ", fmt_payload(PCM, 1, 16_000, 24)), chunk(b"data", packed))
    samples, _ = read_wav(write_bytes(tmp_path, content))
    np.testing.assert_allclose(samples[:, 0], [-1.0, 1.0, 0.5], atol=1e-6)


def test_read_skips_unknown_and_odd_chunks(tmp_path: Path) -> None:
    reference = reference_signal(100, 1)
    content = riff(
        chunk(b"JUNK", b"\x00" * 3),
        chunk(b"fmt ", fmt_payload(PCM, 1, 16_000, 16)),
        chunk(b"LIST", b"INFOISFT\x05\x00\x00\x00sox!!"),
        chunk(b"data", encode(reference, PCM, 16)),
        chunk(b"cue ", b"\x01"),
    )
    samples, _ = read_wav(write_bytes(tmp_path, content))
    assert samples.shape == (100, 1)


def test_read_fmt_after_data(tmp_path: Path) -> None:
    reference = reference_signal(100, 2)
    content = riff(chunk(b"data", encode(reference, PCM, 16)), chunk(b"fmt ", fmt_payload(PCM, 2, 16_000, 16)))
    samples, _ = read_wav(write_bytes(tmp_path, content))
    assert samples.shape == (100, 2)


def test_read_odd_sized_8bit_data_with_pad_byte(tmp_path: Path) -> None:
    content = riff(
        chunk(b"fmt ", fmt_payload(PCM, 1, 8_000, 8)),
        chunk(b"data", bytes([128, 255, 0])),
        chunk(b"LIST", b"ab"),
    )
    samples, _ = read_wav(write_bytes(tmp_path, content))
    assert samples.shape == (3, 1)


def test_read_truncated_data_returns_present_samples(tmp_path: Path) -> None:
    present = encode(reference_signal(300, 1), PCM, 16)
    content = riff(chunk(b"fmt ", fmt_payload(PCM, 1, 16_000, 16)), chunk(b"data", present, declared_size=1_000_000))
    with capture_logs() as logs:
        samples, _ = read_wav(write_bytes(tmp_path, content))
    assert samples.shape == (300, 1)
    assert [entry["event"] for entry in logs] == ["wav_data_truncated"]
    assert logs[0]["log_level"] == "warning"


def test_read_drops_partial_trailing_frame(tmp_path: Path) -> None:
    data = encode(reference_signal(10, 2), PCM, 16) + b"\x01\x02"
    content = riff(chunk(b"fmt ", fmt_payload(PCM, 2, 16_000, 16)), chunk(b"data", data))
    with capture_logs() as logs:
        samples, _ = read_wav(write_bytes(tmp_path, content))
    assert samples.shape == (10, 2)
    assert [entry["event"] for entry in logs] == ["wav_partial_frame_dropped"]


def test_read_fixes_wrong_block_align(tmp_path: Path) -> None:
    reference = reference_signal(50, 2)
    payload = fmt_payload(PCM, 2, 16_000, 16, block_align=0)
    content = riff(chunk(b"fmt ", payload), chunk(b"data", encode(reference, PCM, 16)))
    samples, _ = read_wav(write_bytes(tmp_path, content))
    assert samples.shape == (50, 2)


def test_read_accepts_string_path(tmp_path: Path) -> None:
    path = tmp_path / "tone.wav"
    write_wav(path, np.zeros(10, dtype=np.int16), 16_000)
    _, rate_hz = read_wav(str(path))
    assert rate_hz == 16_000


# Broken and unsupported files


def valid_fmt() -> bytes:
    return chunk(b"fmt ", fmt_payload(PCM, 1, 16_000, 16))


def valid_data() -> bytes:
    return chunk(b"data", b"\x00\x00" * 10)


BROKEN_FILES = [
    (b"ID3\x04\x00" + b"\x00" * 100, "not a WAV file"),
    (riff(valid_fmt(), valid_data(), form=b"AVI "), "not a WAV file"),
    (b"RIFF", "not a WAV file"),
    (b"", "not a WAV file"),
    (riff(valid_fmt(), valid_data(), magic=b"RIFX"), "big-endian"),
    (riff(valid_fmt(), valid_data(), magic=b"RF64"), "RF64"),
    (riff(valid_data()), "no fmt chunk"),
    (riff(valid_fmt()), "missing data chunk"),
    (riff(valid_fmt(), chunk(b"data", b"")), "no complete sample"),
    (riff(valid_fmt(), chunk(b"data", b"\x00")), "no complete sample"),
    (riff(chunk(b"fmt ", fmt_payload(7, 1, 8_000, 8)), valid_data()), "mu-law"),
    (riff(chunk(b"fmt ", fmt_payload(6, 1, 8_000, 8)), valid_data()), "A-law"),
    (riff(chunk(b"fmt ", fmt_payload(2, 1, 8_000, 4)), valid_data()), "ADPCM"),
    (riff(chunk(b"fmt ", fmt_payload(0x11, 1, 8_000, 4)), valid_data()), "IMA ADPCM"),
    (riff(chunk(b"fmt ", fmt_payload(0x55, 2, 44_100, 0)), valid_data()), "MP3"),
    (riff(chunk(b"fmt ", fmt_payload(0x1234, 1, 16_000, 16)), valid_data()), "format tag 0x1234"),
    (riff(chunk(b"fmt ", fmt_payload(PCM, 0, 16_000, 16, block_align=2)), valid_data()), "zero channels"),
    (riff(chunk(b"fmt ", fmt_payload(PCM, 1, 5, 16)), valid_data()), "sample rate 5 Hz"),
    (riff(chunk(b"fmt ", fmt_payload(PCM, 1, 10_000_000, 16)), valid_data()), "sample rate 10000000 Hz"),
    (riff(chunk(b"fmt ", fmt_payload(PCM, 1, 16_000, 48)), valid_data()), "48 bits"),
    (riff(chunk(b"fmt ", fmt_payload(FLOAT, 1, 16_000, 16)), valid_data()), "IEEE float with 16 bits"),
    (riff(chunk(b"fmt ", b"\x01\x00\x01\x00"), valid_data()), "fewer than 16"),
    (riff(chunk(b"fmt ", fmt_payload(EXTENSIBLE, 1, 16_000, 16)), valid_data()), "fewer than 40"),
    (riff(chunk(b"fmt ", fmt_payload(PCM, 1, 16_000, 16)[:8], declared_size=16)), "cut off"),
]


@pytest.mark.parametrize(("content", "problem"), BROKEN_FILES, ids=[problem for _, problem in BROKEN_FILES])
def test_read_rejects_broken_file(tmp_path: Path, content: bytes, problem: str) -> None:
    path = write_bytes(tmp_path, content, name="broken.wav")
    with pytest.raises(AudioFormatError) as caught:
        read_wav(path)
    message = str(caught.value)
    assert str(path) in message
    assert problem in message


def test_read_rejects_extensible_with_foreign_guid(tmp_path: Path) -> None:
    payload = extensible_payload(PCM, 1, 16_000, 16, 16)[:24] + b"\x11" * 16
    path = write_bytes(tmp_path, riff(chunk(b"fmt ", payload), valid_data()))
    with pytest.raises(AudioFormatError, match="not PCM or IEEE float"):
        read_wav(path)


def test_read_rejects_extensible_mu_law(tmp_path: Path) -> None:
    payload = extensible_payload(7, 1, 8_000, 8, 8)
    path = write_bytes(tmp_path, riff(chunk(b"fmt ", payload), valid_data()))
    with pytest.raises(AudioFormatError, match="mu-law"):
        read_wav(path)


def test_compressed_message_says_how_to_convert(tmp_path: Path) -> None:
    path = write_bytes(tmp_path, riff(chunk(b"fmt ", fmt_payload(7, 1, 8_000, 8)), valid_data()))
    with pytest.raises(AudioFormatError, match=r"sox in\.wav -r 16000 -c 1 -b 16 out\.wav"):
        read_wav(path)


def test_read_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.wav"
    with pytest.raises(AudioFormatError, match=r"absent\.wav not found; check the path"):
        read_wav(path)


def test_read_directory(tmp_path: Path) -> None:
    with pytest.raises(AudioFormatError, match="is a directory"):
        read_wav(tmp_path)


# load_wav_mono16k


def test_load_converts_to_16k_mono(tmp_path: Path) -> None:
    reference = reference_signal(44_100, 2)
    content = riff(chunk(b"fmt ", fmt_payload(FLOAT, 2, 44_100, 32)), chunk(b"data", encode(reference, FLOAT, 32)))
    samples = load_wav_mono16k(write_bytes(tmp_path, content))
    assert samples.dtype == np.int16
    assert samples.ndim == 1
    assert len(samples) == 16_000


def test_load_keeps_16k_mono_samples_exact(tmp_path: Path) -> None:
    original = (np.arange(-500, 500) * 30).astype(np.int16)
    path = tmp_path / "exact.wav"
    write_wav(path, original, 16_000)
    assert np.array_equal(load_wav_mono16k(path), original)


# Writing


def test_write_is_readable_by_stdlib_wave(tmp_path: Path) -> None:
    path = tmp_path / "out.wav"
    samples = np.array([0, 1, -1, 32767, -32768], dtype=np.int16)
    write_wav(path, samples, 22_050)
    with wave.open(str(path)) as reader:
        assert reader.getframerate() == 22_050
        assert reader.getnchannels() == 1
        assert reader.getsampwidth() == 2
        assert np.frombuffer(reader.readframes(10), dtype="<i2").tolist() == samples.tolist()


def test_write_stereo_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "stereo.wav"
    samples = np.array([[100, -100], [2000, -2000]], dtype=np.int16)
    write_wav(path, samples, 48_000)
    read, rate_hz = read_wav(path)
    assert rate_hz == 48_000
    assert np.array_equal(np.rint(read * 32768).astype(np.int16), samples)


def test_write_converts_float_input(tmp_path: Path) -> None:
    path = tmp_path / "float.wav"
    write_wav(path, np.array([0.5, -0.5], dtype=np.float32), 16_000)
    assert load_wav_mono16k(path).tolist() == [16384, -16384]


def test_write_rejects_absurd_rate(tmp_path: Path) -> None:
    with pytest.raises(AudioFormatError, match="sample rate 0 Hz"):
        write_wav(tmp_path / "bad.wav", np.zeros(4, dtype=np.int16), 0)


def test_write_into_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(AudioError, match="cannot write WAV file"):
        write_wav(tmp_path / "no" / "such" / "dir.wav", np.zeros(4, dtype=np.int16), 16_000)


def test_writer_appends_blocks_and_fixes_header(tmp_path: Path) -> None:
    path = tmp_path / "stream.wav"
    blocks = [np.full(n, n, dtype=np.int16) for n in (1, 1_280, 333)]
    with WavWriter(path, 16_000) as writer:
        for block in blocks:
            writer.write(block)
    assert writer.frames_written == 1_614
    with wave.open(str(path)) as reader:
        assert reader.getnframes() == 1_614
    assert np.array_equal(load_wav_mono16k(path), np.concatenate(blocks))


def test_writer_header_sizes_match_file(tmp_path: Path) -> None:
    path = tmp_path / "sizes.wav"
    writer = WavWriter(path, 16_000)
    writer.write(np.zeros(101, dtype=np.int16))
    writer.close()
    content = path.read_bytes()
    riff_size, data_size = struct.unpack_from("<I", content, 4)[0], struct.unpack_from("<I", content, 40)[0]
    assert riff_size == len(content) - 8
    assert data_size == 202


def test_writer_close_twice_is_harmless(tmp_path: Path) -> None:
    writer = WavWriter(tmp_path / "twice.wav", 16_000)
    writer.close()
    writer.close()
    assert writer.closed


def test_writer_rejects_write_after_close(tmp_path: Path) -> None:
    writer = WavWriter(tmp_path / "closed.wav", 16_000)
    writer.close()
    with pytest.raises(AudioError, match="closed"):
        writer.write(np.zeros(4, dtype=np.int16))


def test_writer_rejects_stereo_block(tmp_path: Path) -> None:
    with WavWriter(tmp_path / "mono.wav", 16_000) as writer, pytest.raises(AudioFormatError, match="mono"):
        writer.write(np.zeros((4, 2), dtype=np.int16))


def test_writer_duration(tmp_path: Path) -> None:
    with WavWriter(tmp_path / "len.wav", 8_000) as writer:
        writer.write(np.zeros(4_000, dtype=np.int16))
        assert writer.duration_s == 0.5
