"""Write the bundled demo recording, jarvis/data/demo-request.wav.

Two requests spoken by the bundled Piper voice, each after "Hey Jarvis":
one answered by a local skill (the time) and one by the local model. Run it
again only to change the demo; the file is committed.
"""

from __future__ import annotations

from pathlib import Path

from jarvis.audio import SAMPLE_RATE_HZ
from jarvis.audio.wav import write_wav
from jarvis.config import Settings
from jarvis.models import ModelStore
from jarvis.testing.speech import add_noise, compose, piper_speech, silence
from jarvis.tts import Synthesizer

TARGET = Path(__file__).resolve().parents[1] / "jarvis" / "data" / "demo-request.wav"


def main() -> None:
    synthesizer = Synthesizer.from_store(ModelStore(), Settings().tts)
    recording = compose(
        [
            ("lead_in", silence(0.8)),
            ("wake", piper_speech(synthesizer, "Hey Jarvis.")),
            ("pause", silence(0.35)),
            ("request", piper_speech(synthesizer, "What time is it?")),
            ("gap", silence(2.0)),
            ("wake", piper_speech(synthesizer, "Hey Jarvis.", length_scale=1.1)),
            ("pause", silence(0.35)),
            ("request", piper_speech(synthesizer, "What is the largest planet in the solar system?")),
            ("tail", silence(1.0)),
        ]
    )
    TARGET.parent.mkdir(parents=True, exist_ok=True)
    write_wav(TARGET, add_noise(recording.samples, level_dbfs=-60, seed=7), SAMPLE_RATE_HZ)
    print(f"wrote {TARGET} ({recording.duration_s:.1f} s)")


if __name__ == "__main__":
    main()
