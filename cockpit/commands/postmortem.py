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
    from cockpit.core.procedure_copy import note
    from cockpit.core.timeline import Timeline
    from cockpit.procedure_check import load_copy
    from cockpit.session import Session
    from cockpit.session_procedure import incident_copy

    path = db_path(ctx, db)
    try:
        timeline = Timeline(path, create=False)
        incident = timeline.incident(incident_id)
        if incident.status == "open":
            fail(
                f"incident {incident_id} is still open: write its post-mortem in its cockpit "
                f"(`cockpit --incident {incident_id}`, then e), or close it first"
            )
        if not incident.procedure:
            fail(f"incident {incident_id} names no procedure: its sections are unknown")
        # The copy the incident recorded, not the file as edited since.
        copy, record = incident_copy(timeline, incident, incident.procedure)
    except CockpitError as error:
        fail(error)
    loaded = load_copy(copy)
    if loaded.procedure is None:
        fail(loaded.error or f"{copy.shown}: the procedure does not validate")
    said = note(copy, loaded.fallback)
    if said is not None:  # said in the editor too (the terminal shows this once it ends)
        click.echo(f"cockpit: warning: {said}", err=True)
    session = Session(
        timeline=timeline,
        incident=incident,
        procedure=loaded.procedure,
        procedure_copy=copy,
        record_copy=record,
        procedure_fallback=loaded.fallback,
    )
    sys.exit(launch(session, postmortem=True))
