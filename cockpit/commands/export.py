"""`cockpit export INCIDENT`: the post-mortem of one incident, headless, as Markdown or JSON.

Imports only click at the top (start-up budget, see `cockpit.cli`); the timeline, the procedure
loader and the renderer are imported in the command's body. Nothing here may import Textual or
Rich (a subprocess test checks it).

Exit codes: 0 success; 2 any error (unknown incident, unreadable timeline, unwritable file),
reported as one line on stderr, never a traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from cockpit.commands.common import db_option, db_path, fail

if TYPE_CHECKING:
    from cockpit.core.procedure import Procedure


def _procedure(name: str | None) -> Procedure | None:
    """The incident's procedure, or None (with a warning) when it cannot be loaded."""
    if not name:
        return None
    from cockpit.core.errors import CockpitError
    from cockpit.core.procedure_loader import load_procedure

    try:
        return load_procedure(name)
    except (CockpitError, OSError) as error:
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        click.echo(
            f"cockpit: warning: procedure {name!r} not loaded ({first}); "
            "exporting without targets and checklists",
            err=True,
        )
        return None


@click.command("export")
@click.argument("incident_id", metavar="INCIDENT", type=int)
@click.option(
    "--out",
    "out",
    type=click.Path(dir_okay=False, writable=True),
    default=None,
    help="Write to this file (atomically) instead of standard output.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["md", "json"]),
    default="md",
    show_default=True,
    help="Markdown post-mortem, or the same content as one JSON document.",
)
@db_option
@click.pass_context
def export(ctx: click.Context, incident_id: int, out: str | None, fmt: str, db: str | None) -> None:
    """Export the post-mortem of INCIDENT from the timeline (redacted, deterministic)."""
    from cockpit.core.errors import CockpitError
    from cockpit.core.export import render_json, render_markdown
    from cockpit.core.export_report import REPORT_KINDS
    from cockpit.core.timeline import Timeline

    try:
        with Timeline(db_path(ctx, db), create=False) as store:
            incident = store.incident(incident_id)
            # Events only of the kinds the sections read; the full timeline as light rows.
            events = store.events(incident_id, kinds=REPORT_KINDS)
            rows = store.rows(incident_id)
            head = store.head()
            samples = store.samples(incident_id)
    except CockpitError as error:
        fail(error)
    procedure = _procedure(incident.procedure)
    render = render_json if fmt == "json" else render_markdown
    text = render(events, incident, procedure, head=head, samples=samples, rows=rows)
    if out is None:
        click.echo(text, nl=False)
        return
    try:
        from cockpit.core.paths import write_atomically

        write_atomically(Path(out), text)
    except OSError as error:
        fail(f"{out}: cannot write the export: {error.strerror or error}")
    click.echo(f"exported incident {incident_id} to {out}", err=True)
