"""The App's side of a drill's clock and of an automatic rollback: what the IncidentApp does
when a compressed drill starts, when a countdown ends, and when a responder cancels one.

Kept out of cockpit.incident_app (which delegates here) so that module stays about the one
flow; the decisions are cockpit.core.auto_rollback's, the run cockpit.auto_runner's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cockpit.core.auto_rollback import AUTOMATIC, CANCELLED, FAILED

if TYPE_CHECKING:
    from cockpit.core.procedure import AutomaticRollback, Procedure
    from cockpit.incident_app import IncidentApp


def start_drill_clock(app: IncidentApp, procedure: Procedure) -> None:
    """A compressed drill says its scale once: every clock of the incident runs on it, in this
    cockpit and any other that follows the incident, and in its report."""
    scale = app.session.drill_scale(procedure)
    if scale == 1.0 or app.state.time_scale == scale:
        return
    app.state.time_scale = scale  # at once: the escalation countdown uses it this second
    app.record(
        "drill.clock",
        f"Drill clock ×{scale:g}: one {app.session.poll_interval:g} s poll stands for the "
        f"procedure's {procedure.sample_interval_seconds:g} s sample; escalation, updates, "
        "deadlines, timed watches and targets run at the same scale",
        {"scale": scale},
    )


def run_automatic(app: IncidentApp, entry: AutomaticRollback) -> None:
    """From a worker thread: plan and run the automatic rollback whose countdown ended, then
    say how it ended on the App's thread (which records it and escalates unless verified)."""
    from cockpit.auto_runner import run_automatic as run
    from cockpit.core.actions import Report
    from cockpit.screens.action_parts import AppRecorder

    procedure = app.state.procedure
    assert procedure is not None, "an automatic rollback comes from the procedure"
    option = procedure.option(entry.option)
    recorder = AppRecorder(app, option.id, actor=AUTOMATIC)
    try:
        kind, reason = run(
            entry,
            procedure,
            app.session.actions.get(option.provider),
            recorder,
            Report(deadline_seconds=option.recovery_time.max_minutes * 60 or 600),
            busy=lambda: bool(app.state.in_flight or app.state.rollbacks),
            locks=app.session.locks,
        )
    except Exception as error:  # a bug must end as a recorded failure, never silence
        kind, reason = FAILED, f"internal error: {type(error).__name__}: {error}"
    app.call_from_thread(app.automatic_ended, kind, reason)


def cancel_automatic(app: IncidentApp) -> bool:
    """A responder cancels the countdown (recorded as theirs); False when none runs."""
    run = app.state.auto
    if run is None or not run.counting_down or app.read_only:
        return False
    app.record(
        CANCELLED,
        f"Automatic rollback of {run.option} cancelled by the responder",
        {"option": run.option, "reason": "cancelled by the responder"},
    )
    return True
