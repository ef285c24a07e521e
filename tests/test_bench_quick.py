"""`make bench` runs here in its quick mode, every row of it, so a benchmark that crashes fails
the tests instead of rotting unseen (one that nothing ran once crashed on every run, and the
table it was to print never appeared).

The quick mode runs each benchmark's whole path with small counts; its numbers judge nothing,
so this asserts that the table is printed whole, with no row CRASHED or failed.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.timeout(900)

ROWS = (
    "first full frame: panes and trigger rows (cockpit demo)",
    "first full frame: an open incident resumed (cockpit)",
    "cockpit --help start",
    "cockpit timeline verify start",
    "durable append",
    "verify 100,000 events",
    "rule evaluation per sample",
    "backtest: 24 h of 1 Hz samples",
    "idle CPU",
    "RSS after 24 h of samples",
    "detection latency",
    "fired trigger → recommended option",
    "action overhead: runner",
    "input latency while an action hangs",
    "keys while the timeline is locked",
    "keys, 12 sources",
    "another process's event",
    "drill pulse-messages: trigger → verified rollback",
    "key → screen painted on a pty (t/p/d): p50",
    "first visit of each screen after a fresh start",
    "RSS over 1 h idle, real TUI in tmux",
    "team append on PostgreSQL",
    "team: another cockpit's event seen through LISTEN/NOTIFY",
    "team: replay of a",
)
"""A row of each section (PostgreSQL's, the export's and the replay's name their own sizes)."""


def test_every_benchmark_runs_in_the_quick_mode_and_the_table_prints_whole() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "bench.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=840,
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
    )
    table = [line for line in done.stdout.splitlines() if " | " in line]
    assert done.returncode == 0, (done.stdout[-3000:], done.stderr[-3000:])
    assert table and table[0].startswith("benchmark"), done.stdout[-3000:]
    for start in ROWS:
        assert any(line.startswith(start) for line in table), (start, table)
    assert not any(" | CRASHED | " in line or " | failed | " in line for line in table), table
    assert len(table) >= 24, table
