"""One live cockpit per incident: an flock'd file that names its holder.

The kernel releases an flock when its process dies, however it dies, so a crashed cockpit never
leaves a stale lock. A cockpit whose SSH connection dropped may still be alive for minutes
(ssh_drop.md: blackhole case) — a second cockpit is then told who holds the incident and may
take over, which stops the old process.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import signal
import socket
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from cockpit.core.actor import current_actor
from cockpit.core.clock import Clock, SystemClock
from cockpit.core.errors import LockHeld


@dataclass(frozen=True)
class Holder:
    """Who holds an incident."""

    pid: int
    host: str
    actor: str
    since: str
    tty: str = ""


class FileLock:
    """An exclusive, non-blocking flock on one file, which names its holder."""

    def __init__(self, path: Path, *, clock: Clock | None = None) -> None:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.path = path
        self.clock = clock or SystemClock()
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        """Whether this object holds the lock."""
        return self._fd is not None

    def holder(self) -> Holder | None:
        """The holder written in the lock file, if it parses."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8") or "null")
            return Holder(**data) if isinstance(data, dict) else None
        except (OSError, ValueError, TypeError):
            return None

    def busy_message(self, holder: Holder | None) -> str:
        """Why the lock cannot be had, naming who has it."""
        who = (
            f"pid {holder.pid} ({holder.actor}) since {holder.since}"
            if holder
            else "another process"
        )
        return f"held by {who}"

    def acquire(self) -> None:
        """Take the lock or raise LockHeld naming the live holder."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            holder = self.holder()
            error = LockHeld(self.busy_message(holder))
            error.holder = holder  # type: ignore[attr-defined]
            raise error from None
        try:
            tty = os.ttyname(0)
        except OSError:
            tty = ""
        me = Holder(
            pid=os.getpid(),
            host=socket.gethostname(),
            actor=current_actor(),
            since=self.clock.now().strftime("%Y-%m-%d %H:%M:%S"),
            tty=tty,
        )
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps(asdict(me)).encode())
        os.fsync(fd)
        self._fd = fd

    def try_acquire(self) -> bool:
        """Take the lock if it is free; False when someone holds it."""
        if self.held:
            return True
        try:
            self.acquire()
        except LockHeld:
            return False
        return True

    def release(self) -> None:
        """Give the lock back (also happens when the process dies)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _folder(db_path: Path) -> Path:
    return db_path.parent / f"{db_path.name}.locks"


class IncidentLock(FileLock):
    """Who drives one incident of one timeline database (see the module)."""

    def __init__(self, db_path: Path, incident_id: int, *, clock: Clock | None = None) -> None:
        super().__init__(_folder(db_path) / f"incident-{incident_id}.lock", clock=clock)

    def busy_message(self, holder: Holder | None) -> str:
        return f"incident is driven by another cockpit: {super().busy_message(holder)}"

    def take_over(self, *, grace_seconds: float = 3.0) -> None:
        """Stop the live holder (TERM, then KILL after the grace period) and take the lock."""
        holder = self.holder()
        if holder is not None and holder.pid != os.getpid():
            _stop(holder.pid, grace_seconds)
        deadline = time.monotonic() + grace_seconds + 2
        while True:
            try:
                self.acquire()
                return
            except LockHeld:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)


class TargetLock(FileLock):
    """One action at a time on one target, across processes (see the module)."""

    def __init__(
        self, db_path: Path, key: str, *, shown: str | None = None, clock: Clock | None = None
    ) -> None:
        digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:24]
        super().__init__(_folder(db_path) / f"target-{digest}.lock", clock=clock)
        self.target = shown or key
        """The target as the responder knows it (the key also names the provider)."""

    def busy_message(self, holder: Holder | None) -> str:
        return f"another action is running on {self.target}: {super().busy_message(holder)}"


def _stop(pid: int, grace_seconds: float) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace_seconds
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
