"""Audio sources: a WAV file or a microphone, both delivering 16 kHz mono 80 ms frames.

The microphone's PortAudio callback runs on a thread PortAudio owns. It only
copies each block, counts status flags and hands the block to the event loop
with ``call_soon_threadsafe``. All conversion, resampling, framing and
logging happen on the loop.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
import structlog

from jarvis.audio.convert import StreamResampler, to_int16, to_mono
from jarvis.audio.devices import load_sounddevice, resolve_device
from jarvis.audio.framing import SAMPLE_RATE_HZ, AudioFrame, Framer
from jarvis.audio.wav import load_wav_mono16k
from jarvis.config import AudioSettings
from jarvis.errors import AudioDeviceError

log = structlog.get_logger(__name__)

DROP_LOG_INTERVAL_S = 5.0


class AudioSource(Protocol):
    """Anything that yields 16 kHz mono frames until it ends or is closed."""

    def frames(self) -> AsyncIterator[AudioFrame]:
        """Yield frames in order; their ``start_s`` counts audio time from the first sample."""
        ...

    async def aclose(self) -> None:
        """Stop producing frames and release the input; calling it again does nothing."""
        ...


class WavFileSource:
    """Frames from a WAV file, followed by ``tail_silence_s`` of silence.

    The tail lets a request that ends at the very end of the file still reach
    its end-of-speech silence. Frames come as fast as the consumer takes them,
    or at the pace of real audio when ``realtime`` is true.
    """

    def __init__(self, path: str | Path, *, realtime: bool = False, tail_silence_s: float = 1.5) -> None:
        if tail_silence_s < 0:
            raise ValueError(f"tail_silence_s must be zero or more, got {tail_silence_s}")
        self.path = Path(path)
        self.realtime = realtime
        self.tail_silence_s = tail_silence_s
        self._samples: npt.NDArray[np.int16] | None = None
        self._closed = False

    @property
    def duration_s(self) -> float | None:
        """Length of the file's audio without the tail silence, in seconds, once loaded."""
        return None if self._samples is None else len(self._samples) / SAMPLE_RATE_HZ

    async def load(self) -> None:
        """Read and convert the file on a worker thread; :meth:`frames` calls it if needed.

        Raises:
            AudioFormatError: the file is missing, unsupported or corrupt.
        """
        await self._loaded_samples()

    async def _loaded_samples(self) -> npt.NDArray[np.int16]:
        if self._samples is None:
            self._samples = await asyncio.to_thread(load_wav_mono16k, self.path)
        return self._samples

    async def frames(self) -> AsyncIterator[AudioFrame]:
        """Yield the file's frames, the tail silence and a zero-padded last frame."""
        samples = await self._loaded_samples()
        tail = np.zeros(round(self.tail_silence_s * SAMPLE_RATE_HZ), dtype=np.int16)
        framer = Framer()
        frames = framer.push(np.concatenate((samples, tail)))
        last = framer.flush(pad=True)
        if last is not None:
            frames.append(last)

        loop = asyncio.get_running_loop()
        started = loop.time()
        for frame in frames:
            if self._closed:
                return
            # A frame is complete once its last sample has been "recorded".
            delay_s = max(0.0, started + frame.end_s - loop.time()) if self.realtime else 0.0
            await asyncio.sleep(delay_s)
            yield frame

    async def aclose(self) -> None:
        """Stop yielding frames; calling it again does nothing."""
        self._closed = True


