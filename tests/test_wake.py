"""The wake gate turns scores into detections by audio time; the real model hears "hey Jarvis"."""

from __future__ import annotations

import numpy as np
import pytest

from jarvis.audio import FRAME_SAMPLES
from jarvis.models import ModelStore
from jarvis.wake import WakeGate, WakeWordDetector

FRAME_S = 0.08


def _gate() -> WakeGate:
    return WakeGate(threshold=0.5, refractory_s=1.0, speaking_cooldown_s=0.8)


def test_gate_detects_score_over_threshold() -> None:
    detection = _gate().update(0.9, frame_end_s=2.0)
    assert detection is not None
    assert detection.end_s == 2.0
    assert detection.score == 0.9


def test_gate_ignores_low_scores() -> None:
    assert _gate().update(0.49, frame_end_s=2.0) is None


def test_gate_refractory_period() -> None:
    gate = _gate()
    assert gate.update(0.9, 2.0) is not None
    assert gate.update(0.9, 2.5) is None
    assert gate.update(0.9, 2.96) is None
    assert gate.update(0.9, 3.0) is not None


def test_gate_ignores_wake_word_while_speaking() -> None:
    gate = _gate()
    gate.set_speaking(True, now_s=1.0)
    assert gate.update(0.99, 1.5) is None
    assert gate.update(0.99, 5.0) is None


def test_gate_cooldown_after_speaking() -> None:
    gate = _gate()
    gate.set_speaking(True, now_s=1.0)
    gate.set_speaking(False, now_s=3.0)
    assert gate.update(0.99, 3.4) is None
    assert gate.update(0.99, 3.79) is None
    assert gate.update(0.99, 3.8) is not None


def test_gate_busy_during_turn() -> None:
    gate = _gate()
    gate.set_busy(True)
    assert gate.update(0.99, 1.0) is None
    gate.set_busy(False)
    assert gate.update(0.99, 1.08) is not None


@pytest.fixture(scope="module")
def detector(model_store: ModelStore) -> WakeWordDetector:
    return WakeWordDetector.from_store(model_store)


def test_detector_rejects_wrong_frame_size(detector: WakeWordDetector) -> None:
    with pytest.raises(ValueError, match="1280 samples"):
        detector.score(np.zeros(1000, dtype=np.int16))


def test_detector_silence_scores_low(detector: WakeWordDetector) -> None:
    scores = [detector.score(np.zeros(FRAME_SAMPLES, dtype=np.int16)) for _ in range(40)]
    assert max(scores) < 0.1
