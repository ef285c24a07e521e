"""`cockpit backtest`: replay a procedure's trigger rules over recorded samples.

Exit codes: 0 success; 2 any error (a bad procedure or samples file, an unknown incident, one
without samples, a damaged or unreadable timeline), reported as one line on stderr.
"""

from __future__ import annotations

import click

from cockpit.commands.common import fail, open_db


@click.command()
@click.option(
    "--procedure", "procedure_name", required=True, help="Built-in name or procedure file."
)
@click.option(
    "--samples",
    "samples_file",
    type=click.Path(dir_okay=False),
    help="CSV (at,metric,value) or JSON-lines file.",
)
@click.option(
    "--incident", "incident_id", type=int, help="Replay the samples recorded during this incident."
)
@click.option(
    "--db",
    type=click.Path(dir_okay=False),
    help="Timeline database, a file or a postgresql:// URL (with --incident).",
)
@click.pass_context
def backtest(
    ctx: click.Context,
    procedure_name: str,
    samples_file: str | None,
    incident_id: int | None,
    db: str | None,
) -> None:
    """Print when each trigger rule would have fired over recorded samples, and why."""
    from pathlib import Path

    from cockpit.core.backtest import RecordedSample, format_report, read_samples, replay_procedure
    from cockpit.core.errors import CockpitError
    from cockpit.procedure_check import load_procedure

    if (samples_file is None) == (incident_id is None):
        raise click.UsageError("give exactly one of --samples FILE or --incident ID")
    procedure = load_procedure(procedure_name)
    if samples_file is not None:
        samples = read_samples(Path(samples_file))
    else:
        from cockpit.core.clock import parse_iso

        assert incident_id is not None
        try:
            with open_db(ctx, db) as timeline:
                timeline.incident(incident_id)  # names the id if it does not exist
                # Their times were checked by the read: each parses.
                samples = [
                    RecordedSample(parse_iso(row.at), row.metric, row.value)
                    for row in timeline.samples(incident_id)
                ]
        except CockpitError as error:
            fail(error)
        if not samples:
            fail(f"incident {incident_id} has no recorded samples")
    for line in format_report(procedure, replay_procedure(procedure, samples)):
        click.echo(line)
