"""A drill's platforms do not outlive its cockpit: when the terminal goes away (the SSH
connection drops), the drill's database server is stopped and its git remote removed before
the process exits, as they are when the responder quits."""

from __future__ import annotations

import os
import pty
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import postgres_server
import pytest

from cockpit.core.timeline import Timeline

pytestmark = pytest.mark.timeout(120)

COCKPIT = str(Path(sys.executable).parent / "cockpit")


def platforms_note(db: Path, limit: float = 60.0) -> str:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if db.exists():
            timeline = Timeline(db)
            for incident in timeline.incidents():
                for event in timeline.events(incident.id):
                    if event.summary.startswith("platform simulators"):
                        return event.summary
        time.sleep(0.2)
    raise AssertionError("the drill's platforms never started")


def answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def test_a_hangup_stops_the_drills_database_and_removes_its_remote(tmp_path: Path) -> None:
    if (why := postgres_server.ensure()) is not None:
        pytest.skip(why)
    db = tmp_path / "drill.db"
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [COCKPIT, "drill", "--procedure", "huntaze", "--db", str(db), "--deploy-at", "600"],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        start_new_session=True,
        env={**os.environ, "TERM": "xterm-256color"},
    )
    os.close(slave)
    try:
        note = platforms_note(db)
        port = int(re.search(r"postgres 127\.0\.0\.1:(\d+)", note).group(1))  # type: ignore[union-attr]
        remote = Path(re.search(r"git (\S+/origin\.git)", note).group(1))  # type: ignore[union-attr]
        assert answers(port) and remote.exists(), "the drill's database and remote are up"
        os.close(master)  # the SSH server side going away closes the pty master
        master = -1
        assert proc.wait(timeout=30) == 129
    finally:
        if master >= 0:
            os.close(master)
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    assert not answers(port), "the database server stopped with the cockpit"
    assert not remote.parent.exists(), "the git remote's folder is gone"
