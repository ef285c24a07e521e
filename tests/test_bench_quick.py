"""The benchmarks this suite relies on run in a quick mode here, so one that crashes fails the
tests instead of rotting unseen (a benchmark nothing ran once crashed on every run)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.timeout(240)


def test_the_hostile_conditions_benchmark_runs_and_prints_its_rows() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "bench_hostile.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=200,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert any(line.startswith("keys while the timeline is locked") for line in lines), lines
    assert any(line.startswith("peak memory, a source answering 100 MB") for line in lines)


def test_the_one_flow_benchmark_runs_and_prints_its_rows() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "bench_flow.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=200,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    for start in ("keys, 12 sources", "another process's event", "two processes appending"):
        assert any(line.startswith(start) for line in lines), lines
