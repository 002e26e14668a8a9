"""Listing and choosing sound devices through a fake PortAudio."""

from __future__ import annotations

import sys

import pytest
from fake_sounddevice import FakeDevice, FakeSoundDevice

from jarvis.audio.devices import (
    PORTAUDIO_MISSING,
    DeviceInfo,
    format_device_table,
    list_devices,
    load_sounddevice,
    normalise_selector,
    resolve_device,
)
from jarvis.errors import AudioDeviceError


def three_devices() -> FakeSoundDevice:
    return FakeSoundDevice(
        [
            FakeDevice("Built-in Microphone", 2, 0, 44_100.0),
            FakeDevice("Built-in Output", 0, 2, 48_000.0),
            FakeDevice("USB Headset", 1, 2, 16_000.0),
        ],
        default_input=2,
        default_output=1,
    )


def test_list_devices_reports_each_device() -> None:
    devices = list_devices(three_devices())
    assert [device.name for device in devices] == ["Built-in Microphone", "Built-in Output", "USB Headset"]
    assert devices[0] == DeviceInfo(0, "Built-in Microphone", 2, 0, 44_100.0, False, False)


def test_list_devices_marks_defaults() -> None:
    devices = list_devices(three_devices())
    assert [device.is_default_input for device in devices] == [False, False, True]
    assert [device.is_default_output for device in devices] == [False, True, False]


def test_list_devices_without_defaults() -> None:
    sd = FakeSoundDevice([FakeDevice("Line In", 2, 0, 48_000.0)], default_input=-1, default_output=-1)
    devices = list_devices(sd)
    assert not devices[0].is_default_input
    assert not devices[0].is_default_output


def test_list_devices_default_given_by_name() -> None:
    sd = three_devices()
    sd.default.device = ["headset", "output"]
    devices = list_devices(sd)
    assert [device.is_default_input for device in devices] == [False, False, True]
    assert [device.is_default_output for device in devices] == [False, True, False]


def test_list_devices_without_portaudio(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sounddevice", None)
    with pytest.raises(AudioDeviceError) as caught:
        list_devices()
    assert str(caught.value) == PORTAUDIO_MISSING


def test_portaudio_message_names_packages() -> None:
    assert "libportaudio2" in PORTAUDIO_MISSING
    assert "brew install portaudio" in PORTAUDIO_MISSING
    assert "--input FILE.wav" in PORTAUDIO_MISSING
    assert "\n" not in PORTAUDIO_MISSING


def test_load_sounddevice_without_portaudio(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sounddevice", None)
    with pytest.raises(AudioDeviceError, match="PortAudio library not found"):
        load_sounddevice()


def test_table_lists_names_and_marks_defaults() -> None:
    table = format_device_table(list_devices(three_devices()))
    lines = table.splitlines()
    assert lines[0].split() == ["index", "name", "in", "out", "rate", "(Hz)"]
    assert lines[2].startswith(" <")
    assert "Built-in Output" in lines[2]
    assert lines[3].startswith(">")
    assert lines[3].split()[-3:] == ["1", "2", "16000"]
    assert lines[-1] == "> default input, < default output"


def test_table_columns_line_up() -> None:
    lines = format_device_table(list_devices(three_devices())).splitlines()[:4]
    name_column = lines[0].index("name")
    assert all(line[name_column - 2 : name_column] == "  " for line in lines)


def test_table_without_devices() -> None:
    assert format_device_table([]) == "no sound devices found"


def test_resolve_default_input() -> None:
    assert resolve_device(three_devices(), None, "input")["name"] == "USB Headset"


def test_resolve_by_index_string() -> None:
    assert resolve_device(three_devices(), " 0 ", "input")["name"] == "Built-in Microphone"


def test_resolve_by_name_substring() -> None:
    assert resolve_device(three_devices(), "headset", "output")["index"] == 2


def test_resolve_ambiguous_name() -> None:
    with pytest.raises(AudioDeviceError, match="Multiple output devices") as caught:
        resolve_device(three_devices(), "u", "output")
    assert "audio.output_device" in str(caught.value)


def test_resolve_wrong_kind() -> None:
    with pytest.raises(AudioDeviceError, match="Not an output device"):
        resolve_device(three_devices(), 0, "output")


def test_resolve_missing_default() -> None:
    sd = FakeSoundDevice([FakeDevice("Speaker", 0, 2, 48_000.0)], default_input=-1)
    with pytest.raises(AudioDeviceError, match="no default input device") as caught:
        resolve_device(sd, "", "input")
    assert "jarvis devices" in str(caught.value)


@pytest.mark.parametrize(
    ("selector", "expected"), [(None, None), ("", None), ("  ", None), ("3", 3), (4, 4), ("pulse", "pulse")]
)
def test_normalise_selector(selector: str | int | None, expected: str | int | None) -> None:
    assert normalise_selector(selector) == expected
