"""Installing what a real-server test needs: scripts/services.sh, run at most once per process.

`make test` runs services.sh first; a test run started another way (pytest alone, as root) gets
the same packages here, once, before the fixture that needs them gives up with the reason.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, cast

T = TypeVar("T")

ROOT = Path(__file__).resolve().parent.parent
_lock = threading.Lock()
_tried: list[str] = []


def ensure(missing: Callable[[], str | None]) -> str | None:
    """`missing()`, after trying scripts/services.sh once when we are root; None when ready."""
    reason = missing()
    if reason is None or os.geteuid() != 0 or not shutil.which("apt-get"):
        return reason
    with _lock:
        if not _tried:
            try:
                done = subprocess.run(
                    ["bash", str(ROOT / "scripts" / "services.sh")],
                    capture_output=True,
                    text=True,
                    timeout=900,
                    check=False,
                )
                _tried.append(done.stderr.strip()[-300:])
            except subprocess.TimeoutExpired:
                _tried.append("scripts/services.sh took over 900 s")
    reason = missing()
    return None if reason is None else f"{reason}; services.sh: {_tried[0] or 'no output'}"


_servers: dict[str, Any] = {}
_servers_lock = threading.Lock()


def one_per_process(name: str, missing: Callable[[], str | None], start: Callable[[], T]) -> T:
    """The test process's one `name` server, started on first use and stopped at exit.

    Skips the calling test, with the reason, when what it needs cannot be had here.
    """
    import atexit

    import pytest

    with _servers_lock:
        if name not in _servers:
            reason = ensure(missing)
            if reason:
                pytest.skip(reason)
            server = start()
            _servers[name] = server
            atexit.register(server.stop)
        return cast(T, _servers[name])
