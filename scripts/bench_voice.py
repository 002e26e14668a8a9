"""Measure the local voice pipeline on generated requests and print the results as tables.

Run it with ``.venv/bin/python scripts/bench_voice.py`` (about three and a
half minutes on two otherwise idle cores) or with ``--quick`` for a smoke run
of three requests. It only measures and prints; no figure is checked.
docs/benchmarks.md explains every row and records a run.

Phases, all in one process and on the real models:

1. Load every model as ``jarvis run`` does and read the resident memory.
2. Listen to a quiet room (white noise at -70 dBFS) paced at real time;
   process CPU time over wall time is the idle CPU share.
3. Generate requests ("Hey Jarvis" and a question) with Piper at several
   speeds and eSpeak NG, with white noise mixed in, at fixed seeds.
4. Play each request through ``WavFileSource(realtime=True)``, as a microphone
   would deliver it, and time the reply against the known end of the speech.
5. Score the wake word over the requests and over recordings without it
   (speech, similar-sounding phrases, noise) to count detections.
6. Time speech recognition and the first reply sentence's synthesis alone.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import platform
import resource
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, TypeVar

import numpy as np
import numpy.typing as npt

from jarvis.assistant import Assistant, TurnResult
from jarvis.audio import SAMPLE_RATE_HZ, AudioFrame, Framer, NullSink, WavFileSource, write_wav
from jarvis.config import Settings, load_settings
from jarvis.errors import ConfigError
from jarvis.logging import configure_logging
from jarvis.runtime import Stages, load_stages
from jarvis.sentences import split_sentences
from jarvis.testing.speech import (
    Recording,
    add_noise,
    compose,
    espeak_available,
    espeak_speech,
    noise,
    piper_speech,
    silence,
)
from jarvis.wake import WakeGate

Int16Array = npt.NDArray[np.int16]
Voice = Literal["piper", "espeak"]

VOICE_TO_VOICE_TARGET_S = 1.2
IDLE_CPU_TARGET_PERCENT = 5.0
RSS_TARGET_MB = 700.0

# Audio around each request: enough lead-in for the wake word model's feature window.
LEAD_S = 1.2
PAUSE_S = 0.3
TRAIL_S = 0.3
# Silence the file source appends: covers the end-of-speech window (0.72 s by default) with room to spare.
SOURCE_TAIL_S = 1.5
# Silence scored before each recording in the wake word pass, so no state carries over from the previous one.
WAKE_PRIMING_S = 2.0
# Request audio for timing speech recognition alone, cut as the endpointer cuts it by default.
PRE_ROLL_S = 0.4
ENDPOINT_TAIL_S = 0.2


@dataclass(frozen=True, slots=True)
class RequestSpec:
    """One generated request: "Hey Jarvis", a pause, then ``text``."""

    text: str
    voice: Voice
    noise_dbfs: float
    expected_route: Literal["skill", "local"]
    length_scale: float = 1.0
    words_per_minute: int = 160
    seed: int = 0

    @property
    def voice_label(self) -> str:
        if self.voice == "piper":
            return f"piper x{self.length_scale:g}"
        return f"espeak {self.words_per_minute} wpm"


NOISE_LABEL = "white noise"


@dataclass(frozen=True, slots=True)
class NegativeSpec:
    """A recording without the wake word: speech (``text``) or white noise (``text`` empty)."""

    text: str
    voice: Voice
    noise_dbfs: float
    duration_s: float = 0.0
    length_scale: float = 1.0
    seed: int = 0

    @property
    def label(self) -> str:
        if not self.text:
            return f"{NOISE_LABEL} at {self.noise_dbfs:g} dBFS"
        return f"{self.text} ({self.voice})"


FULL_REQUESTS = (
    RequestSpec("What time is it?", "piper", -70.0, "skill", length_scale=1.0, seed=1),
    RequestSpec("What is twelve times seven?", "piper", -50.0, "skill", length_scale=0.85, seed=2),
    RequestSpec("What day is it today?", "piper", -45.0, "skill", length_scale=1.2, seed=3),
    RequestSpec("What is one hundred divided by four?", "piper", -60.0, "skill", length_scale=0.95, seed=4),
    RequestSpec("What is nine plus six?", "piper", -40.0, "skill", length_scale=1.1, seed=5),
    RequestSpec("Who wrote Hamlet?", "piper", -55.0, "local", length_scale=1.0, seed=6),
    RequestSpec("What is the capital of France?", "piper", -50.0, "local", length_scale=0.85, seed=7),
    RequestSpec("Who painted the Mona Lisa?", "piper", -65.0, "local", length_scale=1.15, seed=8),
    RequestSpec("What is the largest planet in the solar system?", "piper", -45.0, "local", length_scale=1.2, seed=9),
    RequestSpec("How many legs does a spider have?", "piper", -40.0, "local", length_scale=0.9, seed=10),
    RequestSpec("What time is it?", "espeak", -60.0, "skill", words_per_minute=150, seed=11),
    RequestSpec("Who wrote Hamlet?", "espeak", -55.0, "local", words_per_minute=150, seed=12),
)
QUICK_REQUESTS = (FULL_REQUESTS[0], FULL_REQUESTS[1], FULL_REQUESTS[5])

FULL_NEGATIVES = (
    NegativeSpec("Please turn on the kitchen lights and close the blinds.", "piper", -60.0, seed=21),
    NegativeSpec("Hey Travis, are you coming to the party tonight?", "piper", -55.0, seed=22),
    NegativeSpec("Jarring travels are hard work, said Marvin.", "piper", -50.0, length_scale=0.9, seed=23),
    NegativeSpec("Hey, jars of jam from the harvest are in the service room.", "piper", -60.0, seed=24),
    NegativeSpec("Hey Garvey, did the jury reach a verdict?", "piper", -50.0, length_scale=1.15, seed=25),
    NegativeSpec("Hey Jeremy, have you seen my glasses?", "espeak", -60.0, seed=26),
    NegativeSpec("", "piper", -40.0, duration_s=15.0, seed=27),
    NegativeSpec("", "piper", -25.0, duration_s=15.0, seed=28),
)
QUICK_NEGATIVES = (FULL_NEGATIVES[1], FULL_NEGATIVES[6])

SpecT = TypeVar("SpecT", RequestSpec, NegativeSpec)


@dataclass(frozen=True, slots=True)
class GeneratedRequest:
    spec: RequestSpec
    recording: Recording


@dataclass(frozen=True, slots=True)
class PacedTurn:
    """Outcome of one request played at real time; times in seconds, None when not measured."""

    spec: RequestSpec
    turn: TurnResult | None
    turn_count: int
    wake_delay_s: float | None
    endpoint_true_s: float | None
    voice_to_voice_s: float | None


@dataclass(frozen=True, slots=True)
class WakeCount:
    """Wake word detections in one recording, by audio time."""

    label: str
    duration_s: float
    detections_s: tuple[float, ...]
    max_score: float
    hit: bool
    extra: int


@dataclass(frozen=True, slots=True)
class CpuReading:
    """Wall-clock time, this process's CPU time and the whole machine's busy and stolen CPU time, in seconds."""

    wall_s: float
    own_cpu_s: float
    machine_busy_s: float
    machine_steal_s: float

    @classmethod
    def now(cls) -> CpuReading:
        busy_s, steal_s = machine_cpu_s()
        return cls(time.monotonic(), time.process_time(), busy_s, steal_s)

    def contention_since(self, before: CpuReading) -> Contention:
        """Return the average cores other processes used, and the hypervisor took, since ``before``."""
        wall_s = self.wall_s - before.wall_s
        others_s = (self.machine_busy_s - before.machine_busy_s) - (self.own_cpu_s - before.own_cpu_s)
        return Contention(max(0.0, others_s / wall_s), (self.machine_steal_s - before.machine_steal_s) / wall_s)


@dataclass(frozen=True, slots=True)
class Contention:
    """Average cores kept busy by other processes, and stolen by the hypervisor, over a phase (NaN if unknown)."""

    other_cores: float
    steal_cores: float

    def describe(self) -> str:
        return f"{self.other_cores:.2f} cores used by other processes, {self.steal_cores:.2f} stolen"


@dataclass(frozen=True, slots=True)
class IdleUsage:
    listened_s: float
    cpu_s: float
    contention: Contention
    busiest_threads: tuple[tuple[str, float], ...]
    """The threads that used the most CPU time while listening, as (name, seconds)."""

    @property
    def cpu_percent(self) -> float:
        return 100.0 * self.cpu_s / self.listened_s


@dataclass(frozen=True, slots=True)
class ResidentMemory:
    """One reading of /proc/self/status, in MB: anonymous and file-backed pages make up ``rss_mb``."""

    rss_mb: float
    anon_mb: float
    file_mb: float


@dataclass(frozen=True, slots=True)
class MemoryUsage:
    """Resident set sizes in MB; file-backed pages (mostly the memory-mapped GGUF) are shown apart."""

    loaded: ResidentMemory
    listening: ResidentMemory
    peak_loading_mb: float
    peak_answering_mb: float
    peak_answering_only: bool
    """Whether the peak was reset before the requests; if not, ``peak_answering_mb`` covers the whole run."""


class PaceClock:
    """Wrap a real-time file source and estimate the loop time at which its audio time 0 began.

    A paced frame is yielded no earlier than start + its end time, so the
    smallest (yield time - end time) over all frames is the start, give or
    take the event loop's timer slack.
    """

    def __init__(self, inner: WavFileSource) -> None:
        self._inner = inner
        self.started_at = math.inf

    async def load(self) -> None:
        await self._inner.load()

    async def frames(self) -> AsyncIterator[AudioFrame]:
        loop = asyncio.get_running_loop()
        async for frame in self._inner.frames():
            self.started_at = min(self.started_at, loop.time() - frame.end_s)
            yield frame

    async def aclose(self) -> None:
        await self._inner.aclose()


class FirstPlaySink(NullSink):
    """A sink that discards audio and records the loop time of the first :meth:`play`."""

    def __init__(self) -> None:
        self.first_play_at: float | None = None

    async def play(self, samples: npt.NDArray[Any], sample_rate_hz: int) -> None:
        if self.first_play_at is None:
            self.first_play_at = asyncio.get_running_loop().time()


# ---------------------------------------------------------------- generation


def speak(stages: Stages, text: str, voice: Voice, length_scale: float, words_per_minute: int) -> Int16Array:
    if voice == "espeak":
        return espeak_speech(text, words_per_minute=words_per_minute)
    return piper_speech(stages.synthesizer, text, length_scale)


def generate_request(stages: Stages, spec: RequestSpec) -> GeneratedRequest:
    wake_text = "Hey Jarvis" if spec.voice == "espeak" else "Hey Jarvis."
    recording = compose(
        [
            ("lead", silence(LEAD_S)),
            ("wake", speak(stages, wake_text, spec.voice, spec.length_scale, spec.words_per_minute)),
            ("pause", silence(PAUSE_S)),
            ("request", speak(stages, spec.text, spec.voice, spec.length_scale, spec.words_per_minute)),
            ("tail", silence(TRAIL_S)),
        ]
    )
    noisy = add_noise(recording.samples, spec.noise_dbfs, seed=spec.seed)
    return GeneratedRequest(spec, Recording(noisy, recording.segments))


def generate_negative(stages: Stages, spec: NegativeSpec) -> Recording:
    if not spec.text:
        return compose([("noise", noise(spec.duration_s, spec.noise_dbfs, seed=spec.seed))])
    recording = compose(
        [
            ("lead", silence(LEAD_S)),
            ("speech", speak(stages, spec.text, spec.voice, spec.length_scale, 150)),
            ("tail", silence(1.0)),
        ]
    )
    return Recording(add_noise(recording.samples, spec.noise_dbfs, seed=spec.seed), recording.segments)


def usable_specs(specs: Sequence[SpecT]) -> list[SpecT]:
    if espeak_available():
        return list(specs)
    note("espeak-ng is not installed: the second-voice recordings are skipped (Debian: apt-get install espeak-ng)")
    return [spec for spec in specs if spec.voice != "espeak"]


# ---------------------------------------------------------------- paced runs


def new_assistant(stages: Stages, settings: Settings, sink: NullSink) -> Assistant:
    stages.wake.reset()
    stages.vad.reset()
    return Assistant(
        settings,
        wake=stages.wake,
        vad=stages.vad,
        transcriber=stages.transcriber,
        synthesizer=stages.synthesizer,
        router=stages.router,
        sink=sink,
    )


async def listen_paced(
    stages: Stages,
    settings: Settings,
    path: Path,
    on_turn: Callable[[TurnResult], None],
    tail_s: float,
    before_close: Callable[[], None] | None = None,
) -> tuple[PaceClock, FirstPlaySink]:
    """Run a fresh assistant over ``path`` at real time, as a live microphone would feed it.

    ``before_close`` runs after the source ends and before the assistant's worker threads stop.
    """
    source = PaceClock(WavFileSource(path, realtime=True, tail_silence_s=tail_s))
    await source.load()
    sink = FirstPlaySink()
    assistant = new_assistant(stages, settings, sink)
    try:
        # A microphone keeps delivering while a turn runs, so turns are not awaited frame by frame.
        await assistant.run(source, on_turn, wait_for_turns=False)
        if before_close is not None:
            before_close()
    finally:
        await assistant.aclose()
        await source.aclose()
    return source, sink


async def run_request(stages: Stages, settings: Settings, request: GeneratedRequest, folder: Path) -> PacedTurn:
    path = folder / "request.wav"
    await asyncio.to_thread(write_wav, path, request.recording.samples, SAMPLE_RATE_HZ)
    turns: list[TurnResult] = []
    clock, sink = await listen_paced(stages, settings, path, turns.append, SOURCE_TAIL_S)

    if len(turns) != 1:
        return PacedTurn(request.spec, turns[0] if turns else None, len(turns), None, None, None)
    turn = turns[0]
    wake_end_s = request.recording.segment("wake").end_s
    speech_end_s = request.recording.segment("request").end_s
    endpoint_true_s = None
    if turn.speech_end_s is not None and turn.latency.endpoint_s is not None:
        endpoint_true_s = turn.speech_end_s + turn.latency.endpoint_s - speech_end_s
    voice_to_voice_s = None
    if sink.first_play_at is not None and math.isfinite(clock.started_at):
        voice_to_voice_s = sink.first_play_at - (clock.started_at + speech_end_s)
    return PacedTurn(request.spec, turn, 1, turn.wake_s - wake_end_s, endpoint_true_s, voice_to_voice_s)


async def measure_idle(stages: Stages, settings: Settings, duration_s: float, folder: Path) -> IdleUsage:
    """Listen to a quiet room (white noise at -70 dBFS) at real time and return the process CPU time spent."""
    path = folder / "quiet.wav"
    await asyncio.to_thread(write_wav, path, noise(duration_s, -70.0, seed=99), SAMPLE_RATE_HZ)
    threads_before = thread_cpu_s()
    by_thread: dict[str, float] = {}

    def read_threads() -> None:
        names = {thread.native_id: f"thread {thread.name}" for thread in threading.enumerate()}
        for thread_id, cpu_s in thread_cpu_s().items():
            name = names.get(thread_id, "threads of native libraries")
            by_thread[name] = by_thread.get(name, 0.0) + cpu_s - threads_before.get(thread_id, 0.0)

    before = CpuReading.now()
    await listen_paced(stages, settings, path, lambda _turn: None, 0.0, before_close=read_threads)
    after = CpuReading.now()
    busiest = tuple(sorted(by_thread.items(), key=lambda item: item[1], reverse=True)[:3])
    return IdleUsage(
        after.wall_s - before.wall_s, after.own_cpu_s - before.own_cpu_s, after.contention_since(before), busiest
    )


def thread_cpu_s() -> dict[int, float]:
    """Return the CPU time of each thread of this process by native thread id, from /proc (empty elsewhere)."""
    ticks_per_s = os.sysconf("SC_CLK_TCK")
    times: dict[int, float] = {}
    try:
        tasks = list(Path("/proc/self/task").iterdir())
    except OSError:
        return times
    for task in tasks:
        try:
            # Fields after the parenthesised name: state is the 1st, utime the 12th and stime the 13th.
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        times[int(task.name)] = (int(fields[11]) + int(fields[12])) / ticks_per_s
    return times


# ---------------------------------------------------------------- unpaced measurements


def to_frames(samples: Int16Array) -> list[AudioFrame]:
    framer = Framer()
    frames = framer.push(samples)
    last = framer.flush(pad=True)
    if last is not None:
        frames.append(last)
    return frames


def count_wake(stages: Stages, settings: Settings, label: str, recording: Recording) -> tuple[WakeCount, float, int]:
    """Score every frame of ``recording`` and return its detections, the scoring time and the frame count.

    Detections follow the same gate as the assistant, except that nothing
    makes it busy: every detection in the recording is counted.
    """
    detector = stages.wake
    detector.reset()
    for frame in to_frames(silence(WAKE_PRIMING_S)):
        detector.score(frame.samples)
    gate = WakeGate(settings.wake.threshold, settings.wake.refractory_s, settings.wake.speaking_cooldown_s)
    frames = to_frames(recording.samples)
    detections: list[float] = []
    max_score = 0.0
    started = time.perf_counter()
    for frame in frames:
        score = detector.score(frame.samples)
        max_score = max(max_score, score)
        detection = gate.update(score, frame.end_s)
        if detection is not None:
            detections.append(detection.end_s)
    scoring_s = time.perf_counter() - started

    # A detection counts for the wake word if it comes after the wake word starts and before the request ends.
    wake = next((s for s in recording.segments if s.label == "wake"), None)
    request = next((s for s in recording.segments if s.label == "request"), None)
    if wake is None or request is None:
        count = WakeCount(label, recording.duration_s, tuple(detections), max_score, False, len(detections))
        return count, scoring_s, len(frames)
    in_window = [d for d in detections if wake.start_s < d <= request.end_s]
    hit = bool(in_window)
    count = WakeCount(label, recording.duration_s, tuple(detections), max_score, hit, len(detections) - int(hit))
    return count, scoring_s, len(frames)


def request_audio(request: GeneratedRequest) -> Int16Array:
    """Cut the request roughly as the endpointer does: pre-roll, speech and a short silence tail."""
    segment = request.recording.segment("request")
    start = max(0, round((segment.start_s - PRE_ROLL_S) * SAMPLE_RATE_HZ))
    end = round((segment.end_s + ENDPOINT_TAIL_S) * SAMPLE_RATE_HZ)
    return request.recording.samples[start:end]


def time_stt(stages: Stages, requests: Sequence[GeneratedRequest]) -> list[float]:
    durations = []
    for request in requests:
        audio = request_audio(request)
        started = time.perf_counter()
        stages.transcriber.transcribe(audio)
        durations.append(time.perf_counter() - started)
    return durations


def time_first_sentence_tts(stages: Stages, replies: Sequence[str]) -> list[float]:
    durations = []
    for reply in replies:
        sentences = split_sentences(reply)
        if not sentences:
            continue
        started = time.perf_counter()
        stages.synthesizer.synthesize(sentences[0])
        durations.append(time.perf_counter() - started)
    return durations


# ---------------------------------------------------------------- machine and memory


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def load_average() -> str:
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return "unknown"
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f}"


def machine_cpu_s() -> tuple[float, float]:
    """Return the CPU time all cores ran tasks, and lost to the hypervisor, since boot (NaN without /proc/stat)."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()
    except (OSError, IndexError):
        return math.nan, math.nan
    # The first line is "cpu user nice system idle iowait irq softirq steal ...", in clock ticks.
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(value) for value in fields[1:9])
    ticks_per_s = os.sysconf("SC_CLK_TCK")
    return (user + nice + system + irq + softirq) / ticks_per_s, steal / ticks_per_s


