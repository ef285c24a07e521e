"""A drill's platforms do not outlive a cockpit killed outright (SIGKILL): its git folders and
its PostgreSQL cluster are reaped within seconds (cockpit/demo/reaper.py). A benchmark that
stopped `cockpit demo` with SIGKILL left a PostgreSQL server and its folder per run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.timeout(120)

CHILD = """
import sys, time
sys.path.insert(0, sys.argv[1])
from cockpit.core.clock import FixedClock
from cockpit.demo.scenario import Scenario
from cockpit.demo.git_repo import GitPlatform
platform = GitPlatform(Scenario(FixedClock(), bad_deploy_at=30.0, ramp_seconds=4.0))
platform.start()
paths = [str(platform.folder)]
if sys.argv[2] == "postgres":
    from cockpit.demo.pg_cluster import PostgresServer
    cluster = PostgresServer()
    cluster.start()
    pid = open(cluster.data / "postmaster.pid").readline().strip()
    paths += [str(cluster.dir), pid]
print(" ".join(paths), flush=True)
time.sleep(600)
"""


def gone(path: Path, seconds: float = 15.0) -> bool:
    deadline = time.monotonic() + seconds
    while path.exists():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def killed_child(kind: str) -> list[str]:
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(ROOT), kind],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert child.stdout is not None
    paths = child.stdout.readline().split()
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=10)
    return paths


def test_a_killed_cockpits_git_folder_is_removed() -> None:
    (folder,) = killed_child("git")
    assert gone(Path(folder)), f"{folder} outlived the process that made it"


def test_a_killed_cockpits_postgres_cluster_is_stopped_and_removed() -> None:
    from cockpit.demo import pg_cluster

    reason = pg_cluster.missing()
    if reason:
        pytest.skip(reason)
    git, folder, pid = killed_child("postgres")
    assert gone(Path(folder)), f"{folder} outlived the process that made it"
    assert gone(Path(git))
    assert gone(Path(f"/proc/{pid}")), "the postmaster is still running"