class MicrophoneSource:
    """Frames from a PortAudio input device.

    The stream runs at 16 kHz when the device supports it, otherwise at the
    device's default rate, with one channel when supported, otherwise all of
    the device's channels. Blocks wait in a queue that buffers up to
    ``settings.input_queue_s`` of audio. When the queue is full the oldest
    block is dropped and counted in :attr:`dropped_blocks`.

    NOTE: frame times count the samples that reached the framer, so after
    dropped blocks ``start_s`` runs behind the device's clock by the
    dropped audio.

    ``sounddevice_module`` replaces the ``sounddevice`` module, for tests.
    """

    def __init__(
        self, settings: AudioSettings, *, loop: asyncio.AbstractEventLoop | None = None, sounddevice_module: Any = None
    ) -> None:
        self._settings = settings
        self._loop = loop
        self._sounddevice_module = sounddevice_module
        self._sd: Any = None
        self._stream: Any = None
        self._queue: asyncio.Queue[npt.NDArray[np.float32] | None] | None = None
        self._open_lock = asyncio.Lock()
        self._closed = False
        self._stream_closed = asyncio.Event()
        self.sample_rate_hz = 0
        self.channels = 0
        self.device_name = ""
        self.dropped_blocks = 0
        self.status_flag_blocks = 0
        self.input_overflows = 0
        self._logged_drops = 0
        self._logged_overflows = 0
        self._last_drop_log_s = -math.inf

    @property
    def queue_capacity_blocks(self) -> int:
        """Number of blocks the queue holds before the oldest is dropped."""
        return max(2, math.ceil(self._settings.input_queue_s * 1000 / self._settings.input_block_ms))

    async def open(self) -> None:
        """Open and start the input stream; calling it again does nothing.

        Raises:
            AudioDeviceError: PortAudio is missing, the device is unknown or
                fails to open, or the source is already closed.
        """
        async with self._open_lock:
            if self._stream is not None:
                return
            if self._closed:
                raise AudioDeviceError("the microphone source is closed; create a new one")
            self._loop = self._loop or asyncio.get_running_loop()
            self._queue = asyncio.Queue(maxsize=self.queue_capacity_blocks)
            stream = await asyncio.to_thread(self._open_stream)
            if self._closed:
                await asyncio.to_thread(self._stop_stream, stream)
                raise AudioDeviceError("the microphone source was closed while its stream was opening")
            self._stream = stream

    def _open_stream(self) -> Any:
        """Find the device, choose its format and start the stream; blocking, so it runs on a worker thread."""
        sd = self._sounddevice_module or load_sounddevice()
        self._sd = sd
        info = resolve_device(sd, self._settings.input_device, "input")
        index = int(info["index"])
        self.device_name = str(info["name"])
        self.sample_rate_hz, self.channels = _choose_input_format(sd, index, info)
        block_samples = max(1, round(self.sample_rate_hz * self._settings.input_block_ms / 1000))
        stream = self._start_stream(sd, index, block_samples)
        log.info(
            "microphone_opened",
            device=self.device_name,
            device_index=index,
            sample_rate_hz=self.sample_rate_hz,
            channels=self.channels,
            block_samples=block_samples,
        )
        return stream

    async def frames(self) -> AsyncIterator[AudioFrame]:
        """Yield 16 kHz mono frames until :meth:`aclose`; closes the stream when iteration ends."""
        await self.open()
        queue = self._queue
        if queue is None:
            raise AudioDeviceError("the microphone stream did not open")
        resampler = StreamResampler(self.sample_rate_hz, SAMPLE_RATE_HZ, np.float32)
        framer = Framer()
        try:
            while True:
                block = await queue.get()
                if block is None:
                    return
                mono = np.ascontiguousarray(to_mono(block))
                for frame in framer.push(to_int16(resampler.process(mono))):
                    yield frame
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        """Stop and close the stream and end :meth:`frames`.

        A second call waits until the first has closed the stream.
        """
        if self._closed:
            await self._stream_closed.wait()
            return
        self._closed = True
        stream, self._stream = self._stream, None
        if self._queue is not None:
            _put_dropping_oldest(self._queue, None)
        try:
            if stream is not None:
                await asyncio.to_thread(self._stop_stream, stream)
                log.info("microphone_closed", device=self.device_name, dropped_blocks=self.dropped_blocks)
        finally:
            self._stream_closed.set()

    def _start_stream(self, sd: Any, index: int, block_samples: int) -> Any:
        stream = None
        try:
            stream = sd.InputStream(
                device=index,
                samplerate=self.sample_rate_hz,
                channels=self.channels,
                dtype="float32",
                blocksize=block_samples,
                callback=self._on_block,
            )
            stream.start()
        except sd.PortAudioError as err:
            if stream is not None:
                stream.close()
            raise AudioDeviceError(
                f"cannot open input device {self.device_name!r} at {self.sample_rate_hz} Hz: {err}; "
                "check that no other program holds it, or pick another with audio.input_device"
            ) from err
        return stream

    def _stop_stream(self, stream: Any) -> None:
        # abort(), not stop(): an input stream has no output left to play, and stop() on ALSA's
        # pulse plugin (PortAudio 19.6) blocks for one to two seconds before it returns.
        try:
            stream.abort()
        except self._sd.PortAudioError as err:
            log.warning("microphone_stop_failed", device=self.device_name, error=str(err))
        finally:
            stream.close()

    def _on_block(self, indata: npt.NDArray[np.float32], frames: int, time_info: Any, status: Any) -> None:
        """Copy one block and pass it to the loop; runs on PortAudio's thread, so it waits for nothing."""
        if status:
            self.status_flag_blocks += 1
            if getattr(status, "input_overflow", False):
                self.input_overflows += 1
        block = indata.copy()
        loop = self._loop
        if loop is None:
            return
        try:
            loop.call_soon_threadsafe(self._enqueue, block)
        except RuntimeError:
            # The loop is closed: the source is shutting down and the block has nowhere to go.
            return

    def _enqueue(self, block: npt.NDArray[np.float32]) -> None:
        if self._closed or self._queue is None:
            return
        if _put_dropping_oldest(self._queue, block):
            self.dropped_blocks += 1
        self._log_losses()

    def _log_losses(self) -> None:
        """Log new drops and overflows at most once per ``DROP_LOG_INTERVAL_S``."""
        if self.dropped_blocks == self._logged_drops and self.input_overflows == self._logged_overflows:
            return
        now_s = time.monotonic()
        if now_s - self._last_drop_log_s < DROP_LOG_INTERVAL_S:
            return
        log.warning(
            "microphone_audio_lost",
            device=self.device_name,
            dropped_blocks=self.dropped_blocks - self._logged_drops,
            input_overflows=self.input_overflows - self._logged_overflows,
            dropped_blocks_total=self.dropped_blocks,
            input_overflows_total=self.input_overflows,
        )
        self._logged_drops = self.dropped_blocks
        self._logged_overflows = self.input_overflows
        self._last_drop_log_s = now_s


def _put_dropping_oldest(
    queue: asyncio.Queue[npt.NDArray[np.float32] | None], item: npt.NDArray[np.float32] | None
) -> bool:
    """Put ``item``, first removing the oldest entry when the queue is full; return whether one was removed."""
    dropped = False
    if queue.full():
        queue.get_nowait()
        dropped = True
    queue.put_nowait(item)
    return dropped


def _choose_input_format(sd: Any, index: int, info: dict[str, Any]) -> tuple[int, int]:
    """Return ``(sample_rate_hz, channels)``: 16 kHz and mono when the device supports them."""
    default_rate_hz = round(float(info["default_samplerate"]))
    channels = 1 if _input_supported(sd, index, 1, default_rate_hz) else int(info["max_input_channels"])
    rate_hz = SAMPLE_RATE_HZ if _input_supported(sd, index, channels, SAMPLE_RATE_HZ) else default_rate_hz
    return rate_hz, channels


def _input_supported(sd: Any, index: int, channels: int, rate_hz: int) -> bool:
    try:
        sd.check_input_settings(device=index, channels=channels, dtype="float32", samplerate=rate_hz)
    except (ValueError, sd.PortAudioError):
        return False
    return True