def machine_summary() -> str:
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (
        f"machine: {os.cpu_count()} cores ({usable} usable), {cpu_model()}, {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}"
    )


def resident_memory() -> ResidentMemory:
    """Read VmRSS, RssAnon and RssFile from /proc/self/status (NaN where that file does not exist)."""
    fields: dict[str, float] = {}
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if name in {"VmRSS", "RssAnon", "RssFile"}:
                fields[name] = int(value.split()[0]) / 1024
    except OSError:
        pass
    return ResidentMemory(
        fields.get("VmRSS", math.nan), fields.get("RssAnon", math.nan), fields.get("RssFile", math.nan)
    )


def peak_rss_mb() -> float:
    """Return the peak resident set size since start, or since :func:`reset_peak_rss` succeeded, in MB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports kilobytes, macOS bytes.
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def reset_peak_rss() -> bool:
    """Reset the peak resident set size to the current one (Linux 4.0 and later); return whether it worked."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


# ---------------------------------------------------------------- tables


def percentile(values: Sequence[float], q: float) -> float | None:
    return float(np.percentile(values, q)) if values else None


def seconds(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def status(met: bool | None) -> str:
    if met is None:
        return "n/a"
    return "met" if met else "missed"


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [
        max(len(header[i]), *(len(row[i]) for row in rows)) if rows else len(header[i]) for i in range(len(header))
    ]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)) + " |"

    return "\n".join([line(header), line(["-" * width for width in widths]), *(line(row) for row in rows)])


