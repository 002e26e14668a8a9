"""A private PulseAudio server with null sinks: a microphone and a speaker without sound hardware.

The server runs in its own temporary runtime, home and config folders, so it
neither reads the user's PulseAudio settings nor meets another server. A null
sink plays into nothing, and its ``.monitor`` source records what was played
into it. When the default source is a sink's monitor, a program listening on
the default microphone hears whatever a test plays into that sink
(``paplay``). When the default sink is another null sink, whatever the
program plays on the default speaker can be recorded back (``parec``).
"""

from __future__ import annotations

import ctypes.util
import os
import shutil
import subprocess  # nosec B404 - runs the local PulseAudio programs with fixed arguments
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

READY_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 5.0
COMMAND_TIMEOUT_S = 10.0
RECORD_RATE_HZ = 16_000
RAW_FORMAT = ("--raw", "--format=s16le", f"--rate={RECORD_RATE_HZ}", "--channels=1")
# Loudness is judged per 20 ms block, so the short gaps between words do not count as silence.
LOUDNESS_BLOCK_SAMPLES = RECORD_RATE_HZ // 50

# Debian package that provides each program or library the live tests need.
_REQUIRED_PROGRAMS = {
    "pulseaudio": "pulseaudio",
    "pactl": "pulseaudio-utils",
    "pacat": "pulseaudio-utils",
    "paplay": "pulseaudio-utils",
    "parec": "pulseaudio-utils",
}


def missing_requirement() -> str | None:
    """Return why the live audio tests cannot run here, or None when everything is installed."""
    for program, package in _REQUIRED_PROGRAMS.items():
        if shutil.which(program) is None:
            return f"{program} is not installed (Debian: apt-get install {package}; scripts/setup.sh --test does it)"
    if ctypes.util.find_library("portaudio") is None:
        return "the PortAudio library is not installed (Debian: apt-get install libportaudio2)"
    return None


