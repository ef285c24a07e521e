"""The benchmarks this suite relies on run in a quick mode here, so one that crashes fails the
tests instead of rotting unseen (a benchmark nothing ran once crashed on every run)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.timeout(240)


@pytest.mark.parametrize(
    ("script", "rows"),
    [
        (
            "bench_hostile.py",
            ("keys while the timeline is locked", "peak memory, a source answering 100 MB"),
        ),
        (
            "bench_flow.py",
            ("keys, 12 sources", "another process's event", "two processes appending"),
        ),
        ("bench_drill.py", ("drill pulse-messages: trigger → verified rollback",)),
    ],
)
def test_a_benchmark_runs_in_its_quick_mode_and_prints_its_rows(
    script: str, rows: tuple[str, ...]
) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / script), "--quick"],
        capture_output=True,
        text=True,
        timeout=200,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    for start in rows:
        assert any(line.startswith(start) for line in lines), lines
    assert not any(" | failed | " in line for line in lines), lines