def latency_rows(turns: Sequence[PacedTurn]) -> list[list[str]]:
    answered = [t for t in turns if t.turn is not None and t.turn_count == 1]

    def pick(getter: Callable[[PacedTurn], float | None], route: str | None = None) -> list[float]:
        chosen = [t for t in answered if route is None or (t.turn is not None and t.turn.route == route)]
        return [value for value in map(getter, chosen) if value is not None]

    def latency(name: str) -> Callable[[PacedTurn], float | None]:
        return lambda t: None if t.turn is None else getattr(t.turn.latency, name)

    rows: list[tuple[str, list[float], float | None]] = [
        ("wake detection delay", pick(lambda t: t.wake_delay_s), None),
        ("endpoint delay, after VAD speech end", pick(latency("endpoint_s")), None),
        ("endpoint delay, after true speech end", pick(lambda t: t.endpoint_true_s), None),
        ("STT wait after endpoint", pick(latency("stt_s")), None),
        ("first token after transcript, local model", pick(latency("first_token_s"), "local"), None),
        ("first audio after endpoint", pick(latency("first_audio_s")), None),
        ("voice-to-voice, all", pick(lambda t: t.voice_to_voice_s), VOICE_TO_VOICE_TARGET_S),
        ("voice-to-voice, skill route", pick(lambda t: t.voice_to_voice_s, "skill"), VOICE_TO_VOICE_TARGET_S),
        ("voice-to-voice, local model route", pick(lambda t: t.voice_to_voice_s, "local"), VOICE_TO_VOICE_TARGET_S),
        ("voice-to-voice, assistant's own figure", pick(latency("voice_to_voice_s")), None),
    ]
    result = []
    for name, values, target in rows:
        p50 = percentile(values, 50)
        met = None if target is None or p50 is None else p50 <= target
        target_text = "–" if target is None else f"p50 <= {target:g}"
        result.append([name, str(len(values)), seconds(p50), seconds(percentile(values, 95)), target_text, status(met)])
    return result


