"""Leaves nothing behind when the terminal goes away (measured in shared/reference/ssh_drop.md).

Textual does not handle SIGHUP, GNU make swallows it, and a process that survives its tty spins
at ~80 % CPU. So: a SIGHUP/SIGTERM handler, plus a sentinel thread that polls stdin for POLLHUP
(it works even when a launcher such as make eats the signal). Either one records why the session
ended and calls os._exit: `record` first lets the events still queued for the timeline through
(each is durable once committed, synchronous=FULL), so nothing is left to save and nothing is
gained from Textual's shutdown on a dead tty (which exits 120 anyway).
"""

from __future__ import annotations

import os
import select
import signal
import threading
from collections.abc import Callable
from types import FrameType

HANGUP_EXIT = 129

RECORD_SECONDS = 8.0
"""How long `record` may take before the process ends anyway."""

_fired = threading.Event()


def _finish(record: Callable[[str], None], reason: str) -> None:
    if _fired.is_set():
        return
    _fired.set()
    # Recording gets a few seconds at most (it first lets queued events through, which may
    # wait on another process's lock): a hung disk must not keep an orphan alive.
    writer = threading.Thread(target=record, args=(reason,), daemon=True)
    writer.start()
    writer.join(timeout=RECORD_SECONDS)
    os._exit(HANGUP_EXIT)


def _watch_tty(fd: int, record: Callable[[str], None], period: float) -> None:
    poller = select.poll()
    poller.register(fd, 0)  # no events requested: POLLHUP and POLLERR are always reported
    while not _fired.is_set():
        for _, flags in poller.poll(int(period * 1000)):
            if flags & (select.POLLHUP | select.POLLERR | select.POLLNVAL):
                _finish(record, "terminal hung up (SSH connection lost)")
                return
        if not os.isatty(fd):
            _finish(record, "terminal went away")
            return


def install(record: Callable[[str], None], *, fd: int = 0, period: float = 0.5) -> None:
    """Guard the current process: on hangup or termination, `record(reason)` then exit.

    `record` runs on a helper thread and must open its own timeline connection.
    """

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        reason = "SIGHUP: terminal hung up" if signum == signal.SIGHUP else f"{name}: stopped"
        _finish(record, reason)

    signal.signal(signal.SIGHUP, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    if os.isatty(fd):
        threading.Thread(
            target=_watch_tty, args=(fd, record, period), name="hangup-sentinel", daemon=True
        ).start()
