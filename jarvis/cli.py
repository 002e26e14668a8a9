"""The ``jarvis`` command line."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Callable, Sequence
from importlib.resources import files
from pathlib import Path
from typing import Any, TextIO

import structlog

from jarvis.config import AudioSettings, Settings, load_settings, user_config_path
from jarvis.errors import ConfigError, JarvisError
from jarvis.logging import configure_logging

log = structlog.get_logger(__name__)

Handler = Callable[[argparse.Namespace, Settings], int]

DEMO_RECORDING = "demo-request.wav"
DEMO_REPLY = Path("jarvis-demo-reply.wav")

_DESCRIPTION = """\
JARVIS: a local-first voice assistant.

Say "hey Jarvis", then your request. JARVIS transcribes it on this machine,
answers simple requests on this machine and speaks the answer.

examples:
  jarvis run                                  listen on the default microphone
  jarvis run --demo                           run once on a bundled recording, no microphone needed
  jarvis run --input request.wav --output reply.wav
  jarvis ask "what is twelve times seven"     answer text, print the answer
  jarvis say "Hello there" --output hello.wav
  jarvis transcribe recording.wav
  jarvis config show
"""


def build_parser() -> argparse.ArgumentParser:
    """Return the parser for every sub-command."""
    parser = argparse.ArgumentParser(
        prog="jarvis", description=_DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--config", type=Path, help=f"settings file (TOML); default: {user_config_path()}")
    parser.add_argument("--log-level", choices=["debug", "info", "warning", "error"], help="lowest log level written")
    parser.add_argument("--log-format", choices=["auto", "json", "console"], help="log line format on stderr")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    run = commands.add_parser("run", help="listen for 'hey Jarvis' and answer (microphone, or a WAV file)")
    run.add_argument(
        "--input", type=Path, metavar="WAV", help="read speech from this WAV file instead of the microphone"
    )
    run.add_argument(
        "--output",
        type=Path,
        metavar="WAV",
        help="write every spoken reply into this WAV file instead of the speaker; with --input and no --output, "
        "replies are only printed",
    )
    run.add_argument(
        "--demo",
        action="store_true",
        help=f"use the bundled recording as input and write replies to ./{DEMO_REPLY} unless --output is given",
    )
    run.add_argument(
        "--realtime", action="store_true", help="read a WAV input at real-time speed, as a microphone would"
    )
    run.set_defaults(handler=_run)

    ask = commands.add_parser("ask", help="answer a typed request and print the answer")
    ask.add_argument("text", help="the request, e.g. 'what time is it'")
    ask.add_argument("--speak", action="store_true", help="also speak the answer on the default output device")
    ask.add_argument("--output", type=Path, metavar="WAV", help="also write the spoken answer to this WAV file")
    ask.add_argument("--cloud", action="store_true", help="send the request to a cloud provider (needs a key)")
    ask.add_argument(
        "--provider", choices=["anthropic", "openai", "gemini"], help="with --cloud: use only this provider"
    )
    ask.add_argument("--stream", action="store_true", help="with --cloud: print the answer as it arrives")
    ask.set_defaults(handler=_ask)

    say = commands.add_parser("say", help="speak text with the configured voice")
    say.add_argument("text", help="the text to speak")
    say.add_argument(
        "--output", type=Path, metavar="WAV", help="write the speech to this WAV file instead of the speaker"
    )
    say.set_defaults(handler=_say)

    transcribe = commands.add_parser("transcribe", help="print the transcript of a WAV file")
    transcribe.add_argument("file", type=Path, metavar="WAV", help="the recording to transcribe")
    transcribe.set_defaults(handler=_transcribe)

    devices = commands.add_parser("devices", help="list sound input and output devices")
    devices.set_defaults(handler=_devices)

    config = commands.add_parser("config", help="inspect settings")
    config_commands = config.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    show = config_commands.add_parser("show", help="print the effective settings as JSON")
    show.set_defaults(handler=_config_show)
    path = config_commands.add_parser("path", help="print where the user's settings file is read from")
    path.set_defaults(handler=_config_path)

    _add_cloud_commands(commands)
    return parser


def _add_cloud_commands(commands: Any) -> None:
    try:
        from jarvis.cloud.commands import add_commands
    except ImportError:  # NOTE: the cloud commands module is optional while the cloud tier is assembled.
        return
    add_commands(commands)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = load_settings(args.config)
    except ConfigError as err:
        print(f"jarvis: {err}", file=sys.stderr)
        return 2
    configure_logging(args.log_level or settings.log.level, args.log_format or settings.log.format)
    try:
        handler: Handler = args.handler
        return handler(args, settings)
    except JarvisError as err:
        print(f"jarvis: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader of our output went away (e.g. `jarvis config show | head`): not an error.
        _silence_stdout()
        return 0


def _silence_stdout() -> None:
    """Point stdout at devnull so the interpreter's final flush does not fail on the closed pipe."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def demo_recording() -> Path:
    """Return the bundled demo request recording."""
    return Path(str(files("jarvis").joinpath("data", DEMO_RECORDING)))