def resource_rows(idle: IdleUsage, memory: MemoryUsage, load_s: float) -> list[list[str]]:
    cpu = idle.cpu_percent
    return [
        [
            f"idle CPU over {idle.listened_s:.0f} s of quiet room (% of one core)",
            f"{cpu:.1f}",
            f"< {IDLE_CPU_TARGET_PERCENT:g}",
            status(cpu < IDLE_CPU_TARGET_PERCENT),
        ],
        *(
            [f"  of which {name}", f"{100.0 * cpu_s / idle.listened_s:.1f}", "–", "–"]
            for name, cpu_s in idle.busiest_threads
        ),
        ["resident memory, models loaded (MB)", f"{memory.loaded.rss_mb:.0f}", "–", "–"],
        ["peak resident memory while loading (MB)", f"{memory.peak_loading_mb:.0f}", "–", "–"],
        [
            "resident memory while listening (MB)",
            f"{memory.listening.rss_mb:.0f}",
            f"< {RSS_TARGET_MB:g}",
            status(memory.listening.rss_mb < RSS_TARGET_MB),
        ],
        [
            "  of which anonymous / file-backed (MB)",
            f"{memory.listening.anon_mb:.0f} / {memory.listening.file_mb:.0f}",
            "–",
            "–",
        ],
        [
            "peak resident memory while answering (MB)" if memory.peak_answering_only else "peak resident memory (MB)",
            f"{memory.peak_answering_mb:.0f}",
            f"< {RSS_TARGET_MB:g}",
            status(memory.peak_answering_mb < RSS_TARGET_MB),
        ],
        ["model load time (s)", f"{load_s:.1f}", "–", "–"],
    ]


