"""Helpers shared by the CLI commands."""

from __future__ import annotations

from pathlib import Path
from typing import NoReturn

import click

db_option = click.option(
    "--db",
    type=click.Path(dir_okay=False),
    default=None,
    help="Timeline database (default: the group's --db, $COCKPIT_DB or the data directory).",
)
"""The --db option of the commands that read a timeline."""


def fail(message: object) -> NoReturn:
    """One line on stderr and exit status 2, the headless commands' way to refuse."""
    click.echo(f"cockpit: {message}", err=True)
    raise SystemExit(2)


def db_path(ctx: click.Context, explicit: str | None = None) -> Path:
    """The timeline database: the command's own --db, the group's --db, or the default."""
    chosen = explicit or (ctx.find_root().obj or {}).get("db")
    if chosen:
        return Path(chosen)
    from cockpit.core.paths import timeline_db

    return timeline_db()
