"""Several responders on one incident: two cockpits on one database and a CLI writer, each
seeing the others' events within one feed period, in both directions; one drives."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from pilot_wait import until

from cockpit.app import CockpitApp
from cockpit.core.clock import FixedClock
from cockpit.core.feed import FEED_PERIOD
from cockpit.core.lock import Holder
from cockpit.core.procedure import Procedure
from cockpit.core.timeline import Timeline
from cockpit.core.wizard import ANSWERED
from cockpit.session import Session

pytestmark = pytest.mark.timeout(90)

WITHIN = FEED_PERIOD + 0.5
"""One feed period, and room for a loaded two-core machine to paint."""


def cockpit(
    db: Path, incident: int, procedure: Procedure, clock: FixedClock, actor: str, **extra: object
) -> CockpitApp:
    timeline = Timeline(db, clock=clock, actor=actor)
    session = Session(
        timeline=timeline,
        incident=timeline.incident(incident),
        procedure=procedure,
        clock=clock,
        **extra,  # type: ignore[arg-type]
    )
    return CockpitApp(session, start_pollers=False)


async def test_two_cockpits_and_the_cli_see_each_other_live(
    tmp_path: Path, pulse_procedure: Procedure, clock: FixedClock
) -> None:
    db = tmp_path / "timeline.db"
    with Timeline(db, clock=clock) as timeline:
        incident = timeline.open_incident("Checkout errors", "P1", pulse_procedure.name).id
    alice = cockpit(db, incident, pulse_procedure, clock, "alice on pts/1")
    bob = cockpit(
        db,
        incident,
        pulse_procedure,
        clock,
        "bob on pts/2",
        held_by=Holder(pid=1, host="jump-1", actor="alice on pts/1", since="03:12"),
    )
    async with alice.run_test(size=(100, 30)) as a, bob.run_test(size=(100, 30)) as b:
        assert alice.driving and not bob.driving

        async def seen_by(app: CockpitApp, pilot: object, summary: str) -> float:
            started = time.monotonic()
            await until(pilot, lambda: any(e.summary == summary for e in app.events), summary)
            return time.monotonic() - started

        # alice writes: bob sees it.
        await a.press("n", *"from alice", "enter")
        assert await seen_by(bob, b, "from alice") <= WITHIN
        # bob writes: alice sees it, with who wrote it.
        await b.press("n", *"from bob", "enter")
        assert await seen_by(alice, a, "from bob") <= WITHIN
        assert next(e for e in alice.events if e.summary == "from bob").actor == "bob on pts/2"
        # bob answers the wizard's first question; alice's wizard is at the same place.
        await b.press("w", "y")
        await until(a, lambda: any(e.kind == ANSWERED for e in alice.events), "the answer")
        assert alice.state.wizard is not None and bob.state.wizard is not None
        assert [s.key for s in alice.state.wizard.path] == [s.key for s in bob.state.wizard.path]
        await b.press("escape")
        # The CLI closes the incident from a shell: both cockpits see it closed.
        closed = subprocess.run(
            [
                sys.executable,
                "-m",
                "cockpit",
                "--db",
                str(db),
                "incident",
                "close",
                str(incident),
                "--resolution",
                "rolled back by hand",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert closed.returncode == 0, closed.stderr
        started = time.monotonic()
        await until(a, lambda: alice.state.incident.status == "closed", "alice sees it closed")
        await until(b, lambda: bob.state.incident.status == "closed", "bob sees it closed")
        assert time.monotonic() - started <= 2 * WITHIN
    with Timeline(db) as timeline:
        actors = {e.actor for e in timeline.events(incident) if e.kind == "note"}
    assert actors == {"alice on pts/1", "bob on pts/2"}


async def test_a_responder_drives_when_the_driver_ends(
    tmp_path: Path, pulse_procedure: Procedure, clock: FixedClock
) -> None:
    from cockpit.core.lock import IncidentLock

    db = tmp_path / "timeline.db"
    with Timeline(db, clock=clock) as timeline:
        incident = timeline.open_incident("x", "P1", pulse_procedure.name).id
    driver = IncidentLock(db, incident)
    driver.acquire()  # another cockpit drives
    bob = cockpit(
        db,
        incident,
        pulse_procedure,
        clock,
        "bob",
        held_by=Holder(pid=1, host="h", actor="alice", since="03:12"),
    )
    async with bob.run_test() as pilot:
        assert not bob.driving
        clock.advance(5)
        bob.tick()
        assert not bob.driving, "the driver is alive"
        driver.release()  # the driving cockpit ended
        bob.tick()
        assert not bob.driving, "tried a moment ago: not again at once"
        clock.advance(5)
        bob.tick()
        assert bob.driving
        await until(pilot, lambda: any(e.kind == "session.driving" for e in bob.events), "said")
