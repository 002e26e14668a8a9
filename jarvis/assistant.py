"""The turn state machine: wake word, request, transcript, answer, speech.

One :class:`Assistant` consumes 80 ms frames from an audio source. Every
frame is scored by the wake word model (so its features stay continuous);
after a detection the voice activity model scores frames for the endpointer
until the request ends. The request is then transcribed, routed and spoken
sentence by sentence: the first sentence plays while later ones are still
being generated and synthesised.

Each model runs on its own single worker thread, so no blocking inference
touches the event loop and no model instance is shared between threads.
With a live microphone the source keeps running during a turn and the wake
gate ignores it; with a file source the next frames wait until the turn is
finished, which keeps a recording's turns in order however fast it is read.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import structlog

from jarvis.audio import FRAME_DURATION_S, AudioFrame
from jarvis.audio.endpoint import Endpointer, EndpointResult, EndReason
from jarvis.audio.sinks import AudioSink
from jarvis.audio.sources import AudioSource
from jarvis.audio.vad import SileroVad
from jarvis.brain.router import Router
from jarvis.config import Settings
from jarvis.errors import JarvisError
from jarvis.sentences import SentenceSplitter
from jarvis.stt import Transcriber, Transcript
from jarvis.tts import SpokenAudio, Synthesizer
from jarvis.wake import WakeDetection, WakeGate, WakeWordDetector

log = structlog.get_logger(__name__)

# Whisper hears the wake word's tail in the pre-roll; it is not part of the request.
_WAKE_PHRASE = re.compile(r"^\W*(?:(?:hey|hi|hay|a|okay|ok)\W+)?(?:jarvis|jervis|jarvas|travis|service)\b\W*", re.I)
_SORRY = "Sorry, something went wrong while answering."


@dataclass(frozen=True, slots=True)
class TurnLatency:
    """Per-stage latencies of one turn, in seconds.

    ``endpoint_s`` is audio time from the end of speech to the end decision;
    the others are wall-clock time. ``voice_to_voice_s`` runs from the end of
    the user's speech to the first reply sample handed to the output.
    """

    endpoint_s: float | None
    stt_s: float
    first_token_s: float | None
    first_audio_s: float | None
    voice_to_voice_s: float | None
    total_s: float


@dataclass(frozen=True, slots=True)
class TurnResult:
    """Everything one turn produced; times are audio time in the input unless named otherwise."""

    index: int
    wake_s: float
    wake_score: float
    speech_start_s: float | None
    speech_end_s: float | None
    end_reason: str
    transcript: str
    route: str | None
    skill: str | None
    reply: str
    reply_audio_s: float
    reply_offset_s: float | None
    latency: TurnLatency
    error: str | None = None

    def to_record(self) -> dict[str, Any]:
        """Return the turn as a JSON-ready dict with rounded times."""
        record: dict[str, Any] = {
            "turn": self.index,
            "wake_s": round(self.wake_s, 3),
            "wake_score": round(self.wake_score, 3),
            "speech_start_s": _rounded(self.speech_start_s),
            "speech_end_s": _rounded(self.speech_end_s),
            "end_reason": self.end_reason,
            "transcript": self.transcript,
            "route": self.route,
            "skill": self.skill,
            "reply": self.reply,
            "reply_audio_s": round(self.reply_audio_s, 3),
            "reply_offset_s": _rounded(self.reply_offset_s),
            "latency_s": {name: _rounded(getattr(self.latency, name)) for name in self.latency.__slots__},
        }
        if self.error:
            record["error"] = self.error
        return record


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def strip_wake_phrase(text: str) -> str:
    """Remove a leading "hey Jarvis" that Whisper heard in the pre-roll."""
    return _WAKE_PHRASE.sub("", text, count=1).strip()


@dataclass(frozen=True, slots=True)
class _EarlyTranscript:
    """A transcription started during the end-of-speech silence, for speech ending at ``speech_end_s``."""

    speech_end_s: float
    future: asyncio.Future[Transcript]


@dataclass
class _Reply:
    """Mutable bookkeeping while one reply is generated and spoken."""

    text: list[str] = field(default_factory=list)
    audio_s: float = 0.0
    first_token_at: float | None = None
    first_audio_at: float | None = None


class Assistant:
    """Run turns over an audio source until it ends or the task is cancelled."""

    def __init__(
        self,
        settings: Settings,
        *,
        wake: WakeWordDetector,
        vad: SileroVad,
        transcriber: Transcriber,
        synthesizer: Synthesizer,
        router: Router,
        sink: AudioSink,
    ) -> None:
        self._settings = settings
        self._wake = wake
        self._vad = vad
        self._transcriber = transcriber
        self._synthesizer = synthesizer
        self._router = router
        self._sink = sink
        self._gate = WakeGate(settings.wake.threshold, settings.wake.refractory_s, settings.wake.speaking_cooldown_s)
        self._listen_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="jarvis-listen")
        self._stt_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="jarvis-stt")
        self._tts_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="jarvis-tts")
        pre_roll_frames = max(1, round(settings.endpoint.pre_roll_s / FRAME_DURATION_S) + 1)
        self._history: deque[AudioFrame] = deque(maxlen=pre_roll_frames)
        self._turns = 0
        self._last_reply = ""

    async def run(
        self,
        source: AudioSource,
        on_turn: Callable[[TurnResult], None],
        *,
        wait_for_turns: bool = False,
    ) -> int:
        """Listen to ``source`` until it ends; return the number of turns.

        ``wait_for_turns`` pauses reading the source while a turn runs (file input);
        a live microphone keeps flowing and the wake gate ignores it meanwhile.
        """
        loop = asyncio.get_running_loop()
        endpointer: Endpointer | None = None
        detection: WakeDetection | None = None
        early: _EarlyTranscript | None = None
        pending: set[asyncio.Task[None]] = set()
        try:
            async for frame in source.frames():
                self._gate.set_speaking(self._sink.is_playing(), frame.start_s)
                score, speech_prob = await loop.run_in_executor(
                    self._listen_thread, self._score_frame, frame.samples, endpointer is not None
                )
                if endpointer is None or detection is None:
                    detection = self._gate.update(score, frame.end_s)
                    self._history.append(frame)
                    if detection is not None:
                        endpointer = self._begin_request(detection)
                    continue
                result = endpointer.update(frame.samples, speech_prob)
                if result is None:
                    early = self._maybe_transcribe_early(endpointer, early)
                    continue
                log.debug("request_ended", wake_s=round(detection.end_s, 3), end_reason=result.reason.name.lower())
                transcript = early.future if early is not None and early.speech_end_s == result.speech_end_s else None
                task = asyncio.create_task(
                    self._run_turn(detection, result, transcript, on_turn), name=f"turn-{self._turns + 1}"
                )
                pending.add(task)
                task.add_done_callback(pending.discard)
                endpointer, detection, early = None, None, None
                self._history.clear()
                if wait_for_turns:
                    await task
        except asyncio.CancelledError:
            # Turns still being answered belong to this run. Stop them before the caller shuts down the worker threads.
            unfinished = list(pending)
            for turn_task in unfinished:
                turn_task.cancel()
            await asyncio.gather(*unfinished, return_exceptions=True)
            raise
        if pending:
            await asyncio.gather(*pending)
        return self._turns

    def _maybe_transcribe_early(
        self, endpointer: Endpointer, early: _EarlyTranscript | None
    ) -> _EarlyTranscript | None:
        """Start transcribing once the user has paused, before the end of speech is certain.

        The result is used only if the request ends at the same point. If the
        user speaks again, a later pause starts a new early transcription.
        """
        after_s = self._settings.endpoint.early_transcription_s
        speech_end_s = endpointer.last_speech_end_s
        if after_s <= 0 or endpointer.trailing_silence_s < after_s or speech_end_s is None:
            return early
        if early is not None and (early.speech_end_s == speech_end_s or not early.future.done()):
            # Either this pause is already being transcribed, or an earlier one still is: queueing
            # more work on the single speech thread would only delay the final transcript.
            return early
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._stt_thread, self._transcriber.transcribe, endpointer.request_audio_so_far())
        # An early result that is never used must not report its error as unretrieved.
        future.add_done_callback(lambda done: done.cancelled() or done.exception())
        return _EarlyTranscript(speech_end_s, future)

    def _score_frame(self, samples: npt.NDArray[np.int16], recording: bool) -> tuple[float, float]:
        """Score one frame on the listening thread: wake word always, speech only while recording."""
        score = self._wake.score(samples)
        return score, self._vad.speech_probability(samples) if recording else 0.0

    def _begin_request(self, detection: WakeDetection) -> Endpointer:
        log.info("wake_word_detected", wake_s=round(detection.end_s, 3), score=round(detection.score, 3))
        self._gate.set_busy(True)
        endpointer = Endpointer(self._settings.endpoint, FRAME_DURATION_S)
        endpointer.start([frame.samples for frame in self._history])
        self._listen_thread.submit(self._reset_listeners)
        return endpointer

    def _reset_listeners(self) -> None:
        self._vad.reset()
        self._wake.reset()

    async def _run_turn(
        self,
        detection: WakeDetection,
        result: EndpointResult,
        early_transcript: asyncio.Future[Transcript] | None,
        on_turn: Callable[[TurnResult], None],
    ) -> None:
        try:
            turn = await self._answer_request(detection, result, early_transcript)
        except asyncio.CancelledError:
            log.info("turn_cancelled", wake_s=round(detection.end_s, 3))
            raise
        except JarvisError as err:
            log.error("turn_failed", wake_s=round(detection.end_s, 3), error=str(err), error_type=type(err).__name__)
            turn = None
        except Exception as err:
            # A bug in one turn must not stop the assistant: log it once here and keep listening.
            log.exception("turn_crashed", wake_s=round(detection.end_s, 3), error_type=type(err).__name__)
            turn = None
        finally:
            self._gate.set_busy(False)
        if turn is not None:
            on_turn(turn)

    async def _answer_request(
        self, detection: WakeDetection, result: EndpointResult, early_transcript: asyncio.Future[Transcript] | None
    ) -> TurnResult | None:
        started = time.monotonic()
        wake_s = detection.end_s
        if result.reason is EndReason.NO_SPEECH:
            log.info("turn_no_speech", wake_s=round(wake_s, 3), reason="timeout")
            return None

        transcript = await (early_transcript if early_transcript is not None else self._transcribe(result.audio))
        stt_s = time.monotonic() - started
        text = strip_wake_phrase(transcript.text)
        if not text:
            log.info("turn_no_speech", wake_s=round(wake_s, 3), reason=transcript.rejected or "wake_word_only")
            return None

        self._turns += 1
        routed = self._router.route(text)
        reply = _Reply()
        error: str | None = None
        offset_s = self._sink.mark_turn_start() if hasattr(self._sink, "mark_turn_start") else None
        try:
            await self._speak_answer(routed.deltas, routed.action, reply)
        except JarvisError as err:
            log.error("answer_failed", route=routed.route, error=str(err), error_type=type(err).__name__)
            error = type(err).__name__
            await self._speak_text(_SORRY, reply)

        reply_text = " ".join(reply.text).strip()
        if reply_text and routed.action == "none":
            self._last_reply = reply_text
        latency = self._latency(detection, result, started, stt_s, reply)
        turn = TurnResult(
            index=self._turns,
            wake_s=wake_s,
            wake_score=detection.score,
            speech_start_s=_shift(result.speech_start_s, wake_s),
            speech_end_s=_shift(result.speech_end_s, wake_s),
            end_reason=result.reason.name.lower(),
            transcript=text,
            route=routed.route,
            skill=routed.skill,
            reply=reply_text,
            reply_audio_s=reply.audio_s,
            reply_offset_s=offset_s,
            latency=latency,
            error=error,
        )
        log.info("turn_finished", **{k: v for k, v in turn.to_record().items() if k not in {"transcript", "reply"}})
        return turn

    async def _transcribe(self, audio: npt.NDArray[np.int16]) -> Transcript:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._stt_thread, self._transcriber.transcribe, audio)

    async def _speak_answer(self, deltas: AsyncIterator[str], action: str, reply: _Reply) -> None:
        if action == "stop":
            await self._sink.stop()
            return
        if action == "repeat":
            await self._speak_text(self._last_reply or "I haven't said anything yet.", reply)
            return
        splitter = SentenceSplitter()
        async for delta in deltas:
            if reply.first_token_at is None:
                reply.first_token_at = time.monotonic()
            for sentence in splitter.feed(delta):
                await self._speak_sentence(sentence, reply)
        for sentence in splitter.flush():
            await self._speak_sentence(sentence, reply)
        if not reply.text:
            await self._speak_text("Sorry, I don't have an answer to that.", reply)

    async def _speak_text(self, text: str, reply: _Reply) -> None:
        if reply.first_token_at is None:
            reply.first_token_at = time.monotonic()
        await self._speak_sentence(text, reply)

    async def _speak_sentence(self, sentence: str, reply: _Reply) -> None:
        sentence = sentence.strip()
        if not sentence:
            return
        reply.text.append(sentence)
        loop = asyncio.get_running_loop()
        audio: SpokenAudio | None = await loop.run_in_executor(self._tts_thread, self._synthesizer.synthesize, sentence)
        if audio is None:
            return
        if reply.first_audio_at is None:
            reply.first_audio_at = time.monotonic()
        reply.audio_s += audio.duration_s
        await self._sink.play(audio.samples, audio.sample_rate_hz)

    def _latency(
        self, detection: WakeDetection, result: EndpointResult, started: float, stt_s: float, reply: _Reply
    ) -> TurnLatency:
        first_token_s = None if reply.first_token_at is None else reply.first_token_at - started - stt_s
        first_audio_s = None if reply.first_audio_at is None else reply.first_audio_at - started
        endpoint_s = result.endpoint_delay_s
        voice_to_voice_s = None
        if first_audio_s is not None and endpoint_s is not None:
            voice_to_voice_s = endpoint_s + first_audio_s
        return TurnLatency(
            endpoint_s=endpoint_s,
            stt_s=stt_s,
            first_token_s=first_token_s,
            first_audio_s=first_audio_s,
            voice_to_voice_s=voice_to_voice_s,
            total_s=time.monotonic() - started,
        )

    async def aclose(self) -> None:
        """Stop the worker threads after the work they already have."""
        for executor in (self._listen_thread, self._stt_thread, self._tts_thread):
            await asyncio.get_running_loop().run_in_executor(None, executor.shutdown)


def _shift(relative_s: float | None, origin_s: float) -> float | None:
    """Turn an endpointer time (relative to the wake detection) into input audio time."""
    return None if relative_s is None else origin_s + relative_s
