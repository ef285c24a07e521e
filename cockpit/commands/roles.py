"""`cockpit incident roles N` and `cockpit incident assign N ROLE PERSON`: who holds which role
in an incident, and the lead giving one, from the shell (`cockpit.core.roles` has the rules).

The caller is the person running the command (its OS user: `cockpit.core.roles.person_of`).
Exit codes: 0 done (or nothing to do: the person holds that role already); 1 refused by the
rules (the caller is not the lead, the refusal names who is; or the lead would take another
role before handing lead over); 2 any other error (an unknown role, a bad name, no such or a
closed incident, a timeline that cannot be opened), one line on stderr.

Headless: click only at the top, the timeline imported in the commands' bodies; no Textual,
no Rich. Names are printed with their control characters escaped (they reach a terminal).
"""

from __future__ import annotations

import click

from cockpit.commands.common import db_url_option, fail, open_db
from cockpit.core.roles import ROLES


def _when(ts: str) -> str:
    return ts.replace("T", " ")[:19] + "Z"


@click.command("roles")
@click.argument("incident_id", metavar="ID", type=int)
@db_url_option
@click.pass_context
def incident_roles(ctx: click.Context, incident_id: int, db: str | None) -> None:
    """Print who holds which role in incident ID (lead, responder, communications, observer),
    since when, and every change of roles with its time."""
    from cockpit.core.errors import CockpitError, printable
    from cockpit.core.roles import ROLE_KINDS, Roles

    try:
        with open_db(ctx, db) as timeline:
            about = timeline.incident(incident_id)
            roles = Roles.replay(timeline.events(incident_id, kinds=list(ROLE_KINDS)))
    except CockpitError as error:
        fail(error)
    since = {change.person: change.at for change in roles.changes}
    click.echo(f"Incident {about.id}: {printable(about.title)}")
    rows = [(role, printable(person), _when(since[person])) for role, person in roles.listing()]
    widths = [max(len(row[i]) for row in [("ROLE", "PERSON", "SINCE"), *rows]) for i in (0, 1)]
    for role, person, at in [("ROLE", "PERSON", "SINCE"), *rows]:
        click.echo(f"{role:<{widths[0]}}  {person:<{widths[1]}}  {at}")
    if len(roles.changes) > 1:
        click.echo("\nChanges:")
        for change in roles.changes:
            click.echo(f"  {_when(change.at)}  {_change_text(change)}")


def _change_text(change: object) -> str:
    from cockpit.core.errors import printable
    from cockpit.core.roles import LEAD, RoleChange

    assert isinstance(change, RoleChange)
    person = printable(change.person)
    if change.by is None:
        return f"{person} opened the incident: lead"
    by = printable(change.by)
    if change.role == LEAD:
        return f"lead handed over by {by} to {person}"
    was = f" (was {change.previous})" if change.previous else ""
    return f"{person} made {change.role} by {by}{was}"


@click.command("assign")
@click.argument("incident_id", metavar="ID", type=int)
@click.argument("role", type=click.Choice(ROLES))
@click.argument("person")
@db_url_option
@click.pass_context
def incident_assign(
    ctx: click.Context, incident_id: int, role: str, person: str, db: str | None
) -> None:
    """Give PERSON the ROLE in incident ID; only the incident's lead may (whoever opened it,
    until they hand lead over: `assign ID lead PERSON`). A person holds one role: the new one
    replaces theirs. Refused (exit 1, naming the lead) when you are not the lead."""
    from cockpit.core.errors import CockpitError, printable
    from cockpit.core.roles import RoleRefused

    try:
        with open_db(ctx, db) as timeline:
            event = timeline.assign_role(incident_id, role, person)
    except RoleRefused as refused:
        click.echo(f"cockpit: refused: {printable(str(refused))}", err=True)
        raise SystemExit(1) from None
    except CockpitError as error:
        fail(printable(str(error)))
    if event is None:
        click.echo(
            f"{printable(person.strip())} holds {role} in incident {incident_id} already: "
            "nothing recorded"
        )
        return
    click.echo(f"incident {incident_id}: {printable(event.summary)}")
