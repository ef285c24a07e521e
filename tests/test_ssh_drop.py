"""An SSH drop loses nothing recorded and leaves no process behind, also under `make demo`.

Drives a real sshd and a real ssh client in tmux through scripts/ssh_session.sh, kills the
server side of the connection, and checks the timeline and the process table.
"""

from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HARNESS = ROOT / "scripts" / "ssh_session.sh"

pytestmark = [
    pytest.mark.ssh,
    pytest.mark.timeout(180),
    pytest.mark.skipif(
        os.geteuid() != 0 or not Path("/usr/sbin/sshd").exists() or not shutil.which("tmux"),
        reason="needs root, sshd and tmux (make test installs them as root)",
    ),
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Harness:
    def __init__(self, folder: Path) -> None:
        self.env = {
            **os.environ,
            "HARNESS_DIR": str(folder / "harness"),
            "SSH_HARNESS_PORT": str(free_port()),
            "SSH_HARNESS_TMUX_SOCKET": f"cockpit-test-{os.getpid()}",
            "SSH_HARNESS_COLS": "100",
            "SSH_HARNESS_ROWS": "30",
        }

    def __call__(self, *args: str, timeout: float = 60) -> str:
        result = subprocess.run(
            ["bash", str(HARNESS), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert result.returncode == 0, f"{args}: {result.stdout}\n{result.stderr}"
        return result.stdout


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    ssh = Harness(tmp_path)
    ssh("start")
    try:
        yield ssh
    finally:
        ssh("stop")


def events(db: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(db) as conn:
        return [
            (kind, summary)
            for kind, summary in conn.execute("SELECT kind, summary FROM events ORDER BY id")
        ]


def cockpit_processes(marker: str) -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if marker in cmdline and "pytest" not in cmdline:
            found.append(f"{entry.name}: {cmdline}")
    return found


@pytest.mark.parametrize("launcher", ["direct", "make"])
def test_drop_records_everything_and_leaves_no_process(
    harness: Harness, tmp_path: Path, launcher: str
) -> None:
    data = tmp_path / "data"
    db = data / "timeline.db"  # the one timeline every command reads
    env = f"COCKPIT_DATA_DIR={data} COCKPIT_CONFIG={tmp_path / 'none.toml'}"
    if launcher == "direct":
        command = f"cd {ROOT} && exec env {env} .venv/bin/cockpit demo --db {db}"
    else:
        command = f"cd {ROOT} && env {env} make demo"
    harness("run", "pilot", command)
    harness("wait-for", "pilot", "Error rate", "60")
    harness("keys", "pilot", "n")
    harness("wait-for", "pilot", "Note for the timeline", "10")
    harness("keys", "pilot", "-l", "checked the deploy log")
    harness("keys", "pilot", "Enter")
    harness("wait-for", "pilot", "checked the deploy log", "10")

    report = harness("drop", "pilot", "server")

    assert "STILL ALIVE" not in report, report
    assert cockpit_processes(str(data)) == []
    recorded = events(db)
    assert ("note", "checked the deploy log") in recorded
    assert any(kind == "session.hangup" for kind, _ in recorded), recorded
