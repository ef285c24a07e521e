"""Child processes for the providers: one way to run git, verification commands, pg_dump and ssh.

Every child starts in a session of its own: no terminal to prompt on, stdin from /dev/null, and
a process group that is killed whole (ssh and remote helpers under git, pg_dump's workers, a
shell's background jobs) on timeout, on the responder's cancel or at the action's deadline (both
through its Report), and when the child exited but left processes holding its output open.
subprocess.run would kill the child alone and then wait for those, past any timeout.

Output is read line by line as it comes, one thread per stream, into an `Output` that keeps
every line or, with `keep`, the first and last ones; a subclass may reshape each line (scrub it)
or show it live. Text is UTF-8, undecodable bytes replaced, newlines universal.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from cockpit.core.actions import ActionCancelled, ActionTimedOut, Report
from cockpit.core.errors import ProviderError, ProviderTimeout

CHECK_EVERY = 0.05
"""Seconds between looks at cancel and the deadline while a child runs."""
LEFT_BEHIND_SECONDS = 1.0
"""How long a child's output may stay open after it exited before its group is killed."""


class NotRunnable(ProviderError):
    """The command could not be started: no such executable, or not executable."""

    def __init__(self, message: str, *, missing: bool = False) -> None:
        super().__init__(message)
        self.missing = missing
        """No such file: the program is not installed (or not on PATH)."""


class Output:
    """One stream's lines as kept: all of them, or past `keep` the first and last halves."""

    def __init__(self, keep: int | None = None) -> None:
        self.keep = keep
        self.head: list[str] = []
        self.tail: deque[str] = deque(maxlen=None if keep is None else keep // 2)
        self.total = 0

    def add(self, raw: str) -> str:
        """Keep one line (its newline dropped, then `shape`d); return it as kept."""
        line = self.shape(raw.rstrip("\n"))
        self.total += 1
        if self.keep is None or len(self.head) < self.keep - self.keep // 2:
            self.head.append(line)
        else:
            self.tail.append(line)
        return line

    def shape(self, line: str) -> str:
        """How a line is kept; a subclass may cut or scrub it."""
        return line

    def lines(self) -> list[str]:
        """The lines kept, a marker where some were left out."""
        left_out = self.total - len(self.head) - len(self.tail)
        return [*self.head, *([f"… {left_out} line(s) left out …"] if left_out else []), *self.tail]

    @property
    def text(self) -> str:
        """The lines kept as one text, each ending with a newline."""
        return "".join(f"{line}\n" for line in self.lines())


@dataclass(frozen=True)
class Finished:
    """A child that exited by itself: its exit code and what it wrote."""

    returncode: int
    stdout: str
    stderr: str


class Process:
    """A child in a session of its own, its output read as it comes; `wait` bounds it.

    Use it as a context manager (or call `kill`): leaving it kills whatever of the group still
    runs and collects the output.
    """

    def __init__(
        self,
        argv: Sequence[str],
        what: str,
        *,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
        merge_stderr: bool = False,
        stdout: Output | None = None,
        stderr: Output | None = None,
        stdin: bool = False,
    ) -> None:
        """Start `argv`; NotRunnable if it cannot be. `what` names it in every message.

        With `stdin`, the child reads a pipe (`popen.stdin`, bytes through its `.buffer`)
        that the caller feeds and closes; otherwise /dev/null.
        """
        self.what = what
        self.stdout = stdout or Output()
        self.stderr = stderr or Output()
        self.limit = 0.0
        self.left_behind = False
        """It exited, but processes it left held its output open: they were killed."""
        self._ended = False
        try:
            self.popen = subprocess.Popen(
                list(argv),
                cwd=cwd,
                env=None if env is None else dict(env),
                stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT if merge_stderr else subprocess.PIPE,
                text=True,
                encoding="utf-8",
                errors="replace",
                start_new_session=True,
            )
        except OSError as error:
            raise NotRunnable(
                f"cannot run {what}: {error.strerror or error}",
                missing=isinstance(error, FileNotFoundError),
            ) from None
        self.started = time.monotonic()
        self.seconds = 0.0
        streams = [(self.popen.stdout, self.stdout), (self.popen.stderr, self.stderr)]
        self._readers = [
            threading.Thread(target=_read, args=(stream, kept), name=f"output of {what}"[:60])
            for stream, kept in streams
            if stream is not None
        ]
        for reader in self._readers:
            reader.daemon = True
            reader.start()

    def wait(
        self,
        timeout: float,
        report: Report | None = None,
        *,
        poll: Callable[[], object] | None = None,
        every: float = CHECK_EVERY,
    ) -> int | None:
        """The exit code, or None once `timeout` passed (the group killed). With a report, a
        cancel raises ActionCancelled and its deadline ActionTimedOut, the group killed first.
        `poll` runs every `every` seconds while the child runs."""
        limit = timeout
        if report is not None and report.remaining is not None:
            limit = max(0.0, min(limit, report.remaining))
        self.limit = limit
        late = time.monotonic() + limit
        try:
            while (code := self.popen.poll()) is None:
                if report is not None and report.cancel_event.is_set():
                    raise ActionCancelled(f"cancelled by the responder during: {self.what}")
                now = time.monotonic()
                if now >= late:
                    remaining = None if report is None else report.remaining
                    if remaining is not None and remaining <= 0:
                        raise ActionTimedOut(f"{self.what}: the action ran out of time")
                    return None
                if poll is not None:
                    poll()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.popen.wait(timeout=min(every, late - now))
            until = time.monotonic() + LEFT_BEHIND_SECONDS
            for reader in self._readers:
                reader.join(timeout=max(0.0, until - time.monotonic()))
            return code
        finally:
            self.kill()

    def kill(self) -> None:
        """Kill what of its group still runs (or holds its output), then collect the output."""
        if self._ended:
            return
        self._ended = True
        running = self.popen.poll() is None
        if running or any(reader.is_alive() for reader in self._readers):
            self.left_behind = not running
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait()
        for reader in self._readers:
            reader.join(timeout=5)
        for stream in (self.popen.stdout, self.popen.stderr):
            if stream is not None:
                stream.close()
        self.seconds = time.monotonic() - self.started

    def timeout_error(self, knob: str = "timeout_seconds") -> ProviderTimeout:
        """What to raise when `wait` returned None."""
        return ProviderTimeout(
            f"no answer from {self.what} within its {self.limit:g} s timeout ({knob}); "
            "stopped it and its children"
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.kill()


def run(
    argv: Sequence[str],
    what: str,
    *,
    timeout: float,
    report: Report | None = None,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> Finished:
    """Run a child to its end within `timeout` (and the report's cancel and deadline); its
    exit code and output. NotRunnable, ProviderTimeout, ActionCancelled or ActionTimedOut."""
    with Process(argv, what, cwd=cwd, env=env) as process:
        code = process.wait(timeout, report)
    if code is None:
        raise process.timeout_error()
    return Finished(code, process.stdout.text, process.stderr.text)


def _read(stream: IO[str], kept: Output) -> None:
    with contextlib.suppress(ValueError, OSError):  # closed under it after a kill
        for raw in stream:
            kept.add(raw)
