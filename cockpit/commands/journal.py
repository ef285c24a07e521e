"""`cockpit timeline replay JOURNAL --to URL`: a local journal appended to the team's timeline.

A cockpit that lost its PostgreSQL timeline mid-incident wrote to a local journal
(`cockpit.core.journal`) and replays it itself once the server answers. If it stopped first
(closed, crashed, the jump host rebooted), nothing stays stuck: this command replays the file
(`cockpit.core.journal_replay`): the journal's own chain verified first, each event appended
once, however many times it is run.

Exit codes: 0 replayed (or already was); 1 when it cannot, with the reason on one line (the
journal tampered or damaged, no journaled writes in it, the server unreachable, the wrong
timeline). The password (from the URL, ``COCKPIT_DB_PASSWORD_FILE`` or ``PGPASSWORD``, as for
``--db``) is never printed. Only click is imported at start; the rest when it runs.
"""

from __future__ import annotations

from typing import NoReturn

import click


@click.command("replay")
@click.argument("journal", metavar="JOURNAL", type=click.Path(dir_okay=False))
@click.option(
    "--to",
    "to",
    required=True,
    metavar="URL",
    help="The team's postgresql:// timeline the journal parted from.",
)
@click.option(
    "--incident",
    "incident_id",
    type=int,
    default=None,
    help="Only the journal's writes for this incident (its id on PostgreSQL).",
)
def timeline_replay(journal: str, to: str, incident_id: int | None) -> None:
    """Append a local journal's writes (made while the team's PostgreSQL timeline could not
    be reached) to it, each with its original time and actor, marked as delayed."""
    from pathlib import Path

    from cockpit.core.errors import CockpitError
    from cockpit.core.journal_replay import replay_journal
    from cockpit.core.pg_timeline import PgTimeline
    from cockpit.core.redact import scrub
    from cockpit.core.timeline import Timeline
    from cockpit.core.timeline_open import is_postgres, open_timeline, public_url

    def refuse(reason: object) -> NoReturn:
        click.echo(f"cockpit: cannot replay {journal}: {scrub(str(reason))}", err=True)
        raise SystemExit(1)

    if not is_postgres(to):
        refuse("--to takes the team's postgresql:// URL")
    if not Path(journal).is_file():
        refuse("no such file")
    try:
        with Timeline(Path(journal), create=False) as local, open_timeline(to, create=False) as pg:
            assert isinstance(pg, PgTimeline)  # a postgresql:// URL opens one
            report = replay_journal(local, pg, incident_id)
    except CockpitError as error:
        refuse(error)
    span = (
        f"events {report.first_id}–{report.last_id} of incident {report.incident}"
        if report.first_id is not None
        else f"incident {report.incident}"
    )
    click.echo(
        f"{journal}: {report.count} journaled event(s) on {public_url(to)} as {span}: "
        f"{report.appended} appended now, {report.already} already there; "
        f"{len(report.conflicts)} conflict(s) recorded; both chains verified "
        f"(journal head {report.journal_head}, timeline head {report.primary_head})"
    )
    for conflict in report.conflicts:
        click.echo(
            f"  conflict on {conflict.target}: event {conflict.primary_id} by "
            f"{conflict.primary_actor} at {conflict.primary_at} and event {conflict.journal_id} "
            f"by {conflict.journal_actor} at {conflict.journal_at} (journaled)"
        )
