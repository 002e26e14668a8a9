"""Speaker, WAV and null sinks; the speaker driven through a fake PortAudio."""

from __future__ import annotations

import asyncio
import sys
import threading
import wave
from pathlib import Path

import numpy as np
import pytest
from fake_sounddevice import FakeCallbackFlags, FakeDevice, FakeOutputStream, FakeSoundDevice

from jarvis.audio.convert import resample, to_float32, to_int16
from jarvis.audio.devices import PORTAUDIO_MISSING
from jarvis.audio.sinks import AudioSink, NullSink, PlaybackBuffer, SpeakerSink, WavSink
from jarvis.audio.wav import load_wav_mono16k, read_wav
from jarvis.config import AudioSettings
from jarvis.errors import AudioDeviceError, AudioError

TIMEOUT_S = 10.0


def tone(rate_hz: int, duration_s: float, frequency_hz: float = 440.0) -> np.ndarray:
    t = np.arange(round(rate_hz * duration_s)) / rate_hz
    return (0.3 * np.sin(2 * np.pi * frequency_hz * t)).astype(np.float32)


def stereo_only_speaker() -> FakeSoundDevice:
    """A 48 kHz output that accepts only two channels."""
    return FakeSoundDevice([FakeDevice("Speakers", 0, 2, 48_000.0, supports_mono=False)])


def mono_speaker() -> FakeSoundDevice:
    return FakeSoundDevice([FakeDevice("Mic", 1, 0, 16_000.0), FakeDevice("Phone", 0, 1, 22_050.0)], default_output=1)


def output_stream(sd: FakeSoundDevice) -> FakeOutputStream:
    stream = sd.streams[-1]
    assert isinstance(stream, FakeOutputStream)
    return stream


async def pull_from_thread(stream: FakeOutputStream, block_sizes: list[int]) -> np.ndarray:
    """Ask the callback for blocks of the given sizes from another thread, as PortAudio does."""
    pulled: list[np.ndarray] = []

    def run() -> None:
        pulled.extend(stream.pull(size) for size in block_sizes)

    worker = threading.Thread(target=run)
    worker.start()
    await asyncio.to_thread(worker.join, TIMEOUT_S)
    return np.concatenate(pulled)


def random_sizes(total: int, seed: int) -> list[int]:
    rng = np.random.default_rng(seed)
    sizes: list[int] = []
    while sum(sizes) < total:
        sizes.append(int(rng.integers(1, 2_000)))
    return sizes


# SpeakerSink


@pytest.mark.asyncio
async def test_speaker_plays_resampled_audio_then_silence() -> None:
    sd = stereo_only_speaker()
    sink = SpeakerSink(AudioSettings(), sounddevice_module=sd)
    chunk = tone(22_050, 0.5)
    await sink.play(chunk, 22_050)
    stream = output_stream(sd)
    expected = resample(chunk, 22_050, 48_000)

    assert stream.samplerate == 48_000
    assert stream.channels == 2
    assert sink.is_playing()
    played = await pull_from_thread(stream, random_sizes(len(expected) + 3_000, seed=5))
    await asyncio.wait_for(sink.drain(), TIMEOUT_S)

    assert not sink.is_playing()
    assert np.array_equal(played[:, 0], played[:, 1])
    np.testing.assert_allclose(played[: len(expected), 0], expected, atol=1e-6)
    assert not played[len(expected) :].any()
    await sink.aclose()


@pytest.mark.asyncio
async def test_speaker_plays_chunks_in_order() -> None:
    sd = mono_speaker()
    sink = SpeakerSink(AudioSettings(), sounddevice_module=sd)
    first = np.full(1_000, 0.25, dtype=np.float32)
    second = to_int16(np.full(500, -0.5, dtype=np.float32))
    await sink.play(first, 22_050)
    await sink.play(second, 22_050)
    played = await pull_from_thread(output_stream(sd), [700, 700, 700])
    assert output_stream(sd).channels == 1
    assert played[:1_000, 0].tolist() == [0.25] * 1_000
    assert played[1_000:1_500, 0].tolist() == [-0.5] * 500
    assert not played[1_500:].any()
    await sink.aclose()


@pytest.mark.asyncio
async def test_speaker_averages_stereo_input() -> None:
    sd = mono_speaker()
    sink = SpeakerSink(AudioSettings(), sounddevice_module=sd)
    stereo = np.stack([np.full(100, 0.5), np.full(100, 0.0)], axis=1).astype(np.float32)
    await sink.play(stereo, 22_050)
    played = await pull_from_thread(output_stream(sd), [100])
    np.testing.assert_allclose(played[:, 0], 0.25)
    await sink.aclose()


