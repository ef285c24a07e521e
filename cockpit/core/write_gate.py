"""The writers of one timeline take turns at a gate before SQLite's own write lock.

SQLite makes a writer that finds the lock taken poll for it, sleeping longer and longer (up to
100 ms a time), so with two busy writers one could wait hundreds of milliseconds, or seconds,
for a lock that was free most of that time (measured: one append of 0.4 s among 2,000 of 0.3 ms;
the issue saw 4 s). Every cockpit process (the TUI's writer, the CLI) first takes an flock on a
file beside the timeline, polling it every fraction of a millisecond, so the lock passes from
one writer to the next within about a millisecond. Other programs (a sqlite3 shell) do not
know the gate and are still waited out by SQLite's busy timeout.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path

from cockpit.core.errors import TimelineBusy

_QUICK_PAUSE = 0.0001
_QUICK_FOR = 0.05
_SLOW_PAUSE = 0.002
"""Polling the gate: every 0.1 ms for the first 50 ms (a busy peer frees it for a few tens of
microseconds between two of its writes: a slow poll would miss those windows for hundreds of
milliseconds), then every 2 ms (a long hold costs little CPU)."""


class WriteGate:
    """An flock beside one timeline database, held around each write transaction."""

    def __init__(self, db_path: Path) -> None:
        self.path = db_path.parent / f"{db_path.name}.locks" / "write.lock"
        self._fd: int | None = None
        self._usable = True

    def _open(self) -> int | None:
        if self._fd is None and self._usable:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            except OSError:
                self._usable = False  # a read-only folder: SQLite's lock alone, as before
        return self._fd

    @contextlib.contextmanager
    def held(self, timeout: float) -> Iterator[None]:
        """Hold the gate for one transaction; TimelineBusy after `timeout` seconds."""
        fd = self._open()
        if fd is None:
            yield
            return
        started = time.monotonic()
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                waited = time.monotonic() - started
                if waited >= timeout:
                    raise TimelineBusy(
                        f"{self.path.parent.parent}: another cockpit process is writing "
                        f"(waited {timeout:g} s)"
                    ) from None
                time.sleep(_QUICK_PAUSE if waited < _QUICK_FOR else _SLOW_PAUSE)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)

    def close(self) -> None:
        """Release the file (an flock also goes when the process dies)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
