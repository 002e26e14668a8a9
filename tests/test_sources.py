"""WAV file and microphone sources, the microphone driven through a fake PortAudio."""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest
from fake_sounddevice import FakeCallbackFlags, FakeDevice, FakeInputStream, FakeSoundDevice
from structlog.testing import capture_logs

from jarvis.audio import FRAME_SAMPLES, AudioFrame
from jarvis.audio.convert import resample, to_int16
from jarvis.audio.devices import PORTAUDIO_MISSING
from jarvis.audio.sources import AudioSource, MicrophoneSource, WavFileSource
from jarvis.audio.wav import write_wav
from jarvis.config import AudioSettings
from jarvis.errors import AudioDeviceError, AudioFormatError

TIMEOUT_S = 10.0


async def collect(frames: AsyncIterator[AudioFrame]) -> list[AudioFrame]:
    return [frame async for frame in frames]


def ramp(count: int) -> np.ndarray:
    return ((np.arange(count) * 37) % 20_000 - 10_000).astype(np.int16)


# WavFileSource


@pytest.mark.asyncio
async def test_wav_source_frames_file_then_tail(tmp_path: Path) -> None:
    path = tmp_path / "one_second.wav"
    samples = ramp(16_000)
    write_wav(path, samples, 16_000)
    frames = await collect(WavFileSource(path, tail_silence_s=1.5).frames())

    # 1.0 s of audio plus 1.5 s of silence is 31.25 frames, so the last one is padded.
    assert len(frames) == 32
    assert all(len(frame.samples) == FRAME_SAMPLES for frame in frames)
    assert [frame.start_s for frame in frames] == [i * FRAME_SAMPLES / 16_000 for i in range(32)]
    joined = np.concatenate([frame.samples for frame in frames])
    assert np.array_equal(joined[:16_000], samples)
    assert not joined[16_000:].any()


@pytest.mark.asyncio
async def test_wav_source_without_tail(tmp_path: Path) -> None:
    path = tmp_path / "exact.wav"
    write_wav(path, ramp(FRAME_SAMPLES * 3), 16_000)
    frames = await collect(WavFileSource(path, tail_silence_s=0).frames())
    assert len(frames) == 3


@pytest.mark.asyncio
async def test_wav_source_converts_rate_and_channels(tmp_path: Path) -> None:
    path = tmp_path / "stereo44k.wav"
    t = np.arange(44_100 * 2) / 44_100
    stereo = np.stack([0.3 * np.sin(2 * np.pi * 440 * t)] * 2, axis=1)
    write_wav(path, to_int16(stereo), 44_100)
    source = WavFileSource(path, tail_silence_s=0.0)
    frames = await collect(source.frames())
    assert source.duration_s == pytest.approx(2.0)
    assert len(frames) == 25


@pytest.mark.asyncio
async def test_wav_source_realtime_yields_same_frames(tmp_path: Path) -> None:
    path = tmp_path / "short.wav"
    write_wav(path, ramp(FRAME_SAMPLES * 2), 16_000)
    fast = await collect(WavFileSource(path, tail_silence_s=0).frames())
    paced = await collect(WavFileSource(path, realtime=True, tail_silence_s=0).frames())
    assert len(paced) == len(fast)
    assert all(np.array_equal(a.samples, b.samples) for a, b in zip(paced, fast, strict=True))


@pytest.mark.asyncio
async def test_wav_source_stops_after_aclose(tmp_path: Path) -> None:
    path = tmp_path / "long.wav"
    write_wav(path, ramp(16_000 * 3), 16_000)
    source = WavFileSource(path)
    received = []
    async for frame in source.frames():
        received.append(frame)
        if len(received) == 2:
            await source.aclose()
    assert len(received) == 2


@pytest.mark.asyncio
async def test_wav_source_missing_file(tmp_path: Path) -> None:
    source = WavFileSource(tmp_path / "nothing.wav")
    with pytest.raises(AudioFormatError, match="not found"):
        await collect(source.frames())


@pytest.mark.asyncio
async def test_wav_source_load_reports_bad_file_early(tmp_path: Path) -> None:
    path = tmp_path / "text.wav"
    path.write_text("not audio")
    source = WavFileSource(path)
    with pytest.raises(AudioFormatError, match="not a WAV file"):
        await source.load()
    assert source.duration_s is None


def test_wav_source_rejects_negative_tail(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="tail_silence_s"):
        WavFileSource(tmp_path / "x.wav", tail_silence_s=-1)


def test_sources_satisfy_protocol() -> None:
    sources: list[AudioSource] = [WavFileSource("x.wav"), MicrophoneSource(AudioSettings())]
    assert len(sources) == 2


# MicrophoneSource


def cd_quality_device() -> FakeSoundDevice:
    """A 44.1 kHz device that accepts neither mono nor 16 kHz."""
    return FakeSoundDevice([FakeDevice("USB Mic", 2, 0, 44_100.0, supports_mono=False)])


