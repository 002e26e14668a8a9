"""Process lifecycle: signals, service-manager notification and ordered shutdown.

SIGINT and SIGTERM cancel the root task. Cancellation travels down through
the assistant to the audio source, whose ``finally`` closes the device
stream; the worker threads are not waited for beyond the work in hand, so the
process stops within a couple of seconds even in the middle of a turn.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
from collections.abc import Callable

import structlog

from jarvis.assistant import Assistant, TurnResult
from jarvis.audio.sinks import AudioSink
from jarvis.audio.sources import AudioSource

log = structlog.get_logger(__name__)


def notify_service_manager(state: str) -> None:
    """Send ``state`` (e.g. ``READY=1``) to systemd when it started us with ``Type=notify``."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return
    if address.startswith("@"):
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.connect(address)
            sock.sendall(state.encode())
    except OSError as err:
        log.warning("service_notify_failed", state=state, error=str(err))


async def serve(
    assistant: Assistant,
    source: AudioSource,
    sink: AudioSink,
    on_turn: Callable[[TurnResult], None],
    *,
    wait_for_turns: bool,
) -> int:
    """Run the assistant until the source ends or a stop signal arrives; return the number of turns."""
    loop = asyncio.get_running_loop()
    main = asyncio.current_task()
    stop_signals = (signal.SIGINT, signal.SIGTERM)
    for signum in stop_signals:
        loop.add_signal_handler(signum, _request_stop, main, signum)
    turns = 0
    try:
        notify_service_manager("READY=1")
        log.info("assistant_started")
        turns = await assistant.run(source, on_turn, wait_for_turns=wait_for_turns)
        await sink.drain()
    except asyncio.CancelledError:
        log.info("assistant_stopping", reason="signal")
        raise
    finally:
        notify_service_manager("STOPPING=1")
        for signum in stop_signals:
            loop.remove_signal_handler(signum)
        await _close_quietly(source, sink)
        log.info("assistant_stopped", turns=turns)
    return turns


def _request_stop(task: asyncio.Task[object] | None, signum: int) -> None:
    log.info("stop_signal_received", signal=signal.Signals(signum).name)
    if task is not None:
        task.cancel()


async def _close_quietly(source: AudioSource, sink: AudioSink) -> None:
    """Close the source and then the sink, each even if the other fails."""
    try:
        await source.aclose()
    finally:
        await sink.aclose()
