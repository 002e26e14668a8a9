"""Wake word: openWakeWord's "hey jarvis" model and the gate that decides when a score counts.

The detector scores every 80 ms frame, including frames heard while JARVIS
is speaking, so that its feature buffers stay continuous. Whether a high score
is a detection is decided by :class:`WakeGate`, a pure state machine advanced
by audio time: a refractory period after each detection, and no detections
while JARVIS speaks or for a short cooldown afterwards, so it never wakes
itself.
"""

from __future__ import annotations

import sys
import types
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from jarvis.audio import FRAME_SAMPLES
from jarvis.errors import ModelError
from jarvis.models import ModelStore


@dataclass(frozen=True, slots=True)
class WakeDetection:
    """A wake word heard at ``end_s``, the audio time of the end of the detecting frame."""

    end_s: float
    score: float


class WakeWordDetector:
    """openWakeWord classifier over 80 ms int16 frames at 16 kHz.

    Not thread-safe: one instance is used from one worker thread.
    """

    def __init__(self, model_path: Path, melspectrogram_path: Path, embedding_path: Path) -> None:
        _skip_verifier_training_import()
        try:
            from openwakeword.model import Model
        except ImportError as err:
            raise ModelError(f"openWakeWord is not installed ({err}); run pip install 'openwakeword==0.5.1'") from err
        try:
            self._model = Model(
                wakeword_models=[str(model_path)],
                inference_framework="onnx",
                melspec_model_path=str(melspectrogram_path),
                embedding_model_path=str(embedding_path),
            )
        except (ValueError, RuntimeError, OSError) as err:
            raise ModelError(f"wake word model {model_path} failed to load: {err}") from err
        self._name = next(iter(self._model.models))

    @classmethod
    def from_store(cls, store: ModelStore, override: Path | None = None) -> WakeWordDetector:
        """Load the configured model, or the bundled hey_jarvis, with its feature models."""
        return cls(
            store.resolve("wake_word", override),
            store.resolve("wake_melspectrogram"),
            store.resolve("wake_embedding"),
        )

    def score(self, frame: npt.NDArray[np.int16]) -> float:
        """Return the wake word score (0 to 1) after feeding one 80 ms frame."""
        if frame.shape != (FRAME_SAMPLES,):
            raise ValueError(f"wake word frames must hold {FRAME_SAMPLES} samples, got shape {frame.shape}")
        scores = self._model.predict(frame)
        return float(scores[self._name])

    def reset(self) -> None:
        """Forget the score history so a detection does not linger into the next frames."""
        self._model.reset()


def _skip_verifier_training_import() -> None:
    """Keep openWakeWord's package import from loading its verifier-training module.

    openwakeword 0.5.1's ``__init__`` imports ``custom_verifier_model`` only to re-export a
    training helper, and that module pulls in SciPy and scikit-learn: about 80 MB of resident
    memory that detection never uses. A placeholder module replaces it, so importing the
    real one later (to train a verifier) is not possible in this process.
    """
    name = "openwakeword.custom_verifier_model"
    if name in sys.modules or "openwakeword" in sys.modules:
        return
    placeholder = types.ModuleType(name)

    def train_custom_verifier(*_args: object, **_kwargs: object) -> None:
        raise ModelError("training openWakeWord verifiers is not available inside JARVIS; use openwakeword directly")

    placeholder.train_custom_verifier = train_custom_verifier  # type: ignore[attr-defined]
    sys.modules[name] = placeholder


class WakeGate:
    """Decide which wake scores are detections, by audio time.

    Args:
        threshold: score at or above which a frame counts.
        refractory_s: time after a detection during which scores are ignored.
        speaking_cooldown_s: time after JARVIS stops speaking during which
            scores are ignored, so the tail of its own voice cannot wake it.
    """

    def __init__(self, threshold: float, refractory_s: float, speaking_cooldown_s: float) -> None:
        self._threshold = threshold
        self._refractory_s = refractory_s
        self._cooldown_s = speaking_cooldown_s
        self._blocked_until_s = float("-inf")
        self._speaking = False
        self._busy = False

    def set_speaking(self, speaking: bool, now_s: float) -> None:
        """Tell the gate whether JARVIS is speaking at audio time ``now_s``."""
        if self._speaking and not speaking:
            self._blocked_until_s = max(self._blocked_until_s, now_s + self._cooldown_s)
        self._speaking = speaking

    def set_busy(self, busy: bool) -> None:
        """Ignore scores while a turn is being recorded or answered."""
        self._busy = busy

    def update(self, score: float, frame_end_s: float) -> WakeDetection | None:
        """Return a detection if ``score`` counts at audio time ``frame_end_s``."""
        if self._speaking or self._busy or frame_end_s < self._blocked_until_s:
            return None
        if score < self._threshold:
            return None
        self._blocked_until_s = frame_end_s + self._refractory_s
        return WakeDetection(end_s=frame_end_s, score=score)
