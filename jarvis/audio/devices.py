"""Sound devices through PortAudio (the ``sounddevice`` package).

``sounddevice`` is imported only inside functions: on a machine without the
PortAudio library, ``import sounddevice`` raises ``OSError``, and every
command that reads or writes WAV files must still work there.

Functions that talk to PortAudio take an optional ``sounddevice_module``.
It is the real module by default; tests pass a small fake object with the
same attributes (``query_devices``, ``default``, ``check_input_settings``,
``check_output_settings``, ``InputStream``, ``OutputStream``,
``PortAudioError``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from jarvis.errors import AudioDeviceError

PORTAUDIO_MISSING = (
    "PortAudio library not found: install it (Debian/Ubuntu: sudo apt-get install libportaudio2; "
    "macOS: brew install portaudio) or use --input FILE.wav"
)
LIST_DEVICES_HINT = "run `jarvis devices` to see the available devices"

DeviceKind = Literal["input", "output"]
DeviceSelector = str | int | None


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """One PortAudio device as the host API reports it."""

    index: int
    name: str
    max_input_channels: int
    max_output_channels: int
    default_samplerate_hz: float
    is_default_input: bool
    is_default_output: bool


def load_sounddevice() -> Any:
    """Import and return the ``sounddevice`` module.

    Raises:
        AudioDeviceError: PortAudio or the ``sounddevice`` package is missing.
    """
    try:
        import sounddevice  # importing at module level would fail without PortAudio
    except (OSError, ImportError) as err:
        raise AudioDeviceError(PORTAUDIO_MISSING) from err
    return sounddevice


def list_devices(sounddevice_module: Any = None) -> list[DeviceInfo]:
    """Return every device PortAudio reports, in index order.

    Raises:
        AudioDeviceError: PortAudio is missing or fails to enumerate devices.
    """
    sd = sounddevice_module or load_sounddevice()
    try:
        raw_devices = list(sd.query_devices())
        default_input, default_output = _default_indexes(sd)
    except sd.PortAudioError as err:
        raise AudioDeviceError(f"cannot list sound devices: {err}") from err
    return [
        DeviceInfo(
            index=int(raw["index"]),
            name=str(raw["name"]),
            max_input_channels=int(raw["max_input_channels"]),
            max_output_channels=int(raw["max_output_channels"]),
            default_samplerate_hz=float(raw["default_samplerate"]),
            is_default_input=int(raw["index"]) == default_input,
            is_default_output=int(raw["index"]) == default_output,
        )
        for raw in raw_devices
    ]


def format_device_table(devices: Iterable[DeviceInfo]) -> str:
    """Render devices as a text table; ``>`` marks the default input, ``<`` the default output."""
    rows = [("", "index", "name", "in", "out", "rate (Hz)")]
    for device in devices:
        input_mark = ">" if device.is_default_input else " "
        output_mark = "<" if device.is_default_output else " "
        rows.append(
            (
                input_mark + output_mark,
                str(device.index),
                device.name,
                str(device.max_input_channels),
                str(device.max_output_channels),
                f"{device.default_samplerate_hz:g}",
            )
        )
    if len(rows) == 1:
        return "no sound devices found"

    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]
    lines.append("> default input, < default output")
    return "\n".join(lines)


def resolve_device(sd: Any, selector: DeviceSelector, kind: DeviceKind) -> dict[str, Any]:
    """Return PortAudio's description of the device ``selector`` names, or of the default one.

    ``selector`` is an index, a name (PortAudio matches substrings) or
    ``None``/empty for the system default. A string of digits is an index.

    Raises:
        AudioDeviceError: no such device, it has no channels of ``kind``,
            the name is ambiguous, or there is no default device.
    """
    selector = normalise_selector(selector)
    setting = f"audio.{kind}_device"
    try:
        info: dict[str, Any] = dict(sd.query_devices(selector, kind))
    except ValueError as err:
        raise AudioDeviceError(
            f"{kind} device {selector!r} not usable ({err}); {LIST_DEVICES_HINT} and set {setting}"
        ) from err
    except sd.PortAudioError as err:
        if selector is None:
            raise AudioDeviceError(f"no default {kind} device ({err}); {LIST_DEVICES_HINT} and set {setting}") from err
        raise AudioDeviceError(
            f"{kind} device {selector!r} not found ({err}); {LIST_DEVICES_HINT} and set {setting}"
        ) from err
    return info


def normalise_selector(selector: DeviceSelector) -> DeviceSelector:
    """Turn ``""`` into ``None`` and a string of digits into an index."""
    if isinstance(selector, str):
        stripped = selector.strip()
        if not stripped:
            return None
        if stripped.isdigit():
            return int(stripped)
        return stripped
    return selector


def _default_indexes(sd: Any) -> tuple[int, int]:
    pair = sd.default.device
    default_input, default_output = pair[0], pair[1]
    return _as_index(sd, default_input, "input"), _as_index(sd, default_output, "output")


def _as_index(sd: Any, device: int | str | None, kind: DeviceKind) -> int:
    """Return the index of a default device entry, or -1 when there is none."""
    if device is None or isinstance(device, int):
        return -1 if device is None else device
    try:
        return int(sd.query_devices(device, kind)["index"])
    except (ValueError, sd.PortAudioError):
        return -1