def _program(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise FileNotFoundError(f"{name} is not installed")
    return path


@dataclass(frozen=True, slots=True)
class PulseServer:
    """A running private server: where its socket is and the environment its clients need."""

    pid: int
    runtime_dir: Path
    client_env: dict[str, str]

    def pactl(self, *args: str) -> str:
        """Run ``pactl`` against this server and return its output."""
        done = subprocess.run(  # nosec B603 - fixed program path, arguments from the test
            [_program("pactl"), *args],
            # pactl translates its headings; streams_of() reads the English ones.
            env={**self.client_env, "LC_ALL": "C"},
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT_S,
            check=True,
        )
        return done.stdout

    def streams_of(self, pid: int) -> list[str]:
        """Return the recording and playback streams that process ``pid`` opened, e.g. ``["Source Output #3"]``."""
        streams: list[str] = []
        for kind in ("source-outputs", "sink-inputs"):
            stream = ""
            for line in self.pactl("list", kind).splitlines():
                if line.startswith(("Source Output #", "Sink Input #")):
                    stream = line.strip()
                elif line.strip() == f'application.process.id = "{pid}"':
                    streams.append(stream)
        return streams

    def play(self, wav_path: Path, sink: str) -> subprocess.Popen[bytes]:
        """Start playing a WAV file into ``sink`` at real-time speed; the caller waits for the process.

        The low latency makes the null sink pass the audio on within tens of milliseconds, as a
        microphone would. With PulseAudio's default buffer, the first sound once reached the
        monitor 1.5 s late, and paplay exited about a second after the end of the file.
        """
        return subprocess.Popen(  # nosec B603 - fixed program path and arguments
            [_program("paplay"), "-d", sink, "--latency-msec=40", str(wav_path)],
            env=self.client_env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def record(self, source: str) -> Recorder:
        """Start recording ``source`` as 16 kHz mono; stop it with :meth:`Recorder.stop`."""
        return Recorder(self.client_env, source)


class Recorder:
    """Records a PulseAudio source with ``parec`` into memory, on a reader thread."""

    def __init__(self, env: dict[str, str], source: str) -> None:
        self._process = subprocess.Popen(  # nosec B603 - fixed program path and arguments
            [
                _program("parec"),
                "-d",
                source,
                *RAW_FORMAT,
                "--latency-msec=20",
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self._data = bytearray()
        self._block_peaks: list[int] = []
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, name="parec-reader", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        stream = self._process.stdout
        if stream is None:
            return
        block_bytes = 2 * LOUDNESS_BLOCK_SAMPLES
        while chunk := stream.read1(4096):
            with self._changed:
                self._data.extend(chunk)
                while len(self._data) >= (len(self._block_peaks) + 1) * block_bytes:
                    start = len(self._block_peaks) * block_bytes
                    block = np.frombuffer(bytes(self._data[start : start + block_bytes]), dtype="<i2")
                    self._block_peaks.append(int(np.abs(block.astype(np.int32)).max()))
                self._changed.notify_all()

    def samples(self) -> npt.NDArray[np.int16]:
        """Return everything recorded so far."""
        with self._changed:
            whole = len(self._data) // 2 * 2
            return np.frombuffer(bytes(self._data[:whole]), dtype="<i2").astype(np.int16)

    def wait_for_sound(self, min_sound_s: float, then_silence_s: float, timeout_s: float, level: int = 300) -> bool:
        """Wait until sound louder than ``level`` spanned ``min_sound_s``, followed by ``then_silence_s`` of quiet.

        Returns whether that happened within ``timeout_s``.
        """
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while not _sound_then_silence(self._block_peaks, min_sound_s, then_silence_s, level):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._changed.wait(remaining)
        return True

    def stop(self) -> npt.NDArray[np.int16]:
        """Stop ``parec`` and return everything it recorded."""
        self._process.terminate()
        try:
            self._process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(STOP_TIMEOUT_S)
        self._reader.join(STOP_TIMEOUT_S)
        return self.samples()


def _sound_then_silence(block_peaks: list[int], min_sound_s: float, then_silence_s: float, level: int) -> bool:
    loud_blocks = np.flatnonzero(np.asarray(block_peaks) > level)
    if not len(loud_blocks):
        return False
    block_s = LOUDNESS_BLOCK_SAMPLES / RECORD_RATE_HZ
    sound_s = (loud_blocks[-1] - loud_blocks[0] + 1) * block_s
    silence_s = (len(block_peaks) - loud_blocks[-1] - 1) * block_s
    return bool(sound_s >= min_sound_s and silence_s >= then_silence_s)


@contextmanager
def running_pulse_server(
    sinks: Sequence[str], default_sink: str, default_source: str, silent_sinks: Sequence[str] = ()
) -> Iterator[PulseServer]:
    """Run a private server with one null sink per name in ``sinks`` and the given defaults.

    Each sink in ``silent_sinks`` is fed digital silence all the time, so its monitor delivers
    samples at the pace of real time, as a microphone does. Without it, the monitor of an idle
    null sink delivers almost nothing: the listening program's audio clock stalls, and a stream
    opened on it a second earlier heard the next sound 0.7 s late.

    Raises:
        RuntimeError: the server exited or did not respond to ``pactl info`` within ``READY_TIMEOUT_S``.
    """
    with tempfile.TemporaryDirectory(prefix="jarvis-pulse-") as folder:
        root = Path(folder)
        runtime_dir = root / "runtime"
        for name in ("runtime", "home", "config", "state"):
            (root / name).mkdir(mode=0o700)
        server_env = _isolated_env(root)
        log_file = (root / "pulseaudio.log").open("wb")
        process = subprocess.Popen(  # nosec B603 - fixed program path and arguments
            _server_command(sinks), env=server_env, stdout=log_file, stderr=subprocess.STDOUT
        )
        client_env = dict(os.environ)
        client_env.update(XDG_RUNTIME_DIR=str(runtime_dir), PULSE_SERVER=f"unix:{runtime_dir / 'pulse' / 'native'}")
        server = PulseServer(process.pid, runtime_dir, client_env)
        try:
            _wait_until_ready(server, process, root / "pulseaudio.log")
            server.pactl("set-default-sink", default_sink)
            server.pactl("set-default-source", default_source)
            with _feeding_silence(server, silent_sinks):
                yield server
        finally:
            _stop_server(process, server_env)
            log_file.close()


@contextmanager
def _feeding_silence(server: PulseServer, sinks: Sequence[str]) -> Iterator[None]:
    feeders: list[subprocess.Popen[bytes]] = []
    try:
        for sink in sinks:
            with Path("/dev/zero").open("rb") as zeros:
                feeders.append(
                    subprocess.Popen(  # nosec B603 - fixed program path and arguments
                        [_program("pacat"), "--playback", "-d", sink, *RAW_FORMAT, "--latency-msec=20"],
                        env=server.client_env,
                        stdin=zeros,
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                    )
                )
        yield
    finally:
        for feeder in feeders:
            feeder.terminate()
            if not _wait_for_exit(feeder, STOP_TIMEOUT_S):
                feeder.kill()
                feeder.wait(STOP_TIMEOUT_S)


def _isolated_env(root: Path) -> dict[str, str]:
    """Return an environment that keeps the server's files inside ``root``."""
    env = {name: value for name, value in os.environ.items() if not name.startswith(("PULSE_", "DBUS_"))}
    env.update(
        HOME=str(root / "home"),
        XDG_RUNTIME_DIR=str(root / "runtime"),
        XDG_CONFIG_HOME=str(root / "config"),
        XDG_STATE_HOME=str(root / "state"),
    )
    return env


def _server_command(sinks: Sequence[str]) -> list[str]:
    # auth-anonymous: the socket lies in a 0700 folder of this test, so only this user reaches it.
    command = [
        _program("pulseaudio"),
        "--daemonize=no",
        "--exit-idle-time=-1",
        "--use-pid-file=no",
        "--realtime=no",
        "--high-priority=no",
        "-n",
        "--load=module-native-protocol-unix auth-anonymous=1",
    ]
    command += [f"--load=module-null-sink sink_name={sink}" for sink in sinks]
    return command


def _wait_until_ready(server: PulseServer, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"pulseaudio exited with code {process.returncode}: {log_path.read_text()[-2000:]}")
        try:
            server.pactl("info")
        except subprocess.CalledProcessError:
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"pulseaudio did not respond within {READY_TIMEOUT_S} s: {log_path.read_text()[-2000:]}"
                ) from None
            # Not listening yet: pause briefly, returning early if the server exits.
            _wait_for_exit(process, 0.1)
        else:
            return


def _wait_for_exit(process: subprocess.Popen[bytes], timeout_s: float) -> bool:
    try:
        process.wait(timeout_s)
    except subprocess.TimeoutExpired:
        return False
    return True


def _stop_server(process: subprocess.Popen[bytes], server_env: dict[str, str]) -> None:
    """Stop the server by its pid; fall back to ``pulseaudio --kill`` and then SIGKILL."""
    if process.poll() is None:
        process.terminate()
    if _wait_for_exit(process, STOP_TIMEOUT_S):
        return
    subprocess.run(  # nosec B603 - fixed program path and arguments
        [_program("pulseaudio"), "--kill"], env=server_env, timeout=COMMAND_TIMEOUT_S, check=False
    )
    if not _wait_for_exit(process, STOP_TIMEOUT_S):
        process.kill()
        process.wait(STOP_TIMEOUT_S)
