"""The live audio path for real: ``jarvis run`` on the default microphone and speaker.

A private PulseAudio server with null sinks replaces the sound card (see
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
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from pulse import PulseServer, missing_requirement, running_pulse_server

from jarvis.audio import FRAME_DURATION_S, FRAME_SAMPLES, SAMPLE_RATE_HZ
from jarvis.audio.wav import write_wav
from jarvis.config import Settings
from jarvis.models import ModelStore
from jarvis.stt import Transcriber, normalise_words
from jarvis.testing.speech import compose, piper_speech, silence
from jarvis.tts import Synthesizer
from jarvis.wake import WakeGate, WakeWordDetector

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
        [MICROPHONE, SPEAKER], default_sink=SPEAKER, default_source=f"{MICROPHONE}.monitor", silent_sinks=[MICROPHONE]
    ) as server:
        yield server


@pytest.fixture(scope="module")
def shared_sink_pulse() -> Iterator[PulseServer]:
    """One sink for the speaker and, through its monitor, the microphone: JARVIS hears its own voice."""
    with running_pulse_server(
        [MICROPHONE], default_sink=MICROPHONE, default_source=f"{MICROPHONE}.monitor", silent_sinks=[MICROPHONE]
    ) as server:
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

    def wait_for_event(self, name: str, timeout_s: float, count: int = 1) -> bool:
        """Wait until ``count`` log lines with ``event == name`` arrived, or the process exits."""
        return self._wait(lambda: self.event_names().count(name) >= count, timeout_s)

    def wait_for_turns(self, count: int, timeout_s: float) -> list[dict[str, Any]]:
        """Wait until ``count`` turns were printed (or the process exits) and return the turns so far."""
        self._wait(lambda: len(self.turns) >= count, timeout_s)
        with self._changed:
            return list(self.turns)

    def _wait(self, done: Callable[[], bool], timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while not done():
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self.process.poll() is not None:
                    return done()
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
        """Return the process state and its last log lines, for assertion messages."""
        code = self.process.poll()
        with self._changed:
            tail = [json.dumps(event) for event in self.events[-15:]]
        state = "still running" if code is None else f"exited with code {code}"
        return "\n".join([f"jarvis run {state}", *tail, *self.other_stderr[-5:]])


@pytest.fixture
def start_jarvis(tmp_path: Path) -> Iterator[Any]:
    """Start ``jarvis run`` against a PulseAudio server, with no user settings; kill it after the test."""
    started: list[JarvisProcess] = []

    def start(server: PulseServer, **settings: str) -> JarvisProcess:
        env = {name: value for name, value in server.client_env.items() if not name.startswith("JARVIS_")}
        env.pop("NOTIFY_SOCKET", None)
        env.update(XDG_CONFIG_HOME=str(tmp_path / "config"), XDG_STATE_HOME=str(tmp_path / "state"), **settings)
        jarvis = JarvisProcess(env)
        started.append(jarvis)
        assert jarvis.wait_for_event("assistant_started", STARTUP_TIMEOUT_S), jarvis.diagnostics()
        return jarvis

    yield start
    for jarvis in started:
        jarvis.kill()


def _write_request(path: Path, synthesizer: Synthesizer, request: str, tail_s: float = 1.5) -> None:
    """Write "Hey Jarvis.", a short pause, ``request`` and ``tail_s`` of silence as a WAV file."""
    recording = compose(
        [
            ("lead", silence(0.3)),
            ("wake", piper_speech(synthesizer, "Hey Jarvis.")),
            ("pause", silence(0.3)),
            ("request", piper_speech(synthesizer, request)),
            ("tail", silence(tail_s)),
        ]
    )
    write_wav(path, recording.samples, SAMPLE_RATE_HZ)


def _digits(text: str) -> str:
    """Return the digits of ``text`` run together: Whisper writes 9:45 as "9.45", "9:45" or "945"."""
    return "".join(re.findall(r"\d", text))


def _spoken_clock_digits(reply: str) -> set[str]:
    """Return the digit runs Whisper may write for the time in a reply such as "It's 9:45 AM.".

    "9:00" is spoken as "nine o'clock" and "9:05" as "nine oh five", which Whisper writes as "9.05" or "9 oh 5".
    """
    match = re.search(r"(\d{1,2}):(\d{2})", reply)
    assert match is not None, reply
    hour, minute = match.groups()
    if minute == "00":
        return {hour}
    return {hour + minute, hour + minute.lstrip("0")}


@pytest.mark.timeout(30)
def test_devices_lists_pulse_as_default(pulse: PulseServer) -> None:
    listed = subprocess.run(
        [str(JARVIS), "devices"], env=pulse.client_env, capture_output=True, text=True, timeout=20, check=True
    ).stdout

    assert re.search(r"^\s+\d+\s+pulse\s", listed, re.MULTILINE), listed
    # "><" marks the default input and the default output.
    assert re.search(r"^><\s+\d+\s+default\s", listed, re.MULTILINE), listed


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
    assert any(digits in _digits(spoken_back) for digits in _spoken_clock_digits(turn["reply"])), (
        turn["reply"],
        spoken_back,
    )


def _wait_for_streams_closed(server: PulseServer, pid: int, timeout_s: float = 2.0) -> list[str]:
    """Wait until the server lists no stream of process ``pid``; return those left at the timeout."""
    deadline = time.monotonic() + timeout_s
    while (left := server.streams_of(pid)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("signum", "expected_code"), [(signal.SIGTERM, 0), (signal.SIGINT, 128 + signal.SIGINT)])
def test_signal_stops_idle_assistant(pulse: PulseServer, start_jarvis: Any, signum: int, expected_code: int) -> None:
    jarvis = start_jarvis(pulse)
    pid = jarvis.process.pid
    streams_while_running = pulse.streams_of(pid)

    code = jarvis.stop(signum, STOP_TIMEOUT_S)

    assert len(streams_while_running) == 2, streams_while_running
    assert code == expected_code, jarvis.diagnostics()
    assert "assistant_stopped" in jarvis.event_names()
    assert "microphone_closed" in jarvis.event_names()
    assert "speaker_closed" in jarvis.event_names()
    assert _wait_for_streams_closed(pulse, pid) == []


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
    assert _wait_for_streams_closed(pulse, jarvis.process.pid) == []


@pytest.mark.timeout(90)
def test_sigterm_stops_assistant_mid_reply(
    pulse: PulseServer, start_jarvis: Any, synthesizer: Synthesizer, tmp_path: Path
) -> None:
    request_path = tmp_path / "request.wav"
    _write_request(request_path, synthesizer, "What is the date today?")
    jarvis = start_jarvis(pulse)
    speaker = pulse.record(f"{SPEAKER}.monitor")
    player = pulse.play(request_path, MICROPHONE)
    try:
        speaking = speaker.wait_for_sound(min_sound_s=0.3, then_silence_s=0.0, timeout_s=TURN_TIMEOUT_S)
        code = jarvis.stop(signal.SIGTERM, STOP_TIMEOUT_S)
    finally:
        speaker.stop()
        player.kill()
        player.wait(5)

    assert speaking, jarvis.diagnostics()
    assert code == 0, jarvis.diagnostics()
    assert "speaker_stopped" in jarvis.event_names()
    assert "assistant_stopped" in jarvis.event_names()
    assert _wait_for_streams_closed(pulse, jarvis.process.pid) == []


@pytest.mark.timeout(90)
def test_sigterm_cancels_turn_being_answered(
    pulse: PulseServer, start_jarvis: Any, synthesizer: Synthesizer, tmp_path: Path
) -> None:
    request_path = tmp_path / "request.wav"
    _write_request(request_path, synthesizer, "Who painted the Mona Lisa?")
    jarvis = start_jarvis(pulse, JARVIS_LOG__LEVEL="debug")
    player = pulse.play(request_path, MICROPHONE)
    try:
        request_ended = jarvis.wait_for_event("request_ended", PLAY_TIMEOUT_S)
        code = jarvis.stop(signal.SIGTERM, STOP_TIMEOUT_S)
    finally:
        player.kill()
        player.wait(5)

    assert request_ended, jarvis.diagnostics()
    assert code == 0, jarvis.diagnostics()
    assert "turn_cancelled" in jarvis.event_names()
    assert jarvis.turns == []
    assert not [line for line in jarvis.other_stderr if "Traceback" in line or "exception" in line], jarvis.other_stderr
    assert _wait_for_streams_closed(pulse, jarvis.process.pid) == []


def _count_wake_phrases(samples: npt.NDArray[np.int16], model_store: ModelStore, settings: Settings) -> int:
    """Count the wake phrases in a recording with a fresh detector, as JARVIS would without its speaking guard."""
    detector = WakeWordDetector.from_store(model_store)
    gate = WakeGate(settings.wake.threshold, settings.wake.refractory_s, speaking_cooldown_s=0.0)
    count = 0
    for index in range(len(samples) // FRAME_SAMPLES):
        frame = samples[index * FRAME_SAMPLES : (index + 1) * FRAME_SAMPLES]
        if gate.update(detector.score(frame), (index + 1) * FRAME_DURATION_S) is not None:
            count += 1
    return count


@pytest.mark.timeout(120)
def test_own_voice_does_not_wake(
    shared_sink_pulse: PulseServer,
    start_jarvis: Any,
    synthesizer: Synthesizer,
    model_store: ModelStore,
    settings: Settings,
    tmp_path: Path,
) -> None:
    request_path = tmp_path / "request.wav"
    _write_request(request_path, synthesizer, "Say hey Jarvis.")
    # With greedy decoding the bundled model replies to this request with the wake phrase itself: "Hey Jarvis."
    jarvis = start_jarvis(shared_sink_pulse, JARVIS_LLM__TEMPERATURE="0")
    microphone = shared_sink_pulse.record(f"{MICROPHONE}.monitor")
    try:
        player = shared_sink_pulse.play(request_path, MICROPHONE)
        turns = jarvis.wait_for_turns(1, TURN_TIMEOUT_S)
        assert player.wait(PLAY_TIMEOUT_S) == 0
        assert turns, jarvis.diagnostics()
        # The reply reaches the microphone while and just after it plays; a self-wake would be logged by then.
        woke_again = jarvis.wait_for_event("wake_word_detected", turns[0]["reply_audio_s"] + 5.0, count=2)
    finally:
        microphone_audio = microphone.stop()

    assert "jarvis" in normalise_words(turns[0]["reply"]).split(), turns[0]
    wake_phrases_heard = _count_wake_phrases(microphone_audio, model_store, settings)
    assert wake_phrases_heard >= 2, "the microphone did not hear the wake phrase in the reply"
    assert not woke_again, jarvis.diagnostics()
    assert len(jarvis.turns) == 1, jarvis.turns
