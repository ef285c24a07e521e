"""Waiting in a Pilot test for something the App does on its own time (a worker, a commit)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


async def until(
    pilot: Any, condition: Callable[[], object], what: str, seconds: float = 15
) -> None:
    """Pause until `condition()` holds, for at most `seconds`; AssertionError naming `what`."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"never happened: {what}"
        await pilot.pause(0.02)