def wake_rows(positives: Sequence[WakeCount], negatives: Sequence[WakeCount]) -> list[list[str]]:
    hits = sum(count.hit for count in positives)
    extra = sum(count.extra for count in positives)
    speech = [count for count in negatives if not count.label.startswith(NOISE_LABEL)]
    noisy = [count for count in negatives if count.label.startswith(NOISE_LABEL)]

    def false_wakes(counts: Sequence[WakeCount]) -> list[str]:
        duration_s = sum(count.duration_s for count in counts)
        wakes = sum(len(count.detections_s) for count in counts)
        per_hour = wakes / duration_s * 3600 if duration_s else 0.0
        top = max((count.max_score for count in counts), default=0.0)
        return [str(len(counts)), f"{duration_s:.0f}", f"{wakes} false wakes ({per_hour:.0f} per hour)", f"{top:.3f}"]

    rate = 100.0 * hits / len(positives) if positives else 0.0
    top_positive = min((count.max_score for count in positives), default=0.0)
    return [
        [
            "requests with the wake word",
            str(len(positives)),
            f"{sum(c.duration_s for c in positives):.0f}",
            f"{hits}/{len(positives)} detected ({rate:.0f} %), {extra} extra",
            f"{top_positive:.3f} (lowest max)",
        ],
        ["speech without it, similar words", *false_wakes(speech)],
        ["white noise", *false_wakes(noisy)],
    ]


