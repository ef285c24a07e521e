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
from collections.abc import Iterator
from pathlib import Path

import pytest
from tmux_terminals import Terminals

ROOT = Path(__file__).resolve().parent.parent
COCKPIT = ROOT / ".venv" / "bin" / "cockpit"

pytestmark = [
    pytest.mark.timeout(180),
    pytest.mark.skipif(not shutil.which("tmux"), reason="needs tmux (make test installs it)"),
]


@pytest.fixture
def terminal(tmp_path: Path) -> Iterator[Terminals]:
    env = {
        "COCKPIT_DATA_DIR": str(tmp_path / "data"),
        "COCKPIT_CONFIG": str(tmp_path / "none.toml"),
        "HOME": str(tmp_path),
    }
    shown = Terminals(tmp_path, env, size=(100, 30))
    try:
        yield shown
    finally:
        shown.close()


def cli(terminal: Terminals, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(COCKPIT), *args],
        env={**os.environ, **terminal.env},
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def test_the_readme_from_demo_to_exported_postmortem(terminal: Terminals, tmp_path: Path) -> None:
    terminal.start("readme", f"{COCKPIT} demo")
    terminal.wait_for("readme", "Error rate")
    assert terminal.quit("readme") == 0

    terminal.start("readme", str(COCKPIT))  # "q: the incident stays open and `cockpit` resumes it"
    shown = terminal.wait_for("readme", "Drill incident 1")
    assert "no procedure" not in shown
    terminal.wait_for("readme", "Error rate")
    assert terminal.quit("readme") == 0

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
