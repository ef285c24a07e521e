"""`cockpit timeline responder-role NAME`: the team database's responders' role, made once.

Run by the database's owner (or a superuser) on a ``postgresql://`` timeline: it creates the
schema if it is not there yet, then a group role that may read everything and INSERT events and
samples, nothing else (`cockpit.core.pg_schema.responder_role_sql`). Each responder then logs in
as themselves, a member of it. A file has no roles: refused. Only click is imported at start.
"""

from __future__ import annotations

import click

from cockpit.commands.common import db_target, db_url_option, fail


@click.command("responder-role")
@click.argument("role", metavar="NAME")
@db_url_option
@click.pass_context
def responder_role(ctx: click.Context, role: str, db: str | None) -> None:
    """Create the responders' group role on a team database: SELECT and INSERT only."""
    import psycopg
    from psycopg import errors

    from cockpit.core.errors import CockpitError, printable
    from cockpit.core.pg_connect import Timeouts
    from cockpit.core.pg_schema import responder_role_sql
    from cockpit.core.pg_timeline import PgTimeline
    from cockpit.core.timeline_open import is_postgres, open_timeline, public_url

    target = db_target(ctx, db)
    if not isinstance(target, str) or not is_postgres(target):
        fail("responder-role: roles exist on a team's postgresql:// timeline only")
    if not role or not role.isprintable() or len(role) > 63:
        fail(f"responder-role: {printable(role)!r} is not a role name (1 to 63 printable chars)")
    shown = public_url(target)
    try:
        with open_timeline(target, create=True) as timeline:  # the schema first
            assert isinstance(timeline, PgTimeline)
            conn = timeline.target.connect(Timeouts())
            try:
                with conn.transaction():
                    for statement in responder_role_sql(role):
                        conn.execute(statement)
            except errors.DuplicateObject:
                fail(f"responder-role: the role {role!r} exists already on {shown}")
            except psycopg.Error as error:
                fail(f"responder-role: {timeline.target.message(error)}")
            finally:
                conn.close()
    except CockpitError as error:
        fail(error)
    click.echo(
        f"role {role!r} created on {shown}: SELECT and INSERT on the timeline, nothing else. "
        "Each responder logs in as themselves, a member of it, e.g.\n"
        f"  CREATE ROLE alice LOGIN PASSWORD '...' IN ROLE \"{role}\";"
    )
