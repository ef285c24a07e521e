"""What to do next, in one line, from the incident's state: the guided mode's hint.

The less experienced responder is led by the incident, not by a tour of screens: a trigger
fired and nobody decided → "press w"; the decision is a rollback and none ran → "press r"; the
rollback is verified and the checklists are open → "press c"; and so on to the export. The
screen only changes how the key is worded (on the wizard, "answer with its key" rather than
"press w"). Pure: the state in, one line out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cockpit.core.state import IncidentState


def next_step(state: IncidentState, screen: str = "") -> str:
    """One line: what the responder does next, given the incident's state and the screen
    (a screen class name, e.g. "WizardScreen"; "" for any)."""
    incident = state.incident
    if incident.status == "closed":
        return (
            f"Incident {incident.id} is closed: `cockpit export {incident.id}` writes its "
            "post-mortem; e shows it here."
        )
    if state.procedure is None:
        return "Loading the procedure: its trigger rules and decision tree follow in a moment."
    rollbacks = [a for a in state.actions.values() if not a.checklist]
    running = [a for a in rollbacks if a.outcome is None]
    done = [a for a in rollbacks if a.outcome == "succeeded"]
    if running:
        return (
            f"{running[0].summary}: running. Its result lands in the timeline (t); "
            "the action screen shows its progress."
        )
    if done:
        return _after_rollback(state, screen)
    if state.first_decided is not None and state.decision:
        if screen == "RollbackScreen":
            return f"Decided: Enter opens {state.decision[0]}, the recommended option."
        return (
            f"Decided on a rollback: press r to run {state.decision[0]} "
            "(plan, typed confirmation, verify)."
        )
    if state.first_decided is not None:
        return "Decided: no rollback. Keep watching the panes; w walks the tree again."
    if screen == "WizardScreen":
        return "Answer the question with its key; Enter takes what the live evidence suggests."
    if state.first_fired is not None:
        if incident.acknowledged_at is None:
            return "A trigger fired: press w to decide whether to roll back (a acknowledges)."
        return "A trigger fired: press w to decide whether to roll back."
    return (
        "No trigger has fired: watch the panes. w walks the decision tree anyway; n records a note."
    )


def _after_rollback(state: IncidentState, screen: str) -> str:
    checklists = state.checklists
    procedure = state.procedure
    if checklists is not None and procedure is not None:
        open_lists = [
            checklist.title
            for kind, checklist in procedure.checklists.items()
            if kind in ("during", "post", "verification") and not checklists.progress(kind).complete
        ]
        if open_lists:
            where = "tick" if screen == "ChecklistsScreen" else "press c to tick"
            return (
                f"Rolled back: {where} {open_lists[0]}; automatic checks tick themselves "
                "as the metrics recover."
            )
    if screen == "PostmortemScreen":
        return "Write the sections (ctrl+s records them), then ctrl+t closes the incident."
    return "Rolled back and checked: press e to write the post-mortem and close the incident."
