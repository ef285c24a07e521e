"""`cockpit export` hands two long tasks to forked children; a child that hangs or dies never
holds the export up: it is killed after the deadline and the work is done in the command."""

from __future__ import annotations

import os
import time

import pytest

from cockpit.commands import export


def answer() -> str:
    return "chain ok ✓"


def hang() -> str:
    time.sleep(60)
    return "never"


def die() -> str:
    os._exit(3)


def helper() -> export._Helper:
    made = export._Helper(2)
    made.can_fork = True  # forked even under pytest's threads: the tasks here take no lock
    return made


def test_a_child_answers() -> None:
    with helper() as children:
        assert children.result(children.submit(answer)) == "chain ok ✓"


def test_a_hung_child_is_killed_at_the_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(export, "WORKER_TIMEOUT_S", 0.5)
    with helper() as children:
        child = children.submit(hang)
        assert child is not None
        started = time.monotonic()
        assert children.result(child) is None, "no answer: the caller does the work"
        assert time.monotonic() - started < 5
        with pytest.raises(ChildProcessError):
            os.waitpid(child.pid, os.WNOHANG)  # killed and reaped, not left running


def test_a_child_that_dies_gives_no_answer() -> None:
    with helper() as children:
        assert children.result(children.submit(die)) is None


def test_children_still_running_at_the_end_are_killed() -> None:
    with helper() as children:
        child = children.submit(hang)
        assert child is not None
    with pytest.raises(ChildProcessError):
        os.waitpid(child.pid, os.WNOHANG)


def test_without_fork_the_caller_does_the_work() -> None:
    children = export._Helper(0)
    assert children.submit(answer) is None
    assert children.result(None) is None
