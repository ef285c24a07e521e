"""Real terminals for the tests that run the real `cockpit`: a private tmux server with one
named session per terminal (a responder, or the README's user).

Each command's exit status lands in a file beside the test's folder, so `quit` can wait until
the cockpit has ended, its last writes made, before a test reads the timeline. Every tmux call
has a timeout; every wait is bounded.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class Terminals:
    """One private tmux server; `start` opens a terminal of `size` running a command."""

    def __init__(self, folder: Path, env: dict[str, str], size: tuple[int, int] = (120, 36)):
        self.socket = f"cockpit-tests-{os.getpid()}-{time.monotonic_ns()}"
        self.folder = folder
        self.env = env
        self.size = size

    def tmux(self, *args: str) -> str:
        return subprocess.run(
            ["tmux", "-L", self.socket, *args],
            capture_output=True,
            text=True,
            timeout=20,
            check=True,
        ).stdout

    def status(self, name: str) -> Path:
        return self.folder / f"{name}.rc"

    def start(self, name: str, command: str, **env: str) -> None:
        """Run `command` from the repository's root in a new terminal `name` (the name of
        one that has ended can be used again), with the terminals' environment and `env`."""
        with contextlib.suppress(subprocess.CalledProcessError):
            self.tmux("kill-session", "-t", name)
        status = self.status(name)
        status.unlink(missing_ok=True)
        exports = " ".join(f"{k}={v}" for k, v in {**self.env, **env}.items())
        line = f"cd {ROOT} && env {exports} {command}; echo $? > {status}; sleep 30"
        width, height = self.size
        self.tmux("new-session", "-d", "-x", str(width), "-y", str(height), "-s", name, line)

    def screen(self, name: str) -> str:
        return self.tmux("capture-pane", "-p", "-t", name)

    def keys(self, name: str, *keys: str) -> None:
        self.tmux("send-keys", "-t", name, *keys)

    def wait_for(self, name: str, text: str, seconds: float = 60) -> str:
        """The screen once `text` shows on it; AssertionError with the screen otherwise."""
        deadline = time.monotonic() + seconds
        shown = ""
        while time.monotonic() < deadline:
            with contextlib.suppress(subprocess.CalledProcessError):
                shown = self.screen(name)
            if text in shown:
                return shown
            time.sleep(0.2)
        raise AssertionError(f"{name}: {text!r} never showed; the screen:\n{shown}")

    def quit(self, name: str) -> int:
        """q, then the cockpit's exit status once it has ended (its last writes made)."""
        self.keys(name, "q")
        status = self.status(name)
        deadline = time.monotonic() + 30
        while not status.exists() or not status.read_text().strip():
            if time.monotonic() > deadline:
                raise AssertionError(f"{name}: q did not end it; the screen:\n{self.screen(name)}")
            time.sleep(0.1)
        return int(status.read_text())

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True, timeout=20)
