"""The jarvis command line: each command's output, exit code and error messages."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

from jarvis.audio.wav import read_wav
from jarvis.cli import main

pytestmark = pytest.mark.usefixtures("no_user_config")

JARVIS = Path(sys.executable).with_name("jarvis")


def test_help_lists_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["--help"])
    assert caught.value.code == 0
    out = capsys.readouterr().out
    for command in ("run", "ask", "say", "transcribe", "devices", "config"):
        assert command in out


def test_config_show_prints_effective_settings(capsys: pytest.CaptureFixture[str], monkeypatch) -> None:
    monkeypatch.setenv("JARVIS_WAKE__THRESHOLD", "0.65")
    assert main(["config", "show"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["wake"]["threshold"] == 0.65
    assert set(shown) >= {"audio", "wake", "endpoint", "stt", "tts", "llm", "cloud", "log"}


def test_invalid_setting_exits_2_naming_field(capsys: pytest.CaptureFixture[str], monkeypatch) -> None:
    monkeypatch.setenv("JARVIS_ENDPOINT__MAX_REQUEST_S", "500")
    assert main(["config", "show"]) == 2
    err = capsys.readouterr().err
    assert "endpoint.max_request_s" in err
    assert "less than or equal to 60" in err


def test_ask_answers_with_skill(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ask", "what is twelve times seven"]) == 0
    assert capsys.readouterr().out.strip() == "12 times 7 is 84."


def test_ask_stream_without_cloud_rejected(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ask", "--stream", "hello"]) == 2
    assert "only apply with --cloud" in capsys.readouterr().err


def test_say_writes_wav(tmp_path: Path) -> None:
    output = tmp_path / "hello.wav"
    assert main(["say", "Hello there.", "--output", str(output)]) == 0
    samples, rate = read_wav(output)
    assert rate == 22_050
    assert np.abs(samples).max() > 0.05


def test_say_nothing_speakable_is_not_an_error(tmp_path: Path) -> None:
    output = tmp_path / "empty.wav"
    assert main(["say", "🎉", "--output", str(output)]) == 0
    with wave.open(str(output)) as written:
        assert written.getnframes() == 0


def test_transcribe_prints_words(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    speech = tmp_path / "speech.wav"
    assert main(["say", "Open the window please.", "--output", str(speech)]) == 0
    capsys.readouterr()
    assert main(["transcribe", str(speech)]) == 0
    assert "window" in capsys.readouterr().out.lower()


def test_transcribe_missing_file_is_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["transcribe", str(tmp_path / "nope.wav")]) == 1
    err = capsys.readouterr().err
    assert "nope.wav" in err


def test_run_rejects_corrupt_wav(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    assert main(["run", "--input", str(corrupt)]) == 1
    err = capsys.readouterr().err
    assert "corrupt.wav" in err


def test_run_demo_prints_turns_and_writes_replies(tmp_path: Path) -> None:
    """The README's first command: the installed console script on the bundled recording."""
    output = tmp_path / "reply.wav"
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path)}
    completed = subprocess.run(
        [str(JARVIS), "run", "--demo", "--output", str(output)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    turns = [json.loads(line) for line in completed.stdout.splitlines()]
    assert len(turns) == 2
    assert turns[0]["route"] == "skill"
    assert turns[0]["reply"].startswith("It's ")
    assert turns[1]["route"] == "local"
    assert "planet" in turns[1]["transcript"].lower()
    for turn in turns:
        assert {"transcript", "route", "reply", "wake_s", "latency_s"} <= set(turn)
        assert {"stt_s", "first_audio_s", "voice_to_voice_s"} <= set(turn["latency_s"])
    samples, _ = read_wav(output)
    assert samples.shape[0] > 0
    assert '"event": "turn_finished"' in completed.stderr


@pytest.mark.parametrize("text", ["", "   "])
def test_ask_empty_request_rejected(capsys: pytest.CaptureFixture[str], text: str) -> None:
    assert main(["ask", text]) == 2
    assert "the request is empty" in capsys.readouterr().err


def test_run_demo_with_input_rejected(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--demo", "--input", str(tmp_path / "x.wav")]) == 2
    assert "drop --demo" in capsys.readouterr().err


def test_output_in_missing_folder_rejected_early(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "missing" / "reply.wav"
    assert main(["run", "--demo", "--output", str(target)]) == 2
    assert "not found" in capsys.readouterr().err
    assert main(["ask", "what time is it", "--output", str(target)]) == 2


def test_run_silence_says_nothing_heard(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from jarvis.audio.wav import write_wav

    quiet = tmp_path / "quiet.wav"
    write_wav(quiet, np.zeros(16_000 * 3, dtype=np.int16), 16_000)
    assert main(["run", "--input", str(quiet)]) == 0
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "no request heard" in captured.err


def test_closed_pipe_is_not_a_traceback(tmp_path: Path) -> None:
    """`jarvis config show | head -1` ends quietly when head stops reading."""
    completed = subprocess.run(
        ["/bin/bash", "-c", f"'{JARVIS}' config show | head -c 1 >/dev/null; exit ${{PIPESTATUS[0]}}"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "XDG_CONFIG_HOME": str(tmp_path)},
        check=False,
    )
    assert "Traceback" not in completed.stderr
    assert completed.returncode == 0
