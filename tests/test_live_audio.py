"""The live audio path for real: ``jarvis run`` on the default microphone and speaker.

A private PulseAudio server with null sinks stands in for the sound card (see
``tests/pulse.py``). The test plays generated speech into the sink whose
monitor is the default microphone, ``jarvis run`` hears it through
sounddevice, PortAudio and ALSA's pulse plugin, and its spoken reply is
recorded from the default speaker's monitor and transcribed with Whisper.
The same set-up checks that SIGTERM and SIGINT stop the daemon cleanly and
that JARVIS does not wake itself when it hears its own voice.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pulse import PulseServer, missing_requirement, running_pulse_server

from jarvis.audio import SAMPLE_RATE_HZ
from jarvis.audio.wav import write_wav
from jarvis.stt import Transcriber, normalise_words
from jarvis.testing.speech import compose, piper_speech, silence
from jarvis.tts import Synthesizer

pytestmark = pytest.mark.skipif(missing_requirement() is not None, reason=str(missing_requirement()))

JARVIS = Path(sys.executable).with_name("jarvis")
STARTUP_TIMEOUT_S = 40.0
TURN_TIMEOUT_S = 40.0
STOP_TIMEOUT_S = 2.0
PLAY_TIMEOUT_S = 30.0
MICROPHONE = "virtmic"
SPEAKER = "virtspeaker"


@pytest.fixture(scope="module")
def pulse() -> Iterator[PulseServer]:
    """A microphone sink and a separate speaker sink: JARVIS cannot hear itself."""
    with running_pulse_server(
        [MICROPHONE, SPEAKER], default_sink=SPEAKER, default_source=f"{MICROPHONE}.monitor"
    ) as server:
        yield server


@pytest.fixture(scope="module")
def shared_sink_pulse() -> Iterator[PulseServer]:
    """One sink for the speaker and, through its monitor, the microphone: JARVIS hears its own voice."""
    with running_pulse_server([MICROPHONE], default_sink=MICROPHONE, default_source=f"{MICROPHONE}.monitor") as server:
        yield server


class JarvisProcess:
    """``jarvis run`` on the default devices, with its turns (stdout) and log events (stderr) collected."""

    def __init__(self, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [str(JARVIS), "--log-format", "json", "run"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.turns: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []
        self.other_stderr: list[str] = []
        self._changed = threading.Condition()
        self._readers = [
            threading.Thread(target=self._read_turns, name="jarvis-stdout", daemon=True),
            threading.Thread(target=self._read_events, name="jarvis-stderr", daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def _read_turns(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._changed:
                self.turns.append(json.loads(line))
                self._changed.notify_all()

    def _read_events(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            with self._changed:
                try:
                    self.events.append(json.loads(line))
                except json.JSONDecodeError:
                    # ALSA writes plain-text notices such as "underrun occurred" to stderr.
                    self.other_stderr.append(line.rstrip())
                self._changed.notify_all()

    def event_names(self) -> list[str]:
        with self._changed:
            return [str(event.get("event")) for event in self.events]

    def wait_for_event(self, name: str, timeout_s: float) -> bool:
        """Wait until a log line with ``event == name`` arrives, or the process exits."""
        return self._wait(lambda: name in self.event_names(), timeout_s)

    def wait_for_turns(self, count: int, timeout_s: float) -> list[dict[str, Any]]:
        """Wait until ``count`` turns were printed (or the process exits) and return the turns so far."""
        self._wait(lambda: len(self.turns) >= count, timeout_s)
        with self._changed:
            return list(self.turns)

    def _wait(self, done: Any, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while not done():
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self.process.poll() is not None:
                    return bool(done())
                self._changed.wait(min(remaining, 0.5))
        return True

    def stop(self, signum: int, timeout_s: float) -> int | None:
        """Send ``signum`` and return the exit code, or None when the process outlived ``timeout_s``."""
        self.process.send_signal(signum)
        try:
            code = self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            return None
        for reader in self._readers:
            reader.join(timeout_s)
        return code

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def diagnostics(self) -> str:
        with self._changed:
            tail = [json.dumps(event) for event in self.events[-15:]]
        return "\n".join([f"exit code {self.process.poll()}", *tail, *self.other_stderr[-5:]])


@pytest.fixture
def start_jarvis(tmp_path: Path) -> Iterator[Any]:
    """Start ``jarvis run`` against a PulseAudio server, with no user settings; kill it after the test."""
    started: list[JarvisProcess] = []

    def start(server: PulseServer) -> JarvisProcess:
        env = {name: value for name, value in server.client_env.items() if not name.startswith("JARVIS_")}
        env.pop("NOTIFY_SOCKET", None)
        env.update(XDG_CONFIG_HOME=str(tmp_path / "config"), XDG_STATE_HOME=str(tmp_path / "state"))
        jarvis = JarvisProcess(env)
        started.append(jarvis)
        assert jarvis.wait_for_event("assistant_started", STARTUP_TIMEOUT_S), jarvis.diagnostics()
        return jarvis

    yield start
    for jarvis in started:
        jarvis.kill()


def _write_request(path: Path, synthesizer: Synthesizer, request: str) -> float:
    """Write "Hey Jarvis." and ``request`` as a WAV file; return its length in seconds."""
    recording = compose(
        [
            ("lead", silence(0.3)),
            ("wake", piper_speech(synthesizer, "Hey Jarvis.")),
            ("pause", silence(0.3)),
            ("request", piper_speech(synthesizer, request)),
            ("tail", silence(1.5)),
        ]
    )
    write_wav(path, recording.samples, SAMPLE_RATE_HZ)
    return recording.duration_s


def _digits(text: str) -> str:
    """Return the digits of ``text`` run together: Whisper writes 9:45 as "9.45", "9:45" or "945"."""
    return "".join(re.findall(r"\d", text))


def _spoken_clock_digits(reply: str) -> str:
    """Return the digits a listener hears in a reply such as "It's 9:45 AM."; "9:00" is said "nine o'clock"."""
    match = re.search(r"(\d{1,2}):(\d{2})", reply)
    assert match is not None, reply
    hour, minute = match.groups()
    return hour if minute == "00" else hour + minute.lstrip("0")


@pytest.mark.timeout(120)
def test_time_request_answered_aloud(
    pulse: PulseServer, start_jarvis: Any, synthesizer: Synthesizer, transcriber: Transcriber, tmp_path: Path
) -> None:
    request_path = tmp_path / "request.wav"
    _write_request(request_path, synthesizer, "What time is it?")
    jarvis = start_jarvis(pulse)
    speaker = pulse.record(f"{SPEAKER}.monitor")
    try:
        player = pulse.play(request_path, MICROPHONE)
        turns = jarvis.wait_for_turns(1, TURN_TIMEOUT_S)
        assert player.wait(PLAY_TIMEOUT_S) == 0
        assert turns, jarvis.diagnostics()
        turn = turns[0]
        heard_reply = speaker.wait_for_sound(
            min_sound_s=0.8 * turn["reply_audio_s"], then_silence_s=0.5, timeout_s=turn["reply_audio_s"] + 10.0
        )
    finally:
        recorded = speaker.stop()

    assert "time" in normalise_words(turn["transcript"]).split()
    assert turn["route"] == "skill"
    assert turn["reply"].startswith("It's")
    assert heard_reply, f"{len(recorded) / SAMPLE_RATE_HZ:.1f} s recorded, peak {np.abs(recorded).max(initial=0)}"
    spoken_back = transcriber.transcribe(recorded).text
    assert _spoken_clock_digits(turn["reply"]) in _digits(spoken_back), (turn["reply"], spoken_back)


def _wait_for_no_streams(server: PulseServer, timeout_s: float) -> tuple[list[str], list[str]]:
    """Wait until the server has no recording or playback stream; return what is left."""
    deadline = time.monotonic() + timeout_s
    while True:
        left = server.source_outputs(), server.sink_inputs()
        if left == ([], []) or time.monotonic() > deadline:
            return left
        time.sleep(0.1)


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("signum", "expected_code"), [(signal.SIGTERM, 0), (signal.SIGINT, 128 + signal.SIGINT)])
def test_signal_stops_idle_assistant(pulse: PulseServer, start_jarvis: Any, signum: int, expected_code: int) -> None:
    jarvis = start_jarvis(pulse)
    streams_while_running = (len(pulse.source_outputs()), len(pulse.sink_inputs()))

    code = jarvis.stop(signum, STOP_TIMEOUT_S)

    assert streams_while_running == (1, 1)
    assert code == expected_code, jarvis.diagnostics()
    assert "assistant_stopped" in jarvis.event_names()
    assert "microphone_closed" in jarvis.event_names()
    assert "speaker_closed" in jarvis.event_names()
    assert _wait_for_no_streams(pulse, 2.0) == ([], [])


@pytest.mark.timeout(90)
def test_sigterm_stops_assistant_mid_request(
    pulse: PulseServer, start_jarvis: Any, synthesizer: Synthesizer, tmp_path: Path
) -> None:
    request_path = tmp_path / "request.wav"
    _write_request(request_path, synthesizer, "What is the date today?")
    jarvis = start_jarvis(pulse)
    player = pulse.play(request_path, MICROPHONE)
    try:
        woke = jarvis.wait_for_event("wake_word_detected", PLAY_TIMEOUT_S)
        code = jarvis.stop(signal.SIGTERM, STOP_TIMEOUT_S)
    finally:
        player.kill()
        player.wait(5)

    assert woke, jarvis.diagnostics()
    assert code == 0, jarvis.diagnostics()
    assert "assistant_stopped" in jarvis.event_names()
    assert _wait_for_no_streams(pulse, 2.0) == ([], [])


@pytest.mark.timeout(120)
def test_own_voice_does_not_wake(
    shared_sink_pulse: PulseServer, start_jarvis: Any, synthesizer: Synthesizer, tmp_path: Path
) -> None:
    request_path = tmp_path / "request.wav"
    _write_request(request_path, synthesizer, "What is the date today?")
    jarvis = start_jarvis(shared_sink_pulse)
    player = shared_sink_pulse.play(request_path, MICROPHONE)

    turns = jarvis.wait_for_turns(1, TURN_TIMEOUT_S)
    assert player.wait(PLAY_TIMEOUT_S) == 0
    assert turns, jarvis.diagnostics()
    # The reply is heard on the microphone while it plays; wait past its end, the wake cooldown and a whole turn.
    later_turns = jarvis.wait_for_turns(2, turns[0]["reply_audio_s"] + 8.0)

    assert len(later_turns) == 1, later_turns
    assert jarvis.event_names().count("wake_word_detected") == 1
