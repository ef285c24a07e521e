"""providers.subprocesses, the one runner for git, verification commands, pg_dump and ssh.

Real /bin/sh children; the providers' own tests cover each use (timeouts, cancels, output kept).
These cover what no provider test reaches on its own: a child that exits leaving its output held
open, the deadline of the action, and a program that is not there.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from cockpit.core.actions import ActionCancelled, ActionTimedOut, Report
from cockpit.core.errors import ProviderTimeout
from providers.subprocesses import NotRunnable, Output, Process, run


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state not in ("Z", "X")


def gone(pid: int) -> bool:
    deadline = time.monotonic() + 5
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not alive(pid)


def test_a_child_that_exits_leaving_its_output_open_has_its_group_killed(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    command = f"echo started; sleep 60 & echo $! > {pid_file}; exit 3"
    started = time.monotonic()
    with Process(["/bin/sh", "-c", command], "sh") as process:
        assert process.wait(30) == 3
    assert time.monotonic() - started < 5
    assert process.left_behind and process.stdout.lines() == ["started"]
    assert gone(int(pid_file.read_text()))


def test_a_cancel_kills_the_group_and_names_the_command(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    report = Report()

    def cancel_once_started() -> None:
        deadline = time.monotonic() + 10
        while not pid_file.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        report.cancel()

    threading.Thread(target=cancel_once_started, daemon=True).start()
    command = f"sleep 60 & echo $! > {pid_file}.tmp; mv {pid_file}.tmp {pid_file}; wait"
    with pytest.raises(ActionCancelled, match="during: the sleeper"):
        run(["/bin/sh", "-c", command], "the sleeper", timeout=30, report=report)
    assert gone(int(pid_file.read_text()))


def test_the_actions_deadline_bounds_the_child() -> None:
    report = Report(deadline_seconds=0.2)  # the action's, shorter than the command's own
    with (
        Process(["sleep", "60"], "sleep 60") as process,
        pytest.raises(ActionTimedOut, match="sleep 60: the action ran out of time"),
    ):
        process.wait(30, report)
    assert process.limit <= 0.2


def test_a_timeout_and_a_missing_program_are_named() -> None:
    with pytest.raises(ProviderTimeout, match=r"no answer from sleep 60 within its 0\.2 s timeout"):
        run(["sleep", "60"], "sleep 60", timeout=0.2)
    with pytest.raises(NotRunnable, match="cannot run no-such-tool-xyz") as missing:
        run(["no-such-tool-xyz"], "no-such-tool-xyz", timeout=5)
    assert missing.value.missing


def test_output_keeps_its_first_and_last_lines_past_its_limit() -> None:
    kept = Output(keep=4)
    for n in range(10):
        kept.add(f"{n}\n")
    assert kept.lines() == ["0", "1", "… 6 line(s) left out …", "8", "9"]
    everything = Output()
    for n in range(3):
        everything.add(f"{n}\n")
    assert everything.text == "0\n1\n2\n"