def component_rows(stt_s: Sequence[float], tts_s: Sequence[float], wake_ms_per_frame: float) -> list[list[str]]:
    return [
        [
            "STT of the request audio, Whisper tiny int8",
            str(len(stt_s)),
            seconds(percentile(stt_s, 50)),
            seconds(percentile(stt_s, 95)),
        ],
        [
            "TTS of the first reply sentence, Piper",
            str(len(tts_s)),
            seconds(percentile(tts_s, 50)),
            seconds(percentile(tts_s, 95)),
        ],
        ["wake word scoring per 80 ms frame (ms)", "–", f"{wake_ms_per_frame:.2f}", "–"],
    ]


def detail_rows(turns: Sequence[PacedTurn]) -> list[list[str]]:
    rows = []
    for index, paced in enumerate(turns, start=1):
        spec, turn = paced.spec, paced.turn
        heard = "(no turn)" if turn is None else turn.transcript
        if paced.turn_count > 1:
            heard += f" (+{paced.turn_count - 1} more turns)"
        route = "–" if turn is None else (turn.skill or turn.route or "–")
        reply = "" if turn is None else turn.reply
        rows.append(
            [
                str(index),
                spec.voice_label,
                f"{spec.noise_dbfs:g}",
                spec.text,
                heard,
                route,
                seconds(paced.wake_delay_s),
                seconds(paced.endpoint_true_s),
                seconds(paced.voice_to_voice_s),
                reply[:60] + ("…" if len(reply) > 60 else ""),
            ]
        )
    return rows


