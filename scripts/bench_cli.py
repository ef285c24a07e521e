"""The command line a benchmark module has when run alone: `--quick`, then its rows, one a line.

`make test` runs each one this way (tests/test_bench_quick.py), so a benchmark that crashes
fails the tests instead of rotting unseen.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from typing import Any

QUICK = os.environ.get("COCKPIT_BENCH_QUICK") == "1"
"""`make bench`'s quick mode (scripts/bench.py --quick sets it for every section's process):
each benchmark runs its whole path with small counts, in seconds, so make test runs them all
and one that crashes fails it; the numbers then mean nothing and no goal is judged."""


def standalone(description: str | None, rows: Callable[..., list[Any]]) -> int:
    """Parse `--quick`, measure, print each row as `cells | yes/NO`; exit status 0."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="a few seconds: that it runs")
    argv = parser.parse_args()
    for row in rows(quick=argv.quick):
        print(" | ".join(str(cell) for cell in row[:4]) + f" | {'yes' if row[4] else 'NO'}")
    return 0
