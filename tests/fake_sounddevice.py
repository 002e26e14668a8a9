"""A small stand-in for the ``sounddevice`` module, for tests without sound hardware.

It models the parts the audio package uses: device queries with PortAudio's
substring matching, the default device pair, format checks and streams
whose callbacks the test drives by hand, from any thread.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np


class FakePortAudioError(Exception):
    """Stands in for ``sounddevice.PortAudioError``."""


@dataclass
class FakeCallbackFlags:
    input_overflow: bool = False
    output_underflow: bool = False

    def __bool__(self) -> bool:
        return self.input_overflow or self.output_underflow


@dataclass
class FakeDevice:
    name: str
    max_input_channels: int
    max_output_channels: int
    default_samplerate: float
    supported_rates_hz: set[int] = field(default_factory=set)
    supports_mono: bool = True


class FakeDefault:
    def __init__(self, input_index: int, output_index: int) -> None:
        self.device = [input_index, output_index]


class FakeStream:
    def __init__(
        self,
        owner: FakeSoundDevice,
        *,
        device: int,
        samplerate: float,
        channels: int,
        dtype: str,
        callback: Any,
        blocksize: int = 0,
    ) -> None:
        self.device = device
        self.samplerate = samplerate
        self.channels = channels
        self.dtype = dtype
        self.callback = callback
        self.blocksize = blocksize
        self.started = False
        self.stopped = False
        self.closed = False
        self._owner = owner
        owner.streams.append(self)

    def start(self) -> None:
        if self._owner.fail_start:
            raise FakePortAudioError("Device unavailable [PaErrorCode -9985]")
        self.started = True

    def stop(self) -> None:
        if self._owner.stop_gate is not None:
            self._owner.stop_gate.wait(timeout=10)
        self.stopped = True

    def abort(self) -> None:
        """Stop without waiting for pending buffers; the fake holds none, so it is :meth:`stop`."""
        self.stop()

    def close(self) -> None:
        self.closed = True


class FakeInputStream(FakeStream):
    def feed(self, block: np.ndarray, status: FakeCallbackFlags | None = None) -> None:
        """Deliver one block of shape (frames, channels) the way PortAudio's thread would."""
        self.callback(block, len(block), None, status or FakeCallbackFlags())


class FakeOutputStream(FakeStream):
    def pull(self, frames: int, status: FakeCallbackFlags | None = None) -> np.ndarray:
        """Ask the callback for one block, as PortAudio's thread would, and return it."""
        out = np.full((frames, self.channels), np.nan, dtype=np.float32)
        self.callback(out, frames, None, status or FakeCallbackFlags())
        return out


class FakeSoundDevice:
    """The subset of the ``sounddevice`` module API the audio package calls."""

    PortAudioError = FakePortAudioError

    def __init__(self, devices: list[FakeDevice], *, default_input: int = 0, default_output: int = 0) -> None:
        self.devices = devices
        self.default = FakeDefault(default_input, default_output)
        self.streams: list[FakeStream] = []
        self.fail_start = False
        # When set, stop() waits for this event, like a device that takes time to stop.
        self.stop_gate: threading.Event | None = None

    def query_devices(self, device: int | str | None = None, kind: str | None = None) -> Any:
        if device is None and kind is None:
            return [self._describe(index) for index in range(len(self.devices))]
        index = self._find(device, kind)
        described = self._describe(index)
        if kind and described[f"max_{kind}_channels"] < 1:
            raise ValueError(f"Not an {kind} device: {described['name']!r}")
        return described

    def check_input_settings(self, device: int, channels: int, dtype: str, samplerate: float) -> None:
        self._check(self.devices[device].max_input_channels, device, channels, samplerate)

    def check_output_settings(self, device: int, channels: int, dtype: str, samplerate: float) -> None:
        self._check(self.devices[device].max_output_channels, device, channels, samplerate)

    def InputStream(self, **kwargs: Any) -> FakeInputStream:
        return FakeInputStream(self, **kwargs)

    def OutputStream(self, **kwargs: Any) -> FakeOutputStream:
        return FakeOutputStream(self, **kwargs)

    def _check(self, max_channels: int, device: int, channels: int, samplerate: float) -> None:
        spec = self.devices[device]
        if channels > max_channels or (channels == 1 and not spec.supports_mono):
            raise FakePortAudioError("Invalid number of channels [PaErrorCode -9998]")
        if round(samplerate) != round(spec.default_samplerate) and round(samplerate) not in spec.supported_rates_hz:
            raise FakePortAudioError("Invalid sample rate [PaErrorCode -9997]")

    def _find(self, device: int | str | None, kind: str | None) -> int:
        if device is None:
            index = self.default.device[0 if kind == "input" else 1]
            if index < 0:
                raise FakePortAudioError("Error querying device -1")
            return index
        if isinstance(device, int):
            if not 0 <= device < len(self.devices):
                raise FakePortAudioError(f"Error querying device {device}")
            return device
        matches = [
            index
            for index, spec in enumerate(self.devices)
            if device.lower() in spec.name.lower() and (kind is None or getattr(spec, f"max_{kind}_channels") > 0)
        ]
        if not matches:
            raise ValueError(f"No {kind} device matching {device!r}")
        if len(matches) > 1:
            raise ValueError(f"Multiple {kind} devices found for {device!r}")
        return matches[0]

    def _describe(self, index: int) -> dict[str, Any]:
        spec = self.devices[index]
        return {
            "name": spec.name,
            "index": index,
            "hostapi": 0,
            "max_input_channels": spec.max_input_channels,
            "max_output_channels": spec.max_output_channels,
            "default_samplerate": spec.default_samplerate,
        }
