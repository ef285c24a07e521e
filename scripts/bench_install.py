"""What the first `make demo` costs on a fresh machine (issue 17): a clean copy of the
repository at HEAD, no virtualenv, then `make` of what the demo needs (the virtualenv and the
pinned base packages from the registry), timed to the end of the install.

The demo's own start is measured by the first-frame rows; this is the wait before it.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from pathlib import Path

from bench_cli import QUICK

ROOT = Path(__file__).resolve().parent.parent
GOAL_S = 45.0


def install_seconds(folder: Path) -> float:
    """Seconds for `make` to build the demo's virtualenv in a clean copy at `folder`."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "HEAD"], capture_output=True, check=True, timeout=60
    ).stdout
    subprocess.run(["tar", "x", "-C", str(folder)], input=archive, check=True, timeout=60)
    pins = subprocess.run(
        "cat pyproject.toml constraints.txt | cksum | cut -d' ' -f1",
        shell=True,
        cwd=folder,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout.strip()
    env = {**os.environ, "PIP_NO_CACHE_DIR": "1"}  # what a fresh machine has: no cache
    started = time.perf_counter()
    subprocess.run(
        ["make", f".venv/.base-{pins}"],
        cwd=folder,
        env=env,
        capture_output=True,
        check=True,
        timeout=600,
    )
    return time.perf_counter() - started


def rows(quick: bool = QUICK) -> list[tuple[str, str, str, str, bool]]:
    """One row for scripts/bench.py. `quick`: skipped (it downloads; make test stays offline
    of the registry beyond its own install)."""
    label = "first make demo on a fresh machine: install"
    if quick:
        return []
    with tempfile.TemporaryDirectory(prefix="cockpit-bench-install-") as folder:
        took = install_seconds(Path(folder))
    return [
        (
            label,
            f"{took:.1f} s",
            "venv + pinned base packages, no pip cache (make test adds the extras)",
            f"≤ {GOAL_S:g} s",
            took <= GOAL_S,
        )
    ]
