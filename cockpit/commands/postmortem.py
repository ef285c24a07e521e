"""`cockpit postmortem INCIDENT`: write a closed incident's post-mortem in the terminal.

Opens only the post-mortem screen (the export's preview, the procedure's written sections,
ctrl+s to record them, ctrl+o to write the file) on an incident already closed; an open
incident's post-mortem is written in its cockpit (`e`). Imports Textual only once the incident
is found.

Exit codes: 0 success; 2 unknown or still open incident, unreadable timeline.
"""

from __future__ import annotations

import sys

import click

from cockpit.commands.common import db_option, db_path, fail


@click.command("postmortem")
@click.argument("incident_id", metavar="INCIDENT", type=int)
@db_option
@click.pass_context
def postmortem(ctx: click.Context, incident_id: int, db: str | None) -> None:
    """Write the post-mortem sections of closed INCIDENT (root cause, lessons, action items)."""
    from cockpit.commands.run import launch
    from cockpit.core.errors import CockpitError
    from cockpit.core.timeline import Timeline
    from cockpit.procedure_check import load_procedure
    from cockpit.session import Session

    path = db_path(ctx, db)
    try:
        timeline = Timeline(path, create=False)
        incident = timeline.incident(incident_id)
        if incident.status == "open":
            fail(
                f"incident {incident_id} is still open: write its post-mortem in its cockpit "
                f"(`cockpit --incident {incident_id}`, then e), or close it first"
            )
        procedure = load_procedure(incident.procedure) if incident.procedure else None
    except CockpitError as error:
        fail(error)
    if procedure is None:
        fail(f"incident {incident_id} names no procedure: its sections are unknown")
    session = Session(timeline=timeline, incident=incident, procedure=procedure)
    sys.exit(launch(session, path, postmortem=True))
