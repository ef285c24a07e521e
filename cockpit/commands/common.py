"""Helpers shared by the CLI commands."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import click

if TYPE_CHECKING:
    from cockpit.core.timeline_config import TimelineSetting
    from cockpit.core.timeline_open import AnyTimeline


def db_option_checked(
    _ctx: click.Context, _param: click.Parameter, value: str | None
) -> str | None:
    """The --db options' callback: a URL is refused at parse time, before anything opens a
    file (checked_db)."""
    return None if value is None else checked_db(value)


db_option = click.option(
    "--db",
    type=click.Path(dir_okay=False),
    default=None,
    callback=db_option_checked,
    help="Timeline database (default: the group's --db, $COCKPIT_DB or the data directory).",
)
"""The --db option of the commands that read a timeline (a file only)."""

db_url_option = click.option(
    "--db",
    type=click.Path(dir_okay=False),
    default=None,
    help="Timeline database: a file, or a postgresql:// URL (default: the group's --db, "
    "$COCKPIT_DB or the data directory).",
)
"""The --db option of the commands that also open a PostgreSQL timeline (`URL_COMMANDS`)."""

URL_COMMANDS = ("incident", "timeline", "export", "stats", "backtest")
"""The commands that open a postgresql:// timeline, with `cockpit` itself (the TUI); every
other refuses a URL (checked_db)."""


def fail(message: object) -> NoReturn:
    """One line on stderr and exit status 2, the headless commands' way to refuse."""
    click.echo(f"cockpit: {message}", err=True)
    raise SystemExit(2)


def checked_db(value: str) -> str:
    """A --db value that is a file path; a URL is refused, naming only its scheme (it may hold
    a password).

    Taken as a path, "postgresql://host/db" made a SQLite file under ./postgresql:/ and the
    team believed it shared one database.
    """
    scheme, found, _ = value.partition("://")
    if found and scheme.replace("+", "").isalpha():
        raise click.BadParameter(
            f"{scheme}://…: this command keeps its timeline in a SQLite file (drills are "
            "rehearsed on this host); a team's postgresql:// timeline is opened by `cockpit` "
            "itself and by incident, timeline, export, stats and backtest. Give a file path.",
            param_hint="--db",
        )
    return value


def db_path(ctx: click.Context, explicit: str | None = None) -> Path:
    """The timeline database: the command's own --db, the group's --db, or the default."""
    chosen = explicit or (ctx.find_root().obj or {}).get("db")
    if chosen:
        return Path(checked_db(chosen))
    from cockpit.core.paths import timeline_db

    return timeline_db()


def db_target(ctx: click.Context, explicit: str | None = None) -> str | Path:
    """The timeline a command that takes a URL opens: a postgresql:// URL as given (any other
    URL is the opener's to refuse), else the file `db_path` names."""
    from cockpit.core.timeline_open import url_scheme

    chosen = explicit or (ctx.find_root().obj or {}).get("db")
    if chosen and url_scheme(chosen) is not None:
        return str(chosen)
    if not chosen:
        from cockpit.core.timeline_config import configured_timeline

        team = team_url(configured_timeline())
        if team is not None:
            return team
    return db_path(ctx, explicit)


def team_url(team: TimelineSetting | None) -> str | None:
    """cockpit.toml's [timeline] URL, its password handed to the opener; None without one."""
    if team is None:
        return None
    if team.password is not None:
        from cockpit.core.timeline_open import use_password

        use_password(team.url, team.password)
    return team.url


def shown_db(target: str | Path) -> str:
    """The timeline as messages and printed commands name it (a URL without its password)."""
    from cockpit.core.timeline_open import public_url, url_scheme

    if isinstance(target, str) and url_scheme(target) is not None:
        return public_url(target)
    return str(target)


def open_db(
    ctx: click.Context, explicit: str | None = None, *, create: bool = False
) -> AnyTimeline:
    """Open the timeline `db_target` names (SQLite or PostgreSQL); errors are the caller's."""
    from cockpit.core.timeline_open import open_timeline

    return open_timeline(db_target(ctx, explicit), create=create)