@pytest.mark.asyncio
async def test_speaker_drain_waits_for_playback() -> None:
    sd = mono_speaker()
    sink = SpeakerSink(AudioSettings(), sounddevice_module=sd)
    await sink.play(np.full(2_000, 0.1, dtype=np.float32), 22_050)
    drained = asyncio.ensure_future(sink.drain())
    await pull_from_thread(output_stream(sd), [1_000])
    assert not drained.done()
    await pull_from_thread(output_stream(sd), [1_000])
    await asyncio.wait_for(drained, TIMEOUT_S)
    await sink.aclose()


@pytest.mark.asyncio
async def test_speaker_drain_ignores_late_empty_signal() -> None:
    sd = mono_speaker()
    sink = SpeakerSink(AudioSettings(), sounddevice_module=sd)
    await sink.play(np.full(100, 0.1, dtype=np.float32), 22_050)
    drained = asyncio.ensure_future(sink.drain())
    # An "empty" signal the callback scheduled before this chunk arrived runs only now.
    sink._on_buffer_empty()
    await asyncio.sleep(0)
    assert not drained.done()
    await pull_from_thread(output_stream(sd), [100])
    await asyncio.wait_for(drained, TIMEOUT_S)
    await sink.aclose()


@pytest.mark.asyncio
async def test_speaker_stop_cuts_playback() -> None:
    sd = mono_speaker()
    sink = SpeakerSink(AudioSettings(), sounddevice_module=sd)
    await sink.play(np.full(22_050, 0.3, dtype=np.float32), 22_050)
    drained = asyncio.ensure_future(sink.drain())
    await pull_from_thread(output_stream(sd), [256])
    await sink.stop()
    await asyncio.wait_for(drained, TIMEOUT_S)
    after = await pull_from_thread(output_stream(sd), [256])
    assert not sink.is_playing()
    assert not after.any()
    await sink.aclose()


@pytest.mark.asyncio
async def test_speaker_counts_underflows() -> None:
    sd = mono_speaker()
    sink = SpeakerSink(AudioSettings(), sounddevice_module=sd)
    await sink.open()
    output_stream(sd).pull(10, FakeCallbackFlags(output_underflow=True))
    assert sink.output_underflows == 1
    await sink.aclose()


@pytest.mark.asyncio
async def test_speaker_aclose_closes_stream_and_releases_drain() -> None:
    sd = mono_speaker()
    sink = SpeakerSink(AudioSettings(), sounddevice_module=sd)
    await sink.play(np.full(1_000, 0.1, dtype=np.float32), 22_050)
    drained = asyncio.ensure_future(sink.drain())
    await sink.aclose()
    await sink.aclose()
    await asyncio.wait_for(drained, TIMEOUT_S)
    assert output_stream(sd).stopped
    assert output_stream(sd).closed


@pytest.mark.asyncio
async def test_speaker_second_aclose_waits_for_first() -> None:
    sd = mono_speaker()
    sd.stop_gate = threading.Event()
    sink = SpeakerSink(AudioSettings(), sounddevice_module=sd)
    await sink.open()
    first = asyncio.ensure_future(sink.aclose())
    second = asyncio.ensure_future(sink.aclose())
    await asyncio.sleep(0)
    assert not second.done()
    sd.stop_gate.set()
    await asyncio.wait_for(asyncio.gather(first, second), TIMEOUT_S)
    assert output_stream(sd).closed


@pytest.mark.asyncio
async def test_speaker_play_after_close_fails() -> None:
    sink = SpeakerSink(AudioSettings(), sounddevice_module=mono_speaker())
    await sink.aclose()
    with pytest.raises(AudioDeviceError, match="closed"):
        await sink.play(np.zeros(10, dtype=np.float32), 16_000)


@pytest.mark.asyncio
async def test_speaker_empty_chunk_keeps_idle() -> None:
    sink = SpeakerSink(AudioSettings(), sounddevice_module=mono_speaker())
    await sink.play(np.zeros(0, dtype=np.float32), 16_000)
    assert not sink.is_playing()
    await asyncio.wait_for(sink.drain(), TIMEOUT_S)
    await sink.aclose()


@pytest.mark.asyncio
async def test_speaker_unknown_device() -> None:
    sink = SpeakerSink(AudioSettings(output_device="Bluetooth"), sounddevice_module=mono_speaker())
    with pytest.raises(AudioDeviceError, match="jarvis devices"):
        await sink.open()


@pytest.mark.asyncio
async def test_speaker_no_default_output() -> None:
    sd = FakeSoundDevice([FakeDevice("Mic", 1, 0, 16_000.0)], default_output=-1)
    sink = SpeakerSink(AudioSettings(), sounddevice_module=sd)
    with pytest.raises(AudioDeviceError, match="no default output device"):
        await sink.open()