def wideband_device() -> FakeSoundDevice:
    """A 48 kHz device that also accepts 16 kHz mono."""
    return FakeSoundDevice(
        [FakeDevice("HDMI Out", 0, 2, 48_000.0), FakeDevice("Headset Mic", 1, 0, 48_000.0, {16_000})], default_input=1
    )


def open_stream(sd: FakeSoundDevice) -> FakeInputStream:
    stream = sd.streams[-1]
    assert isinstance(stream, FakeInputStream)
    return stream


async def feed_from_thread(
    stream: FakeInputStream, blocks: list[np.ndarray], statuses: list[FakeCallbackFlags] | None = None
) -> None:
    """Call the stream callback with each block from another thread, as PortAudio does."""

    def run() -> None:
        for index, block in enumerate(blocks):
            stream.feed(block, statuses[index] if statuses else None)

    worker = threading.Thread(target=run)
    worker.start()
    await asyncio.to_thread(worker.join, TIMEOUT_S)


def random_blocks(signal: np.ndarray, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    blocks, position = [], 0
    while position < len(signal):
        size = int(rng.integers(1, 3_000))
        blocks.append(signal[position : position + size])
        position += size
    return blocks


@pytest.mark.asyncio
async def test_microphone_prefers_16k_mono() -> None:
    sd = wideband_device()
    source = MicrophoneSource(AudioSettings(), sounddevice_module=sd)
    await source.open()
    stream = open_stream(sd)
    assert stream.samplerate == 16_000
    assert stream.channels == 1
    assert stream.device == 1
    assert stream.blocksize == 640
    await source.aclose()


@pytest.mark.asyncio
async def test_microphone_falls_back_to_device_format() -> None:
    sd = cd_quality_device()
    source = MicrophoneSource(AudioSettings(input_block_ms=20), sounddevice_module=sd)
    await source.open()
    stream = open_stream(sd)
    assert stream.samplerate == 44_100
    assert stream.channels == 2
    assert stream.blocksize == 882
    assert stream.started
    await source.aclose()


@pytest.mark.asyncio
async def test_microphone_44k_stereo_loses_no_samples() -> None:
    sd = cd_quality_device()
    settings = AudioSettings(input_block_ms=5, input_queue_s=60)
    source = MicrophoneSource(settings, sounddevice_module=sd)
    t = np.arange(44_100 * 3) / 44_100
    left = 0.4 * np.sin(2 * np.pi * 300 * t)
    right = 0.2 * np.sin(2 * np.pi * 300 * t)
    stereo = np.stack([left, right], axis=1).astype(np.float32)

    await source.open()
    consumer = asyncio.create_task(collect(source.frames()))
    await feed_from_thread(open_stream(sd), random_blocks(stereo, seed=3))
    await source.aclose()
    frames = await asyncio.wait_for(consumer, TIMEOUT_S)

    expected = to_int16(resample(((left + right) / 2).astype(np.float32), 44_100, 16_000))
    joined = np.concatenate([frame.samples for frame in frames])
    assert source.dropped_blocks == 0
    # Only the resampler's delay and the last partial frame may still be held back.
    assert len(joined) >= len(expected) - 2 * FRAME_SAMPLES
    assert np.abs(joined.astype(np.int32) - expected[: len(joined)]).max() <= 1
    assert [frame.start_s for frame in frames] == [i * FRAME_SAMPLES / 16_000 for i in range(len(frames))]


@pytest.mark.asyncio
async def test_microphone_16k_blocks_pass_through_exactly() -> None:
    sd = wideband_device()
    source = MicrophoneSource(AudioSettings(input_queue_s=60, input_block_ms=5), sounddevice_module=sd)
    signal = ramp(FRAME_SAMPLES * 10)
    await source.open()
    consumer = asyncio.create_task(collect(source.frames()))
    blocks = [(block.astype(np.float32) / 32768)[:, np.newaxis] for block in random_blocks(signal, seed=11)]
    await feed_from_thread(open_stream(sd), blocks)
    await source.aclose()
    frames = await asyncio.wait_for(consumer, TIMEOUT_S)
    assert np.array_equal(np.concatenate([frame.samples for frame in frames]), signal)


@pytest.mark.asyncio
async def test_microphone_overflow_drops_oldest_blocks() -> None:
    sd = wideband_device()
    # 10 ms of queue in 5 ms blocks holds two blocks.
    source = MicrophoneSource(AudioSettings(input_queue_s=0.01, input_block_ms=5), sounddevice_module=sd)
    assert source.queue_capacity_blocks == 2
    await source.open()
    blocks = [np.full((FRAME_SAMPLES, 1), value / 100, dtype=np.float32) for value in range(1, 6)]
    with capture_logs() as logs:
        await feed_from_thread(open_stream(sd), blocks)

    frames = source.frames()
    first = await asyncio.wait_for(anext(frames), TIMEOUT_S)
    second = await asyncio.wait_for(anext(frames), TIMEOUT_S)
    await frames.aclose()

    assert source.dropped_blocks == 3
    assert first.samples[0] == to_int16(np.array([0.04], dtype=np.float32))[0]
    assert second.samples[0] == to_int16(np.array([0.05], dtype=np.float32))[0]
    lost = [entry for entry in logs if entry["event"] == "microphone_audio_lost"]
    assert len(lost) == 1
    assert lost[0]["log_level"] == "warning"


@pytest.mark.asyncio
async def test_microphone_counts_input_overflow_flags() -> None:
    sd = wideband_device()
    source = MicrophoneSource(AudioSettings(), sounddevice_module=sd)
    await source.open()
    block = np.zeros((160, 1), dtype=np.float32)
    statuses = [FakeCallbackFlags(), FakeCallbackFlags(input_overflow=True), FakeCallbackFlags(input_overflow=True)]
    await feed_from_thread(open_stream(sd), [block] * 3, statuses)
    assert source.input_overflows == 2
    assert source.status_flag_blocks == 2
    await source.aclose()


@pytest.mark.asyncio
async def test_microphone_aclose_stops_and_closes_stream() -> None:
    sd = wideband_device()
    source = MicrophoneSource(AudioSettings(), sounddevice_module=sd)
    await source.open()
    stream = open_stream(sd)
    await source.aclose()
    await source.aclose()
    assert stream.stopped
    assert stream.closed


@pytest.mark.asyncio
async def test_microphone_second_aclose_waits_for_first() -> None:
    sd = wideband_device()
    sd.stop_gate = threading.Event()
    source = MicrophoneSource(AudioSettings(), sounddevice_module=sd)
    await source.open()
    stream = open_stream(sd)
    first = asyncio.ensure_future(source.aclose())
    second = asyncio.ensure_future(source.aclose())
    await asyncio.sleep(0)
    assert not second.done()
    sd.stop_gate.set()
    await asyncio.wait_for(asyncio.gather(first, second), TIMEOUT_S)
    assert stream.closed


@pytest.mark.asyncio
async def test_microphone_ending_iteration_closes_stream() -> None:
    sd = wideband_device()
    source = MicrophoneSource(AudioSettings(input_block_ms=80), sounddevice_module=sd)
    await source.open()
    stream = open_stream(sd)
    frames = source.frames()
    pending = asyncio.ensure_future(anext(frames))
    await feed_from_thread(stream, [np.zeros((FRAME_SAMPLES, 1), dtype=np.float32)])
    await asyncio.wait_for(pending, TIMEOUT_S)
    await frames.aclose()
    assert stream.closed


@pytest.mark.asyncio
async def test_microphone_block_after_close_is_ignored() -> None:
    sd = wideband_device()
    source = MicrophoneSource(AudioSettings(), sounddevice_module=sd)
    await source.open()
    stream = open_stream(sd)
    await source.aclose()
    await feed_from_thread(stream, [np.zeros((160, 1), dtype=np.float32)])
    assert source.dropped_blocks == 0


@pytest.mark.asyncio
async def test_microphone_reopen_after_close_fails() -> None:
    source = MicrophoneSource(AudioSettings(), sounddevice_module=wideband_device())
    await source.aclose()
    with pytest.raises(AudioDeviceError, match="closed"):
        await source.open()


@pytest.mark.asyncio
async def test_microphone_unknown_device_name() -> None:
    source = MicrophoneSource(AudioSettings(input_device="Studio Pro"), sounddevice_module=wideband_device())
    with pytest.raises(AudioDeviceError) as caught:
        await source.open()
    assert "'Studio Pro'" in str(caught.value)
    assert "jarvis devices" in str(caught.value)


@pytest.mark.asyncio
async def test_microphone_device_chosen_by_name() -> None:
    sd = wideband_device()
    source = MicrophoneSource(AudioSettings(input_device="headset"), sounddevice_module=sd)
    await source.open()
    assert open_stream(sd).device == 1
    await source.aclose()


@pytest.mark.asyncio
async def test_microphone_output_only_device_rejected() -> None:
    source = MicrophoneSource(AudioSettings(input_device=0), sounddevice_module=wideband_device())
    with pytest.raises(AudioDeviceError, match="Not an input device"):
        await source.open()


@pytest.mark.asyncio
async def test_microphone_index_out_of_range() -> None:
    source = MicrophoneSource(AudioSettings(input_device=9), sounddevice_module=wideband_device())
    with pytest.raises(AudioDeviceError, match="jarvis devices"):
        await source.open()


@pytest.mark.asyncio
async def test_microphone_start_failure_closes_stream() -> None:
    sd = wideband_device()
    sd.fail_start = True
    source = MicrophoneSource(AudioSettings(), sounddevice_module=sd)
    with pytest.raises(AudioDeviceError, match="cannot open input device 'Headset Mic'"):
        await source.open()
    assert sd.streams[0].closed


@pytest.mark.asyncio
async def test_microphone_without_portaudio(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sounddevice", None)
    source = MicrophoneSource(AudioSettings())
    with pytest.raises(AudioDeviceError) as caught:
        await source.open()
    assert str(caught.value) == PORTAUDIO_MISSING
