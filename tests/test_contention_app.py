"""Another process holding the timeline's write lock, and another writing beside it, while the
cockpit runs: the screen answers keys throughout, nothing recorded meanwhile is lost, and the
responder is told why events wait. Before, the UI froze for the 5 s busy timeout and then the
cockpit died (TimelineError from the samples' write)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from textual.pilot import Pilot

from cockpit.app import CockpitApp
from cockpit.core.clock import FixedClock
from cockpit.core.metrics import Sample
from cockpit.core.procedure import Procedure
from cockpit.core.timeline import Timeline
from cockpit.messages import MetricsSampled
from cockpit.session import Session
from tests.lock_holder import hold_write_lock

pytestmark = pytest.mark.timeout(90)

HELD_SECONDS = 6.5
"""Longer than the 5 s busy timeout that used to kill the cockpit."""

# A second writer: appends notes as fast as the lock allows, until its stdin closes.
_WRITER = """
import sys, threading
from cockpit.core.timeline import Timeline
stop = threading.Event()
threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
with Timeline(sys.argv[1], busy_timeout=30) as timeline:
    n = 0
    while not stop.is_set():
        timeline.record(int(sys.argv[2]), "note", f"from the other writer {n}")
        n += 1
print(n, flush=True)
"""


async def until(
    pilot: Pilot[int], condition: Callable[[], object], what: str, seconds: float = 20
) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"never happened: {what}"
        await pilot.pause(0.02)


async def test_the_ui_answers_keys_while_another_process_holds_the_lock(
    tmp_path: Path, pulse_procedure: Procedure, clock: FixedClock
) -> None:
    db = tmp_path / "timeline.db"
    timeline = Timeline(db, clock=clock)
    incident = timeline.open_incident("x", "P1", pulse_procedure.name)
    session = Session(
        timeline=timeline,
        incident=incident,
        procedure=pulse_procedure,
        clock=clock,
        poll_interval=1.0,
    )
    app = CockpitApp(session, start_pollers=False)
    other = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(db), str(incident.id)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    slowest = 0.0
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await until(pilot, lambda: app.board is not None, "the board")
            with hold_write_lock(db):
                started = time.monotonic()
                keys = ["t", "d", "p", "d"]
                wanted = {"t": "TimelineScreen", "d": "DashboardScreen", "p": "ProcedureScreen"}
                n = 0
                while time.monotonic() - started < HELD_SECONDS:
                    clock.advance(60)
                    app.post_message(
                        MetricsSampled("s", [Sample("error_rate", 9.0, clock.now(), "s")])
                    )
                    key = keys[n % len(keys)]
                    pressed = time.monotonic()
                    await pilot.press(key)
                    await until(pilot, lambda k=wanted[key]: type(app.screen).__name__ == k, key, 2)
                    slowest = max(slowest, time.monotonic() - pressed)
                    if n == 3:
                        await pilot.press("n", *"typed while locked", "enter")
                    n += 1
                    await pilot.pause(0.2)
                assert app.writer.waiting > 0, "the writes really waited for the lock"
                assert app.stalled and any(n.title == "Timeline busy" for n in app._notifications)
            await until(pilot, lambda: app.writer.waiting == 0, "the waiting writes")
            await until(pilot, lambda: not app.stalled, "the all-clear")
            assert app.return_code is None, "still running"
    finally:
        written = int(other.communicate(input="", timeout=30)[0].strip() or 0)
    events = timeline.events(incident.id)
    kinds = [e.kind for e in events]
    assert "trigger.fired" in kinds, "the trigger that fired while locked is recorded"
    assert [e.summary for e in events if e.summary == "typed while locked"]
    theirs = [e for e in events if e.summary.startswith("from the other writer")]
    assert len(theirs) == written > 0, "the other writer lost nothing either"
    assert timeline.verify().count == len(timeline.events())
    assert slowest < 1.0, f"a key took {slowest:.2f} s while the lock was held"
