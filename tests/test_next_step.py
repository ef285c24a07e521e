"""The guided mode: one line saying what to do next, from the incident's state (issue 16).

Each state of an incident, from quiet to closed, gives its own hint; the cockpit shows it on
start until the first key, and again at the top of the help screen on `?` (or F1).
"""

from __future__ import annotations

from pathlib import Path

from cockpit.app import CockpitApp
from cockpit.core.clock import FixedClock
from cockpit.core.next_step import next_step
from cockpit.core.procedure_loader import load_builtin
from cockpit.core.state import IncidentState
from cockpit.core.timeline import Timeline
from cockpit.session import Session

PROCEDURE = load_builtin("pulse-messages")


def test_each_state_of_an_incident_says_what_comes_next(tmp_path: Path) -> None:
    timeline = Timeline(tmp_path / "t.db", clock=FixedClock())
    incident = timeline.open_incident("errors", "P1", "pulse-messages")

    def hint(screen: str = "") -> str:
        state = IncidentState.replay(
            timeline.incident(incident.id), timeline.events(incident.id), PROCEDURE
        )
        return next_step(state, screen)

    assert "No trigger has fired" in hint()
    timeline.record(incident.id, "trigger.fired", "Error rate > 5%", {"trigger": "error-rate"})
    assert hint() == "A trigger fired: press w to decide whether to roll back (a acknowledges)."
    assert hint("WizardScreen").startswith("Answer the question with its key")
    timeline.acknowledge(incident.id)
    assert hint() == "A trigger fired: press w to decide whether to roll back."
    timeline.record(
        incident.id, "wizard.decided", "Decided: roll back", {"options": ["flag-disable"]}
    )
    assert hint().startswith("Decided on a rollback: press r to run flag-disable")
    assert hint("RollbackScreen").startswith("Decided: Enter opens flag-disable")
    began = timeline.begin_action(
        incident.id,
        "feature_flags.disable_flags",
        "Disable flags",
        {"option": "flag-disable"},
        command=None,
    )
    assert hint().startswith("Disable flags: running.")
    timeline.finish_action(
        incident.id, began.payload["action_id"], "succeeded", "verified", {"verified": True}
    )
    assert hint().startswith("Rolled back: press c to tick ")
    assert hint("ChecklistsScreen").startswith("Rolled back: tick ")
    for kind, checklist in PROCEDURE.checklists.items():
        for item in checklist.items:
            timeline.record(incident.id, "checklist.ticked", "t", {"list": kind, "item": item.id})
    assert (
        hint()
        == "Rolled back and checked: press e to write the post-mortem and close the incident."
    )
    timeline.close_incident(incident.id, "rolled back")
    assert hint().startswith(f"Incident {incident.id} is closed: `cockpit export {incident.id}`")


async def test_the_hint_shows_on_start_goes_with_the_first_key_and_returns_on_help(
    tmp_path: Path,
) -> None:
    clock = FixedClock()
    timeline = Timeline(tmp_path / "t.db", clock=clock)
    incident = timeline.open_incident("errors", "P1", "pulse-messages")
    session = Session(
        timeline=timeline, incident=incident, procedure=PROCEDURE, clock=clock, poll_interval=60
    )
    app = CockpitApp(session, start_pollers=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause(0.3)
        line = app.screen.query_one("#next-step")
        assert line.display and "Next: No trigger has fired" in str(line.render())
        await pilot.press("question_mark")
        await pilot.pause(0.1)
        assert type(app.screen).__name__ == "HelpScreen"
        assert "Next: No trigger has fired" in str(app.screen.query_one("#help-next").render())
        await pilot.press("escape")
        await pilot.pause(0.1)
        assert not app.screen.query_one("#next-step").display, "the first key put it away"
