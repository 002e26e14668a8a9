"""Process lifecycle: signals, service-manager notification and ordered shutdown.

SIGINT and SIGTERM cancel the root task. Cancellation travels down through
the assistant to the audio source, whose ``finally`` closes the device
stream; the worker threads are not waited for beyond the work in hand, so the
process stops within a couple of seconds even in the middle of a turn. The
run then ends without a traceback: exit code 0 after SIGTERM, 130 after SIGINT.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
from collections.abc import Callable
from dataclasses import dataclass

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


_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@dataclass(frozen=True, slots=True)
class ServeResult:
    """Outcome of one run of the assistant: its turns and what stopped it."""

    turns: int
    stop_signal: signal.Signals | None = None
    """The signal that stopped the run; None when the audio source ended."""

    @property
    def exit_code(self) -> int:
        """Return the process exit code: 130 after SIGINT, as shells expect, otherwise 0.

        SIGTERM is how a service manager stops a daemon, so it ends the run normally.
        """
        return 128 + signal.SIGINT if self.stop_signal is signal.SIGINT else 0


class _StopRequest:
    """Signal handler: the first stop signal cancels the root task; later ones are only logged."""

    def __init__(self, task: asyncio.Task[object] | None) -> None:
        self._task = task
        self._armed = True
        self.signal: signal.Signals | None = None

    def __call__(self, signum: int) -> None:
        received = signal.Signals(signum)
        if not self._armed:
            log.info("stop_signal_ignored", signal=received.name, reason="already_stopping")
            return
        log.info("stop_signal_received", signal=received.name)
        self._armed = False
        self.signal = received
        if self._task is not None:
            self._task.cancel()

    def disarm(self) -> None:
        """Only log signals from now on, because the assistant is already stopping."""
        self._armed = False

    def acknowledge(self) -> None:
        """Mark the cancellation this request caused as handled, so the task can finish normally."""
        if self._task is not None:
            self._task.uncancel()


async def serve(
    assistant: Assistant,
    source: AudioSource,
    sink: AudioSink,
    on_turn: Callable[[TurnResult], None],
    *,
    wait_for_turns: bool,
) -> ServeResult:
    """Run the assistant until the source ends or a stop signal arrives.

    A stop signal ends the run without an exception; any other cancellation
    propagates. Signals that arrive while the devices close are ignored.
    """
    loop = asyncio.get_running_loop()
    stop = _StopRequest(asyncio.current_task())
    for signum in _STOP_SIGNALS:
        loop.add_signal_handler(signum, stop, signum)
    turns = 0

    def count_turn(turn: TurnResult) -> None:
        nonlocal turns
        turns += 1
        on_turn(turn)

    try:
        notify_service_manager("READY=1")
        log.info("assistant_started")
        await assistant.run(source, count_turn, wait_for_turns=wait_for_turns)
        await sink.drain()
    except asyncio.CancelledError:
        if stop.signal is None:
            raise
        stop.acknowledge()
        log.info("assistant_stopping", reason="signal", signal=stop.signal.name)
        # A stopped assistant does not finish its sentence: drop the reply still queued or in the device.
        await sink.stop()
    finally:
        stop.disarm()
        notify_service_manager("STOPPING=1")
        try:
            await _close_quietly(source, sink)
        finally:
            for signum in _STOP_SIGNALS:
                loop.remove_signal_handler(signum)
        log.info("assistant_stopped", turns=turns)
    return ServeResult(turns, stop.signal)


async def _close_quietly(source: AudioSource, sink: AudioSink) -> None:
    """Close the source and then the sink, each even if the other fails."""
    try:
        await source.aclose()
    finally:
        await sink.aclose()
