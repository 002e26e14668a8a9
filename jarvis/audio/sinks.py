"""Audio sinks: the speaker, a WAV file, or nowhere.

Every sink takes float or int16 mono (or multi-channel, which is averaged)
chunks at any rate through :meth:`AudioSink.play`, which queues the chunk
and returns without waiting for it to be heard.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
import structlog

from jarvis.audio.convert import resample, to_float32, to_int16, to_mono
from jarvis.audio.devices import load_sounddevice, resolve_device
from jarvis.audio.framing import SAMPLE_RATE_HZ
from jarvis.audio.wav import WavWriter
from jarvis.config import AudioSettings
from jarvis.errors import AudioDeviceError, AudioError

log = structlog.get_logger(__name__)


class AudioSink(Protocol):
    """Destination of synthesised speech."""

    async def play(self, samples: npt.NDArray[Any], sample_rate_hz: int) -> None:
        """Queue ``samples`` for output and return without waiting for them to be heard."""
        ...

    async def drain(self) -> None:
        """Wait until everything queued has been played or written."""
        ...

    def is_playing(self) -> bool:
        """Return whether queued audio is still waiting to be heard."""
        ...

    async def stop(self) -> None:
        """Discard queued audio at once, for barge-in and "stop"."""
        ...

    async def aclose(self) -> None:
        """Release the output; calling it again does nothing."""
        ...


class NullSink:
    """A sink that discards everything, for commands that print instead of speak."""

    async def play(self, samples: npt.NDArray[Any], sample_rate_hz: int) -> None:
        """Discard ``samples``."""

    async def drain(self) -> None:
        """Return at once: nothing is ever pending."""

    def is_playing(self) -> bool:
        """Return false: nothing is ever pending."""
        return False

    async def stop(self) -> None:
        """Do nothing: nothing is ever pending."""

    async def aclose(self) -> None:
        """Do nothing: there is nothing to release."""


class WavSink:
    """Write everything played into one 16-bit mono WAV file.

    The file's rate is ``sample_rate_hz`` when given, otherwise the rate of
    the first chunk; chunks at other rates are resampled. Writing finishes
    inside :meth:`play`, so nothing is ever pending. A sink closed before any
    chunk leaves a valid WAV file with no samples.
    """

    def __init__(self, path: str | Path, *, sample_rate_hz: int | None = None) -> None:
        self.path = Path(path)
        self._fixed_rate_hz = sample_rate_hz
        self._writer: WavWriter | None = None
        self._samples_written = 0
        self._lock = asyncio.Lock()
        self._closed = False

    @property
    def sample_rate_hz(self) -> int | None:
        """The file's rate, once known."""
        return self._writer.sample_rate_hz if self._writer is not None else self._fixed_rate_hz

    def mark_turn_start(self) -> float:
        """Return the current end of the file in seconds, where the next chunk will start."""
        rate_hz = self.sample_rate_hz
        return 0.0 if not rate_hz else self._samples_written / rate_hz

    async def play(self, samples: npt.NDArray[Any], sample_rate_hz: int) -> None:
        """Append ``samples`` to the file, resampled to the file's rate when needed."""
        async with self._lock:
            if self._closed:
                raise AudioError(f"cannot write to {self.path}: the WAV sink is closed")
            writer = self._writer
            if writer is None:
                writer = await asyncio.to_thread(WavWriter, self.path, self._fixed_rate_hz or sample_rate_hz)
                self._writer = writer
            block = await asyncio.to_thread(_to_rate_int16, samples, sample_rate_hz, writer.sample_rate_hz)
            self._samples_written += len(block)
            await asyncio.to_thread(writer.write, block)

    async def drain(self) -> None:
        """Wait for a write in progress; every finished :meth:`play` is already in the file."""
        async with self._lock:
            return

    def is_playing(self) -> bool:
        """Return false: writes finish inside :meth:`play`."""
        return False

    async def stop(self) -> None:
        """Do nothing: audio already given is in the file."""

    async def aclose(self) -> None:
        """Fix the header and close the file; calling it again does nothing."""
        async with self._lock:
            if self._closed:
                return
            self._closed = True
            writer = self._writer
            if writer is None:
                writer = await asyncio.to_thread(WavWriter, self.path, self._fixed_rate_hz or SAMPLE_RATE_HZ)
            await asyncio.to_thread(writer.close)


