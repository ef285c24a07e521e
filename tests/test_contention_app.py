"""Another process holding the timeline's write lock, and another writing beside it, while the
cockpit runs: the screen answers keys throughout, nothing recorded meanwhile is lost, and the
responder is told why events wait. Before, the UI froze for the 5 s busy timeout and then the
cockpit died (TimelineError from the samples' write)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from pilot_wait import until

from cockpit.app import CockpitApp
from cockpit.core.clock import FixedClock
from cockpit.core.metrics import Sample
from cockpit.core.procedure import Procedure
from cockpit.core.timeline import Timeline
from cockpit.messages import MetricsSampled
from cockpit.session import Session
from tests.lock_holder import hold_write_lock

pytestmark = pytest.mark.timeout(120)

HELD_SECONDS = 10.0
"""Twice the 5 s busy timeout that used to kill the cockpit."""

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
    told: list[str] = []
    real_notify = app.notify

    def notify(message: str, **options: Any) -> None:
        told.append(str(options.get("title", "")))
        real_notify(message, **options)

    app.notify = notify  # type: ignore[method-assign]
    other = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(db), str(incident.id)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    slowest = 0.0
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await until(pilot, lambda: app.board is not None, "the board")
            with hold_write_lock(db):
                started = time.monotonic()
                # A trigger fires and a note is typed while the lock is held: both must wait.
                for _ in range(6):
                    clock.advance(60)
                    app.post_message(
                        MetricsSampled("s", [Sample("error_rate", 9.0, clock.now(), "s")])
                    )
                await pilot.press("n", *"typed while locked", "enter")
                await until(pilot, lambda: app.writer.waiting >= 2, "the writes to be queued")
                keys = ["t", "d", "p", "d"]
                wanted = {"t": "TimelineScreen", "d": "DashboardScreen", "p": "ProcedureScreen"}
                n = 0
                while time.monotonic() - started < HELD_SECONDS:
                    clock.advance(60)
                    app.post_message(
                        MetricsSampled("s", [Sample("error_rate", 9.0, clock.now(), "s")])
                    )
                    key = keys[n % len(keys)]
                    # The key as the terminal delivers it, and the time until its screen is
                    # there, by the event loop's own clock (Pilot's pause waits for every
                    # widget's queue as well, which is not what a responder waits for).
                    pressed = time.monotonic()
                    app.simulate_key(key)
                    while type(app.screen).__name__ != wanted[key]:
                        assert time.monotonic() - pressed < 2, f"{key} took over 2 s"
                        await asyncio.sleep(0.005)
                    slowest = max(slowest, time.monotonic() - pressed)
                    n += 1
                    await asyncio.sleep(0.2)
                assert app.writer.waiting > 0, "the writes really waited for the lock"
                assert app.stalled and "Timeline busy" in told, told
            await until(pilot, lambda: app.writer.waiting == 0, "the waiting writes")
            await until(pilot, lambda: not app.stalled, "the all-clear")
            assert app.return_code is None, "still running"
    finally:
        out, err = other.communicate(input="", timeout=30)
        assert other.returncode == 0, err[-2000:]
        written = int(out.strip())
    events = timeline.events(incident.id)
    kinds = [e.kind for e in events]
    assert "trigger.fired" in kinds, "the trigger that fired while locked is recorded"
    assert [e.summary for e in events if e.summary == "typed while locked"]
    theirs = [e for e in events if e.summary.startswith("from the other writer")]
    assert len(theirs) == written > 0, "the other writer lost nothing either"
    assert timeline.verify().count == len(timeline.events())
    assert slowest < 1.0, f"a key took {slowest:.2f} s while the lock was held"