def _run(args: argparse.Namespace, settings: Settings) -> int:
    from jarvis.assistant import Assistant, TurnResult
    from jarvis.audio.sinks import AudioSink, NullSink, SpeakerSink, WavSink
    from jarvis.audio.sources import AudioSource, MicrophoneSource, WavFileSource
    from jarvis.daemon import ServeResult, serve
    from jarvis.runtime import load_stages

    if args.demo and args.input:
        print("jarvis: --demo uses the bundled recording; drop --demo to use --input", file=sys.stderr)
        return 2
    input_path: Path | None = demo_recording() if args.demo else args.input
    output_path: Path | None = args.output or (DEMO_REPLY if args.demo else None)
    if output_path is not None and not output_path.parent.is_dir():
        print(
            f"jarvis: folder {output_path.parent} for --output not found; create it or choose another path",
            file=sys.stderr,
        )
        return 2
    if input_path is not None and output_path is None:
        log.warning("replies_not_kept", input=str(input_path), hint="pass --output FILE.wav to keep spoken replies")

    def print_turn(turn: TurnResult) -> None:
        sys.stdout.write(json.dumps(turn.to_record()) + "\n")
        sys.stdout.flush()

    async def go() -> ServeResult:
        wav_source: WavFileSource | None = None
        if input_path is not None:
            wav_source = WavFileSource(input_path, realtime=args.realtime)
            await wav_source.load()
        else:
            await asyncio.to_thread(_check_live_devices, settings.audio, speaker=output_path is None)
        stages = await load_stages(settings)
        # The devices open only now: a stream started before the models are loaded queues seconds of
        # audio that nobody reads, drops most of it and then feeds stale audio to the wake word.
        source: AudioSource
        if wav_source is not None:
            source = wav_source
        else:
            microphone = MicrophoneSource(settings.audio)
            await microphone.open()
            source = microphone
        sink: AudioSink
        if output_path is not None:
            sink = WavSink(output_path)
        elif input_path is not None:
            sink = NullSink()
        else:
            speaker = SpeakerSink(settings.audio)
            await speaker.open()
            sink = speaker
        assistant = Assistant(
            settings,
            wake=stages.wake,
            vad=stages.vad,
            transcriber=stages.transcriber,
            synthesizer=stages.synthesizer,
            router=stages.router,
            sink=sink,
        )
        try:
            return await serve(assistant, source, sink, print_turn, wait_for_turns=input_path is not None)
        finally:
            await assistant.aclose()
            await stages.aclose()

    try:
        result = asyncio.run(go())
    except KeyboardInterrupt:
        return 130
    if input_path is not None:
        log.info("recording_finished", input=str(input_path), turns=result.turns, output=str(output_path or ""))
        if result.turns == 0:
            print(f"jarvis: no request heard in {input_path} (no 'hey Jarvis' followed by speech)", file=sys.stderr)
        if output_path is not None and args.demo:
            print(f"jarvis: {result.turns} turn(s); spoken replies written to {output_path}", file=sys.stderr)
    return result.exit_code


