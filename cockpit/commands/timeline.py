"""`cockpit incident ...` and `cockpit timeline ...`: the timeline from the shell, without the TUI.

Start-up budget: `cockpit timeline verify` must run, start to exit, in 0.25 s, so this module
imports only click at the top; each command imports `cockpit.core.timeline` in its body, and
that module itself defers sqlite-utils to schema creation. Nothing here may import Textual or
Rich (a subprocess test checks it).

Exit codes, the same in every command: 0 success; 1 from `timeline verify`, when the
timeline is tampered (the hash chain does not hold: an event altered, inserted or removed), and
from `incident assign` when the rules refuse it (cockpit/commands/roles.py); 2 any
other error, a damaged file among them (not SQLite, empty, truncated, a table missing, a blob or
a NULL where text belongs, a payload that is not JSON: `TimelineDamaged`), reported as one line
on stderr naming the database and the event, never a traceback.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import click

from cockpit.commands.common import db_target, db_url_option, fail, open_db, shown_db

if TYPE_CHECKING:
    from pathlib import Path

    from cockpit.core.timeline import Event, Incident
    from cockpit.core.timeline_open import AnyTimeline


def _open(ctx: click.Context, db: str | None, *, create: bool = True) -> AnyTimeline:
    """The timeline --db names: a SQLite file or a postgresql:// URL."""
    from cockpit.core.errors import CockpitError

    try:
        return open_db(ctx, db, create=create)
    except CockpitError as error:
        fail(error)


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Plain fixed-width columns: no Rich on the headless path; the last column is not padded."""
    widths = [len(title) for title in headers]
    for row in rows:
        widths = [max(width, len(cell)) for width, cell in zip(widths, row, strict=True)]
    lines = []
    for row in [list(headers), *rows]:
        cells = [cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=False)]
        lines.append("  ".join([*cells, row[-1]]).rstrip())
    return "\n".join(lines)


def _when(ts: str | None) -> str:
    """`2026-01-15T03:12:00.000Z` → `2026-01-15 03:12:00Z`: readable and still unambiguous UTC."""
    if not ts:
        return "-"
    return ts.replace("T", " ")[:19] + "Z"


# --- incident -------------------------------------------------------------------------------


@click.group()
def incident() -> None:
    """Open, list and close incidents (recorded in the timeline)."""


@incident.command("open")
@click.option("--title", required=True, help="A short human title.")
@click.option("--severity", default="P1", show_default=True, help="Severity level id.")
@click.option("--procedure", default=None, metavar="NAME", help="The procedure it runs under.")
@click.option("--drill", is_flag=True, help="Mark it as an exercise, not a real incident.")
@db_url_option
@click.pass_context
def incident_open(
    ctx: click.Context,
    title: str,
    severity: str,
    procedure: str | None,
    drill: bool,
    db: str | None,
) -> None:
    """Open an incident and print its id.

    A --procedure is validated first (the file, and its providers): a bad one is refused with
    one line and nothing is recorded, so no incident is left bound to a file that cannot run.
    The text validated is the copy the incident records (`procedure.recorded`).
    """
    from cockpit.core.errors import CockpitError

    copy = None
    if procedure is not None:
        from cockpit.core.procedure_copy import read_copy
        from cockpit.procedure_check import check_copy

        try:
            copy = read_copy(procedure)
            check_copy(copy)
        except CockpitError as error:
            fail(error)
    with _open(ctx, db) as timeline:
        try:
            opened = timeline.open_incident(title, severity, procedure, drill=drill, copy=copy)
        except CockpitError as error:
            fail(error)
    click.echo(opened.id)


@incident.command("list")
@click.option("--open", "only_open", is_flag=True, help="Only incidents still open.")
@db_url_option
@click.pass_context
def incident_list(ctx: click.Context, only_open: bool, db: str | None) -> None:
    """List incidents, newest first."""
    from cockpit.core.errors import CockpitError

    with _open(ctx, db) as timeline:
        try:
            found = timeline.incidents(include_closed=not only_open)
        except CockpitError as error:
            fail(error)
    rows = [_incident_row(item) for item in found]
    if not rows:
        click.echo("no open incidents" if only_open else "no incidents")
        return
    click.echo(_table(("ID", "STATUS", "SEVERITY", "OPENED", "PROCEDURE", "TITLE"), rows))


def _incident_row(item: Incident) -> list[str]:
    status = item.status + (" (drill)" if item.drill else "")
    return [
        str(item.id),
        status,
        item.severity,
        _when(item.opened_at),
        item.procedure or "-",
        item.title,
    ]


@incident.command("close")
@click.argument("incident_id", metavar="ID", type=int)
@click.option("--resolution", default=None, help="How it ended, e.g. 'rolled back to v41'.")
@db_url_option
@click.pass_context
def incident_close(
    ctx: click.Context, incident_id: int, resolution: str | None, db: str | None
) -> None:
    """Close incident ID."""
    from cockpit.core.errors import CockpitError

    with _open(ctx, db, create=False) as timeline:
        try:
            closed = timeline.close_incident(incident_id, resolution)
        except CockpitError as error:
            fail(error)
    click.echo(f"closed incident {closed.id} at {closed.closed_at}")


@incident.command("push")
@click.argument("incident_id", metavar="ID", type=int)
@click.option("--to", "to", required=True, metavar="URL_OR_FILE", help="The timeline to copy to.")
@click.option("--again", is_flag=True, help="Copy again when it grew since its last copy.")
@db_url_option
@click.pass_context
def incident_push(
    ctx: click.Context, incident_id: int, to: str, again: bool, db: str | None
) -> None:
    """Publish incident ID of --db to another timeline (e.g. the team's postgresql:// one).

    The source chain is verified first (exit 1 naming the first bad event, nothing written);
    the copy is a new incident there, ending with an ``incident.imported`` event naming where
    it came from; pushing it again finds that copy instead of making another.
    """
    _move(incident_id, source=db_target(ctx, db), destination=to, again=again)


@incident.command("pull")
@click.argument("incident_id", metavar="ID", type=int)
@click.option(
    "--from", "from_", required=True, metavar="URL_OR_FILE", help="The timeline to copy from."
)
@click.option("--again", is_flag=True, help="Copy again when it grew since its last copy.")
@db_url_option
@click.pass_context
def incident_pull(
    ctx: click.Context, incident_id: int, from_: str, again: bool, db: str | None
) -> None:
    """Copy incident ID of another timeline into --db (e.g. to write its post-mortem offline),
    as `incident push` does the other way."""
    _move(incident_id, source=from_, destination=db_target(ctx, db), again=again)


def _move(
    incident_id: int,
    *,
    source: str | Path,
    destination: str | Path,
    again: bool,
) -> None:
    from cockpit.core.errors import ChainBroken, CockpitError
    from cockpit.core.incident_copy import copy_incident
    from cockpit.core.timeline_open import open_timeline

    shown_source, shown_destination = shown_db(source), shown_db(destination)
    try:
        with open_timeline(source, create=False) as origin:
            # Verified before the destination opens: a tampered source creates no file there.
            report = origin.verify()
            target = open_timeline(destination, create=True)
            with target:
                published = copy_incident(
                    origin, shown_source, incident_id, target, again=again, verified=report
                )
    except ChainBroken as broken:
        click.echo(f"TAMPERED: {shown_source}: event {broken.event_id}: {broken.reason}", err=True)
        raise SystemExit(1) from None
    except CockpitError as error:
        fail(error)
    if published.already:
        click.echo(
            f"incident {incident_id} already published as incident {published.incident} "
            f"on {shown_destination} (head {published.head_hash})"
        )
        return
    click.echo(
        f"incident {incident_id} published as incident {published.incident} on "
        f"{shown_destination}: {published.events} events, chain verified "
        f"(head {published.head_hash})"
    )


def _add_role_commands() -> None:
    """`incident roles` and `incident assign` (cockpit/commands/roles.py, click only)."""
    from cockpit.commands.roles import incident_assign, incident_roles

    incident.add_command(incident_roles)
    incident.add_command(incident_assign)


_add_role_commands()


# --- timeline -------------------------------------------------------------------------------


@click.group()
def timeline() -> None:
    """Show and verify the append-only, hash-chained timeline."""


@timeline.command("show")
@click.argument("incident_id", metavar="INCIDENT", type=int)
@click.option("--json", "as_json", is_flag=True, help="One JSON document instead of text.")
@db_url_option
@click.pass_context
def timeline_show(ctx: click.Context, incident_id: int, as_json: bool, db: str | None) -> None:
    """Show an incident's events in order, with unresolved actions marked OUTCOME UNKNOWN."""
    from cockpit.core.errors import CockpitError

    with _open(ctx, db, create=False) as store:
        try:
            about = store.incident(incident_id)
            events = store.events(incident_id)
            unknown = {event.id for event in store.unresolved_actions(incident_id)}
        except CockpitError as error:
            fail(error)
    if as_json:
        import json

        document = {
            "incident": {name: getattr(about, name) for name in about.__dataclass_fields__},
            "events": [_event_json(event, event.id in unknown) for event in events],
        }
        click.echo(json.dumps(document, indent=2, ensure_ascii=False))
        return
    click.echo(f"Incident {about.id}: {about.title} [{about.severity}, {about.status}]")
    kind_width = max((len(event.kind) for event in events), default=0)
    actor_width = max((len(event.actor) for event in events), default=0)
    for event in events:
        click.echo(_event_line(event, event.id in unknown, kind_width, actor_width))


def _event_json(event: Event, unknown: bool) -> dict[str, Any]:
    return {
        "id": event.id,
        "ts": event.ts,
        "kind": event.kind,
        "actor": event.actor,
        "summary": event.summary,
        "payload": event.payload,
        "command": event.command,
        "outcome_unknown": unknown,
        "hash": event.hash,
    }


def _event_line(event: Event, unknown: bool, kind_width: int, actor_width: int) -> str:
    summary = event.summary
    if event.kind == "action.result":
        summary = f"[{event.payload.get('outcome', '?')}] {summary}"
    if unknown:
        summary = f"OUTCOME UNKNOWN: {summary}"
    lead = f"{event.ts}  {event.kind:<{kind_width}}  {event.actor:<{actor_width}}  "
    line = lead + summary
    if event.command:
        # Under the summary, so a column of commands reads like a shell history.
        line += "\n" + " " * len(lead) + f"$ {event.command}"
    return line


@timeline.command("verify")
@db_url_option
@click.pass_context
def timeline_verify(ctx: click.Context, db: str | None) -> None:
    """Prove the hash chain and that every event reads as written; print the head hash to
    compare with the post-mortem's footer.

    Exit 0 when intact, 1 when tampered (the chain does not hold: the first bad event is named),
    2 when damaged (an event cannot be read as written: a blob or a NULL where text belongs, a
    payload that is not JSON; or the file is not a timeline) and on any other error.
    """
    from cockpit.core.errors import ChainBroken, CockpitError

    with _open(ctx, db, create=False) as store:
        try:
            report = store.verify()
        except ChainBroken as broken:
            click.echo(f"TAMPERED: event {broken.event_id}: {broken.reason}", err=True)
            raise SystemExit(1) from None
        except CockpitError as error:
            fail(error)
    click.echo(f"ok: {report.count} events verified, head {report.head_hash}")


def _add_journal_commands() -> None:
    """`timeline replay` (cockpit/commands/journal.py) and `timeline responder-role`
    (cockpit/commands/team.py), click only."""
    from cockpit.commands.journal import timeline_replay
    from cockpit.commands.team import responder_role

    timeline.add_command(timeline_replay)
    timeline.add_command(responder_role)


_add_journal_commands()
