"""Whole turns on real models: generated speech in, spoken replies out.

Every recording is made at test time with the bundled Piper voice (several
speeds, added noise) and, where eSpeak NG is installed, a second voice. The
replies are transcribed back with Whisper and compared as normalised words,
because Whisper tiny spells numbers and names its own way.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from jarvis.assistant import Assistant, TurnResult, strip_wake_phrase
from jarvis.audio import SAMPLE_RATE_HZ
from jarvis.audio.convert import resample
from jarvis.audio.sinks import WavSink
from jarvis.audio.sources import WavFileSource
from jarvis.audio.vad import SileroVad
from jarvis.audio.wav import read_wav, write_wav
from jarvis.brain.local_llm import LlamaCppModel
from jarvis.brain.router import Router
from jarvis.brain.skills import SkillSet
from jarvis.config import Settings
from jarvis.models import ModelStore
from jarvis.stt import Transcriber, normalise_words
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
from jarvis.tts import Synthesizer
from jarvis.wake import WakeWordDetector

FIXED_NOW = datetime(2026, 12, 4, 9, 45).astimezone()


@pytest.fixture(scope="module")
def local_model(model_store: ModelStore, settings: Settings) -> Iterator[LlamaCppModel]:
    model = LlamaCppModel.from_store(model_store, settings.llm)
    yield model
    model._close_sync()
    model._executor.shutdown()


async def _run(
    tmp_path: Path,
    recording: Recording,
    *,
    settings: Settings,
    model_store: ModelStore,
    synthesizer: Synthesizer,
    transcriber: Transcriber,
    local_model: LlamaCppModel,
    router: Router | None = None,
) -> tuple[list[TurnResult], Path]:
    """Write ``recording`` to a WAV, run the assistant over it and return the turns and the reply file."""
    request_path = tmp_path / "request.wav"
    reply_path = tmp_path / "reply.wav"
    write_wav(request_path, recording.samples, SAMPLE_RATE_HZ)
    source = WavFileSource(request_path)
    sink = WavSink(reply_path)
    assistant = Assistant(
        settings,
        wake=WakeWordDetector.from_store(model_store),
        vad=SileroVad(model_store.resolve("vad")),
        transcriber=transcriber,
        synthesizer=synthesizer,
        router=router or Router(SkillSet(clock=lambda: FIXED_NOW), local_model),
        sink=sink,
    )
    turns: list[TurnResult] = []
    try:
        await assistant.run(source, turns.append, wait_for_turns=True)
    finally:
        await assistant.aclose()
        await source.aclose()
        await sink.aclose()
    return turns, reply_path


def _reply_transcript(reply_path: Path, transcriber: Transcriber, turn: TurnResult) -> str:
    samples, rate = read_wav(reply_path)
    start = round((turn.reply_offset_s or 0.0) * rate)
    end = start + round(turn.reply_audio_s * rate)
    mono = samples[start:end, 0]
    audio_16k = resample(mono, rate, SAMPLE_RATE_HZ)
    int16 = np.clip(audio_16k * 32768, -32768, 32767).astype(np.int16)
    return transcriber.transcribe(int16).text


def _digits(text: str) -> str:
    """Return the digits of ``text`` run together: Whisper writes 9:45 as "9.45", "9:45" or "945"."""
    return "".join(re.findall(r"\d", text))


@pytest.fixture
def run_recording(tmp_path, settings, model_store, synthesizer, transcriber, local_model):
    async def run(recording: Recording) -> tuple[list[TurnResult], Path]:
        return await _run(
            tmp_path,
            recording,
            settings=settings,
            model_store=model_store,
            synthesizer=synthesizer,
            transcriber=transcriber,
            local_model=local_model,
        )

    return run


@pytest.mark.asyncio
@pytest.mark.parametrize(("length_scale", "noise_dbfs"), [(1.0, -70.0), (0.85, -45.0), (1.2, -50.0)])
async def test_time_request_spoken_back(
    run_recording, synthesizer: Synthesizer, transcriber: Transcriber, length_scale: float, noise_dbfs: float
) -> None:
    recording = compose(
        [
            ("lead", silence(1.0)),
            ("wake", piper_speech(synthesizer, "Hey Jarvis.", length_scale)),
            ("pause", silence(0.3)),
            ("request", piper_speech(synthesizer, "What time is it?", length_scale)),
            ("tail", silence(0.5)),
        ]
    )
    noisy = Recording(add_noise(recording.samples, noise_dbfs, seed=3), recording.segments)
    turns, reply_path = await run_recording(noisy)

    assert len(turns) == 1
    turn = turns[0]
    assert "time" in normalise_words(turn.transcript).split()
    assert turn.route == "skill"
    assert turn.skill == "time"
    assert turn.reply == "It's 9:45 AM."
    assert recording.segment("wake").start_s < turn.wake_s < recording.segment("request").end_s
    spoken_back = _reply_transcript(reply_path, transcriber, turn)
    assert "945" in _digits(spoken_back), spoken_back


@pytest.mark.asyncio
async def test_two_requests_give_two_turns(run_recording, synthesizer: Synthesizer, transcriber) -> None:
    recording = compose(
        [
            ("lead", silence(0.8)),
            ("wake", piper_speech(synthesizer, "Hey Jarvis.")),
            ("pause", silence(0.3)),
            ("request", piper_speech(synthesizer, "What is twelve times seven?")),
            ("gap", silence(2.0)),
            ("wake", piper_speech(synthesizer, "Hey Jarvis.")),
            ("pause", silence(0.3)),
            ("request", piper_speech(synthesizer, "What day is it today?")),
            ("tail", silence(0.5)),
        ]
    )
    turns, reply_path = await run_recording(recording)

    assert [turn.index for turn in turns] == [1, 2]
    assert turns[0].reply == "12 times 7 is 84."
    assert turns[1].skill == "date"
    assert turns[0].wake_s < recording.all("wake")[1].start_s < turns[1].wake_s
    assert "84" in _digits(_reply_transcript(reply_path, transcriber, turns[0]))
    assert turns[1].reply_offset_s is not None
    assert turns[1].reply_offset_s >= turns[0].reply_audio_s


@pytest.mark.asyncio
async def test_open_question_goes_to_local_model(run_recording, synthesizer: Synthesizer) -> None:
    recording = compose(
        [
            ("lead", silence(0.8)),
            ("wake", piper_speech(synthesizer, "Hey Jarvis.")),
            ("pause", silence(0.3)),
            ("request", piper_speech(synthesizer, "Who painted the Mona Lisa?")),
            ("tail", silence(0.5)),
        ]
    )
    turns, _ = await run_recording(recording)

    assert len(turns) == 1
    assert turns[0].route == "local"
    assert turns[0].reply
    assert turns[0].latency.first_token_s is not None
    assert turns[0].latency.voice_to_voice_s is not None


@pytest.mark.asyncio
async def test_silence_gives_no_turn(run_recording) -> None:
    turns, _ = await run_recording(compose([("silence", silence(8.0))]))
    assert turns == []


@pytest.mark.asyncio
async def test_noise_gives_no_turn(run_recording) -> None:
    turns, _ = await run_recording(compose([("noise", noise(8.0, level_dbfs=-25.0, seed=11))]))
    assert turns == []


@pytest.mark.asyncio
async def test_speech_without_wake_word_gives_no_turn(run_recording, synthesizer: Synthesizer) -> None:
    recording = compose(
        [
            ("lead", silence(0.5)),
            ("speech", piper_speech(synthesizer, "What time is it? Please turn on the kitchen lights.")),
            ("gap", silence(0.5)),
            ("speech", piper_speech(synthesizer, "Jarring travels are hard work, said Marvin.")),
            ("tail", silence(0.5)),
        ]
    )
    turns, _ = await run_recording(recording)
    assert turns == []


@pytest.mark.asyncio
async def test_wake_word_then_silence_gives_no_turn(run_recording, synthesizer: Synthesizer) -> None:
    recording = compose([("wake", piper_speech(synthesizer, "Hey Jarvis.")), ("tail", silence(6.0))])
    turns, _ = await run_recording(recording)
    assert turns == []


@pytest.mark.asyncio
@pytest.mark.skipif(not espeak_available(), reason="espeak-ng is not installed (scripts/setup.sh --test installs it)")
async def test_second_voice_request(run_recording, synthesizer: Synthesizer) -> None:
    recording = compose(
        [
            ("lead", silence(0.8)),
            ("wake", espeak_speech("Hey Jarvis", words_per_minute=150)),
            ("pause", silence(0.3)),
            ("request", espeak_speech("What time is it?", words_per_minute=150)),
            ("tail", silence(0.5)),
        ]
    )
    turns, _ = await run_recording(recording)

    # Whisper tiny mishears most of eSpeak's robotic vowels; this short request it reads reliably.
    assert len(turns) == 1
    assert turns[0].skill == "time"
    assert turns[0].reply == "It's 9:45 AM."


@pytest.mark.parametrize(
    ("heard", "expected"),
    [
        ("Hey Jarvis, what time is it?", "what time is it?"),
        ("Jarvis. Stop.", "Stop."),
        ("What time is it?", "What time is it?"),
    ],
)
def test_strip_wake_phrase(heard: str, expected: str) -> None:
    assert strip_wake_phrase(heard) == expected


class _FailsOnceRouter(Router):
    """A router whose first request fails with an unexpected error, as a bug would."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.calls = 0

    def route(self, question: str):  # type: ignore[override]
        self.calls += 1
        if self.calls == 1:
            raise RuntimeError("simulated bug in the router")
        return super().route(question)


@pytest.mark.asyncio
async def test_failed_turn_keeps_assistant_listening(
    tmp_path, settings, model_store, synthesizer, transcriber, local_model
) -> None:
    recording = compose(
        [
            ("lead", silence(0.8)),
            ("wake", piper_speech(synthesizer, "Hey Jarvis.")),
            ("pause", silence(0.3)),
            ("request", piper_speech(synthesizer, "What time is it?")),
            ("gap", silence(2.0)),
            ("wake", piper_speech(synthesizer, "Hey Jarvis.")),
            ("pause", silence(0.3)),
            ("request", piper_speech(synthesizer, "What is twelve times seven?")),
            ("tail", silence(0.5)),
        ]
    )
    router = _FailsOnceRouter(SkillSet(clock=lambda: FIXED_NOW), local_model)
    turns, _ = await _run(
        tmp_path,
        recording,
        settings=settings,
        model_store=model_store,
        synthesizer=synthesizer,
        transcriber=transcriber,
        local_model=local_model,
        router=router,
    )

    assert router.calls == 2
    assert len(turns) == 1
    assert turns[0].reply == "12 times 7 is 84."