def _check_live_devices(settings: AudioSettings, *, speaker: bool) -> None:
    """Find the microphone (and the speaker) before the slow model load, so a missing one fails at once.

    Raises:
        AudioDeviceError: PortAudio is missing or a device is not found.
    """
    from jarvis.audio.devices import load_sounddevice, resolve_device

    sd = load_sounddevice()
    resolve_device(sd, settings.input_device, "input")
    if speaker:
        resolve_device(sd, settings.output_device, "output")


def _ask(args: argparse.Namespace, settings: Settings) -> int:
    if not args.text.strip():
        print(
            "jarvis: the request is empty; give the question as text, e.g. jarvis ask 'what time is it'",
            file=sys.stderr,
        )
        return 2
    if args.output is not None and not args.output.parent.is_dir():
        print(
            f"jarvis: folder {args.output.parent} for --output not found; create it or choose another path",
            file=sys.stderr,
        )
        return 2
    if args.cloud:
        from jarvis.cloud.ask import ask_cloud

        return asyncio.run(ask_cloud(settings, args.text, provider=args.provider, stream=args.stream, out=sys.stdout))
    if args.provider or args.stream:
        print("jarvis: --provider and --stream only apply with --cloud", file=sys.stderr)
        return 2
    return asyncio.run(_ask_local(args, settings, sys.stdout))


async def _ask_local(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    from jarvis.runtime import load_answering

    router, local = await load_answering(settings)
    try:
        routed = router.route(args.text)
        parts = [delta async for delta in routed.deltas]
    finally:
        await local.aclose()
    answer = " ".join("".join(parts).split())
    if routed.action != "none":
        answer = answer or f"({routed.action})"
    out.write((answer or "Sorry, I don't have an answer to that.") + "\n")
    out.flush()
    if (args.speak or args.output) and answer:
        await _speak(settings, answer, args.output)
    return 0


def _say(args: argparse.Namespace, settings: Settings) -> int:
    asyncio.run(_speak(settings, args.text, args.output))
    return 0


async def _speak(settings: Settings, text: str, output: Path | None) -> None:
    from jarvis.audio.sinks import AudioSink, SpeakerSink, WavSink
    from jarvis.models import ModelStore
    from jarvis.sentences import split_sentences
    from jarvis.tts import Synthesizer

    synthesizer = await asyncio.to_thread(Synthesizer.from_store, ModelStore(), settings.tts)
    sink: AudioSink
    if output is not None:
        sink = WavSink(output)
    else:
        speaker = SpeakerSink(settings.audio)
        await speaker.open()
        sink = speaker
    spoken = False
    try:
        for sentence in split_sentences(text):
            audio = await asyncio.to_thread(synthesizer.synthesize, sentence)
            if audio is not None:
                spoken = True
                await sink.play(audio.samples, audio.sample_rate_hz)
        await sink.drain()
    finally:
        await sink.aclose()
    if not spoken:
        log.info("nothing_to_speak", characters=len(text))


def _transcribe(args: argparse.Namespace, settings: Settings) -> int:
    from jarvis.audio.wav import load_wav_mono16k
    from jarvis.models import ModelStore
    from jarvis.stt import Transcriber

    samples = load_wav_mono16k(args.file)
    transcriber = Transcriber.from_store(ModelStore(), settings.stt)
    transcript = transcriber.transcribe(samples)
    if transcript.rejected:
        log.info("transcript_rejected", file=str(args.file), reason=transcript.rejected)
    print(transcript.text)
    return 0


def _devices(args: argparse.Namespace, settings: Settings) -> int:
    from jarvis.audio.devices import format_device_table, list_devices

    print(format_device_table(list_devices()))
    return 0


def _config_show(args: argparse.Namespace, settings: Settings) -> int:
    print(json.dumps(settings.model_dump(mode="json"), indent=2))
    return 0


def _config_path(args: argparse.Namespace, settings: Settings) -> int:
    print(user_config_path())
    return 0


if __name__ == "__main__":
    sys.exit(main())