class PlaybackBuffer:
    """Thread-safe queue of float32 mono samples between the loop and the output callback.

    Both sides hold the lock only to move samples, never while waiting.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._chunks: deque[npt.NDArray[np.float32]] = deque()
        self._offset = 0
        self._pending = 0

    @property
    def pending_samples(self) -> int:
        """Number of samples not yet read."""
        with self._lock:
            return self._pending

    def append(self, samples: npt.NDArray[np.float32]) -> None:
        """Queue samples after those already waiting."""
        if not len(samples):
            return
        with self._lock:
            self._chunks.append(samples)
            self._pending += len(samples)

    def read_into(self, out: npt.NDArray[np.float32]) -> int:
        """Copy up to ``len(out)`` samples into ``out`` and return how many were copied."""
        copied = 0
        with self._lock:
            while copied < len(out) and self._chunks:
                chunk = self._chunks[0]
                count = min(len(out) - copied, len(chunk) - self._offset)
                out[copied : copied + count] = chunk[self._offset : self._offset + count]
                copied += count
                self._offset += count
                if self._offset == len(chunk):
                    self._chunks.popleft()
                    self._offset = 0
            self._pending -= copied
        return copied

    def clear(self) -> int:
        """Discard every waiting sample and return how many there were."""
        with self._lock:
            discarded = self._pending
            self._chunks.clear()
            self._offset = 0
            self._pending = 0
        return discarded


class SpeakerSink:
    """Play through a PortAudio output device.

    The stream opens on the first :meth:`play` (or :meth:`open`) at the
    device's default rate and stays open, playing silence while nothing is
    queued. Chunks are resampled to the device rate one at a time.

    NOTE: :meth:`drain` resolves when the last sample has been handed to
    PortAudio. The device's output latency (often tens of milliseconds) is
    still to be heard at that moment.

    ``sounddevice_module`` replaces the ``sounddevice`` module, for tests.
    """

    def __init__(self, settings: AudioSettings, *, sounddevice_module: Any = None) -> None:
        self._settings = settings
        self._sounddevice_module = sounddevice_module
        self._sd: Any = None
        self._stream: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._buffer = PlaybackBuffer()
        self._drained = asyncio.Event()
        self._drained.set()
        self._play_lock = asyncio.Lock()
        self._open_lock = asyncio.Lock()
        self._closed = False
        self._stream_closed = asyncio.Event()
        # Whether speech handed to the device should still play out when the sink closes.
        self._finish_on_close = False
        self.sample_rate_hz = 0
        self.channels = 0
        self.device_name = ""
        self.output_underflows = 0

    async def open(self) -> None:
        """Open and start the output stream; calling it again does nothing.

        Raises:
            AudioDeviceError: PortAudio is missing, the device is unknown or
                fails to open, or the sink is closed.
        """
        async with self._open_lock:
            if self._stream is not None:
                return
            if self._closed:
                raise AudioDeviceError("the speaker sink is closed; create a new one")
            await self._open_stream()

    async def _open_stream(self) -> None:
        self._loop = asyncio.get_running_loop()
        stream = await asyncio.to_thread(self._open_device)
        if self._closed:
            await asyncio.to_thread(self._stop_stream, stream)
            raise AudioDeviceError("the speaker sink was closed while its stream was opening")
        self._stream = stream

    def _open_device(self) -> Any:
        """Find the device, choose its format and start the stream; blocking, so it runs on a worker thread."""
        sd = self._sounddevice_module or load_sounddevice()
        self._sd = sd
        info = resolve_device(sd, self._settings.output_device, "output")
        index = int(info["index"])
        self.device_name = str(info["name"])
        self.sample_rate_hz = round(float(info["default_samplerate"]))
        self.channels = 1 if _output_supported(sd, index, 1, self.sample_rate_hz) else int(info["max_output_channels"])
        stream = self._start_stream(sd, index)
        log.info(
            "speaker_opened",
            device=self.device_name,
            device_index=index,
            sample_rate_hz=self.sample_rate_hz,
            channels=self.channels,
        )
        return stream

    async def play(self, samples: npt.NDArray[Any], sample_rate_hz: int) -> None:
        """Resample ``samples`` to the device rate and queue them behind earlier chunks."""
        async with self._play_lock:
            await self.open()
            block = await asyncio.to_thread(_to_rate_float32, samples, sample_rate_hz, self.sample_rate_hz)
            if not len(block):
                return
            self._drained.clear()
            self._buffer.append(block)
            self._finish_on_close = True

    async def drain(self) -> None:
        """Wait until every queued sample has been handed to the device, or :meth:`stop` ran."""
        await self._drained.wait()

    def is_playing(self) -> bool:
        """Return whether queued samples are still waiting for the device."""
        return self._buffer.pending_samples > 0

    async def stop(self) -> None:
        """Discard every queued sample; the device falls silent within one block."""
        discarded = self._buffer.clear()
        self._finish_on_close = False
        self._drained.set()
        if discarded:
            log.info("speaker_stopped", discarded_s=round(discarded / max(self.sample_rate_hz, 1), 3))

    async def aclose(self) -> None:
        """Stop and close the stream, discarding queued audio.

        Audio already handed to the device plays out first, unless :meth:`stop`
        ran after the last :meth:`play`. A second call waits until the first
        has closed the stream.
        """
        if self._closed:
            await self._stream_closed.wait()
            return
        self._closed = True
        self._buffer.clear()
        self._drained.set()
        stream, self._stream = self._stream, None
        try:
            if stream is not None:
                await asyncio.to_thread(self._stop_stream, stream, self._finish_on_close)
                log.info("speaker_closed", device=self.device_name, output_underflows=self.output_underflows)
        finally:
            self._stream_closed.set()

    def _start_stream(self, sd: Any, index: int) -> Any:
        stream = None
        try:
            stream = sd.OutputStream(
                device=index,
                samplerate=self.sample_rate_hz,
                channels=self.channels,
                dtype="float32",
                callback=self._on_block,
            )
            stream.start()
        except sd.PortAudioError as err:
            if stream is not None:
                stream.close()
            raise AudioDeviceError(
                f"cannot open output device {self.device_name!r} at {self.sample_rate_hz} Hz: {err}; "
                "check that no other program holds it, or pick another with audio.output_device"
            ) from err
        return stream

    def _stop_stream(self, stream: Any, finish: bool = False) -> None:
        # stop() waits until the device has played what it holds; through PulseAudio that took up to
        # 1.6 s right after the stream started. abort() returns at once and drops it.
        try:
            if finish:
                stream.stop()
            else:
                stream.abort()
        except self._sd.PortAudioError as err:
            log.warning("speaker_stop_failed", device=self.device_name, error=str(err))
        finally:
            stream.close()

    def _on_block(self, outdata: npt.NDArray[np.float32], frames: int, time_info: Any, status: Any) -> None:
        """Fill one output block from the buffer, silence after it; runs on PortAudio's thread."""
        if status and getattr(status, "output_underflow", False):
            self.output_underflows += 1
        mono = np.zeros(frames, dtype=np.float32)
        copied = self._buffer.read_into(mono)
        outdata[:] = mono[:, np.newaxis]
        if copied and self._buffer.pending_samples == 0 and self._loop is not None:
            try:
                self._loop.call_soon_threadsafe(self._on_buffer_empty)
            except RuntimeError:
                # A closed loop has no drain() left to wake.
                return

    def _on_buffer_empty(self) -> None:
        # A chunk queued after the callback saw the buffer empty must keep drain() waiting.
        if self._buffer.pending_samples == 0:
            self._drained.set()


def _to_rate_float32(samples: npt.NDArray[Any], from_hz: int, to_hz: int) -> npt.NDArray[np.float32]:
    mono = np.ascontiguousarray(to_float32(to_mono(np.asarray(samples))))
    return to_float32(resample(mono, from_hz, to_hz))


def _to_rate_int16(samples: npt.NDArray[Any], from_hz: int, to_hz: int) -> npt.NDArray[np.int16]:
    if from_hz == to_hz:
        return to_int16(to_mono(np.asarray(samples)))
    return to_int16(_to_rate_float32(samples, from_hz, to_hz))


def _output_supported(sd: Any, index: int, channels: int, rate_hz: int) -> bool:
    try:
        sd.check_output_settings(device=index, channels=channels, dtype="float32", samplerate=rate_hz)
    except (ValueError, sd.PortAudioError):
        return False
    return True
