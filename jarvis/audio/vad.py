"""Voice activity detection with the Silero VAD v6 ONNX model that ships inside faster-whisper.

The model scores 512-sample chunks of 16 kHz audio (32 ms). Each chunk goes in
with the 64 samples that precede it as context, and an LSTM state (``h``, ``c``)
carries over from chunk to chunk. The model's first input dimension is the
sequence of chunks, so several chunks can be scored in one call with the same
result as scoring them one by one. The model has no sample-rate input and
works at 16 kHz only.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime
import structlog

from jarvis.errors import AudioFormatError, ModelError

SAMPLE_RATE_HZ = 16_000
CHUNK_SAMPLES = 512
CONTEXT_SAMPLES = 64
STATE_SHAPE = (1, 1, 128)

MODEL_PACKAGE = "faster-whisper"
MODEL_FILE = "silero_vad_v6.onnx"
_EXPECTED_INPUTS = {"input": [CONTEXT_SAMPLES + CHUNK_SAMPLES], "h": list(STATE_SHAPE), "c": list(STATE_SHAPE)}

_INT16_SCALE = 32768.0

log = structlog.get_logger(__name__)


def default_model_path() -> Path:
    """Return the path of the Silero VAD model bundled with faster-whisper.

    The package is located without importing it, because importing faster_whisper
    loads CTranslate2 and PyAV.

    Raises:
        ModelError: faster-whisper is not installed.
    """
    spec = importlib.util.find_spec("faster_whisper")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(
            f"the {MODEL_PACKAGE} package is not installed, and it provides the Silero VAD model {MODEL_FILE}. "
            f"Install it with 'pip install {MODEL_PACKAGE}'."
        )
    return Path(next(iter(spec.submodule_search_locations))) / "assets" / MODEL_FILE


class SileroVad:
    """Score audio frames with the probability that they contain speech.

    The instance keeps streaming state (LSTM state, the last 64 samples as
    context, and samples left over from the previous call), so one instance
    serves one audio stream and must be used from one thread only. Call
    :meth:`reset` before scoring an unrelated stream.

    Args:
        model_path: a Silero VAD v6 ONNX file; None for the copy inside faster-whisper.

    Raises:
        ModelError: the model file is missing, unreadable or has another interface.
    """

    def __init__(self, model_path: Path | None = None) -> None:
        self._model_path = model_path if model_path is not None else default_model_path()
        self._session = _load_session(self._model_path)
        self.reset()

    @property
    def model_path(self) -> Path:
        """Path of the loaded ONNX file."""
        return self._model_path

    def reset(self) -> None:
        """Clear the LSTM state, the context and the left-over samples, to start a new stream."""
        self._h = np.zeros(STATE_SHAPE, dtype=np.float32)
        self._c = np.zeros(STATE_SHAPE, dtype=np.float32)
        self._context = np.zeros(CONTEXT_SAMPLES, dtype=np.float32)
        self._pending = np.zeros(0, dtype=np.float32)
        self._last_probability = 0.0

    def speech_probability(self, frame: np.ndarray) -> float:
        """Score one frame of 16 kHz int16 mono audio and return a speech probability from 0 to 1.

        Frames of any length are accepted; the usual frame is 1280 samples (80 ms).
        The model works on 512-sample chunks, so samples that do not fill a whole
        chunk wait for the next call. Every sample is scored exactly once, in order.
        An 80 ms frame completes two or three chunks.

        The result is the maximum over the chunks completed in this call. The
        maximum keeps a short syllable onset that a mean over 80 ms would dilute.
        Isolated spikes are the endpointer's job, which needs several speech
        frames in a row before speech starts. When the call completes no chunk,
        the probability of the most recent chunk is returned (0.0 after a reset).

        Raises:
            AudioFormatError: ``frame`` is not a 1-D int16 array.
            ModelError: inference failed.
        """
        if not isinstance(frame, np.ndarray) or frame.dtype != np.int16 or frame.ndim != 1:
            shape = getattr(frame, "shape", None)
            dtype = getattr(frame, "dtype", type(frame).__name__)
            raise AudioFormatError(
                f"VAD frame must be a 1-D int16 numpy array of 16 kHz mono samples, got {dtype} with shape {shape}"
            )

        samples = np.concatenate([self._pending, frame.astype(np.float32) / _INT16_SCALE])
        chunk_count = samples.shape[0] // CHUNK_SAMPLES
        self._pending = samples[chunk_count * CHUNK_SAMPLES :]
        if chunk_count == 0:
            return self._last_probability

        probabilities = self._score_chunks(samples[: chunk_count * CHUNK_SAMPLES].reshape(chunk_count, CHUNK_SAMPLES))
        self._last_probability = float(probabilities[-1])
        return float(probabilities.max())

    def _score_chunks(self, chunks: np.ndarray) -> np.ndarray:
        """Run the model over consecutive chunks and carry the state and context forward."""
        # Row i is the 64 samples before chunk i followed by chunk i.
        contexts = np.empty((chunks.shape[0], CONTEXT_SAMPLES), dtype=np.float32)
        contexts[0] = self._context
        contexts[1:] = chunks[:-1, -CONTEXT_SAMPLES:]
        rows = np.concatenate([contexts, chunks], axis=1)

        try:
            probabilities, self._h, self._c = self._session.run(None, {"input": rows, "h": self._h, "c": self._c})
        except Exception as err:  # onnxruntime's errors derive from Exception directly
            raise ModelError(f"Silero VAD inference failed with {self._model_path}: {err}") from err

        self._context = chunks[-1, -CONTEXT_SAMPLES:].copy()
        return np.asarray(probabilities, dtype=np.float32).reshape(-1)


def _load_session(path: Path) -> Any:
    """Open ``path`` with onnxruntime on one CPU thread and check that it has the Silero VAD v6 interface."""
    if not path.is_file():
        raise ModelError(
            f"Silero VAD model not found at {path}. It ships with the {MODEL_PACKAGE} package as assets/{MODEL_FILE}. "
            f"Reinstall it with 'pip install --force-reinstall {MODEL_PACKAGE}' or set the path to a copy of the file."
        )

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3  # 3 = errors only, so load-time warnings stay out of the log
    try:
        session = onnxruntime.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
    except Exception as err:  # onnxruntime's errors derive from Exception directly
        raise ModelError(
            f"cannot load the Silero VAD model {path}: {err}. "
            f"The file may be corrupt; reinstall {MODEL_PACKAGE} to restore {MODEL_FILE}."
        ) from err

    _check_interface(session, path)
    log.debug("vad_model_loaded", path=str(path))
    return session


def _check_interface(session: Any, path: Path) -> None:
    """Raise ModelError unless the model takes ``input`` (chunks of 576 samples), ``h`` and ``c``."""
    found = {node.name: list(node.shape) for node in session.get_inputs()}
    expected_names = set(_EXPECTED_INPUTS)
    matches = set(found) == expected_names and all(
        found[name][-len(shape) :] == shape for name, shape in _EXPECTED_INPUTS.items()
    )
    if not matches:
        raise ModelError(
            f"{path} is not the Silero VAD v6 model from {MODEL_PACKAGE}: expected inputs input[*, 576], "
            f"h[1, 1, 128] and c[1, 1, 128], found {found}"
        )