def negative_rows(negatives: Sequence[WakeCount]) -> list[list[str]]:
    return [
        [
            count.label,
            f"{count.duration_s:.1f}",
            ", ".join(f"{at_s:.2f}" for at_s in count.detections_s) or "none",
            f"{count.max_score:.3f}",
        ]
        for count in negatives
    ]


# ---------------------------------------------------------------- main


def settings_summary(settings: Settings) -> str:
    """Return the settings that shape the figures most, for the report header."""
    endpoint, llm = settings.endpoint, settings.llm
    return (
        f"settings: endpoint.end_silence_s={endpoint.end_silence_s:g}, "
        f"endpoint.early_transcription_s={endpoint.early_transcription_s:g}, stt.threads={settings.stt.threads} "
        f"(0 = one per core, at most 4), llm.threads={llm.threads}, llm.model={llm.model or 'bundled'}"
    )


def note(message: str) -> None:
    """Write a progress line to stderr, keeping stdout for the tables."""
    sys.stderr.write(f"bench_voice: {message}\n")
    sys.stderr.flush()


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Measure the local voice pipeline on generated requests.")
    parser.add_argument("--quick", action="store_true", help="3 requests and 15 s of idle listening, for a smoke run")
    parser.add_argument("--idle-s", type=float, help="seconds of idle listening (default 60, or 15 with --quick)")
    parser.add_argument(
        "--config",
        type=Path,
        help="settings file (TOML); default: the user's file as for `jarvis`, then JARVIS_* variables",
    )
    parser.add_argument(
        "--log-level", default="warning", choices=["debug", "info", "warning", "error"], help="lowest log level written"
    )
    args = parser.parse_args(argv)
    if args.idle_s is not None and args.idle_s <= 0:
        parser.error(f"--idle-s must be positive, got {args.idle_s}")
    return args


async def run_benchmark(args: argparse.Namespace, settings: Settings) -> str:
    requests_specs = usable_specs(QUICK_REQUESTS if args.quick else FULL_REQUESTS)
    negative_specs = usable_specs(QUICK_NEGATIVES if args.quick else FULL_NEGATIVES)
    idle_s = args.idle_s or (15.0 if args.quick else 60.0)
    load_before = load_average()

    note("loading models")
    started = time.monotonic()
    stages = await load_stages(settings)
    load_s = time.monotonic() - started
    memory_loaded = resident_memory()
    peak_loading_mb = peak_rss_mb()
    try:
        with tempfile.TemporaryDirectory(prefix="jarvis-bench-") as folder_name:
            folder = Path(folder_name)
            note(f"listening to {idle_s:.0f} s of quiet room at real time")
            idle = await measure_idle(stages, settings, idle_s, folder)
            memory_listening = resident_memory()

            note(
                f"generating {len(requests_specs)} requests and {len(negative_specs)} recordings without the wake word"
            )
            requests = [await asyncio.to_thread(generate_request, stages, spec) for spec in requests_specs]
            negatives = [await asyncio.to_thread(generate_negative, stages, spec) for spec in negative_specs]

            turns: list[PacedTurn] = []
            # The benchmark's own speech generation above is not part of the assistant's peak.
            peak_reset = reset_peak_rss()
            requests_before = CpuReading.now()
            for index, request in enumerate(requests, start=1):
                note(
                    f"request {index}/{len(requests)} at real time: {request.spec.text!r} ({request.spec.voice_label})"
                )
                turns.append(await run_request(stages, settings, request, folder))
            requests_contention = CpuReading.now().contention_since(requests_before)
            peak_answering_mb = peak_rss_mb()

        note("counting wake word detections")
        positives, negatives_counted, wake_ms = await asyncio.to_thread(
            count_all_wake, stages, settings, requests, negative_specs, negatives
        )
        note("timing speech recognition and synthesis alone")
        stt_s = await asyncio.to_thread(time_stt, stages, requests)
        replies = [t.turn.reply for t in turns if t.turn is not None and t.turn.reply]
        tts_s = await asyncio.to_thread(time_first_sentence_tts, stages, replies)
    finally:
        await stages.aclose()

    memory = MemoryUsage(memory_loaded, memory_listening, peak_loading_mb, peak_answering_mb, peak_reset)
    return render(
        requests=turns,
        idle=idle,
        memory=memory,
        load_s=load_s,
        positives=positives,
        negatives=negatives_counted,
        components=component_rows(stt_s, tts_s, wake_ms),
        load_before=load_before,
        requests_contention=requests_contention,
        settings=settings,
    )