@pytest.mark.asyncio
async def test_speaker_start_failure() -> None:
    sd = mono_speaker()
    sd.fail_start = True
    sink = SpeakerSink(AudioSettings(), sounddevice_module=sd)
    with pytest.raises(AudioDeviceError, match="cannot open output device 'Phone'"):
        await sink.open()
    assert sd.streams[0].closed


@pytest.mark.asyncio
async def test_speaker_without_portaudio(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sounddevice", None)
    sink = SpeakerSink(AudioSettings())
    with pytest.raises(AudioDeviceError) as caught:
        await sink.open()
    assert str(caught.value) == PORTAUDIO_MISSING


# PlaybackBuffer


def test_buffer_reads_across_chunks() -> None:
    buffer = PlaybackBuffer()
    buffer.append(np.array([1, 2, 3], dtype=np.float32))
    buffer.append(np.array([4, 5], dtype=np.float32))
    out = np.zeros(4, dtype=np.float32)
    assert buffer.read_into(out) == 4
    assert out.tolist() == [1, 2, 3, 4]
    assert buffer.pending_samples == 1


def test_buffer_partial_read_leaves_rest_of_output() -> None:
    buffer = PlaybackBuffer()
    buffer.append(np.array([7], dtype=np.float32))
    out = np.zeros(3, dtype=np.float32)
    assert buffer.read_into(out) == 1
    assert out.tolist() == [7, 0, 0]


def test_buffer_clear_reports_discarded() -> None:
    buffer = PlaybackBuffer()
    buffer.append(np.ones(10, dtype=np.float32))
    assert buffer.clear() == 10
    assert buffer.pending_samples == 0


# WavSink


@pytest.mark.asyncio
async def test_wav_sink_writes_at_first_chunk_rate(tmp_path: Path) -> None:
    path = tmp_path / "reply.wav"
    sink = WavSink(path)
    first = tone(22_050, 1.0)
    second = tone(16_000, 0.5)
    assert sink.mark_turn_start() == 0.0
    await sink.play(first, 22_050)
    offset_s = sink.mark_turn_start()
    await sink.play(second, 16_000)
    await sink.drain()
    await sink.aclose()

    samples, rate_hz = read_wav(path)
    assert rate_hz == 22_050
    assert offset_s == pytest.approx(1.0)
    assert len(samples) == 22_050 + len(resample(second, 16_000, 22_050))
    np.testing.assert_allclose(samples[:22_050, 0], to_float32(to_int16(first)), atol=1e-6)


@pytest.mark.asyncio
async def test_wav_sink_fixed_rate(tmp_path: Path) -> None:
    path = tmp_path / "fixed.wav"
    sink = WavSink(path, sample_rate_hz=16_000)
    await sink.play(tone(48_000, 0.3), 48_000)
    await sink.aclose()
    assert len(load_wav_mono16k(path)) == 4_800


@pytest.mark.asyncio
async def test_wav_sink_keeps_int16_exact(tmp_path: Path) -> None:
    path = tmp_path / "exact.wav"
    sink = WavSink(path)
    samples = np.arange(-100, 100, dtype=np.int16)
    await sink.play(samples, 16_000)
    await sink.aclose()
    assert np.array_equal(load_wav_mono16k(path), samples)


@pytest.mark.asyncio
async def test_wav_sink_closed_before_audio_leaves_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "silent.wav"
    sink = WavSink(path)
    await sink.aclose()
    with wave.open(str(path)) as reader:
        assert reader.getnframes() == 0
        assert reader.getframerate() == 16_000


@pytest.mark.asyncio
async def test_wav_sink_is_never_playing(tmp_path: Path) -> None:
    sink = WavSink(tmp_path / "idle.wav")
    await sink.play(tone(16_000, 0.1), 16_000)
    await sink.stop()
    assert not sink.is_playing()
    await sink.aclose()


@pytest.mark.asyncio
async def test_wav_sink_rejects_play_after_close(tmp_path: Path) -> None:
    sink = WavSink(tmp_path / "done.wav")
    await sink.aclose()
    await sink.aclose()
    with pytest.raises(AudioError, match="closed"):
        await sink.play(tone(16_000, 0.1), 16_000)


# NullSink


@pytest.mark.asyncio
async def test_null_sink_discards() -> None:
    sink = NullSink()
    await sink.play(tone(16_000, 0.1), 16_000)
    await sink.drain()
    await sink.stop()
    assert not sink.is_playing()
    await sink.aclose()


def test_sinks_satisfy_protocol(tmp_path: Path) -> None:
    sinks: list[AudioSink] = [NullSink(), WavSink(tmp_path / "x.wav"), SpeakerSink(AudioSettings())]
    assert len(sinks) == 3
