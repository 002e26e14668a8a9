"""Audio in and out: devices and WAV files on one side, 16 kHz mono 80 ms frames on the other.

Nothing here imports ``sounddevice`` at import time, so WAV-only use works
on machines without the PortAudio library.
"""

from jarvis.audio.convert import StreamResampler, resample, to_float32, to_int16, to_mono
from jarvis.audio.devices import DeviceInfo, format_device_table, list_devices
from jarvis.audio.framing import FRAME_DURATION_S, FRAME_SAMPLES, SAMPLE_RATE_HZ, AudioFrame, Framer
from jarvis.audio.sinks import AudioSink, NullSink, SpeakerSink, WavSink
from jarvis.audio.sources import AudioSource, MicrophoneSource, WavFileSource
from jarvis.audio.wav import WavWriter, load_wav_mono16k, read_wav, write_wav

__all__ = [
    "FRAME_DURATION_S",
    "FRAME_SAMPLES",
    "SAMPLE_RATE_HZ",
    "AudioFrame",
    "AudioSink",
    "AudioSource",
    "DeviceInfo",
    "Framer",
    "MicrophoneSource",
    "NullSink",
    "SpeakerSink",
    "StreamResampler",
    "WavFileSource",
    "WavSink",
    "WavWriter",
    "format_device_table",
    "list_devices",
    "load_wav_mono16k",
    "read_wav",
    "resample",
    "to_float32",
    "to_int16",
    "to_mono",
    "write_wav",
]