def count_all_wake(
    stages: Stages,
    settings: Settings,
    requests: Sequence[GeneratedRequest],
    negative_specs: Sequence[NegativeSpec],
    negatives: Sequence[Recording],
) -> tuple[list[WakeCount], list[WakeCount], float]:
    """Count detections in every recording; return positives, negatives and the wake model's ms per frame."""
    scoring_s = 0.0
    frames = 0
    positives = []
    for request in requests:
        count, spent_s, scored = count_wake(stages, settings, request.spec.text, request.recording)
        positives.append(count)
        scoring_s += spent_s
        frames += scored
    counted_negatives = []
    for spec, recording in zip(negative_specs, negatives, strict=True):
        count, spent_s, scored = count_wake(stages, settings, spec.label, recording)
        counted_negatives.append(count)
        scoring_s += spent_s
        frames += scored
    return positives, counted_negatives, 1000.0 * scoring_s / max(1, frames)


def render(
    *,
    requests: Sequence[PacedTurn],
    idle: IdleUsage,
    memory: MemoryUsage,
    load_s: float,
    positives: Sequence[WakeCount],
    negatives: Sequence[WakeCount],
    components: list[list[str]],
    load_before: str,
    requests_contention: Contention,
    settings: Settings,
) -> str:
    answered = sum(1 for t in requests if t.turn is not None and t.turn_count == 1)
    expected = sum(1 for t in requests if t.turn is not None and t.turn.route == t.spec.expected_route)
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    sections = [
        f"JARVIS voice pipeline benchmark, {when}",
        machine_summary(),
        settings_summary(settings),
        f"load average (1 / 5 / 15 min): {load_before} at start, {load_average()} at end",
        f"contention from /proc/stat: {idle.contention.describe()} while idle CPU was measured; "
        f"{requests_contention.describe()} while the requests ran",
        "",
        f"Latency, local route, paced at real time: {answered}/{len(requests)} requests answered with one turn, "
        f"{expected} on the expected route. Seconds.",
        table(["stage", "n", "p50", "p95", "target", "status"], latency_rows(requests)),
        "",
        "Resources",
        table(["measure", "value", "target", "status"], resource_rows(idle, memory, load_s)),
        "",
        "Wake word (threshold and refractory time as configured; every detection counted)",
        table(["recordings", "count", "audio s", "detections", "max score"], wake_rows(positives, negatives)),
        "",
        "Stages alone, not paced (seconds unless stated)",
        table(["stage", "n", "p50", "p95"], components),
        "",
        "Requests",
        table(
            ["#", "voice", "noise dBFS", "request", "heard", "route", "wake delay", "endpoint", "v2v", "reply"],
            detail_rows(requests),
        ),
        "",
        "Recordings without the wake word",
        table(["recording", "audio s", "detections at (s)", "max score"], negative_rows(negatives)),
    ]
    return "\n".join(sections)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    configure_logging(args.log_level, "console")
    try:
        settings = load_settings(args.config)
    except ConfigError as err:
        sys.stderr.write(f"bench_voice: {err}\n")
        return 2
    note(machine_summary())
    note(settings_summary(settings))
    note(f"load average (1 / 5 / 15 min): {load_average()}")
    report = asyncio.run(run_benchmark(args, settings))
    sys.stdout.write(report + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
