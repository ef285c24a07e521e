"""One clock per incident (issue 19): a compressed drill runs escalation, status updates,
deadlines, timed watches and the phases' targets at the scale of its metrics, says so on
screen and in its report; a real incident stays on wall time whatever its events say."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from cockpit.app import CockpitApp
from cockpit.core.automation import Automation
from cockpit.core.board import Board
from cockpit.core.clock import FixedClock, iso_ms
from cockpit.core.export import render_markdown
from cockpit.core.export_report import build_report
from cockpit.core.procedure import Procedure
from cockpit.core.state import IncidentState
from cockpit.core.stats import incident_times
from cockpit.core.timeline import Timeline
from cockpit.session import Session
from widgets.incident_clock import IncidentClock

SCALE = 120.0


def drill(timeline: Timeline, procedure: Procedure, *, real: bool = False) -> IncidentState:
    opened = timeline.open_incident("Drill", "P1", procedure.name, drill=not real)
    timeline.record(opened.id, "drill.clock", "Drill clock ×120", {"scale": SCALE})
    return IncidentState.replay(opened, timeline.events(opened.id), procedure)


def test_escalation_and_updates_come_due_on_the_drill_clock(
    timeline: Timeline, clock: FixedClock, pulse_procedure: Procedure
) -> None:
    state = drill(timeline, pulse_procedure)
    assert state.time_scale == SCALE
    automation = Automation(state, driving=True)
    automation.use(Board(pulse_procedure, 0.5))
    assert automation.next_escalation(clock.now()) == "→ On-call Engineer in 05:00"
    clock.advance(1.0)  # two minutes of drill time
    assert automation.next_escalation(clock.now()) == "→ On-call Engineer in 03:00"
    assert automation.due(clock.now()).writes == []
    clock.advance(1.6)  # 5 min 12 s of drill time: the first step and the first update
    due = [write.kind for write in automation.due(clock.now()).writes]
    assert due == ["escalation.due", "escalation.due"], due


def test_a_real_incident_ignores_a_drill_clock(
    timeline: Timeline, clock: FixedClock, pulse_procedure: Procedure
) -> None:
    state = drill(timeline, pulse_procedure, real=True)
    assert state.time_scale == 1.0
    assert state.drill_time(clock.now() + timedelta(seconds=10)) == clock.now() + timedelta(
        seconds=10
    )


def test_the_report_judges_a_drill_in_drill_time_and_says_its_scale(
    timeline: Timeline, clock: FixedClock, pulse_procedure: Procedure
) -> None:
    state = drill(timeline, pulse_procedure)
    incident = state.incident.id
    impact = iso_ms(clock.now() + timedelta(seconds=1))
    clock.advance(3)  # 6 drill minutes from the opening, 4 from the impact
    timeline.record(incident, "trigger.fired", "fired", {"rule": "x", "breach_began": impact})
    clock.advance(1.5)  # a 3-minute decision in drill time: over the 2-minute target
    timeline.record(incident, "wizard.decided", "decided", {"options": ["feature-flags"]})
    events = timeline.events(incident)
    opened = timeline.incident(incident)
    rows = {r["key"]: r for r in build_report(events, opened, pulse_procedure)["durations"]}
    assert rows["detect"]["seconds"] == 4 * 60 and rows["detect"]["verdict"] == "met"
    assert rows["decide"]["seconds"] == 3 * 60 and rows["decide"]["verdict"] == "missed"
    text = render_markdown(events, opened, pulse_procedure)
    assert "This drill ran on a ×120 clock" in text
    assert incident_times(events, opened).decide == 3 * 60, "stats on the same clock"


async def test_a_compressed_drill_says_its_scale_once_and_shows_its_clock(
    tmp_path: Path, clock: FixedClock, pulse_procedure: Procedure
) -> None:
    with Timeline(tmp_path / "t.db", clock=clock) as timeline:
        incident = timeline.open_incident("Drill", "P1", pulse_procedure.name, drill=True)
        session = Session(
            timeline=timeline,
            incident=incident,
            procedure=pulse_procedure,
            clock=clock,
            poll_interval=0.5,
            drill_clock=True,
        )
        app = CockpitApp(session, start_pollers=False)
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.pause()
            clock.advance(2.0)
            app.tick()
            await pilot.pause(0.3)
            shown = str(app.screen.query_one(IncidentClock).render())
            assert "T+04:00" in shown and "×120 drill clock" in shown
        recorded = [e for e in timeline.events(incident.id) if e.kind == "drill.clock"]
        assert len(recorded) == 1 and recorded[0].payload["scale"] == SCALE


def test_a_deadline_and_a_timed_watch_come_on_the_drill_clock(
    timeline: Timeline, clock: FixedClock
) -> None:
    from cockpit.core.procedure_loader import load_builtin
    from cockpit.core.reminders import OVERDUE

    five = load_builtin("five-levels")  # "Verify system stability" within 1 hour
    state = drill(timeline, five)
    automation = Automation(state, driving=True)
    automation.use(Board(five, 0.5))
    clock.advance(29)  # 58 drill minutes
    assert OVERDUE not in [w.kind for w in automation.due(clock.now()).writes]
    clock.advance(1.5)  # 61 drill minutes: 30.5 wall seconds
    assert OVERDUE in [w.kind for w in automation.due(clock.now()).writes]
