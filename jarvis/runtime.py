"""Build the stages from settings: load every model once, in parallel, off the event loop."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import structlog

from jarvis.audio.vad import SileroVad
from jarvis.brain.local_llm import LlamaCppModel, LocalModel, create_local_model
from jarvis.brain.router import Router
from jarvis.brain.skills import SkillSet
from jarvis.config import Settings
from jarvis.models import ModelStore
from jarvis.stt import Transcriber
from jarvis.tts import Synthesizer
from jarvis.wake import WakeWordDetector

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Stages:
    """Every loaded model and the router built on them."""

    wake: WakeWordDetector
    vad: SileroVad
    transcriber: Transcriber
    synthesizer: Synthesizer
    local: LocalModel
    router: Router

    async def aclose(self) -> None:
        await self.local.aclose()


async def load_stages(settings: Settings, store: ModelStore | None = None) -> Stages:
    """Load the wake, VAD, speech and answer models concurrently.

    Raises:
        ModelError: a model is missing, corrupt or fails to load.
    """
    store = store or ModelStore()
    wake, vad, transcriber, synthesizer = await asyncio.gather(
        asyncio.to_thread(WakeWordDetector.from_store, store, settings.wake.model),
        asyncio.to_thread(SileroVad, store.resolve("vad")),
        asyncio.to_thread(Transcriber.from_store, store, settings.stt),
        asyncio.to_thread(Synthesizer.from_store, store, settings.tts),
    )
    local = await asyncio.to_thread(create_local_model, store, settings.llm)
    if isinstance(local, LlamaCppModel):
        await local.load()
    router = Router(SkillSet(), local)
    return Stages(wake, vad, transcriber, synthesizer, local, router)


async def load_answering(settings: Settings, store: ModelStore | None = None) -> tuple[Router, LocalModel]:
    """Load only what answering text needs: skills and the local model (loaded on first use)."""
    store = store or ModelStore()
    local = await asyncio.to_thread(create_local_model, store, settings.llm)
    return Router(SkillSet(), local), local
