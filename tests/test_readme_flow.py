"""The README's first ten minutes, command by command, on a fresh data directory (issue 16):
`cockpit demo`, q, `cockpit` (resumes the demo's drill), q, `cockpit timeline verify`,
`cockpit export`, `cockpit stats`, `cockpit incident list`: each works on the demo's incident.

The cockpit runs in a real terminal (tmux); the commands after it run as a user types them.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
COCKPIT = ROOT / ".venv" / "bin" / "cockpit"

pytestmark = [
    pytest.mark.timeout(180),
    pytest.mark.skipif(not shutil.which("tmux"), reason="needs tmux (make test installs it)"),
]


class Terminal:
    """A 100x30 tmux session of its own, running one command at a time."""

    def __init__(self, folder: Path, env: dict[str, str]) -> None:
        self.socket = f"cockpit-readme-{os.getpid()}"
        self.folder = folder
        self.env = env

    def tmux(self, *args: str) -> str:
        return subprocess.run(
            ["tmux", "-L", self.socket, *args],
            capture_output=True,
            text=True,
            timeout=20,
            check=True,
        ).stdout

    def run(self, command: str) -> Path:
        """Start `command` in a new window; returns the file its exit status lands in."""
        status = self.folder / f"rc-{time.monotonic_ns()}"
        exports = " ".join(f"{key}={value}" for key, value in self.env.items())
        line = f"cd {ROOT} && env {exports} {command}; echo $? > {status}"
        self.tmux("new-session", "-d", "-x", "100", "-y", "30", "-s", "readme", line)
        return status

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "readme")

    def wait_for(self, text: str, seconds: float = 60) -> str:
        deadline = time.monotonic() + seconds
        shown = ""
        while time.monotonic() < deadline:
            try:
                shown = self.screen()
            except subprocess.CalledProcessError:
                shown = ""
            if text in shown:
                return shown
            time.sleep(0.2)
        raise AssertionError(f"{text!r} never showed; the screen:\n{shown}")

    def quit(self, status: Path) -> int:
        self.tmux("send-keys", "-t", "readme", "q")
        deadline = time.monotonic() + 30
        while not status.exists() or not status.read_text().strip():
            if time.monotonic() > deadline:
                raise AssertionError(f"q did not end the cockpit; the screen:\n{self.screen()}")
            time.sleep(0.2)
        return int(status.read_text())

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True, timeout=20)


@pytest.fixture
def terminal(tmp_path: Path) -> Iterator[Terminal]:
    env = {
        "COCKPIT_DATA_DIR": str(tmp_path / "data"),
        "COCKPIT_CONFIG": str(tmp_path / "none.toml"),
        "HOME": str(tmp_path),
    }
    shown = Terminal(tmp_path, env)
    try:
        yield shown
    finally:
        shown.close()


def cli(terminal: Terminal, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(COCKPIT), *args],
        env={**os.environ, **terminal.env},
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def test_the_readme_from_demo_to_exported_postmortem(terminal: Terminal, tmp_path: Path) -> None:
    status = terminal.run(f"{COCKPIT} demo")
    terminal.wait_for("Error rate")
    assert terminal.quit(status) == 0

    status = terminal.run(str(COCKPIT))  # "q: the incident stays open and `cockpit` resumes it"
    shown = terminal.wait_for("Drill incident 1")
    assert "no procedure" not in shown
    terminal.wait_for("Error rate")
    assert terminal.quit(status) == 0

    verified = cli(terminal, "timeline", "verify")
    assert verified.returncode == 0, verified.stderr
    listed = cli(terminal, "incident", "list")
    assert "open (drill)" in listed.stdout and "pulse-messages" in listed.stdout, listed.stdout
    out = tmp_path / "postmortem.md"
    exported = cli(terminal, "export", "1", "--out", str(out))
    assert exported.returncode == 0, exported.stderr
    report = out.read_text()
    assert "Demo: error spike after deploy v1.2.4" in report
    assert "`cockpit timeline verify`" in report, "the footer names the command that checks it"
    head = re.search(r"chain head: event \d+, hash `([0-9a-f]{64})`", report)
    assert head is not None, report[-400:]
    assert f"head {head.group(1)}" in verified.stdout, (
        "the footer's head is the one `cockpit timeline verify` prints for the same timeline"
    )
    stats = cli(terminal, "stats")
    assert stats.returncode == 0, stats.stderr
    assert "drills" in stats.stdout
    sessions = [
        e for e in cli(terminal, "timeline", "show", "1").stdout.splitlines() if "session" in e
    ]
    assert len(sessions) >= 2, "both sessions wrote to the one timeline"
